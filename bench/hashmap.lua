-- hashmap.lua: inserts N scattered integer keys (i * 2654435761 mod 2^32, all
-- distinct) into a table, then looks every key up and sums the values.
-- Usage: lua hashmap.lua [N]   (N defaults to 2 000 000)
local n = tonumber(arg[1]) or 2000000
local m = {}
for i = 0, n - 1 do
  m[i * 2654435761 % 4294967296] = i
end
local sum = 0
for i = 0, n - 1 do
  sum = sum + m[i * 2654435761 % 4294967296]
end
print(string.format("%d", sum))
