/* fannkuch.c: fannkuch-redux. For every permutation of 0..N-1 (in the
 * classic swap order), count the prefix reversals ("pancake flips") needed to
 * bring 0 to the front; print the alternating checksum and the maximum.
 * Usage: fannkuch [N]   (N defaults to 10, at most 32) */
#include <stdio.h>
#include <stdlib.h>

#define MAX_N 32

static int count_flips(const int *perm1, int *perm, int n)
{
    for (int i = 0; i < n; i++)
        perm[i] = perm1[i];
    int flips = 0;
    for (int k = perm[0]; k != 0; k = perm[0]) {
        for (int lo = 0, hi = k; lo < hi; lo++, hi--) {
            int t = perm[lo];
            perm[lo] = perm[hi];
            perm[hi] = t;
        }
        flips++;
    }
    return flips;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    if (n < 1 || n > MAX_N)
        return 1;
    int perm1[MAX_N], perm[MAX_N], count[MAX_N];
    for (int i = 0; i < n; i++)
        perm1[i] = i;
    long checksum = 0;
    int max_flips = 0, sign = 1, r = n;
    for (;;) {
        for (; r != 1; r--)
            count[r - 1] = r;
        int flips = count_flips(perm1, perm, n);
        if (flips > max_flips)
            max_flips = flips;
        checksum += sign * flips;
        sign = -sign;
        /* Next permutation: rotate the first r+1 elements left until a
         * counter has not run out. */
        for (;;) {
            if (r == n) {
                printf("%ld\nPfannkuchen(%d) = %d\n", checksum, n, max_flips);
                return 0;
            }
            int first = perm1[0];
            for (int i = 0; i < r; i++)
                perm1[i] = perm1[i + 1];
            perm1[r] = first;
            if (--count[r] > 0)
                break;
            r++;
        }
    }
}
