/* The embedding API (include/pvm.h): lifecycle and options, loading and
 * running, errors, every value function, globals, calls and natives,
 * including misuse (NULL arguments, wrong types, released and foreign
 * handles). Limits and threads are in test_api_limits.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvm.h"
#include "api_fixture.h"
#include "compiler/compiler.h"

/* ---- helpers ---- */

static pvm_vm *vm_running(const char *src)
{
    pvm_vm *vm = pvm_new(NULL);
    assert_non_null(vm);
    pvm_status st = run(vm, src);
    if (st != PVM_OK)
        fprintf(stderr, "%s: %s\n%s", pvm_status_name(st), pvm_error_message(vm), pvm_error_trace(vm));
    assert_int_equal(st, PVM_OK);
    return vm;
}

/* A vm whose print goes to [out]. */
static pvm_vm *vm_capturing(Capture *out, unsigned deny)
{
    memset(out, 0, sizeof *out);
    pvm_options o = { .write = capture, .ud = out, .deny = deny };
    pvm_vm *vm = pvm_new(&o);
    assert_non_null(vm);
    return vm;
}

static int64_t get_int(pvm_vm *vm, pvm_value v)
{
    int64_t i = -999;
    assert_int_equal(pvm_get_int(vm, v, &i), PVM_OK);
    return i;
}

static const char *str(pvm_vm *vm, pvm_value v)
{
    const char *s = NULL;
    assert_int_equal(pvm_get_string(vm, v, &s, NULL), PVM_OK);
    return s;
}

/* ---- lifecycle and options ---- */

static void test_new_free_and_version(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_non_null(vm);
    assert_string_equal(pvm_version(), PVM_VERSION_STRING);
    assert_string_equal(pvm_error_message(vm), "");
    assert_string_equal(pvm_error_trace(vm), "");
    assert_null(pvm_error_where(vm, NULL, NULL));
    pvm_free(vm);
    pvm_free(NULL);
    /* Zeroed options are the defaults. */
    pvm_options o;
    memset(&o, 0, sizeof o);
    vm = pvm_new(&o);
    assert_non_null(vm);
    assert_int_equal(run(vm, "let x = 1 + 1;"), PVM_OK);
    pvm_free(vm);
}

static void test_status_and_type_names(void **state)
{
    (void)state;
    assert_string_equal(pvm_status_name(PVM_OK), "PVM_OK");
    assert_string_equal(pvm_status_name(PVM_EBUDGET), "PVM_EBUDGET");
    assert_string_equal(pvm_status_name(PVM_ESTATE), "PVM_ESTATE");
    assert_string_equal(pvm_status_name((pvm_status)99), "PVM_E?");
    assert_string_equal(pvm_type_name(PVM_TFUNCTION), "function");
    assert_string_equal(pvm_type_name(PVM_TNIL), "nil");
    assert_string_equal(pvm_type_name(PVM_TINVALID), "invalid");
}

static void test_output_callback_captures_print(void **state)
{
    (void)state;
    Capture out;
    pvm_vm *vm = vm_capturing(&out, 0);
    assert_int_equal(run(vm, "print(\"a\", 1, [2]); io.write(\"no newline\");"), PVM_OK);
    /* Flushed when the run returns, even without a final newline. */
    assert_string_equal(out.text, "a 1 [2]\nno newline");
    assert_true(out.calls >= 1);
    pvm_free(vm);
}

static void test_error_callback_gets_script_errors(void **state)
{
    (void)state;
    Capture errs;
    memset(&errs, 0, sizeof errs);
    pvm_options o = { .error = capture, .ud = &errs };
    pvm_vm *vm = pvm_new(&o);
    assert_non_null(vm);
    assert_int_equal(run(vm, "fn f() { return 1 / 0; }\nf();"), PVM_ERUNTIME);
    assert_non_null(strstr(errs.text, "division by zero\n"));
    assert_non_null(strstr(errs.text, "  at f (t.pv:1)\n"));
    errs.len = 0;
    errs.text[0] = '\0';
    assert_int_equal(run(vm, "let = 3;"), PVM_ECOMPILE);
    assert_non_null(strstr(errs.text, "t.pv:1:"));
    /* API misuse is not a script error: not reported there. */
    errs.len = 0;
    errs.text[0] = '\0';
    int64_t i;
    assert_int_equal(pvm_get_int(vm, PVM_NIL, &i), PVM_ETYPE);
    assert_string_equal(errs.text, "");
    pvm_free(vm);
}

static void test_args_become_os_args(void **state)
{
    (void)state;
    char *argv[] = { "one", "two words" };
    pvm_options o = { .argc = 2, .argv = argv };
    pvm_vm *vm = pvm_new(&o);
    assert_non_null(vm);
    assert_int_equal(run(vm, "let n = len(os.args); let s = os.args[1];"), PVM_OK);
    assert_int_equal(global_int(vm, "n"), 2);
    pvm_value s;
    assert_int_equal(pvm_get_global(vm, "s", &s), PVM_OK);
    assert_string_equal(str(vm, s), "two words");
    pvm_free(vm);
}

static void test_sandbox_denies_io_process_and_ffi(void **state)
{
    (void)state;
    Capture out;
    pvm_vm *vm = vm_capturing(&out, PVM_SANDBOX);
    const char *denied[] = {
        "io.read_file(\"/etc/passwd\")", "io.write_file(\"/tmp/x\", \"y\")", "io.read_line()",
        "io.print_err(\"e\")", "io.write_err(\"e\")",
        "os.exit(3)", "os.getenv(\"HOME\")", "ffi.open(nil)",
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "let r = nil; try { %s; } catch e { r = e; }", denied[i]);
        assert_int_equal(run(vm, src), PVM_OK);
        pvm_value r;
        assert_int_equal(pvm_get_global(vm, "r", &r), PVM_OK);
        const char *msg = str(vm, r);
        assert_true(strstr(msg, "is disabled in this VM") || strstr(msg, "ffi is disabled"));
        pvm_release(vm, r);
    }
    /* What stays: output, clocks, the rest of the library. */
    assert_int_equal(run(vm, "io.write(\"w\"); let t = os.clock() >= 0.0; print(len(\"abc\"));"), PVM_OK);
    assert_string_equal(out.text, "w3\n");
    pvm_free(vm);
    /* Without deny, os.getenv works. */
    vm = vm_running("let home = os.getenv(\"PATH\") != nil;");
    pvm_value home;
    assert_int_equal(pvm_get_global(vm, "home", &home), PVM_OK);
    assert_true(pvm_truthy(vm, home));
    pvm_free(vm);
}

static void test_module_path_option(void **state)
{
    (void)state;
    char dir[] = "/tmp/pvm_api_modXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/helper.pv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("fn twice(x) { return 2 * x; }\n", f);
    fclose(f);
    pvm_options o = { .module_path = dir };
    pvm_vm *vm = pvm_new(&o);
    assert_non_null(vm);
    assert_int_equal(run(vm, "import helper; let y = helper.twice(21);"), PVM_OK);
    assert_int_equal(global_int(vm, "y"), 42);
    pvm_free(vm);
    /* Without it the import is a compile error naming the module. */
    vm = pvm_new(NULL);
    assert_int_equal(run(vm, "import helper;"), PVM_ECOMPILE);
    assert_non_null(strstr(pvm_error_message(vm), "module 'helper' not found"));
    pvm_free(vm);
    unlink(path);
    rmdir(dir);
}

/* ---- loading and running ---- */

