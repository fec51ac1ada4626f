-- mandelbrot.lua: counts the points c of an N x N grid over [-1.5, 0.5] x
-- [-1, 1] whose orbit z = z*z + c stays within |z| <= 2 for 50 iterations.
-- Usage: lua mandelbrot.lua [N]   (N defaults to 1000)
local n = tonumber(arg[1]) or 1000
local inside = 0
for y = 0, n - 1 do
  local ci = 2.0 * y / n - 1.0
  for x = 0, n - 1 do
    local cr = 2.0 * x / n - 1.5
    local zr, zi = 0.0, 0.0
    local escaped = false
    for _ = 1, 50 do
      local tr = zr * zr - zi * zi + cr
      zi = 2.0 * zr * zi + ci
      zr = tr
      if zr * zr + zi * zi > 4.0 then
        escaped = true
        break
      end
    end
    if not escaped then
      inside = inside + 1
    end
  end
end
print(string.format("%d", inside))
