/* fuzzgen: the program generator of the differential fuzzer (tests/fuzz).
 *
 *   fuzzgen SEED      prints one random PV program to stdout
 *
 * The same seed always gives the same program, on every host. Programs are
 * valid PV (docs: LANGUAGE.md) and terminate quickly: every loop is a `for`
 * over a small range or collection, or a `while` whose counter is bumped as
 * the body's first statement; nesting and the statement count are bounded.
 *
 * This file owns: the random source, the table of variables in scope with
 * the kind of value each may hold, the typed expression generators (an int
 * expression never divides by zero or indexes out of range; the risky forms
 * appear only inside try/catch, or once at the end as a deliberate uncaught
 * error), and the statement and program generators. Kinds never change for a
 * variable: a "num" variable may hold an int or a float, an "any" variable
 * anything, so a variable's type may change mid-loop while staying usable.
 * About half of the loops are kernels: only ints, floats, bools, branches and
 * range or while loops, the part of the language the JIT records, so that
 * traces compile, run, take side exits and fail mid-trace (a kernel in a try
 * whose loop throws once its counter reaches a bound); "strict" kernels also
 * leave out && || break continue and mixed comparisons, which still abort.
 * Small functions k0, k1, ... (two ints to an int, or two numbers to a
 * number; each may call the ones before it, a few have a loop) are called
 * from kernels and everywhere else, directly or through the global `kv`
 * that kernels reassign mid-loop, so that the JIT inlines calls, and their
 * guards (the callee, an argument's type, a branch inside it) fail; errors
 * injected into kernels include ones raised inside a callee (kerr, kdiv)
 * and a wrong argument count from a callee that changes mid-loop. A
 * quarter of the int ones recurse (to depth 7 at most, calling nothing
 * else and with no loop, so that runs stay short), so that function
 * traces and their returns into every kind of caller are exercised; a
 * third of those from two call sites the data picks between, changing an
 * array between returns.
 * Output goes straight to stdout in generation order. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random source (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* rnd(n): uniform in 0..n-1 (n > 0). */
static int rnd(int n) { return (int)(rnd_u64() % (uint64_t)n); }
/* chance(p): true with probability p percent. */
static int chance(int p) { return rnd(100) < p; }
static int between(int lo, int hi) { return lo + rnd(hi - lo + 1); }
static const char *pick(const char *const *list, int n) { return list[rnd(n)]; }
#define PICK(list) pick(list, (int)(sizeof(list) / sizeof(list[0])))

/* ---- output ---- */

