/* Unit tests for map.c: lookup, insertion order, removal and re-insertion,
 * key normalisation, invalid keys, compaction and iteration, small maps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gc.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

#define TWO_POW_53 9007199254740992.0
#define TWO_POW_63 9223372036854775808.0

/* The live keys in iteration order, as "k1 k2 ..." (strings bare, ints in
 * decimal), into [out]. */
static const char *keys_text(const PvMap *m, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        Value k = pvmV_map_key(m, pos);
        const char *sep = n ? " " : "";
        if (k.type == VT_STRING)
            n += (size_t)snprintf(out + n, size - n, "%s%s", sep, k.as.s->chars);
        else if (k.type == VT_INT)
            n += (size_t)snprintf(out + n, size - n, "%s%lld", sep, (long long)k.as.i);
        else
            n += (size_t)snprintf(out + n, size - n, "%s<%s>", sep, pvmV_type_name(k));
    }
    return out;
}

static int64_t get_int(const PvMap *m, Value key)
{
    Value v;
    assert_true(pvmV_map_get(m, key, &v));
    assert_int_equal(v.type, VT_INT);
    return v.as.i;
}

static void test_set_get(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    Value v;
    assert_false(pvmV_map_get(m, str(vm, "a"), &v)); /* empty, no arrays yet */
    pvmV_map_set(vm, m, str(vm, "a"), vm_int(1));
    pvmV_map_set(vm, m, vm_int(2), vm_int(20));
    pvmV_map_set(vm, m, vm_float(2.5), vm_int(25));
    pvmV_map_set(vm, m, VAL_TRUE, vm_int(100));
    assert_int_equal(m->count, 4);
    assert_int_equal(get_int(m, str(vm, "a")), 1); /* a different string object */
    assert_int_equal(get_int(m, vm_int(2)), 20);
    assert_int_equal(get_int(m, vm_float(2.5)), 25);
    assert_int_equal(get_int(m, VAL_TRUE), 100);
    assert_false(pvmV_map_get(m, str(vm, "b"), &v));
    assert_false(pvmV_map_get(m, VAL_FALSE, &v));
    assert_true(pvmV_map_get(m, vm_int(2), NULL));
}

/* A nil value is stored like any other: the key exists. */
static void test_nil_values(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, str(vm, "k"), VAL_NIL);
    Value v = vm_int(7);
    assert_true(pvmV_map_get(m, str(vm, "k"), &v));
    assert_int_equal(v.type, VT_NIL);
    assert_int_equal(m->count, 1);
}

static void test_bool_keys_distinct_from_ints(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, VAL_TRUE, vm_int(1));
    pvmV_map_set(vm, m, vm_int(1), vm_int(2));
    pvmV_map_set(vm, m, VAL_FALSE, vm_int(3));
    pvmV_map_set(vm, m, vm_int(0), vm_int(4));
    pvmV_map_set(vm, m, vm_float(1.0), vm_int(5)); /* same key as int 1 */
    assert_int_equal(m->count, 4);
    assert_int_equal(get_int(m, VAL_TRUE), 1);
    assert_int_equal(get_int(m, vm_int(1)), 5);
    assert_int_equal(get_int(m, VAL_FALSE), 3);
    assert_int_equal(get_int(m, vm_float(-0.0)), 4);
}

static void test_reference_keys_by_identity(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    Value a = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
    Value b = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
    pvmV_map_set(vm, m, a, vm_int(1));
    pvmV_map_set(vm, m, b, vm_int(2));
    pvmV_map_set(vm, m, vm_obj(VT_MAP, m), vm_int(3));
    assert_int_equal(m->count, 3);
    assert_int_equal(get_int(m, a), 1);
    assert_int_equal(get_int(m, b), 2);
    assert_int_equal(get_int(m, vm_obj(VT_MAP, m)), 3);
}

