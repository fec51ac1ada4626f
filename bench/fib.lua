-- fib.lua: naive recursive Fibonacci, the function-call benchmark.
-- Usage: lua fib.lua [N]   (N defaults to 32; prints fib(N))
local function fib(n)
  if n < 2 then
    return n
  end
  return fib(n - 1) + fib(n - 2)
end

local n = tonumber(arg[1]) or 32
print(string.format("%d", fib(n)))
