/* string.format: C printf conversions over PV values.
 *
 * Each conversion spec is parsed and checked here (flags, width, precision,
 * conversion letter, argument type); the numeric ones are then rendered by
 * the C library's snprintf from a spec string rebuilt from the parsed
 * fields, which gives C's exact rounding. %s and %c are padded here, since
 * they carry PV strings that may contain NUL bytes. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stdlib/lib.h"

#define FNAME "string.format"

/* Widths and precisions are capped so that one conversion stays a sane
 * size (and within snprintf's int result). */
#define FORMAT_MAX_FIELD 1000000

enum { FLAG_MINUS = 1, FLAG_PLUS = 2, FLAG_SPACE = 4, FLAG_ZERO = 8, FLAG_HASH = 16 };

typedef struct {
    unsigned flags;
    int width;      /* -1: none */
    int precision;  /* -1: none */
    char conv;
    const char *text; /* the spec as written, from '%' through the letter */
    size_t text_len;
} Spec;

typedef struct {
    VM *vm;
    int argc;
    const Value *args;
    int next;       /* index of the next argument to consume */
    LibBuf out;
} Formatter;

static unsigned flag_bit(char c)
{
    switch (c) {
    case '-': return FLAG_MINUS;
    case '+': return FLAG_PLUS;
    case ' ': return FLAG_SPACE;
    case '0': return FLAG_ZERO;
    case '#': return FLAG_HASH;
    default: return 0;
    }
}

/* Reads a decimal field (width or precision) at [*p]; -1 when absent. */
static int parse_field(Formatter *f, const char **p, const char *end, const char *what)
{
    if (*p == end || **p < '0' || **p > '9')
        return -1;
    int n = 0;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
        n = n * 10 + (**p - '0');
        if (n > FORMAT_MAX_FIELD)
            pvmV_error(f->vm, FNAME ": %s too large (at most %d)", what, FORMAT_MAX_FIELD);
    }
    return n;
}

/* Parses the spec whose '%' is at [start]; returns the position after it. */
static const char *parse_spec(Formatter *f, const char *start, const char *end, Spec *s)
{
    const char *p = start + 1;
    s->flags = 0;
    for (; p < end && flag_bit(*p); p++)
        s->flags |= flag_bit(*p);
    s->width = parse_field(f, &p, end, "width");
    s->precision = -1;
    if (p < end && *p == '.') {
        p++;
        s->precision = parse_field(f, &p, end, "precision");
        if (s->precision < 0)
            s->precision = 0; /* "%.f" means precision 0, as in C */
    }
    s->text = start;
    if (p == end)
        pvmV_error(f->vm, FNAME ": incomplete conversion '%.*s' at end of format", (int)(p - start), start);
    s->conv = *p++;
    s->text_len = (size_t)(p - start);
    if (!strchr("disfFeEgGxXc", s->conv) || s->conv == '\0')
        pvmV_error(f->vm, FNAME ": unknown conversion '%.*s'", (int)s->text_len, start);
    return p;
}

static Value next_arg(Formatter *f)
{
    if (f->next >= f->argc)
        pvmV_error(f->vm, FNAME ": not enough arguments for the format");
    return f->args[f->next++];
}

/* [n] spaces, charged at once before they are written (a width of a
 * million is one charge, not a million small ones). */
static void add_spaces(Formatter *f, size_t n)
{
    pvmV_charge_bytes(f->vm, n);
    for (size_t i = 0; i < n; i++)
        pvmL_buf_add_uncharged(&f->out, " ", 1);
}

/* Writes [s] padded with spaces to the spec's width. */
static void emit_padded(Formatter *f, const Spec *s, const char *chars, size_t len)
{
    size_t pad = s->width > 0 && (size_t)s->width > len ? (size_t)s->width - len : 0;
    if (!(s->flags & FLAG_MINUS))
        add_spaces(f, pad);
    pvmL_buf_add(&f->out, chars, len);
    if (s->flags & FLAG_MINUS)
        add_spaces(f, pad);
}

/* Rebuilds the C spec: '%', flags, width, precision, then [tail]
 * (length modifier and conversion letter). */
static void c_spec(const Spec *s, const char *tail, char out[64])
{
    char *p = out;
    *p++ = '%';
    static const char flag_chars[] = "-+ 0#";
    for (int i = 0; i < 5; i++)
        if (s->flags & (1u << i))
            *p++ = flag_chars[i];
    if (s->width >= 0)
        p += sprintf(p, "%d", s->width);
    if (s->precision >= 0)
        p += sprintf(p, ".%d", s->precision);
    strcpy(p, tail);
}

