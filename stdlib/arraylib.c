/* The array module: sorting, slicing, insertion and removal, and the
 * higher-order map / filter / reduce.
 *
 * Functions that call PV code (sort with a comparator, map, filter, reduce)
 * must survive that code mutating the array: they re-read its length on
 * every step, and sort works on a private copy that it writes back. */
#include <string.h>

#include "stdlib/lib.h"

static Value new_array_value(PvArray *a)
{
    return vm_obj(VT_ARRAY, a);
}

/* An array of [n] Values, uninitialised, in the scanning heap. */
static Value *alloc_values(VM *vm, size_t n)
{
    return pvmV_alloc(vm, pvmV_checked_size(vm, n, sizeof(Value), 0));
}

/* ---- sort ---- */

/* The ordering used by a sort: the default (numbers or strings) or a PV
 * comparison function less(x, y). */
typedef struct {
    VM *vm;
    Value less; /* nil for the default ordering */
} Order;

static bool default_less(Value x, Value y)
{
    if (x.type == VT_STRING)
        return pvmV_string_compare(x.as.s, y.as.s) < 0;
    return pvmL_compare_numbers(x, y) == -1;
}

static bool order_less(const Order *o, Value x, Value y)
{
    if (o->less.type == VT_NIL)
        return default_less(x, y);
    Value pair[2] = { x, y };
    return vm_is_truthy(pvmV_call(o->vm, o->less, 2, pair));
}

/* Merges the sorted runs src[lo..mid) and src[mid..hi) into dst[lo..hi).
 * Ties take the left run first, which keeps the sort stable. */
static void merge(const Order *o, const Value *src, Value *dst, size_t lo, size_t mid, size_t hi)
{
    pvmV_charge(o->vm, 0); /* charged up front: only the interrupt is polled */
    size_t i = lo, j = mid;
    for (size_t k = lo; k < hi; k++) {
        if (i < mid && (j >= hi || !order_less(o, src[j], src[i])))
            dst[k] = src[i++];
        else
            dst[k] = src[j++];
    }
}

/* Sorts [a][lo..hi) using [tmp] (same size as [a]) as scratch. */
static void merge_sort(const Order *o, Value *a, Value *tmp, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return;
    size_t mid = lo + (hi - lo) / 2;
    merge_sort(o, a, tmp, lo, mid);
    merge_sort(o, a, tmp, mid, hi);
    if (!order_less(o, a[mid], a[mid - 1]))
        return; /* already in order: a common case worth one comparison */
    memcpy(tmp + lo, a + lo, (hi - lo) * sizeof(Value));
    merge(o, tmp, a, lo, mid, hi);
}

/* The default ordering compares numbers with numbers or strings with
 * strings; anything else in the array is an error, raised before sorting. */
static void check_sortable(VM *vm, const Value *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        bool same = (vm_is_number(items[0]) && vm_is_number(items[i])) ||
                    (items[0].type == VT_STRING && items[i].type == VT_STRING);
        if (!same)
            pvmV_error(vm, "array.sort: cannot compare %s and %s", pvmV_type_name(items[0]),
                     pvmV_type_name(items[i]));
    }
}

/* The levels of a merge sort of [n] elements: ceil(log2(n)). */
static size_t sort_depth(size_t n)
{
    size_t d = 0;
    while (((size_t)1 << d) < n)
        d++;
    return d;
}

static Value a_sort(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    Order order = { vm, argc > 1 ? pvmL_arg_function(vm, fname, args, 1) : VAL_NIL };
    size_t n = a->len;
    if (n < 2)
        return VAL_NIL;
    /* The comparisons and moves; a PV comparator is charged by its calls. */
    if (order.less.type == VT_NIL)
        pvmV_charge_items(vm, n * sort_depth(n));
    Value *copy = alloc_values(vm, n);
    for (size_t i = 0; i < n; i++)
        copy[i] = pvmV_array_load(a, i);
    if (order.less.type == VT_NIL)
        check_sortable(vm, copy, n);
    merge_sort(&order, copy, alloc_values(vm, n), 0, n);
    /* The comparator may have resized the array: the sorted copy replaces
     * its contents whatever its length (or kind) is now. */
    pvmV_array_assign(vm, a, copy, n);
    return VAL_NIL;
}

/* ---- in-place edits ---- */

static Value a_reverse(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    pvmV_charge_items(vm, a->len);
    for (size_t i = 0, j = a->len; i + 1 < j; i++, j--) {
        Value t = pvmV_array_load(a, i);
        pvmV_array_put(a, i, pvmV_array_load(a, j - 1));
        pvmV_array_put(a, j - 1, t);
    }
    return VAL_NIL;
}

