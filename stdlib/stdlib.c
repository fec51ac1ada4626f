/* stdlib_open: registers the built-in functions and the standard modules
 * in a VM's built-in scope (the scope outside every module). */
#include "stdlib/stdlib.h"
#include "stdlib/ffi.h"
#include "stdlib/lib.h"

void stdlib_open(VM *vm, int argc, char **argv)
{
    lib_open_builtins(vm);
    lib_open_math(vm);
    lib_open_string(vm);
    lib_open_array(vm);
    lib_open_io(vm);
    lib_open_os(vm, argc, argv);
    stdlib_open_ffi(vm);
}