static void test_compile_error_has_message_and_position(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    const char *src = "let a = 1;\nlet b = a +;\n";
    assert_int_equal(pvm_load_source(vm, src, strlen(src), "bad.pv"), PVM_ECOMPILE);
    assert_int_equal(pvm_error_status(vm), PVM_ECOMPILE);
    assert_non_null(strstr(pvm_error_message(vm), "bad.pv:2:"));
    assert_non_null(strstr(pvm_error_message(vm), "error:"));
    int line = -1, col = -1;
    const char *file = pvm_error_where(vm, &line, &col);
    assert_non_null(file);
    assert_string_equal(file, "bad.pv");
    assert_int_equal(line, 2);
    assert_true(col > 1);
    pvm_value e = pvm_error_value(vm);
    assert_string_equal(str(vm, e), pvm_error_message(vm));
    pvm_release(vm, e);
    /* Nothing is loaded. */
    assert_int_equal(pvm_run(vm), PVM_ESTATE);
    /* An undeclared name is a compile error too. */
    assert_int_equal(run(vm, "undefined_thing();"), PVM_ECOMPILE);
    assert_non_null(strstr(pvm_error_message(vm), "undefined variable 'undefined_thing'"));
    pvm_free(vm);
}

static uint8_t *compile_to_bytes(const char *src, size_t *len)
{
    PbcImage img;
    assert_true(pvmC_compile_source(src, strlen(src), "b.pv", NULL, &img, stderr));
    uint8_t *bytes;
    assert_true(pvmB_write(&img, &bytes, len));
    pvmB_free(&img);
    return bytes;
}

static void test_load_bytecode(void **state)
{
    (void)state;
    size_t len;
    uint8_t *bytes = compile_to_bytes("let answer = 6 * 7;", &len);
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_load_bytecode(vm, bytes, len), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_OK);
    assert_int_equal(global_int(vm, "answer"), 42);
    /* Truncated, corrupted, empty: rejected with a message, never a crash. */
    assert_int_equal(pvm_load_bytecode(vm, bytes, len / 2), PVM_EBYTECODE);
    assert_non_null(strstr(pvm_error_message(vm), "invalid bytecode: "));
    assert_int_equal(pvm_load_bytecode(vm, bytes, 0), PVM_EBYTECODE);
    uint8_t *bad = malloc(len);
    memcpy(bad, bytes, len);
    for (size_t i = 8; i < len; i++)
        bad[i] ^= 0x5a;
    assert_int_equal(pvm_load_bytecode(vm, bad, len), PVM_EBYTECODE);
    assert_int_equal(pvm_load_bytecode(vm, NULL, 4), PVM_EARG);
    assert_int_equal(pvm_load_bytecode(NULL, bytes, len), PVM_EARG);
    free(bad);
    free(bytes);
    pvm_free(vm);
}

static void test_verifier_rejection_file(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    /* tests/bad holds images that pass the reader but fail the verifier. */
    pvm_status st = pvm_load_file(vm, "tests/bad/stack_underflow.pbc");
    assert_int_equal(st, PVM_EBYTECODE);
    assert_non_null(strstr(pvm_error_message(vm), "invalid bytecode: "));
    assert_non_null(strstr(pvm_error_message(vm), "offset"));
    pvm_free(vm);
}

static void test_load_file(void **state)
{
    (void)state;
    char src_path[] = "/tmp/pvm_api_srcXXXXXX";
    int fd = mkstemp(src_path);
    assert_true(fd >= 0);
    const char *src = "let from_file = 5;";
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_load_file(vm, src_path), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_OK);
    assert_int_equal(global_int(vm, "from_file"), 5);
    /* A .pbc file is recognised by its magic, whatever its name. */
    size_t len;
    uint8_t *bytes = compile_to_bytes("let from_pbc = 6;", &len);
    FILE *f = fopen(src_path, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    free(bytes);
    assert_int_equal(pvm_load_file(vm, src_path), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_OK);
    assert_int_equal(global_int(vm, "from_pbc"), 6);
    unlink(src_path);
    assert_int_equal(pvm_load_file(vm, src_path), PVM_EIO);
    assert_non_null(strstr(pvm_error_message(vm), "No such file"));
    assert_int_equal(pvm_load_file(vm, NULL), PVM_EARG);
    assert_int_equal(pvm_load_file(vm, "/"), PVM_EIO);
    pvm_free(vm);
}

static void test_run_states(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_run(vm), PVM_ESTATE);
    assert_non_null(strstr(pvm_error_message(vm), "no program loaded"));
    assert_int_equal(run(vm, "let x = 1;"), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_ESTATE);
    assert_non_null(strstr(pvm_error_message(vm), "already run"));
    assert_int_equal(pvm_run(NULL), PVM_EARG);
    assert_int_equal(pvm_load_source(NULL, "", 0, NULL), PVM_EARG);
    assert_int_equal(pvm_load_source(vm, NULL, 3, NULL), PVM_EARG);
    /* An empty program is fine; NULL is an error even with length 0. */
    assert_int_equal(pvm_load_source(vm, NULL, 0, NULL), PVM_EARG);
    assert_int_equal(pvm_load_source(vm, "", 0, NULL), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_OK);
    pvm_free(vm);
}

static void test_runtime_error_message_trace_where(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    const char *src = "fn inner(a) {\n  return a[3];\n}\nfn outer() { return inner([1]); }\nouter();\n";
    assert_int_equal(run(vm, src), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "index 3 out of range for array of length 1");
    assert_string_equal(pvm_error_trace(vm), "  at inner (t.pv:2)\n  at outer (t.pv:4)\n  at <main> (t.pv:5)\n");
    int line, col;
    assert_string_equal(pvm_error_where(vm, &line, &col), "t.pv");
    assert_int_equal(line, 2);
    assert_int_equal(col, 0);
    /* A thrown value other than a string comes back as itself. */
    assert_int_equal(run(vm, "throw {code: 7};"), PVM_ERUNTIME);
    pvm_value e = pvm_error_value(vm), code;
    assert_int_equal(pvm_typeof(vm, e), PVM_TMAP);
    assert_int_equal(pvm_map_get_field(vm, e, "code", &code), PVM_OK);
    assert_int_equal(get_int(vm, code), 7);
    assert_string_equal(pvm_error_message(vm), "{\"code\": 7}");
    pvm_free(vm);
}

static void test_vm_usable_after_errors(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(run(vm, "fn r(n) { return r(n + 1) + 1; }\nr(0);"), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "stack overflow");
    assert_int_equal(run(vm, "let ok = 1 + 2;"), PVM_OK);
    assert_int_equal(global_int(vm, "ok"), 3);
    pvm_free(vm);
}

/* ---- values ---- */

static void test_scalars_round_trip(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value b = pvm_bool(vm, true), i = pvm_int(vm, INT64_MIN), f = pvm_float(vm, -2.5);
    bool bv = false;
    double fv = 0;
    assert_int_equal(pvm_get_bool(vm, b, &bv), PVM_OK);
    assert_true(bv);
    assert_int_equal(get_int(vm, i), INT64_MIN);
    assert_int_equal(pvm_get_float(vm, f, &fv), PVM_OK);
    assert_true(fv == -2.5);
    /* get_float takes ints too. */
    assert_int_equal(pvm_get_float(vm, i, &fv), PVM_OK);
    assert_true(fv == (double)INT64_MIN);
    assert_int_equal(pvm_typeof(vm, b), PVM_TBOOL);
    assert_int_equal(pvm_typeof(vm, i), PVM_TINT);
    assert_int_equal(pvm_typeof(vm, f), PVM_TFLOAT);
    assert_int_equal(pvm_typeof(vm, PVM_NIL), PVM_TNIL);
    assert_true(pvm_is_nil(vm, PVM_NIL));
    assert_false(pvm_is_nil(vm, i));
    pvm_value nan = pvm_float(vm, NAN);
    assert_int_equal(pvm_get_float(vm, nan, &fv), PVM_OK);
    assert_true(isnan(fv));
    pvm_release(vm, b);
    pvm_release(vm, i);
    pvm_release(vm, f);
    pvm_release(vm, nan);
    pvm_free(vm);
}

