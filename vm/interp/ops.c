/* The semantic slow paths of instructions (see ops.h). */
#include "vm/interp/arith.h"
#include "vm/interp/ops.h"

static const char *vm_op_symbol(Opcode op)
{
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_BAND: return "&";
    case OP_BOR: return "|";
    case OP_BXOR: return "^";
    case OP_SHL: return "<<";
    case OP_SHR: return ">>";
    case OP_NEG: return "-";
    case OP_BNOT: return "~";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    default: return "?";
    }
}

PVM_NORETURN static void vm_bad_operands(VM *vm, Opcode op, Value a, Value b)
{
    pvmV_error(vm, "cannot apply '%s' to %s and %s", vm_op_symbol(op), pvmV_type_name(a), pvmV_type_name(b));
}

/* The slow path of every binary arithmetic instruction: the errors, string
 * concatenation, and whatever the interpreter's fast path left. The rules
 * on numbers themselves are arith.h's. */
Value pvmV_arith(VM *vm, Opcode op, Value a, Value b)
{
    Value r;
    if (a.type == VT_INT && b.type == VT_INT) {
        if ((op == OP_DIV || op == OP_MOD) && b.as.i == 0)
            pvmV_error(vm, "division by zero");
        return vm_int(pvmV_int_op(op, a.as.i, b.as.i));
    }
    if (op == OP_ADD && a.type == VT_STRING && b.type == VT_STRING) {
        /* One instruction, but its work grows with the strings: a doubling
         * loop would otherwise reach gigabytes within a tiny budget. */
        pvmV_charge_bytes(vm, a.as.s->len + b.as.s->len);
        return vm_str_value(pvmV_string_concat(vm, a.as.s, b.as.s));
    }
    /* Bitwise operators are for ints only: a float is an error. */
    if (!pvmV_is_arith_op(op) || !pvmV_arith_fast(op, &a, &b, &r))
        vm_bad_operands(vm, op, a, b);
    return r;
}

Value pvmV_unary(VM *vm, Opcode op, Value a)
{
    if (op == OP_NOT)
        return vm_bool(!vm_is_truthy(a));
    if (op == OP_NEG && a.type == VT_INT)
        return vm_int(pvmV_int_neg(a.as.i));
    if (op == OP_NEG && a.type == VT_FLOAT)
        return vm_float(-a.as.f);
    if (op == OP_BNOT && a.type == VT_INT)
        return vm_int(~a.as.i);
    pvmV_error(vm, "cannot apply '%s' to %s", vm_op_symbol(op), pvmV_type_name(a));
}

bool pvmV_compare(VM *vm, Opcode op, Value a, Value b)
{
    int order;
    if (vm_is_number(a) && vm_is_number(b))
        order = pvmV_number_order(a, b);
    else if (a.type == VT_STRING && b.type == VT_STRING) {
        int c = pvmV_string_compare(a.as.s, b.as.s);
        order = (c > 0) - (c < 0);
    } else
        pvmV_error(vm, "cannot compare %s and %s", pvmV_type_name(a), pvmV_type_name(b));
    return pvmV_order_holds(op, order);
}

static int64_t vm_int_index(VM *vm, const char *what, Value key)
{
    if (key.type != VT_INT)
        pvmV_error(vm, "%s index must be int, got %s", what, pvmV_type_name(key));
    return key.as.i;
}

Value pvmV_index_get(VM *vm, Value obj, Value key)
{
    switch (obj.type) {
    case VT_ARRAY:
        return pvmV_array_get(vm, obj.as.a, vm_int_index(vm, "array", key));
    case VT_MAP: {
        Value v;
        return pvmV_map_get(obj.as.m, key, &v) ? v : VAL_NIL;
    }
    case VT_STRING: {
        int64_t i = vm_int_index(vm, "string", key);
        PvString *s = obj.as.s;
        if (i < 0 || (uint64_t)i >= s->len)
            pvmV_error(vm, "index %lld out of range for string of length %zu", (long long)i, s->len);
        return vm_str_value(vm->single_chars[(unsigned char)s->chars[i]]);
    }
    default:
        pvmV_error(vm, "attempt to index a %s value", pvmV_type_name(obj));
    }
}

