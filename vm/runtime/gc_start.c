/* Where the collector finds the main thread's stack, told before it
 * starts (pvmV_gc_init in vm/runtime/vm.c).
 *
 * Left to itself, bdwgc asks glibc's pthread_getattr_np, which reads and
 * sscanf()s /proc/self/maps: that pulls about 190 KB of libc (scanf,
 * strtod, printf's float code, stdio) into every pvm process's RSS, for
 * one address, when a 16-line script's whole peak is 2.6 MB. glibc
 * records the same cold end of the main stack in __libc_stack_end, and
 * bdwgc itself reads it where it has no thread support. */
#include <gc.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vm/runtime/vm.h"

#if defined(__GLIBC__) && defined(__linux__)
extern void *__libc_stack_end;

/* Only on the process's main thread: a library loaded and initialised on
 * another thread must let bdwgc find that thread's stack itself. */
void pvmV_gc_hint_main_stack(void)
{
    if (__libc_stack_end == NULL || getpid() != (pid_t)syscall(SYS_gettid))
        return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t step = page > 0 ? (uintptr_t)page : 4096u;
    /* The stack grows down: its cold end is the end of the page holding
     * the address, which is still inside the stack's mapping. */
    struct GC_stack_base sb = {
        .mem_base = (void *)(((uintptr_t)__libc_stack_end + step - 1) & ~(step - 1)),
    };
    GC_set_stackbottom(NULL, &sb);
}
#else
void pvmV_gc_hint_main_stack(void)
{
}
#endif
