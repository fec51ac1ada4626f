-- objects.lua: instance creation, Lua's way: a table with a metatable whose
-- __index is the class, the constructor calling init. `local p = Point(i, 1);
-- sum = sum + p.x` N times.
-- Usage: lua objects.lua [N]   (N defaults to 2000000; prints the sum)
local Point = {}
Point.__index = Point

function Point.init(self, x, y)
  self.x = x
  self.y = y
end

local function new_point(x, y)
  local p = setmetatable({}, Point)
  p:init(x, y)
  return p
end

local n = tonumber(arg[1]) or 2000000
local sum = 0
for i = 0, n - 1 do
  local p = new_point(i, 1)
  sum = sum + p.x
end
print(string.format("%d", sum))
