/* The PV abstract syntax tree.
 *
 * The parser builds it (every node lives in the module's CcArena), the
 * resolver annotates it in place (variable slots, captured flags, upvalue
 * lists, name references), and the code generator reads it. Fields marked
 * "resolver" are zero until resolution. Operators are stored as the
 * Opcode that implements them (OP_ADD, OP_NEG, ...). */
#ifndef PVM_CC_AST_H
#define PVM_CC_AST_H

#include "compiler/diag.h"
#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"

typedef struct CcExpr CcExpr;
typedef struct CcStmt CcStmt;
typedef struct CcBlock CcBlock;
typedef struct CcFunc CcFunc;

/* An identifier: arena-owned and NUL-terminated. */
typedef struct {
    const char *s;
    uint32_t len;
} CcName;

/* A declared variable. The parser fills name and pos; the resolver the
 * rest. */
typedef struct {
    CcName name;
    CcPos pos;
    bool global;        /* resolver: a module global (top-level declaration) */
    bool captured;      /* resolver: some closure captures this local */
    uint32_t index;     /* resolver: local slot or global slot */
} CcVar;

typedef enum {
    CC_REF_NONE,        /* unresolved (or an error was reported) */
    CC_REF_LOCAL,
    CC_REF_UPVAL,
    CC_REF_GLOBAL,
    CC_REF_BUILTIN      /* looked up by name at run time: getname */
} CcRefKind;

typedef struct {
    CcRefKind kind;
    uint32_t index;     /* slot, upvalue or global index */
} CcRef;

typedef enum {
    CC_EX_NIL, CC_EX_TRUE, CC_EX_FALSE, CC_EX_INT, CC_EX_FLOAT, CC_EX_STRING,
    CC_EX_NAME,
    CC_EX_ARRAY,        /* list: elements */
    CC_EX_MAP,          /* list: key0, value0, key1, value1, ... */
    CC_EX_FN,
    CC_EX_UNARY,        /* op a */
    CC_EX_BINARY,       /* a op b */
    CC_EX_AND, CC_EX_OR,/* a && b, a || b */
    CC_EX_TERNARY,      /* a ? b : c */
    CC_EX_CALL,
    CC_EX_INDEX,        /* a[b] */
    CC_EX_FIELD         /* a.name */
} CcExprKind;

struct CcExpr {
    CcExprKind kind;
    Opcode op;          /* CC_EX_UNARY, CC_EX_BINARY */
    CcPos pos;          /* where its instruction belongs: the operator, the
                           '(' of a call, '[' or '.' of an index, else the
                           first token */
    union {
        int64_t i;
        double f;
        struct { const char *bytes; uint32_t len; } str;
        struct { CcName name; CcRef ref; } name;
        struct { CcExpr **items; uint32_t n; } list;
        CcFunc *fn;
        struct { CcExpr *a, *b, *c; } ops;
        struct { CcExpr *callee; CcExpr **args; uint32_t nargs; } call;
        struct { CcExpr *obj; CcName name; } field;
    } u;
};

typedef enum {
    CC_ST_LET, CC_ST_ASSIGN, CC_ST_EXPR, CC_ST_IF, CC_ST_WHILE, CC_ST_FOR,
    CC_ST_BREAK, CC_ST_CONTINUE, CC_ST_RETURN, CC_ST_THROW, CC_ST_TRY,
    CC_ST_FN, CC_ST_IMPORT,
    CC_ST_BLOCK         /* only as the else branch of an if */
} CcStmtKind;

struct CcStmt {
    CcStmtKind kind;
    CcPos pos;          /* first token */
    union {
        struct { CcVar *var; CcExpr *init; } let;             /* init may be NULL */
        struct { CcExpr *target, *value; Opcode op; CcPos op_pos; } assign; /* op OP_NOP for '=' */
        CcExpr *expr;                                         /* EXPR, THROW, RETURN (may be NULL) */
        struct { CcExpr *cond; CcBlock *then; CcStmt *els; } if_;  /* els: IF, BLOCK or NULL */
        struct { CcExpr *cond; CcBlock *body; } while_;
        struct { CcVar *var; CcExpr *iter, *end; CcBlock *body; } for_; /* end != NULL: iter..end */
        struct {
            CcBlock *body;
            CcVar *var;         /* may be NULL */
            CcBlock *handler;
            int32_t close_from; /* resolver: lowest captured slot declared
                                   anywhere in body (a throw skips its
                                   closes), or -1 */
        } try_;
        struct { CcVar *var; CcFunc *fn; } fn;
        struct {
            CcVar *var;
            uint32_t module;    /* modules.c: module index */
            bool builtin;       /* modules.c: a built-in module (getname) */
        } import;
        CcBlock *block;
    } u;
};

struct CcBlock {
    CcStmt **stmts;
    uint32_t n;
    CcPos pos;
    int32_t close_from; /* resolver: lowest captured local slot declared
                           directly in this block, or -1 */
};

struct CcFunc {
    CcName name;        /* empty for anonymous functions */
    CcPos pos;
    CcVar **params;
    uint32_t nparams;
    CcVar *rest;        /* fn f(a, ...rest); NULL if not variadic */
    CcBlock *body;
    bool is_main;       /* the module's top-level code */
    /* resolver */
    uint32_t nlocals;
    PbcUpval *upvals;   /* arena-owned */
    uint32_t nupvals;
};

/* A parsed module: its top-level code as a function, and its import
 * statements (anywhere in the file) in source order. */
typedef struct {
    CcFunc *main;
    CcStmt **imports;
    uint32_t nimports;
} CcModuleAst;


/* The operand a left-leaning link evaluates first: a in a + b, a && b,
 * a[i], a.name and a(...); NULL for other expressions. The resolver and
 * the code generator walk such chains in a loop rather than by recursion,
 * so a generated 100 000-term sum compiles as Lua's would; only real
 * nesting counts against CC_MAX_TREE_DEPTH. */
static inline CcExpr *cc_chain_left(const CcExpr *e)
{
    switch (e->kind) {
    case CC_EX_BINARY: case CC_EX_AND: case CC_EX_OR: case CC_EX_INDEX: return e->u.ops.a;
    case CC_EX_CALL: return e->u.call.callee;
    case CC_EX_FIELD: return e->u.field.obj;
    default: return NULL;
    }
}

#endif
