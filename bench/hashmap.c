/* hashmap.c: inserts N scattered integer keys (i * 2654435761 mod 2^32, all
 * distinct) into an open-addressing hash table that grows by doubling, then
 * looks every key up and sums the values.
 * Usage: hashmap [N]   (N defaults to 2 000 000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int64_t key, value;
    int used;
} Slot;

typedef struct {
    Slot *slots;
    size_t count, mask;
} Map;

static size_t slot_of(const Map *m, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15u;
    size_t i = (size_t)(h >> 32) & m->mask;
    while (m->slots[i].used && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    return i;
}

static void map_init(Map *m, size_t capacity)
{
    m->slots = calloc(capacity, sizeof *m->slots);
    if (!m->slots) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    m->count = 0;
    m->mask = capacity - 1;
}

static void map_put(Map *m, int64_t key, int64_t value);

/* Doubles the table and re-inserts every entry. */
static void map_grow(Map *m)
{
    Map old = *m;
    map_init(m, (old.mask + 1) * 2);
    for (size_t i = 0; i <= old.mask; i++)
        if (old.slots[i].used)
            map_put(m, old.slots[i].key, old.slots[i].value);
    free(old.slots);
}

static void map_put(Map *m, int64_t key, int64_t value)
{
    if ((m->count + 1) * 4 > (m->mask + 1) * 3)
        map_grow(m);
    Slot *s = &m->slots[slot_of(m, key)];
    if (!s->used) {
        s->used = 1;
        s->key = key;
        m->count++;
    }
    s->value = value;
}

static int64_t map_get(const Map *m, int64_t key)
{
    const Slot *s = &m->slots[slot_of(m, key)];
    return s->used ? s->value : 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    Map m;
    map_init(&m, 8);
    for (int64_t i = 0; i < n; i++)
        map_put(&m, i * 2654435761 % 4294967296, i);
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += map_get(&m, i * 2654435761 % 4294967296);
    printf("%lld\n", (long long)sum);
    free(m.slots);
    return 0;
}
