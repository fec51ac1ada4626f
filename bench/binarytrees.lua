-- binarytrees.lua: allocates and walks many perfect binary trees (the
-- allocator and GC benchmark). A node is a table {left, right}; a leaf is
-- the empty table, as Lua programmers write it (leaner than {nil, nil}).
-- Usage: lua binarytrees.lua [N]   (N defaults to 16)
local function make(depth)
  if depth == 0 then
    return {}
  end
  depth = depth - 1
  return { make(depth), make(depth) }
end

local function check(node)
  if node[1] == nil then
    return 1
  end
  return 1 + check(node[1]) + check(node[2])
end

local n = tonumber(arg[1]) or 16
local min_depth = 4
local max_depth = math.max(min_depth + 2, n)
local stretch = max_depth + 1
print(string.format("stretch tree of depth %d\t check: %d", stretch, check(make(stretch))))

local long_lived = make(max_depth)
for depth = min_depth, max_depth, 2 do
  local iterations = 1
  for _ = 1, max_depth - depth + min_depth do
    iterations = iterations * 2 -- no `<<`: LuaJIT has no integer shift operator
  end
  local sum = 0
  for _ = 1, iterations do
    sum = sum + check(make(depth))
  end
  print(string.format("%d\t trees of depth %d\t check: %d", iterations, depth, sum))
end
print(string.format("long lived tree of depth %d\t check: %d", max_depth, check(long_lived)))
