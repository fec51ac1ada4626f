/* Strings: creation, concatenation, comparison and the byte hash.
 *
 * A PvString is one pointer-free allocation: header, bytes, and a trailing
 * NUL that C callers may rely on (len is still authoritative, since the
 * bytes may contain NULs). The hash is computed once, at creation.
 *
 * Hash choice: 64-bit FNV-1a over the bytes, followed by a multiply-xorshift
 * finaliser. FNV-1a is simple and fast for the short strings programs use as
 * keys; on its own its low bits depend only on the low bits of each byte,
 * which is poor for a power-of-two table index, hence the finaliser. */
#include <string.h>

#include "vm/runtime/vm.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

uint64_t pvmV_hash_bytes(const char *chars, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)chars[i];
        h *= FNV_PRIME;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* An uninitialised string of [len] bytes with its terminating NUL set;
 * the caller fills the bytes and then calls pvmV_string_seal. */
PvString *pvmV_string_alloc(VM *vm, size_t len)
{
    size_t size = pvmV_checked_size(vm, len, 1, sizeof(PvString) + 1);
    PvString *s = pvmV_alloc_atomic_uncleared(vm, size); /* every byte is written */
    s->len = len;
    s->chars[len] = '\0';
    return s;
}

PvString *pvmV_string_seal(PvString *s)
{
    s->hash = pvmV_hash_bytes(s->chars, s->len);
    return s;
}

PvString *pvmV_string_new(VM *vm, const char *chars, size_t len)
{
    PvString *s = pvmV_string_alloc(vm, len);
    if (len > 0)
        memcpy(s->chars, chars, len);
    return pvmV_string_seal(s);
}

PvString *pvmV_string_cstr(VM *vm, const char *cstr)
{
    return pvmV_string_new(vm, cstr, strlen(cstr));
}

PvString *pvmV_string_concat(VM *vm, const PvString *a, const PvString *b)
{
    size_t len = pvmV_checked_size(vm, a->len, 1, b->len);
    PvString *s = pvmV_string_alloc(vm, len);
    memcpy(s->chars, a->chars, a->len);
    memcpy(s->chars + a->len, b->chars, b->len);
    return pvmV_string_seal(s);
}

bool pvmV_string_equal(const PvString *a, const PvString *b)
{
    if (a == b)
        return true;
    return a->len == b->len && a->hash == b->hash && memcmp(a->chars, b->chars, a->len) == 0;
}

int pvmV_string_compare(const PvString *a, const PvString *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->chars, b->chars, n); /* memcmp compares as unsigned char */
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->len == b->len)
        return 0;
    return a->len < b->len ? -1 : 1;
}
