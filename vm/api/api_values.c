/* The embedding API, part 2: handles, and the values behind them.
 *
 * A handle id is (generation << 32) | (slot index + 1); id 0 is nil and
 * owns no slot. Slots sit in an uncollectable array, which the collector
 * scans, so a held value is never freed. Releasing a slot bumps its
 * generation, so a stale id no longer matches: use after release is
 * detected (PVM_EARG) rather than reading whatever the slot holds next.
 * Each VM starts its generations at its own salt, which makes a handle
 * of another VM fail the same check. */
#include <gc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vm/api/api_int.h"

/* ---- The handle table ---- */

void pvmA_handles_init(pvm_vm *P)
{
    ApiHandles *H = &P->handles;
    uint64_t mix = (uint64_t)(uintptr_t)P * 0x9E3779B97F4A7C15u;
    H->salt = (uint32_t)(mix >> 32) | 1u;
    H->serial = H->salt; /* another VM's argument ids fail too */
    H->free_head = API_NO_SLOT;
}

void pvmA_handles_free(pvm_vm *P)
{
    ApiHandles *H = &P->handles;
    if (H->slots)
        GC_FREE(H->slots);
    free(H->locals);
    free(H->argf);
    memset(H, 0, sizeof *H);
}

/* The only step of making a handle that needs the calling thread to be
 * known to the collector: the slots are collector memory. Doubles the
 * array; the new slots go on the free list lowest first. */
bool pvmA_grow_handles(ApiHandles *H)
{
    if (!pvmA_thread_ensure() || H->cap >= API_ARG_ID / 2) /* ids stay below API_ARG_ID */
        return false;
    uint32_t cap = H->cap ? H->cap * 2 : API_FIRST_SLOTS;
    ApiSlot *slots = GC_MALLOC_UNCOLLECTABLE(cap * sizeof(ApiSlot));
    if (!slots)
        return false;
    if (H->slots) {
        memcpy(slots, H->slots, H->cap * sizeof(ApiSlot));
        GC_FREE(H->slots);
    }
    for (uint32_t i = cap; i-- > H->cap;) {
        slots[i].v = VAL_NIL;
        slots[i].gen = H->salt;
        slots[i].next_free = H->free_head;
        H->free_head = i;
    }
    H->slots = slots;
    H->cap = cap;
    return true;
}

bool pvmA_argf_grow(ApiHandles *H)
{
    uint32_t cap = H->argf_cap ? H->argf_cap * 2 : 16;
    ApiArgFrame *argf = realloc(H->argf, cap * sizeof *argf);
    if (!argf)
        return false;
    H->argf = argf;
    H->argf_cap = cap;
    return true;
}

bool pvmA_locals_grow(ApiHandles *H, size_t n)
{
    size_t cap = H->locals_cap ? H->locals_cap : 64;
    while (cap - H->nlocals < n)
        cap *= 2;
    uint64_t *locals = realloc(H->locals, cap * sizeof *locals);
    if (!locals)
        return false;
    H->locals = locals;
    H->locals_cap = cap;
    return true;
}

/* A handle for [v]; [local] ones are released when the running native
 * returns. */
static inline bool api_new_handle(pvm_vm *P, Value v, bool local, pvm_value *out)
{
    ApiHandles *H = &P->handles;
    *out = PVM_NIL;
    if (v.type == VT_NIL)
        return true;
    if (local && !pvmA_locals_room(H, 1))
        return false;
    uint64_t id = pvmA_take_slot(H, v);
    if (!id)
        return false;
    if (local)
        H->locals[H->nlocals++] = id;
    out->id = id;
    return true;
}

bool pvmA_handle_slow(pvm_vm *P, Value v, pvm_value *out)
{
    return api_new_handle(P, v, P->depth > 0, out);
}

bool pvmA_value_fail(pvm_vm *P, pvm_value h)
{
    if (!pvmA_thread_ensure())
        pvmA_fail(P, PVM_ESTATE, "%s", API_THREAD_TEXT);
    else
        pvmA_fail(P, PVM_EARG, "invalid or released handle %#llx", (unsigned long long)h.id);
    return false;
}

pvm_value pvm_retain(pvm_vm *P, pvm_value v)
{
    Value val = VAL_NIL; /* set when found: gcc cannot always tell */
    pvm_value h;
    if (!P || !pvmA_value(P, v, &val))
        return PVM_NIL;
    if (!api_new_handle(P, val, false, &h))
        pvmA_fail(P, PVM_ENOMEM, "out of memory");
    return h;
}

