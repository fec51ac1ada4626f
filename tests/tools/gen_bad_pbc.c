/* Writes the malformed bytecode files of tests/bad: for each case NAME a
 * NAME.pbc that pvm must reject and a NAME.err holding the start of the
 * message it must give after "pvm: invalid bytecode: " (no newline).
 *
 * Three kinds of case, each a table:
 *   byte cases   a valid file, then cut, patched or extended at an offset
 *                (the reader's structural errors);
 *   code cases   module 0's main function runs the listed instructions
 *                (the verifier's rules about code);
 *   image cases  a valid image with one header or table field broken.
 *
 * Build and run from the repository root:
 *   cc -std=gnu11 -I. tests/tools/gen_bad_pbc.c vm/bytecode/pbc.c vm/bytecode/opcodes.c -o /tmp/gen_bad_pbc
 *   /tmp/gen_bad_pbc tests/bad */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"

/* ------------------------------------------------------- the base image */

/* Constants of the base image. */
enum { K_MAIN, K_PROG, K_FILE, K_INT, K_X, K_FLOAT, K_PRINT };

/* Byte offsets in the base file (checked against its length, BASE_LEN). */
enum {
    AT_VERSION = 4,
    AT_NCONSTS = 8,
    AT_CONST0 = 12,     /* "main": kind 12, length 13, bytes 17..20 */
    AT_CONST3 = 42,     /* 42: kind 42, value 43..50 */
    AT_NFUNCS = 76,
    AT_FLAGS = 92,
    AT_NPARAMS = 88,
    AT_NLOCALS = 93,
    AT_MAXSTACK = 97,
    AT_NUPVALS = 101,
    AT_CODE = 109,      /* int 1; ret */
    AT_NLINES = 115,
    AT_NMODULES = 127,
    AT_NGLOBALS = 143,
    BASE_LEN = 155
};

typedef struct {
    int op;      /* an Opcode, or RAW: emit [arg] as one byte */
    int64_t arg; /* operand, for opcodes that have one */
} Ins;

enum { RAW = 256, END = -1 };

#define OP(o) { OP_##o, 0 }
#define OPA(o, a) { OP_##o, (a) }
#define BYTE(b) { RAW, (b) }
#define FIN { END, 0 }

typedef struct {
    uint8_t b[256];
    uint32_t n;
} Code;

static void emit(Code *c, const Ins *ins)
{
    for (; ins->op != END; ins++) {
        if (ins->op == RAW) {
            c->b[c->n++] = (uint8_t)ins->arg;
            continue;
        }
        c->b[c->n++] = (uint8_t)ins->op;
        if (vm_opcode_size((Opcode)ins->op) == 1)
            continue;
        for (int i = 0; i < 4; i++)
            c->b[c->n++] = (uint8_t)((uint64_t)ins->arg >> (8 * i));
    }
}

static void *copy_of(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (!q) {
        fprintf(stderr, "gen_bad_pbc: out of memory\n");
        exit(1);
    }
    memcpy(q, p, n);
    return q;
}

/* Appends a function of module 0 running [ins]; returns its index. */
static uint32_t add_func(PbcImage *img, uint32_t name, const Ins *ins, uint32_t nlocals, uint32_t maxstack)
{
    Code c = { .n = 0 };
    emit(&c, ins);
    uint32_t fi = pvmB_add_func(img);
    PbcFunc *f = &img->funcs[fi];
    f->name = name;
    f->nlocals = nlocals;
    f->maxstack = maxstack;
    f->code = copy_of(c.b, c.n);
    f->codelen = c.n;
    return fi;
}

static void set_upval(PbcFunc *f, uint8_t from_local, uint32_t index)
{
    PbcUpval u = { .from_local = from_local, .index = index };
    f->upvals = copy_of(&u, sizeof u);
    f->nupvals = 1;
}

static void set_lines(PbcFunc *f, const PbcLine *lines, uint32_t n)
{
    free(f->lines);
    f->lines = copy_of(lines, n * sizeof *lines);
    f->nlines = n;
}

