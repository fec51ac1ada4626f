# objects.py: instance creation, Python's way: `p = Point(i, 1); sum += p.x`
# N times.
# Usage: python3 objects.py [N]   (N defaults to 2000000; prints the sum)
import sys


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def main(n):
    total = 0
    for i in range(n):
        p = Point(i, 1)
        total += p.x
    return total


print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000000))
