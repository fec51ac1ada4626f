/* The VM: state of one independent virtual machine, and the internal API the
 * rest of pvm (stdlib, embedding, CLI) uses to drive it.
 *
 * Execution state lives in VM-managed arrays, not on the C stack:
 *   stack    Values; each frame's locals start at its base, its operand
 *            stack follows its locals (docs/vm.md has the picture)
 *   frames   one VmFrame per active PV call
 *   handlers one VmHandler per active try block
 * so deep recursion is a clean "stack overflow" and a JIT can rebuild frames. */
#ifndef PVM_VM_H
#define PVM_VM_H

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

#include "vm/runtime/object.h"
#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"

/* A decoded instruction: the interpreter's internal form. Jump operands are
 * instruction indices (not byte offsets) after loading. */
typedef struct {
    uint16_t op;   /* what the interpreter dispatches on: orig or a superinstruction */
    uint16_t orig; /* the stack instruction from the .pbc (Opcode) */
    int32_t arg;
    uint32_t cache; /* inline cache: for getname/getfield/setfield, the map
                       entry position where the key was last found */
} VmInsn;

typedef struct VmModule VmModule;

/* A function prototype after loading and verification. */
typedef struct VmProto {
    PvString *name;          /* NULL when anonymous */
    VmModule *module;
    uint32_t nparams, nlocals, maxstack, nupvals;
    uint32_t frame_slots;    /* nlocals + maxstack + 1: the stack a call needs */
    bool variadic;
    PbcUpval *upvals;        /* capture descriptors */
    VmInsn *code;
    uint32_t ncode;
    uint32_t *offsets;       /* instruction index -> byte offset in the .pbc code */
    PbcLine *lines;
    uint32_t nlines;
    const Value *consts;     /* the program's constant pool */
    struct VmProgram *program;
    uint32_t jit_entry;      /* the JIT's state of calls of this function (jit.c), as
                              * a back edge's cache word keeps its loop's; UINT32_MAX
                              * as loaded */
} VmProto;

struct VmModule {
    PvString *name;
    PvString *file;
    VmProto *main;
    uint32_t nglobals;
    Value *globals;
    PvString **global_names;
    uint8_t *global_once;    /* per global: 1 if bound once for good (load.c), or NULL */
    int state;               /* VM_MODULE_NEW / RUNNING / DONE */
    Value exports;           /* map, once DONE */
};

enum { VM_MODULE_NEW, VM_MODULE_RUNNING, VM_MODULE_DONE };

typedef struct VmProgram {
    Value *consts;
    uint32_t nconsts;
    VmProto **protos;
    uint32_t nprotos;
    VmModule **modules;
    uint32_t nmodules;
} VmProgram;

typedef struct {
    PvClosure *closure;
    const VmInsn *ip;   /* next instruction to run (saved on calls and errors) */
    Value *base;        /* local 0; the callee value sits at base[-1] */
} VmFrame;

typedef struct {
    size_t frame;       /* index of the frame that ran TRY */
    Value *top;         /* stack top to restore */
    const VmInsn *catch_ip;
} VmHandler;

/* A C-level protected boundary (pvmV_execute, pvmV_protect): errors longjmp to
 * the innermost one. */
typedef struct VmJmp {
    jmp_buf buf;
    struct VmJmp *prev;
} VmJmp;

/* State of the developer tools (--trace, --no-fuse) and of load-time
 * fusion, kept apart from the execution state in struct VM. */
typedef struct {
    bool trace;             /* --trace: print every instruction */
    bool no_fuse;           /* --no-fuse: load code without superinstructions */
    FILE *trace_out;        /* where --trace writes; NULL: stderr */
    const char *trace_only; /* --trace=NAME: only functions named NAME; NULL: all */
    char trace_pending[256];/* the traced instruction awaiting its stack */
    struct FuseIndex *fuse_index; /* fuse.c's pattern index, built on first use */
} VmTools;


/* What raised the error in vm->error. The embedding API maps each kind to
 * its status; the fatal kinds (from VM_ERR_MEMORY_LIMIT on) are not
 * caught by PV try blocks. */
typedef enum {
    VM_ERR_NONE,
    VM_ERR_SCRIPT,         /* throw, a runtime error, a native's raise */
    VM_ERR_OUT_OF_MEMORY,  /* an allocation failed (catchable, like Lua's) */
    VM_ERR_MEMORY_LIMIT,   /* the embedder's memory limit */
    VM_ERR_BUDGET,         /* the instruction budget */
    VM_ERR_INTERRUPT,      /* pvm_interrupt */
    VM_ERR_COUNT
} VmErrorKind;