static Value a_insert(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    int64_t i = pvmL_arg_int(vm, fname, args, 1);
    Value v = args[2];
    if (i != (int64_t)a->len)
        pvmV_array_get(vm, a, i); /* raises the language's index error */
    pvmV_charge_items(vm, a->len - (size_t)i);
    pvmV_array_insert(vm, a, (size_t)i, v);
    return VAL_NIL;
}

static Value a_remove_at(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    int64_t i = pvmL_arg_int(vm, fname, args, 1);
    pvmV_array_get(vm, a, i); /* raises the language's index error */
    pvmV_charge_items(vm, a->len - (size_t)i);
    return pvmV_array_remove(a, (size_t)i);
}

/* ---- new arrays ---- */

static Value a_slice(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    size_t i = pvmL_clamp_index(pvmL_arg_int(vm, fname, args, 1), a->len);
    size_t j = argc > 2 ? pvmL_clamp_index(pvmL_arg_int(vm, fname, args, 2), a->len) : a->len;
    pvmV_charge_items(vm, j > i ? j - i : 0);
    return new_array_value(pvmV_array_slice(vm, a, i, j));
}

static Value a_index_of(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    pvmV_charge_items(vm, a->len); /* the worst case of the scan */
    for (size_t i = 0; i < a->len; i++)
        if (pvmV_values_equal(pvmV_array_load(a, i), args[1]))
            return vm_int((int64_t)i);
    return vm_int(-1);
}

static Value a_concat(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    PvArray *b = pvmL_arg_array(vm, fname, args, 1);
    size_t n = pvmV_checked_size(vm, a->len, 1, b->len);
    pvmV_charge_items(vm, n);
    return new_array_value(pvmV_array_concat(vm, a, b));
}

static Value a_new(VM *vm, int argc, Value *args, void *fname)
{
    int64_t n = pvmL_arg_int(vm, fname, args, 0);
    if (n < 0)
        pvmV_error(vm, "array.new: size must not be negative, got %lld", (long long)n);
    if ((uint64_t)n > SIZE_MAX / sizeof(Value))
        pvmV_out_of_memory(vm);
    pvmV_charge_items(vm, (size_t)n); /* before allocating */
    return new_array_value(pvmV_array_filled(vm, (size_t)n, args[1]));
}

/* ---- higher-order ---- */

static Value a_map(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    Value f = pvmL_arg_function(vm, fname, args, 1);
    PvArray *r = pvmV_array_new(vm, a->len);
    for (size_t i = 0; i < a->len; i++) {
        Value x = pvmV_array_load(a, i);
        pvmV_array_push(vm, r, pvmV_call(vm, f, 1, &x));
    }
    return new_array_value(r);
}

static Value a_filter(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    Value f = pvmL_arg_function(vm, fname, args, 1);
    PvArray *r = pvmV_array_new(vm, 0);
    for (size_t i = 0; i < a->len; i++) {
        Value x = pvmV_array_load(a, i);
        if (vm_is_truthy(pvmV_call(vm, f, 1, &x)))
            pvmV_array_push(vm, r, x);
    }
    return new_array_value(r);
}

static Value a_reduce(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    Value f = pvmL_arg_function(vm, fname, args, 1);
    Value acc = args[2];
    for (size_t i = 0; i < a->len; i++) {
        Value pair[2] = { acc, pvmV_array_load(a, i) };
        acc = pvmV_call(vm, f, 2, pair);
    }
    return acc;
}

/* The leaves a trace calls itself; not sort (it may raise half done: a
 * comparison of mixed types) nor map, filter and reduce, which call PV. */
static const LibFunc array_funcs[] = {
    { "array.sort", a_sort, 1, 2, VM_LEAF_NO },
    { "array.reverse", a_reverse, 1, 1, VM_LEAF_MUTATES },
    { "array.slice", a_slice, 2, 3, VM_LEAF_PURE },
    { "array.insert", a_insert, 3, 3, VM_LEAF_MUTATES },
    { "array.remove_at", a_remove_at, 2, 2, VM_LEAF_MUTATES },
    { "array.index_of", a_index_of, 2, 2, VM_LEAF_PURE },
    { "array.concat", a_concat, 2, 2, VM_LEAF_PURE },
    { "array.new", a_new, 2, 2, VM_LEAF_PURE },
    { "array.map", a_map, 2, 2, VM_LEAF_NO },
    { "array.filter", a_filter, 2, 2, VM_LEAF_NO },
    { "array.reduce", a_reduce, 3, 3, VM_LEAF_NO },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

void pvmL_open_array(VM *vm)
{
    pvmV_define_builtin(vm, "array", vm_obj(VT_MAP, pvmL_module(vm, array_funcs)));
}
