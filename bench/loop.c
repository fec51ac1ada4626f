/* loop.c: sum of i*i % 7 for i in 0..N-1, the plain integer-loop benchmark.
 * Usage: loop [N]   (N defaults to 90 000 000) */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 90000000;
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += i * i % 7;
    printf("%ld\n", sum);
    return 0;
}