void pvmV_index_set(VM *vm, Value obj, Value key, Value v)
{
    switch (obj.type) {
    case VT_ARRAY:
        pvmV_array_set(vm, obj.as.a, vm_int_index(vm, "array", key), v);
        return;
    case VT_MAP:
        pvmV_map_set(vm, obj.as.m, key, v);
        return;
    case VT_STRING:
        pvmV_error(vm, "cannot assign to an index of a string (strings are immutable)");
    default:
        pvmV_error(vm, "attempt to index a %s value", pvmV_type_name(obj));
    }
}

bool pvmV_index_present(VM *vm, Value obj, Value key, Value *out)
{
    switch (obj.type) {
    case VT_MAP:
        return pvmV_map_get(obj.as.m, key, out);
    case VT_ARRAY:
        if (key.type != VT_INT || (uint64_t)key.as.i >= obj.as.a->len)
            return false;
        *out = pvmV_array_load(obj.as.a, (size_t)key.as.i);
        return true;
    case VT_STRING:
        if (key.type != VT_INT || (uint64_t)key.as.i >= obj.as.s->len)
            return false;
        *out = vm_str_value(vm->single_chars[(unsigned char)obj.as.s->chars[key.as.i]]);
        return true;
    default:
        return false;
    }
}

void pvmV_method_missing(VM *vm, Value o, Value key)
{
    const char *name = key.as.s->chars;
    if (o.type != VT_MAP)
        pvmV_error(vm, "attempt to call method %s of a %s value", name, pvmV_type_name(o));
    Value class_key = vm_str_value(vm->class_key), c;
    for (int depth = 0; pvmV_map_get(o.as.m, class_key, &c) && c.type == VT_MAP; depth++) {
        if (depth == VM_MAX_CLASS_DEPTH)
            pvmV_error(vm, "no method %s: more than %d classes on the __class chain", name, VM_MAX_CLASS_DEPTH);
        o = c;
    }
    pvmV_error(vm, "no method %s in the map or its classes", name);
}

Value *pvmV_spread_args(VM *vm, Value *top, int *argc)
{
    Value arr = top[-1];
    if (arr.type != VT_ARRAY)
        pvmV_error(vm, "callv needs an array of arguments, got %s", pvmV_type_name(arr));
    size_t n = arr.as.a->len;
    if (n > PBC_MAX_PARAMS - (size_t)*argc)
        pvmV_error(vm, "callv: too many arguments (%zu, the limit is %u)", n + (size_t)*argc, PBC_MAX_PARAMS);
    Value *from = top - 1;
    if (!pvmV_stack_ensure(vm, from + n + 1))
        pvmV_error(vm, "stack overflow");
    const PvArray *a = arr.as.a; /* it stays reachable through [arr] */
    for (size_t i = 0; i < n; i++)
        from[i] = pvmV_array_load(a, i);
    *argc += (int)n;
    vm->top = from + n;
    return vm->top;
}

void pvmV_check_range(VM *vm, Value start, Value end)
{
    if (start.type != VT_INT)
        pvmV_error(vm, "range bounds must be int, got %s", pvmV_type_name(start));
    if (end.type != VT_INT)
        pvmV_error(vm, "range bounds must be int, got %s", pvmV_type_name(end));
}

void pvmV_check_iterable(VM *vm, Value v)
{
    if (v.type != VT_ARRAY && v.type != VT_MAP && v.type != VT_STRING)
        pvmV_error(vm, "cannot iterate over %s", pvmV_type_name(v));
}

/* Upvalues: the open list is sorted by decreasing stack address. */
PvUpval *pvmV_capture_upval(VM *vm, Value *slot)
{
    PvUpval **link = &vm->open_upvals;
    while (*link && (*link)->v > slot)
        link = &(*link)->next;
    if (*link && (*link)->v == slot)
        return *link;
    PvUpval *uv = pvmV_alloc(vm, sizeof(PvUpval));
    uv->v = slot;
    uv->closed = VAL_NIL;
    uv->slot = (size_t)(slot - vm->stack);
    uv->next = *link;
    *link = uv;
    return uv;
}

PvClosure *pvmV_closure_new(VM *vm, VmProto *p, Value *base, const PvClosure *enclosing)
{
    PvClosure *c = pvmV_alloc(vm, sizeof(PvClosure) + p->nupvals * sizeof(PvUpval *));
    c->proto = p;
    c->nupvals = p->nupvals;
    for (uint32_t u = 0; u < p->nupvals; u++)
        c->upvals[u] = p->upvals[u].from_local ? pvmV_capture_upval(vm, base + p->upvals[u].index)
                                               : enclosing->upvals[p->upvals[u].index];
    return c;
}

