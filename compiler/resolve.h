/* Scopes: binds every name in a module's AST to a local slot, an upvalue,
 * a module global or the built-in scope (LANGUAGE.md sections 4 and 5).
 *
 * Top-level `let`, `fn` and `import` names are module globals. Functions
 * see every global of their module; top-level code sees a global only
 * after its declaration (before it, the name means the built-in of that
 * name if there is one, exactly as for a shadowing local in a block).
 * Predeclared globals (the REPL's earlier inputs) take the first slots,
 * are visible from the start, and may be declared once more.
 * Locals are block-scoped slots reused after their block; a local that a
 * closure captures is marked so the code generator closes it when its
 * block or loop iteration ends. */
#ifndef PVM_CC_RESOLVE_H
#define PVM_CC_RESOLVE_H

#include "compiler/ast.h"

/* The names every program sees (LANGUAGE.md sections 8 and 9). */
#define CC_BUILTIN_NAMES \
    "print", "str", "len", "type", "int", "float", "push", "pop", "keys", "has", \
    "remove", "assert", "math", "string", "array", "io", "os", "ffi"


typedef struct {
    uint32_t nglobals;
    CcName *global_names;   /* arena-owned, indexed by global slot */
} CcModuleScope;

/* Resolves [m] in place. [extra_builtins] is NULL or NULL-terminated;
 * so is [predeclared], the globals the module has before its own
 * (CcOptions.predeclared_globals). Returns false if errors were reported. */
bool pvmC_resolve(CcModuleAst *m, const char *file, const char *const *extra_builtins,
                const char *const *predeclared, CcArena *arena, CcDiag *diag,
                CcModuleScope *out);

/* Whether [name] is a built-in standard library module (math, string, ...). */
bool pvmC_is_builtin_module(const char *name);

#endif
