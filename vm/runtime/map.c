/* Maps: insertion-ordered hash maps.
 *
 * Layout (see PvMap in object.h):
 *   entries  key/value pairs in insertion order, 24 bytes each: the
 *            value and the key's payload, the key's type in the byte
 *            array key_types, which follows the entries in their block;
 *            a removed pair stays in place as a tombstone (key type
 *            VM_MAP_TOMBSTONE), so iteration by position is stable while
 *            a loop removes keys
 *   index    open addressing over a power-of-two table of 2^k 32-bit slots,
 *            each the entry position plus one in its low k bits and the top
 *            32 - k bits of a mix of the key's hash above them, a tag (so
 *            most mismatches are rejected without touching the entries
 *            array: 1 in 2^(32-k) passes, 1 in 1024 at 4 M slots); 0 =
 *            empty. Probing starts at the hash's low bits
 *            and then mixes in its higher bits (i = 5i + 1 + perturb, perturb
 *            shifted right by 5 each step), so int keys, whose hash is the
 *            int itself, land in neighbouring slots when they are dense (fast,
 *            cache-friendly) and still spread when they share low bits.
 *            Every written entry,
 *            tombstones included, owns one index slot until the next rebuild,
 *            so a tombstone's slot doubles as the index's deletion marker.
 *
 * Small maps (objects, records, options: at most MAP_SMALL_MAX entries)
 * have no index: a lookup compares the key with each entry, which for
 * string keys is mostly one pointer compare (an entry adopts the program's
 * constant string on its first cached lookup, see the interpreter's field
 * cache) and costs less than hashing. A new small map keeps its entries in
 * its own block (inline_entries), so `{x: 1}` is one allocation instead of
 * three; one that outgrows them moves them to an array of MAP_SMALL_MAX,
 * and one that outgrows that gets its index. A small map also keeps a
 * one-word filter of its keys (bit hash % 64 of each key written since it
 * was last rebuilt), so most lookups of an absent key, the instance
 * searched first for a method its class holds, end at one AND.
 *
 * An indexed map's entries array holds at most 1/2 of index_cap entries,
 * which bounds the index's load at 0.5 and keeps probe sequences short.
 * When an insertion finds the entries array full, the
 * map is rebuilt at the smallest size that holds twice its live count: with
 * no tombstones that doubles it; when tombstones are more than half of
 * `used` it compacts in place or even shrinks. Memory is therefore bounded
 * by the live entries, and each rebuild is paid for by the insertions before
 * it (amortised O(1)). Compaction happens on insertion, never on removal, so
 * a loop that removes keys while iterating sees every remaining key.
 *
 * A rebuild frees the entries array and index it replaced (GC_FREE, and the
 * pages of a large block go back to the OS at once, pvmV_free_block), so a
 * growing map holds one generation, not every one since the last
 * collection; nothing else points into them: the interpreter's field
 * caches, the JIT's traces (which record no insertion, and load `entries`
 * from the map), iteration, display, the stdlib and the API keep positions,
 * and C code uses an entry's address only until its next insertion into
 * that map. The peak of a rebuild is the old and the new entries arrays:
 * the old index's pages are released before the new entries are allocated,
 * and the new index is allocated after the old entries are freed.
 *
 * Keys are normalised first: an integral float within the int64 range is the
 * int of the same value, so m[1.0] and m[1] are one entry. */
#include <math.h>
#include <string.h>

#include "vm/runtime/vm.h"

#define INDEX_EMPTY 0u
#define INDEX_MIN_CAP 8
#define MAP_SMALL_MAX 8  /* maps of up to this many entries have no index */
#define MAP_INLINE_MIN 4 /* the inline entries of a new small map, at least */
#define INDEX_MAX_CAP ((size_t)1 << 31) /* positions must fit below UINT32_MAX */
#define TWO_POW_63 9223372036854775808.0

Value pvmV_map_key_normalise(Value key)
{
    if (key.type != VT_FLOAT)
        return key;
    double f = key.as.f;
    if (f >= -TWO_POW_63 && f < TWO_POW_63 && trunc(f) == f)
        return vm_int((int64_t)f); /* also turns -0.0 into 0 */
    return key;
}

static bool key_is_storable(Value key)
{
    return key.type != VT_NIL && !(key.type == VT_FLOAT && isnan(key.as.f));
}

/* Equality of two normalised keys: the language's ==, which for keys of one
 * type is exact (NaN keys are never stored). An int key never equals a float
 * key: a float that survives normalisation is not an integral value in range. */
static bool keys_equal(Value a, Value b)
{
    return a.type == b.type && pvmV_values_equal(a, b);
}