static void test_insertion_order(void **state)
{
    VM *vm = *state;
    char buf[256];
    PvMap *m = pvmV_map_new(vm, 0);
    const char *names[] = { "a", "b", "c", "d", "e" };
    for (int i = 0; i < 5; i++)
        pvmV_map_set(vm, m, str(vm, names[i]), vm_int(i));
    assert_string_equal(keys_text(m, buf, sizeof buf), "a b c d e");

    pvmV_map_set(vm, m, str(vm, "c"), vm_int(30)); /* overwrite keeps the position */
    assert_string_equal(keys_text(m, buf, sizeof buf), "a b c d e");
    assert_int_equal(get_int(m, str(vm, "c")), 30);

    Value old;
    assert_true(pvmV_map_remove(m, str(vm, "b"), &old));
    assert_int_equal(old.as.i, 1);
    assert_false(pvmV_map_remove(m, str(vm, "b"), &old));
    assert_string_equal(keys_text(m, buf, sizeof buf), "a c d e");
    assert_false(pvmV_map_get(m, str(vm, "b"), &old));

    pvmV_map_set(vm, m, str(vm, "b"), vm_int(2)); /* re-inserted: goes to the end */
    assert_string_equal(keys_text(m, buf, sizeof buf), "a c d e b");
    assert_true(pvmV_map_remove(m, str(vm, "a"), NULL));
    assert_true(pvmV_map_remove(m, str(vm, "e"), NULL));
    pvmV_map_set(vm, m, str(vm, "a"), vm_int(0));
    assert_string_equal(keys_text(m, buf, sizeof buf), "c d b a");
    assert_int_equal(m->count, 4);
}

/* Order survives the rebuilds that growth and compaction do. */
static void test_order_across_rebuilds(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 10000; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(i * 2));
    for (int64_t i = 0; i < 10000; i += 2)
        assert_true(pvmV_map_remove(m, vm_int(i), NULL));
    for (int64_t i = 0; i < 10000; i += 4)
        pvmV_map_set(vm, m, vm_int(i), vm_int(-i)); /* back, at the end */
    for (int64_t i = 10000; i < 20000; i++) /* forces rebuilds */
        pvmV_map_set(vm, m, vm_int(i), vm_int(i * 2));
    assert_int_equal(m->count, 5000 + 2500 + 10000);
    int64_t pos = pvmV_map_next(m, 0);
    for (int64_t i = 1; i < 10000; i += 2, pos = pvmV_map_next(m, (size_t)pos + 1))
        assert_int_equal(pvmV_map_key(m, pos).as.i, i);
    for (int64_t i = 0; i < 10000; i += 4, pos = pvmV_map_next(m, (size_t)pos + 1))
        assert_int_equal(pvmV_map_key(m, pos).as.i, i);
    for (int64_t i = 10000; i < 20000; i++, pos = pvmV_map_next(m, (size_t)pos + 1))
        assert_int_equal(pvmV_map_key(m, pos).as.i, i);
    assert_int_equal(pos, -1);
    for (int64_t i = 0; i < 20000; i++) {
        Value v;
        bool present = i >= 10000 || i % 2 == 1 || i % 4 == 0;
        assert_int_equal(pvmV_map_get(m, vm_int(i), &v), present);
        if (present)
            assert_int_equal(v.as.i, i < 10000 && i % 4 == 0 ? -i : i * 2);
    }
}

static void test_float_key_normalisation(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, vm_int(1), str(vm, "one"));
    Value v;
    assert_true(pvmV_map_get(m, vm_float(1.0), &v)); /* m[1.0] is m[1] */
    assert_string_equal(v.as.s->chars, "one");

    pvmV_map_set(vm, m, vm_float(2.0), vm_int(1)); /* keys({[2.0]: 1}) is [2] */
    assert_int_equal(pvmV_map_key(m, 1).type, VT_INT);
    assert_int_equal(pvmV_map_key(m, 1).as.i, 2);

    pvmV_map_set(vm, m, vm_float(1e300), vm_int(3)); /* beyond int64: stays float */
    assert_int_equal(pvmV_map_key(m, 2).type, VT_FLOAT);
    assert_true(pvmV_map_key(m, 2).as.f == 1e300);

    pvmV_map_set(vm, m, vm_float(-0.0), vm_int(4));
    assert_int_equal(pvmV_map_key(m, 3).type, VT_INT);
    assert_int_equal(pvmV_map_key(m, 3).as.i, 0);
    assert_int_equal(get_int(m, vm_int(0)), 4);
    assert_int_equal(m->count, 4);
}