static const Ins RET_ONE[] = { OPA(INT, 1), OP(RET), FIN };

/* Module 0 ("prog", globals x and main) whose main function runs [ins]. */
static void base_image(PbcImage *img, const Ins *ins, uint32_t maxstack, uint32_t nlocals)
{
    pvmB_init(img);
    pvmB_const_string(img, "main", 4);
    pvmB_const_string(img, "prog", 4);
    pvmB_const_string(img, "prog.pv", 7);
    pvmB_const_int(img, 42);
    pvmB_const_string(img, "x", 1);
    pvmB_const_float(img, 1.5);
    pvmB_const_string(img, "print", 5);
    uint32_t fi = add_func(img, K_MAIN, ins, nlocals, maxstack);
    PbcLine line = { 0, 1 };
    set_lines(&img->funcs[fi], &line, 1);
    uint32_t mi = pvmB_add_module(img);
    PbcModule *m = &img->modules[mi];
    m->name = K_PROG;
    m->file = K_FILE;
    m->main = fi;
    uint32_t globals[] = { K_X, K_MAIN };
    m->globals = copy_of(globals, sizeof globals);
    m->nglobals = 2;
}

/* ---------------------------------------------------------- output */

typedef struct {
    const char *dir;
    int written;
} Out;

static void write_file(Out *out, const char *name, const char *ext, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", out->dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_bad_pbc: cannot write %s\n", path);
        exit(1);
    }
}

static void write_case(Out *out, const char *name, const uint8_t *bytes, size_t len, const char *err)
{
    write_file(out, name, "pbc", bytes, len);
    write_file(out, name, "err", err, strlen(err));
    out->written++;
}

static void write_image(Out *out, const char *name, PbcImage *img, const char *err)
{
    uint8_t *bytes;
    size_t len;
    if (!pvmB_write(img, &bytes, &len)) {
        fprintf(stderr, "gen_bad_pbc: %s: cannot encode the image\n", name);
        exit(1);
    }
    write_case(out, name, bytes, len, err);
    free(bytes);
    pvmB_free(img);
}

/* ---------------------------------------------------------- byte cases */

typedef enum { CUT, PUT8, PUT32, APPEND } Edit;

typedef struct {
    const char *name;
    Edit edit;
    uint32_t at;    /* CUT: new length; PUT*: offset */
    uint32_t value; /* PUT*: the new value; APPEND: bytes of garbage */
    const char *err;
} ByteCase;

