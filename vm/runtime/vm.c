/* VM lifecycle: creating and freeing a VM, its stacks, and its built-in scope.
 *
 * The value stack is one fixed reservation (VM_MAX_STACK slots, mapped
 * lazily by the OS) so that it never moves: open upvalues, native argument
 * pointers and, later, JIT code can hold addresses into it. Only the part
 * that has been used is registered with the collector as a root. */
#include <gc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/runtime/vm.h"
#ifdef PVM_ASAN /* vm/config.h */
#include <sanitizer/lsan_interface.h>
#endif

/* Slots registered with the GC at a time: the whole registered part is
 * scanned at every collection, so it grows in small steps (16 KB). */
#define VM_ROOT_STEP 1024u

static pthread_once_t gc_once = PTHREAD_ONCE_INIT;

uint64_t pvmV_new_vm_fail_countdown;

/* bdwgc collects after allocating a share of what it must scan (the heap
 * in use and the roots): a program with little live data, making many
 * small objects (instances, closures), would collect every few tens of
 * kilobytes, paying a collection's fixed costs each time. At least this
 * many bytes are allocated between collections instead: creating objects
 * got 20 % cheaper in instructions (bench/objects.pva), for about 0.3 MB
 * of peak RSS. */
#define VM_GC_MIN_BYTES_ALLOCD (256u * 1024u)

/* With several VMs (in threads, as a rule) bdwgc's one allocation counter
 * adds up all of theirs, so each VM alone would see a collection every
 * 256 KB / N of its own allocation; and a collection then stops every
 * thread with signals and waits for each to acknowledge, tens of
 * microseconds more each time. So the minimum grows to this much per VM.
 * On 2 threads, throughput over one thread's (bench/threads.c, each
 * thread's wait for a core taken out, medians of 5 interleaved runs):
 *   per VM      alloc       mixed
 *   512 KB      1.48-1.52
 *   1 MB        1.77-1.85   2.06
 *   2 MB        2.08-2.10   2.24
 * (256 KB for all VMs, as with one: mixed 1.3). 8 threads (on 2 cores)
 * ran alike at 1 and 2 MB. The price is up to 2 MB of peak RSS per VM. */
#define VM_GC_MIN_BYTES_PER_VM (2048u * 1024u)

/* Changed only when a VM is made or freed, never on the allocation path. */
static unsigned vm_count;

unsigned pvmV_vm_count(void)
{
    return __atomic_load_n(&vm_count, __ATOMIC_RELAXED);
}

/* Sets the collector's minimum for [count] VMs. Two VMs made or freed at
 * once may leave the figure of the one before; the next change fixes it. */
static void vm_gc_tune(unsigned count)
{
    GC_set_min_bytes_allocd(count > 1 ? (size_t)count * VM_GC_MIN_BYTES_PER_VM : VM_GC_MIN_BYTES_ALLOCD);
}

static void vm_count_change(int delta)
{
    vm_gc_tune(__atomic_add_fetch(&vm_count, (unsigned)delta, __ATOMIC_RELAXED));
}

/* Two marker threads where there are two cores, unless the program runs
 * one VM (pvmV_gc_one_vm). For one VM a second marker buys nothing
 * measurable and costs instructions: a thread start per launch (16 000,
 * bench-callgrind's hello) and the markers' handshake at each collection
 * (hashmap +1.3 %, objects +1.0 %). But with VMs in several threads every
 * collection stops them all, and bdwgc, when it marks in parallel, also
 * builds free lists and sweeps outside its allocation lock: on 2 threads
 * the alloc and mixed workloads of bench/threads.c went from 1.8x and 1.9x
 * to 2.0x and 2.1x the throughput of one (each thread's wait for a core
 * taken out). bdwgc starts its markers when it is initialised, before
 * anyone can know whether threads will come, hence the choice by program.
 * The GC_MARKERS environment variable still overrides it. */
static int vm_gc_markers(void)
{
    if (&pvmV_gc_one_vm && pvmV_gc_one_vm)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus >= 2 ? 2 : 1;
}

/* By hand rather than with strstr: libc's is code a pvm run would
 * otherwise not touch, pages of RSS for a few bytes of names. */
static bool vm_starts_with(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix)
        s++, prefix++;
    return *prefix == '\0';
}

/* Which shared objects' writable data the collector scans for roots, on
 * every collection: not the C library's, the math library's or the
 * dynamic loader's (about 70 KB, most of what a collection of a small heap
 * marks), which hold no pointer into the collector's heap. The program
 * and every other library (a host's, one the ffi loads) are scanned. */
int pvmV_gc_scans_library(const char *name, void *start, size_t size)
{
    (void)start;
    (void)size;
    static const char *const skipped[] = { "/libc.so.", "/libm.so.", "/ld-linux" };
    for (const char *p = name; p && *p; p++) {
        for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
            if (vm_starts_with(p, skipped[i]))
                return 0;
        }
    }
    return 1;
}

static void vm_gc_init_once(void)
{
    GC_register_has_static_roots_callback(pvmV_gc_scans_library);
    GC_set_markers_count(vm_gc_markers());
    GC_set_min_bytes_allocd(VM_GC_MIN_BYTES_ALLOCD);
    pvmV_gc_hint_main_stack();
    GC_INIT();
    GC_allow_register_threads();
}

void pvmV_gc_init(void)
{
    pthread_once(&gc_once, vm_gc_init_once);
}

