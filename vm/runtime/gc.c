/* The allocation funnel: every heap allocation of a VM goes through here.
 *
 * Objects live in the Boehm collector's heap. Having one entry point lets the
 * VM count bytes (for an embedder's memory limit), turn impossible sizes
 * into a PV "out of memory" error instead of a crash, and lets tests make
 * any chosen allocation fail (vm->fail_alloc_countdown). */
#include <gc.h>
#include <gc/gc_mark.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* What the collector's heap may hold in RAM: every VM's data in the
 * process, its garbage, and the free blocks still mapped. Under the
 * limit it settles the check cheaply, since it bounds this VM's data and
 * the process's RSS alike. */
static size_t vm_heap_bytes(void)
{
    return GC_get_heap_size();
}

/* A request of at least this share of the limit may not fit in the free
 * blocks the heap has, which bdwgc then leaves in RAM while it maps new
 * ones for the request. */
#define VM_LARGE_SHARE 16

/* Frees what is garbage and gives the free blocks back to the OS, so that
 * a large request about to map new memory does not leave the old free
 * blocks resident beside it (doubling arrays, maps and buffers: the
 * smaller blocks they left could never hold the next one). bdwgc unmaps a
 * block only two collections after freeing it, hence the two more: three
 * full collections, only for a large request near the limit. */
static void vm_collect_for(const VM *vm, size_t size)
{
    GC_gcollect_and_unmap();
    if (vm_heap_bytes() + size <= vm->memory_limit || size < vm->memory_limit / VM_LARGE_SHARE)
        return;
    GC_gcollect_and_unmap();
    GC_gcollect_and_unmap();
}

/* Bytes to allocate before the next check, when [used] of the limit is
 * taken: half the room left, so that the figure cannot pass the limit
 * between two checks by more than the floor (1/64 of the limit), and no
 * more than a quarter of the limit, so that a check (and the collection
 * it may force) stays rare while there is room. */
static size_t vm_check_interval(const VM *vm, size_t used)
{
    size_t limit = vm->memory_limit;
    size_t room = used < limit ? (limit - used) / 2 : 0;
    if (room < limit / 64)
        return limit / 64;
    if (room > limit / 4)
        return limit / 4;
    return room;
}

/* Enforces vm->memory_limit before [size] more bytes are allocated. The
 * check runs when the bytes allocated since the last one reach its
 * interval, so its cost (and that of a collection) is amortised. */
static void vm_check_memory_limit(VM *vm, size_t size)
{
    if (size > vm->memory_limit)
        pvmV_raise_kind(vm, VM_ERR_MEMORY_LIMIT);
    if (size < vm->bytes_until_check) {
        vm->bytes_until_check -= size;
        return;
    }
    size_t used = vm_heap_bytes() + size;
    /* With other VMs in the process the heap is theirs too: collecting
     * would stop every thread to learn nothing about this VM, whose own
     * data the walk counts, garbage or not. */
    if (used > vm->memory_limit && pvmV_vm_count() == 1) {
        vm_collect_for(vm, size);
        used = vm_heap_bytes() + size;
    }
    /* The process's heap is over this VM's limit; its own data may not be
     * (other VMs in the process hold theirs, and some of the heap is
     * fragments). */
    if (used > vm->memory_limit)
        used = pvmV_reachable_bytes(vm) + size;
    if (used > vm->memory_limit)
        pvmV_raise_kind(vm, VM_ERR_MEMORY_LIMIT);
    vm->bytes_until_check = vm_check_interval(vm, used);
}

static void vm_account(VM *vm, size_t size)
{
    if (size > VM_MAX_ALLOC)
        pvmV_out_of_memory(vm);
    if (pvmV_alloc_checked(vm)) {
        if (vm_injected_failure(vm))
            pvmV_out_of_memory(vm);
        if (vm->memory_limit)
            vm_check_memory_limit(vm, size);
    }
    vm->bytes_allocated += size;
}

/* Blocks of at least this size have their pages returned to the OS when
 * they are freed (pvmV_free_block): a free block in bdwgc's heap stays
 * resident until the collector unmaps it, two collections later at best,
 * so the smaller generations of a growing map would sum to one more large
 * block. A new scanned block this large is cleared the same way. */
