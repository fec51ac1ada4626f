/* minimal.c: the smallest useful pvm host.
 *
 * It exposes one C function to PV (add), runs a script that defines a PV
 * function (greet) and calls it from C, then reports any error with its
 * PV stack trace. Build after `make install PREFIX=...`:
 *
 *   cc minimal.c $(pkg-config --cflags --libs pvm) -o minimal */
#include <pvm.h>
#include <stdio.h>
#include <string.h>

/* add(a, b): a C function PV calls like any other. */
static pvm_value add(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    double a, b;
    if (argc != 2 || pvm_get_float(vm, args[0], &a) || pvm_get_float(vm, args[1], &b))
        return pvm_raise(vm, "add expects two numbers");
    return pvm_float(vm, a + b);
}

static const char script[] =
    "print(\"1 + 2 =\", add(1, 2));\n"
    "fn greet(name) {\n"
    "    return \"hello, \" + name;\n"
    "}\n";

static int fail(pvm_vm *vm)
{
    fprintf(stderr, "error: %s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
    pvm_free(vm);
    return 1;
}

int main(void)
{
    pvm_vm *vm = pvm_new(NULL);
    if (!vm)
        return 1;
    pvm_register(vm, "add", add, NULL);
    if (pvm_load_source(vm, script, strlen(script), "script.pv") || pvm_run(vm))
        return fail(vm);

    pvm_value greet, name, result;
    if (pvm_get_global(vm, "greet", &greet))
        return fail(vm);
    name = pvm_cstring(vm, "C");
    if (pvm_call(vm, greet, 1, &name, &result))
        return fail(vm);
    const char *text;
    if (pvm_get_string(vm, result, &text, NULL) == PVM_OK)
        printf("%s\n", text);
    pvm_release(vm, result);
    pvm_release(vm, name);
    pvm_release(vm, greet);
    pvm_free(vm);
    return 0;
}
