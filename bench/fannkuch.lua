-- fannkuch.lua: fannkuch-redux. For every permutation of 0..N-1 (in the
-- classic swap order), count the prefix reversals ("pancake flips") needed to
-- bring 0 to the front; print the alternating checksum and the maximum.
-- Tables are 1-based: perm[1] is the first element.
-- Usage: lua fannkuch.lua [N]   (N defaults to 10)
local function count_flips(perm1, perm, n)
  for i = 1, n do
    perm[i] = perm1[i]
  end
  local flips = 0
  local k = perm[1]
  while k ~= 0 do
    local lo, hi = 1, k + 1
    while lo < hi do
      perm[lo], perm[hi] = perm[hi], perm[lo]
      lo = lo + 1
      hi = hi - 1
    end
    flips = flips + 1
    k = perm[1]
  end
  return flips
end

local function fannkuch(n)
  local perm1, perm, count = {}, {}, {}
  for i = 1, n do
    perm1[i], perm[i], count[i] = i - 1, 0, 0
  end
  local max_flips, checksum, sign = 0, 0, 1
  local r = n
  while true do
    while r ~= 1 do
      count[r] = r
      r = r - 1
    end
    local flips = count_flips(perm1, perm, n)
    if flips > max_flips then
      max_flips = flips
    end
    checksum = checksum + sign * flips
    sign = -sign
    -- Next permutation: rotate the first r+1 elements left until a counter
    -- has not run out.
    while true do
      if r == n then
        return checksum, max_flips
      end
      local first = perm1[1]
      for i = 1, r do
        perm1[i] = perm1[i + 1]
      end
      perm1[r + 1] = first
      count[r + 1] = count[r + 1] - 1
      if count[r + 1] > 0 then
        break
      end
      r = r + 1
    end
  end
end

local n = tonumber(arg[1]) or 10
local checksum, max_flips = fannkuch(n)
print(string.format("%d", checksum))
print(string.format("Pfannkuchen(%d) = %d", n, max_flips))