static void test_wrong_type_accessors(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value s = pvm_cstring(vm, "text");
    int64_t i = 123;
    bool b = true;
    double f = 1.5;
    void *p = &i;
    const char *cs = "unchanged";
    size_t n = 77;
    assert_int_equal(pvm_get_int(vm, s, &i), PVM_ETYPE);
    assert_string_equal(pvm_error_message(vm), "expected int, got string");
    assert_int_equal(i, 123);
    assert_int_equal(pvm_get_bool(vm, s, &b), PVM_ETYPE);
    assert_true(b);
    assert_int_equal(pvm_get_float(vm, s, &f), PVM_ETYPE);
    assert_true(f == 1.5);
    assert_int_equal(pvm_get_pointer(vm, s, &p), PVM_ETYPE);
    assert_ptr_equal(p, &i);
    pvm_value one = pvm_int(vm, 1);
    assert_int_equal(pvm_get_string(vm, one, &cs, NULL), PVM_ETYPE);
    assert_string_equal(cs, "unchanged");
    assert_int_equal(pvm_get_int(vm, PVM_NIL, &i), PVM_ETYPE);
    assert_string_equal(pvm_error_message(vm), "expected int, got nil");
    assert_int_equal(pvm_len(vm, one, &n), PVM_ETYPE);
    assert_int_equal(n, 77);
    pvm_value out;
    assert_int_equal(pvm_array_get(vm, s, 0, &out), PVM_ETYPE);
    assert_int_equal(pvm_array_push(vm, s, one), PVM_ETYPE);
    assert_int_equal(pvm_array_set(vm, one, 0, one), PVM_ETYPE);
    assert_int_equal(pvm_map_get(vm, s, one, &out), PVM_ETYPE);
    assert_int_equal(pvm_map_set(vm, one, one, one), PVM_ETYPE);
    assert_int_equal(pvm_map_remove(vm, one, one), PVM_ETYPE);
    assert_int_equal(pvm_map_get_field(vm, one, "k", &out), PVM_ETYPE);
    assert_int_equal(pvm_map_set_field(vm, one, "k", one), PVM_ETYPE);
    size_t it = 0;
    pvm_value k, v;
    assert_false(pvm_map_next(vm, one, &it, &k, &v));
    assert_int_equal(pvm_error_status(vm), PVM_ETYPE);
    pvm_free(vm);
}