PVM_COLD PVM_NOINLINE static pvm_status api_release_failed(pvm_vm *P, pvm_value v)
{
    if (!P)
        return PVM_EARG;
    return pvmA_fail(P, PVM_EARG, "invalid or released handle %#llx", (unsigned long long)v.id);
}

pvm_status pvm_release(pvm_vm *P, pvm_value v)
{
    if (P && (v.id == 0 || pvmA_release_id(&P->handles, v.id)))
        return PVM_OK;
    return api_release_failed(P, v);
}

size_t pvm_handle_count(const pvm_vm *P)
{
    if (!P)
        return 0;
    const ApiHandles *H = &P->handles;
    size_t n = H->live;
    for (uint32_t f = 0; f < H->nargf; f++) {
        const ApiArgFrame *a = &H->argf[f];
        for (uint32_t i = 0; i < a->argc; i++)
            n += a->args[i].type != VT_NIL && !(a->released >> i & 1);
    }
    return n;
}

/* ---- Types ---- */

static pvm_type api_type(Value v)
{
    switch ((ValueType)v.type) {
    case VT_NIL: return PVM_TNIL;
    case VT_BOOL: return PVM_TBOOL;
    case VT_INT: return PVM_TINT;
    case VT_FLOAT: return PVM_TFLOAT;
    case VT_STRING: return PVM_TSTRING;
    case VT_ARRAY: return PVM_TARRAY;
    case VT_MAP: return PVM_TMAP;
    case VT_CLOSURE:
    case VT_NATIVE: return PVM_TFUNCTION;
    case VT_POINTER: return PVM_TPOINTER;
    default: return PVM_TINVALID;
    }
}

const char *pvm_type_name(pvm_type type)
{
    static const char *const names[] = { "nil", "bool", "int", "float", "string",
                                         "array", "map", "function", "pointer" };
    return type >= PVM_TNIL && type <= PVM_TPOINTER ? names[type] : "invalid";
}

pvm_type pvm_typeof(pvm_vm *P, pvm_value v)
{
    Value val;
    return P && pvmA_lookup(P, v, &val) ? api_type(val) : PVM_TINVALID;
}

bool pvm_is_nil(pvm_vm *P, pvm_value v)
{
    return pvm_typeof(P, v) == PVM_TNIL;
}

/* The value of [h] if it has type [want]; else records PVM_ETYPE. */
PVM_COLD static bool api_type_fail(pvm_vm *P, pvm_type want, Value v)
{
    pvmA_fail(P, PVM_ETYPE, "expected %s, got %s", pvm_type_name(want), pvmV_type_name(v));
    return false;
}

/* Inline: it is all an accessor does. */
static inline bool api_expect(pvm_vm *P, pvm_value h, pvm_type want, Value *out)
{
    if (!pvmA_value(P, h, out))
        return false;
    return api_type(*out) == want || api_type_fail(P, want, *out);
}

/* ---- Constructors ---- */

static pvm_value api_result(pvm_vm *P, Value v)
{
    pvm_value h;
    if (!pvmA_handle(P, v, &h))
        pvmA_fail(P, PVM_ENOMEM, "out of memory");
    return h;
}

pvm_value pvm_bool(pvm_vm *P, bool b)
{
    return P ? api_result(P, vm_bool(b)) : PVM_NIL;
}

pvm_value pvm_int(pvm_vm *P, int64_t i)
{
    return P ? api_result(P, vm_int(i)) : PVM_NIL;
}

pvm_value pvm_float(pvm_vm *P, double f)
{
    return P ? api_result(P, vm_float(f)) : PVM_NIL;
}

/* Allocating constructors run protected: the memory limit may raise. */
typedef struct {
    const char *chars;
    size_t len;
    void *ptr;
    Value result;
} ApiMake;

static pvm_value api_make(pvm_vm *P, void (*body)(VM *, void *), ApiMake *m)
{
    m->result = VAL_NIL;
    if (pvmA_protect(P, body, m) != PVM_OK)
        return PVM_NIL;
    return api_result(P, m->result);
}

static void api_make_string(VM *vm, void *ud)
{
    ApiMake *m = ud;
    m->result = vm_str_value(pvmV_string_new(vm, m->chars, m->len));
}

pvm_value pvm_string(pvm_vm *P, const char *s, size_t len)
{
    if (!P)
        return PVM_NIL;
    if (!s && len) {
        pvmA_fail(P, PVM_EARG, "pvm_string: NULL text of length %zu", len);
        return PVM_NIL;
    }
    ApiMake m = { .chars = s ? s : "", .len = len };
    return api_make(P, api_make_string, &m);
}