static void test_normalise_edges(void **state)
{
    (void)state;
    Value k = pvmV_map_key_normalise(vm_float(-TWO_POW_63));
    assert_int_equal(k.type, VT_INT);
    assert_true(k.as.i == INT64_MIN);
    k = pvmV_map_key_normalise(vm_float(TWO_POW_63));
    assert_int_equal(k.type, VT_FLOAT);
    k = pvmV_map_key_normalise(vm_float(9223372036854774784.0)); /* largest below 2^63 */
    assert_int_equal(k.type, VT_INT);
    assert_true(k.as.i == 9223372036854774784);
    k = pvmV_map_key_normalise(vm_float(0.5));
    assert_int_equal(k.type, VT_FLOAT);
    k = pvmV_map_key_normalise(vm_float(INFINITY));
    assert_int_equal(k.type, VT_FLOAT);
    k = pvmV_map_key_normalise(vm_float(NAN));
    assert_int_equal(k.type, VT_FLOAT);
    k = pvmV_map_key_normalise(VAL_TRUE);
    assert_int_equal(k.type, VT_BOOL);
}

/* 2^53 + 1 as an int is not the float 2^53, although it rounds to it. */
static void test_big_int_keys(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, vm_int(9007199254740993), vm_int(1));
    pvmV_map_set(vm, m, vm_float(TWO_POW_53), vm_int(2));
    assert_int_equal(m->count, 2);
    assert_int_equal(get_int(m, vm_int(9007199254740992)), 2);
    assert_int_equal(get_int(m, vm_int(9007199254740993)), 1);
    pvmV_map_set(vm, m, vm_int(INT64_MAX), vm_int(3));
    pvmV_map_set(vm, m, vm_float(TWO_POW_63), vm_int(4));
    assert_int_equal(m->count, 4);
    assert_int_equal(get_int(m, vm_int(INT64_MAX)), 3);
    assert_int_equal(get_int(m, vm_float(TWO_POW_63)), 4);
}

static void test_invalid_keys(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, vm_int(1), vm_int(1));
    EXPECT_ERROR(vm, pvmV_map_set(vm, m, VAL_NIL, vm_int(1)), "map key cannot be nil");
    EXPECT_ERROR(vm, pvmV_map_set(vm, m, vm_float(NAN), vm_int(1)), "map key cannot be NaN");
    EXPECT_ERROR(vm, pvmV_map_set(vm, m, vm_float(-NAN), vm_int(1)), "map key cannot be NaN");
    assert_int_equal(m->count, 1);
    Value v = vm_int(9);
    assert_false(pvmV_map_get(m, VAL_NIL, &v));
    assert_false(pvmV_map_get(m, vm_float(NAN), &v));
    assert_false(pvmV_map_remove(m, VAL_NIL, &v));
    assert_false(pvmV_map_remove(m, vm_float(NAN), &v));
    assert_int_equal(v.as.i, 9); /* untouched by misses */
    PvMap *empty = pvmV_map_new(vm, 0);
    assert_false(pvmV_map_get(empty, VAL_NIL, &v));
    assert_false(pvmV_map_remove(empty, vm_float(NAN), &v));
}

/* Insert/remove cycles with ever-new keys: tombstones are compacted away,
 * so the arrays stay sized to the handful of live keys. */
static void test_compaction_bounds_memory(void **state)
{
    VM *vm = *state;
    char buf[256];
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 200000; i++) {
        pvmV_map_set(vm, m, vm_int(i), vm_int(i));
        if (i >= 5)
            assert_true(pvmV_map_remove(m, vm_int(i - 5), NULL));
        assert_true(m->cap <= 32);
    }
    assert_int_equal(m->count, 5);
    assert_true(m->used <= m->cap);
    assert_true(m->index_cap <= 64);
    assert_string_equal(keys_text(m, buf, sizeof buf), "199995 199996 199997 199998 199999");
}

/* A map emptied and refilled shrinks back when it rebuilds. */
static void test_compaction_shrinks(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 100000; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(i));
    size_t big = m->cap;
    for (int64_t i = 0; i < 100000; i++)
        assert_true(pvmV_map_remove(m, vm_int(i), NULL));
    assert_int_equal(m->count, 0);
    assert_int_equal(pvmV_map_next(m, 0), -1);
    for (int64_t i = 0; i < (int64_t)big + 1; i++) {
        pvmV_map_set(vm, m, str(vm, "x"), vm_int(i));
        pvmV_map_remove(m, str(vm, "x"), NULL);
    }
    assert_true(m->cap <= 16);
}

/* Removing every key during iteration visits each key exactly once. */
static void test_remove_while_iterating(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 1000; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(i));
    int64_t expect = 0;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        assert_int_equal(pvmV_map_key(m, pos).as.i, expect++);
        assert_true(pvmV_map_remove(m, pvmV_map_key(m, pos), NULL));
    }
    assert_int_equal(expect, 1000);
    assert_int_equal(m->count, 0);
}