static size_t vm_stack_bytes(void)
{
    return (size_t)VM_MAX_STACK * sizeof(Value);
}

/* Extends the GC-visible part of the stack so that [vm->stack, end) is
 * scanned. Returns false when [end] lies beyond the reservation. */
bool pvmV_stack_ensure(VM *vm, Value *end)
{
    if (end <= vm->stack_rooted)
        return true;
    if (end > vm->stack + VM_MAX_STACK)
        return false;
    size_t want = (size_t)(end - vm->stack);
    size_t slots = (want + VM_ROOT_STEP - 1) / VM_ROOT_STEP * VM_ROOT_STEP;
    if (slots > VM_MAX_STACK)
        slots = VM_MAX_STACK;
    if (vm->stack_rooted > vm->stack)
        GC_remove_roots(vm->stack, vm->stack_rooted);
    vm->stack_rooted = vm->stack + slots;
    GC_add_roots(vm->stack, vm->stack_rooted);
    return true;
}

static void vm_init_single_chars(VM *vm)
{
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        vm->single_chars[c] = pvmV_string_new(vm, &ch, 1);
    }
}

/* type()'s answers, made once: strings are immutable and compare by
 * their text, so one shared string per name is indistinguishable from a
 * new one per call, and costs no allocation (nor a trace's call). */
static void vm_init_type_names(VM *vm)
{
    for (int t = 0; t < VT__COUNT; t++) {
        Value v = { .type = (uint64_t)t };
        vm->type_names[t] = pvmV_string_cstr(vm, pvmV_type_name(v));
    }
}

/* The VM's first heap objects, through the funnel like every later one.
 * Running out of memory raises, so this runs under its own boundary: the
 * VM has no caller that could catch yet. The kinds' messages come first,
 * so that running out later has its message. */
static bool vm_init_heap(VM *vm)
{
    VmJmp jmp; /* not zero-initialised: setjmp fills it */
    jmp.prev = NULL;
    vm->jmp = &jmp;
    volatile bool ok = false;
    if (setjmp(jmp.buf) == 0) {
        pvmV_make_error_texts(vm);
        vm->frames_cap = 64;
        vm->frames = pvmV_alloc(vm, vm->frames_cap * sizeof(VmFrame));
        vm->handlers_cap = 16;
        vm->handlers = pvmV_alloc(vm, vm->handlers_cap * sizeof(VmHandler));
        vm->builtins = pvmV_map_new(vm, 64);
        vm_init_single_chars(vm);
        vm->class_key = pvmV_string_cstr(vm, "__class");
        vm_init_type_names(vm);
        ok = true;
    }
    vm->jmp = NULL;
    return ok;
}

void pvmV_leak_root(const void *p, size_t size)
{
#ifdef PVM_ASAN
    __lsan_register_root_region(p, size);
#else
    (void)p, (void)size;
#endif
}

void pvmV_leak_unroot(const void *p, size_t size)
{
#ifdef PVM_ASAN
    __lsan_unregister_root_region(p, size);
#else
    (void)p, (void)size;
#endif
}

/* NULL when memory runs out; whatever was made is released. */
VM *pvmV_new(void)
{
    pvmV_gc_init();
    VM *vm = GC_MALLOC_UNCOLLECTABLE(sizeof(VM));
    if (!vm)
        return NULL;
    memset(vm, 0, sizeof *vm);
    void *stack = mmap(NULL, vm_stack_bytes(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) {
        GC_FREE(vm);
        return NULL;
    }
    pvmV_leak_root(vm, sizeof *vm); /* the JIT's state hangs off it */
    vm->stack = stack;
    vm->stack_rooted = vm->stack;
    vm->top = vm->stack;
    pvmV_stack_ensure(vm, vm->stack + 1);
    vm->out = stdout;
    vm->fuel = INT64_MAX;
    vm->error = VAL_NIL;
    vm->fail_alloc_countdown = pvmV_new_vm_fail_countdown;
    vm_count_change(1);
    if (!vm_init_heap(vm)) {
        pvmV_free(vm);
        return NULL;
    }
    return vm;
}

void pvmV_free(VM *vm)
{
    if (!vm)
        return;
    vm_count_change(-1);
    if (vm->stack_rooted > vm->stack)
        GC_remove_roots(vm->stack, vm->stack_rooted);
    munmap(vm->stack, vm_stack_bytes());
    pvmV_leak_unroot(vm, sizeof *vm);
    GC_FREE(vm);
}

PvNative *pvmV_native_new(VM *vm, const char *name, VmNativeFn fn, int min_args, int max_args, void *data)
{
    PvNative *n = pvmV_alloc(vm, sizeof(PvNative));
    n->name = pvmV_string_cstr(vm, name);
    n->fn = fn;
    n->data = data;
    n->min_args = min_args;
    n->max_args = max_args;
    return n;
}

void pvmV_define_builtin(VM *vm, const char *name, Value v)
{
    pvmV_map_set(vm, vm->builtins, vm_str_value(pvmV_string_cstr(vm, name)), v);
}

void pvmV_define_native(VM *vm, const char *name, VmNativeFn fn, int min_args, int max_args)
{
    PvNative *n = pvmV_native_new(vm, name, fn, min_args, max_args, NULL);
    pvmV_define_builtin(vm, name, vm_obj(VT_NATIVE, n));
}
