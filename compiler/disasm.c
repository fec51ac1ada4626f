/* The disassembler: a PbcImage to .pva text that assembles back to the
 * same bytes.
 *
 * Exactness comes from three choices: the whole constant pool is written
 * first as `.const` lines (so every index is fixed before any use); an
 * operand is written as a literal only when the assembler would resolve
 * that literal to the very same index (checked by asking the builder
 * itself on a copy of the pool), and as #k otherwise; and every computed
 * field (locals, stack, line table, upvalues, module of each function) is
 * written explicitly. */
#include "compiler/asm.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"

#define COMMENT_COLUMN 36
#define COMMENT_STRING_MAX 48 /* longer strings are cut in comments */

typedef struct {
    const PbcImage *img;
    FILE *out;
    PbcImage pool;     /* copy of the constant pool, to predict literal lookups */
    char **symbols;    /* assembly name of each function */
    uint32_t current;  /* the assembler's current module (see dir_func in asm.c) */
    bool ok;
} Disasm;

/* ---- Values as text --------------------------------------------------- */

/* calloc that marks the disassembly failed when memory runs out: the
 * library never exits, and a partial disassembly must not pass for whole. */
static void *disasm_calloc(Disasm *d, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        d->ok = false;
    return p;
}

static char *disasm_strdup(Disasm *d, const char *s)
{
    char *c = disasm_calloc(d, strlen(s) + 1, 1);
    return c ? strcpy(c, s) : NULL;
}

/* Writes [s] as a quoted .pva string, cut after [max] bytes; returns the
 * number of characters written. */
static int print_string(FILE *out, const char *s, uint32_t len, uint32_t max)
{
    int n = fprintf(out, "\"");
    for (uint32_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\n': n += fprintf(out, "\\n"); break;
        case '\t': n += fprintf(out, "\\t"); break;
        case '\r': n += fprintf(out, "\\r"); break;
        case '\0': n += fprintf(out, "\\0"); break;
        case '"': n += fprintf(out, "\\\""); break;
        case '\\': n += fprintf(out, "\\\\"); break;
        default:
            n += c >= 0x20 && c < 0x7f ? fprintf(out, "%c", c) : fprintf(out, "\\x%02x", c);
        }
    }
    n += fprintf(out, len > max ? "\"..." : "\"");
    return n;
}

static uint64_t float_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Writes a float so that it reads back with the same bits: the shortest
 * decimal that round-trips (always with a '.' or an exponent, so it is not
 * taken for an int), inf/-inf/nan, or `float 0x...` (the raw bits) for
 * NaNs with other payloads. [typed] adds the kind word. */
static int print_float(FILE *out, double f, bool typed)
{
    uint64_t bits = float_bits(f);
    if (f != f && bits != 0x7ff8000000000000u && bits != 0xfff8000000000000u)
        return fprintf(out, "float 0x%016" PRIx64, bits);
    int n = typed ? fprintf(out, "float ") : 0;
    if (f != f)
        return n + fprintf(out, "%snan", bits >> 63 ? "-" : "");
    if (f == 1.0 / 0.0 || f == -1.0 / 0.0)
        return n + fprintf(out, "%sinf", f < 0 ? "-" : "");
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (float_bits(strtod(buf, NULL)) == bits)
            break;
    }
    bool looks_float = strpbrk(buf, ".e") != NULL;
    return n + fprintf(out, "%s%s", buf, looks_float ? "" : ".0");
}

/* Writes constant [c] as a literal; [typed] adds the kind word. */
static int print_value(FILE *out, const PbcConst *c, bool typed)
{
    switch (c->kind) {
    case PBC_CONST_INT:
        return fprintf(out, "%s%" PRId64, typed ? "int " : "", c->i);
    case PBC_CONST_FLOAT:
        return print_float(out, c->f, typed);
    default:
        return fprintf(out, "%s", typed ? "string " : "") + print_string(out, c->str, c->len, UINT32_MAX);
    }
}

/* ---- Constant references ---------------------------------------------- */

/* Would the assembler read constant [k], written as a literal, back as [k]?
 * The pool copy answers with the builder's own lookup. */
static bool literal_resolves_to(Disasm *d, uint32_t k)
{
    if (k >= d->img->nconsts)
        return false;
    const PbcConst *c = &d->img->consts[k];
    switch (c->kind) {
    case PBC_CONST_INT: return pvmB_const_int(&d->pool, c->i) == k;
    case PBC_CONST_FLOAT: return pvmB_const_float(&d->pool, c->f) == k;
    case PBC_CONST_STRING: return pvmB_const_string(&d->pool, c->str, c->len) == k;
    default: return false;
    }
}