static const ByteCase byte_cases[] = {
    { "empty_file", CUT, 0, 0, "file at offset 0: truncated header (magic needs 4 bytes, 0 left)" },
    { "trunc_magic", CUT, 3, 0, "file at offset 0: truncated header (magic needs 4 bytes, 3 left)" },
    { "bad_magic", PUT8, 3, 'C', "file at offset 0: bad magic (not a pvm bytecode file)" },
    { "trunc_version", CUT, 6, 0, "file at offset 4: truncated header (format version needs 4 bytes, 2 left)" },
    { "future_version", PUT32, AT_VERSION, 4,
      "file at offset 4: unsupported format version 4 (this pvm reads versions 1 to 3)" },
    { "version_zero", PUT32, AT_VERSION, 0,
      "file at offset 4: unsupported format version 0 (this pvm reads versions 1 to 3)" },
    { "trunc_const_count", CUT, 10, 0, "file at offset 8: truncated constant pool (constant count needs 4 bytes, 2 left)" },
    { "trunc_in_constant", CUT, 47, 0, "file at offset 43: truncated constant pool (int constant needs 8 bytes, 4 left)" },
    { "huge_const_count", PUT32, AT_NCONSTS, 0xFFFFFFFFu,
      "file at offset 8: truncated constant pool (constant count 4294967295 needs at least 21474836475 bytes, 143 left)" },
    { "huge_string_length", PUT32, AT_CONST0 + 1, 0x7FFFFFFFu,
      "file at offset 17: truncated constant pool (string needs 2147483647 bytes, 138 left)" },
    { "unknown_const_kind", PUT8, AT_CONST3, 7, "file at offset 42: unknown constant kind 7" },
    { "trunc_func_count", CUT, AT_NFUNCS + 2, 0,
      "file at offset 76: truncated function table (function count needs 4 bytes, 2 left)" },
    { "huge_func_count", PUT32, AT_NFUNCS, 0x10000000u,
      "file at offset 76: truncated function table (function count 268435456 needs at least 8858370048 bytes, 75 left)" },
    { "trunc_func_header", CUT, 100, 0,
      "file at offset 76: truncated function table (function count 1 needs at least 33 bytes, 20 left)" },
    { "trunc_code", CUT, AT_CODE + 4, 0, "file at offset 109: truncated function table (code needs 6 bytes, 4 left)" },
    { "trunc_line_table", CUT, AT_NLINES + 6, 0,
      "file at offset 115: truncated function table (line count 1 needs at least 8 bytes, 2 left)" },
    { "trunc_module_count", CUT, AT_NMODULES + 2, 0,
      "file at offset 127: truncated module table (module count needs 4 bytes, 2 left)" },
    { "trunc_module_table", CUT, 150, 0,
      "file at offset 143: truncated module table (global count 2 needs at least 8 bytes, 3 left)" },
    { "huge_module_count", PUT32, AT_NMODULES, 0xFFFFFFFFu,
      "file at offset 127: truncated module table (module count 4294967295 needs at least 68719476720 bytes, 24 left)" },
    { "huge_upvalue_count", PUT32, AT_NUPVALS, 1000,
      "file at offset 101: truncated function table (upvalue count 1000 needs at least 5000 bytes, 50 left)" },
    { "trailing_garbage", APPEND, 0, 4, "file at offset 155: 4 trailing bytes after the module table" },
    { "unknown_flags", PUT8, AT_FLAGS, 0x11, "file at offset 92: unknown function flag bits 0x10" },
    { "too_many_params", PUT32, AT_NPARAMS, 1000, "file at offset 88: parameter count 1000 exceeds the limit 255" },
    { "too_many_locals", PUT32, AT_NLOCALS, 65536, "file at offset 93: local count 65536 exceeds the limit 65535" },
    { "huge_maxstack", PUT32, AT_MAXSTACK, 0xFFFFFFFFu,
      "file at offset 97: maximum stack depth 4294967295 exceeds the limit 65535" },
    { "too_many_upvalues", PUT32, AT_NUPVALS, 0xFFFFFFFFu,
      "file at offset 101: upvalue count 4294967295 exceeds the limit 65535" },
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void write_byte_case(Out *out, const ByteCase *bc, const uint8_t *base, size_t len)
{
    uint8_t buf[BASE_LEN + 64];
    memcpy(buf, base, len);
    switch (bc->edit) {
    case CUT:
        len = bc->at;
        break;
    case PUT8:
        buf[bc->at] = (uint8_t)bc->value;
        break;
    case PUT32:
        put32(buf + bc->at, bc->value);
        break;
    case APPEND:
        memset(buf + len, 0xA5, bc->value);
        len += bc->value;
        break;
    }
    write_case(out, bc->name, buf, len, bc->err);
}

static void write_byte_cases(Out *out)
{
    PbcImage img;
    base_image(&img, RET_ONE, 1, 0);
    uint8_t *base;
    size_t len;
    if (!pvmB_write(&img, &base, &len) || len != BASE_LEN) {
        fprintf(stderr, "gen_bad_pbc: the base file is not %d bytes: update the AT_* offsets\n", BASE_LEN);
        exit(1);
    }
    pvmB_free(&img);
    for (size_t i = 0; i < sizeof byte_cases / sizeof byte_cases[0]; i++)
        write_byte_case(out, &byte_cases[i], base, len);
    free(base);
}

/* ---------------------------------------------------------- code cases */

typedef struct {
    const char *name;
    uint32_t maxstack, nlocals;
    Ins code[8];
    const char *err;
} CodeCase;

static const CodeCase code_cases[] = {
    { "unknown_opcode", 1, 0, { BYTE(200), OP(RET), FIN }, "main at offset 0: unknown opcode 200" },
    { "operand_truncated", 1, 0, { OPA(INT, 1), OP(RET), BYTE(OP_JMP), BYTE(0), BYTE(0), FIN },
      "main at offset 6: jmp operand runs past the end of the code" },
    { "jump_mid_instruction", 1, 0, { OPA(INT, 1), OPA(JMP, 3), FIN },
      "main at offset 5: jump target 3 is not an instruction boundary" },
    { "jump_outside_code", 1, 0, { OPA(JMP, 100), FIN },
      "main at offset 0: jump target 100 is outside the code (length 5)" },
    { "branch_to_code_end", 1, 0, { OP(TRUE), OPA(JMPT, 8), OP(NIL), OP(RET), FIN },
      "main at offset 1: jump target 8 is outside the code (length 8)" },
    { "stack_underflow", 2, 0, { OP(ADD), OP(RET), FIN },
      "main at offset 0: stack underflow (depth 0, pops 2)" },
    { "ret_empty_stack", 1, 0, { OP(RET), FIN }, "main at offset 0: stack underflow (depth 0, pops 1)" },
    { "call_missing_args", 2, 0, { OPA(INT, 1), OPA(CALL, 1), OP(RET), FIN },
      "main at offset 5: stack underflow (depth 1, pops 2)" },
    { "depth_mismatch_at_join", 2, 0, { OP(TRUE), OPA(JMPF, 11), OPA(INT, 1), OPA(INT, 2), OP(RET), FIN },
      "main at offset 11: inconsistent stack depth at join (0 vs 1)" },
    { "loop_grows_stack", 8, 0, { OP(NIL), OPA(JMP, 0), FIN },
      "main at offset 0: inconsistent stack depth at join (0 vs 1)" },
    { "exceeds_maxstack", 1, 0, { OPA(INT, 1), OPA(INT, 2), OP(ADD), OP(RET), FIN },
      "main at offset 5: stack depth 2 exceeds declared maximum 1" },
    { "handler_exceeds_maxstack", 1, 0,
      { OPA(INT, 1), OPA(TRY, 12), OP(ENDTRY), OP(RET), OP(RET), FIN },
      "main at offset 5: stack depth 2 exceeds declared maximum 1" },
    { "falls_off_end", 1, 0, { OPA(INT, 1), OP(POP), FIN }, "main at offset 5: code falls off the end" },
    { "branch_falls_off_end", 1, 0, { OP(TRUE), OPA(JMPT, 0), FIN },
      "main at offset 1: code falls off the end" },
    { "bad_const_index", 1, 0, { OPA(CONST, 99), OP(RET), FIN },
      "main at offset 0: constant index 99 out of range (pool has 7)" },
    { "bad_local_index", 1, 1, { OPA(GETLOCAL, 5), OP(RET), FIN },
      "main at offset 0: local index 5 out of range (function has 1 locals)" },
    { "bad_setlocal_index", 1, 0, { OP(NIL), OPA(SETLOCAL, 0), OP(NIL), OP(RET), FIN },
      "main at offset 1: local index 0 out of range (function has 0 locals)" },
    { "bad_close_index", 1, 1, { OPA(CLOSE, 1), OP(NIL), OP(RET), FIN },
      "main at offset 0: local index 1 out of range (function has 1 locals)" },
    { "bad_upvalue_index", 1, 0, { OPA(GETUPVAL, 0), OP(RET), FIN },
      "main at offset 0: upvalue index 0 out of range (function has 0 upvalues)" },
    { "bad_global_index", 1, 0, { OPA(GETGLOBAL, 7), OP(RET), FIN },
      "main at offset 0: global index 7 out of range (module 0 has 2 globals)" },
    { "bad_function_index", 1, 0, { OPA(CLOSURE, 9), OP(RET), FIN },
      "main at offset 0: function index 9 out of range (image has 1 functions)" },
    { "bad_module_index", 1, 0, { OPA(IMPORT, 5), OP(RET), FIN },
      "main at offset 0: module index 5 out of range (image has 1 modules)" },
    { "bad_name_index", 1, 0, { OPA(GETNAME, 99), OP(RET), FIN },
      "main at offset 0: constant index 99 out of range (pool has 7)" },
    { "getname_int_constant", 1, 0, { OPA(GETNAME, K_INT), OP(RET), FIN },
      "main at offset 0: getname needs a string constant but constant 3 is an int" },
    { "getfield_float_constant", 1, 0, { OP(NIL), OPA(GETFIELD, K_FLOAT), OP(RET), FIN },
      "main at offset 1: getfield needs a string constant but constant 5 is a float" },
    { "call_too_many_args", 1, 0, { OP(NIL), OPA(CALL, 300), OP(RET), FIN },
      "main at offset 1: call count 300 exceeds the limit 255" },
    { "endtry_at_depth_zero", 1, 0, { OP(ENDTRY), OP(NIL), OP(RET), FIN },
      "main at offset 0: endtry at try depth 0 (no try block is open)" },
    { "endtry_in_handler", 1, 0,
      { OPA(TRY, 8), OP(ENDTRY), OP(NIL), OP(RET), OP(ENDTRY), OP(RET), FIN },
      "main at offset 8: endtry at try depth 0 (no try block is open)" },
    { "callv_too_many_args", 2, 0, { OP(NIL), OP(NIL), OPA(CALLV, 255), OP(RET), FIN },
      "main at offset 2: stack underflow (depth 2, pops 257)" },
    { "callv_count_over_limit", 2, 0, { OP(NIL), OP(NIL), OPA(CALLV, 256), OP(RET), FIN },
      "main at offset 2: callv count 256 exceeds the limit 255" },
    { "callv_missing_array", 1, 0, { OP(NIL), OPA(CALLV, 0), OP(RET), FIN },
      "main at offset 1: stack underflow (depth 1, pops 2)" },
    { "getor_underflow", 1, 0, { OP(NIL), OPA(GETOR, 6), OP(RET), OP(RET), FIN },
      "main at offset 1: stack underflow (depth 1, pops 2)" },
    { "getor_bad_target", 2, 0, { OP(NIL), OP(NIL), OPA(GETOR, 3), OP(RET), FIN },
      "main at offset 2: jump target 3 is not an instruction boundary" },
    { "getor_depth_mismatch", 2, 0, { OP(NIL), OP(NIL), OPA(GETOR, 8), OP(POP), OP(NIL), OP(RET), FIN },
      "main at offset 8: inconsistent stack depth at join (1 vs 0)" },
    { "istype_empty_set", 1, 0, { OP(NIL), OPA(ISTYPE, 0), OP(RET), FIN },
      "main at offset 1: istype type set 0x0 is not a non-empty set of the 9 type bits" },
    { "istype_unknown_bits", 1, 0, { OP(NIL), OPA(ISTYPE, 0x204), OP(RET), FIN },
      "main at offset 1: istype type set 0x204 is not a non-empty set of the 9 type bits" },
    { "istype_underflow", 1, 0, { OPA(ISTYPE, 1), OP(RET), FIN },
      "main at offset 0: stack underflow (depth 0, pops 1)" },
    { "raise_underflow", 1, 0, { OPA(RAISE, 3), FIN }, "main at offset 0: stack underflow (depth 0, pops 1)" },
    { "raise_not_last_falls_through", 1, 0, { OP(NIL), OPA(RAISE, 3), OP(NIL), FIN },
      "main at offset 6: code falls off the end" },
    { "try_depth_mismatch", 1, 0, { OPA(TRY, 10), OPA(JMP, 11), OP(POP), OP(NIL), OP(RET), FIN },
      "main at offset 11: inconsistent try depth at join (1 vs 0)" },
};

/* A file may not use the opcodes of a later version than its header's:
 * the image is written (as version [written], the lowest that holds its
 * code) and its header set back to [header]. */
static void write_older_version_case(Out *out, const char *name, const Ins *code, uint32_t written,
                                     uint32_t header, const char *err)
{
    PbcImage img;
    base_image(&img, code, 1, 0);
    uint8_t *bytes;
    size_t len;
    if (!pvmB_write(&img, &bytes, &len) || bytes[AT_VERSION] != written) {
        fprintf(stderr, "gen_bad_pbc: %s: not written as version %u\n", name, written);
        exit(1);
    }
    put32(bytes + AT_VERSION, header);
    write_case(out, name, bytes, len, err);
    free(bytes);
    pvmB_free(&img);
}

static void write_version_cases(Out *out)
{
    static const Ins v2_code[] = { OP(NIL), OPA(ISTYPE, 1), OP(RET), FIN };
    write_older_version_case(out, "v1_with_v2_opcode", v2_code, 2, 1,
                             "main at offset 1: istype needs format version 2, but the file is version 1");
    static const Ins v3_code[] = { OP(NIL), OPA(GETMETHOD, 0), OP(POP), OP(RET), FIN };
    write_older_version_case(out, "v2_with_v3_opcode", v3_code, 3, 2,
                             "main at offset 1: getmethod needs format version 3, but the file is version 2");
}

static void write_code_cases(Out *out)
{
    write_version_cases(out);
    for (size_t i = 0; i < sizeof code_cases / sizeof code_cases[0]; i++) {
        const CodeCase *cc = &code_cases[i];
        PbcImage img;
        base_image(&img, cc->code, cc->maxstack, cc->nlocals);
        write_image(out, cc->name, &img, cc->err);
    }
}

/* --------------------------------------------------------- image cases */

/* fn (x) { return x + up; }, capturing [from_local] slot 0. */
static void add_adder(PbcImage *img, uint8_t from_local)
{
    static const Ins code[] = { OPA(GETLOCAL, 0), OPA(GETUPVAL, 0), OP(ADD), OP(RET), FIN };
    uint32_t fi = add_func(img, pvmB_const_string(img, "adder", 5), code, 1, 2);
    img->funcs[fi].nparams = 1;
    set_upval(&img->funcs[fi], from_local, 0);
}

static const Ins CLOSE_ADDER[] = { OPA(CLOSURE, 1), OP(RET), FIN };

static void closure_bad_local(PbcImage *img)
{
    base_image(img, CLOSE_ADDER, 1, 0);
    add_adder(img, 1);
}

static void closure_bad_upvalue(PbcImage *img)
{
    base_image(img, CLOSE_ADDER, 1, 1);
    add_adder(img, 0);
}

static void bad_upvalue_kind(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 1);
    set_upval(&img->funcs[0], 2, 0);
}

