# fib.py: naive recursive Fibonacci, the function-call benchmark.
# Usage: python3 fib.py [N]   (N defaults to 32; prints fib(N))
import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
print(fib(n))