pvm_value pvm_cstring(pvm_vm *P, const char *s)
{
    if (P && !s) {
        pvmA_fail(P, PVM_EARG, "pvm_cstring: NULL string");
        return PVM_NIL;
    }
    return pvm_string(P, s, s ? strlen(s) : 0);
}

static void api_make_array(VM *vm, void *ud)
{
    ((ApiMake *)ud)->result = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
}

static void api_make_map(VM *vm, void *ud)
{
    ((ApiMake *)ud)->result = vm_obj(VT_MAP, pvmV_map_new(vm, 0));
}

static void api_make_pointer(VM *vm, void *ud)
{
    ApiMake *m = ud;
    PvPointer *box = pvmV_alloc(vm, sizeof(PvPointer)); /* zeroed: a foreign pointer */
    box->addr = m->ptr;
    m->result = vm_obj(VT_POINTER, box);
}

pvm_value pvm_new_array(pvm_vm *P)
{
    ApiMake m = { 0 };
    return P ? api_make(P, api_make_array, &m) : PVM_NIL;
}

pvm_value pvm_new_map(pvm_vm *P)
{
    ApiMake m = { 0 };
    return P ? api_make(P, api_make_map, &m) : PVM_NIL;
}

pvm_value pvm_pointer(pvm_vm *P, void *p)
{
    ApiMake m = { .ptr = p };
    return P ? api_make(P, api_make_pointer, &m) : PVM_NIL;
}

/* ---- Accessors ---- */

/* The value of [v] when all is well: [P] given, the thread known, [v]
 * live. The hot accessors try this first and take their checked path,
 * which says what is wrong, only when it fails or the type differs: then
 * the common case calls nothing and saves no registers (the checked paths
 * are kept out of line for that). */
static inline bool api_quick(pvm_vm *P, pvm_value v, Value *out)
{
    return P && pvmA_thread_ready && pvmA_lookup(P, v, out);
}

PVM_COLD PVM_NOINLINE static pvm_status api_get_bool_checked(pvm_vm *P, pvm_value v, bool *out)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_get_bool: NULL out");
    if (!api_expect(P, v, PVM_TBOOL, &val))
        return P->status;
    *out = val.as.b;
    return PVM_OK;
}

pvm_status pvm_get_bool(pvm_vm *P, pvm_value v, bool *out)
{
    Value val;
    if (api_quick(P, v, &val) && out && val.type == VT_BOOL) {
        *out = val.as.b;
        return PVM_OK;
    }
    return api_get_bool_checked(P, v, out);
}

PVM_COLD PVM_NOINLINE static pvm_status api_get_int_checked(pvm_vm *P, pvm_value v, int64_t *out)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_get_int: NULL out");
    if (!api_expect(P, v, PVM_TINT, &val))
        return P->status;
    *out = val.as.i;
    return PVM_OK;
}

pvm_status pvm_get_int(pvm_vm *P, pvm_value v, int64_t *out)
{
    Value val;
    if (api_quick(P, v, &val) && out && val.type == VT_INT) {
        *out = val.as.i;
        return PVM_OK;
    }
    return api_get_int_checked(P, v, out);
}

PVM_COLD PVM_NOINLINE static pvm_status api_get_float_checked(pvm_vm *P, pvm_value v, double *out)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_get_float: NULL out");
    if (!pvmA_value(P, v, &val))
        return P->status;
    if (val.type == VT_INT)
        *out = (double)val.as.i;
    else if (val.type == VT_FLOAT)
        *out = val.as.f;
    else
        return pvmA_fail(P, PVM_ETYPE, "expected float, got %s", pvmV_type_name(val));
    return PVM_OK;
}

pvm_status pvm_get_float(pvm_vm *P, pvm_value v, double *out)
{
    Value val;
    if (api_quick(P, v, &val) && out && val.type == VT_FLOAT) {
        *out = val.as.f;
        return PVM_OK;
    }
    return api_get_float_checked(P, v, out);
}

pvm_status pvm_get_string(pvm_vm *P, pvm_value v, const char **s, size_t *len)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!s)
        return pvmA_fail(P, PVM_EARG, "pvm_get_string: NULL out");
    if (!api_expect(P, v, PVM_TSTRING, &val))
        return P->status;
    *s = val.as.s->chars;
    if (len)
        *len = val.as.s->len;
    return PVM_OK;
}

pvm_status pvm_get_pointer(pvm_vm *P, pvm_value v, void **out)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_get_pointer: NULL out");
    if (!api_expect(P, v, PVM_TPOINTER, &val))
        return P->status;
    *out = vm_pointer_addr(val);
    return PVM_OK;
}

