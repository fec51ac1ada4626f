# sieve.py: the sieve of Eratosthenes; prints how many primes are <= N.
# Usage: python3 sieve.py [N]   (N defaults to 10 000 000)
import sys


def main(n):
    composite = [False] * (n + 1)
    i = 2
    while i * i <= n:
        if not composite[i]:
            for j in range(i * i, n + 1, i):
                composite[j] = True
        i += 1
    count = 0
    for k in range(2, n + 1):
        if not composite[k]:
            count += 1
    print(count)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
