/* sieve.c: the sieve of Eratosthenes; prints how many primes are <= N.
 * Usage: sieve [N]   (N defaults to 10 000 000) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    bool *composite = calloc((size_t)n + 1, sizeof *composite);
    if (!composite)
        return 1;
    for (long i = 2; i * i <= n; i++)
        if (!composite[i])
            for (long j = i * i; j <= n; j += i)
                composite[j] = true;
    long count = 0;
    for (long k = 2; k <= n; k++)
        count += !composite[k];
    printf("%ld\n", count);
    free(composite);
    return 0;
}
