-- methods.lua: method calls, Lua's way: `total = total + p:add(i)` N times
-- on one instance whose class (its metatable's __index) holds add.
-- Usage: lua methods.lua [N]   (N defaults to 10000000; prints the total)
local Point = {}
Point.__index = Point

function Point.add(self, d)
  return self.x + d
end

local n = tonumber(arg[1]) or 10000000
local p = setmetatable({ x = 3, y = 4 }, Point)
local total = 0
for i = 0, n - 1 do
  total = total + p:add(i)
end
print(string.format("%d", total))
