# loop.py: sum of i*i % 7 for i in 0..N-1, the plain integer-loop benchmark.
# Usage: python3 loop.py [N]   (N defaults to 90 000 000)
import sys


def main(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 90_000_000))