static int indent_level;

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* line(fmt, ...): starts a new line at the current indentation. */
static void line(const char *fmt, ...)
{
    for (int i = 0; i < indent_level; i++)
        fputs("    ", stdout);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* ---- variables in scope ---- */

typedef enum { K_INT, K_NUM, K_FLT, K_STR, K_BOOL, K_ARR, K_MAP, K_ANY, K_FN, K_COUNT } Kind;

typedef struct {
    char name[24];
    Kind kind;
    int readonly; /* a for variable, a parameter of a closure */
    int busy;     /* a collection being iterated: not grown, shrunk or replaced */
} Var;

#define MAX_VARS 512
static Var vars[MAX_VARS];
static int nvars;
static int name_counter;

/* Generation context. */
static int loop_depth;     /* loops enclosing the current statement (in this function) */
static int block_depth;    /* blocks enclosing it */
static int fn_depth;       /* inside a function body (return allowed) */
static int budget;         /* statements left to emit */
static int helpers;        /* helper functions h0..h{helpers-1} callable here */
static int no_str_vars;    /* string expressions may not read string variables */
static int in_helper;      /* inside h0..hN: called often, so small loops and no prints */
static int pure;           /* a kernel: only what the JIT records (no calls, strings, collections) */
static int flat;           /* a kernel without inner loops: one long trace */
static int for_in_depth;   /* for loops over collections enclosing the statement */
static int strict;         /* a kernel without && || break continue: traces that compile today */
static char loop_vars[8][24]; /* innermost-last counters of the enclosing loops */
#define MAX_KFUNCS 5
static int nkfuncs;        /* small functions k0..k{nkfuncs-1} */
static int kcallable;      /* the ones callable here: all, or those before the one being made */
static Kind kfunc_kind[MAX_KFUNCS]; /* K_INT (ints to int) or K_NUM (numbers to number) */
static int kv_index = -1;  /* the int function the global kv holds first, or -1: no kv */

static Var *declare(const char *prefix, Kind kind)
{
    Var *v = &vars[nvars < MAX_VARS - 1 ? nvars++ : nvars - 1];
    snprintf(v->name, sizeof v->name, "%s%d", prefix, name_counter++);
    v->kind = kind;
    v->readonly = 0;
    v->busy = 0;
    return v;
}

/* find_var(kind, writable): a random variable of that kind in scope, or NULL. */
static Var *find_var(Kind kind, int writable)
{
    int idx[MAX_VARS], n = 0;
    for (int i = 0; i < nvars; i++)
        if (vars[i].kind == kind && (!writable || (!vars[i].readonly && !vars[i].busy)))
            idx[n++] = i;
    return n ? &vars[idx[rnd(n)]] : NULL;
}

static const char *var_name(Kind kind)
{
    Var *v = find_var(kind, 0);
    return v ? v->name : NULL;
}

/* ---- expressions ---- */

static void gen_int(int d);
static void gen_num(int d);
static void gen_flt(int d);
static void gen_bool(int d);
static void gen_str(int d);
static void gen_any(int d);
static void gen_kind(Kind k, int d);

static const char *const int_lits[] = {
    "0", "1", "2", "3", "5", "7", "10", "31", "63", "64", "65", "100", "255",
    "(-1)", "(-2)", "(-7)", "(-64)", "1000003", "0x7FFFFFFFFFFFFFFF",
    "9223372036854775807", "(-9223372036854775807 - 1)", "0xFFFFFFFFFFFFFFFF",
    "0x8000000000000000", "4611686018427387904", "(-4611686018427387905)",
    "0b1011", "1_000_000", "4294967296", "2147483647", "(-2147483648)",
    "9007199254740993", "0xFF", "3037000500",
};

static const char *const flt_lits[] = {
    "0.0", "(-0.0)", "0.5", "1.5", "(-2.5)", "2.5e-3", "1e300", "(-1e300)", "1e-300",
    "1e16", "9007199254740992.0", "0.1", "3.0", "123456789.0", "(1.0 / 0.0)",
    "(0.0 / 0.0)", "(-1.0 / 0.0)", "math.inf", "math.nan", "math.pi", "4.5e15",
    "1e-5", "(-3.75)",
};

static const char *const str_lits[] = {
    "\"\"", "\"a\"", "\"b\"", "\"ab\"", "\"zz\"", "\"h\\u{e9}llo\"", "\"x\\ty\"",
    "\"q\\\"q\"", "\"10\"", "\"-3\"", "\" 7 \"", "\"1.5\"", "\"nan\"", "\"A\"",
};

static const char *const arith_ops[] = { "+", "-", "*" };
static const char *const int_ops[] = { "+", "-", "*", "&", "|", "^", "<<", ">>", "+", "-", "*" };
static const char *const cmp_ops[] = { "<", "<=", ">", ">=", "==", "!=" };

static void gen_int_leaf(void)
{
    const char *v = var_name(K_INT);
    if (v && chance(60))
        out("%s", v);
    else if (chance(50))
        out("%d", rnd(20));
    else
        out("%s", PICK(int_lits));
}

/* A non-negative index below len(ARR): (E & 1023) % len(ARR). */
static void gen_index(const char *arr, int d)
{
    out("((");
    gen_int(d);
    out(") & 1023) %% len(%s)", arr);
}

/* A call of a small function of [kind] (K_INT or K_NUM): directly, or
 * through kv. Returns 0 when there is none to call here. */
static int gen_kcall(Kind kind, int d)
{
    int idx[MAX_KFUNCS], n = 0;
    for (int i = 0; i < kcallable; i++)
        if (kfunc_kind[i] == kind)
            idx[n++] = i;
    if (n == 0)
        return 0;
    if (kind == K_INT && kv_index >= 0 && kcallable == nkfuncs && chance(30))
        out("kv(");
    else
        out("k%d(", idx[rnd(n)]);
    gen_kind(kind, d);
    out(", ");
    gen_kind(kind, d);
    out(")");
    return 1;
}

static void gen_int_call(int d)
{
    const char *c = var_name(K_FN);
    int can_call = helpers > 0 && !(in_helper && (loop_depth > 0 || for_in_depth > 0));
    if (c && (!can_call || chance(50))) {
        out("%s(", c);
        gen_int(d);
        out(")");
    } else if (can_call) {
        out("h%d(", rnd(helpers));
        gen_int(d);
        out(", ");
        gen_int(d);
        out(")");
    } else {
        gen_int_leaf();
    }
}

static void gen_int_access(int d)
{
    const char *a = var_name(K_ARR), *m = var_name(K_MAP), *s = var_name(K_STR);
    int r = rnd(6);
    if (r == 0 && a) {
        out("%s[", a);
        gen_index(a, d);
        out("]");
    } else if (r == 1 && m) {
        out("%s.%s", m, rnd(2) ? "a" : (rnd(2) ? "b" : "c"));
    } else if (r == 2 && (a || m || s)) {
        out("len(%s)", a && rnd(2) ? a : (m && rnd(2) ? m : (s ? s : (a ? a : m))));
    } else if (r == 3) {
        out("len(");
        gen_str(d);
        out(")");
    } else if (r == 4) { /* natives: one calling PV back (stitched), the rest called by traces */
        const char *v = var_name(K_INT);
        int which = rnd(4);
        if (which == 2 && a) {
            out("array.index_of(%s, ", a);
            gen_int(d);
            out(")");
        } else if (which == 3) {
            out("math.max(");
            gen_int(d);
            out(", ");
            gen_int(d);
            out(", %d)", rnd(9));
        } else if (which == 0) {
            out("array.reduce([");
            gen_int(d);
            out(", ");
            gen_int(d);
            out("], fn (x, y) { return x ^ y ^ %s; }, ", v ? v : "1");
            gen_int(d);
            out(")");
        } else {
            out("string.find(");
            gen_str(d);
            out(", %s)", PICK(str_lits));
        }
    } else {
        gen_int_call(d);
    }
}

static void gen_int(int d)
{
    if (d <= 0 || chance(25)) {
        gen_int_leaf();
        return;
    }
    if (chance(pure ? 10 : 5) && gen_kcall(K_INT, d - 1))
        return;
    switch (rnd(pure ? 6 : 9)) {
    case 0: case 1: case 2:
        out("(");
        gen_int(d - 1);
        out(" %s ", PICK(int_ops));
        gen_int(d - 1);
        out(")");
        break;
    case 3: /* division and remainder by a divisor that is never zero */
        out("(");
        gen_int(d - 1);
        out(rnd(2) ? " / " : " %% ");
        if (chance(50)) {
            out("(");
            gen_int(d - 1);
            out(" | 1)");
        } else {
            out("%s", rnd(2) ? "(-1)" : (rnd(2) ? "3" : "(-7)"));
        }
        out(")");
        break;
    case 4:
        out(rnd(2) ? "(-" : "(~");
        gen_int(d - 1);
        out(")");
        break;
    case 5:
        out("(");
        gen_bool(d - 1);
        out(" ? ");
        gen_int(d - 1);
        out(" : ");
        gen_int(d - 1);
        out(")");
        break;
    case 6:
        gen_int_access(d - 1);
        break;
    case 7:
        if (rnd(2)) {
            out("math.abs(");
            gen_int(d - 1);
            out(")");
        } else {
            out("math.%s(", rnd(2) ? "min" : "max");
            gen_int(d - 1);
            out(", ");
            gen_int(d - 1);
            out(")");
        }
        break;
    default:
        gen_int_call(d - 1);
        break;
    }
}

static void gen_flt(int d)
{
    const char *v = var_name(K_FLT);
    if (d <= 0 || chance(25)) {
        if (v && chance(50))
            out("%s", v);
        else
            out("%s", PICK(flt_lits));
        return;
    }
    switch (pure ? rnd(3) : rnd(6)) {
    case 0: case 1:
        out("(");
        gen_flt(d - 1);
        out(" %s ", rnd(4) ? PICK(arith_ops) : (rnd(2) ? "/" : "%"));
        gen_num(d - 1);
        out(")");
        break;
    case 2:
        out("(");
        gen_num(d - 1);
        out(" %s ", rnd(4) ? PICK(arith_ops) : (rnd(2) ? "/" : "%"));
        gen_flt(d - 1);
        out(")");
        break;
    case 3:
        out("float(");
        gen_int(d - 1);
        out(")");
        break;
    case 4:
        if (rnd(2)) {
            out("math.sqrt(");
            gen_num(d - 1);
        } else {
            out("(-");
            gen_flt(d - 1);
        }
        out(")");
        break;
    default:
        out("(");
        gen_bool(d - 1);
        out(" ? ");
        gen_flt(d - 1);
        out(" : ");
        gen_flt(d - 1);
        out(")");
        break;
    }
}

static void gen_num(int d)
{
    const char *v = var_name(K_NUM);
    if (v && chance(30)) {
        out("%s", v);
        return;
    }
    if (d <= 0 || chance(30)) {
        if (rnd(2))
            gen_int(d);
        else
            gen_flt(d);
        return;
    }
    if (chance(pure ? 10 : 5) && gen_kcall(K_NUM, d - 1))
        return;
    switch (rnd(4)) {
    case 0: case 1:
        out("(");
        gen_num(d - 1);
        out(" %s ", PICK(arith_ops));
        gen_num(d - 1);
        out(")");
        break;
    case 2: /* a float divisor may be zero (inf, nan); an int one may not */
        out("(");
        gen_num(d - 1);
        out(rnd(2) ? " / " : " %% ");
        if (rnd(2)) {
            gen_flt(d - 1);
        } else {
            out("(");
            gen_int(d - 1);
            out(" | 1)");
        }
        out(")");
        break;
    default:
        out("(");
        gen_bool(d - 1);
        out(" ? ");
        gen_num(d - 1);
        out(" : ");
        gen_num(d - 1);
        out(")");
        break;
    }
}

static void gen_compare(int d)
{
    int r = rnd(6);
    if ((pure && r == 4) || (strict && r == 5))
        r = 0;
    if (strict && r < 2) /* same-type comparisons: mixed ones are not recorded yet */
        r = rnd(2) ? 2 : 3;
    void (*side)(int) = r < 2 ? gen_num : r == 2 ? gen_int : r == 3 ? gen_flt : r == 4 ? gen_str : NULL;
    out("(");
    if (side) {
        side(d);
        out(" %s ", PICK(cmp_ops));
        side(d);
    } else { /* equality between values of any kinds */
        gen_any(d);
        out(rnd(2) ? " == " : " != ");
        gen_any(d);
    }
    out(")");
}

static void gen_bool(int d)
{
    const char *v = var_name(K_BOOL);
    if (d <= 0 || chance(15)) {
        if (v && chance(60))
            out("%s", v);
        else
            out(rnd(2) ? "true" : "false");
        return;
    }
    switch (rnd(strict ? 4 : pure ? 6 : 7)) {
    case 0: case 1: case 2:
        gen_compare(d - 1);
        break;
    case 3:
        out("(!");
        gen_bool(d - 1);
        out(")");
        break;
    case 4: case 5:
        out("(");
        gen_bool(d - 1);
        out(rnd(2) ? " && " : " || ");
        gen_bool(d - 1);
        out(")");
        break;
    default:
        if (var_name(K_MAP)) {
            out("has(%s, %s)", var_name(K_MAP), rnd(2) ? "\"a\"" : "\"0\"");
        } else {
            out("(!");
            gen_any(d - 1);
            out(")");
        }
        break;
    }
}

static void gen_str(int d)
{
    const char *v = no_str_vars ? NULL : var_name(K_STR);
    if (d <= 0 || chance(20)) {
        if (v && chance(60))
            out("%s", v);
        else
            out("%s", PICK(str_lits));
        return;
    }
    switch (rnd(7)) {
    case 0: case 1:
        out("(");
        gen_str(d - 1);
        out(" + ");
        gen_str(d - 1);
        out(")");
        break;
    case 2: case 3:
        out("str(");
        gen_any(d - 1);
        out(")");
        break;
    case 4:
        out("type(");
        gen_any(d - 1);
        out(")");
        break;
    case 5:
        out("string.sub(");
        gen_str(d - 1);
        out(", %d, %d)", rnd(3), between(1, 6));
        break;
    default:
        out("string.%s(", rnd(2) ? "upper" : "trim");
        gen_str(d - 1);
        out(")");
        break;
    }
}

static void gen_arr(int d)
{
    const char *v = var_name(K_ARR);
    if (v && chance(50)) {
        out("%s", v);
        return;
    }
    int n = between(3, 5);
    out("[");
    for (int i = 0; i < n; i++) {
        if (i)
            out(", ");
        gen_int(d - 1 < 0 ? 0 : d - 1);
    }
    out("]");
}

static void gen_map(int d)
{
    const char *v = var_name(K_MAP);
    if (v && chance(50)) {
        out("%s", v);
        return;
    }
    out("{a: ");
    gen_int(d - 1 < 0 ? 0 : d - 1);
    out(", \"b\": ");
    gen_int(d - 1 < 0 ? 0 : d - 1);
    out(", c: ");
    gen_int(d - 1 < 0 ? 0 : d - 1);
    out("}");
}

static void gen_any(int d)
{
    const char *v = var_name(K_ANY);
    if (v && chance(30)) {
        out("%s", v);
        return;
    }
    static const Kind kinds[] = { K_INT, K_INT, K_NUM, K_FLT, K_BOOL, K_STR, K_ARR, K_MAP };
    Kind k = kinds[rnd(pure ? 5 : 8)];
    if (k == K_ARR || k == K_MAP) {
        const char *c = var_name(k);
        if (c && chance(70)) {
            out("%s", c);
            return;
        }
    }
    if (chance(4)) {
        out("nil");
        return;
    }
    if (!pure && chance(4)) { /* an int or nil */
        out("int(");
        gen_str(d);
        out(")");
        return;
    }
    gen_kind(k, d);
}

static void gen_kind(Kind k, int d)
{
    switch (k) {
    case K_INT: gen_int(d); break;
    case K_NUM: gen_num(d); break;
    case K_FLT: gen_flt(d); break;
    case K_STR: gen_str(d); break;
    case K_BOOL: gen_bool(d); break;
    case K_ARR: gen_arr(d); break;
    case K_MAP: gen_map(d); break;
    default: gen_any(d); break;
    }
}

/* ---- statements ---- */

static void gen_stmt(void);

/* Helpers call each other, so their work multiplies: one loop level there. */
static int max_loop_depth(void) { return in_helper ? 1 : 3; }

static int expr_depth(void) { return between(1, pure ? 4 : 3); }

static void open_block(void) { indent_level++; block_depth++; }

/* close_block(saved): ends a block, dropping the variables declared in it. */
static void close_block(int saved)
{
    nvars = saved;
    indent_level--;
    block_depth--;
    line("}\n");
}

static void gen_body(int n)
{
    for (int i = 0; i < n && budget > 0; i++)
        gen_stmt();
}

static const char *innermost_loop_var(void)
{
    return loop_depth > 0 ? loop_vars[loop_depth - 1 < 7 ? loop_depth - 1 : 7] : NULL;
}

/* A condition: often one that flips with the loop counter. */
static void gen_cond(void)
{
    const char *lv = innermost_loop_var();
    Var *v = find_var(chance(50) ? K_ANY : K_NUM, 0);
    if (v && chance(8))
        out("%s", v->name); /* truthiness of a value of any type */
    else if (lv && chance(55))
        out("%s %% %d == %d", lv, between(2, 5), rnd(2));
    else if (lv && chance(30))
        out("%s %s %d", lv, PICK(cmp_ops), rnd(40));
    else
        gen_bool(expr_depth());
}

static void gen_print(void)
{
    static const Kind kinds[] = { K_INT, K_NUM, K_FLT, K_STR, K_BOOL, K_ANY, K_INT, K_NUM };
    int n = between(1, 3);
    const char *lv = innermost_loop_var();
    line("print(");
    if (lv)
        out("\"%s\", %s, ", lv, lv);
    for (int i = 0; i < n; i++) {
        if (i)
            out(", ");
        gen_kind(kinds[rnd(8)], expr_depth());
    }
    out(");\n");
}

/* The checksum: every program folds values into the global `chk`. */
static void gen_chk(void)
{
    line("chk = chk * 31 + ");
    if (!pure && chance(25)) {
        out("len(str(");
        gen_any(expr_depth());
        out("))");
    } else {
        gen_int(expr_depth());
    }
    out(";\n");
}

static void gen_str_assign(Var *v)
{
    if (chance(50)) {
        line("%s = string.sub(", v->name);
        gen_str(expr_depth());
        out(", 0, %d);\n", between(8, 40));
    } else {
        no_str_vars = 1;
        line("%s = ", v->name);
        gen_str(expr_depth());
        out(";\n");
        no_str_vars = 0;
    }
}

/* A type change mid-loop: the variable holds one type early, another late. */
static void gen_type_flip(Var *v)
{
    const char *lv = innermost_loop_var();
    line("%s = ", v->name);
    if (lv)
        out("%s < %d ? ", lv, between(1, 60));
    else {
        gen_bool(1);
        out(" ? ");
    }
    if (v->kind == K_NUM) {
        gen_int(1);
        out(" : ");
        gen_flt(1);
    } else {
        gen_any(1);
        out(" : ");
        gen_any(1);
    }
    out(";\n");
}

static void gen_assign(void)
{
    static const Kind kinds[] = { K_INT, K_INT, K_NUM, K_FLT, K_STR, K_BOOL, K_ANY, K_NUM };
    Var *v = find_var(kinds[rnd(8)], 1);
    if (!v || (pure && v->kind == K_STR)) {
        gen_chk();
        return;
    }
    if (v->kind == K_STR) {
        gen_str_assign(v);
    } else if ((v->kind == K_NUM || v->kind == K_ANY) && chance(40)) {
        gen_type_flip(v);
    } else if ((v->kind == K_INT || v->kind == K_NUM) && chance(12)) {
        line("%s %s= ", v->name, rnd(2) ? "/" : "%");
        if (v->kind == K_NUM && rnd(2)) {
            gen_flt(expr_depth());
        } else {
            out("(");
            gen_int(expr_depth());
            out(" | 1)");
        }
        out(";\n");
    } else if ((v->kind == K_INT || v->kind == K_NUM) && chance(50)) {
        line("%s %s= ", v->name, PICK(arith_ops));
        gen_kind(v->kind, expr_depth());
        out(";\n");
    } else {
        line("%s = ", v->name);
        gen_kind(v->kind, expr_depth());
        out(";\n");
    }
}

static void gen_let(void)
{
    static const Kind kinds[] = { K_INT, K_INT, K_NUM, K_FLT, K_BOOL, K_ANY, K_STR, K_ARR, K_MAP };
    Kind k = kinds[rnd(pure ? 6 : 9)];
    static const char *const prefix[K_COUNT] = { "n", "x", "f", "s", "b", "a", "m", "y", "c" };
    line("let %s%d = ", prefix[k], name_counter);
    if (k == K_STR)
        no_str_vars = 1;
    gen_kind(k, expr_depth());
    no_str_vars = 0;
    out(";\n");
    declare(prefix[k], k);
}

static void gen_collection_op(void)
{
    Var *a = find_var(K_ARR, 1), *m = find_var(K_MAP, 1);
    int r = rnd(5);
    if (a && r == 0) {
        line("if len(%s) < 40 { push(%s, ", a->name, a->name);
        gen_int(expr_depth());
        out("); }\n");
    } else if (a && r == 1) {
        line("if len(%s) > 3 { chk = chk + pop(%s); }\n", a->name, a->name);
    } else if (a && r == 2) {
        line("%s[", a->name);
        gen_index(a->name, 1);
        out("] = ");
        gen_int(expr_depth());
        out(";\n");
    } else if (m && chance(25)) { /* int keys only: nothing reads them back as fields */
        line("if type(remove(%s, ", m->name);
        gen_int(1);
        out(" & 15)) == \"int\" { chk = chk + 1; }\n");
    } else if (m) {
        int how = rnd(3);
        if (how == 0)
            line("%s.%s = ", m->name, rnd(2) ? "a" : "c");
        else if (how == 1) {
            line("%s[str(", m->name);
            gen_int(1);
            out(" & 3)] = ");
        } else { /* an int key: new ones grow the map, and mix its key types */
            line("%s[", m->name);
            gen_int(1);
            out(" & 15] = ");
        }
        gen_int(expr_depth());
        out(";\n");
    } else {
        gen_chk();
    }
}

/* close_block_inline(saved): like close_block, but the line goes on (`} else {`). */
static void close_block_inline(int saved)
{
    nvars = saved;
    indent_level--;
    block_depth--;
    line("}");
}

static void gen_if(void)
{
    int saved = nvars;
    line("if ");
    gen_cond();
    out(" {\n");
    open_block();
    gen_body(between(1, 3));
    int elifs = rnd(3), has_else = chance(50);
    for (int i = 0; i < elifs && budget > 0; i++) {
        close_block_inline(saved);
        out(" else if ");
        gen_cond();
        out(" {\n");
        open_block();
        gen_body(between(1, 2));
    }
    if (has_else) {
        close_block_inline(saved);
        out(" else {\n");
        open_block();
        gen_body(between(1, 2));
    }
    close_block(saved);
}

/* Iteration counts: enough at the top for the default hot threshold, few when nested. */
static int loop_trips(void)
{
    if (in_helper)
        return between(0, 6);
    if (flat && loop_depth == 0)
        return between(57, 300);
    if (loop_depth == 0)
        return chance(70) ? between(57, 140) : between(1, 40);
    if (loop_depth == 1)
        return strict ? between(8, 30) : between(0, 9);
    return between(0, 4);
}

static void push_loop_var(const char *name)
{
    snprintf(loop_vars[loop_depth < 7 ? loop_depth : 7], sizeof loop_vars[0], "%s", name);
    loop_depth++;
}

static int inject_error; /* the next kernel loop throws mid-way (inside a try) */

/* A statement that fails once the loop counter LV reaches a bound. */
static void gen_injected_error(const char *lv)
{
    int k = between(1, 120);
    switch (rnd(7)) {
    case 0: line("chk = chk + 1000 %% (%s - %d);\n", lv, k); break;
    case 1: line("chk = chk + (%s < %d ? 1 : nil);\n", lv, k); break;
    case 2: line("chk = chk + (%s < %d ? 1 : \"s\");\n", lv, k); break;
    case 3: line("chk = chk + kerr(%s, %d);\n", lv, k); break;  /* a throw inside a callee */
    case 4: line("chk = chk + kdiv(%s, %d);\n", lv, k); break;  /* a runtime error inside one */
    case 5: line("chk = chk + (%s < %d ? kerr : kone)(%s, -7);\n", lv, k, lv); break; /* arity */
    default: line("chk = (%s < %d ? chk : 1.5) << 1;\n", lv, k); break;
    }
}

static void gen_loop_body(void)
{
    open_block();
    if (inject_error && loop_depth == 1) {
        inject_error = 0;
        gen_injected_error(innermost_loop_var());
    }
    int n = flat && loop_depth == 1 ? between(4, 12) : between(2, loop_depth > 1 ? 3 : 6);
    gen_body(n);
}

/* The range of a for: usually 0..trips; sometimes at the ends of the int
 * range (the counter's last step must not overflow), or bounded by a
 * variable that the body may change (bounds are evaluated once). */
static void gen_range(void)
{
    const char *bound = var_name(K_INT);
    int trips = loop_trips();
    if (bound && chance(loop_depth > 0 ? 30 : 10))
        out("0..(%s & %d)", bound, loop_depth > 0 || in_helper ? 7 : 127); /* helpers are called often */
    else if (chance(8))
        out("%" PRId64 "..9223372036854775807", INT64_MAX - trips);
    else if (chance(5))
        out("-9223372036854775807..%" PRId64, -INT64_MAX + trips);
    else {
        int lo = chance(80) ? 0 : between(-5, 5);
        out("%d..%d", lo, lo + trips);
    }
}

static void gen_for_range(void)
{
    int saved = nvars;
    char name[24];
    snprintf(name, sizeof name, "i%d", name_counter++);
    line("for %s in ", name);
    gen_range();
    out(" {\n");
    Var *v = declare("i", K_INT);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->readonly = !pure || chance(70); /* assigning it changes this iteration only */
    push_loop_var(name);
    gen_loop_body();
    loop_depth--;
    close_block(saved);
}

static void gen_while(void)
{
    int saved = nvars;
    Var *w = declare("w", K_INT);
    w->readonly = 1;
    line("let %s = 0;\n", w->name);
    line("while %s < %d", w->name, loop_trips());
    if (!strict && chance(20)) {
        out(" && ");
        gen_bool(1);
    }
    out(" {\n");
    push_loop_var(w->name);
    open_block();
    line("%s += 1;\n", w->name);
    if (inject_error && loop_depth == 1) {
        inject_error = 0;
        gen_injected_error(w->name);
    }
    gen_body(flat && loop_depth == 1 ? between(4, 12) : between(2, loop_depth > 1 ? 3 : 6));
    loop_depth--;
    close_block(saved);
    nvars = saved + 1; /* the counter stays in scope, read-only */
}

static void gen_for_in(void)
{
    int saved = nvars;
    Var *a = find_var(K_ARR, 0), *m = find_var(K_MAP, 0);
    Var *coll = NULL;
    Kind elem = K_STR;
    char name[24];
    snprintf(name, sizeof name, "e%d", name_counter++);
    if (a && (rnd(2) || !m)) {
        coll = a;
        elem = K_INT;
        line("for %s in %s {\n", name, a->name);
    } else if (m) {
        coll = m;
        line("for %s in %s {\n", name, m->name);
    } else {
        line("for %s in ", name);
        no_str_vars = 0;
        gen_str(1);
        out(" {\n");
    }
    int was_busy = coll ? coll->busy : 0;
    if (coll)
        coll->busy = 1;
    Var *v = declare("e", elem);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->readonly = 1;
    open_block();
    for_in_depth++;
    if (coll == m && m)
        line("chk = chk * 7 + len(%s) + %s[%s];\n", name, m->name, name);
    gen_body(between(1, 3));
    for_in_depth--;
    close_block(saved);
    if (coll)
        coll->busy = was_busy;
}

static void gen_break(void)
{
    line("if ");
    gen_cond();
    out(" { %s; }\n", rnd(2) ? "break" : "continue");
}

/* A closure over the locals in scope, called right away or later; or
 * one mkc made, whose cell is closed (traces read and write it). */
static void gen_closure(void)
{
    if (chance(30)) {
        char made[24];
        snprintf(made, sizeof made, "c%d", name_counter++);
        line("let %s = mkc(", made);
        gen_int(1);
        out(");\n");
        Var *c = declare("c", K_FN);
        snprintf(c->name, sizeof c->name, "%s", made);
        return;
    }
    Var *target = find_var(K_INT, 1);
    int saved_loop = loop_depth;
    char name[24];
    snprintf(name, sizeof name, "c%d", name_counter++);
    int before = nvars;
    Var *x = declare("p", K_INT);
    x->readonly = 1;
    loop_depth = 0;
    if (target && chance(40)) {
        line("let %s = fn (%s) { %s += %s; return %s; };\n", name, x->name, target->name,
             x->name, target->name);
    } else {
        line("let %s = fn (%s) { return ", name, x->name);
        gen_int(2);
        out("; };\n");
    }
    loop_depth = saved_loop;
    nvars = before;
    Var *c = declare("c", K_FN);
    snprintf(c->name, sizeof c->name, "%s", name);
    line("chk = chk + %s(", name);
    gen_int(1);
    out(");\n");
}

/* What a risky statement prints its value with: print, or in a helper
 * (called often, so quiet) the checksum, through sink. */
static const char *sink(void) { return in_helper ? "sink" : "print"; }

/* One statement that may throw: a runtime error of each family. */
static void gen_risky(void)
{
    const char *a = var_name(K_ARR);
    switch (rnd(12)) {
    case 10: /* range bounds must be ints */
        line("for q%d in 0..", name_counter++);
        gen_flt(1);
        out(" { chk = chk + 1; }\n");
        break;
    case 11:
        line("for q%d in ", name_counter++);
        out("("); /* a map literal there must be parenthesised */
        gen_any(1);
        out(") { chk = chk + 1; }\n");
        break;
    case 0:
        line("chk = chk + ");
        gen_int(1);
        out(" %s (", rnd(2) ? "/" : "%");
        gen_int(1);
        out(" & 3);\n");
        break;
    case 1:
        if (a) {
            line("chk = chk + %s[", a);
            gen_int(1);
            out(" & 7];\n");
        } else {
            line("%s([1, 2, 3][%d]);\n", sink(), between(-1, 4));
        }
        break;
    case 2:
        line("%s(", sink());
        gen_any(1);
        out(" %s ", rnd(3) ? "+" : PICK(int_ops));
        gen_any(1);
        out(");\n");
        break;
    case 3:
        line("%s(", sink());
        gen_any(1);
        out(" %s ", PICK(cmp_ops));
        gen_any(1);
        out(");\n");
        break;
    case 4:
        line("%s(%s", sink(), rnd(2) ? "-" : "~");
        gen_any(1);
        out(");\n");
        break;
    case 5:
        line("throw ");
        gen_any(1);
        out(";\n");
        break;
    case 6:
        line("%s(int(", sink());
        gen_flt(1);
        out("));\n");
        break;
    case 7:
        line("let r%d = ", name_counter++);
        gen_any(1);
        out(";\n");
        line("%s(r%d(1));\n", sink(), name_counter - 1);
        break;
    case 8:
        if (helpers > 0)
            line("%s(h%d(%d));\n", sink(), rnd(helpers), rnd(3));
        else
            line("%s(len(%d));\n", sink(), rnd(3));
        break;
    default:
        line("%s(", sink());
        gen_any(1);
        out("[%d]);\n", rnd(3));
        break;
    }
}

static void gen_try(void)
{
    int saved = nvars;
    line("try {\n");
    open_block();
    int n = between(1, 3);
    for (int i = 0; i < n && budget > 0; i++) {
        budget--;
        if (chance(60))
            gen_risky();
        else
            gen_stmt();
    }
    close_block_inline(saved);
    char e[24];
    snprintf(e, sizeof e, "err%d", name_counter++);
    out(" catch %s {\n", e);
    open_block();
    if (in_helper)
        line("chk = chk * 7 + len(str(%s));\n", e);
    else
        line("print(\"caught\", %s);\n", e);
    if (chance(30))
        gen_body(1);
    close_block(saved);
}

static void gen_return(void)
{
    line("if ");
    gen_cond();
    out(" { return ");
    gen_int(1);
    out("; }\n");
}

/* The global kv changes callee mid-loop: a trace that inlined it exits
 * at its identity guard. */
static void gen_kv_flip(void)
{
    int idx[MAX_KFUNCS], n = 0;
    for (int i = 0; i < nkfuncs; i++)
        if (kfunc_kind[i] == K_INT)
            idx[n++] = i;
    line("if %s == %d { kv = k%d; }\n", innermost_loop_var(), between(1, 100), idx[rnd(n)]);
}

/* A statement of a kernel: arithmetic, branches and loops only. */
static void gen_stmt_pure(void)
{
    budget--;
    int can_nest = block_depth < 5 && budget > 5;
    int r = rnd(100);
    if (r < 32)
        gen_assign();
    else if (r < 46)
        gen_chk();
    else if (r < 54)
        gen_let();
    else if (r < 66 && can_nest)
        gen_if();
    else if (r < 74 && can_nest && loop_depth < max_loop_depth() && !flat)
        gen_for_range();
    else if (r < 78 && can_nest && loop_depth < max_loop_depth() && !flat)
        gen_while();
    else if (r < (flat ? 81 : 88) && loop_depth > 0 && !strict)
        gen_break();
    else if (r < 91 && fn_depth > 0 && !strict)
        gen_return();
    else if (r < 94 && kv_index >= 0 && kcallable == nkfuncs && innermost_loop_var())
        gen_kv_flip();
    else
        gen_chk();
}

/* An array of ints, floats or bools (stored unboxed, vm/runtime/array.h)
 * written and read in a loop that, on some trip, stores a value of
 * another type into it (so the interpreter boxes it under a running
 * trace, whose element-kind guard must exit), then read again by for-in.
 * Reads are equality tests, which no type makes fail. */
static void gen_kind_kernel(void)
{
    static const char *const fills[] = { "0", "0.5", "false", "-3", "2.0", "true" };
    static const char *const elems[] = { "%s * 3 - 7", "%s * 0.5", "%s %% 3 == 0" };
    static const char *const probes[] = { "2", "1.5", "true" };
    static const char *const others[] = { "2.5", "\"s\"", "nil", "true", "7", "[1]", "-0.0", "false" };
    int kind = rnd(3), n = between(20, 80), id = name_counter++;
    char a[24], q[24], e[64];
    snprintf(a, sizeof a, "k%d", id);
    snprintf(q, sizeof q, "q%d", id);
    if (chance(70))
        line("let %s = array.new(%d, %s);\n", a, n, fills[kind + 3 * rnd(2)]);
    else
        line("let %s = [%s, %s, %s]; for %s in 3..%d { push(%s, %s); }\n", a, fills[kind], fills[kind],
             fills[kind + 3], q, n, a, fills[kind]);
    snprintf(e, sizeof e, elems[kind], q);
    line("for %s in 0..%d {\n", q, n);
    line("    %s[%s] = %s;\n", a, q, e);
    line("    if %s == %d { %s[%d] = %s; }\n", q, between(0, n + 5), a, rnd(n), PICK(others));
    if (chance(50))
        line("    %s[%s] = %s[%d];\n", a, q, a, rnd(n));
    line("    if %s[%s] == %s { chk = chk + %d; }\n", a, q, probes[kind], between(1, 9));
    line("}\n");
    line("for %s in %s { if %s == %s { chk = chk + 1; } }\n", q, a, q, probes[kind]);
    if (chance(30))
        line("print(array.slice(%s, 0, 6), len(%s));\n", a, a);
    else
        line("chk = chk + len(%s) + array.index_of(%s, %s);\n", a, a, probes[kind]);
}

static void gen_stmt(void)
{
    if (pure) {
        gen_stmt_pure();
        return;
    }
    budget--;
    int can_nest = block_depth < 5 && budget > 5;
    if (can_nest && loop_depth == 0 && !in_helper && chance(5)) {
        gen_kind_kernel();
        return;
    }
    int r = rnd(100);
    if (r < 14 && !in_helper && (loop_depth < 2 || chance(40)))
        gen_print();
    else if (r < 14)
        gen_chk();
    else if (r < 30)
        gen_assign();
    else if (r < 38)
        gen_chk();
    else if (r < 46)
        gen_let();
    else if (r < 54)
        gen_collection_op();
    else if (r < 62 && can_nest)
        gen_if();
    else if (r < 68 && can_nest && loop_depth < max_loop_depth())
        gen_for_range();
    else if (r < 72 && can_nest && loop_depth < max_loop_depth())
        gen_while();
    else if (r < 76 && can_nest && loop_depth + for_in_depth < 2)
        gen_for_in(); /* arrays grow to 40: one such loop per nest */
    else if (r < 82 && loop_depth > 0)
        gen_break();
    else if (r < 87)
        gen_closure();
    else if (r < 94 && can_nest)
        gen_try();
    else if (r < 97 && fn_depth > 0)
        gen_return();
    else
        gen_chk();
}

/* ---- program ---- */

/* The module globals: two ints, then a few of each other kind. */
static void gen_globals(void)
{
    for (int i = 0; i < 9; i++) {
        if (i >= 2 && chance(30))
            continue;
        gen_let();
    }
}

/* What combines a recursive kernel function's results (ints only). */
static const char *const rec_ops[] = { "+", "-", "^", "|" };

/* The end of recursive kernel kN of the third kind: two call sites the
 * data picks between, and an array changed between a call's return and
 * this one's, so that returns into callers are checked by the frame count
 * after a C call that changes objects. */
static void gen_krecurse_two_sites(int index, const Var *p, const Var *q)
{
    int r = name_counter++;
    line("let r%d = 0;\n", r);
    line("if (%s & 1) == 0 { r%d = k%d((%s & 7) - 1, ", q->name, r, index, p->name);
    gen_kind(K_INT, 2);
    out(") + 1; } else { r%d = (k%d((%s & 7) - 1, ", r, index, p->name);
    gen_kind(K_INT, 2);
    out(") & 65535) * 3; }\n");
    line("push(kbuf, r%d);\n", r);
    line("pop(kbuf);\n");
    line("return r%d %s ", r, PICK(rec_ops));
    gen_kind(K_INT, 2);
    out(";\n");
}

/* k0, k1, ...: small kernel functions of two ints (or numbers) that
 * return one, called from loops so that traces inline them: a let, a
 * couple of kernel statements (most without loops: an inner loop in a
 * callee stops its caller's trace), an early return on a branch, sometimes
 * a local read before it is written (nil). kN calls only k0..kN-1. */
static void gen_kfunc(int index)
{
    int saved = nvars;
    Kind kind = chance(65) ? K_INT : K_NUM;
    /* A quarter of the int ones recurse, linearly or down two branches,
     * to a depth of at most 7 ((p & 7) falls by 1 or 2 each call), so that
     * function traces, their recursion and their returns into every
     * caller are recorded and exited at every depth. */
    int recursive = kind == K_INT && chance(25) ? between(1, 3) : 0;
    line("fn k%d(", index);
    Var *p = declare("p", kind);
    Var *q = declare("q", kind);
    out("%s, %s) {\n", p->name, q->name);
    kcallable = index;
    fn_depth++;
    in_helper = 1;
    pure = 1;
    flat = chance(80);
    strict = chance(50);
    if (recursive) { /* its own calls multiply: no other calls, no loops */
        kcallable = 0;
        flat = 1;
    }
    open_block();
    if (recursive) {
        line("if (%s & 7) < %d { return ", p->name, recursive);
        gen_kind(kind, 2);
        out("; }\n");
    }
    line("let t%d = ", name_counter);
    gen_kind(kind, 2);
    out(";\n");
    Var *t = declare("t", kind);
    if (chance(15)) {
        line("let u%d;\n", name_counter);
        line("if u%d == nil { %s = %s; }\n", name_counter++, t->name, q->name);
    }
    budget -= 2;
    gen_body(between(0, 2));
    if (chance(50)) {
        line("if ");
        gen_cond();
        out(" { return ");
        gen_kind(kind, 2);
        out("; }\n");
    }
    if (recursive == 3) {
        gen_krecurse_two_sites(index, p, q);
    } else {
        line("return ");
        if (recursive) {
            out("k%d((%s & 7) - 1, ", index, p->name);
            gen_kind(kind, 2);
            out(") %s ", PICK(rec_ops));
            if (recursive == 2) {
                out("k%d((%s & 7) - 2, ", index, p->name);
                gen_kind(kind, 2);
                out(") %s ", PICK(rec_ops));
            }
        }
        gen_kind(kind, 2);
        out(";\n");
    }
    close_block(saved);
    pure = flat = strict = 0;
    in_helper = 0;
    fn_depth--;
    kfunc_kind[index] = kind;
    nkfuncs = index + 1;
    kcallable = nkfuncs;
}

/* What injected errors call: a throw and a division by zero inside a
 * callee, and a function of one argument (called with two: an arity
 * error once a kernel's callee switches to it); and sink, which risky
 * statements in helpers print to. */
static void gen_error_funcs(void)
{
    line("fn kerr(i, k) { if i == k { throw \"kerr \" + str(i); } return i & 1; }\n");
    line("fn kdiv(i, k) { return 1000 %% (i - k); }\n");
    line("fn kone(i) { return i; }\n");
    line("fn sink(v) { chk = chk * 7 + len(str(v)); return nil; }\n");
    line("fn mkc(s) { let c = s; return fn (d) { c = (c + d) %% 1000003; return c; }; }\n");
    line("let kbuf = [0];\n");
}

/* h0, h1, ...: functions of two ints returning an int; hN calls only h0..hN-1. */
static void gen_helper(int index)
{
    int saved = nvars;
    line("fn h%d(", index);
    Var *p = declare("p", K_INT);
    Var *q = declare("q", K_INT);
    out("%s, %s) {\n", p->name, q->name);
    fn_depth++;
    in_helper = 1;
    helpers = index;
    open_block();
    Var *r = declare("r", K_INT);
    line("let %s = %s;\n", r->name, p->name);
    budget -= 2;
    gen_body(between(2, 5));
    line("return %s;\n", r->name);
    close_block(saved);
    fn_depth--;
    in_helper = 0;
}

/* print_scalars: prints a few scalar variables in scope and the checksum. */
static void print_scalars(void)
{
    line("print(\"chk\", chk");
    for (int i = 0, n = 0; i < nvars && n < 6; i++) {
        Kind k = vars[i].kind;
        if ((k == K_INT || k == K_NUM || k == K_FLT || k == K_BOOL || k == K_ANY) && chance(50)) {
            out(", %s", vars[i].name);
            n++;
        }
    }
    out(");\n");
}

/* A kernel: a loop nest the JIT can record, its results printed after it. */
static void gen_kernel(void)
{
    int guarded = chance(25);
    pure = 1;
    flat = chance(50);
    strict = chance(50);
    for (int i = between(0, 5); i > 0; i--)
        gen_let();
    int saved = nvars;
    if (guarded) {
        line("try {\n");
        indent_level++;
        inject_error = 1;
    }
    if (chance(75))
        gen_for_range();
    else
        gen_while();
    pure = 0;
    flat = 0;
    strict = 0;
    inject_error = 0;
    if (guarded) {
        nvars = saved;
        indent_level--;
        line("} catch err%d {\n", name_counter);
        line("    print(\"caught\", err%d);\n", name_counter++);
        line("}\n");
    }
    print_scalars();
}

/* A block of work at the top level (globals) or inside a function (locals). */
static void gen_section(int index, int nhelpers)
{
    helpers = nhelpers;
    if (chance(45)) {
        int saved = nvars;
        line("fn blk%d() {\n", index);
        fn_depth++;
        open_block();
        gen_let();
        gen_let();
        if (chance(50))
            gen_kernel();
        else if (chance(50))
            gen_for_range();
        else
            gen_while();
        gen_body(between(1, 3));
        line("return chk;\n");
        close_block(saved);
        fn_depth--;
        line("print(\"blk%d\", blk%d());\n", index, index);
    } else if (chance(50)) {
        gen_kernel();
    } else if (chance(50)) {
        gen_for_range();
    } else {
        gen_body(between(1, 3));
        gen_stmt();
    }
}

/* Sometimes the program ends with an uncaught error, thrown mid-loop. */
static void gen_final_error(void)
{
    static const char *const errs[] = {
        "print(1 % (i - i));", "throw \"boom \" + str(chk);", "print([1, 2][i]);",
        "print(chk + {k: 1});", "print(-\"s\");", "print(nil < 1);",
        "chk = chk + (i < 60 ? 1 : \"s\");", "chk = chk / (i - 50);",
    };
    int stop = between(3, 90);
    line("for i in 0..100 {\n");
    line("    chk = chk * 3 + i;\n");
    const char *err = PICK(errs);
    if (strncmp(err, "chk =", 5) == 0)
        line("    %s\n", err); /* fails at i == 50 or 60, from inside a trace */
    else
        line("    if i == %d { %s }\n", stop, err);
    line("}\n");
}

static void gen_program(uint64_t seed)
{
    out("// fuzzgen %" PRIu64 "\n", seed);
    line("let chk = 0;\n");
    budget = between(120, 220);
    gen_error_funcs();
    for (int i = between(0, MAX_KFUNCS); i > 0 && nkfuncs < MAX_KFUNCS; i--)
        gen_kfunc(nkfuncs);
    for (int i = 0; i < nkfuncs && kv_index < 0; i++)
        if (kfunc_kind[i] == K_INT)
            kv_index = i;
    if (kv_index >= 0)
        line("let kv = k%d;\n", kv_index);
    int nhelpers = between(0, 3);
    for (int i = 0; i < nhelpers; i++)
        gen_helper(i);
    helpers = nhelpers;
    gen_globals();
    for (int i = 0; budget > 0 && i < 12; i++)
        gen_section(i, nhelpers);
    for (int i = 0; i < nvars; i++)
        if (vars[i].kind != K_FN)
            line("print(\"%s\", %s);\n", vars[i].name, vars[i].name);
    line("print(\"chk\", chk);\n");
    if (chance(8))
        gen_final_error();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzzgen SEED\n");
        return 2;
    }
    char *end;
    uint64_t seed = strtoull(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0') {
        fprintf(stderr, "fuzzgen: SEED must be a decimal number\n");
        return 2;
    }
    rng_state = seed * 0x2545F4914F6CDD1Dull + 1;
    gen_program(seed);
    return 0;
}