bool pvm_truthy(pvm_vm *P, pvm_value v)
{
    Value val;
    return P && pvmA_lookup(P, v, &val) && vm_is_truthy(val);
}

bool pvm_equal(pvm_vm *P, pvm_value a, pvm_value b)
{
    Value x, y;
    return P && pvmA_lookup(P, a, &x) && pvmA_lookup(P, b, &y) && pvmV_values_equal(x, y);
}

typedef struct {
    Value in, out;
} ApiConvert;

static void api_to_string_body(VM *vm, void *ud)
{
    ApiConvert *c = ud;
    c->out = vm_str_value(pvmV_to_string(vm, c->in));
}

pvm_status pvm_to_string(pvm_vm *P, pvm_value v, pvm_value *out)
{
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_to_string: NULL out");
    *out = PVM_NIL;
    ApiConvert c;
    if (!pvmA_value(P, v, &c.in))
        return P->status;
    pvm_status st = pvmA_protect(P, api_to_string_body, &c);
    if (st == PVM_OK && !pvmA_handle(P, c.out, out))
        return pvmA_fail(P, PVM_ENOMEM, "out of memory");
    return st;
}

/* ---- Containers ---- */

pvm_status pvm_len(pvm_vm *P, pvm_value v, size_t *out)
{
    Value val;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_len: NULL out");
    if (!pvmA_value(P, v, &val))
        return P->status;
    switch (val.type) {
    case VT_STRING: *out = val.as.s->len; return PVM_OK;
    case VT_ARRAY: *out = val.as.a->len; return PVM_OK;
    case VT_MAP: *out = val.as.m->count; return PVM_OK;
    default: return pvmA_fail(P, PVM_ETYPE, "len: expected string, array or map, got %s", pvmV_type_name(val));
    }
}

/* The array [h] and a checked index [i] into it. */
static pvm_status api_array_at(pvm_vm *P, pvm_value h, size_t i, PvArray **out)
{
    Value val;
    if (!api_expect(P, h, PVM_TARRAY, &val))
        return P->status;
    if (i >= val.as.a->len)
        return pvmA_fail(P, PVM_ERANGE, "index %zu out of range for array of length %zu", i, val.as.a->len);
    *out = val.as.a;
    return PVM_OK;
}

pvm_status pvm_array_get(pvm_vm *P, pvm_value array, size_t i, pvm_value *out)
{
    PvArray *a = NULL;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_array_get: NULL out");
    *out = PVM_NIL;
    pvm_status st = api_array_at(P, array, i, &a);
    if (st != PVM_OK)
        return st;
    return pvmA_handle(P, pvmV_array_load(a, i), out) ? PVM_OK : pvmA_fail(P, PVM_ENOMEM, "out of memory");
}

/* Container updates that may allocate or raise, run protected. */
typedef struct {
    Value target, key, value;
    const char *field; /* the key of the _field functions */
    bool found;
} ApiUpdate;

/* A store that changes the array's kind allocates its boxed storage. */
static void api_array_store_body(VM *vm, void *ud)
{
    ApiUpdate *u = ud;
    pvmV_array_store(vm, u->target.as.a, (size_t)u->key.as.i, u->value);
}

pvm_status pvm_array_set(pvm_vm *P, pvm_value array, size_t i, pvm_value v)
{
    PvArray *a = NULL;
    ApiUpdate u;
    if (!P)
        return PVM_EARG;
    if (!pvmA_value(P, v, &u.value))
        return P->status;
    pvm_status st = api_array_at(P, array, i, &a);
    if (st != PVM_OK)
        return st;
    if (pvmV_array_fits(a, u.value)) {
        pvmV_array_put(a, i, u.value);
        return PVM_OK;
    }
    u.target = vm_obj(VT_ARRAY, a);
    u.key = vm_int((int64_t)i);
    return pvmA_protect(P, api_array_store_body, &u);
}

static void api_push_body(VM *vm, void *ud)
{
    ApiUpdate *u = ud;
    pvmV_array_push(vm, u->target.as.a, u->value);
}

pvm_status pvm_array_push(pvm_vm *P, pvm_value array, pvm_value v)
{
    ApiUpdate u;
    if (!P)
        return PVM_EARG;
    if (!api_expect(P, array, PVM_TARRAY, &u.target) || !pvmA_value(P, v, &u.value))
        return P->status;
    return pvmA_protect(P, api_push_body, &u);
}

