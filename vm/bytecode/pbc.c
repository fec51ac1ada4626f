/* The .pbc image: building it (with constant deduplication), writing it in
 * the portable file layout of pbc.h, reading a file back with strict
 * structural checks, and decoding instructions. Semantic rules (indices,
 * stack depths, jump targets) belong to the verifier in verify.c. */
#include "vm/bytecode/pbc.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"

/* ---------------------------------------------------------------- arrays */

/* Makes room for one more element in [*arr] of [*cap] elements holding [n].
 * Counts stay below PBC_NONE so an index never collides with "none". */
static bool grow(void **arr, uint32_t *cap, uint32_t n, size_t elem)
{
    if (n < *cap)
        return true;
    if (n >= PBC_NONE - 1)
        return false;
    uint64_t ncap = *cap ? (uint64_t)*cap * 2 : 8;
    if (ncap > PBC_NONE - 1)
        ncap = PBC_NONE - 1;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = (uint32_t)ncap;
    return true;
}

void pvmB_init(PbcImage *img)
{
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------ constant identity */

static uint64_t float_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Finaliser from splitmix64: spreads every input bit over the whole word. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t const_hash(const PbcConst *c)
{
    switch (c->kind) {
    case PBC_CONST_INT:
        return mix64((uint64_t)c->i) ^ 1;
    case PBC_CONST_FLOAT:
        return mix64(float_bits(c->f)) ^ 2;
    default: {
        uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
        for (uint32_t i = 0; i < c->len; i++)
            h = (h ^ (uint8_t)c->str[i]) * 0x100000001b3ull;
        return mix64(h ^ c->len) ^ 3;
    }
    }
}

/* Same kind and the same bits: -0.0 and 0.0, or two NaN payloads, differ. */
static bool const_same(const PbcConst *a, const PbcConst *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case PBC_CONST_INT:
        return a->i == b->i;
    case PBC_CONST_FLOAT:
        return float_bits(a->f) == float_bits(b->f);
    default:
        return a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0);
    }
}

/* ------------------------------------------------------ the dedup index */

/* An open-addressing hash set of constant indices, kept behind
 * img->const_index. It indexes the pool lazily, so constants appended by
 * pbc_add_const_* or loaded by pvmB_read are found too; when the pool holds
 * duplicates the lowest index wins. */
typedef struct {
    uint32_t *slots;  /* constant index + 1; 0 marks an empty slot */
    uint32_t cap;     /* a power of two, at least twice [used] */
    uint32_t used;
    uint32_t indexed; /* consts[0 .. indexed) have been considered */
} ConstIndex;

static uint32_t index_find(const ConstIndex *ix, const PbcImage *img, const PbcConst *c)
{
    uint32_t mask = ix->cap - 1;
    for (uint32_t s = (uint32_t)const_hash(c) & mask;; s = (s + 1) & mask) {
        uint32_t k = ix->slots[s];
        if (k == 0)
            return PBC_NONE;
        if (const_same(&img->consts[k - 1], c))
            return k - 1;
    }
}

static void index_put(ConstIndex *ix, const PbcImage *img, uint32_t k)
{
    uint32_t mask = ix->cap - 1;
    uint32_t s = (uint32_t)const_hash(&img->consts[k]) & mask;
    while (ix->slots[s] != 0)
        s = (s + 1) & mask;
    ix->slots[s] = k + 1;
    ix->used++;
}

/* Doubles the slot array and reinserts every indexed constant. */
static bool index_rehash(ConstIndex *ix, const PbcImage *img)
{
    uint64_t ncap = ix->cap ? (uint64_t)ix->cap * 2 : 64;
    if (ncap > ((uint64_t)1 << 31))
        return false;
    uint32_t *old = ix->slots, oldcap = ix->cap;
    ix->slots = calloc((size_t)ncap, sizeof *ix->slots);
    if (!ix->slots) {
        ix->slots = old;
        return false;
    }
    ix->cap = (uint32_t)ncap;
    ix->used = 0;
    for (uint32_t s = 0; s < oldcap; s++)
        if (old[s])
            index_put(ix, img, old[s] - 1);
    free(old);
    return true;
}

/* Returns the image's index, brought up to date with the pool, or NULL
 * when memory runs out (the caller then simply appends). */
