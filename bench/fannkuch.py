# fannkuch.py: fannkuch-redux. For every permutation of 0..N-1 (in the
# classic swap order), count the prefix reversals ("pancake flips") needed to
# bring 0 to the front; print the alternating checksum and the maximum.
# Usage: python3 fannkuch.py [N]   (N defaults to 10)
import sys


def count_flips(perm1, perm, n):
    for i in range(n):
        perm[i] = perm1[i]
    flips = 0
    k = perm[0]
    while k != 0:
        lo, hi = 0, k
        while lo < hi:
            perm[lo], perm[hi] = perm[hi], perm[lo]
            lo += 1
            hi -= 1
        flips += 1
        k = perm[0]
    return flips


def fannkuch(n):
    perm1 = list(range(n))
    perm = [0] * n
    count = [0] * n
    max_flips = checksum = 0
    sign = 1
    r = n
    while True:
        while r != 1:
            count[r - 1] = r
            r -= 1
        flips = count_flips(perm1, perm, n)
        if flips > max_flips:
            max_flips = flips
        checksum += sign * flips
        sign = -sign
        # Next permutation: rotate the first r+1 elements left until a
        # counter has not run out.
        while True:
            if r == n:
                return checksum, max_flips
            first = perm1[0]
            for i in range(r):
                perm1[i] = perm1[i + 1]
            perm1[r] = first
            count[r] -= 1
            if count[r] > 0:
                break
            r += 1


n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
checksum, max_flips = fannkuch(n)
print(checksum)
print("Pfannkuchen(%d) = %d" % (n, max_flips))
