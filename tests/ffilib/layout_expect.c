/* The sizes, alignments and offsets of tests/ffilib/layout.h as the C
 * compiler lays them out: one line per query, which layout.pv answers
 * through ffi.sizeof, ffi.alignof and ffi.offsetof (tests/cli/ffi_layout.sh). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "layout.h"

#define SIZE(...) printf("size|%s|%zu|%zu\n", #__VA_ARGS__, sizeof(__VA_ARGS__), _Alignof(__VA_ARGS__))
#define OFF(T, F) printf("offset|%s|%s|%zu\n", #T, #F, offsetof(T, F))

int main(void)
{
    SIZE(pair_t);
    OFF(struct pair, d);
    SIZE(struct padded);
    OFF(struct padded, b); OFF(struct padded, c); OFF(struct padded, d); OFF(struct padded, e);
    SIZE(struct tail);
    OFF(struct tail, y);
    SIZE(struct path);
    OFF(struct path, pts); OFF(struct path, pts[3].y); OFF(struct path, name); OFF(struct path, name[4]);
    SIZE(struct grid);
    OFF(struct grid, cells[2][3]); OFF(struct grid, total);
    SIZE(union value);
    OFF(union value, text[12]);
    SIZE(struct node);
    OFF(struct node, label); OFF(struct node, v); OFF(struct node, v.d); OFF(struct node, live);
    SIZE(struct anon);
    OFF(struct anon, f); OFF(struct anon, h[2]); OFF(struct anon, p); OFF(struct anon, q); OFF(struct anon, after);
    SIZE(struct fnptrs);
    OFF(struct fnptrs, done); OFF(struct fnptrs, tag);
    SIZE(struct deep);
    OFF(struct deep, paths[1].name[2]); OFF(struct deep, pairs); OFF(struct deep, pairs[2].d);
    OFF(struct deep, mid.inner); OFF(struct deep, mid.inner.c);
    SIZE(deep_t);
    SIZE(struct ints);
    OFF(struct ints, b); OFF(struct ints, c); OFF(struct ints, d); OFF(struct ints, e); OFF(struct ints, f);
    OFF(struct ints, g); OFF(struct ints, h); OFF(struct ints, i); OFF(struct ints, j); OFF(struct ints, k);
    OFF(struct ints, l); OFF(struct ints, m); OFF(struct ints, n);
    SIZE(struct ptrs);
    OFF(struct ptrs, p); OFF(struct ptrs, nodes); OFF(struct ptrs, table[3]);
    SIZE(struct point[7]);
    SIZE(union value[3]);
    SIZE(byte);
    SIZE(unsigned long long);
    SIZE(long double *);
    return 0;
}
