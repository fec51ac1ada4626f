/* pvm's configuration: every platform switch and limit in one place, as
 * luaconf.h and wasm3's m3_config.h do. Each may be overridden with -D when
 * building. Everything in pvm may include this header; it includes nothing
 * of pvm's. */
#ifndef PVM_CONFIG_H
#define PVM_CONFIG_H

/* --- Compiler features --------------------------------------------------- */

/* GCC and Clang attributes; empty elsewhere. */
#if defined(__GNUC__) || defined(__clang__)
#define PVM_NORETURN __attribute__((noreturn))
#define PVM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PVM_COLD __attribute__((cold))
#define PVM_NOINLINE __attribute__((noinline))
#define PVM_ALWAYS_INLINE __attribute__((always_inline))
#define PVM_CONSTRUCTOR __attribute__((constructor))
#else
#define PVM_NORETURN
#define PVM_PRINTF(fmt, args)
#define PVM_COLD
#define PVM_NOINLINE
#define PVM_ALWAYS_INLINE
#define PVM_CONSTRUCTOR
#endif

/* Built with AddressSanitizer (GCC defines __SANITIZE_ADDRESS__; Clang
 * has a feature test). */
#if defined(__SANITIZE_ADDRESS__)
#define PVM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PVM_ASAN 1
#endif
#endif

/* Dispatch with computed goto (labels as values) where the compiler has it;
 * -DPVM_NO_COMPUTED_GOTO selects the portable switch. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PVM_NO_COMPUTED_GOTO)
#define PVM_COMPUTED_GOTO 1
#else
#define PVM_COMPUTED_GOTO 0
#endif

/* The tracing JIT: built on x86-64 unless -DPVM_NO_JIT; elsewhere `-j on`
 * says the JIT is not available and the interpreter runs everything. */
#if defined(__x86_64__) && !defined(PVM_NO_JIT)
#define PVM_JIT 1
#else
#define PVM_JIT 0
#endif

/* --- Bytecode (the .pbc reader and verifier; documented in bytecode.md) -- */
#ifndef PBC_MAX_LOCALS
#define PBC_MAX_LOCALS 65535u
#endif
#ifndef PBC_MAX_STACK
#define PBC_MAX_STACK 65535u
#endif
#ifndef PBC_MAX_UPVALS
#define PBC_MAX_UPVALS 65535u
#endif
#ifndef PBC_MAX_PARAMS
#define PBC_MAX_PARAMS 255u
#endif

/* --- Compiler ------------------------------------------------------------ */
#define CC_MAX_NESTING 200u     /* nested blocks, parentheses, unary operators */
#define CC_MAX_PARAMS PBC_MAX_PARAMS
#define CC_MAX_ARGS 255u
#define CC_MAX_LOCALS PBC_MAX_LOCALS
#define CC_MAX_UPVALS PBC_MAX_UPVALS
/* A guard for the resolver's and the code generator's recursion. Source
 * text cannot reach it: the parser bounds nesting at CC_MAX_NESTING, and
 * left-leaning chains (a + b + c ...) are walked in loops. */
#define CC_MAX_TREE_DEPTH 1000u
#define CC_MAX_ERRORS 50u       /* diagnostics reported before giving up */

/* --- VM ------------------------------------------------------------------ */
#ifndef VM_MAX_FRAMES
#define VM_MAX_FRAMES 200000u   /* PV call depth: past it, "stack overflow" */
#endif
#ifndef VM_MAX_STACK
#define VM_MAX_STACK (8u * 1024u * 1024u) /* Values reserved once per VM */
#endif
#ifndef VM_MAX_CCALLS
#define VM_MAX_CCALLS 200u      /* natives calling back into PV, nested */
#endif
#ifndef VM_MAX_ALLOC
#define VM_MAX_ALLOC ((size_t)1 << 40) /* one allocation; larger is "out of memory" */
#endif

/* --- FFI ----------------------------------------------------------------- */
#ifndef FFI_MAX_ARGS
#define FFI_MAX_ARGS 64         /* arguments of one foreign function */
#endif

#endif
