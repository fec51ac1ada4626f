-- spectralnorm.lua: the spectral norm of the infinite matrix
-- A(i,j) = 1 / ((i+j)(i+j+1)/2 + i + 1), truncated to N x N, by 10 rounds of
-- the power method. Vectors are 1-based; A takes 0-based indices.
-- Usage: lua spectralnorm.lua [N]   (N defaults to 1000)
local function a(i, j)
  local ij = i + j
  return 1.0 / (ij * (ij + 1) / 2 + i + 1)
end

local function mul_av(n, v, av)
  for i = 1, n do
    local sum = 0.0
    for j = 1, n do
      sum = sum + a(i - 1, j - 1) * v[j]
    end
    av[i] = sum
  end
end

local function mul_atv(n, v, atv)
  for i = 1, n do
    local sum = 0.0
    for j = 1, n do
      sum = sum + a(j - 1, i - 1) * v[j]
    end
    atv[i] = sum
  end
end

local function mul_atav(n, v, out, tmp)
  mul_av(n, v, tmp)
  mul_atv(n, tmp, out)
end

local n = tonumber(arg[1]) or 1000
local u, v, tmp = {}, {}, {}
for i = 1, n do
  u[i], v[i], tmp[i] = 1.0, 0.0, 0.0
end
for _ = 1, 10 do
  mul_atav(n, u, v, tmp)
  mul_atav(n, v, u, tmp)
end
local vbv, vv = 0.0, 0.0
for i = 1, n do
  vbv = vbv + u[i] * v[i]
  vv = vv + v[i] * v[i]
end
print(string.format("%.9f", math.sqrt(vbv / vv)))
