# methods.py: method calls, Python's way: `total += p.add(i)` N times on one
# instance.
# Usage: python3 methods.py [N]   (N defaults to 10000000; prints the total)
import sys


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, d):
        return self.x + d


def main(n):
    p = Point(3, 4)
    total = 0
    for i in range(n):
        total += p.add(i)
    return total


print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000000))