static void test_null_arguments(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value one = pvm_int(vm, 1), arr = pvm_new_array(vm), map = pvm_new_map(vm);
    int64_t i;
    size_t n;
    /* A NULL vm: EARG or PVM_NIL, never a crash. */
    assert_int_equal(pvm_get_int(NULL, one, &i), PVM_EARG);
    assert_int_equal(pvm_get_bool(NULL, one, NULL), PVM_EARG);
    assert_int_equal(pvm_get_float(NULL, one, NULL), PVM_EARG);
    assert_int_equal(pvm_get_string(NULL, one, NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_get_pointer(NULL, one, NULL), PVM_EARG);
    assert_int_equal(pvm_len(NULL, one, &n), PVM_EARG);
    assert_int_equal(pvm_release(NULL, one), PVM_EARG);
    assert_int_equal(pvm_call(NULL, one, 0, NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_get_global(NULL, "x", NULL), PVM_EARG);
    assert_int_equal(pvm_set_global(NULL, "x", one), PVM_EARG);
    assert_int_equal(pvm_define(NULL, "x", one), PVM_EARG);
    assert_int_equal(pvm_register(NULL, "x", NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_register_module(NULL, "x", NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_to_string(NULL, one, NULL), PVM_EARG);
    assert_int_equal(pvm_array_get(NULL, arr, 0, NULL), PVM_EARG);
    assert_int_equal(pvm_array_set(NULL, arr, 0, one), PVM_EARG);
    assert_int_equal(pvm_array_push(NULL, arr, one), PVM_EARG);
    assert_int_equal(pvm_map_get(NULL, map, one, NULL), PVM_EARG);
    assert_int_equal(pvm_map_set(NULL, map, one, one), PVM_EARG);
    assert_int_equal(pvm_map_remove(NULL, map, one), PVM_EARG);
    assert_int_equal(pvm_map_get_field(NULL, map, "k", NULL), PVM_EARG);
    assert_int_equal(pvm_map_set_field(NULL, map, "k", one), PVM_EARG);
    assert_int_equal(pvm_error_status(NULL), PVM_EARG);
    assert_string_equal(pvm_error_message(NULL), "");
    assert_string_equal(pvm_error_trace(NULL), "");
    int line = 5;
    assert_null(pvm_error_where(NULL, &line, NULL));
    assert_int_equal(line, 0);
    assert_int_equal(pvm_typeof(NULL, one), PVM_TINVALID);
    assert_false(pvm_truthy(NULL, one));
    assert_false(pvm_equal(NULL, one, one));
    assert_int_equal(pvm_int(NULL, 1).id, 0);
    assert_int_equal(pvm_bool(NULL, true).id, 0);
    assert_int_equal(pvm_float(NULL, 1).id, 0);
    assert_int_equal(pvm_string(NULL, "a", 1).id, 0);
    assert_int_equal(pvm_cstring(NULL, "a").id, 0);
    assert_int_equal(pvm_new_array(NULL).id, 0);
    assert_int_equal(pvm_new_map(NULL).id, 0);
    assert_int_equal(pvm_pointer(NULL, &i).id, 0);
    assert_int_equal(pvm_function(NULL, "f", NULL, NULL).id, 0);
    assert_int_equal(pvm_retain(NULL, one).id, 0);
    assert_int_equal(pvm_error_value(NULL).id, 0);
    assert_int_equal(pvm_raise(NULL, "x").id, 0);
    assert_int_equal(pvm_raise_value(NULL, one).id, 0);
    assert_int_equal(pvm_rethrow(NULL).id, 0);
    pvm_set_memory_limit(NULL, 1);
    pvm_set_instruction_limit(NULL, 1);
    pvm_interrupt(NULL);
    size_t it = 0;
    pvm_value k, v;
    assert_false(pvm_map_next(NULL, map, &it, &k, &v));
    /* NULL out-pointers and names, with a VM. */
    assert_int_equal(pvm_get_int(vm, one, NULL), PVM_EARG);
    assert_int_equal(pvm_get_bool(vm, one, NULL), PVM_EARG);
    assert_int_equal(pvm_get_float(vm, one, NULL), PVM_EARG);
    assert_int_equal(pvm_get_string(vm, one, NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_get_pointer(vm, one, NULL), PVM_EARG);
    assert_int_equal(pvm_len(vm, arr, NULL), PVM_EARG);
    assert_int_equal(pvm_to_string(vm, one, NULL), PVM_EARG);
    assert_int_equal(pvm_array_get(vm, arr, 0, NULL), PVM_EARG);
    assert_int_equal(pvm_map_get(vm, map, one, NULL), PVM_EARG);
    assert_int_equal(pvm_map_get_field(vm, map, NULL, &v), PVM_EARG);
    assert_int_equal(pvm_map_get_field(vm, map, "k", NULL), PVM_EARG);
    assert_int_equal(pvm_map_set_field(vm, map, NULL, one), PVM_EARG);
    assert_false(pvm_map_next(vm, map, NULL, &k, &v));
    assert_false(pvm_map_next(vm, map, &it, NULL, &v));
    assert_int_equal(pvm_error_status(vm), PVM_EARG);
    assert_int_equal(pvm_get_global(vm, NULL, &v), PVM_EARG);
    assert_int_equal(pvm_get_global(vm, "print", NULL), PVM_EARG);
    assert_int_equal(pvm_set_global(vm, NULL, one), PVM_EARG);
    assert_int_equal(pvm_define(vm, NULL, one), PVM_EARG);
    assert_int_equal(pvm_register(vm, NULL, NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_register_module(vm, "m", NULL, NULL), PVM_EARG);
    assert_int_equal(pvm_string(vm, NULL, 3).id, 0);
    assert_int_equal(pvm_error_status(vm), PVM_EARG);
    assert_int_equal(pvm_cstring(vm, NULL).id, 0);
    assert_int_equal(pvm_function(vm, "f", NULL, NULL).id, 0);
    /* pvm_string(NULL, 0) is the empty string. */
    pvm_value empty = pvm_string(vm, NULL, 0);
    assert_string_equal(str(vm, empty), "");
    pvm_free(vm);
}

static void test_strings(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value s = pvm_string(vm, "a\0b", 3);
    const char *chars;
    size_t len;
    assert_int_equal(pvm_get_string(vm, s, &chars, &len), PVM_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(chars, "a\0b", 3);
    assert_int_equal(chars[3], '\0');
    assert_int_equal(pvm_len(vm, s, &len), PVM_OK);
    assert_int_equal(len, 3);
    pvm_value c = pvm_cstring(vm, "héllo");
    assert_int_equal(pvm_len(vm, c, &len), PVM_OK);
    assert_int_equal(len, 6);
    assert_int_equal(pvm_typeof(vm, c), PVM_TSTRING);
    pvm_value c2 = pvm_cstring(vm, "héllo");
    assert_true(pvm_equal(vm, c, c2));
    assert_false(pvm_equal(vm, c, s));
    pvm_free(vm);
}

static void test_to_string_truthy_equal(void **state)
{
    (void)state;
    pvm_vm *vm = vm_running("let v = [1, \"two\", {k: nil}, 2.5];");
    pvm_value v, text;
    assert_int_equal(pvm_get_global(vm, "v", &v), PVM_OK);
    assert_int_equal(pvm_to_string(vm, v, &text), PVM_OK);
    assert_string_equal(str(vm, text), "[1, \"two\", {\"k\": nil}, 2.5]");
    pvm_value zero = pvm_int(vm, 0), f = pvm_bool(vm, false), zf = pvm_float(vm, 0.0);
    assert_true(pvm_truthy(vm, zero));
    assert_false(pvm_truthy(vm, f));
    assert_false(pvm_truthy(vm, PVM_NIL));
    assert_true(pvm_equal(vm, zero, zf)); /* 0 == 0.0 */
    assert_true(pvm_equal(vm, PVM_NIL, PVM_NIL));
    assert_false(pvm_equal(vm, zero, f));
    pvm_value v2;
    assert_int_equal(pvm_get_global(vm, "v", &v2), PVM_OK);
    assert_true(pvm_equal(vm, v, v2)); /* same array */
    pvm_free(vm);
}

/* Arrays of each storage kind (vm/runtime/array.h) read and written by
 * the host: a store of another type changes the kind, which the script
 * then sees. */
static void test_arrays_of_each_kind(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(run(vm, "let ints = [1, 2, 3]; let floats = array.new(3, 0.5);"
                             "let bools = [true, false, true];"), PVM_OK);
    pvm_value a, x, ints, floats;
    double d;
    bool b;
    assert_int_equal(pvm_get_global(vm, "ints", &a), PVM_OK);
    ints = a;
    assert_int_equal(pvm_array_get(vm, a, 2, &x), PVM_OK);
    assert_int_equal(get_int(vm, x), 3);
    pvm_value half = pvm_float(vm, 2.5);
    assert_int_equal(pvm_array_set(vm, a, 0, half), PVM_OK); /* int array receives a float */
    assert_int_equal(pvm_array_push(vm, a, PVM_NIL), PVM_OK);
    assert_int_equal(pvm_get_global(vm, "floats", &a), PVM_OK);
    floats = a;
    assert_int_equal(pvm_array_get(vm, a, 1, &x), PVM_OK);
    assert_int_equal(pvm_get_float(vm, x, &d), PVM_OK);
    assert_true(d == 0.5);
    pvm_value seven = pvm_int(vm, 7);
    assert_int_equal(pvm_array_set(vm, a, 1, seven), PVM_OK); /* float array receives an int */
    assert_int_equal(pvm_get_global(vm, "bools", &a), PVM_OK);
    assert_int_equal(pvm_array_get(vm, a, 1, &x), PVM_OK);
    assert_int_equal(pvm_get_bool(vm, x, &b), PVM_OK);
    assert_false(b);
    assert_int_equal(pvm_array_set(vm, a, 2, pvm_bool(vm, false)), PVM_OK); /* same kind */
    assert_int_equal(pvm_array_push(vm, a, seven), PVM_OK); /* bool array receives an int */
    assert_int_equal(pvm_define(vm, "ints", ints), PVM_OK);
    assert_int_equal(pvm_define(vm, "floats", floats), PVM_OK);
    assert_int_equal(pvm_define(vm, "bools", a), PVM_OK);
    assert_int_equal(run(vm, "let shown = str(ints) + str(floats) + str(bools);"
                             "let t = type(ints[1]) + type(floats[1]) + type(bools[3]);"), PVM_OK);
    assert_int_equal(pvm_get_global(vm, "shown", &x), PVM_OK);
    assert_string_equal(str(vm, x), "[2.5, 2, 3, nil][0.5, 7, 0.5][true, false, false, 7]");
    assert_int_equal(pvm_get_global(vm, "t", &x), PVM_OK);
    assert_string_equal(str(vm, x), "intintint");
    pvm_free(vm);
}

static void test_arrays(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value a = pvm_new_array(vm);
    assert_int_equal(pvm_typeof(vm, a), PVM_TARRAY);
    for (int i = 0; i < 100; i++) {
        pvm_value x = pvm_int(vm, i * i);
        assert_int_equal(pvm_array_push(vm, a, x), PVM_OK);
        pvm_release(vm, x);
    }
    size_t n;
    assert_int_equal(pvm_len(vm, a, &n), PVM_OK);
    assert_int_equal(n, 100);
    pvm_value x;
    assert_int_equal(pvm_array_get(vm, a, 9, &x), PVM_OK);
    assert_int_equal(get_int(vm, x), 81);
    pvm_value s = pvm_cstring(vm, "nine");
    assert_int_equal(pvm_array_set(vm, a, 9, s), PVM_OK);
    assert_int_equal(pvm_array_get(vm, a, 9, &x), PVM_OK);
    assert_string_equal(str(vm, x), "nine");
    assert_int_equal(pvm_array_get(vm, a, 100, &x), PVM_ERANGE);
    assert_string_equal(pvm_error_message(vm), "index 100 out of range for array of length 100");
    assert_int_equal(x.id, 0);
    assert_int_equal(pvm_array_set(vm, a, 100, s), PVM_ERANGE);
    assert_int_equal(pvm_array_set(vm, a, SIZE_MAX, s), PVM_ERANGE);
    /* nil elements */
    assert_int_equal(pvm_array_push(vm, a, PVM_NIL), PVM_OK);
    assert_int_equal(pvm_array_get(vm, a, 100, &x), PVM_OK);
    assert_true(pvm_is_nil(vm, x));
    /* A script sees the host's array. */
    assert_int_equal(pvm_define(vm, "host_array", a), PVM_OK);
    assert_int_equal(run(vm, "let total = 0; for v in host_array { if type(v) == \"int\" { total += v; } }"), PVM_OK);
    assert_int_equal(global_int(vm, "total"), 328350 - 81);
    pvm_free(vm);
}

static void test_maps(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value m = pvm_new_map(vm);
    assert_int_equal(pvm_typeof(vm, m), PVM_TMAP);
    pvm_value k1 = pvm_cstring(vm, "one"), v1 = pvm_int(vm, 1), k2 = pvm_int(vm, 2), v2 = pvm_cstring(vm, "two");
    assert_int_equal(pvm_map_set(vm, m, k1, v1), PVM_OK);
    assert_int_equal(pvm_map_set(vm, m, k2, v2), PVM_OK);
    assert_int_equal(pvm_map_set_field(vm, m, "three", v1), PVM_OK);
    assert_int_equal(pvm_map_set_field(vm, m, "nil", PVM_NIL), PVM_OK);
    size_t n;
    assert_int_equal(pvm_len(vm, m, &n), PVM_OK);
    assert_int_equal(n, 4);
    pvm_value out;
    assert_int_equal(pvm_map_get(vm, m, k1, &out), PVM_OK);
    assert_int_equal(get_int(vm, out), 1);
    /* An integral float key is the int key. */
    pvm_value two_f = pvm_float(vm, 2.0);
    assert_int_equal(pvm_map_get(vm, m, two_f, &out), PVM_OK);
    assert_string_equal(str(vm, out), "two");
    assert_int_equal(pvm_map_get_field(vm, m, "one", &out), PVM_OK);
    assert_int_equal(get_int(vm, out), 1);
    /* A present nil value is OK; an absent key is ENOTFOUND. */
    assert_int_equal(pvm_map_get_field(vm, m, "nil", &out), PVM_OK);
    assert_true(pvm_is_nil(vm, out));
    assert_int_equal(pvm_map_get_field(vm, m, "four", &out), PVM_ENOTFOUND);
    assert_true(pvm_is_nil(vm, out));
    assert_int_equal(pvm_map_get(vm, m, v1, &out), PVM_ENOTFOUND);
    /* Bad keys */
    assert_int_equal(pvm_map_set(vm, m, PVM_NIL, v1), PVM_EARG);
    assert_string_equal(pvm_error_message(vm), "map key cannot be nil");
    pvm_value nan = pvm_float(vm, NAN);
    assert_int_equal(pvm_map_set(vm, m, nan, v1), PVM_EARG);
    assert_int_equal(pvm_map_get(vm, m, PVM_NIL, &out), PVM_ENOTFOUND);
    /* Iteration in insertion order, after a removal. */
    assert_int_equal(pvm_map_remove(vm, m, k2), PVM_OK);
    assert_int_equal(pvm_map_remove(vm, m, k2), PVM_ENOTFOUND);
    const char *want[] = { "one", "three", "nil" };
    size_t it = 0, count = 0;
    pvm_value k, v;
    while (pvm_map_next(vm, m, &it, &k, &v)) {
        assert_true(count < 3);
        assert_string_equal(str(vm, k), want[count]);
        count++;
        pvm_release(vm, k);
        pvm_release(vm, v);
    }
    assert_int_equal(count, 3);
    /* A script's map */
    assert_int_equal(run(vm, "let cfg = {width: 640, title: \"game\"};"), PVM_OK);
    pvm_value cfg;
    assert_int_equal(pvm_get_global(vm, "cfg", &cfg), PVM_OK);
    assert_int_equal(pvm_map_get_field(vm, cfg, "width", &out), PVM_OK);
    assert_int_equal(get_int(vm, out), 640);
    pvm_free(vm);
}

static void test_pointers(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    int target = 5;
    pvm_value p = pvm_pointer(vm, &target), q = pvm_pointer(vm, &target), null = pvm_pointer(vm, NULL);
    assert_int_equal(pvm_typeof(vm, p), PVM_TPOINTER);
    void *back = NULL;
    assert_int_equal(pvm_get_pointer(vm, p, &back), PVM_OK);
    assert_ptr_equal(back, &target);
    assert_true(pvm_equal(vm, p, q)); /* pointers compare by address */
    assert_int_equal(pvm_get_pointer(vm, null, &back), PVM_OK);
    assert_null(back);
    /* Scripts carry them around and print them. */
    assert_int_equal(pvm_define(vm, "ptr", p), PVM_OK);
    assert_int_equal(run(vm, "let t = type(ptr); let same = [ptr][0];"), PVM_OK);
    pvm_value t, same;
    assert_int_equal(pvm_get_global(vm, "t", &t), PVM_OK);
    assert_string_equal(str(vm, t), "pointer");
    assert_int_equal(pvm_get_global(vm, "same", &same), PVM_OK);
    assert_int_equal(pvm_get_pointer(vm, same, &back), PVM_OK);
    assert_ptr_equal(back, &target);
    pvm_free(vm);
}

/* ---- handles ---- */

static void test_release_and_use_after_release(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value i = pvm_int(vm, 7);
    assert_int_equal(pvm_release(vm, i), PVM_OK);
    /* Detected, not dereferenced: the slot was freed. */
    int64_t out = 0;
    assert_int_equal(pvm_get_int(vm, i, &out), PVM_EARG);
    assert_non_null(strstr(pvm_error_message(vm), "invalid or released handle"));
    assert_int_equal(pvm_typeof(vm, i), PVM_TINVALID);
    assert_int_equal(pvm_release(vm, i), PVM_EARG);
    /* Also once the slot is reused by a new handle. */
    pvm_value j = pvm_int(vm, 8);
    assert_int_equal((uint32_t)j.id, (uint32_t)i.id); /* same slot ... */
    assert_int_equal(pvm_get_int(vm, i, &out), PVM_EARG); /* ... new generation */
    assert_int_equal(get_int(vm, j), 8);
    /* Releasing nil is fine; garbage ids are rejected. */
    assert_int_equal(pvm_release(vm, PVM_NIL), PVM_OK);
    pvm_value junk = { 0xdeadbeefcafef00dull };
    assert_int_equal(pvm_get_int(vm, junk, &out), PVM_EARG);
    assert_int_equal(pvm_release(vm, junk), PVM_EARG);
    pvm_value high = { ((uint64_t)1 << 32) | 0xffffffffu };
    assert_int_equal(pvm_typeof(vm, high), PVM_TINVALID);
    pvm_value args[1] = { junk };
    pvm_value print;
    assert_int_equal(pvm_get_global(vm, "print", &print), PVM_OK);
    assert_int_equal(pvm_call(vm, print, 1, args, NULL), PVM_EARG);
    assert_int_equal(pvm_call(vm, junk, 0, NULL, NULL), PVM_EARG);
    pvm_free(vm);
}

static void test_foreign_handles_rejected(void **state)
{
    (void)state;
    pvm_vm *a = pvm_new(NULL), *b = pvm_new(NULL);
    pvm_value x = pvm_int(a, 1);
    pvm_value y = pvm_int(b, 2);
    int64_t out;
    assert_int_equal(pvm_get_int(b, x, &out), PVM_EARG);
    assert_int_equal(pvm_get_int(a, y, &out), PVM_EARG);
    assert_int_equal(get_int(a, x), 1);
    pvm_free(a);
    pvm_free(b);
}

static void test_retain(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value s = pvm_cstring(vm, "kept");
    pvm_value r = pvm_retain(vm, s);
    assert_true(r.id != s.id);
    pvm_release(vm, s);
    assert_string_equal(str(vm, r), "kept");
    assert_int_equal(pvm_retain(vm, PVM_NIL).id, 0);
    assert_int_equal(pvm_retain(vm, s).id, 0); /* released */
    assert_int_equal(pvm_error_status(vm), PVM_EARG);
    pvm_free(vm);
}

/* Held values survive collections while everything else is churned. */
static void test_handles_keep_values_alive(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    enum { N = 2000 };
    pvm_value *held = malloc(N * sizeof *held);
    for (int i = 0; i < N; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "value %d", i);
        held[i] = pvm_cstring(vm, buf);
    }
    /* Churn: a script allocating ~200 MB of garbage forces collections. */
    assert_int_equal(run(vm, "for i in 0..200000 { let a = [i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i]; let s = str(i) + \"x\"; }"), PVM_OK);
    for (int i = 0; i < N; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "value %d", i);
        assert_string_equal(str(vm, held[i]), buf);
        pvm_release(vm, held[i]);
    }
    free(held);
    pvm_free(vm);
}

/* ---- globals ---- */

/* The JIT takes a function in a global the program binds once as a
 * constant of its traces (docs/jit.md, "Globals bound once"); when the
 * host sets that global, the traces go and the new function is called.
 * Each call runs hot: a loop calling the global (inlined into the loop's
 * trace) and a recursive function (a function trace calling itself). */
static void test_globals_bound_once_set_by_host(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with("fn f(x) { return x + 1; }\n"
                         "fn g(x) { return x * 10 + 7; }\n"
                         "fn sum(n) { let s = 0; for i in 0..n { s += f(i); } return s; }\n"
                         "fn down(n) { return n == 0 ? 0 : f(0) + down(n - 1); }\n"
                         "fn tens(n) { return n == 0 ? 0 : 10 + tens(n - 1); }\n");
    for (int round = 0; round < 3; round++) {
        assert_int_equal(call_int(vm, "sum", 1000), 500500);
        assert_int_equal(call_int(vm, "down", 300), 300);
    }
    pvm_value g;
    assert_int_equal(pvm_get_global(vm, "g", &g), PVM_OK);
    assert_int_equal(pvm_set_global(vm, "f", g), PVM_OK);
    assert_int_equal(call_int(vm, "sum", 1000), 5002000);
    assert_int_equal(call_int(vm, "down", 300), 2100);
    /* a recursive function whose own global the host rebinds */
    for (int round = 0; round < 3; round++)
        assert_int_equal(call_int(vm, "tens", 300), 3000);
    assert_int_equal(pvm_set_global(vm, "tens", g), PVM_OK);
    assert_int_equal(call_int(vm, "tens", 300), 3007);
    pvm_release(vm, g);
    pvm_free(vm);
}

static void test_globals(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value v;
    assert_int_equal(pvm_set_global(vm, "x", PVM_NIL), PVM_ESTATE);
    /* The built-in scope without a program. */
    assert_int_equal(pvm_get_global(vm, "print", &v), PVM_OK);
    assert_int_equal(pvm_typeof(vm, v), PVM_TFUNCTION);
    assert_int_equal(pvm_get_global(vm, "math", &v), PVM_OK);
    assert_int_equal(pvm_typeof(vm, v), PVM_TMAP);
    assert_int_equal(pvm_get_global(vm, "nope", &v), PVM_ENOTFOUND);
    assert_string_equal(pvm_error_message(vm), "no global named 'nope'");
    /* Host definitions are visible to programs loaded afterwards. */
    pvm_value speed = pvm_int(vm, 12);
    assert_int_equal(pvm_define(vm, "speed", speed), PVM_OK);
    assert_int_equal(run(vm, "let x = speed * 2; let later = nil; fn get_x() { return x; }"), PVM_OK);
    assert_int_equal(global_int(vm, "x"), 24);
    assert_int_equal(global_int(vm, "speed"), 12);
    /* Program globals come first, then built-ins; set changes what code sees. */
    pvm_value hundred = pvm_int(vm, 100);
    assert_int_equal(pvm_set_global(vm, "x", hundred), PVM_OK);
    pvm_value get_x, r;
    assert_int_equal(pvm_get_global(vm, "get_x", &get_x), PVM_OK);
    assert_int_equal(pvm_call(vm, get_x, 0, NULL, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 100);
    assert_int_equal(pvm_set_global(vm, "speed", hundred), PVM_ENOTFOUND);
    assert_int_equal(pvm_set_global(vm, "undeclared", hundred), PVM_ENOTFOUND);
    pvm_value junk = { 12345 };
    assert_int_equal(pvm_set_global(vm, "x", junk), PVM_EARG);
    assert_int_equal(pvm_define(vm, "y", junk), PVM_EARG);
    /* A name a script uses but nobody defined is a compile error. */
    assert_int_equal(run(vm, "let z = not_defined_yet;"), PVM_ECOMPILE);
    assert_int_equal(pvm_define(vm, "not_defined_yet", hundred), PVM_OK);
    assert_int_equal(run(vm, "let z = not_defined_yet;"), PVM_OK);
    assert_int_equal(global_int(vm, "z"), 100);
    pvm_free(vm);
}

/* ---- calls ---- */

static void test_call_pv_functions(void **state)
{
    (void)state;
    pvm_vm *vm = vm_running("fn add(a, b) { return a + b; }\n"
                            "fn sum(...xs) { let t = 0; for x in xs { t += x; } return t; }\n"
                            "fn fail(m) { throw m; }\n"
                            "fn nothing() {}\n");
    pvm_value add, sum, fail, nothing, r;
    assert_int_equal(pvm_get_global(vm, "add", &add), PVM_OK);
    pvm_value args[12];
    for (int i = 0; i < 12; i++)
        args[i] = pvm_int(vm, i + 1);
    assert_int_equal(pvm_call(vm, add, 2, args, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 3);
    pvm_release(vm, r);
    /* More arguments than fit the small buffer. */
    assert_int_equal(pvm_get_global(vm, "sum", &sum), PVM_OK);
    assert_int_equal(pvm_call(vm, sum, 12, args, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 78);
    /* Wrong arity is the language's error. */
    assert_int_equal(pvm_call(vm, add, 1, args, &r), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "add expects 2 arguments, got 1");
    assert_int_equal(r.id, 0);
    /* Errors carry the trace. */
    assert_int_equal(pvm_get_global(vm, "fail", &fail), PVM_OK);
    pvm_value msg = pvm_cstring(vm, "boom");
    assert_int_equal(pvm_call(vm, fail, 1, &msg, &r), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "boom");
    assert_string_equal(pvm_error_trace(vm), "  at fail (t.pv:3)\n");
    /* No result wanted; nil result. */
    assert_int_equal(pvm_get_global(vm, "nothing", &nothing), PVM_OK);
    assert_int_equal(pvm_call(vm, nothing, 0, NULL, NULL), PVM_OK);
    assert_int_equal(pvm_call(vm, nothing, 0, NULL, &r), PVM_OK);
    assert_true(pvm_is_nil(vm, r));
    /* Calling a non-function, bad argument lists. */
    assert_int_equal(pvm_call(vm, args[0], 0, NULL, &r), PVM_ETYPE);
    assert_string_equal(pvm_error_message(vm), "attempt to call a int value");
    assert_int_equal(pvm_call(vm, PVM_NIL, 0, NULL, &r), PVM_ETYPE);
    assert_int_equal(pvm_call(vm, add, -1, args, &r), PVM_EARG);
    assert_int_equal(pvm_call(vm, add, 2, NULL, &r), PVM_EARG);
    /* Built-in natives are functions like any other. */
    pvm_value len_fn, s = pvm_cstring(vm, "four");
    assert_int_equal(pvm_get_global(vm, "len", &len_fn), PVM_OK);
    assert_int_equal(pvm_call(vm, len_fn, 1, &s, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 4);
    assert_int_equal(pvm_call(vm, len_fn, 0, NULL, &r), PVM_ERUNTIME);
    pvm_free(vm);
}

static void test_call_closure_keeps_state(void **state)
{
    (void)state;
    pvm_vm *vm = vm_running("fn counter() { let n = 0; return fn () { n += 1; return n; }; }\n"
                            "let c = counter();\n");
    pvm_value c, r;
    assert_int_equal(pvm_get_global(vm, "c", &c), PVM_OK);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(pvm_call(vm, c, 0, NULL, &r), PVM_OK);
        assert_int_equal(get_int(vm, r), i);
        pvm_release(vm, r);
    }
    /* The function outlives loading another program. */
    assert_int_equal(run(vm, "let other = 1;"), PVM_OK);
    assert_int_equal(pvm_call(vm, c, 0, NULL, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 6);
    pvm_free(vm);
}

/* ---- natives ---- */

static pvm_value native_add(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int64_t a, b;
    if (argc != 2)
        return pvm_raise(vm, "add: expected 2 arguments, got %d", argc);
    if (pvm_get_int(vm, args[0], &a) || pvm_get_int(vm, args[1], &b))
        return pvm_rethrow(vm);
    return pvm_int(vm, a + b + (ud ? *(int *)ud : 0));
}

static pvm_value native_count_args(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int64_t total = 0;
    for (int i = 0; i < argc; i++) {
        int64_t x;
        if (pvm_get_int(vm, args[i], &x) == PVM_OK)
            total += x;
    }
    return pvm_int(vm, total * 1000 + argc);
}

static pvm_value native_throw_map(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_value m = pvm_new_map(vm), code = pvm_int(vm, 42);
    pvm_map_set_field(vm, m, "code", code);
    return pvm_raise_value(vm, m);
}

static pvm_value native_bad_handle(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_value v = pvm_int(vm, 1);
    pvm_release(vm, v);
    return v;
}

static pvm_value native_identity(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    return argc > 0 ? args[0] : PVM_NIL;
}

static void test_register_and_call_natives(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    int bonus = 100;
    assert_int_equal(pvm_register(vm, "add", native_add, NULL), PVM_OK);
    assert_int_equal(pvm_register(vm, "add_bonus", native_add, &bonus), PVM_OK);
    assert_int_equal(pvm_register(vm, "count", native_count_args, NULL), PVM_OK);
    assert_int_equal(pvm_register(vm, "identity", native_identity, NULL), PVM_OK);
    assert_int_equal(run(vm, "let a = add(2, 3); let b = add_bonus(1, 1);\n"
                             "let c = count(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);\n"
                             "let d = identity([1, 2]); let e = identity(); let t = type(add);"),
                     PVM_OK);
    assert_int_equal(global_int(vm, "a"), 5);
    assert_int_equal(global_int(vm, "b"), 102);
    assert_int_equal(global_int(vm, "c"), 78012);
    pvm_value d, e, t;
    assert_int_equal(pvm_get_global(vm, "d", &d), PVM_OK);
    assert_int_equal(pvm_typeof(vm, d), PVM_TARRAY);
    assert_int_equal(pvm_get_global(vm, "e", &e), PVM_OK);
    assert_true(pvm_is_nil(vm, e));
    assert_int_equal(pvm_get_global(vm, "t", &t), PVM_OK);
    assert_string_equal(str(vm, t), "function");
    /* The host can call its own natives through the VM too. */
    pvm_value add, args[2] = { pvm_int(vm, 20), pvm_int(vm, 22) }, r;
    assert_int_equal(pvm_get_global(vm, "add", &add), PVM_OK);
    assert_int_equal(pvm_call(vm, add, 2, args, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 42);
    assert_int_equal(pvm_call(vm, add, 1, args, &r), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "add: expected 2 arguments, got 1");
    pvm_free(vm);
}

static void test_native_errors(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_register(vm, "add", native_add, NULL);
    pvm_register(vm, "throw_map", native_throw_map, NULL);
    pvm_register(vm, "bad_handle", native_bad_handle, NULL);
    /* A raise is an ordinary PV error: try catches it. */
    assert_int_equal(run(vm, "let msg = nil; try { add(1); } catch e { msg = e; }\n"
                             "let code = nil; try { throw_map(); } catch e { code = e.code; }\n"
                             "let wrong = nil; try { add(\"x\", 1); } catch e { wrong = e; }"),
                     PVM_OK);
    pvm_value msg, wrong;
    assert_int_equal(pvm_get_global(vm, "msg", &msg), PVM_OK);
    assert_string_equal(str(vm, msg), "add: expected 2 arguments, got 1");
    assert_int_equal(global_int(vm, "code"), 42);
    assert_int_equal(pvm_get_global(vm, "wrong", &wrong), PVM_OK);
    assert_string_equal(str(vm, wrong), "expected int, got string");
    /* Uncaught, it ends the run with the PV trace of the caller. */
    assert_int_equal(run(vm, "fn f() {\n  return add(1);\n}\nf();"), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "add: expected 2 arguments, got 1");
    assert_string_equal(pvm_error_trace(vm), "  at f (t.pv:2)\n  at <main> (t.pv:4)\n");
    /* Returning a released handle is an error, not a crash. */
    assert_int_equal(run(vm, "bad_handle();"), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "bad_handle returned an invalid or released handle");
    /* Outside a native, raise just records the error. */
    assert_int_equal(pvm_raise(vm, "top %d", 1).id, 0);
    assert_int_equal(pvm_error_status(vm), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "top 1");
    pvm_value m = pvm_new_map(vm);
    pvm_raise_value(vm, m);
    pvm_value ev = pvm_error_value(vm);
    assert_true(pvm_equal(vm, ev, m));
    pvm_free(vm);
}

static pvm_value game_spawn(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int *spawned = ud;
    (*spawned)++;
    return pvm_int(vm, *spawned);
}

static pvm_value game_name(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    return pvm_cstring(vm, "pvm-game");
}

static void test_register_module(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    int spawned = 0;
    static const pvm_function_entry game[] = {
        { "spawn", game_spawn },
        { "name", game_name },
        { NULL, NULL },
    };
    assert_int_equal(pvm_register_module(vm, "game", game, &spawned), PVM_OK);
    assert_int_equal(run(vm, "game.spawn(); game.spawn(); let id = game.spawn(); let n = game.name();\n"
                             "let k = len(keys(game));"),
                     PVM_OK);
    assert_int_equal(spawned, 3);
    assert_int_equal(global_int(vm, "id"), 3);
    assert_int_equal(global_int(vm, "k"), 2);
    pvm_value n;
    assert_int_equal(pvm_get_global(vm, "n", &n), PVM_OK);
    assert_string_equal(str(vm, n), "pvm-game");
    /* Their names, as in traces, are "module.fn". */
    assert_int_equal(run(vm, "let s = str(game.spawn);"), PVM_OK);
    pvm_value s;
    assert_int_equal(pvm_get_global(vm, "s", &s), PVM_OK);
    assert_non_null(strstr(str(vm, s), "game.spawn"));
    static const pvm_function_entry broken[] = { { "f", NULL }, { NULL, NULL } };
    assert_int_equal(pvm_register_module(vm, "broken", broken, NULL), PVM_EARG);
    pvm_free(vm);
}

/* A native that calls back into PV: the callback's handle, result and
 * error come back to it; the handle it keeps must be retained. */
static pvm_value saved_callback;
static pvm_value saved_local;

static pvm_value native_apply(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_value r;
    if (argc < 1)
        return pvm_raise(vm, "apply: no function");
    if (pvm_call(vm, args[0], argc - 1, args + 1, &r) != PVM_OK)
        return pvm_rethrow(vm);
    return r;
}

static pvm_value native_keep(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    saved_local = args[0];
    saved_callback = pvm_retain(vm, args[0]);
    return PVM_NIL;
}

static pvm_value native_misuse(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    /* Loading or running a program from inside a native is refused. */
    if (pvm_run(vm) != PVM_ESTATE || pvm_load_source(vm, "", 0, NULL) != PVM_ESTATE ||
        pvm_load_file(vm, "x.pv") != PVM_ESTATE)
        return pvm_raise(vm, "misuse allowed");
    pvm_free(vm); /* ignored */
    return pvm_cstring(vm, "still here");
}

static void test_natives_calling_back(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_register(vm, "apply", native_apply, NULL);
    pvm_register(vm, "keep", native_keep, NULL);
    pvm_register(vm, "misuse", native_misuse, NULL);
    assert_int_equal(run(vm, "let r = apply(fn (a, b) { return a * b; }, 6, 7);\n"
                             "let caught = nil;\n"
                             "try { apply(fn () { throw \"inner\"; }); } catch e { caught = e; }\n"
                             "let deep = apply(apply, apply, fn (x) { return x + 1; }, 1);\n"
                             "keep(fn () { return \"called later\"; });\n"
                             "let m = misuse();"),
                     PVM_OK);
    assert_int_equal(global_int(vm, "r"), 42);
    assert_int_equal(global_int(vm, "deep"), 2);
    pvm_value caught, m, r;
    assert_int_equal(pvm_get_global(vm, "caught", &caught), PVM_OK);
    assert_string_equal(str(vm, caught), "inner");
    assert_int_equal(pvm_get_global(vm, "m", &m), PVM_OK);
    assert_string_equal(str(vm, m), "still here");
    /* The retained callback outlives the native; its plain argument did not. */
    assert_int_equal(pvm_typeof(vm, saved_local), PVM_TINVALID);
    assert_int_equal(pvm_call(vm, saved_callback, 0, NULL, &r), PVM_OK);
    assert_string_equal(str(vm, r), "called later");
    assert_int_equal(pvm_release(vm, saved_callback), PVM_OK);
    pvm_free(vm);
}

static void test_function_values(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value f = pvm_function(vm, "host_add", native_add, NULL);
    assert_int_equal(pvm_typeof(vm, f), PVM_TFUNCTION);
    pvm_value anon = pvm_function(vm, NULL, native_add, NULL);
    assert_int_equal(pvm_typeof(vm, anon), PVM_TFUNCTION);
    /* Handed to a script through a global of its own. */
    assert_int_equal(run(vm, "let callback = nil; fn use() { return callback(40, 2); }"), PVM_OK);
    assert_int_equal(pvm_set_global(vm, "callback", f), PVM_OK);
    pvm_value use, r;
    assert_int_equal(pvm_get_global(vm, "use", &use), PVM_OK);
    assert_int_equal(pvm_call(vm, use, 0, NULL, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 42);
    /* Called directly, in a container, by map. */
    pvm_value args[2] = { pvm_int(vm, 1), pvm_int(vm, 2) };
    assert_int_equal(pvm_call(vm, f, 2, args, &r), PVM_OK);
    assert_int_equal(get_int(vm, r), 3);
    pvm_free(vm);
}

/* Handles made inside a native are released when it returns. */
static size_t handles_made;

static pvm_value native_churn(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    for (int i = 0; i < 1000; i++) {
        pvm_value s = pvm_cstring(vm, "temporary");
        handles_made += s.id != 0;
    }
    return pvm_int(vm, 1);
}

static void test_native_locals_are_released(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_register(vm, "churn", native_churn, NULL);
    pvm_value before = pvm_int(vm, 0);
    assert_int_equal(run(vm, "for i in 0..100 { churn(); }"), PVM_OK);
    assert_int_equal(handles_made, 100000);
    /* Every slot was reused: the next handle has the lowest free index. */
    pvm_value after = pvm_int(vm, 0);
    assert_true((uint32_t)after.id <= (uint32_t)before.id + 1 + 1001);
    pvm_free(vm);
}

/* A map grown through the embedding API past every rebuild that frees the
 * arrays it replaced (vm/runtime/map.c), iterated with pvm_map_next while
 * more keys go in, and read back by a PV function it is handed to. */
static void api_map_put(pvm_vm *vm, pvm_value map, int64_t i)
{
    pvm_value k = pvm_int(vm, i * 7919), v = pvm_int(vm, i);
    assert_int_equal(pvm_map_set(vm, map, k, v), PVM_OK);
    pvm_release(vm, k);
    pvm_release(vm, v);
}

/* Iterates [map] with pvm_map_next, inserting key [*next] (up to [stop])
 * after each entry; checks each entry is one api_map_put made. The number
 * of entries seen. */
static size_t api_map_walk(pvm_vm *vm, pvm_value map, int64_t *next, int64_t stop)
{
    size_t it = 0, seen = 0;
    pvm_value k, v;
    while (pvm_map_next(vm, map, &it, &k, &v)) {
        int64_t ki, vi;
        assert_int_equal(pvm_get_int(vm, k, &ki), PVM_OK);
        assert_int_equal(pvm_get_int(vm, v, &vi), PVM_OK);
        assert_int_equal(ki, vi * 7919);
        pvm_release(vm, k);
        pvm_release(vm, v);
        seen++;
        if (*next < stop)
            api_map_put(vm, map, (*next)++);
    }
    return seen;
}

/* A map grown through the embedding API past every rebuild that frees the
 * arrays it replaced (vm/runtime/map.c), iterated with pvm_map_next while
 * more keys go in: without removals every position stays, so the walk sees
 * each key once, the new ones too; with tombstones a rebuild compacts and
 * what the walk sees is unspecified (LANGUAGE.md), but every entry it
 * returns is a real one and every key is there afterwards. */
static void test_map_growth_through_api(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value map = pvm_new_map(vm);
    for (int64_t i = 0; i < 20000; i++)
        api_map_put(vm, map, i);
    int64_t next = 20000;
    assert_int_equal(api_map_walk(vm, map, &next, 40000), 40000);
    for (int64_t i = 0; i < 40000; i += 2) {
        pvm_value k = pvm_int(vm, i * 7919);
        assert_int_equal(pvm_map_remove(vm, map, k), PVM_OK);
        pvm_release(vm, k);
    }
    assert_true(api_map_walk(vm, map, &next, 80000) >= 20000);
    assert_true(next > 40000);
    for (int64_t i = 0; i < next; i++) {
        pvm_value key = pvm_int(vm, i * 7919), out;
        int64_t got;
        bool removed = i < 40000 && i % 2 == 0;
        assert_int_equal(pvm_map_get(vm, map, key, &out), removed ? PVM_ENOTFOUND : PVM_OK);
        if (!removed) {
            assert_int_equal(pvm_get_int(vm, out, &got), PVM_OK);
            assert_int_equal(got, i);
            pvm_release(vm, out);
        }
        pvm_release(vm, key);
    }
    pvm_release(vm, map);
    pvm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free_and_version),
        cmocka_unit_test(test_map_growth_through_api),
        cmocka_unit_test(test_status_and_type_names),
        cmocka_unit_test(test_output_callback_captures_print),
        cmocka_unit_test(test_error_callback_gets_script_errors),
        cmocka_unit_test(test_args_become_os_args),
        cmocka_unit_test(test_sandbox_denies_io_process_and_ffi),
        cmocka_unit_test(test_module_path_option),
        cmocka_unit_test(test_compile_error_has_message_and_position),
        cmocka_unit_test(test_load_bytecode),
        cmocka_unit_test(test_verifier_rejection_file),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_run_states),
        cmocka_unit_test(test_runtime_error_message_trace_where),
        cmocka_unit_test(test_vm_usable_after_errors),
        cmocka_unit_test(test_scalars_round_trip),
        cmocka_unit_test(test_wrong_type_accessors),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_to_string_truthy_equal),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_arrays_of_each_kind),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_pointers),
        cmocka_unit_test(test_release_and_use_after_release),
        cmocka_unit_test(test_foreign_handles_rejected),
        cmocka_unit_test(test_retain),
        cmocka_unit_test(test_handles_keep_values_alive),
        cmocka_unit_test(test_globals),
        cmocka_unit_test(test_globals_bound_once_set_by_host),
        cmocka_unit_test(test_call_pv_functions),
        cmocka_unit_test(test_call_closure_keeps_state),
        cmocka_unit_test(test_register_and_call_natives),
        cmocka_unit_test(test_native_errors),
        cmocka_unit_test(test_register_module),
        cmocka_unit_test(test_natives_calling_back),
        cmocka_unit_test(test_function_values),
        cmocka_unit_test(test_native_locals_are_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