static inline bool vm_error_is_fatal(VmErrorKind k) { return k >= VM_ERR_MEMORY_LIMIT; }

struct VM {
    Value *stack;           /* VM_MAX_STACK slots reserved once; never moves */
    Value *stack_rooted;    /* end of the part registered as a GC root */
    Value *top;             /* first free slot */
    VmFrame *frames;
    size_t nframes, frames_cap;
    VmHandler *handlers;
    size_t nhandlers, handlers_cap;
    PvUpval *open_upvals;
    VmJmp *jmp;
    size_t exec_stop;       /* the frame count at which the running pvmV_execute
                             * returns: RET of frame exec_stop goes back to C */
    size_t pcall_handlers;  /* handlers below this belong to outer pcalls */
    Value error;            /* the value being thrown */
    VmErrorKind error_kind; /* what raised it: told apart by this, never by the text */
    char *error_trace;      /* GC memory: "  at NAME (FILE:LINE)\n..." of the last throw */
    PvString *error_file;   /* the innermost frame of that trace, or NULL */
    uint32_t error_line;    /* its line, 0 when unknown */
    bool raise_line_set;    /* pvmV_throw_at: the throw's innermost line is raise_line */
    uint32_t raise_line;
    PvString *kind_text[VM_ERR_COUNT]; /* each kind's message, made in advance */
    PvMap *builtins;        /* the scope outside every module */
    VmProgram *program;
    PvString *single_chars[256]; /* one-byte strings, shared */
    PvString *class_key;         /* "__class", the key getmethod follows */
    PvString *type_names[VT__COUNT]; /* what type() returns, shared */
    FILE *out;              /* where print writes */
    unsigned ccalls;        /* nested C-level calls into the interpreter */
    size_t bytes_allocated;
    bool ffi_disabled;      /* --no-ffi / embedder: every ffi function throws */
    /* C calls a trace is making itself (object.h, VmCCall): while one is
     * in progress the JIT neither runs nor records traces, so the PV code
     * of a callback stays in the interpreter; and the call that ended
     * with an error to raise once the trace has left, or NULL. */
    unsigned ccalls_in_trace;
    const struct VmCCall *ccall_failed;
    uint64_t globals_rebound; /* host writes of a global bound once (pvm_set_global):
                               * the JIT drops its traces when this moves */
    /* Limits (docs/vm.md, "Limits"). fuel counts down instructions, charged
     * at backward jumps and calls; below zero the budget is exhausted.
     * interrupt may be set from another thread or a signal handler. Errors
     * raised for them are fatal: PV try blocks do not catch them. */
    int64_t fuel;
    volatile sig_atomic_t interrupt;
    /* A copy of interrupt where machine code polls it cheaply (the word
     * before the JIT's value area), or NULL: set and cleared together
     * through pvmV_interrupt_set / _clear. */
    volatile sig_atomic_t *interrupt_mirror;
    size_t memory_limit;    /* 0: none */
    size_t bytes_until_check; /* allocations before the memory limit is checked again (gc.c) */
    /* Fault injection for tests, 0 (off) unless a test sets it: N makes the
     * Nth allocation from now fail as if the collector returned NULL, and
     * every one after it until the test clears it. */
    uint64_t fail_alloc_countdown;
    VmTools tools;
    /* The JIT's state (jit/jit.c) lives behind this pointer, so that it
     * never mixes with the interpreter's; NULL while the JIT is off. */
    struct PvmJitState *jit;
    /* A trace ended before a call of a native it does not record: when
     * a native's call returns to stitch_ip, the interpreter asks the JIT
     * to go on in machine code (pvmJ_stitch), which checks the rest. */
    const VmInsn *stitch_ip;
};

/* For tests only: each new VM starts with this fail_alloc_countdown, so
 * that the allocations of creating a VM can be failed too [0: off]. */
extern uint64_t pvmV_new_vm_fail_countdown;

/* Lifecycle. pvmV_gc_init sets up the collector once per process (pvmV_new
 * calls it; embedders' code may call it earlier). */
void pvmV_gc_init(void);
/* The collector's filter of shared objects whose data it scans for roots
 * (nonzero: scanned); skips the C library's, libm's and the loader's. */
int pvmV_gc_scans_library(const char *name, void *start, size_t size);
/* Tells the collector the main thread's stack before it starts
 * (vm/runtime/gc_start.c). */
