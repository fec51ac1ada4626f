-- loop.lua: sum of i*i % 7 for i in 0..N-1, the plain integer-loop benchmark.
-- Usage: lua loop.lua [N]   (N defaults to 90 000 000)
local n = tonumber(arg[1]) or 90000000
local sum = 0
for i = 0, n - 1 do
  sum = sum + i * i % 7
end
print(string.format("%d", sum))
