# hashmap.py: inserts N scattered integer keys (i * 2654435761 mod 2^32, all
# distinct) into a dict, then looks every key up and sums the values.
# Usage: python3 hashmap.py [N]   (N defaults to 2 000 000)
import sys


def main(n):
    m = {}
    for i in range(n):
        m[i * 2654435761 % 4294967296] = i
    total = 0
    for i in range(n):
        total += m[i * 2654435761 % 4294967296]
    print(total)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)