static size_t entries_for(size_t index_cap)
{
    return index_cap / 2;
}

/* An index slot of a table of 2^k slots: the entry position plus one in
 * its low k bits (positions are below index_cap / 2), and the top 32 - k
 * bits of a mix of the key's hash above them, the tag. */
static uint32_t hash_tag(uint64_t hash) { return (uint32_t)((hash * 0x9e3779b97f4a7c15u) >> 32); }
static uint32_t slot_pos(const PvMap *m, uint32_t slot) { return (slot & (uint32_t)(m->index_cap - 1)) - 1; }
static uint32_t slot_make(const PvMap *m, size_t pos, uint64_t hash)
{
    return (hash_tag(hash) & ~(uint32_t)(m->index_cap - 1)) | (uint32_t)(pos + 1);
}

/* The smallest index capacity whose entries array holds [n] entries. */
static size_t index_cap_for(VM *vm, size_t n)
{
    size_t cap = INDEX_MIN_CAP;
    while (entries_for(cap) < n) {
        if (cap >= INDEX_MAX_CAP)
            pvmV_out_of_memory(vm);
        cap *= 2;
    }
    return cap;
}

/* Finds [key] (normalised, hashed to [hash]). Returns true with *slot at
 * its index slot, or false with *slot at the empty slot where it would go. */
static bool map_find(const PvMap *m, Value key, uint64_t hash, size_t *slot)
{
    size_t mask = m->index_cap - 1;
    uint32_t pos_bits = (uint32_t)mask;
    uint32_t tag = hash_tag(hash) & ~pos_bits;
    uint64_t perturb = hash;
    for (size_t i = hash & mask;; i = (i * 5 + 1 + (size_t)perturb) & mask) {
        uint32_t s = m->index[i];
        if (s == INDEX_EMPTY) {
            *slot = i;
            return false;
        }
        if ((s & ~pos_bits) == tag && keys_equal(pvmV_map_key(m, (s & pos_bits) - 1), key)) {
            *slot = i;
            return true;
        }
        perturb >>= 5;
    }
}

static uint64_t key_bit(uint64_t hash) { return (uint64_t)1 << (hash & 63); }

/* The position of [key] (normalised) in a small map's entries, or -1. */
static int64_t small_find(const PvMap *m, Value key)
{
    if (key.type == VT_STRING) {
        const PvString *s = key.as.s;
        if (!pvmV_map_may_hold(m, s))
            return -1;
        /* The hash is compared before calling out: a miss (a method
         * looked for in its instance first) costs a few loads an entry. */
        for (size_t i = 0; i < m->used; i++) {
            if (m->key_types[i] != VT_STRING)
                continue;
            const PvString *t = m->entries[i].key.s;
            if (t == s || (t->hash == s->hash && pvmV_string_equal(t, s)))
                return (int64_t)i;
        }
        return -1;
    }
    if (!(m->key_bits & key_bit(pvmV_value_hash(key))))
        return -1;
    for (size_t i = 0; i < m->used; i++) {
        if (keys_equal(pvmV_map_key(m, i), key))
            return (int64_t)i;
    }
    return -1;
}

/* The position of [key] (normalised, storable) in the entries, or -1. */
static int64_t map_position(const PvMap *m, Value key)
{
    if (!m->index)
        return small_find(m, key);
    size_t slot;
    if (!map_find(m, key, pvmV_value_hash(key), &slot))
        return -1;
    return slot_pos(m, m->index[slot]);
}

/* Looks up a key as given by a program: its position, or -1 for absent
 * and unstorable keys. */
static int64_t map_lookup(const PvMap *m, Value key)
{
    if (m->count == 0 || !key_is_storable(key))
        return -1;
    return map_position(m, pvmV_map_key_normalise(key));
}

/* The bytes of an entries array of [cap] entries and their key types. */
static size_t entries_bytes_for(VM *vm, size_t cap)
{
    return pvmV_checked_size(vm, cap, VM_MAP_ENTRY_BYTES, 0);
}

/* Moves the live entries, in order, to [entries] of [cap], whose key types
 * follow them (which may be the map's own array: live entries only move
 * down), clearing what is left of it so the collector can free what the
 * dead entries held. */
static void map_compact_into(PvMap *m, PvMapEntry *entries, size_t cap)
{
    uint8_t *types = (uint8_t *)(entries + cap);
    size_t used = 0, nonstring = 0;
    for (size_t i = 0; i < m->used; i++) {
        uint8_t type = m->key_types[i];
        if (type != VM_MAP_TOMBSTONE) {
            nonstring += type != VT_STRING;
            types[used] = type;
            entries[used++] = m->entries[i];
        }
    }
    m->nonstring_keys = nonstring;
    if (entries == m->entries && used < m->used) {
        memset(&entries[used], 0, (m->used - used) * sizeof *entries);
        memset(&types[used], 0, m->used - used);
    }
    m->entries = entries;
    m->key_types = types;
    m->cap = cap;
    m->used = used;
    m->count = used;
}

