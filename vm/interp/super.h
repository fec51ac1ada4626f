/* Superinstructions: internal opcodes that stand for a common sequence of
 * stack instructions, chosen at load time (vm/interp/fuse.c) and run by the
 * interpreter in one dispatch.
 *
 * A fused sequence keeps all its instruction slots: the first slot's `op`
 * becomes the superinstruction, every slot keeps its original opcode in
 * `orig` and its operand in `arg`. So a superinstruction reads its operands
 * from the following slots, skips them when it finishes, and on any case its
 * fast path does not cover (wrong types, a zero divisor) simply runs the
 * first original instruction instead: the stack code is always the
 * reference semantics, and jump targets never move. Sequences whose inner
 * slots are jump targets are not fused. The .pbc format never contains
 * these opcodes.
 *
 * Columns: name, then the original opcodes of the sequence. */
#ifndef PVM_SUPER_H
#define PVM_SUPER_H

#include "vm/bytecode/opcodes.h"

#define VM_SUPER_OPS(X) \
    X(LL_LT_JF, OP_GETLOCAL, OP_GETLOCAL, OP_LT, OP_JMPF) \
    X(LL_LE_JF, OP_GETLOCAL, OP_GETLOCAL, OP_LE, OP_JMPF) \
    X(LL_GT_JF, OP_GETLOCAL, OP_GETLOCAL, OP_GT, OP_JMPF) \
    X(LL_GE_JF, OP_GETLOCAL, OP_GETLOCAL, OP_GE, OP_JMPF) \
    X(LL_EQ_JF, OP_GETLOCAL, OP_GETLOCAL, OP_EQ, OP_JMPF) \
    X(LL_NE_JF, OP_GETLOCAL, OP_GETLOCAL, OP_NE, OP_JMPF) \
    X(LK_LT_JF, OP_GETLOCAL, OP_INT, OP_LT, OP_JMPF) \
    X(LK_LE_JF, OP_GETLOCAL, OP_INT, OP_LE, OP_JMPF) \
    X(LK_GT_JF, OP_GETLOCAL, OP_INT, OP_GT, OP_JMPF) \
    X(LK_GE_JF, OP_GETLOCAL, OP_INT, OP_GE, OP_JMPF) \
    X(LK_EQ_JF, OP_GETLOCAL, OP_INT, OP_EQ, OP_JMPF) \
    X(LK_NE_JF, OP_GETLOCAL, OP_INT, OP_NE, OP_JMPF) \
    X(LL_ADD_SL, OP_GETLOCAL, OP_GETLOCAL, OP_ADD, OP_SETLOCAL) \
    X(LK_ADD_SL, OP_GETLOCAL, OP_INT, OP_ADD, OP_SETLOCAL) \
    X(LK_SUB_SL, OP_GETLOCAL, OP_INT, OP_SUB, OP_SETLOCAL) \
    X(LL_ADD, OP_GETLOCAL, OP_GETLOCAL, OP_ADD) \
    X(LL_SUB, OP_GETLOCAL, OP_GETLOCAL, OP_SUB) \
    X(LL_MUL, OP_GETLOCAL, OP_GETLOCAL, OP_MUL) \
    X(LL_LT, OP_GETLOCAL, OP_GETLOCAL, OP_LT) \
    X(LL_LE, OP_GETLOCAL, OP_GETLOCAL, OP_LE) \
    X(LL_GT, OP_GETLOCAL, OP_GETLOCAL, OP_GT) \
    X(LL_GE, OP_GETLOCAL, OP_GETLOCAL, OP_GE) \
    X(LL_GETINDEX, OP_GETLOCAL, OP_GETLOCAL, OP_GETINDEX) \
    X(LL_GETINDEX_SL, OP_GETLOCAL, OP_GETLOCAL, OP_GETINDEX, OP_SETLOCAL) \
    X(LL_GETINDEX_SETINDEX, OP_GETLOCAL, OP_GETLOCAL, OP_GETINDEX, OP_SETINDEX) \
    X(LLL_SETINDEX, OP_GETLOCAL, OP_GETLOCAL, OP_GETLOCAL, OP_SETINDEX) \
    X(LK_ADD, OP_GETLOCAL, OP_INT, OP_ADD) \
    X(LK_SUB, OP_GETLOCAL, OP_INT, OP_SUB) \
    X(LK_MUL, OP_GETLOCAL, OP_INT, OP_MUL) \
    X(LK_LT, OP_GETLOCAL, OP_INT, OP_LT) \
    X(LK_LE, OP_GETLOCAL, OP_INT, OP_LE) \
    X(LK_GT, OP_GETLOCAL, OP_INT, OP_GT) \
    X(LK_GE, OP_GETLOCAL, OP_INT, OP_GE) \
    X(LT_JF, OP_LT, OP_JMPF) \
    X(LE_JF, OP_LE, OP_JMPF) \
    X(GT_JF, OP_GT, OP_JMPF) \
    X(GE_JF, OP_GE, OP_JMPF) \
    X(EQ_JF, OP_EQ, OP_JMPF) \
    X(NE_JF, OP_NE, OP_JMPF) \
    X(K_ADD, OP_INT, OP_ADD) \
    X(K_SUB, OP_INT, OP_SUB) \
    X(K_MUL, OP_INT, OP_MUL) \
    X(K_MOD, OP_INT, OP_MOD) \
    X(K_DIV, OP_INT, OP_DIV) \
    X(FORNEXT_SL, OP_FORNEXT, OP_SETLOCAL) \
    X(ADD_SL, OP_ADD, OP_SETLOCAL) \
    X(GETLOCAL2, OP_GETLOCAL, OP_GETLOCAL) \
    X(GETLOCAL_RET, OP_GETLOCAL, OP_RET) \
    X(GETLOCAL_GETFIELD, OP_GETLOCAL, OP_GETFIELD) \
    X(GETNAME_GETFIELD, OP_GETNAME, OP_GETFIELD) \
    X(GETLOCAL_GETMETHOD, OP_GETLOCAL, OP_GETMETHOD) \
    X(LC_GETOR, OP_GETLOCAL, OP_CONST, OP_GETOR) \
    X(SUB_SL, OP_SUB, OP_SETLOCAL) \
    X(MUL_SL, OP_MUL, OP_SETLOCAL) \
    X(L_ADD_SL, OP_GETLOCAL, OP_ADD, OP_SETLOCAL) \
    X(L_SUB_SL, OP_GETLOCAL, OP_SUB, OP_SETLOCAL) \
    X(L_MUL_SL, OP_GETLOCAL, OP_MUL, OP_SETLOCAL) \
    X(L_ADD, OP_GETLOCAL, OP_ADD) \
    X(L_SUB, OP_GETLOCAL, OP_SUB) \
    X(L_MUL, OP_GETLOCAL, OP_MUL) \
    X(L_DIV, OP_GETLOCAL, OP_DIV) \
    X(C_ADD, OP_CONST, OP_ADD) \
    X(C_SUB, OP_CONST, OP_SUB) \
    X(C_MUL, OP_CONST, OP_MUL) \
    X(C_DIV, OP_CONST, OP_DIV) \
    X(C_LT_JF, OP_CONST, OP_LT, OP_JMPF) \
    X(C_LE_JF, OP_CONST, OP_LE, OP_JMPF) \
    X(C_GT_JF, OP_CONST, OP_GT, OP_JMPF) \
    X(C_GE_JF, OP_CONST, OP_GE, OP_JMPF) \
    X(MOVE, OP_GETLOCAL, OP_SETLOCAL) \
    X(CONST_SL, OP_CONST, OP_SETLOCAL) \
    X(INT_SL, OP_INT, OP_SETLOCAL) \
    X(GG_LT_JF, OP_GETGLOBAL, OP_GETGLOBAL, OP_LT, OP_JMPF) \
    X(GG_LE_JF, OP_GETGLOBAL, OP_GETGLOBAL, OP_LE, OP_JMPF) \
    X(GG_GT_JF, OP_GETGLOBAL, OP_GETGLOBAL, OP_GT, OP_JMPF) \
    X(GG_GE_JF, OP_GETGLOBAL, OP_GETGLOBAL, OP_GE, OP_JMPF) \
    X(GK_LT_JF, OP_GETGLOBAL, OP_INT, OP_LT, OP_JMPF) \
    X(GK_LE_JF, OP_GETGLOBAL, OP_INT, OP_LE, OP_JMPF) \
    X(GK_GT_JF, OP_GETGLOBAL, OP_INT, OP_GT, OP_JMPF) \
    X(GK_GE_JF, OP_GETGLOBAL, OP_INT, OP_GE, OP_JMPF) \
    X(GG_ADD_SG, OP_GETGLOBAL, OP_GETGLOBAL, OP_ADD, OP_SETGLOBAL) \
    X(GK_ADD_SG, OP_GETGLOBAL, OP_INT, OP_ADD, OP_SETGLOBAL) \
    X(GK_SUB_SG, OP_GETGLOBAL, OP_INT, OP_SUB, OP_SETGLOBAL) \
    X(GG_ADD, OP_GETGLOBAL, OP_GETGLOBAL, OP_ADD) \
    X(GG_SUB, OP_GETGLOBAL, OP_GETGLOBAL, OP_SUB) \
    X(GG_MUL, OP_GETGLOBAL, OP_GETGLOBAL, OP_MUL) \
    X(GG_GETINDEX, OP_GETGLOBAL, OP_GETGLOBAL, OP_GETINDEX) \
    X(ADD_SG, OP_ADD, OP_SETGLOBAL) \
    X(GETGLOBAL2, OP_GETGLOBAL, OP_GETGLOBAL) \
    X(LG_LT_JF, OP_GETLOCAL, OP_GETGLOBAL, OP_LT, OP_JMPF) \
    X(LG_LE_JF, OP_GETLOCAL, OP_GETGLOBAL, OP_LE, OP_JMPF) \
    X(LG_GT_JF, OP_GETLOCAL, OP_GETGLOBAL, OP_GT, OP_JMPF) \
    X(LG_GE_JF, OP_GETLOCAL, OP_GETGLOBAL, OP_GE, OP_JMPF) \
    X(LG_ADD_SL, OP_GETLOCAL, OP_GETGLOBAL, OP_ADD, OP_SETLOCAL) \
    X(LG_ADD, OP_GETLOCAL, OP_GETGLOBAL, OP_ADD) \
    X(LG_SUB, OP_GETLOCAL, OP_GETGLOBAL, OP_SUB) \
    X(LG_MUL, OP_GETLOCAL, OP_GETGLOBAL, OP_MUL) \
    X(GL_GETINDEX, OP_GETGLOBAL, OP_GETLOCAL, OP_GETINDEX) \
    X(GETGLOBAL_GETLOCAL, OP_GETGLOBAL, OP_GETLOCAL) \
    X(GETLOCAL_GETGLOBAL, OP_GETLOCAL, OP_GETGLOBAL) \
    X(LLLL_MUL_ADD, OP_GETLOCAL, OP_GETLOCAL, OP_MUL, OP_GETLOCAL, OP_GETLOCAL, OP_MUL, OP_ADD) \
    X(LLLL_MUL_SUB, OP_GETLOCAL, OP_GETLOCAL, OP_MUL, OP_GETLOCAL, OP_GETLOCAL, OP_MUL, OP_SUB)

/* Superinstructions that are not sequences: a loop's back edge `jmp T`
 * where T is a fused fornext runs that fornext directly. The JIT turns
 * the back edge of a loop it gave up on into a COLD twin, which a VM with
 * a JIT runs as a VM without one does (pvmV_back_edge_cold). */
#define VM_SUPER_EDGES(X) \
    X(JMP_FORNEXT_SL) \
    X(JMP_COLD) \
    X(JMP_FORNEXT_SL_COLD)

typedef enum {
    SOP__FIRST = OP__COUNT - 1,
#define X(name, ...) SOP_##name,
    VM_SUPER_OPS(X)
    VM_SUPER_EDGES(X)
#undef X
    SOP__END
} SuperOpcode;

#define VM_ALL_OPS_COUNT SOP__END

#endif
