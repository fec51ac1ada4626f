/* objects.c: instance creation in C: a malloc'd struct per object, its
 * initializer called through the class's function pointer (as a vtable
 * would), freed once read. `p = Point(i, 1); sum += p->x` N times.
 * Usage: objects [N]   (N defaults to 2000000; prints the sum) */
#include <stdio.h>
#include <stdlib.h>

typedef struct Point Point;
typedef struct {
    void (*init)(Point *self, long x, long y);
} PointClass;
struct Point {
    const PointClass *cls;
    long x, y;
};

static void point_init(Point *self, long x, long y)
{
    self->x = x;
    self->y = y;
}

static const PointClass point_class = { point_init };

static Point *new_point(long x, long y)
{
    Point *p = malloc(sizeof *p);
    if (!p) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    p->cls = &point_class;
    /* volatile: the call stays an indirect call, as in a VM */
    void (*volatile init)(Point *, long, long) = p->cls->init;
    init(p, x, y);
    return p;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    long sum = 0;
    for (long i = 0; i < n; i++) {
        Point *p = new_point(i, 1);
        sum += p->x;
        free(p);
    }
    printf("%ld\n", sum);
    return 0;
}