#define VM_FREE_RELEASE_MIN ((size_t)256 * 1024)

/* Gives the whole pages inside [p, p + size) back to the OS: they read as
 * zeros when touched again. bdwgc keeps a block's bookkeeping in its
 * headers, never in the block (its own unmapping does the same to free
 * blocks). False when no page was released; else [from, to) is what was. */
static bool vm_release_whole_pages(void *p, size_t size, uintptr_t *from, uintptr_t *to)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    *from = ((uintptr_t)p + page - 1) & ~(page - 1);
    *to = ((uintptr_t)p + size) & ~(page - 1);
    return *to > *from && madvise((void *)*from, *to - *from, MADV_DONTNEED) == 0;
}

/* A kind of scanned object bdwgc does not clear (see vm_lazy_block):
 * scanned conservatively over its whole length, like GC_MALLOC's. */
static unsigned vm_lazy_kind;
static pthread_once_t vm_lazy_once = PTHREAD_ONCE_INIT;

static void vm_lazy_kind_init(void)
{
    vm_lazy_kind = GC_new_kind(GC_new_free_list(), GC_DS_LENGTH, 1, 0);
}

/* A large scanned block whose pages read as zeros without having been
 * written: bdwgc clears a new GC_MALLOC block with memset, which makes
 * every page of it resident at once, so a map doubling to 48 MB of
 * entries would hold all of them beside the old ones while it copies
 * only half. Releasing the pages (madvise, as a freed block's) zeroes
 * them lazily: the ones a caller never writes cost nothing. */
static void *vm_lazy_block(size_t size)
{
    pthread_once(&vm_lazy_once, vm_lazy_kind_init);
    void *p = GC_generic_malloc(size, (int)vm_lazy_kind);
    if (!p)
        return NULL;
    uintptr_t from, to;
    if (!vm_release_whole_pages(p, size, &from, &to)) {
        memset(p, 0, size);
        return p;
    }
    memset(p, 0, from - (uintptr_t)p);
    memset((void *)to, 0, (uintptr_t)p + size - to);
    return p;
}

void *pvmV_alloc_charged(size_t size)
{
    if (size >= VM_FREE_RELEASE_MIN)
        return vm_lazy_block(size);
    return GC_MALLOC(size ? size : 1);
}

void *pvmV_alloc_atomic_charged(size_t size)
{
    void *p = GC_MALLOC_ATOMIC(size ? size : 1);
    /* Atomic blocks are not cleared by bdwgc; clearing keeps results
     * deterministic for callers that rely on a zeroed tail. */
    if (p)
        memset(p, 0, size);
    return p;
}

void *pvmV_alloc(VM *vm, size_t size)
{
    vm_account(vm, size);
    return vm_checked(vm, GC_MALLOC(size ? size : 1));
}

void *pvmV_alloc_atomic(VM *vm, size_t size)
{
    vm_account(vm, size);
    return vm_checked(vm, pvmV_alloc_atomic_charged(size));
}

void pvmV_charge_alloc(VM *vm, size_t size)
{
    vm_account(vm, size);
}

void pvmV_release_pages(void *p)
{
    size_t size = GC_size(p);
    if (size < VM_FREE_RELEASE_MIN)
        return;
    uintptr_t from, to; /* read as zeros later, which is what a new block's are */
    vm_release_whole_pages(p, size, &from, &to);
}

void pvmV_free_block(void *p)
{
    /* The pages go while the block is still this VM's: once freed,
     * another thread may take it. */
    pvmV_release_pages(p);
    GC_FREE(p);
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
    if (size > VM_MAX_ALLOC || (pvmV_alloc_checked(vm) && vm_injected_failure(vm)))
        return NULL;
    vm->bytes_allocated += size;
    return GC_MALLOC_ATOMIC(size ? size : 1);
}

bool pvmV_alloc_quiet(const VM *vm, size_t size)
{
    if (size > VM_MAX_ALLOC)
        return false;
    if (!pvmV_alloc_checked(vm))
        return true;
    /* each allocation of the batch takes the check's quick path,
     * size < bytes_until_check, when their sum is below it */
    return vm->fail_alloc_countdown == 0 && (!vm->memory_limit || size < vm->bytes_until_check);
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