void pvmV_gc_hint_main_stack(void);
VM *pvmV_new(void);
void pvmV_free(VM *vm);
/* Defined (true) by a program that runs one VM per process, the pvm
 * command (vm/cli/pvm_main.c): the collector then keeps one marker thread,
 * which is cheaper for a single VM (vm.c). Left undefined in libpvm.a, so
 * embedders, who may run VMs in threads, get parallel marking. */
extern const bool pvmV_gc_one_vm __attribute__((weak));
/* How many VMs the process has: the memory limit's walk counts what
 * natives hold on the C stack only when this VM is the one (reach.c). */
unsigned pvmV_vm_count(void);
/* LeakSanitizer scans neither the collector's heap nor its roots, so a
 * malloc'd block that only a VM (or a pvm_vm) points to looked leaked
 * whenever the process exited without freeing it (a script's os.exit),
 * unless a stale copy of the pointer happened to sit on the C stack.
 * Under AddressSanitizer these register [p] as a root region for it (and
 * end that); elsewhere they do nothing. */
void pvmV_leak_root(const void *p, size_t size);
void pvmV_leak_unroot(const void *p, size_t size);

/* Makes [vm->stack, end) usable and visible to the GC; false past the
 * reservation (the caller reports "stack overflow"). */
bool pvmV_stack_ensure(VM *vm, Value *end);

/* Source line of instruction [ip] of [proto] (0 when the table is empty). */
uint32_t pvmV_proto_line(const VmProto *proto, const VmInsn *ip);
/* A function's name for traces: its stored name, else "<main>" or "<anon>". */
const char *pvmV_proto_name(const VmProto *proto);

/* Allocation funnel (gc.c): every heap allocation goes through here.
 * Raises "out of memory" (or the memory limit) rather than returning NULL. */
void *pvmV_alloc(VM *vm, size_t size);        /* may hold pointers */
void *pvmV_alloc_atomic(VM *vm, size_t size); /* pointer-free */
/* Pointer-free and not cleared, for a caller that writes every byte (a
 * string's): clearing a gigabyte would be an uninterruptible pass. */
void *pvmV_alloc_atomic_uncleared(VM *vm, size_t size);
void *pvmV_realloc(VM *vm, void *p, size_t size);
/* Blocks charged before they are allocated, for a caller that must keep
 * its data consistent when an allocation fails (a map's rebuild, which
 * lets go of its old index first): pvmV_charge_alloc counts [size] and may
 * raise (the memory limit, fault injection); pvmV_alloc_charged (scanned)
 * and pvmV_alloc_atomic_charged (pointer-free) then allocate it cleared,
 * NULL when the collector has no memory. */
void pvmV_charge_alloc(VM *vm, size_t size);
void *pvmV_alloc_charged(size_t size);
void *pvmV_alloc_atomic_charged(size_t size);
/* Returns the whole pages inside a large block (256 KB or more) to the
 * OS; they read as zeros afterwards. The block stays allocated. */
void pvmV_release_pages(void *p);
/* Gives a block back to the collector at once (GC_FREE), its pages too
 * when it is large. Only for a block nothing else can point into: a map's
 * old entries or index after a rebuild copied them (map.c). */
void pvmV_free_block(void *p);
size_t pvmV_checked_size(VM *vm, size_t count, size_t elem, size_t extra); /* count*elem+extra or "out of memory" */
/* A pointer-free block for code that must not raise (building an error's
 * trace): counted and subject to fault injection, NULL on failure, and
 * exempt from the memory limit, whose own error needs it. */
void *pvmV_alloc_atomic_noraise(VM *vm, size_t size);
/* Whether allocations of [size] bytes in all, made now, would only be
 * counted: no fault injection is armed and the memory limit's next check
 * is further away, so none of them can raise but for the collector
 * itself running out. JIT code allocates only then (jit/alloc.c); else
 * the interpreter makes the allocation, and its checks. */
bool pvmV_alloc_quiet(const VM *vm, size_t size);
/* Whether allocations meet any check at all now: the memory limit or an
 * injected failure is armed. Either rare case in one test: the common
 * allocation pays one branch, as it did for the limit alone. */
static inline bool pvmV_alloc_checked(const VM *vm)
{
    return __builtin_expect((vm->memory_limit | vm->fail_alloc_countdown) != 0, 0);
}

/* Errors: throw a value, or a formatted message string. Never return. */
PVM_NORETURN void pvmV_throw(VM *vm, Value v);
/* Throws [v] as from source line [line] of the running function (the
 * raise instruction): the trace and error_line show that line. */
