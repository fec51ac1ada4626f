/* The allocation funnel: every heap allocation of a VM goes through here.
 *
 * Objects live in the Boehm collector's heap. Having one entry point lets the
 * VM count bytes (for an embedder's memory limit), turn impossible sizes
 * into a PV "out of memory" error instead of a crash, and lets tests make
 * any chosen allocation fail (vm->fail_alloc_countdown). */
#include <gc.h>
#include <stdint.h>
#include <string.h>

#include "vm/runtime/vm.h"

/* Requests above this are refused outright: no PV value needs more than a
 * 2^40-byte (1 TiB) block, and refusing early avoids asking bdwgc for sizes
 * that overflow its own arithmetic. */

static void *vm_checked(VM *vm, void *p)
{
    if (!p)
        pvmV_out_of_memory(vm);
    return p;
}

/* True when fault injection says this allocation fails. Once the
 * countdown reaches the chosen allocation it stays there, so every later
 * one fails too. */
static bool vm_injected_failure(VM *vm)
{
    if (vm->fail_alloc_countdown == 0)
        return false;
    if (vm->fail_alloc_countdown > 1) {
        vm->fail_alloc_countdown--;
        return false;
    }
    return true;
}

/* Either rare case, memory limit or fault injection, in one test: the
 * common allocation pays one branch, as it did for the limit alone. */
static bool vm_checks_needed(const VM *vm)
{
    return __builtin_expect((vm->memory_limit | vm->fail_alloc_countdown) != 0, 0);
}

/* The live heap as bdwgc sees it: every VM's data in the process, so at
 * least this VM's own (pvmV_reachable_bytes); under the limit it settles the
 * check cheaply. */
static size_t vm_live_bytes(void)
{
    return GC_get_heap_size() - GC_get_free_bytes();
}

/* Enforces vm->memory_limit. Checked once per quarter of the limit
 * allocated, so the cost of a full collection is amortised. */
static void vm_check_memory_limit(VM *vm, size_t size)
{
    if (size > vm->memory_limit)
        pvmV_raise_kind(vm, VM_ERR_MEMORY_LIMIT);
    vm->bytes_since_check += size;
    if (vm->bytes_since_check < vm->memory_limit / 4)
        return;
    vm->bytes_since_check = 0;
    if (vm_live_bytes() + size <= vm->memory_limit)
        return;
    GC_gcollect();
    if (vm_live_bytes() + size <= vm->memory_limit)
        return;
    /* The process's heap is over this VM's limit; its own data may not be
     * (other VMs in the process hold theirs). */
    if (pvmV_reachable_bytes(vm) + size > vm->memory_limit)
        pvmV_raise_kind(vm, VM_ERR_MEMORY_LIMIT);
}

static void vm_account(VM *vm, size_t size)
{
    if (size > VM_MAX_ALLOC)
        pvmV_out_of_memory(vm);
    if (vm_checks_needed(vm)) {
        if (vm_injected_failure(vm))
            pvmV_out_of_memory(vm);
        if (vm->memory_limit)
            vm_check_memory_limit(vm, size);
    }
    vm->bytes_allocated += size;
}

void *pvmV_alloc(VM *vm, size_t size)
{
    vm_account(vm, size);
    return vm_checked(vm, GC_MALLOC(size ? size : 1));
}

void *pvmV_alloc_atomic(VM *vm, size_t size)
{
    vm_account(vm, size);
    void *p = vm_checked(vm, GC_MALLOC_ATOMIC(size ? size : 1));
    /* Atomic blocks are not cleared by bdwgc; clearing keeps results
     * deterministic for callers that rely on a zeroed tail. */
    memset(p, 0, size);
    return p;
}

void *pvmV_alloc_atomic_uncleared(VM *vm, size_t size)
{
    vm_account(vm, size);
    return vm_checked(vm, GC_MALLOC_ATOMIC(size ? size : 1));
}

void *pvmV_realloc(VM *vm, void *p, size_t size)
{
    vm_account(vm, size);
    return vm_checked(vm, GC_REALLOC(p, size ? size : 1));
}

void *pvmV_alloc_atomic_noraise(VM *vm, size_t size)
{
    if (size > VM_MAX_ALLOC || (vm_checks_needed(vm) && vm_injected_failure(vm)))
        return NULL;
    vm->bytes_allocated += size;
    return GC_MALLOC_ATOMIC(size ? size : 1);
}

size_t pvmV_checked_size(VM *vm, size_t count, size_t elem, size_t extra)
{
    if (elem && count > (SIZE_MAX - extra) / elem)
        pvmV_out_of_memory(vm);
    size_t size = count * elem + extra;
    if (size > VM_MAX_ALLOC)
        pvmV_out_of_memory(vm);
    return size;
}
