/* Display form: the text that str(v) and print produce (LANGUAGE.md sections
 * 8 and 10), and the growable byte buffer it is written into.
 *
 * Containers are printed by an explicit loop over a heap-allocated stack of
 * open containers rather than by C recursion, so any nesting depth prints in
 * full without touching the C stack (a million nested arrays print as two
 * million brackets). The same stack tells whether a container is being
 * printed already: one met again while open prints as [...] / {...}, which
 * stops self-containing structures; a container merely shared by two places
 * is not open the second time and prints in full. Membership is a hash over
 * the open containers chained through the stack itself, so the check stays
 * O(1) however deep the nesting. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/runtime/vm.h"

/* ---- VmBuf ---- */

#define BUF_MIN_CAP 64

/* What data points at when not even a first block could be had: never
 * written, never freed (cap stays 0). */
static char buf_empty[1];

/* Makes room for [extra] more bytes plus the terminating NUL. VmBuf is
 * plain malloc memory used outside the VM's heap (error texts, output), so
 * it cannot raise a PV error: running out marks it failed instead. */
static bool buf_reserve(VmBuf *b, size_t extra)
{
    if (b->failed)
        return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    char *data = extra <= SIZE_MAX / 2 - b->len && cap >= need
                     ? realloc(b->cap ? b->data : NULL, cap) : NULL;
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

/* data is always valid and NUL-terminated, so callers may treat it as a C
 * string when they know the content has no NUL bytes. */
void pvmV_buf_init(VmBuf *b)
{
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
    if (buf_reserve(b, 0))
        b->data[0] = '\0';
}

void pvmV_buf_free(VmBuf *b)
{
    if (b->cap)
        free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pvmV_buf_add(VmBuf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pvmV_buf_addc(VmBuf *b, char c)
{
    pvmV_buf_add(b, &c, 1);
}

static void buf_adds(VmBuf *b, const char *s)
{
    pvmV_buf_add(b, s, strlen(s));
}

void pvmV_buf_addf(VmBuf *b, const char *fmt, ...)
{
    if (!buf_reserve(b, 0))
        return;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    bool fits = n >= 0 && (size_t)n < b->cap - b->len;
    if (n >= 0 && !fits && buf_reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
        fits = true;
    }
    va_end(again);
    if (fits)
        b->len += (size_t)n;
    b->data[b->len] = '\0';
}

/* ---- Floats ---- */

/* A double as decimal digits and an exponent: value = 0.D * 10^(exp + 1),
 * i.e. D[0] is the digit in the 10^exp place. */
typedef struct {
    char digits[24];
    int ndigits;
    int exp;
} Decimal;

/* Parses "d.ddde±XX" (as printf's %e writes it, whatever the locale's
 * decimal point) into a Decimal without trailing zeros. */
static void decimal_parse(Decimal *dec, const char *text)
{
    dec->ndigits = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9')
            dec->digits[dec->ndigits++] = *p;
    }
    dec->exp = *p == 'e' ? atoi(p + 1) : 0;
    while (dec->ndigits > 1 && dec->digits[dec->ndigits - 1] == '0')
        dec->ndigits--;
    dec->digits[dec->ndigits] = '\0';
}

/* Writes |value| of [dec] back as C "d.ddde±X" text that strtod reads. */
static void decimal_text(const Decimal *dec, char *out, size_t size)
{
    snprintf(out, size, "%c.%se%d", dec->digits[0], dec->digits + 1, dec->exp);
}

static bool decimal_reads_back(const Decimal *dec, double mag)
{
    char text[48];
    decimal_text(dec, text, sizeof text);
    return strtod(text, NULL) == mag;
}

/* The correctly rounded [p]-digit decimal of [mag] (which is >= 0). */
static void decimal_round(Decimal *dec, double mag, int p)
{
    char text[48];
    snprintf(text, sizeof text, "%.*e", p - 1, mag);
    decimal_parse(dec, text);
}

static bool rounded_reads_back(double mag, int p, Decimal *dec)
{
    decimal_round(dec, mag, p);
    return decimal_reads_back(dec, mag);
}

/* Adds one unit in the [p]th digit: the next p-digit decimal above. */
static void decimal_step_up(Decimal *dec, int p)
{
    while (dec->ndigits < p)
        dec->digits[dec->ndigits++] = '0';
    int i = p - 1;
    while (i >= 0 && dec->digits[i] == '9')
        dec->digits[i--] = '0';
    if (i >= 0) {
        dec->digits[i]++;
    } else {
        dec->digits[0] = '1';
        dec->exp++;
    }
    while (dec->ndigits > 1 && dec->digits[dec->ndigits - 1] == '0')
        dec->ndigits--;
    dec->digits[dec->ndigits] = '\0';
}

/* An exact power of two above the smallest normal has a rounding interval
 * twice as wide above it as below, so the nearest p-digit decimal (below)
 * may miss while the one just above still reads back. */
static bool has_lopsided_interval(double mag)
{
    uint64_t bits;
    memcpy(&bits, &mag, sizeof bits);
    return (bits & 0x000fffffffffffffull) == 0 && (bits >> 52) > 1;
}

/* The shortest decimal that reads back as [mag] (finite, >= 0), and of
 * those the nearest: what Python's repr and David Gay's mode 0 produce.
 * When the rounding interval is symmetric, "p digits read back" implies
 * "p + 1 digits read back", so a binary search over 1..17 finds the
 * shortest; lopsided intervals are searched one length at a time. */
static void shortest_decimal(Decimal *dec, double mag)
{
    if (has_lopsided_interval(mag)) {
        for (int p = 1; p < 17; p++) {
            if (rounded_reads_back(mag, p, dec))
                return;
            char text[48];
            decimal_text(dec, text, sizeof text);
            if (strtod(text, NULL) < mag) {
                decimal_step_up(dec, p);
                if (decimal_reads_back(dec, mag))
                    return;
            }
        }
        decimal_round(dec, mag, 17);
        return;
    }
    int lo = 1, hi = 17; /* 17 significant digits always read back */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (rounded_reads_back(mag, mid, dec))
            hi = mid;
        else
            lo = mid + 1;
    }
    decimal_round(dec, mag, lo);
}

/* Python's layout: fixed notation when 1e-4 <= |x| < 1e16, with at least
 * one digit after the point; otherwise d.ddde±XX with two exponent digits
 * at least. */
static void decimal_layout(const Decimal *dec, bool negative, char *out)
{
    const char *d = dec->digits;
    int n = dec->ndigits, e = dec->exp;
    char *p = out;
    if (negative)
        *p++ = '-';
    if (e < -4 || e >= 16) {
        *p++ = d[0];
        if (n > 1)
            p += sprintf(p, ".%s", d + 1);
        sprintf(p, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e < 0) {
        p += sprintf(p, "0.");
        for (int i = 0; i < -e - 1; i++)
            *p++ = '0';
        sprintf(p, "%s", d);
    } else if (n <= e + 1) {
        p += sprintf(p, "%s", d);
        for (int i = 0; i < e + 1 - n; i++)
            *p++ = '0';
        sprintf(p, ".0");
    } else {
        memcpy(p, d, (size_t)e + 1);
        p += e + 1;
        sprintf(p, ".%s", d + e + 1);
    }
}

void pvmV_format_float(char out[32], double d)
{
    if (isnan(d)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(d)) {
        strcpy(out, d > 0 ? "inf" : "-inf");
        return;
    }
    Decimal dec;
    shortest_decimal(&dec, fabs(d));
    decimal_layout(&dec, signbit(d) != 0, out);
}

/* ---- Scalars ---- */

static void display_quoted(VmBuf *b, const PvString *s)
{
    static const char hex[] = "0123456789abcdef";
    pvmV_buf_addc(b, '"');
    size_t plain = 0; /* start of the current run of bytes copied as they are */
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->chars[i];
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
            continue;
        pvmV_buf_add(b, s->chars + plain, i - plain);
        plain = i + 1;
        switch (c) {
        case '\n': buf_adds(b, "\\n"); break;
        case '\t': buf_adds(b, "\\t"); break;
        case '\r': buf_adds(b, "\\r"); break;
        case '"': buf_adds(b, "\\\""); break;
        case '\\': buf_adds(b, "\\\\"); break;
        default: {
            char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            pvmV_buf_add(b, esc, 4);
        }
        }
    }
    pvmV_buf_add(b, s->chars + plain, s->len - plain);
    pvmV_buf_addc(b, '"');
}

static void display_function(VmBuf *b, const PvString *name)
{
    if (!name) {
        buf_adds(b, "<fn>");
        return;
    }
    buf_adds(b, "<fn ");
    pvmV_buf_add(b, name->chars, name->len);
    pvmV_buf_addc(b, '>');
}

/* Any value but an array or map; strings quoted when inside a container. */
static void display_scalar(VmBuf *b, Value v, bool quoted)
{
    char num[32];
    switch ((ValueType)v.type) {
    case VT_NIL: buf_adds(b, "nil"); return;
    case VT_BOOL: buf_adds(b, v.as.b ? "true" : "false"); return;
    case VT_INT: pvmV_buf_addf(b, "%" PRId64, v.as.i); return;
    case VT_FLOAT:
        pvmV_format_float(num, v.as.f);
        buf_adds(b, num);
        return;
    case VT_STRING:
        if (quoted)
            display_quoted(b, v.as.s);
        else
            pvmV_buf_add(b, v.as.s->chars, v.as.s->len);
        return;
    case VT_CLOSURE:
        display_function(b, v.as.cl->proto ? v.as.cl->proto->name : NULL);
        return;
    case VT_NATIVE: display_function(b, v.as.nat->name); return;
    case VT_POINTER: pvmV_buf_addf(b, "<pointer 0x%" PRIxPTR ">", (uintptr_t)vm_pointer_addr(v)); return;
    default: buf_adds(b, "<invalid>"); return;
    }
}

/* ---- Containers ---- */

enum { AT_KEY, AT_VALUE };

typedef struct {
    Value container; /* VT_ARRAY or VT_MAP */
    size_t pos;      /* next element (array) or entry position (map) */
    int phase;       /* maps: AT_KEY or AT_VALUE of entry [pos] */
    bool first;
    long chain;      /* next open container in the same bucket, or -1 */
} OpenContainer;

typedef struct {
    VmBuf *buf;
    OpenContainer *open; /* the stack of containers being printed */
    size_t depth, cap;
    long *buckets;       /* heads of the membership chains, or -1 */
    size_t nbuckets;     /* power of two */
} Printer;

/* Grows one of the printer's arrays in place; false (the array left as
 * it was) when memory runs out, which marks the output failed. */
static bool printer_grow(Printer *pr, void **p, size_t count, size_t elem)
{
    void *q = count <= SIZE_MAX / elem ? realloc(*p, count * elem) : NULL;
    if (!q) {
        pr->buf->failed = true;
        return false;
    }
    *p = q;
    return true;
}

static size_t bucket_of(const Printer *pr, const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (pr->nbuckets - 1);
}

/* On failure the old table stays, still consistent. */
static bool rehash_open(Printer *pr, size_t nbuckets)
{
    void *buckets = pr->buckets;
    if (!printer_grow(pr, &buckets, nbuckets, sizeof(long)))
        return false;
    pr->buckets = buckets;
    pr->nbuckets = nbuckets;
    for (size_t i = 0; i < nbuckets; i++)
        pr->buckets[i] = -1;
    for (size_t i = 0; i < pr->depth; i++) {
        size_t h = bucket_of(pr, pr->open[i].container.as.p);
        pr->open[i].chain = pr->buckets[h];
        pr->buckets[h] = (long)i;
    }
    return true;
}

static bool is_open(const Printer *pr, const void *p)
{
    for (long i = pr->buckets[bucket_of(pr, p)]; i >= 0; i = pr->open[i].chain) {
        if (pr->open[i].container.as.p == p)
            return true;
    }
    return false;
}

static void push_open(Printer *pr, Value container)
{
    if (pr->depth == pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 16;
        void *open = pr->open;
        if (!printer_grow(pr, &open, cap, sizeof(OpenContainer)))
            return;
        pr->open = open;
        pr->cap = cap;
    }
    size_t h = bucket_of(pr, container.as.p);
    pr->open[pr->depth] = (OpenContainer){ container, 0, AT_KEY, true, pr->buckets[h] };
    pr->buckets[h] = (long)pr->depth++;
    if (pr->depth > 2 * pr->nbuckets)
        rehash_open(pr, 2 * pr->nbuckets);
    pvmV_buf_addc(pr->buf, container.type == VT_ARRAY ? '[' : '{');
}

/* Closes the innermost container. Being the last one pushed, it heads its
 * bucket's chain. */
static void pop_open(Printer *pr)
{
    OpenContainer *top = &pr->open[--pr->depth];
    pr->buckets[bucket_of(pr, top->container.as.p)] = top->chain;
    pvmV_buf_addc(pr->buf, top->container.type == VT_ARRAY ? ']' : '}');
}

/* Prints an element: a scalar at once, a container by opening it. */
static void print_element(Printer *pr, Value v)
{
    if (v.type != VT_ARRAY && v.type != VT_MAP) {
        display_scalar(pr->buf, v, true);
        return;
    }
    if (is_open(pr, v.as.p)) {
        buf_adds(pr->buf, v.type == VT_ARRAY ? "[...]" : "{...}");
        return;
    }
    push_open(pr, v);
}

/* One step of the innermost array: its next element or its closing bracket.
 * The frame is updated before print_element, which may move the stack. */
static void step_array(Printer *pr, OpenContainer *top)
{
    const PvArray *a = top->container.as.a;
    if (top->pos >= a->len) {
        pop_open(pr);
        return;
    }
    if (top->pos > 0)
        buf_adds(pr->buf, ", ");
    Value item = pvmV_array_load(a, top->pos++);
    print_element(pr, item);
}

/* One step of the innermost map: a key, a value, or the closing brace. */
static void step_map(Printer *pr, OpenContainer *top)
{
    const PvMap *m = top->container.as.m;
    if (top->phase == AT_VALUE) {
        buf_adds(pr->buf, ": ");
        top->phase = AT_KEY;
        Value value = top->pos < m->used ? m->entries[top->pos].value : VAL_NIL;
        top->pos++;
        print_element(pr, value);
        return;
    }
    int64_t next = pvmV_map_next(m, top->pos);
    if (next < 0) {
        pop_open(pr);
        return;
    }
    if (!top->first)
        buf_adds(pr->buf, ", ");
    top->first = false;
    top->pos = (size_t)next;
    top->phase = AT_VALUE;
    print_element(pr, pvmV_map_key(m, (size_t)next));
}

static void display_container(VmBuf *buf, Value root)
{
    Printer pr = { .buf = buf };
    if (rehash_open(&pr, 16))
        push_open(&pr, root);
    /* A failed buffer ends the walk: nothing more can be printed. */
    while (pr.depth > 0 && !buf->failed) {
        OpenContainer *top = &pr.open[pr.depth - 1];
        if (top->container.type == VT_ARRAY)
            step_array(&pr, top);
        else
            step_map(&pr, top);
    }
    free(pr.open);
    free(pr.buckets);
}

void pvmV_display(VmBuf *buf, Value v)
{
    if (v.type == VT_ARRAY || v.type == VT_MAP)
        display_container(buf, v);
    else
        display_scalar(buf, v, false);
}

PvString *pvmV_to_string(VM *vm, Value v)
{
    if (v.type == VT_STRING)
        return v.as.s;
    VmBuf buf;
    pvmV_buf_init(&buf);
    pvmV_display(&buf, v);
    /* Copied out before anything can raise, so that an error leaves no
     * malloc block behind: a short text (numbers, nil, small containers)
     * to the C stack, a long one to collector memory. */
    char small[128];
    size_t len = buf.len;
    char *text = NULL;
    if (!buf.failed)
        text = len < sizeof small ? small : pvmV_alloc_atomic_noraise(vm, len + 1);
    if (text)
        memcpy(text, buf.data, len + 1);
    pvmV_buf_free(&buf);
    if (!text)
        pvmV_out_of_memory(vm);
    return pvmV_string_new(vm, text, len);
}

void pvmV_display_element(VmBuf *buf, Value v)
{
    if (v.type == VT_ARRAY || v.type == VT_MAP)
        display_container(buf, v);
    else
        display_scalar(buf, v, true);
}