static void line_mid_instruction(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    PbcLine lines[] = { { 0, 1 }, { 2, 1 } };
    set_lines(&img->funcs[0], lines, 2);
}

static void line_not_increasing(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    PbcLine lines[] = { { 0, 1 }, { 5, 2 }, { 5, 3 } };
    set_lines(&img->funcs[0], lines, 3);
}

static void line_outside_code(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    PbcLine line = { 6, 1 };
    set_lines(&img->funcs[0], &line, 1);
}

static void main_with_params(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 1);
    img->funcs[0].nparams = 1;
}

static void main_variadic(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 1);
    img->funcs[0].flags = PBC_FUNC_VARIADIC;
}

static void main_with_upvalues(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 1);
    set_upval(&img->funcs[0], 1, 0);
}

static void main_of_other_module(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    uint32_t fi = add_func(img, pvmB_const_string(img, "libmain", 7), RET_ONE, 0, 1);
    uint32_t mi = pvmB_add_module(img);
    img->modules[mi] = (PbcModule){ .name = K_X, .file = K_FILE, .main = fi };
}

static void params_exceed_locals(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    uint32_t fi = add_func(img, pvmB_const_string(img, "f", 1), RET_ONE, 1, 1);
    img->funcs[fi].nparams = 2;
}

static void variadic_without_rest_slot(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    uint32_t fi = add_func(img, pvmB_const_string(img, "f", 1), RET_ONE, 1, 1);
    img->funcs[fi].nparams = 1;
    img->funcs[fi].flags = PBC_FUNC_VARIADIC;
}

