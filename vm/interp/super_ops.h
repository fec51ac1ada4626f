/* The bodies of the superinstructions (super.h): a fragment of the dispatch
 * loop in interp.c, included inside pvmV_execute where the loop's registers
 * and macros (CASE, NEXT, SLOW, SAVE, CHARGE_JUMP) are in scope, because
 * each body ends by jumping straight to the next instruction's label. Not a
 * header to include anywhere else, hence no include guard.
 *
 * A body covers its common case and otherwise calls SLOW(), which runs the
 * first original instruction of the sequence: the plain opcodes stay the
 * reference semantics. */
#ifdef VM_COMPUTED_GOTO
#define SCASE(name) L_##name:
#endif
#define LOCAL(k) (base[ip[k].arg])
#define GLOBAL(k) (globals[ip[k].arg])
#define IMM(k) (vm_int(ip[k].arg))
/* The same operands by address, for arith.h's helpers. */
#define LOCALP(k) (&base[ip[k].arg])
#define GLOBALP(k) (&globals[ip[k].arg])
#define IMMP(k) (&(const Value){ .type = VT_INT, .as.i = ip[k].arg })

/* Pushes an in-range array element x[y]; anything else runs the plain
 * instructions. */
#define SUPER_GETINDEX(name, XV, YV)                                              \
    SCASE(name) {                                                                 \
        Value o = XV, key = YV;                                                   \
        if (!vm_array_slot_ok(o, key))                                            \
            SLOW();                                                               \
        *top++ = pvmV_array_load(o.as.a, (size_t)key.as.i);                       \
        ip += 3;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_GETINDEX(LL_GETINDEX, LOCAL(0), LOCAL(1))

/* The moves of copying and swapping loops over locals: t = a[i],
 * x[k] = a[i] (x and k already pushed) and a[i] = t. A store takes the
 * array's fast path (pvmV_array_try_put) or, when it would change the
 * array's kind, runs the plain instructions, which do that. */
    SCASE(LL_GETINDEX_SL) {
        Value o = LOCAL(0), key = LOCAL(1);
        if (!vm_array_slot_ok(o, key))
            SLOW();
        base[ip[3].arg] = pvmV_array_load(o.as.a, (size_t)key.as.i);
        ip += 4;
        NEXT();
    }
    SCASE(LL_GETINDEX_SETINDEX) {
        Value src = LOCAL(0), at = LOCAL(1), *o = top - 2, *key = top - 1;
        if (!vm_array_slot_ok(src, at) || !vm_array_slot_ok(*o, *key) ||
            !pvmV_array_try_put(o->as.a, (size_t)key->as.i, pvmV_array_load(src.as.a, (size_t)at.as.i)))
            SLOW();
        top -= 2;
        ip += 4;
        NEXT();
    }
    SCASE(LLL_SETINDEX) {
        Value o = LOCAL(0), key = LOCAL(1);
        if (!vm_array_slot_ok(o, key) || !pvmV_array_try_put(o.as.a, (size_t)key.as.i, LOCAL(2)))
            SLOW();
        ip += 4;
        NEXT();
    }

/* Pushes two variables. */
#define SUPER_PUSH2(name, XV, YV)                                                 \
    SCASE(name) {                                                                 \
        top[0] = XV;                                                              \
        top[1] = YV;                                                              \
        top += 2;                                                                 \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_PUSH2(GETLOCAL2, LOCAL(0), LOCAL(1))

/* Pushes x OP y (arith.h's fast path). */
#define SUPER_ARITH_PUSH(name, XP, YP, LEN, OP)                                   \
    SCASE(name) {                                                                 \
        if (!pvmV_arith_fast(OP_##OP, XP, YP, top))                               \
            SLOW();                                                               \
        top++;                                                                    \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_PUSH(LL_ADD, LOCALP(0), LOCALP(1), 3, ADD)
    SUPER_ARITH_PUSH(LL_SUB, LOCALP(0), LOCALP(1), 3, SUB)
    SUPER_ARITH_PUSH(LL_MUL, LOCALP(0), LOCALP(1), 3, MUL)
    SUPER_ARITH_PUSH(LK_ADD, LOCALP(0), IMMP(1), 3, ADD)
    SUPER_ARITH_PUSH(LK_SUB, LOCALP(0), IMMP(1), 3, SUB)
    SUPER_ARITH_PUSH(LK_MUL, LOCALP(0), IMMP(1), 3, MUL)

/* Stores x OP y into the local (or, with SUPER_ARITH_SETG, the global)
 * named by slot DST. */
#define SUPER_ARITH_SET(name, XP, YP, LEN, DST, POPN, OP) \
    SUPER_ARITH_STORE(name, XP, YP, LEN, &base[ip[DST].arg], POPN, OP)
#define SUPER_ARITH_SETG(name, XP, YP, LEN, DST, POPN, OP) \
    SUPER_ARITH_STORE(name, XP, YP, LEN, &globals[ip[DST].arg], POPN, OP)
#define SUPER_ARITH_STORE(name, XP, YP, LEN, DSTP, POPN, OP)                      \
    SCASE(name) {                                                                 \
        if (!pvmV_arith_fast(OP_##OP, XP, YP, DSTP))                              \
            SLOW();                                                               \
        top -= POPN;                                                              \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_SET(LL_ADD_SL, LOCALP(0), LOCALP(1), 4, 3, 0, ADD)
    SUPER_ARITH_SET(LK_ADD_SL, LOCALP(0), IMMP(1), 4, 3, 0, ADD)
    SUPER_ARITH_SET(LK_SUB_SL, LOCALP(0), IMMP(1), 4, 3, 0, SUB)
    SUPER_ARITH_SET(ADD_SL, top - 2, top - 1, 2, 1, 2, ADD)
    SUPER_ARITH_SET(SUB_SL, top - 2, top - 1, 2, 1, 2, SUB)
    SUPER_ARITH_SET(MUL_SL, top - 2, top - 1, 2, 1, 2, MUL)

/* top = top OP y, in place. */
#define SUPER_TOP_ARITH(name, YP, LEN, OP)                                        \
    SCASE(name) {                                                                 \
        if (!pvmV_arith_fast_in_place(OP_##OP, top - 1, YP))                      \
            SLOW();                                                               \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_TOP_ARITH(K_ADD, IMMP(0), 2, ADD)
    SUPER_TOP_ARITH(K_SUB, IMMP(0), 2, SUB)
    SUPER_TOP_ARITH(K_MUL, IMMP(0), 2, MUL)
    SUPER_TOP_ARITH(K_MOD, IMMP(0), 2, MOD)
    SUPER_TOP_ARITH(K_DIV, IMMP(0), 2, DIV)

/* Orders *XP and *YP into [c] (arith.h's fast path); otherwise SLOW. */
#define ORDER(XP, YP, CMP, c)                                                     \
    do {                                                                          \
        if (!pvmV_order_fast(OP_##CMP, XP, YP, &c))                               \
            SLOW();                                                               \
    } while (0)

#define SUPER_CMP_PUSH(name, XP, YP, LEN, CMP)                                    \
    SCASE(name) {                                                                 \
        bool c;                                                                   \
        ORDER(XP, YP, CMP, c);                                                    \
        *top++ = vm_bool(c);                                                      \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_CMP_PUSH(LL_LT, LOCALP(0), LOCALP(1), 3, LT)
    SUPER_CMP_PUSH(LL_LE, LOCALP(0), LOCALP(1), 3, LE)
    SUPER_CMP_PUSH(LL_GT, LOCALP(0), LOCALP(1), 3, GT)
    SUPER_CMP_PUSH(LL_GE, LOCALP(0), LOCALP(1), 3, GE)
    SUPER_CMP_PUSH(LK_LT, LOCALP(0), IMMP(1), 3, LT)
    SUPER_CMP_PUSH(LK_LE, LOCALP(0), IMMP(1), 3, LE)
    SUPER_CMP_PUSH(LK_GT, LOCALP(0), IMMP(1), 3, GT)
    SUPER_CMP_PUSH(LK_GE, LOCALP(0), IMMP(1), 3, GE)

/* Compare and jump when false: the jmpf is the sequence's last slot. */
#define JUMP_UNLESS(c, LEN)                                                       \
    do {                                                                          \
        if (c) {                                                                  \
            ip += LEN;                                                            \
        } else {                                                                  \
            const VmInsn *target = code + ip[LEN - 1].arg;                        \
            CHARGE_JUMP(target);                                                  \
            ip = target;                                                          \
        }                                                                         \
        NEXT();                                                                   \
    } while (0)

#define SUPER_CMP_JF(name, XP, YP, LEN, POPN, CMP)                                \
    SCASE(name) {                                                                 \
        bool c;                                                                   \
        ORDER(XP, YP, CMP, c);                                                    \
        top -= POPN;                                                              \
        JUMP_UNLESS(c, LEN);                                                      \
    }
    SUPER_CMP_JF(LL_LT_JF, LOCALP(0), LOCALP(1), 4, 0, LT)
    SUPER_CMP_JF(LL_LE_JF, LOCALP(0), LOCALP(1), 4, 0, LE)
    SUPER_CMP_JF(LL_GT_JF, LOCALP(0), LOCALP(1), 4, 0, GT)
    SUPER_CMP_JF(LL_GE_JF, LOCALP(0), LOCALP(1), 4, 0, GE)
    SUPER_CMP_JF(LK_LT_JF, LOCALP(0), IMMP(1), 4, 0, LT)
    SUPER_CMP_JF(LK_LE_JF, LOCALP(0), IMMP(1), 4, 0, LE)
    SUPER_CMP_JF(LK_GT_JF, LOCALP(0), IMMP(1), 4, 0, GT)
    SUPER_CMP_JF(LK_GE_JF, LOCALP(0), IMMP(1), 4, 0, GE)
    SUPER_CMP_JF(LT_JF, top - 2, top - 1, 2, 2, LT)
    SUPER_CMP_JF(LE_JF, top - 2, top - 1, 2, 2, LE)
    SUPER_CMP_JF(GT_JF, top - 2, top - 1, 2, 2, GT)
    SUPER_CMP_JF(GE_JF, top - 2, top - 1, 2, 2, GE)

/* Equality never fails, so these have no slow path. */
#define SUPER_EQ_JF(name, XV, YV, LEN, POPN, WANT)                                \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c = pvmV_values_equal(x, y) == WANT;                                   \
        top -= POPN;                                                              \
        JUMP_UNLESS(c, LEN);                                                      \
    }
    SUPER_EQ_JF(LL_EQ_JF, LOCAL(0), LOCAL(1), 4, 0, true)
    SUPER_EQ_JF(LL_NE_JF, LOCAL(0), LOCAL(1), 4, 0, false)
    SUPER_EQ_JF(LK_EQ_JF, LOCAL(0), IMM(1), 4, 0, true)
    SUPER_EQ_JF(LK_NE_JF, LOCAL(0), IMM(1), 4, 0, false)
    SUPER_EQ_JF(EQ_JF, top[-2], top[-1], 2, 2, true)
    SUPER_EQ_JF(NE_JF, top[-2], top[-1], 2, 2, false)

    SUPER_TOP_ARITH(L_ADD, LOCALP(0), 2, ADD)
    SUPER_TOP_ARITH(L_SUB, LOCALP(0), 2, SUB)
    SUPER_TOP_ARITH(L_MUL, LOCALP(0), 2, MUL)
    SUPER_TOP_ARITH(C_ADD, &k[ip->arg], 2, ADD)
    SUPER_TOP_ARITH(C_SUB, &k[ip->arg], 2, SUB)
    SUPER_TOP_ARITH(C_MUL, &k[ip->arg], 2, MUL)
    SUPER_ARITH_SET(L_ADD_SL, top - 1, LOCALP(0), 3, 2, 1, ADD)
    SUPER_ARITH_SET(L_SUB_SL, top - 1, LOCALP(0), 3, 2, 1, SUB)
    SUPER_ARITH_SET(L_MUL_SL, top - 1, LOCALP(0), 3, 2, 1, MUL)

    SUPER_TOP_ARITH(L_DIV, LOCALP(0), 2, DIV)
    SUPER_TOP_ARITH(C_DIV, &k[ip->arg], 2, DIV)

    SUPER_CMP_JF(C_LT_JF, top - 1, &k[ip->arg], 3, 1, LT)
    SUPER_CMP_JF(C_LE_JF, top - 1, &k[ip->arg], 3, 1, LE)
    SUPER_CMP_JF(C_GT_JF, top - 1, &k[ip->arg], 3, 1, GT)
    SUPER_CMP_JF(C_GE_JF, top - 1, &k[ip->arg], 3, 1, GE)

    SUPER_CMP_JF(GG_LT_JF, GLOBALP(0), GLOBALP(1), 4, 0, LT)
    SUPER_CMP_JF(GG_LE_JF, GLOBALP(0), GLOBALP(1), 4, 0, LE)
    SUPER_CMP_JF(GG_GT_JF, GLOBALP(0), GLOBALP(1), 4, 0, GT)
    SUPER_CMP_JF(GG_GE_JF, GLOBALP(0), GLOBALP(1), 4, 0, GE)
    SUPER_CMP_JF(GK_LT_JF, GLOBALP(0), IMMP(1), 4, 0, LT)
    SUPER_CMP_JF(GK_LE_JF, GLOBALP(0), IMMP(1), 4, 0, LE)
    SUPER_CMP_JF(GK_GT_JF, GLOBALP(0), IMMP(1), 4, 0, GT)
    SUPER_CMP_JF(GK_GE_JF, GLOBALP(0), IMMP(1), 4, 0, GE)
    SUPER_ARITH_SETG(GG_ADD_SG, GLOBALP(0), GLOBALP(1), 4, 3, 0, ADD)
    SUPER_ARITH_SETG(GK_ADD_SG, GLOBALP(0), IMMP(1), 4, 3, 0, ADD)
    SUPER_ARITH_SETG(GK_SUB_SG, GLOBALP(0), IMMP(1), 4, 3, 0, SUB)
    SUPER_ARITH_SETG(ADD_SG, top - 2, top - 1, 2, 1, 2, ADD)
    SUPER_ARITH_PUSH(GG_ADD, GLOBALP(0), GLOBALP(1), 3, ADD)
    SUPER_ARITH_PUSH(GG_SUB, GLOBALP(0), GLOBALP(1), 3, SUB)
    SUPER_ARITH_PUSH(GG_MUL, GLOBALP(0), GLOBALP(1), 3, MUL)
    SUPER_PUSH2(GETGLOBAL2, GLOBAL(0), GLOBAL(1))
    SUPER_GETINDEX(GG_GETINDEX, GLOBAL(0), GLOBAL(1))

    /* a * b + c * d (or -) over four locals: squared distances, complex
     * products. Three steps of arith.h's fast path, so ints wrap at each
     * step and mixes convert where the unfused code would; anything else
     * runs the seven instructions. */
#define SUPER_MUL2(name, OP)                                                      \
    SCASE(name) {                                                                 \
        Value ab, cd;                                                             \
        if (!pvmV_arith_fast(OP_MUL, LOCALP(0), LOCALP(1), &ab) ||                \
            !pvmV_arith_fast(OP_MUL, LOCALP(3), LOCALP(4), &cd) ||                \
            !pvmV_arith_fast(OP_##OP, &ab, &cd, top))                             \
            SLOW();                                                               \
        top++;                                                                    \
        ip += 7;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_MUL2(LLLL_MUL_ADD, ADD)
    SUPER_MUL2(LLLL_MUL_SUB, SUB)
#undef SUPER_MUL2

    /* Block locals mixed with module globals: top-level scripts. */
    SUPER_CMP_JF(LG_LT_JF, LOCALP(0), GLOBALP(1), 4, 0, LT)
    SUPER_CMP_JF(LG_LE_JF, LOCALP(0), GLOBALP(1), 4, 0, LE)
    SUPER_CMP_JF(LG_GT_JF, LOCALP(0), GLOBALP(1), 4, 0, GT)
    SUPER_CMP_JF(LG_GE_JF, LOCALP(0), GLOBALP(1), 4, 0, GE)
    SUPER_ARITH_SET(LG_ADD_SL, LOCALP(0), GLOBALP(1), 4, 3, 0, ADD)
    SUPER_ARITH_PUSH(LG_ADD, LOCALP(0), GLOBALP(1), 3, ADD)
    SUPER_ARITH_PUSH(LG_SUB, LOCALP(0), GLOBALP(1), 3, SUB)
    SUPER_ARITH_PUSH(LG_MUL, LOCALP(0), GLOBALP(1), 3, MUL)
    SUPER_GETINDEX(GL_GETINDEX, GLOBAL(0), LOCAL(1))
    SUPER_PUSH2(GETGLOBAL_GETLOCAL, GLOBAL(0), LOCAL(1))
    SUPER_PUSH2(GETLOCAL_GETGLOBAL, LOCAL(0), GLOBAL(1))

    SCASE(MOVE) {
        base[ip[1].arg] = LOCAL(0);
        ip += 2;
        NEXT();
    }
    SCASE(CONST_SL) {
        base[ip[1].arg] = k[ip->arg];
        ip += 2;
        NEXT();
    }
    SCASE(INT_SL) {
        base[ip[1].arg] = vm_int(ip->arg);
        ip += 2;
        NEXT();
    }
    SCASE(GETLOCAL_GETFIELD) {
        Value o = LOCAL(0);
        if (o.type != VT_MAP)
            SLOW();
        PvMapEntry *e = vm_cached_entry(o.as.m, ip + 1, k[ip[1].arg]);
        *top++ = e ? e->value : VAL_NIL;
        ip += 2;
        NEXT();
    }
    /* module.function: both lookups cached (math.sqrt) */
    SCASE(GETNAME_GETFIELD) {
        PvMapEntry *e = vm_cached_entry(vm->builtins, ip, k[ip->arg]);
        if (!e || e->value.type != VT_MAP)
            SLOW();
        PvMapEntry *f = vm_cached_entry(e->value.as.m, ip + 1, k[ip[1].arg]);
        *top++ = f ? f->value : VAL_NIL;
        ip += 2;
        NEXT();
    }
    /* a method call's lookup, o.m(...) (getmethod: o.m, else o's class) */
    SCASE(GETLOCAL_GETMETHOD) {
        Value o = LOCAL(0);
        PvMapEntry *e;
        if (o.type != VT_MAP || !(e = vm_find_method(vm, o.as.m, ip + 1, k[ip[1].arg])))
            SLOW();
        top[0] = e->value;
        top[1] = o;
        top += 2;
        ip += 2;
        NEXT();
    }
    /* a front end's field-or-method read of a local, o.x: getor with a
     * string key, through the field cache */
    SCASE(LC_GETOR) {
        Value o = LOCAL(0), key = k[ip[1].arg];
        if (o.type != VT_MAP || key.type != VT_STRING)
            SLOW();
        PvMapEntry *e = vm_cached_entry(o.as.m, ip + 2, key);
        *top++ = e ? e->value : o;
        if (!e) {
            const VmInsn *target = code + ip[2].arg;
            CHARGE_JUMP(target);
            ip = target;
            NEXT();
        }
        ip += 3;
        NEXT();
    }
    SCASE(GETLOCAL_RET) {
        *top++ = LOCAL(0);
        ip++;
        goto do_ret;
    }
    /* fornext whose value goes straight into a local: ranges and arrays
     * inline, everything else through the plain instruction. */
    SCASE(JMP_FORNEXT_SL) {
        const VmInsn *target = code + ip->arg;
        CHARGE_JUMP(target);
#ifndef VM_COMPUTED_GOTO
        JIT_BACK_EDGE(target);
#endif
        ip = target;
        goto fornext_sl;
    }
#ifdef VM_COMPUTED_GOTO
L_JMP_FORNEXT_SL_JIT: { /* the same, in a VM with a JIT (jit_labels) */
        const VmInsn *target = code + ip->arg;
        CHARGE_JUMP(target);
        JIT_BACK_EDGE(target);
        ip = target;
        goto fornext_sl;
    }
#endif
    /* back edges of loops the JIT gave up on: no hook, in any VM */
    SCASE(JMP_FORNEXT_SL_COLD) {
        const VmInsn *target = code + ip->arg;
        CHARGE_JUMP(target);
        ip = target;
        goto fornext_sl;
    }
    SCASE(JMP_COLD) {
        CHARGE_JUMP(code + ip->arg);
        ip = code + ip->arg;
        NEXT();
    }
    SCASE(FORNEXT_SL) {
    fornext_sl:;
        Value *a = top - 2, *b = top - 1;
        Value *dst = &base[ip[1].arg];
        if (b->type != VT_INT)
            SLOW();
        if (a->type == VT_INT) {
            if (a->as.i < b->as.i) {
                *dst = *a;
                a->as.i++;
                ip += 2;
                NEXT();
            }
        } else if (a->type == VT_ARRAY) {
            if ((uint64_t)b->as.i < a->as.a->len) {
                *dst = pvmV_array_load(a->as.a, (size_t)b->as.i++);
                ip += 2;
                NEXT();
            }
        } else {
            SLOW();
        }
        top -= 2;
        ip = code + ip->arg;
        NEXT();
    }
#undef LOCAL
#undef GLOBAL
#undef IMM
#undef LOCALP
#undef GLOBALP
#undef IMMP
