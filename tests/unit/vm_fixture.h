/* What the unit tests of the VM's own parts share: a fresh VM per test,
 * a check that a statement raises a given PV error, and PV strings from C
 * text. Include after <cmocka.h> and "vm/runtime/vm.h". */
#ifndef PVM_TEST_VM_FIXTURE_H
#define PVM_TEST_VM_FIXTURE_H

/* Runs [stmt] expecting it to raise a PV error with message [msg]. A macro
 * because the protected region (setjmp) must be in the test's own frame. */
#define EXPECT_ERROR(vm, stmt, msg)                                        \
    do {                                                                   \
        VmJmp jmp_;                                                        \
        jmp_.prev = (vm)->jmp;                                             \
        (vm)->jmp = &jmp_;                                                 \
        if (setjmp(jmp_.buf) == 0) {                                       \
            stmt;                                                          \
            (vm)->jmp = jmp_.prev;                                         \
            fail_msg("no error raised by %s", #stmt);                      \
        }                                                                  \
        (vm)->jmp = jmp_.prev;                                             \
        assert_int_equal((vm)->error.type, VT_STRING);                     \
        assert_string_equal((vm)->error.as.s->chars, (msg));               \
    } while (0)

/* cmocka fixtures: *state is the test's VM. */
static inline int vm_fixture_setup(void **state)
{
    *state = pvmV_new();
    return *state ? 0 : -1;
}

static inline int vm_fixture_teardown(void **state)
{
    pvmV_free(*state);
    return 0;
}

static inline Value str(VM *vm, const char *s)
{
    return vm_str_value(pvmV_string_cstr(vm, s));
}

#endif
