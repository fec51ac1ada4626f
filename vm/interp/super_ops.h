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

/* Pushes an in-range array element x[y]; anything else runs the plain
 * instructions. */
#define SUPER_GETINDEX(name, XV, YV)                                              \
    SCASE(name) {                                                                 \
        Value o = XV, key = YV;                                                   \
        if (!vm_array_slot_ok(o, key))                                            \
            SLOW();                                                               \
        *top++ = o.as.a->items[key.as.i];                                         \
        ip += 3;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_GETINDEX(LL_GETINDEX, LOCAL(0), LOCAL(1))

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

/* Pushes x OPR y for two ints (wrapping) or two floats. */
#define SUPER_ARITH_PUSH(name, XV, YV, LEN, OPR)                                  \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        if (x.type == VT_INT && y.type == VT_INT) {                               \
            *top++ = vm_int((int64_t)((uint64_t)x.as.i OPR (uint64_t)y.as.i));    \
        } else if (x.type == VT_FLOAT && y.type == VT_FLOAT) {                    \
            *top++ = vm_float(x.as.f OPR y.as.f);                                 \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_PUSH(LL_ADD, LOCAL(0), LOCAL(1), 3, +)
    SUPER_ARITH_PUSH(LL_SUB, LOCAL(0), LOCAL(1), 3, -)
    SUPER_ARITH_PUSH(LL_MUL, LOCAL(0), LOCAL(1), 3, *)
    SUPER_ARITH_PUSH(LK_ADD, LOCAL(0), IMM(1), 3, +)
    SUPER_ARITH_PUSH(LK_SUB, LOCAL(0), IMM(1), 3, -)
    SUPER_ARITH_PUSH(LK_MUL, LOCAL(0), IMM(1), 3, *)

/* Stores x OPR y into the local (or, with SUPER_ARITH_SETG, the global)
 * named by slot DST. */
#define SUPER_ARITH_SET(name, XV, YV, LEN, DST, POPN, OPR) \
    SUPER_ARITH_STORE(name, XV, YV, LEN, &base[ip[DST].arg], POPN, OPR)
#define SUPER_ARITH_SETG(name, XV, YV, LEN, DST, POPN, OPR) \
    SUPER_ARITH_STORE(name, XV, YV, LEN, &globals[ip[DST].arg], POPN, OPR)
#define SUPER_ARITH_STORE(name, XV, YV, LEN, DSTP, POPN, OPR)                     \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        Value *dst = DSTP;                                                        \
        if (x.type == VT_INT && y.type == VT_INT) {                               \
            *dst = vm_int((int64_t)((uint64_t)x.as.i OPR (uint64_t)y.as.i));      \
        } else if (x.type == VT_FLOAT && y.type == VT_FLOAT) {                    \
            *dst = vm_float(x.as.f OPR y.as.f);                                   \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        top -= POPN;                                                              \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_SET(LL_ADD_SL, LOCAL(0), LOCAL(1), 4, 3, 0, +)
    SUPER_ARITH_SET(LK_ADD_SL, LOCAL(0), IMM(1), 4, 3, 0, +)
    SUPER_ARITH_SET(LK_SUB_SL, LOCAL(0), IMM(1), 4, 3, 0, -)
    SUPER_ARITH_SET(ADD_SL, top[-2], top[-1], 2, 1, 2, +)
    SUPER_ARITH_SET(SUB_SL, top[-2], top[-1], 2, 1, 2, -)
    SUPER_ARITH_SET(MUL_SL, top[-2], top[-1], 2, 1, 2, *)

/* Replaces the top with top OPR immediate, for ints. */
#define SUPER_K_ARITH(name, OPR)                                                  \
    SCASE(name) {                                                                 \
        Value *x = top - 1;                                                       \
        if (x->type != VT_INT)                                                    \
            SLOW();                                                               \
        x->as.i = (int64_t)((uint64_t)x->as.i OPR (uint64_t)(int64_t)ip->arg);    \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_K_ARITH(K_ADD, +)
    SUPER_K_ARITH(K_SUB, -)
    SUPER_K_ARITH(K_MUL, *)

/* Division by an immediate other than 0 and -1 (those take the slow path). */
#define SUPER_K_DIVISION(name, OPR)                                               \
    SCASE(name) {                                                                 \
        Value *x = top - 1;                                                       \
        if (x->type != VT_INT || (uint64_t)(int64_t)ip->arg + 1 <= 1)             \
            SLOW();                                                               \
        x->as.i = x->as.i OPR (int64_t)ip->arg;                                   \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_K_DIVISION(K_MOD, %)
    SUPER_K_DIVISION(K_DIV, /)

/* Orders two ints or two floats into [c]; anything else takes SLOW. */
#define ORDER(x, y, CMP, c)                                                       \
    do {                                                                          \
        if ((x).type == VT_INT && (y).type == VT_INT)                             \
            c = (x).as.i CMP (y).as.i;                                            \
        else if ((x).type == VT_FLOAT && (y).type == VT_FLOAT)                    \
            c = (x).as.f CMP (y).as.f;                                            \
        else                                                                      \
            SLOW();                                                               \
    } while (0)

#define SUPER_CMP_PUSH(name, XV, YV, LEN, CMP)                                    \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c;                                                                   \
        ORDER(x, y, CMP, c);                                                      \
        *top++ = vm_bool(c);                                                      \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_CMP_PUSH(LL_LT, LOCAL(0), LOCAL(1), 3, <)
    SUPER_CMP_PUSH(LL_LE, LOCAL(0), LOCAL(1), 3, <=)
    SUPER_CMP_PUSH(LL_GT, LOCAL(0), LOCAL(1), 3, >)
    SUPER_CMP_PUSH(LL_GE, LOCAL(0), LOCAL(1), 3, >=)
    SUPER_CMP_PUSH(LK_LT, LOCAL(0), IMM(1), 3, <)
    SUPER_CMP_PUSH(LK_LE, LOCAL(0), IMM(1), 3, <=)
    SUPER_CMP_PUSH(LK_GT, LOCAL(0), IMM(1), 3, >)
    SUPER_CMP_PUSH(LK_GE, LOCAL(0), IMM(1), 3, >=)

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

#define SUPER_CMP_JF(name, XV, YV, LEN, POPN, CMP)                                \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c;                                                                   \
        ORDER(x, y, CMP, c);                                                      \
        top -= POPN;                                                              \
        JUMP_UNLESS(c, LEN);                                                      \
    }
    SUPER_CMP_JF(LL_LT_JF, LOCAL(0), LOCAL(1), 4, 0, <)
    SUPER_CMP_JF(LL_LE_JF, LOCAL(0), LOCAL(1), 4, 0, <=)
    SUPER_CMP_JF(LL_GT_JF, LOCAL(0), LOCAL(1), 4, 0, >)
    SUPER_CMP_JF(LL_GE_JF, LOCAL(0), LOCAL(1), 4, 0, >=)
    SUPER_CMP_JF(LK_LT_JF, LOCAL(0), IMM(1), 4, 0, <)
    SUPER_CMP_JF(LK_LE_JF, LOCAL(0), IMM(1), 4, 0, <=)
    SUPER_CMP_JF(LK_GT_JF, LOCAL(0), IMM(1), 4, 0, >)
    SUPER_CMP_JF(LK_GE_JF, LOCAL(0), IMM(1), 4, 0, >=)
    SUPER_CMP_JF(LT_JF, top[-2], top[-1], 2, 2, <)
    SUPER_CMP_JF(LE_JF, top[-2], top[-1], 2, 2, <=)
    SUPER_CMP_JF(GT_JF, top[-2], top[-1], 2, 2, >)
    SUPER_CMP_JF(GE_JF, top[-2], top[-1], 2, 2, >=)

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

/* top = top OPR y, in place: ints (wrapping) or floats. */
#define SUPER_TOP_ARITH(name, YV, LEN, OPR)                                       \
    SCASE(name) {                                                                 \
        Value *x = top - 1, y = YV;                                               \
        if (x->type == VT_INT && y.type == VT_INT) {                              \
            x->as.i = (int64_t)((uint64_t)x->as.i OPR (uint64_t)y.as.i);          \
        } else if (x->type == VT_FLOAT && y.type == VT_FLOAT) {                   \
            x->as.f = x->as.f OPR y.as.f;                                         \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_TOP_ARITH(L_ADD, LOCAL(0), 2, +)
    SUPER_TOP_ARITH(L_SUB, LOCAL(0), 2, -)
    SUPER_TOP_ARITH(L_MUL, LOCAL(0), 2, *)
    SUPER_TOP_ARITH(C_ADD, k[ip->arg], 2, +)
    SUPER_TOP_ARITH(C_SUB, k[ip->arg], 2, -)
    SUPER_TOP_ARITH(C_MUL, k[ip->arg], 2, *)
    SUPER_ARITH_SET(L_ADD_SL, top[-1], LOCAL(0), 3, 2, 1, +)
    SUPER_ARITH_SET(L_SUB_SL, top[-1], LOCAL(0), 3, 2, 1, -)
    SUPER_ARITH_SET(L_MUL_SL, top[-1], LOCAL(0), 3, 2, 1, *)

/* Float division in place; int division keeps its checks in the slow path. */
#define SUPER_TOP_FDIV(name, YV)                                                  \
    SCASE(name) {                                                                 \
        Value *x = top - 1, y = YV;                                               \
        if (x->type != VT_FLOAT || y.type != VT_FLOAT)                            \
            SLOW();                                                               \
        x->as.f /= y.as.f;                                                        \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_TOP_FDIV(L_DIV, LOCAL(0))
    SUPER_TOP_FDIV(C_DIV, k[ip->arg])

    SUPER_CMP_JF(C_LT_JF, top[-1], k[ip->arg], 3, 1, <)
    SUPER_CMP_JF(C_LE_JF, top[-1], k[ip->arg], 3, 1, <=)
    SUPER_CMP_JF(C_GT_JF, top[-1], k[ip->arg], 3, 1, >)
    SUPER_CMP_JF(C_GE_JF, top[-1], k[ip->arg], 3, 1, >=)

    SUPER_CMP_JF(GG_LT_JF, GLOBAL(0), GLOBAL(1), 4, 0, <)
    SUPER_CMP_JF(GG_LE_JF, GLOBAL(0), GLOBAL(1), 4, 0, <=)
    SUPER_CMP_JF(GG_GT_JF, GLOBAL(0), GLOBAL(1), 4, 0, >)
    SUPER_CMP_JF(GG_GE_JF, GLOBAL(0), GLOBAL(1), 4, 0, >=)
    SUPER_CMP_JF(GK_LT_JF, GLOBAL(0), IMM(1), 4, 0, <)
    SUPER_CMP_JF(GK_LE_JF, GLOBAL(0), IMM(1), 4, 0, <=)
    SUPER_CMP_JF(GK_GT_JF, GLOBAL(0), IMM(1), 4, 0, >)
    SUPER_CMP_JF(GK_GE_JF, GLOBAL(0), IMM(1), 4, 0, >=)
    SUPER_ARITH_SETG(GG_ADD_SG, GLOBAL(0), GLOBAL(1), 4, 3, 0, +)
    SUPER_ARITH_SETG(GK_ADD_SG, GLOBAL(0), IMM(1), 4, 3, 0, +)
    SUPER_ARITH_SETG(GK_SUB_SG, GLOBAL(0), IMM(1), 4, 3, 0, -)
    SUPER_ARITH_SETG(ADD_SG, top[-2], top[-1], 2, 1, 2, +)
    SUPER_ARITH_PUSH(GG_ADD, GLOBAL(0), GLOBAL(1), 3, +)
    SUPER_ARITH_PUSH(GG_SUB, GLOBAL(0), GLOBAL(1), 3, -)
    SUPER_ARITH_PUSH(GG_MUL, GLOBAL(0), GLOBAL(1), 3, *)
    SUPER_PUSH2(GETGLOBAL2, GLOBAL(0), GLOBAL(1))
    SUPER_GETINDEX(GG_GETINDEX, GLOBAL(0), GLOBAL(1))

    /* a * b + c * d (or -) over four locals: squared distances, complex
     * products. Four ints (wrapping at each step, as unfused) or four
     * floats; anything else runs the seven instructions. */
#define SUPER_MUL2(name, OPR)                                                      \
    SCASE(name) {                                                                 \
        Value a = LOCAL(0), b = LOCAL(1), c = LOCAL(3), d = LOCAL(4);             \
        if (a.type == VT_FLOAT && b.type == VT_FLOAT && c.type == VT_FLOAT &&    \
            d.type == VT_FLOAT) {                                                 \
            *top++ = vm_float(a.as.f * b.as.f OPR c.as.f * d.as.f);               \
        } else if (a.type == VT_INT && b.type == VT_INT && c.type == VT_INT &&   \
                   d.type == VT_INT) {                                            \
            uint64_t ab = (uint64_t)a.as.i * (uint64_t)b.as.i;                    \
            uint64_t cd = (uint64_t)c.as.i * (uint64_t)d.as.i;                    \
            *top++ = vm_int((int64_t)(ab OPR cd));                                \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += 7;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_MUL2(LLLL_MUL_ADD, +)
    SUPER_MUL2(LLLL_MUL_SUB, -)
#undef SUPER_MUL2

    /* Block locals mixed with module globals: top-level scripts. */
    SUPER_CMP_JF(LG_LT_JF, LOCAL(0), GLOBAL(1), 4, 0, <)
    SUPER_CMP_JF(LG_LE_JF, LOCAL(0), GLOBAL(1), 4, 0, <=)
    SUPER_CMP_JF(LG_GT_JF, LOCAL(0), GLOBAL(1), 4, 0, >)
    SUPER_CMP_JF(LG_GE_JF, LOCAL(0), GLOBAL(1), 4, 0, >=)
    SUPER_ARITH_SET(LG_ADD_SL, LOCAL(0), GLOBAL(1), 4, 3, 0, +)
    SUPER_ARITH_PUSH(LG_ADD, LOCAL(0), GLOBAL(1), 3, +)
    SUPER_ARITH_PUSH(LG_SUB, LOCAL(0), GLOBAL(1), 3, -)
    SUPER_ARITH_PUSH(LG_MUL, LOCAL(0), GLOBAL(1), 3, *)
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
        ip = target;
        goto fornext_sl;
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
                *dst = a->as.a->items[b->as.i++];
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
