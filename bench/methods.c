/* methods.c: method calls in C: `total += p->cls->add(p, i)` N times, an
 * indirect call through the class's function pointer (as a vtable would).
 * Usage: methods [N]   (N defaults to 10000000; prints the total) */
#include <stdio.h>
#include <stdlib.h>

typedef struct Point Point;
typedef struct {
    long (*add)(const Point *self, long d);
} PointClass;
struct Point {
    const PointClass *cls;
    long x, y;
};

static long point_add(const Point *self, long d)
{
    return self->x + d;
}

static const PointClass point_class = { point_add };

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    Point p = { &point_class, 3, 4 };
    /* volatile: the class is not known to the compiler, as in a VM */
    const PointClass *volatile cls = p.cls;
    long total = 0;
    for (long i = 0; i < n; i++)
        total += cls->add(&p, i);
    printf("%ld\n", total);
    return 0;
}