static ConstIndex *index_sync(PbcImage *img)
{
    ConstIndex *ix = img->const_index;
    if (!ix) {
        ix = calloc(1, sizeof *ix);
        if (!ix)
            return NULL;
        img->const_index = ix;
    }
    for (; ix->indexed < img->nconsts; ix->indexed++) {
        if ((uint64_t)(ix->used + 1) * 2 > ix->cap && !index_rehash(ix, img))
            return NULL;
        if (index_find(ix, img, &img->consts[ix->indexed]) == PBC_NONE)
            index_put(ix, img, ix->indexed);
    }
    return ix;
}

static uint32_t find_const(PbcImage *img, const PbcConst *probe)
{
    ConstIndex *ix = index_sync(img);
    if (!ix || ix->cap == 0)
        return PBC_NONE;
    return index_find(ix, img, probe);
}

static void index_free(PbcImage *img)
{
    ConstIndex *ix = img->const_index;
    if (ix)
        free(ix->slots);
    free(ix);
    img->const_index = NULL;
}

/* ------------------------------------------------------------- builder */

/* Appends [c] (taking ownership of its string); PBC_NONE when out of memory. */
static uint32_t append_const(PbcImage *img, PbcConst c)
{
    if (!grow((void **)&img->consts, &img->consts_cap, img->nconsts, sizeof c)) {
        free(c.str);
        return PBC_NONE;
    }
    img->consts[img->nconsts] = c;
    return img->nconsts++;
}

uint32_t pvmB_add_const_int(PbcImage *img, int64_t v)
{
    return append_const(img, (PbcConst){ .kind = PBC_CONST_INT, .i = v });
}

uint32_t pvmB_add_const_float(PbcImage *img, double v)
{
    return append_const(img, (PbcConst){ .kind = PBC_CONST_FLOAT, .f = v });
}

uint32_t pvmB_add_const_string(PbcImage *img, const char *s, uint32_t len)
{
    char *copy = malloc((size_t)len + 1);
    if (!copy)
        return PBC_NONE;
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    return append_const(img, (PbcConst){ .kind = PBC_CONST_STRING, .str = copy, .len = len });
}

uint32_t pvmB_const_int(PbcImage *img, int64_t v)
{
    PbcConst probe = { .kind = PBC_CONST_INT, .i = v };
    uint32_t k = find_const(img, &probe);
    return k != PBC_NONE ? k : pvmB_add_const_int(img, v);
}

uint32_t pvmB_const_float(PbcImage *img, double v)
{
    PbcConst probe = { .kind = PBC_CONST_FLOAT, .f = v };
    uint32_t k = find_const(img, &probe);
    return k != PBC_NONE ? k : pvmB_add_const_float(img, v);
}

uint32_t pvmB_const_string(PbcImage *img, const char *s, uint32_t len)
{
    PbcConst probe = { .kind = PBC_CONST_STRING, .str = (char *)s, .len = len };
    uint32_t k = find_const(img, &probe);
    return k != PBC_NONE ? k : pvmB_add_const_string(img, s, len);
}

uint32_t pvmB_add_func(PbcImage *img)
{
    if (!grow((void **)&img->funcs, &img->funcs_cap, img->nfuncs, sizeof(PbcFunc)))
        return PBC_NONE;
    PbcFunc *f = &img->funcs[img->nfuncs];
    memset(f, 0, sizeof *f);
    f->name = PBC_NONE;
    return img->nfuncs++;
}

uint32_t pvmB_add_module(PbcImage *img)
{
    if (!grow((void **)&img->modules, &img->modules_cap, img->nmodules, sizeof(PbcModule)))
        return PBC_NONE;
    memset(&img->modules[img->nmodules], 0, sizeof(PbcModule));
    return img->nmodules++;
}

void pvmB_free(PbcImage *img)
{
    for (uint32_t i = 0; i < img->nconsts; i++)
        free(img->consts[i].str);
    for (uint32_t i = 0; i < img->nfuncs; i++) {
        free(img->funcs[i].upvals);
        free(img->funcs[i].code);
        free(img->funcs[i].lines);
    }
    for (uint32_t i = 0; i < img->nmodules; i++)
        free(img->modules[i].globals);
    free(img->consts);
    free(img->funcs);
    free(img->modules);
    index_free(img);
    pvmB_init(img);
}