/* Makes the map small with the entries it has (at most MAP_SMALL_MAX of
 * them): no index, and the filter of its keys. */
static void map_make_small(PvMap *m)
{
    m->index = NULL;
    m->index_cap = 0;
    m->key_bits = 0;
    for (size_t i = 0; i < m->used; i++)
        m->key_bits |= key_bit(pvmV_value_hash(pvmV_map_key(m, i)));
}

/* Gives the blocks a rebuild replaced back to the collector at once, so
 * that a growing map's generations do not pile up until a collection:
 * nothing else points into them (the interpreter's field caches, the JIT's
 * traces, iteration and the API keep positions, never addresses, and a C
 * caller uses an entry's address only until it next inserts). */
static void map_free_old(const PvMap *m, PvMapEntry *old_entries, uint32_t *old_index)
{
    if (old_entries != m->entries && old_entries != m->inline_entries)
        pvmV_free_block(old_entries);
    if (old_index && old_index != m->index)
        pvmV_free_block(old_index);
}

/* Makes the map small again (or still) with room for [want] entries. */
static void map_rebuild_small(VM *vm, PvMap *m, size_t want)
{
    PvMapEntry *old_entries = m->entries;
    uint32_t *old_index = m->index;
    if (want <= m->inline_cap) {
        map_compact_into(m, m->inline_entries, m->inline_cap);
    } else {
        PvMapEntry *entries = m->entries;
        if (m->index || m->entries == m->inline_entries || m->cap != MAP_SMALL_MAX)
            entries = pvmV_alloc(vm, entries_bytes_for(vm, MAP_SMALL_MAX));
        map_compact_into(m, entries, MAP_SMALL_MAX);
    }
    map_make_small(m);
    map_free_old(m, old_entries, old_index);
}

/* Points the map at [index] of [index_cap] slots (cleared) and indexes
 * every entry written, tombstones included. */
static void map_fill_index(PvMap *m, uint32_t *index, size_t index_cap)
{
    m->index = index;
    m->index_cap = (uint32_t)index_cap;
    for (size_t pos = 0; pos < m->used; pos++) {
        size_t slot;
        Value key = pvmV_map_key(m, pos);
        uint64_t hash = pvmV_value_hash(key);
        map_find(m, key, hash, &slot);
        index[slot] = slot_make(m, pos, hash);
    }
}

/* After a failed allocation, the entries still being the map's: indexes
 * them in the old index again (or makes the map small when it had none:
 * a new map, or a small one growing), then raises. */
static PVM_NORETURN void map_rebuild_failed(VM *vm, PvMap *m, uint32_t *old_index, size_t old_index_cap)
{
    if (old_index) {
        memset(old_index, 0, old_index_cap * sizeof(uint32_t));
        if (m->cap > entries_for(old_index_cap))
            m->cap = entries_for(old_index_cap);
        map_fill_index(m, old_index, old_index_cap);
    } else {
        if (m->cap > MAP_SMALL_MAX && m->entries != m->inline_entries)
            m->cap = MAP_SMALL_MAX;
        map_make_small(m);
    }
    pvmV_out_of_memory(vm);
}

/* Replaces the arrays with fresh ones of [index_cap], keeping only the live
 * entries, in order. The order keeps the peak low, the old and the new
 * entries: the old index is given up first (its pages go back to the OS;
 * compacting needs only the entries), the new entries are allocated and
 * filled, the old ones freed, and only then is the new index allocated (in
 * the space the old entries left) and the old index freed. Both new blocks
 * are charged first, so a memory limit or an injected failure raises
 * before anything changes; should the collector itself have no memory for
 * one, the old index, which held at least as many entries, takes them
 * again before the error. */
static void map_rebuild_indexed(VM *vm, PvMap *m, size_t index_cap)
{
    size_t cap = entries_for(index_cap);
    size_t index_bytes = pvmV_checked_size(vm, index_cap, sizeof(uint32_t), 0);
    size_t entries_bytes = entries_bytes_for(vm, cap);
    pvmV_charge_alloc(vm, index_bytes);
    pvmV_charge_alloc(vm, entries_bytes);
    PvMapEntry *old_entries = m->entries;
    uint32_t *old_index = m->index;
    size_t old_index_cap = m->index_cap;
    if (old_index)
        pvmV_release_pages(old_index);
    PvMapEntry *entries = pvmV_alloc_charged(entries_bytes);
    if (!entries)
        map_rebuild_failed(vm, m, old_index, old_index_cap);
    map_compact_into(m, entries, cap);
    map_free_old(m, old_entries, NULL);
    uint32_t *index = pvmV_alloc_atomic_charged(index_bytes);
    if (!index)
        map_rebuild_failed(vm, m, old_index, old_index_cap);
    map_fill_index(m, index, index_cap);
    map_free_old(m, m->entries, old_index);
}

