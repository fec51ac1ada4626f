-- sieve.lua: the sieve of Eratosthenes; prints how many primes are <= N.
-- Usage: lua sieve.lua [N]   (N defaults to 10 000 000)
local n = tonumber(arg[1]) or 10000000
local composite = {}
for k = 1, n do
  composite[k] = false
end
local i = 2
while i * i <= n do
  if not composite[i] then
    for j = i * i, n, i do
      composite[j] = true
    end
  end
  i = i + 1
end
local count = 0
for k = 2, n do
  if not composite[k] then
    count = count + 1
  end
end
print(string.format("%d", count))