/* -------------------------------------------------------------- writer */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool failed; /* out of memory, or the image is inconsistent */
} OutBuf;

static void put_bytes(OutBuf *o, const void *src, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (!src || n > SIZE_MAX - o->len) {
        o->failed = true;
        return;
    }
    if (o->len + n > o->cap) {
        size_t ncap = o->cap ? o->cap : 256;
        while (ncap < o->len + n)
            ncap = ncap > SIZE_MAX / 2 ? o->len + n : ncap * 2;
        uint8_t *np = realloc(o->p, ncap);
        if (!np) {
            o->failed = true;
            return;
        }
        o->p = np;
        o->cap = ncap;
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

static void put_u8(OutBuf *o, uint8_t v)
{
    put_bytes(o, &v, 1);
}

static void put_u32(OutBuf *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put_bytes(o, b, 4);
}

static void put_u64(OutBuf *o, uint64_t v)
{
    put_u32(o, (uint32_t)v);
    put_u32(o, (uint32_t)(v >> 32));
}

static void write_const(OutBuf *o, const PbcConst *c)
{
    put_u8(o, c->kind);
    switch (c->kind) {
    case PBC_CONST_INT:
        put_u64(o, (uint64_t)c->i);
        break;
    case PBC_CONST_FLOAT:
        put_u64(o, float_bits(c->f));
        break;
    case PBC_CONST_STRING:
        put_u32(o, c->len);
        put_bytes(o, c->str, c->len);
        break;
    default:
        o->failed = true;
    }
}

static void write_func(OutBuf *o, const PbcFunc *f)
{
    put_u32(o, f->name);
    put_u32(o, f->module);
    put_u32(o, f->nparams);
    put_u8(o, f->flags);
    put_u32(o, f->nlocals);
    put_u32(o, f->maxstack);
    put_u32(o, f->nupvals);
    for (uint32_t i = 0; i < f->nupvals && !o->failed; i++) {
        put_u8(o, f->upvals[i].from_local);
        put_u32(o, f->upvals[i].index);
    }
    put_u32(o, f->codelen);
    put_bytes(o, f->code, f->codelen);
    put_u32(o, f->nlines);
    for (uint32_t i = 0; i < f->nlines && !o->failed; i++) {
        put_u32(o, f->lines[i].offset);
        put_u32(o, f->lines[i].line);
    }
}

static void write_module(OutBuf *o, const PbcModule *m)
{
    put_u32(o, m->name);
    put_u32(o, m->file);
    put_u32(o, m->main);
    put_u32(o, m->nglobals);
    for (uint32_t i = 0; i < m->nglobals && !o->failed; i++)
        put_u32(o, m->globals[i]);
}

/* A NULL array with a non-zero count makes the write fail (OutBuf.failed)
 * rather than crash. On success [*out] is malloc'd; the caller frees it. */
bool pvmB_write(const PbcImage *img, uint8_t **out, size_t *outlen)
{
    OutBuf o = { 0 };
    put_bytes(&o, PBC_MAGIC, 4);
    put_u32(&o, pvmB_image_version(img));
    put_u32(&o, img->nconsts);
    for (uint32_t i = 0; i < img->nconsts && !o.failed; i++)
        write_const(&o, &img->consts[i]);
    put_u32(&o, img->nfuncs);
    for (uint32_t i = 0; i < img->nfuncs && !o.failed; i++)
        write_func(&o, &img->funcs[i]);
    put_u32(&o, img->nmodules);
    for (uint32_t i = 0; i < img->nmodules && !o.failed; i++)
        write_module(&o, &img->modules[i]);
    if (o.failed) {
        free(o.p);
        return false;
    }
    *out = o.p;
    *outlen = o.len;
    return true;
}

/* -------------------------------------------------------------- reader */

/* Minimum encoded sizes, used to reject impossible counts before allocating. */
enum {
    MIN_CONST_SIZE = 5,   /* kind + string length */
    MIN_FUNC_SIZE = 33,   /* nine header fields with empty arrays */
    UPVAL_SIZE = 5,
    LINE_SIZE = 8,
    MIN_MODULE_SIZE = 16,
    GLOBAL_SIZE = 4
};

typedef struct {
    const uint8_t *bytes;
    size_t len, pos;
    char *err;
    size_t errlen;
    const char *section; /* names the part being read, for "truncated ..." */
    uint32_t version;    /* the header's format version */
} Reader;

PVM_PRINTF(3, 4) static bool rfail(Reader *r, size_t at, const char *fmt, ...)
{
    if (!r->err || r->errlen == 0)
        return false;
    int n = snprintf(r->err, r->errlen, "file at offset %zu: ", at);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static size_t remaining(const Reader *r)
{
    return r->len - r->pos;
}

/* Fails with "truncated SECTION (WHAT needs N bytes, M left)" unless [n]
 * more bytes are present. */
static bool need(Reader *r, size_t n, const char *what)
{
    if (remaining(r) >= n)
        return true;
    return rfail(r, r->pos, "truncated %s (%s needs %zu bytes, %zu left)", r->section, what, n, remaining(r));
}

/* Fails unless the rest of the file can hold [n] records of at least
 * [each] bytes, so no allocation is ever larger than the file justifies;
 * [at] is where the count was read. */
static bool fits(Reader *r, size_t at, const char *what, uint32_t n, size_t each)
{
    uint64_t least = (uint64_t)n * each;
    if (least <= remaining(r))
        return true;
    return rfail(r, at, "truncated %s (%s %u needs at least %llu bytes, %zu left)", r->section, what, n,
                 (unsigned long long)least, remaining(r));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool get_u8(Reader *r, const char *what, uint8_t *v)
{
    if (!need(r, 1, what))
        return false;
    *v = r->bytes[r->pos++];
    return true;
}

static bool get_u32(Reader *r, const char *what, uint32_t *v)
{
    if (!need(r, 4, what))
        return false;
    *v = le32(r->bytes + r->pos);
    r->pos += 4;
    return true;
}

static bool get_u64(Reader *r, const char *what, uint64_t *v)
{
    if (!need(r, 8, what))
        return false;
    *v = le32(r->bytes + r->pos) | (uint64_t)le32(r->bytes + r->pos + 4) << 32;
    r->pos += 8;
    return true;
}

/* Reads a count of records of at least [each] bytes each. */
static bool get_count(Reader *r, const char *what, size_t each, uint32_t *n)
{
    size_t at = r->pos;
    return get_u32(r, what, n) && fits(r, at, what, *n, each);
}

/* Reads a u32 field that must not exceed [limit]. */
static bool get_limited(Reader *r, const char *what, uint32_t limit, uint32_t *v)
{
    size_t at = r->pos;
    if (!get_u32(r, what, v))
        return false;
    if (*v <= limit)
        return true;
    return rfail(r, at, "%s %u exceeds the limit %u", what, *v, limit);
}

/* calloc that treats zero elements as an empty, NULL array. */
static bool alloc_array(Reader *r, void **p, uint32_t n, size_t elem)
{
    *p = NULL;
    if (n == 0)
        return true;
    *p = calloc(n, elem);
    return *p || rfail(r, r->pos, "out of memory");
}

static bool read_string(Reader *r, PbcConst *c)
{
    if (!get_u32(r, "string length", &c->len))
        return false;
    if (!need(r, c->len, "string"))
        return false;
    c->str = malloc((size_t)c->len + 1);
    if (!c->str)
        return rfail(r, r->pos, "out of memory");
    memcpy(c->str, r->bytes + r->pos, c->len);
    c->str[c->len] = '\0';
    r->pos += c->len;
    return true;
}

static bool read_const(Reader *r, PbcConst *c)
{
    size_t at = r->pos;
    uint64_t bits;
    if (!get_u8(r, "constant kind", &c->kind))
        return false;
    switch (c->kind) {
    case PBC_CONST_INT:
        if (!get_u64(r, "int constant", &bits))
            return false;
        c->i = (int64_t)bits;
        return true;
    case PBC_CONST_FLOAT:
        if (!get_u64(r, "float constant", &bits))
            return false;
        memcpy(&c->f, &bits, sizeof c->f);
        return true;
    case PBC_CONST_STRING:
        return read_string(r, c);
    default:
        return rfail(r, at, "unknown constant kind %u", c->kind);
    }
}

static bool read_consts(Reader *r, PbcImage *img)
{
    r->section = "constant pool";
    uint32_t n;
    if (!get_count(r, "constant count", MIN_CONST_SIZE, &n))
        return false;
    if (!alloc_array(r, (void **)&img->consts, n, sizeof(PbcConst)))
        return false;
    img->consts_cap = n;
    for (; img->nconsts < n; img->nconsts++)
        if (!read_const(r, &img->consts[img->nconsts]))
            return false;
    return true;
}

static bool read_upvals(Reader *r, PbcFunc *f)
{
    uint32_t n;
    size_t at = r->pos;
    if (!get_limited(r, "upvalue count", PBC_MAX_UPVALS, &n))
        return false;
    if (!fits(r, at, "upvalue count", n, UPVAL_SIZE))
        return false;
    if (!alloc_array(r, (void **)&f->upvals, n, sizeof(PbcUpval)))
        return false;
    f->nupvals = n;
    for (uint32_t i = 0; i < n; i++) {
        PbcUpval *u = &f->upvals[i];
        at = r->pos;
        if (!get_u8(r, "upvalue kind", &u->from_local) || !get_u32(r, "upvalue index", &u->index))
            return false;
        if (u->from_local > 1)
            return rfail(r, at, "upvalue kind %u is neither 0 (upvalue) nor 1 (local)", u->from_local);
    }
    return true;
}

static bool read_code(Reader *r, PbcFunc *f)
{
    uint32_t n;
    if (!get_u32(r, "code length", &n) || !need(r, n, "code"))
        return false;
    if (!alloc_array(r, (void **)&f->code, n, 1))
        return false;
    if (n)
        memcpy(f->code, r->bytes + r->pos, n);
    f->codelen = n;
    r->pos += n;
    return true;
}

static bool read_lines(Reader *r, PbcFunc *f)
{
    uint32_t n;
    if (!get_count(r, "line count", LINE_SIZE, &n))
        return false;
    if (!alloc_array(r, (void **)&f->lines, n, sizeof(PbcLine)))
        return false;
    f->nlines = n;
    for (uint32_t i = 0; i < n; i++) {
        f->lines[i].offset = le32(r->bytes + r->pos);
        f->lines[i].line = le32(r->bytes + r->pos + 4);
        r->pos += LINE_SIZE;
    }
    return true;
}

static bool read_flags(Reader *r, PbcFunc *f)
{
    size_t at = r->pos;
    if (!get_u8(r, "flags", &f->flags))
        return false;
    if ((f->flags & ~PBC_FUNC_VARIADIC) == 0)
        return true;
    return rfail(r, at, "unknown function flag bits 0x%02x", f->flags & ~PBC_FUNC_VARIADIC);
}

static bool read_func(Reader *r, PbcFunc *f)
{
    f->name = PBC_NONE;
    return get_u32(r, "function name", &f->name) && get_u32(r, "function module", &f->module)
        && get_limited(r, "parameter count", PBC_MAX_PARAMS, &f->nparams) && read_flags(r, f)
        && get_limited(r, "local count", PBC_MAX_LOCALS, &f->nlocals)
        && get_limited(r, "maximum stack depth", PBC_MAX_STACK, &f->maxstack) && read_upvals(r, f)
        && read_code(r, f) && read_lines(r, f);
}

static bool read_funcs(Reader *r, PbcImage *img)
{
    r->section = "function table";
    uint32_t n;
    if (!get_count(r, "function count", MIN_FUNC_SIZE, &n))
        return false;
    if (!alloc_array(r, (void **)&img->funcs, n, sizeof(PbcFunc)))
        return false;
    img->funcs_cap = n;
    /* Count each function before filling it so pvmB_free releases partial ones. */
    while (img->nfuncs < n)
        if (!read_func(r, &img->funcs[img->nfuncs++]))
            return false;
    return true;
}

static bool read_module(Reader *r, PbcModule *m)
{
    uint32_t n;
    if (!get_u32(r, "module name", &m->name) || !get_u32(r, "module file", &m->file)
        || !get_u32(r, "module main", &m->main) || !get_count(r, "global count", GLOBAL_SIZE, &n))
        return false;
    if (!alloc_array(r, (void **)&m->globals, n, sizeof(uint32_t)))
        return false;
    m->nglobals = n;
    for (uint32_t i = 0; i < n; i++, r->pos += GLOBAL_SIZE)
        m->globals[i] = le32(r->bytes + r->pos);
    return true;
}

static bool read_modules(Reader *r, PbcImage *img)
{
    r->section = "module table";
    uint32_t n;
    if (!get_count(r, "module count", MIN_MODULE_SIZE, &n))
        return false;
    if (!alloc_array(r, (void **)&img->modules, n, sizeof(PbcModule)))
        return false;
    img->modules_cap = n;
    while (img->nmodules < n)
        if (!read_module(r, &img->modules[img->nmodules++]))
            return false;
    return true;
}

static bool read_header(Reader *r)
{
    r->section = "header";
    if (!need(r, 4, "magic"))
        return false;
    if (memcmp(r->bytes, PBC_MAGIC, 4) != 0)
        return rfail(r, 0, "bad magic (not a pvm bytecode file)");
    r->pos = 4;
    uint32_t version;
    if (!get_u32(r, "format version", &version))
        return false;
    if (version < PBC_MIN_VERSION || version > PBC_VERSION)
        return rfail(r, 4, "unsupported format version %u (this pvm reads versions %u to %u)", version,
                     PBC_MIN_VERSION, PBC_VERSION);
    r->version = version;
    return true;
}

uint32_t pvmB_image_version(const PbcImage *img)
{
    uint32_t v = PBC_MIN_VERSION;
    PbcInsn in;
    for (uint32_t f = 0; img->funcs && f < img->nfuncs; f++) {
        const PbcFunc *fn = &img->funcs[f];
        if (!fn->code)
            continue; /* pvmB_write then fails on the missing array */
        for (uint32_t off = 0; off < fn->codelen && pvmB_decode(fn->code, fn->codelen, off, &in); off += in.size)
            if (pvmB_opcode_version((Opcode)in.op) > v)
                v = pvmB_opcode_version((Opcode)in.op);
    }
    return v;
}

bool pvmB_read(const uint8_t *bytes, size_t len, PbcImage *out, char *err, size_t errlen)
{
    Reader r = { .bytes = bytes, .len = bytes ? len : 0, .err = err, .errlen = errlen };
    pvmB_init(out);
    bool ok = read_header(&r) && read_consts(&r, out) && read_funcs(&r, out) && read_modules(&r, out);
    if (ok && remaining(&r) != 0)
        ok = rfail(&r, r.pos, "%zu trailing bytes after the module table", remaining(&r));
    if (ok)
        out->version = r.version;
    if (!ok)
        pvmB_free(out);
    return ok;
}

/* ------------------------------------------------------------ decoding */

bool pvmB_decode(const uint8_t *code, uint32_t codelen, uint32_t offset, PbcInsn *out)
{
    if (offset >= codelen || code[offset] >= OP__COUNT)
        return false;
    Opcode op = (Opcode)code[offset];
    uint32_t size = vm_opcode_size(op);
    if (size > codelen - offset)
        return false;
    out->op = (uint8_t)op;
    out->size = size;
    out->operand = 0;
    if (size == 5) {
        uint32_t u = le32(code + offset + 1);
        out->operand = pvmB_opcode_info[op].operand == OPND_INT ? (int64_t)(int32_t)u : (int64_t)u;
    }
    return true;
}

const char *pvmB_func_name(const PbcImage *img, uint32_t index)
{
    if (index >= img->nfuncs)
        return "<anon>";
    uint32_t k = img->funcs[index].name;
    if (k >= img->nconsts || img->consts[k].kind != PBC_CONST_STRING)
        return "<anon>";
    return img->consts[k].str;
}

bool pvmB_read_stream(FILE *f, size_t max, char **data, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                errno = EFBIG;
                return false;
            }
            size_t next = cap ? cap * 2 : 65536;
            char *grown = next > cap ? realloc(buf, next) : NULL;
            if (!grown) {
                free(buf);
                errno = ENOMEM;
                return false;
            }
            buf = grown;
            cap = next;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        int saved = errno;
        free(buf);
        errno = saved ? saved : EIO;
        return false;
    }
    *data = buf;
    *len = n;
    return true;
}

bool pvmB_read_path(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = pvmB_read_stream(f, max, data, len);
    int saved = errno;
    fclose(f);
    errno = saved;
    return ok;
}