pvm_status pvm_map_get(pvm_vm *P, pvm_value map, pvm_value key, pvm_value *out)
{
    Value m, k, v;
    if (!P)
        return PVM_EARG;
    if (!out)
        return pvmA_fail(P, PVM_EARG, "pvm_map_get: NULL out");
    *out = PVM_NIL;
    if (!api_expect(P, map, PVM_TMAP, &m) || !pvmA_value(P, key, &k))
        return P->status;
    if (!pvmV_map_get(m.as.m, k, &v))
        return pvmA_fail(P, PVM_ENOTFOUND, "key not found");
    return pvmA_handle(P, v, out) ? PVM_OK : pvmA_fail(P, PVM_ENOMEM, "out of memory");
}

static void api_map_set_body(VM *vm, void *ud)
{
    ApiUpdate *u = ud;
    pvmV_map_set(vm, u->target.as.m, u->key, u->value);
}

pvm_status pvm_map_set(pvm_vm *P, pvm_value map, pvm_value key, pvm_value v)
{
    ApiUpdate u;
    if (!P)
        return PVM_EARG;
    if (!api_expect(P, map, PVM_TMAP, &u.target) || !pvmA_value(P, key, &u.key) || !pvmA_value(P, v, &u.value))
        return P->status;
    if (u.key.type == VT_NIL || (u.key.type == VT_FLOAT && isnan(u.key.as.f)))
        return pvmA_fail(P, PVM_EARG, "map key cannot be %s", u.key.type == VT_NIL ? "nil" : "NaN");
    return pvmA_protect(P, api_map_set_body, &u);
}

pvm_status pvm_map_remove(pvm_vm *P, pvm_value map, pvm_value key)
{
    Value m, k;
    if (!P)
        return PVM_EARG;
    if (!api_expect(P, map, PVM_TMAP, &m) || !pvmA_value(P, key, &k))
        return P->status;
    return pvmV_map_remove(m.as.m, k, NULL) ? PVM_OK : pvmA_fail(P, PVM_ENOTFOUND, "key not found");
}

static void api_field_body(VM *vm, void *ud)
{
    ApiUpdate *u = ud;
    Value key = vm_str_value(pvmV_string_cstr(vm, u->field));
    if (u->found)
        pvmV_map_set(vm, u->target.as.m, key, u->value);
    else
        u->found = pvmV_map_get(u->target.as.m, key, &u->value);
}

pvm_status pvm_map_get_field(pvm_vm *P, pvm_value map, const char *key, pvm_value *out)
{
    ApiUpdate u = { .found = false };
    if (!P)
        return PVM_EARG;
    if (!key || !out)
        return pvmA_fail(P, PVM_EARG, "pvm_map_get_field: NULL argument");
    *out = PVM_NIL;
    if (!api_expect(P, map, PVM_TMAP, &u.target))
        return P->status;
    u.field = key;
    pvm_status st = pvmA_protect(P, api_field_body, &u);
    if (st != PVM_OK)
        return st;
    if (!u.found)
        return pvmA_fail(P, PVM_ENOTFOUND, "key '%s' not found", key);
    return pvmA_handle(P, u.value, out) ? PVM_OK : pvmA_fail(P, PVM_ENOMEM, "out of memory");
}

pvm_status pvm_map_set_field(pvm_vm *P, pvm_value map, const char *key, pvm_value v)
{
    ApiUpdate u = { .found = true };
    if (!P)
        return PVM_EARG;
    if (!key)
        return pvmA_fail(P, PVM_EARG, "pvm_map_set_field: NULL key");
    if (!api_expect(P, map, PVM_TMAP, &u.target) || !pvmA_value(P, v, &u.value))
        return P->status;
    u.field = key;
    return pvmA_protect(P, api_field_body, &u);
}

bool pvm_map_next(pvm_vm *P, pvm_value map, size_t *iter, pvm_value *key, pvm_value *value)
{
    Value m;
    if (!P)
        return false;
    if (!iter || !key || !value) {
        pvmA_fail(P, PVM_EARG, "pvm_map_next: NULL argument");
        return false;
    }
    *key = *value = PVM_NIL;
    if (!api_expect(P, map, PVM_TMAP, &m))
        return false;
    int64_t pos = pvmV_map_next(m.as.m, *iter);
    if (pos < 0)
        return false;
    const PvMapEntry *e = &m.as.m->entries[pos];
    if (!pvmA_handle(P, pvmV_map_key(m.as.m, (size_t)pos), key) || !pvmA_handle(P, e->value, value)) {
        pvm_release(P, *key);
        *key = PVM_NIL;
        pvmA_fail(P, PVM_ENOMEM, "out of memory");
        return false;
    }
    *iter = (size_t)pos + 1;
    return true;
}
