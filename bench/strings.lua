-- strings.lua: string building. Joins tostring(i) for i in 0..N-1 into one
-- string, then prints its length and how many '7' characters it holds.
-- Usage: lua strings.lua [N]   (N defaults to 1 000 000)
local n = tonumber(arg[1]) or 1000000
local parts = {}
for i = 0, n - 1 do
  parts[i + 1] = tostring(i)
end
local s = table.concat(parts)
local _, sevens = string.gsub(s, "7", "")
print(string.format("%d %d", #s, sevens))
