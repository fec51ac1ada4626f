/* The .pbc image: an in-memory, host-independent picture of a bytecode file.
 *
 * This is the contract between producers of bytecode (the assembler, the
 * compiler) and its consumers (the writer, the reader, the verifier, the
 * loader). It holds plain C data only, never VM values, so the compiler can
 * build one without knowing anything about the VM's internals.
 *
 * File layout (all integers little-endian; docs/bytecode.md is the full text):
 *   magic "PVMB", u32 version (PBC_MIN_VERSION .. PBC_VERSION; a writer
 *   puts the lowest version whose opcodes the code uses, see
 *   pvmB_image_version)
 *   u32 nconsts, then per constant: u8 kind, then
 *       int: i64 | float: u64 IEEE bits | string: u32 len, len bytes
 *   u32 nfuncs, then per function:
 *       u32 name (string constant index, or PBC_NONE for anonymous)
 *       u32 module, u32 nparams, u8 flags (bit 0: variadic),
 *       u32 nlocals, u32 maxstack,
 *       u32 nupvals, per upvalue: u8 from_local (1: enclosing function's
 *           local, 0: enclosing closure's upvalue), u32 index
 *       u32 codelen, codelen bytes of code
 *       u32 nlines, per entry: u32 offset, u32 line
 *   u32 nmodules, then per module:
 *       u32 name (string const), u32 file (string const), u32 main (function),
 *       u32 nglobals, per global: u32 name (string const)
 *   end of file (trailing bytes are an error)
 * Module 0 is the program; the others are the modules it imports. */
#ifndef PVM_PBC_H
#define PVM_PBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vm/config.h"

#define PBC_MAGIC "PVMB"
/* Format versions this pvm reads. Versions 2 and 3 added opcodes only
 * (PBC_FIRST_V2_OP, PBC_FIRST_V3_OP on); the layout is the same. */
#define PBC_VERSION 3u
#define PBC_MIN_VERSION 1u
#define PBC_NONE 0xFFFFFFFFu


#define PBC_FUNC_VARIADIC 1u

typedef enum { PBC_CONST_INT = 1, PBC_CONST_FLOAT = 2, PBC_CONST_STRING = 3 } PbcConstKind;

typedef struct {
    uint8_t kind;      /* PbcConstKind */
    int64_t i;         /* PBC_CONST_INT */
    double f;          /* PBC_CONST_FLOAT */
    char *str;         /* PBC_CONST_STRING: malloc'd, NUL-terminated, may hold NULs */
    uint32_t len;      /* PBC_CONST_STRING: byte length */
} PbcConst;

typedef struct {
    uint8_t from_local; /* 1: local slot of the enclosing function; 0: its upvalue */
    uint32_t index;
} PbcUpval;

typedef struct {
    uint32_t offset; /* code offset where this line starts applying */
    uint32_t line;
} PbcLine;

typedef struct {
    uint32_t name;      /* string constant, or PBC_NONE */
    uint32_t module;
    uint32_t nparams;
    uint8_t flags;      /* PBC_FUNC_* */
    uint32_t nlocals;   /* including parameters (and the rest array) */
    uint32_t maxstack;
    uint32_t nupvals;
    PbcUpval *upvals;
    uint32_t codelen;
    uint8_t *code;
    uint32_t nlines;
    PbcLine *lines;
} PbcFunc;

typedef struct {
    uint32_t name;      /* string constant */
    uint32_t file;      /* string constant: source file name for traces */
    uint32_t main;      /* function run on first import */
    uint32_t nglobals;
    uint32_t *globals;  /* string constants naming each global slot */
} PbcModule;

typedef struct {
    uint32_t nconsts, consts_cap;
    PbcConst *consts;
    uint32_t nfuncs, funcs_cap;
    PbcFunc *funcs;
    uint32_t nmodules, modules_cap;
    PbcModule *modules;
    uint32_t version;  /* read: the file's format version; built in memory: 0 (any) */
    void *const_index; /* builder's dedup index; private to pbc.c */
} PbcImage;

/* Reading and writing. Errors are written to [err] as
 * "file at offset N: RULE" and the function returns false. */
bool pvmB_read(const uint8_t *bytes, size_t len, PbcImage *out, char *err, size_t errlen);
bool pvmB_write(const PbcImage *img, uint8_t **out, size_t *outlen);
void pvmB_free(PbcImage *img);

/* The format version pvmB_write puts in the file: the lowest one that has
 * every opcode the image's code uses (so a file that needs nothing new
 * still loads in an older pvm). */
uint32_t pvmB_image_version(const PbcImage *img);

/* Whole-file reading, for every tool that loads source or bytecode. The
 * buffer is malloc'd (the caller frees it). false with errno set: EFBIG
 * past [max] bytes, ENOMEM, or the OS error. */
bool pvmB_read_stream(FILE *f, size_t max, char **data, size_t *len);
bool pvmB_read_path(const char *path, size_t max, char **data, size_t *len);

/* Verification (vm/bytecode/verify.c): checks every rule of docs/bytecode.md.
 * Errors are "FUNCTION at offset N: RULE". */
bool pvmB_verify(const PbcImage *img, char *err, size_t errlen);

/* Building. Constants are deduplicated (same kind and same bits/bytes);
 * pbc_add_const_* always appends. Functions and modules are appended and
 * their index returned; their arrays are owned by the image. */
void pvmB_init(PbcImage *img);
uint32_t pvmB_const_int(PbcImage *img, int64_t v);
uint32_t pvmB_const_float(PbcImage *img, double v);
uint32_t pvmB_const_string(PbcImage *img, const char *s, uint32_t len);
uint32_t pvmB_add_const_int(PbcImage *img, int64_t v);
uint32_t pvmB_add_const_float(PbcImage *img, double v);
uint32_t pvmB_add_const_string(PbcImage *img, const char *s, uint32_t len);
uint32_t pvmB_add_func(PbcImage *img);     /* zeroed, name = PBC_NONE */
uint32_t pvmB_add_module(PbcImage *img);   /* zeroed */

/* Code decoding shared by every reader of code bytes. */
typedef struct {
    uint8_t op;       /* Opcode */
    int64_t operand;  /* sign-extended for OPND_INT, zero-extended otherwise */
    uint32_t size;    /* 1 or 5 */
} PbcInsn;

/* Decodes the instruction at [offset]; false if the opcode is unknown or the
 * operand runs past [codelen]. */
bool pvmB_decode(const uint8_t *code, uint32_t codelen, uint32_t offset, PbcInsn *out);

/* Display name of function [index] for messages: its name, or "<anon>". */
const char *pvmB_func_name(const PbcImage *img, uint32_t index);

#endif