static void test_next_skips_tombstones(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 8);
    for (int64_t i = 0; i < 4; i++)
        pvmV_map_set(vm, m, vm_int(i), VAL_NIL);
    pvmV_map_remove(m, vm_int(0), NULL);
    pvmV_map_remove(m, vm_int(2), NULL);
    assert_int_equal(pvmV_map_next(m, 0), 1);
    assert_int_equal(pvmV_map_next(m, 2), 3);
    assert_int_equal(pvmV_map_next(m, 4), -1);
    assert_int_equal(pvmV_map_next(m, 1000), -1);
    assert_true(pvmV_map_key(m, 0).type == VM_MAP_TOMBSTONE);
}

static void test_many_string_keys(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    char key[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        pvmV_map_set(vm, m, str(vm, key), vm_int(i));
    }
    assert_int_equal(m->count, 50000);
    for (int i = 0; i < 50000; i += 7) {
        snprintf(key, sizeof key, "key%d", i);
        assert_int_equal(get_int(m, str(vm, key)), i);
    }
    Value v;
    assert_false(pvmV_map_get(m, str(vm, "key50000"), &v));
    assert_true(m->used * 4 <= m->index_cap * 3); /* load factor at most 0.75 */
}

static void test_new_with_capacity(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 100);
    assert_true(m->cap >= 100);
    void *entries = m->entries;
    for (int64_t i = 0; i < 100; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(i));
    assert_ptr_equal(m->entries, entries); /* no rebuild was needed */
    EXPECT_ERROR(vm, pvmV_map_new(vm, SIZE_MAX / 2), "out of memory");
}

/* A small map lives in one block until it outgrows its inline entries,
 * then in an array of 8 without an index, then indexed; removing most of
 * an indexed map's keys makes it small again at its next rebuild. Every
 * step keeps the keys, their values and their order. */
static void test_small_map_stages(void **state)
{
    VM *vm = *state;
    char buf[256];
    PvMap *m = pvmV_map_new(vm, 1);
    assert_ptr_equal(m->entries, m->inline_entries);
    assert_int_equal(m->inline_cap, 4);
    for (int64_t i = 0; i < 4; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(10 * i));
    assert_ptr_equal(m->entries, m->inline_entries);
    assert_null(m->index);
    pvmV_map_set(vm, m, str(vm, "s"), vm_int(5));
    assert_ptr_not_equal(m->entries, m->inline_entries);
    assert_null(m->index);
    assert_int_equal(m->cap, 8);
    for (int64_t i = 5; i < 9; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(10 * i));
    assert_non_null(m->index);
    assert_string_equal(keys_text(m, buf, sizeof buf), "0 1 2 3 s 5 6 7 8");
    for (int64_t i = 0; i < 9; i++) {
        if (i != 4)
            assert_int_equal(get_int(m, vm_int(i)), 10 * i);
    }
    assert_int_equal(get_int(m, str(vm, "s")), 5);
    for (int64_t i = 0; i < 8; i++) {
        if (i != 4)
            assert_true(pvmV_map_remove(m, vm_int(i), NULL));
    }
    assert_string_equal(keys_text(m, buf, sizeof buf), "s 8");
    while (m->index) { /* fill the entries with tombstones until it rebuilds */
        pvmV_map_set(vm, m, vm_int(100), VAL_NIL);
        assert_true(pvmV_map_remove(m, vm_int(100), NULL));
    }
    assert_ptr_equal(m->entries, m->inline_entries);
    assert_string_equal(keys_text(m, buf, sizeof buf), "s 8");
    assert_int_equal(get_int(m, vm_int(8)), 80);
    assert_int_equal(get_int(m, str(vm, "s")), 5);
}

/* A small map's key filter only ever says "absent" for absent keys: keys
 * whose hashes share a filter bit (64 apart) are all found, keys that
 * share the bit of a present key but are absent are still absent, and a
 * removed key is absent although its bit stays set. */
