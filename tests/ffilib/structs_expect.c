/* What tests/programs/ffi_struct_abi.pv must print, computed by C calling
 * the same library (tests/cli/ffi_struct_abi.sh compares the two). */
#include <stdio.h>
#include <string.h>

#include "structs.h"

static struct point p(double x, double y) { return (struct point){ x, y }; }

int main(void)
{
    struct point r = pt_add(p(1.5, 2), p(0.25, -4));
    printf("pt_add %g %g\n", r.x, r.y);
    printf("pt_sum5 %g\n", pt_sum5(p(1, 2), p(3, 4), p(5, 6), p(7, 8), p(9, 10.5)));
    struct small s = small_make(-5, 300, 70000);
    printf("small_make %d %d %d\n", s.c, s.s, s.i);
    printf("small_code %ld\n", small_code((struct small){ 7, -2, 33 }));
    struct mixed m = mixed_twice((struct mixed){ -21, 1.25f, 1e10 });
    printf("mixed_twice %d %g %g\n", m.i, m.f, m.d);
    struct floats3 f3 = floats3_rev((struct floats3){ 1.5f, 2.5f, -3.5f });
    printf("floats3_rev %g %g %g\n", f3.a, f3.b, f3.c);
    struct big b = big_scale((struct big){ { 1, 2, 3, 4, 5 } }, -3);
    printf("big_scale %ld %ld %ld %ld %ld\n", b.v[0], b.v[1], b.v[2], b.v[3], b.v[4]);
    printf("big_sum %ld\n", big_sum(7, (struct big){ { 10, 20, 30, 40, 50 } }, 9));
    struct nested n = nested_bump((struct nested){ { 1, 2, 3 }, { 0.5, 1.5 }, "ABC" });
    printf("nested_bump %d %d %d %g %g %.3s\n", n.s.c, n.s.s, n.s.i, n.p.x, n.p.y, n.tag);
    union num u = num_from_int(4614253070214989087LL);
    printf("num_from_int %lld %g\n", u.i, u.d);
    printf("num_as_double %g\n", num_as_double((union num){ .d = 6.5 }));
    printf("fnum_half %g %g\n", fnum_half((union fnum){ .f = 3.0f }, 0).f, fnum_half((union fnum){ .d = 5.0 }, 1).d);
    struct tagged t = tagged_make(1, 10);
    printf("tagged_make %d %g\n", t.kind, t.f);
    printf("tagged_float %g %g\n", tagged_float((struct tagged){ .kind = 0, .i = -12 }),
           tagged_float((struct tagged){ .kind = 1, .f = 0.75f }));
    struct flag fl = flag_flip((struct flag){ 0, "abc" });
    printf("flag_flip %s %s\n", fl.ok ? "true" : "false", fl.name);
    struct slice sl = slice_of("hello, world");
    printf("slice_of %zu %.*s\n", sl.n, (int)sl.n, sl.s);
    printf("slice_len %zu\n", slice_len((struct slice){ "abcd", 4 }));
    struct point q = { 3, -1 };
    pt_scale(&q, 2.5);
    printf("pt_scale %g %g\n", q.x, q.y);
    struct point arr[4];
    int filled = points_fill(arr, 4);
    printf("points_fill %d %g %g\n", filled, arr[3].y, arr[2].y);
    printf("shape_next %d %d\n", shape_next(SHAPE_NONE), shape_next(SHAPE_CIRCLE));
    struct vec3f v = vec3f_scale((struct vec3f){ { 1, -2, 0.5f } }, 1.5f);
    printf("vec3f_scale %g %g %g\n", v.v[0], v.v[1], v.v[2]);
    struct tiny ti = tiny_next((struct tiny){ { 'a', 'y', 'M' } });
    printf("tiny_next %.3s\n", ti.c);
    struct di x = di_twice((struct di){ -0.75, 21 });
    printf("di_twice %g %d\n", x.d, x.i);
    printf("u3_inc %d\n", u3_inc((union u3){ .s = 511 }).s);
    union mixu mu = mixu_from(6);
    printf("mixu_from %g %g\n", mu.f[0], mu.f[1]);
    printf("mixu_first %g\n", mixu_first((union mixu){ .f = { 1.5f, 2 } }));
    union fd16 fd = fd16_sum((union fd16){ .d = { 1.25, 2.5 } });
    printf("fd16_sum %g %g\n", fd.d[0], fd.d[1]);
    union bigu bu = bigu_rev((union bigu){ .v = { 1, 2, 3, 4 } });
    printf("bigu_rev %ld %ld %ld %ld\n", bu.v[0], bu.v[1], bu.v[2], bu.v[3]);
    struct wrap w = wrap_bump((struct wrap){ { { 'p', 'v', 'm' } }, { .f = { 0.5f, 1.5f } }, { 7, 8 } });
    printf("wrap_bump %.3s %g %g %d %d\n", w.t.c, w.m.f[0], w.m.f[1], w.anon.a, w.anon.b);
    printf("stack_mix %ld\n", stack_mix(1, 2, 3, 4, 5, 6, (struct small){ 1, 2, 3 }, 7, p(1, 2), 3));
    return 0;
}
