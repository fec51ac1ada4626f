# mandelbrot.py: counts the points c of an N x N grid over [-1.5, 0.5] x
# [-1, 1] whose orbit z = z*z + c stays within |z| <= 2 for 50 iterations.
# Usage: python3 mandelbrot.py [N]   (N defaults to 1000)
import sys


def main(n):
    inside = 0
    for y in range(n):
        ci = 2.0 * y / n - 1.0
        for x in range(n):
            cr = 2.0 * x / n - 1.5
            zr = zi = 0.0
            escaped = False
            for _ in range(50):
                tr = zr * zr - zi * zi + cr
                zi = 2.0 * zr * zi + ci
                zr = tr
                if zr * zr + zi * zi > 4.0:
                    escaped = True
                    break
            if not escaped:
                inside += 1
    print(inside)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