static void test_small_map_filter(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, m, vm_int(3), vm_int(1));
    pvmV_map_set(vm, m, vm_int(67), vm_int(2));
    pvmV_map_set(vm, m, vm_int(131), vm_int(3));
    assert_null(m->index);
    assert_int_equal(get_int(m, vm_int(3)), 1);
    assert_int_equal(get_int(m, vm_int(67)), 2);
    assert_int_equal(get_int(m, vm_int(131)), 3);
    assert_int_equal(get_int(m, vm_float(67.0)), 2);
    Value v;
    assert_false(pvmV_map_get(m, vm_int(195), &v));
    assert_false(pvmV_map_get(m, vm_int(4), &v));
    assert_true(pvmV_map_remove(m, vm_int(67), NULL));
    assert_false(pvmV_map_get(m, vm_int(67), &v));
    assert_int_equal(get_int(m, vm_int(131)), 3);
    /* strings: equal contents in another string object are found */
    pvmV_map_set(vm, m, str(vm, "name"), vm_int(7));
    assert_int_equal(get_int(m, str(vm, "name")), 7);
    assert_int_equal(pvmV_map_find_string(m, str(vm, "name")), 3);
    assert_int_equal(pvmV_map_find_string(m, str(vm, "nam")), -1);
}

/* The memory walk counts a small map's inline entries once, with the map,
 * and still follows the values they hold. */
static void test_small_map_reach(void **state)
{
    VM *vm = *state;
    size_t before = pvmV_reachable_bytes(vm);
    PvMap *inner = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, inner, str(vm, "big"), vm_str_value(pvmV_string_alloc(vm, 100000)));
    PvMap *outer = pvmV_map_new(vm, 0);
    pvmV_map_set(vm, outer, str(vm, "inner"), vm_obj(VT_MAP, inner));
    vm->top[0] = vm_obj(VT_MAP, outer);
    vm->top++;
    size_t after = pvmV_reachable_bytes(vm);
    vm->top--;
    assert_true(after - before >= 100000);
    assert_true(after - before < 100000 + 4096);
}

/* Growth across index sizes: scattered int keys (the hashmap benchmark's)
 * through every rebuild from one entry to 2^18 slots. After each insert the
 * index is a power of two at most half full, and at each size the 32-bit
 * slots (position and a tag of the hash's high bits, fewer bits of tag as
 * the index grows) find every key written so far and no other. */
static void test_growth_across_index_sizes(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    size_t last_cap = 0;
    const int64_t n = 100000;
    for (int64_t i = 0; i < n; i++) {
        pvmV_map_set(vm, m, vm_int((i * 2654435761) % 4294967296), vm_int(i));
        if (m->index) {
            assert_int_equal(m->index_cap & (m->index_cap - 1), 0);
            assert_true(m->used <= m->index_cap / 2);
        }
        if (m->index_cap != last_cap) {
            last_cap = m->index_cap;
            for (int64_t j = 0; j <= i; j++)
                assert_int_equal(get_int(m, vm_int((j * 2654435761) % 4294967296)), j);
            Value v;
            assert_false(pvmV_map_get(m, vm_int(((i + 1) * 2654435761) % 4294967296), &v));
            assert_false(pvmV_map_get(m, vm_int(-1), &v));
        }
    }
    assert_int_equal(m->count, (size_t)n);
    assert_true(m->index_cap >= 262144);
    int64_t expect = 0;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1))
        assert_int_equal(m->entries[pos].value.as.i, expect++);
    assert_int_equal(expect, n);
}

/* Tombstones in an indexed map across growth and compaction: every other
 * key removed, then as many inserted again, which rebuilds; the survivors
 * keep their order, then the new keys, and removed keys stay absent. */
static void test_tombstones_across_growth(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 4000; i++)
        pvmV_map_set(vm, m, vm_int(i * 7919), vm_int(i));
    for (int64_t i = 0; i < 4000; i += 2)
        assert_true(pvmV_map_remove(m, vm_int(i * 7919), NULL));
    for (int64_t i = 4000; i < 12000; i++)
        pvmV_map_set(vm, m, vm_int(i * 7919), vm_int(i));
    assert_int_equal(m->count, 10000);
    Value v;
    for (int64_t i = 0; i < 4000; i += 2)
        assert_false(pvmV_map_get(m, vm_int(i * 7919), &v));
    int64_t pos = pvmV_map_next(m, 0);
    for (int64_t step = 0; step < 10000; step++) {
        int64_t want = step < 2000 ? 2 * step + 1 : step + 2000;
        assert_true(pos >= 0);
        assert_int_equal(m->entries[pos].value.as.i, want);
        pos = pvmV_map_next(m, (size_t)pos + 1);
    }
    assert_true(pos < 0);
    /* Removing all but a few makes it small again at the next rebuild,
     * freeing the indexed arrays. */
    for (int64_t i = 4000; i < 11997; i++)
        assert_true(pvmV_map_remove(m, vm_int(i * 7919), NULL));
    for (int64_t i = 1; i < 4000; i += 2)
        assert_true(pvmV_map_remove(m, vm_int(i * 7919), NULL));
    while (m->index) {
        pvmV_map_set(vm, m, vm_int(-1), vm_int(0));
        assert_true(pvmV_map_remove(m, vm_int(-1), NULL));
    }
    assert_int_equal(m->count, 3);
    assert_int_equal(get_int(m, vm_int(11997 * 7919)), 11997);
    assert_int_equal(get_int(m, vm_int(11999 * 7919)), 11999);
}