/* Appends one C conversion of the value in [...] (vsnprintf), first into a
 * small buffer, and when that is too short into one of the exact size. */
static void emit_c(Formatter *f, const char *spec, ...)
{
    char small[128];
    va_list ap, again;
    va_start(ap, spec);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, spec, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        pvmL_buf_add(&f->out, small, (size_t)n);
    } else if (n >= 0) {
        char *big = pvmV_alloc_atomic(f->vm, (size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, spec, again);
        pvmL_buf_add(&f->out, big, (size_t)n);
    }
    va_end(again);
    if (n < 0)
        pvmV_error(f->vm, FNAME ": conversion failed");
}

static void emit_int(Formatter *f, const Spec *s)
{
    int at = f->next;
    Value v = next_arg(f);
    if (v.type != VT_INT)
        pvmL_arg_error(f->vm, FNAME, at, "int", v);
    char spec[64];
    if (s->conv == 'x' || s->conv == 'X') {
        /* A negative int prints as its 64-bit two's complement. */
        c_spec(s, s->conv == 'x' ? "llx" : "llX", spec);
        emit_c(f, spec, (unsigned long long)v.as.i);
    } else {
        /* '#' with %d is undefined in C; PV defines it as no effect. */
        Spec plain = *s;
        plain.flags &= ~(unsigned)FLAG_HASH;
        c_spec(&plain, "lld", spec);
        emit_c(f, spec, (long long)v.as.i);
    }
}

static void emit_float(Formatter *f, const Spec *s)
{
    int at = f->next;
    Value v = next_arg(f);
    if (!vm_is_number(v))
        pvmL_arg_error(f->vm, FNAME, at, "number", v);
    double d = v.type == VT_INT ? (double)v.as.i : v.as.f;
    if (isnan(d))
        d = fabs(d); /* every NaN prints as "nan", never "-nan" */
    char tail[2] = { s->conv, '\0' };
    char spec[64];
    c_spec(s, tail, spec);
    emit_c(f, spec, d);
}

static void emit_char(Formatter *f, const Spec *s)
{
    int at = f->next;
    Value v = next_arg(f);
    if (v.type != VT_INT)
        pvmL_arg_error(f->vm, FNAME, at, "int", v);
    if (v.as.i < 0 || v.as.i > 255)
        pvmV_error(f->vm, FNAME ": %%c needs a byte (0..255), got %" PRId64, v.as.i);
    char c = (char)v.as.i;
    emit_padded(f, s, &c, 1);
}

static void emit_string(Formatter *f, const Spec *s)
{
    Value v = next_arg(f);
    PvString *str = v.type == VT_STRING ? v.as.s : pvmV_to_string(f->vm, v);
    size_t len = str->len;
    if (s->precision >= 0 && (size_t)s->precision < len)
        len = (size_t)s->precision;
    emit_padded(f, s, str->chars, len);
}

static void emit(Formatter *f, const Spec *s)
{
    switch (s->conv) {
    case 'd': case 'i': case 'x': case 'X':
        emit_int(f, s);
        break;
    case 'c':
        emit_char(f, s);
        break;
    case 's':
        emit_string(f, s);
        break;
    default:
        emit_float(f, s);
        break;
    }
}

Value pvmL_string_format(VM *vm, int argc, Value *args, void *fname)
{
    PvString *fmt = pvmL_arg_string(vm, FNAME, args, 0);
    Formatter f = { .vm = vm, .argc = argc, .args = args, .next = 1 };
    pvmL_buf_init(&f.out, vm);
    const char *p = fmt->chars, *end = p + fmt->len;
    while (p < end) {
        const char *pct = memchr(p, '%', (size_t)(end - p));
        if (!pct) {
            pvmL_buf_add(&f.out, p, (size_t)(end - p));
            break;
        }
        pvmL_buf_add(&f.out, p, (size_t)(pct - p));
        if (pct + 1 < end && pct[1] == '%') {
            pvmL_buf_addc(&f.out, '%');
            p = pct + 2;
            continue;
        }
        Spec s;
        p = parse_spec(&f, pct, end, &s);
        emit(&f, &s);
    }
    if (f.next < argc)
        pvmV_error(vm, FNAME ": too many arguments (the format uses %d, got %d)", f.next - 1, argc - 1);
    return vm_str_value(pvmL_buf_string(&f.out));
}