/* Rebuilds the map with room for at least [want] entries. */
static void map_rebuild(VM *vm, PvMap *m, size_t want)
{
    if (want <= MAP_SMALL_MAX)
        map_rebuild_small(vm, m, want);
    else
        map_rebuild_indexed(vm, m, index_cap_for(vm, want));
}

PvMap *pvmV_map_new(VM *vm, size_t capacity)
{
    uint32_t inline_cap = 0;
    if (capacity <= MAP_SMALL_MAX)
        inline_cap = capacity < MAP_INLINE_MIN ? MAP_INLINE_MIN : (uint32_t)capacity;
    size_t bytes = sizeof(PvMap) + inline_cap * VM_MAP_ENTRY_BYTES;
    PvMap *m = pvmV_alloc(vm, bytes);
    memset(m, 0, bytes);
    m->inline_cap = inline_cap;
    m->entries = m->inline_entries;
    m->key_types = (uint8_t *)(m->inline_entries + inline_cap);
    m->cap = inline_cap;
    if (capacity > MAP_SMALL_MAX)
        map_rebuild_indexed(vm, m, index_cap_for(vm, capacity));
    return m;
}

PvMapEntry *pvmV_map_entry(const PvMap *m, Value key)
{
    int64_t pos = map_lookup(m, key);
    return pos < 0 ? NULL : &m->entries[pos];
}

bool pvmV_map_get(const PvMap *m, Value key, Value *out)
{
    int64_t pos = map_lookup(m, key);
    if (pos < 0)
        return false;
    if (out)
        *out = m->entries[pos].value;
    return true;
}

/* Writes a new key (normalised, absent) and its value at the end of the
 * entries, which have room; [slot] is the key's empty index slot when the
 * map is indexed. */
static void map_put_new(PvMap *m, Value k, uint64_t hash, size_t slot, Value value)
{
    size_t pos = m->used++;
    m->entries[pos].key = k.as;
    m->entries[pos].value = value;
    m->key_types[pos] = (uint8_t)k.type;
    m->nonstring_keys += k.type != VT_STRING;
    m->count++;
    if (m->index)
        m->index[slot] = slot_make(m, pos, hash);
    else
        m->key_bits |= key_bit(hash);
}

void pvmV_map_set(VM *vm, PvMap *m, Value key, Value value)
{
    if (key.type == VT_NIL)
        pvmV_error(vm, "map key cannot be nil");
    if (!key_is_storable(key))
        pvmV_error(vm, "map key cannot be NaN");
    Value k = pvmV_map_key_normalise(key);
    uint64_t hash = pvmV_value_hash(k);
    size_t slot = 0;
    if (m->index) {
        if (map_find(m, k, hash, &slot)) {
            m->entries[slot_pos(m, m->index[slot])].value = value; /* keeps its first position */
            return;
        }
    } else {
        int64_t pos = m->count > 0 ? small_find(m, k) : -1;
        if (pos >= 0) {
            m->entries[pos].value = value;
            return;
        }
    }
    if (m->used == m->cap) {
        map_rebuild(vm, m, 2 * m->count > m->count ? 2 * m->count : 1);
        if (m->index)
            map_find(m, k, hash, &slot);
    }
    map_put_new(m, k, hash, slot, value);
}

int64_t pvmV_map_find_string(const PvMap *m, Value key)
{
    return m->count == 0 ? -1 : map_position(m, key);
}

bool pvmV_map_remove(PvMap *m, Value key, Value *removed)
{
    int64_t pos = map_lookup(m, key);
    if (pos < 0)
        return false;
    PvMapEntry *e = &m->entries[pos];
    if (removed)
        *removed = e->value;
    /* Clear the payloads too, so the collector can free what they held. */
    e->key.p = NULL;
    e->value = VAL_NIL;
    m->nonstring_keys -= m->key_types[pos] != VT_STRING;
    m->key_types[pos] = VM_MAP_TOMBSTONE;
    m->count--;
    return true;
}

int64_t pvmV_map_next(const PvMap *m, size_t pos)
{
    for (; pos < m->used; pos++) {
        if (m->key_types[pos] != VM_MAP_TOMBSTONE)
            return (int64_t)pos;
    }
    return -1;
}