/* Iteration by position while the loop body inserts (the interpreter's
 * for, pvmV_map_next): without removals a rebuild keeps every position, so
 * the loop sees every key once, in order, the new ones after the old, while
 * the map grows through several rebuilds. */
static void test_iterate_while_growing(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t i = 0; i < 5; i++)
        pvmV_map_set(vm, m, vm_int(i), vm_int(i));
    int64_t seen = 0;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        assert_int_equal(pvmV_map_key(m, pos).as.i, seen);
        seen++;
        if (m->count < 3000)
            pvmV_map_set(vm, m, vm_int((int64_t)m->count), vm_int(0));
    }
    assert_int_equal(seen, 3000);
    assert_true(m->index_cap >= 8192);
}

/* A rebuild that cannot allocate leaves the map as it was: the index is
 * charged before the entries are allocated, so either failing raises
 * before anything moves. */
static void test_rebuild_out_of_memory(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    int64_t i = 0;
    for (; !m->index || m->used < m->cap; i++)
        pvmV_map_set(vm, m, vm_int(i * 31), vm_int(i));
    for (uint32_t fail = 1; fail <= 2; fail++) {
        void *entries = m->entries, *index = m->index;
        size_t count = m->count;
        vm->fail_alloc_countdown = fail;
        EXPECT_ERROR(vm, pvmV_map_set(vm, m, vm_int(-5), vm_int(0)), "out of memory");
        vm->fail_alloc_countdown = 0;
        assert_ptr_equal(m->entries, entries);
        assert_ptr_equal(m->index, index);
        assert_int_equal(m->count, count);
        for (int64_t j = 0; j < i; j++)
            assert_int_equal(get_int(m, vm_int(j * 31)), j);
    }
    pvmV_map_set(vm, m, vm_int(-5), vm_int(7));
    assert_int_equal(get_int(m, vm_int(-5)), 7);
    assert_int_equal(get_int(m, vm_int((i - 1) * 31)), i - 1);
}

/* The collector itself without memory for a rebuild (a heap capped with
 * GC_set_max_heap_size, so GC_MALLOC returns NULL): the charge passes, the
 * allocation of the new entries fails, and the map keeps its entries in
 * the old index, refilled after its pages were given up, before "out of
 * memory"; every key is still found, another map is untouched, and the map
 * grows once the heap may. */
static void ignore_gc_warning(char *msg, GC_word arg)
{
    (void)msg;
    (void)arg;
}

static void test_rebuild_collector_out_of_memory(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    PvMap *small = pvmV_map_new(vm, 0);
    int64_t i = 0;
    for (; m->index_cap < 1048576 || m->used < m->cap; i++)
        pvmV_map_set(vm, m, vm_int(i * 31), vm_int(i));
    for (int64_t j = 0; j < 8; j++)
        pvmV_map_set(vm, small, vm_int(j), vm_int(j));
    GC_gcollect();
    GC_warn_proc warn = GC_get_warn_proc();
    GC_set_warn_proc(ignore_gc_warning); /* bdwgc's "Out of Memory!" */
    GC_set_max_heap_size(GC_get_heap_size() + 65536);
    size_t count = m->count;
    EXPECT_ERROR(vm, pvmV_map_set(vm, m, vm_int(-5), vm_int(0)), "out of memory");
    GC_set_max_heap_size(0);
    GC_set_warn_proc(warn);
    assert_int_equal(m->count, count);
    assert_non_null(m->index);
    assert_true(m->used <= m->cap && m->cap <= m->index_cap / 2);
    for (int64_t j = 0; j < i; j++)
        assert_int_equal(get_int(m, vm_int(j * 31)), j);
    Value v;
    assert_false(pvmV_map_get(m, vm_int(-5), &v));
    pvmV_map_set(vm, m, vm_int(-5), vm_int(7));
    assert_int_equal(get_int(m, vm_int(-5)), 7);
    assert_int_equal(small->count, 8);
    for (int64_t j = 0; j < 8; j++)
        assert_int_equal(get_int(small, vm_int(j)), j);
}