static void empty_code(PbcImage *img)
{
    static const Ins none[] = { FIN };
    base_image(img, RET_ONE, 1, 0);
    add_func(img, PBC_NONE, none, 0, 0);
}

static void bad_module_main(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->modules[0].main = 5;
}

static void no_modules(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    free(img->modules[0].globals);
    img->nmodules = 0;
}

static void module_name_not_string(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->modules[0].name = K_INT;
}

static void module_file_out_of_range(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->modules[0].file = 99;
}

static void global_name_not_string(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->modules[0].globals[1] = K_FLOAT;
}

static void func_name_not_string(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->funcs[0].name = K_INT;
}

static void func_module_out_of_range(PbcImage *img)
{
    base_image(img, RET_ONE, 1, 0);
    img->funcs[0].module = 3;
}

typedef struct {
    const char *name;
    void (*build)(PbcImage *img);
    const char *err;
} ImageCase;

static const ImageCase image_cases[] = {
    { "closure_bad_local", closure_bad_local,
      "main at offset 0: closure 1: upvalue 0 captures local 0, out of range (function has 0 locals)" },
    { "closure_bad_upvalue", closure_bad_upvalue,
      "main at offset 0: closure 1: upvalue 0 captures upvalue 0, out of range (function has 0 upvalues)" },
    { "bad_upvalue_kind", bad_upvalue_kind, "file at offset 105: upvalue kind 2 is neither 0 (upvalue) nor 1 (local)" },
    { "line_mid_instruction", line_mid_instruction,
      "main at offset 2: line table entry 1 is not at an instruction boundary" },
    { "line_not_increasing", line_not_increasing,
      "main at offset 5: line table entry 2 does not follow entry 1's offset 5" },
    { "line_outside_code", line_outside_code, "main at offset 6: line table entry 0 is outside the code (length 6)" },
    { "main_with_params", main_with_params, "module 0: main function 0 (main) must take no parameters" },
    { "main_variadic", main_variadic, "module 0: main function 0 (main) must take no parameters" },
    { "main_with_upvalues", main_with_upvalues, "module 0: main function 0 (main) must have no upvalues" },
    { "main_of_other_module", main_of_other_module, "module 1: main function 1 (libmain) belongs to module 0" },
    { "params_exceed_locals", params_exceed_locals, "function 1 (f): nparams 2 exceeds nlocals 1" },
    { "variadic_without_rest_slot", variadic_without_rest_slot,
      "function 1 (f): nparams 1 plus the rest array exceeds nlocals 1" },
    { "empty_code", empty_code, "function 1 (<anon>): code is empty" },
    { "bad_module_main", bad_module_main, "module 0: main function 5 out of range (1 functions)" },
    { "no_modules", no_modules, "image has no modules (module 0 is the program)" },
    { "module_name_not_string", module_name_not_string, "module 0: name 3 is not a string constant" },
    { "module_file_out_of_range", module_file_out_of_range, "module 0: file name 99 is not a string constant" },
    { "global_name_not_string", global_name_not_string, "module 0: name 5 of global 1 is not a string constant" },
    { "func_name_not_string", func_name_not_string, "function 0: name 3 is not a string constant" },
    { "func_module_out_of_range", func_module_out_of_range, "function 0 (main): module 3 out of range (1 modules)" },
};

static void write_image_cases(Out *out)
{
    for (size_t i = 0; i < sizeof image_cases / sizeof image_cases[0]; i++) {
        PbcImage img;
        image_cases[i].build(&img);
        write_image(out, image_cases[i].name, &img, image_cases[i].err);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_bad_pbc DIR\n");
        return 2;
    }
    Out out = { .dir = argv[1] };
    write_byte_cases(&out);
    write_code_cases(&out);
    write_image_cases(&out);
    printf("gen_bad_pbc: wrote %d cases to %s\n", out.written, out.dir);
    return 0;
}
