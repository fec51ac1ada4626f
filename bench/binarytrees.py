# binarytrees.py: allocates and walks many perfect binary trees (the
# allocator and GC benchmark). A node is a pair (left, right); a leaf has
# None children. Usage: python3 binarytrees.py [N]   (N defaults to 16)
import sys


def make(depth):
    if depth == 0:
        return (None, None)
    depth -= 1
    return (make(depth), make(depth))


def check(node):
    if node[0] is None:
        return 1
    return 1 + check(node[0]) + check(node[1])


def main(n):
    min_depth = 4
    max_depth = max(min_depth + 2, n)
    stretch = max_depth + 1
    print("stretch tree of depth %d\t check: %d" % (stretch, check(make(stretch))))
    long_lived = make(max_depth)
    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 1 << (max_depth - depth + min_depth)
        total = 0
        for _ in range(iterations):
            total += check(make(depth))
        print("%d\t trees of depth %d\t check: %d" % (iterations, depth, total))
    print("long lived tree of depth %d\t check: %d" % (max_depth, check(long_lived)))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