void pvmV_close_upvals(VM *vm, Value *level)
{
    while (vm->open_upvals && vm->open_upvals->v >= level) {
        PvUpval *uv = vm->open_upvals;
        uv->closed = *uv->v;
        uv->v = &uv->closed;
        vm->open_upvals = uv->next;
        uv->next = NULL;
    }
}

static const char *vm_callee_name(const PvString *name)
{
    return name ? name->chars : "<anon>";
}

PVM_NORETURN static void vm_arity_error(VM *vm, const char *name, int min, int max, int got)
{
    if (max < 0)
        pvmV_error(vm, "%s expects at least %d argument%s, got %d", name, min, min == 1 ? "" : "s", got);
    if (min == max)
        pvmV_error(vm, "%s expects %d argument%s, got %d", name, min, min == 1 ? "" : "s", got);
    pvmV_error(vm, "%s expects %d to %d arguments, got %d", name, min, max, got);
}

static void vm_call_native(VM *vm, Value *callee, int argc)
{
    if (!pvmV_call_native(vm, callee, argc)) {
        PvNative *n = callee->as.nat;
        vm_arity_error(vm, n->name->chars, n->min_args, n->max_args, argc);
    }
}

/* Never beyond VM_MAX_FRAMES, so that the interpreter's fast call path
 * needs only the one check against frames_cap. */
static void vm_grow_frames(VM *vm)
{
    size_t cap = vm->frames_cap * 2 < VM_MAX_FRAMES ? vm->frames_cap * 2 : VM_MAX_FRAMES;
    vm->frames = pvmV_realloc(vm, vm->frames, cap * sizeof(VmFrame));
    vm->frames_cap = cap;
}

/* Collects arguments past the fixed ones into the rest array. */
static void vm_collect_rest(VM *vm, Value *base, uint32_t nparams, int argc)
{
    size_t extra = argc > (int)nparams ? (size_t)argc - nparams : 0;
    PvArray *rest = pvmV_array_of(vm, base + nparams, extra);
    base[nparams] = vm_obj(VT_ARRAY, rest);
}

bool pvmV_call_value(VM *vm, Value *callee, int argc)
{
    if (callee->type == VT_NATIVE) {
        vm_call_native(vm, callee, argc);
        return false;
    }
    if (callee->type != VT_CLOSURE)
        pvmV_error(vm, "attempt to call a %s value", pvmV_type_name(*callee));
    PvClosure *cl = callee->as.cl;
    VmProto *p = cl->proto;
    if (p->variadic ? argc < (int)p->nparams : argc != (int)p->nparams)
        vm_arity_error(vm, vm_callee_name(p->name), (int)p->nparams, p->variadic ? -1 : (int)p->nparams, argc);
    Value *base = callee + 1;
    if (vm->nframes >= VM_MAX_FRAMES || !pvmV_stack_ensure(vm, base + p->frame_slots))
        pvmV_error(vm, "stack overflow");
    if (vm->nframes == vm->frames_cap)
        vm_grow_frames(vm);
    if (p->variadic)
        vm_collect_rest(vm, base, p->nparams, argc);
    vm_enter_frame(vm, cl, base, p->nparams + (p->variadic ? 1 : 0));
    return true;
}

static Value vm_build_exports(VM *vm, VmModule *mod)
{
    PvMap *m = pvmV_map_new(vm, mod->nglobals);
    for (uint32_t g = 0; g < mod->nglobals; g++) {
        PvString *name = mod->global_names[g];
        if (name->len > 0 && name->chars[0] == '_')
            continue;
        pvmV_map_set(vm, m, vm_str_value(name), mod->globals[g]);
    }
    return vm_obj(VT_MAP, m);
}

Value pvmV_import(VM *vm, VmModule *mod)
{
    if (mod->state == VM_MODULE_DONE)
        return mod->exports;
    if (mod->state == VM_MODULE_RUNNING)
        pvmV_error(vm, "import cycle: module '%s' is imported while it runs", mod->name->chars);
    mod->state = VM_MODULE_RUNNING;
    PvClosure *cl = pvmV_alloc(vm, sizeof(PvClosure));
    cl->proto = mod->main;
    cl->nupvals = 0;
    pvmV_call(vm, vm_obj(VT_CLOSURE, cl), 0, NULL);
    mod->exports = vm_build_exports(vm, mod);
    mod->state = VM_MODULE_DONE;
    return mod->exports;
}
