/* A small C library for the ffi tests: structs and unions passed and
 * returned by value, and through pointers (tests/ffilib/structs.h).
 * Built by the Makefile's e2e rule into build/.../tests/libpvmffitest.so. */
#include <stddef.h>
#include <string.h>

#include "structs.h"

struct point pt_add(struct point a, struct point b) { return (struct point){ a.x + b.x, a.y + b.y }; }

double pt_sum5(struct point a, struct point b, struct point c, struct point d, struct point e)
{
    return a.x + b.x + c.x + d.x + e.x + 10 * (a.y + b.y + c.y + d.y + e.y);
}

struct small small_make(char c, short s, int i) { return (struct small){ c, s, i }; }

long small_code(struct small s) { return s.c * 1000000L + s.s * 1000L + s.i; }

struct mixed mixed_twice(struct mixed m) { return (struct mixed){ 2 * m.i, 2 * m.f, 2 * m.d }; }

struct floats3 floats3_rev(struct floats3 f) { return (struct floats3){ f.c, f.b, f.a }; }

struct big big_scale(struct big b, long k)
{
    for (int i = 0; i < 5; i++)
        b.v[i] *= k;
    return b;
}

long big_sum(int first, struct big b, int last)
{
    long s = first * 100000L + last;
    for (int i = 0; i < 5; i++)
        s += b.v[i] * (i + 1);
    return s;
}

struct nested nested_bump(struct nested n)
{
    n.s.c++;
    n.s.s++;
    n.s.i++;
    n.p.x += 1;
    n.p.y += 1;
    n.tag[0]++;
    return n;
}

union num num_from_int(long long i) { union num n; n.i = i; return n; }

double num_as_double(union num n) { return n.d; }

union fnum fnum_half(union fnum n, int is_double)
{
    if (is_double)
        n.d /= 2;
    else
        n.f /= 2;
    return n;
}

struct tagged tagged_make(int kind, int i)
{
    struct tagged t = { .kind = kind };
    if (kind)
        t.f = (float)i / 4;
    else
        t.i = i;
    return t;
}

float tagged_float(struct tagged t) { return t.kind ? t.f : (float)t.i; }

struct flag flag_flip(struct flag f)
{
    f.ok = !f.ok;
    for (char *p = f.name; p < f.name + sizeof f.name && *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return f;
}

struct slice slice_of(const char *s) { return (struct slice){ s, strlen(s) }; }

size_t slice_len(struct slice s) { return s.n; }

void pt_scale(struct point *p, double k)
{
    p->x *= k;
    p->y *= k;
}

int points_fill(struct point *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (struct point){ i, i * i };
    return n;
}

enum shape shape_next(enum shape s) { return s == SHAPE_NONE ? SHAPE_CIRCLE : SHAPE_SQUARE; }

struct vec3f vec3f_scale(struct vec3f v, float k)
{
    for (int i = 0; i < 3; i++)
        v.v[i] *= k;
    return v;
}

struct tiny tiny_next(struct tiny t)
{
    for (int i = 0; i < 3; i++)
        t.c[i]++;
    return t;
}

struct di di_twice(struct di x) { return (struct di){ 2 * x.d, 2 * x.i }; }

union u3 u3_inc(union u3 u)
{
    u.s++;
    return u;
}

union mixu mixu_from(int i)
{
    union mixu u = { .f = { (float)i, (float)-i } };
    return u;
}

float mixu_first(union mixu u) { return u.f[0] + u.f[1] * 10; }

union fd16 fd16_sum(union fd16 u)
{
    u.d[0] += u.d[1];
    u.d[1] = 0;
    return u;
}

union bigu bigu_rev(union bigu u)
{
    long t = u.v[0];
    u.v[0] = u.v[3];
    u.v[3] = t;
    return u;
}

struct wrap wrap_bump(struct wrap w)
{
    w.t.c[0]++;
    w.m.f[1] += 1;
    w.anon.a++;
    w.anon.b++;
    return w;
}

long stack_mix(int a, int b, int c, int d, int e, int f, struct small s, int g, struct point p, double h)
{
    return a + 10L * b + 100L * c + 1000L * d + 10000L * e + 100000L * f + small_code(s) * 1000000L + g +
           (long)(p.x * 7 + p.y * 11 + h * 13);
}
