# strings.py: string building. Joins str(i) for i in 0..N-1 into one string,
# then prints its length and how many '7' characters it holds.
# Usage: python3 strings.py [N]   (N defaults to 1 000 000)
import sys


def main(n):
    parts = []
    for i in range(n):
        parts.append(str(i))
    s = "".join(parts)
    print(len(s), s.count("7"))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
