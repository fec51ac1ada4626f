/* pvmL_open: registers the built-in functions and the standard modules
 * in a VM's built-in scope (the scope outside every module). */
#include "stdlib/stdlib.h"
#include "stdlib/ffi.h"
#include "stdlib/lib.h"

void pvmL_open(VM *vm, int argc, char **argv)
{
    pvmL_open_builtins(vm);
    pvmL_open_math(vm);
    pvmL_open_string(vm);
    pvmL_open_array(vm);
    pvmL_open_io(vm);
    pvmL_open_os(vm, argc, argv);
    pvmL_open_ffi(vm);
}