PVM_NORETURN void pvmV_throw_at(VM *vm, Value v, uint32_t line);
PVM_NORETURN PVM_PRINTF(2, 3) void pvmV_error(VM *vm, const char *fmt, ...);

/* The collector memory this VM's roots reach, each block once (reach.c):
 * what the memory limit holds a VM to when the process has others. With
 * one VM, inside a run, the C stack is scanned too, counting only blocks
 * the last collection marked (the limit check collects first). */
size_t pvmV_reachable_bytes(VM *vm);

/* Asks the running script to stop: safe from a signal handler or another
 * thread (it only stores to the flag and its copy). */
static inline void pvmV_interrupt_set(VM *vm)
{
    vm->interrupt = 1;
    volatile sig_atomic_t *mirror = __atomic_load_n(&vm->interrupt_mirror, __ATOMIC_ACQUIRE);
    if (mirror)
        *mirror = 1;
}

/* Forgets a pending interrupt (on the VM's own thread). */
static inline void pvmV_interrupt_clear(VM *vm)
{
    vm->interrupt = 0;
    volatile sig_atomic_t *mirror = __atomic_load_n(&vm->interrupt_mirror, __ATOMIC_ACQUIRE);
    if (mirror)
        *mirror = 0;
}

/* Called when fuel runs out or an interrupt is pending: raises the fatal
 * error ("interrupted" first, clearing the flag; else "instruction budget
 * exceeded"), and returns if neither holds. An unlimited VM's fuel starts
 * at INT64_MAX, which no run exhausts, so it is never refilled. */
void pvmV_limit_reached(VM *vm);
/* Charging the instruction budget outside the dispatch loop: at every
 * entry into PV code from C (pvmV_call: natives' callbacks, the API, module
 * main, ffi callbacks), and by natives for the work they do, so that
 * neither straight-line callbacks nor one long native escape the budget or
 * the interrupt. A native's exchange rate: one unit per VM_BYTES_PER_UNIT
 * bytes it copies or scans, or per VM_ITEMS_PER_UNIT elements. Charge
 * before the work when its size is known, and in long loops charge as
 * they go (pvmV_charge(vm, 0) only polls the interrupt). */
#define VM_BYTES_PER_UNIT 64u
#define VM_ITEMS_PER_UNIT 8u

/* Takes [units] of fuel; false when the budget is exhausted or an
 * interrupt is pending (the caller cleans up, then pvmV_limit_reached). */
static inline bool pvmV_charge_ok(VM *vm, uint64_t units)
{
    /* Saturates at -1: a huge charge must not wrap the counter. */
    if (vm->fuel < 0 || units > (uint64_t)vm->fuel)
        vm->fuel = -1;
    else
        vm->fuel -= (int64_t)units;
    return vm->fuel >= 0 && !vm->interrupt;
}

/* Takes [units] of fuel, raising the budget or interrupt error. */
static inline void pvmV_charge(VM *vm, uint64_t units)
{
    if (!pvmV_charge_ok(vm, units))
        pvmV_limit_reached(vm);
}

static inline void pvmV_charge_bytes(VM *vm, size_t bytes)
{
    pvmV_charge(vm, bytes / VM_BYTES_PER_UNIT);
}

static inline void pvmV_charge_items(VM *vm, size_t items)
{
    pvmV_charge(vm, items / VM_ITEMS_PER_UNIT);
}


/* Raises the error of [kind] (not VM_ERR_SCRIPT) with its fixed message,
 * made when the VM was: raising it allocates nothing. The fatal kinds are
 * ones PV code cannot catch. */
PVM_NORETURN void pvmV_raise_kind(VM *vm, VmErrorKind kind);
/* Makes the messages pvmV_raise_kind uses (pvmV_new, first of all). */
void pvmV_make_error_texts(VM *vm);
/* pvmV_raise_kind(vm, VM_ERR_OUT_OF_MEMORY). */
PVM_NORETURN void pvmV_out_of_memory(VM *vm);

/* Writes the error in vm->error as an uncaught error is reported:
 * "error: MESSAGE" (the display form of the value), then the trace. */
void pvmV_report_error(VM *vm, FILE *out);

/* Built-in scope */
void pvmV_define_builtin(VM *vm, const char *name, Value v);
void pvmV_define_native(VM *vm, const char *name, VmNativeFn fn, int min_args, int max_args);

#endif
