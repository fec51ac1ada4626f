/* Unit tests for snapshots (jit/snap.c): taking one records only the slots
 * a trace changed, with the resume point; past the limit taking fails.
 * (Writing a snapshot back, and pushing the frames of inlined calls it is
 * inside, is the exit code's job: test_jit_assemble.c.) */
#include <gc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jit/snap.h"

typedef struct {
    JitIR ir;
    JitSnapList snaps;
} Fixture;

static int setup(void **state)
{
    GC_INIT();
    Fixture *f = calloc(1, sizeof *f);
    pvmJ_ir_init(&f->ir);
    pvmJ_snap_init(&f->snaps);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    pvmJ_ir_free(&f->ir);
    pvmJ_snap_free(&f->snaps);
    free(f);
    return 0;
}

static void test_take_records_changed_slots_only(void **state)
{
    Fixture *f = *state;
    JitRef x = pvmJ_ir_append(&f->ir, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef slots[4] = { JIT_REF_NONE, x, JIT_REF_NONE, pvmJ_k_int(&f->ir, 9) };
    assert_int_equal(pvmJ_snap_take(&f->snaps, 17, x, slots, 4), 0);
    assert_int_equal(pvmJ_snap_take(&f->snaps, 20, x, slots, 2), 1);
    const JitSnap *s0 = &f->snaps.snaps[0], *s1 = &f->snaps.snaps[1];
    assert_int_equal(s0->nentries, 2);
    assert_int_equal(s0->nslots, 4);
    assert_int_equal(s0->pc, 17);
    assert_int_equal(f->snaps.map[s0->map_start].slot, 1);
    assert_int_equal(f->snaps.map[s0->map_start + 1].slot, 3);
    assert_int_equal(s1->nentries, 1);
    assert_int_equal(s1->map_start, 2);
}

static void test_limit(void **state)
{
    Fixture *f = *state;
    JitRef none = JIT_REF_NONE;
    for (uint32_t k = 0; k < JIT_MAX_SNAPS; k++)
        assert_int_equal(pvmJ_snap_take(&f->snaps, k, JIT_REF_BIAS, &none, 1), (int)k);
    assert_int_equal(pvmJ_snap_take(&f->snaps, 0, JIT_REF_BIAS, &none, 1), -1);
    assert_true(f->snaps.failed);
}

/* Two inlined calls: the root (slots 0..2) called f with its closure in
 * slot 3 (f's base 4) at pc 5, and f called g (closure in slot 6, base 7)
 * at its pc 2; the exit resumes at g's pc 1. */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_take_records_changed_slots_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