static bool is_string_const(const PbcImage *img, uint32_t k)
{
    return k < img->nconsts && img->consts[k].kind == PBC_CONST_STRING;
}

/* Writes a reference to string constant [k] where a name is expected:
 * a bare identifier, a quoted string, or #k when neither reads back as k. */
static int print_name_ref(Disasm *d, uint32_t k, bool allow_ident)
{
    if (!is_string_const(d->img, k) || !literal_resolves_to(d, k))
        return fprintf(d->out, "#%" PRIu32, k);
    const PbcConst *c = &d->img->consts[k];
    if (allow_ident && pvmC_is_identifier(c->str, c->len))
        return fprintf(d->out, "%s", c->str);
    return print_string(d->out, c->str, c->len, UINT32_MAX);
}

/* A short description of constant [k] for a comment. */
static void print_const_comment(Disasm *d, uint32_t k)
{
    if (k >= d->img->nconsts) {
        fprintf(d->out, "out of range");
        return;
    }
    const PbcConst *c = &d->img->consts[k];
    if (c->kind == PBC_CONST_STRING)
        print_string(d->out, c->str, c->len, COMMENT_STRING_MAX);
    else
        print_value(d->out, c, true);
}

/* ---- Layout helpers --------------------------------------------------- */

static void pad_to_comment(FILE *out, int col)
{
    fprintf(out, "%*s; ", col < COMMENT_COLUMN ? COMMENT_COLUMN - col : 1, "");
}

static const char *global_name(const PbcImage *img, uint32_t module, uint32_t g)
{
    if (module >= img->nmodules || g >= img->modules[module].nglobals)
        return NULL;
    uint32_t k = img->modules[module].globals[g];
    return is_string_const(img, k) ? img->consts[k].str : NULL;
}

/* ---- Function symbols ------------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t len, func;
} NameEntry;

static int compare_names(const void *x, const void *y)
{
    const NameEntry *a = x, *b = y;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Is [s] of the form f<digits>, the pattern of generated symbols? */
