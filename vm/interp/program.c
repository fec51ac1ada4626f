/* Programs: from .pbc bytes or a built image to a program loaded in a VM.
 *
 * This is the only way code enters a VM: read (structure), verify (rules),
 * then load. A file that fails either check never reaches the interpreter. */
#include <stdio.h>
#include <string.h>

#include "vm/interp/interp.h"

typedef struct {
    const PbcImage *img;
} VmLoadArgs;

static void vm_load_body(VM *vm, void *ud)
{
    VmLoadArgs *a = ud;
    vm->program = pvmV_load_image(vm, a->img);
}

bool pvmV_load_verified(VM *vm, const PbcImage *img, char *err, size_t errlen)
{
    if (!pvmB_verify(img, err, errlen))
        return false;
    VmLoadArgs args = { img };
    if (!pvmV_protect(vm, vm_load_body, &args)) {
        snprintf(err, errlen, "cannot load program: out of memory");
        return false;
    }
    return true;
}

bool pvmV_load_bytes(VM *vm, const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
    PbcImage img;
    if (!pvmB_read(bytes, len, &img, err, errlen))
        return false;
    bool ok = pvmV_load_verified(vm, &img, err, errlen);
    pvmB_free(&img);
    return ok;
}
