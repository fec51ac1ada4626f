/* mandelbrot.c: counts the points c of an N x N grid over [-1.5, 0.5] x
 * [-1, 1] whose orbit z = z*z + c stays within |z| <= 2 for 50 iterations.
 * Usage: mandelbrot [N]   (N defaults to 1000) */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    long inside = 0;
    for (long y = 0; y < n; y++) {
        double ci = 2.0 * y / n - 1.0;
        for (long x = 0; x < n; x++) {
            double cr = 2.0 * x / n - 1.5;
            double zr = 0.0, zi = 0.0;
            int escaped = 0;
            for (int k = 0; k < 50; k++) {
                double tr = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = tr;
                if (zr * zr + zi * zi > 4.0) {
                    escaped = 1;
                    break;
                }
            }
            if (!escaped)
                inside++;
        }
    }
    printf("%ld\n", inside);
    return 0;
}