/* Keys of every type keep their types and payloads (kept apart in an
 * entry: the payload beside the value, the type in key_types) through
 * each stage: inline, the small array, indexed, compacted after removals,
 * and shrunk back to small. */
static void test_key_types_through_stages(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    PvArray *arr = pvmV_array_new(vm, 0);
    PvMap *inner = pvmV_map_new(vm, 0);
    Value keys[] = { vm_int(-3), vm_float(2.5), str(vm, "s"), VAL_TRUE, VAL_FALSE,
                     vm_obj(VT_ARRAY, arr), vm_obj(VT_MAP, inner), vm_int(INT64_MIN) };
    const size_t nkeys = sizeof keys / sizeof keys[0];
    for (size_t round = 0; round < 4; round++) {
        for (size_t i = 0; i < nkeys; i++)
            pvmV_map_set(vm, m, keys[i], vm_int((int64_t)(round * 100 + i)));
        /* ints that grow it past the inline entries, the small array and
         * then several index sizes */
        for (int64_t j = 0; j < (int64_t)(round * 40); j++)
            pvmV_map_set(vm, m, vm_int(1000 + j), vm_int(j));
        for (size_t i = 0; i < nkeys; i++) {
            int64_t pos = -1;
            for (int64_t p = pvmV_map_next(m, 0); p >= 0; p = pvmV_map_next(m, (size_t)p + 1)) {
                Value k = pvmV_map_key(m, (size_t)p);
                if (k.type == keys[i].type && pvmV_values_equal(k, keys[i]))
                    pos = p;
            }
            assert_true(pos >= 0);
            assert_int_equal(m->entries[pos].value.as.i, (int64_t)(round * 100 + i));
            assert_int_equal(get_int(m, keys[i]), (int64_t)(round * 100 + i));
        }
        for (int64_t j = 0; j < (int64_t)(round * 40); j++)
            assert_true(pvmV_map_remove(m, vm_int(1000 + j), NULL));
        /* every other typed key goes too: tombstones among them */
        for (size_t i = 0; i < nkeys; i += 2)
            assert_true(pvmV_map_remove(m, keys[i], NULL));
        for (size_t i = 0; i < nkeys; i++)
            assert_int_equal(pvmV_map_get(m, keys[i], NULL), i % 2 == 1);
        /* the odd ones are left, none a string: 2.5, true, the array, INT64_MIN */
        assert_int_equal(m->nonstring_keys, 4);
    }
    assert_int_equal(m->count, nkeys / 2);
    assert_true(pvmV_map_remove(m, vm_float(2.5), NULL));
    assert_int_equal(m->nonstring_keys, 3);
    pvmV_map_set(vm, m, str(vm, "t"), VAL_NIL);
    assert_int_equal(m->nonstring_keys, 3);
}

/* A large block is cleared by giving its pages back (gc.c), so a block
 * bdwgc reuses after a free still reads as zeros. */
static void test_large_block_reads_zero(void **state)
{
    (void)state;
    const size_t size = (size_t)1 << 20;
    for (int round = 0; round < 3; round++) {
        unsigned char *p = pvmV_alloc_charged(size);
        assert_non_null(p);
        for (size_t i = 0; i < size; i += 4093)
            assert_int_equal(p[i], 0);
        assert_int_equal(p[size - 1], 0);
        memset(p, 0xab, size);
        GC_FREE(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nil_values, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bool_keys_distinct_from_ints, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_reference_keys_by_identity, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_insertion_order, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_order_across_rebuilds, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_float_key_normalisation, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test(test_normalise_edges),
        cmocka_unit_test_setup_teardown(test_big_int_keys, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_keys, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_bounds_memory, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_shrinks, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_remove_while_iterating, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_next_skips_tombstones, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_many_string_keys, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_new_with_capacity, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_small_map_stages, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_small_map_filter, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_small_map_reach, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_growth_across_index_sizes, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tombstones_across_growth, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_iterate_while_growing, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_out_of_memory, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_collector_out_of_memory, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_key_types_through_stages, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_large_block_reads_zero, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