static bool is_generated_symbol(const char *s, uint32_t n)
{
    if (n < 2 || s[0] != 'f')
        return false;
    for (uint32_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Each function is named by its display name when that is an identifier
 * no other function shares, and f<index> otherwise. False when memory ran
 * out (d->symbols may then hold NULLs, or be NULL). */
static bool make_symbols(Disasm *d)
{
    const PbcImage *img = d->img;
    d->symbols = disasm_calloc(d, img->nfuncs, sizeof *d->symbols);
    NameEntry *names = disasm_calloc(d, img->nfuncs, sizeof *names);
    if (!d->symbols || !names) {
        free(names);
        return false;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < img->nfuncs; i++) {
        uint32_t k = img->funcs[i].name;
        if (is_string_const(img, k) && pvmC_is_identifier(img->consts[k].str, img->consts[k].len) &&
            !is_generated_symbol(img->consts[k].str, img->consts[k].len))
            names[n++] = (NameEntry){ img->consts[k].str, img->consts[k].len, i };
    }
    qsort(names, n, sizeof *names, compare_names);
    for (uint32_t i = 0; i < n; i++) {
        bool unique = (i == 0 || compare_names(&names[i - 1], &names[i]) != 0) &&
                      (i + 1 == n || compare_names(&names[i + 1], &names[i]) != 0);
        if (unique)
            d->symbols[names[i].func] = disasm_strdup(d, names[i].name);
    }
    free(names);
    for (uint32_t i = 0; i < img->nfuncs; i++) {
        if (!d->symbols[i]) {
            char buf[16];
            snprintf(buf, sizeof buf, "f%" PRIu32, i);
            d->symbols[i] = disasm_strdup(d, buf);
        }
    }
    return d->ok;
}

static int print_func_ref(Disasm *d, uint32_t fi)
{
    if (fi < d->img->nfuncs && d->symbols[fi])
        return fprintf(d->out, "%s", d->symbols[fi]);
    return fprintf(d->out, "#%" PRIu32, fi);
}

/* ---- Sections --------------------------------------------------------- */

static void print_consts(Disasm *d)
{
    const PbcImage *img = d->img;
    for (uint32_t k = 0; k < img->nconsts; k++) {
        int col = fprintf(d->out, ".const ");
        col += print_value(d->out, &img->consts[k], true);
        pad_to_comment(d->out, col);
        fprintf(d->out, "#%" PRIu32 "\n", k);
        switch (img->consts[k].kind) {
        case PBC_CONST_INT: pvmB_add_const_int(&d->pool, img->consts[k].i); break;
        case PBC_CONST_FLOAT: pvmB_add_const_float(&d->pool, img->consts[k].f); break;
        default: pvmB_add_const_string(&d->pool, img->consts[k].str, img->consts[k].len); break;
        }
    }
    if (img->nconsts)
        fputc('\n', d->out);
}

static void print_module(Disasm *d, uint32_t m)
{
    const PbcModule *mod = &d->img->modules[m];
    int col = fprintf(d->out, ".module ");
    col += print_name_ref(d, mod->name, true);
    col += fprintf(d->out, " ");
    col += print_name_ref(d, mod->file, false);
    col += fprintf(d->out, " main=");
    col += print_func_ref(d, mod->main);
    pad_to_comment(d->out, col);
    fprintf(d->out, "module %" PRIu32 "\n", m);
    for (uint32_t g = 0; g < mod->nglobals; g++) {
        col = fprintf(d->out, ".global ");
        col += print_name_ref(d, mod->globals[g], true);
        pad_to_comment(d->out, col);
        fprintf(d->out, "global %" PRIu32 "\n", g);
    }
    fputc('\n', d->out);
}

/* All modules come first; the last one is then the current module. */
static void print_modules(Disasm *d)
{
    for (uint32_t m = 0; m < d->img->nmodules; m++)
        print_module(d, m);
    d->current = d->img->nmodules ? d->img->nmodules - 1 : PBC_NONE;
}

/* Follows the assembler's rule: a module's main function makes that module
 * current; a function of another module needs module=N. */
static bool needs_module_option(Disasm *d, uint32_t fi)
{
    for (uint32_t m = 0; m < d->img->nmodules; m++) {
        if (d->img->modules[m].main == fi) {
            d->current = m;
            break;
        }
    }
    return d->current == PBC_NONE || d->img->funcs[fi].module != d->current;
}

/* istype's set as names joined by '|'; a set the names cannot write (empty,
 * or with unknown bits) as its number, which assembles to the same bytes. */
static void print_types(FILE *out, uint32_t v)
{
    static const char *const names[] = {
#define X(name, text) text,
        PBC_TYPE_NAMES(X)
#undef X
    };
    if (v == 0 || (v & ~PBC_TYPE_ALL)) {
        fprintf(out, "%" PRIu32, v);
        return;
    }
    const char *sep = "";
    for (int k = 0; k < PBC_TYPE__COUNT; k++) {
        if (v & (1u << k)) {
            fprintf(out, "%s%s", sep, names[k]);
            sep = "|";
        }
    }
}

/* The operand of one instruction, with an optional comment after it. */
static void print_operand(Disasm *d, const PbcFunc *f, const PbcInsn *in, int col)
{
    FILE *out = d->out;
    const OpcodeInfo *info = &pvmB_opcode_info[in->op];
    uint32_t v = (uint32_t)in->operand;
    const char *gname;
    switch (info->operand) {
    case OPND_NONE:
        break;
    case OPND_CONST:
    case OPND_NAME:
    case OPND_FIELD:
        if (literal_resolves_to(d, v)) {
            /* Field names read bare words as strings, so numbers there
             * carry their kind: `getfield float inf`. */
            const PbcConst *c = &d->img->consts[v];
            col += print_value(out, c, info->operand != OPND_CONST && c->kind != PBC_CONST_STRING);
            pad_to_comment(out, col);
            fprintf(out, "#%" PRIu32, v);
        } else {
            col += fprintf(out, "#%" PRIu32, v);
            pad_to_comment(out, col);
            print_const_comment(d, v);
        }
        break;
    case OPND_INT:
        fprintf(out, "%" PRId64, in->operand);
        break;
    case OPND_GLOBAL:
        col += fprintf(out, "%" PRIu32, v);
        if ((gname = global_name(d->img, f->module, v))) {
            pad_to_comment(out, col);
            print_string(out, gname, (uint32_t)strlen(gname), COMMENT_STRING_MAX);
        }
        break;
    case OPND_MODULE:
        col += fprintf(out, "%" PRIu32, v);
        if (v < d->img->nmodules && is_string_const(d->img, d->img->modules[v].name)) {
            const PbcConst *c = &d->img->consts[d->img->modules[v].name];
            pad_to_comment(out, col);
            print_string(out, c->str, c->len, COMMENT_STRING_MAX);
        }
        break;
    case OPND_FUNC:
        print_func_ref(d, v);
        break;
    case OPND_TARGET:
        fprintf(out, "L%" PRIu32, v);
        break;
    case OPND_TYPES:
        print_types(out, v);
        break;
    default:
        fprintf(out, "%" PRIu32, v);
    }
    fputc('\n', out);
}

/* Marks the offsets that jumps land on, so they get labels (a target past
 * the end can have no label, which makes the result inexact). */
static uint8_t *find_targets(Disasm *d, const PbcFunc *f)
{
    uint8_t *target = disasm_calloc(d, (size_t)f->codelen + 1, 1);
    if (!target)
        return NULL;
    PbcInsn in;
    for (uint32_t off = 0; off < f->codelen; off += in.size) {
        if (!pvmB_decode(f->code, f->codelen, off, &in))
            break;
        if (pvmB_opcode_info[in.op].operand != OPND_TARGET)
            continue;
        if (in.operand < f->codelen)
            target[in.operand] = 1;
        else
            d->ok = false;
    }
    return target;
}

static void print_func_header(Disasm *d, uint32_t fi)
{
    const PbcFunc *f = &d->img->funcs[fi];
    bool module_option = needs_module_option(d, fi);
    fprintf(d->out, ".func %s", d->symbols[fi]);
    if (f->name != PBC_NONE) {
        fputc(' ', d->out);
        if (is_string_const(d->img, f->name) && literal_resolves_to(d, f->name))
            print_string(d->out, d->img->consts[f->name].str, d->img->consts[f->name].len, UINT32_MAX);
        else
            fprintf(d->out, "#%" PRIu32, f->name);
    }
    fprintf(d->out, " params=%" PRIu32 "%s locals=%" PRIu32 " stack=%" PRIu32, f->nparams,
            f->flags & PBC_FUNC_VARIADIC ? " variadic" : "", f->nlocals, f->maxstack);
    if (module_option)
        fprintf(d->out, " module=%" PRIu32, f->module);
    fprintf(d->out, "\n");
    for (uint32_t u = 0; u < f->nupvals; u++)
        fprintf(d->out, "    .upval %s %" PRIu32 "\n", f->upvals[u].from_local ? "local" : "upval",
                f->upvals[u].index);
}

/* Writes the line entries at [off]; entries that fall between instruction
 * starts cannot be written and make the result inexact. */
static uint32_t print_lines_at(Disasm *d, const PbcFunc *f, uint32_t i, uint32_t off)
{
    for (; i < f->nlines && f->lines[i].offset <= off; i++) {
        if (f->lines[i].offset == off)
            fprintf(d->out, "    .line %" PRIu32 "\n", f->lines[i].line);
        else
            d->ok = false;
    }
    return i;
}

static void print_func(Disasm *d, uint32_t fi)
{
    const PbcFunc *f = &d->img->funcs[fi];
    print_func_header(d, fi);
    uint8_t *target = find_targets(d, f);
    if (!target)
        return;
    uint32_t line = 0;
    PbcInsn in;
    uint32_t off = 0;
    for (; off < f->codelen; off += in.size) {
        if (target[off])
            fprintf(d->out, "L%" PRIu32 ":\n", off);
        target[off] = 0;
        line = print_lines_at(d, f, line, off);
        if (!pvmB_decode(f->code, f->codelen, off, &in)) {
            fprintf(d->out, "    ; cannot decode byte 0x%02x at offset %" PRIu32 "\n", f->code[off], off);
            d->ok = false;
            break;
        }
        int col = fprintf(d->out, "    %s", pvmB_opcode_info[in.op].mnemonic);
        if (pvmB_opcode_info[in.op].operand != OPND_NONE)
            col += fprintf(d->out, "%*s", col < 14 ? 14 - col : 1, "");
        print_operand(d, f, &in, col);
    }
    line = print_lines_at(d, f, line, off);
    if (line < f->nlines || memchr(target, 1, f->codelen)) /* unplaced entries or labels */
        d->ok = false;
    fprintf(d->out, ".end\n\n");
    free(target);
}

bool pvmC_disassemble(const PbcImage *img, FILE *out)
{
    Disasm d = { .img = img, .out = out, .current = PBC_NONE, .ok = true };
    pvmB_init(&d.pool);
    fprintf(out, "; pvm assembly (constants: %" PRIu32 ", functions: %" PRIu32 ", modules: %" PRIu32 ")\n\n",
            img->nconsts, img->nfuncs, img->nmodules);
    print_consts(&d);
    if (make_symbols(&d)) {
        print_modules(&d);
        for (uint32_t fi = 0; fi < img->nfuncs && d.ok; fi++)
            print_func(&d, fi);
    }
    for (uint32_t fi = 0; d.symbols && fi < img->nfuncs; fi++)
        free(d.symbols[fi]);
    free(d.symbols);
    pvmB_free(&d.pool);
    fflush(out);
    return d.ok && !ferror(out);
}
