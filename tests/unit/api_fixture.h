/* What the embedding-API tests share: capturing a VM's output or error
 * stream, loading plus running a source text, reading an int global, a VM
 * with a setup run, and calling a function of it by name (no argument, or
 * an int to an int).
 * Include after <cmocka.h> and "pvm.h". */
#ifndef PVM_TEST_API_FIXTURE_H
#define PVM_TEST_API_FIXTURE_H

#include <stdio.h>
#include <string.h>

typedef struct {
    char text[8192];
    size_t len;
    int calls;
} Capture;

/* An output callback (pvm_options.write_out / write_err) into a Capture;
 * what does not fit is dropped. */
static inline void capture(void *ud, const char *data, size_t len)
{
    Capture *c = ud;
    c->calls++;
    if (c->len + len >= sizeof c->text)
        len = sizeof c->text - 1 - c->len;
    memcpy(c->text + c->len, data, len);
    c->len += len;
    c->text[c->len] = '\0';
}

static inline pvm_status run(pvm_vm *vm, const char *src)
{
    pvm_status st = pvm_load_source(vm, src, strlen(src), "t.pv");
    return st != PVM_OK ? st : pvm_run(vm);
}

/* The int global [name], asserting that it exists and is an int. */
static inline int64_t global_int(pvm_vm *vm, const char *name)
{
    pvm_value v;
    int64_t i = -1;
    assert_int_equal(pvm_get_global(vm, name, &v), PVM_OK);
    assert_int_equal(pvm_get_int(vm, v, &i), PVM_OK);
    pvm_release(vm, v);
    return i;
}

/* A VM with [setup] run without limits. */
static inline pvm_vm *vm_with(const char *setup)
{
    pvm_vm *vm = pvm_new(NULL);
    assert_non_null(vm);
    pvm_status st = run(vm, setup);
    if (st != PVM_OK)
        fprintf(stderr, "%s: %s\n", pvm_status_name(st), pvm_error_message(vm));
    assert_int_equal(st, PVM_OK);
    return vm;
}

/* pvm_call(name, x) as an int; asserts it succeeds. */
static inline int64_t call_int(pvm_vm *vm, const char *name, int64_t x)
{
    pvm_value f, a = pvm_int(vm, x), r;
    int64_t i = -1;
    assert_int_equal(pvm_get_global(vm, name, &f), PVM_OK);
    assert_int_equal(pvm_call(vm, f, 1, &a, &r), PVM_OK);
    assert_int_equal(pvm_get_int(vm, r, &i), PVM_OK);
    pvm_release(vm, r);
    pvm_release(vm, a);
    pvm_release(vm, f);
    return i;
}

/* Calls the program's function [name] with no arguments. */
static inline pvm_status call0(pvm_vm *vm, const char *name)
{
    pvm_value f;
    assert_int_equal(pvm_get_global(vm, name, &f), PVM_OK);
    pvm_status st = pvm_call(vm, f, 0, NULL, NULL);
    pvm_release(vm, f);
    return st;
}

#endif
