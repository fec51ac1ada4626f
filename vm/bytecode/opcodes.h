/* The opcode table: the one list of pvm's bytecode instructions.
 *
 * Every consumer (verifier, loader, interpreter, assembler, disassembler,
 * docs) expands OPCODES with its own X macro, so adding an instruction is one
 * line here plus its case in the interpreter.
 *
 * Columns:
 *   name     C identifier suffix (OP_ADD)
 *   mnem     assembly mnemonic
 *   operand  kind of the single optional 32-bit operand (OPND_*)
 *   pops     values popped on the fall-through path
 *   popsarg  additional values popped per unit of the operand (CALL n pops
 *            1 + n, ARRAY n pops n, MAP n pops 2n)
 *   pushes   values pushed on the fall-through path
 *   flow     FLOW_NEXT, FLOW_JUMP (always jumps), FLOW_BRANCH (may jump),
 *            FLOW_END (never continues: ret, throw)
 *   bdelta   for FLOW_JUMP/FLOW_BRANCH: stack depth change when the jump is
 *            taken, relative to the depth before the instruction
 *
 * On disk an instruction is one opcode byte followed, when operand is not
 * OPND_NONE, by a 4-byte little-endian operand (signed for OPND_INT,
 * unsigned otherwise). Jump targets are absolute byte offsets inside the
 * function's code. */
#ifndef PVM_OPCODES_H
#define PVM_OPCODES_H

#include <stdint.h>

typedef enum {
    OPND_NONE,   /* no operand */
    OPND_CONST,  /* index into the constant pool */
    OPND_INT,    /* signed 32-bit immediate */
    OPND_LOCAL,  /* local slot of the current function */
    OPND_UPVAL,  /* upvalue of the current closure */
    OPND_GLOBAL, /* global slot of the function's module */
    OPND_NAME,   /* index of a string constant naming a built-in */
    OPND_FIELD,  /* index of a string constant used as a map key */
    OPND_FUNC,   /* index into the function table */
    OPND_MODULE, /* index into the module table */
    OPND_COUNT,  /* element or argument count */
    OPND_TARGET, /* jump target: byte offset in this function's code */
    OPND_TYPES,  /* a set of value types, one bit each (PBC_TYPE_*) */
    OPND_LINE    /* a source line number, any value */
} OperandKind;

/* The type bits of istype's operand, in the order of type() names. */
#define PBC_TYPE_NAMES(X) \
    X(NIL, "nil") X(BOOL, "bool") X(INT, "int") X(FLOAT, "float") X(STRING, "string") \
    X(ARRAY, "array") X(MAP, "map") X(FUNCTION, "function") X(POINTER, "pointer")
enum {
#define X(name, text) PBC_TYPEBIT_##name,
    PBC_TYPE_NAMES(X)
#undef X
    PBC_TYPE__COUNT
};
#define PBC_TYPE_ALL ((1u << PBC_TYPE__COUNT) - 1)

typedef enum { FLOW_NEXT, FLOW_JUMP, FLOW_BRANCH, FLOW_END } FlowKind;

/*      name      mnem        operand      pops popsarg pushes flow        bdelta */
#define OPCODES(X) \
    X(NOP,      "nop",      OPND_NONE,   0, 0, 0, FLOW_NEXT,   0) \
    X(CONST,    "const",    OPND_CONST,  0, 0, 1, FLOW_NEXT,   0) \
    X(INT,      "int",      OPND_INT,    0, 0, 1, FLOW_NEXT,   0) \
    X(NIL,      "nil",      OPND_NONE,   0, 0, 1, FLOW_NEXT,   0) \
    X(TRUE,     "true",     OPND_NONE,   0, 0, 1, FLOW_NEXT,   0) \
    X(FALSE,    "false",    OPND_NONE,   0, 0, 1, FLOW_NEXT,   0) \
    X(POP,      "pop",      OPND_NONE,   1, 0, 0, FLOW_NEXT,   0) \
    X(DUP,      "dup",      OPND_NONE,   1, 0, 2, FLOW_NEXT,   0) \
    X(DUP2,     "dup2",     OPND_NONE,   2, 0, 4, FLOW_NEXT,   0) \
    X(SWAP,     "swap",     OPND_NONE,   2, 0, 2, FLOW_NEXT,   0) \
    X(GETLOCAL, "getlocal", OPND_LOCAL,  0, 0, 1, FLOW_NEXT,   0) \
    X(SETLOCAL, "setlocal", OPND_LOCAL,  1, 0, 0, FLOW_NEXT,   0) \
    X(GETUPVAL, "getupval", OPND_UPVAL,  0, 0, 1, FLOW_NEXT,   0) \
    X(SETUPVAL, "setupval", OPND_UPVAL,  1, 0, 0, FLOW_NEXT,   0) \
    X(GETGLOBAL,"getglobal",OPND_GLOBAL, 0, 0, 1, FLOW_NEXT,   0) \
    X(SETGLOBAL,"setglobal",OPND_GLOBAL, 1, 0, 0, FLOW_NEXT,   0) \
    X(GETNAME,  "getname",  OPND_NAME,   0, 0, 1, FLOW_NEXT,   0) \
    X(CLOSURE,  "closure",  OPND_FUNC,   0, 0, 1, FLOW_NEXT,   0) \
    X(CLOSE,    "close",    OPND_LOCAL,  0, 0, 0, FLOW_NEXT,   0) \
    X(ADD,      "add",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(SUB,      "sub",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(MUL,      "mul",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(DIV,      "div",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(MOD,      "mod",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(NEG,      "neg",      OPND_NONE,   1, 0, 1, FLOW_NEXT,   0) \
    X(NOT,      "not",      OPND_NONE,   1, 0, 1, FLOW_NEXT,   0) \
    X(BNOT,     "bnot",     OPND_NONE,   1, 0, 1, FLOW_NEXT,   0) \
    X(BAND,     "band",     OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(BOR,      "bor",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(BXOR,     "bxor",     OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(SHL,      "shl",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(SHR,      "shr",      OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(EQ,       "eq",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(NE,       "ne",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(LT,       "lt",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(LE,       "le",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(GT,       "gt",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(GE,       "ge",       OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(JMP,      "jmp",      OPND_TARGET, 0, 0, 0, FLOW_JUMP,   0) \
    X(JMPF,     "jmpf",     OPND_TARGET, 1, 0, 0, FLOW_BRANCH, -1) \
    X(JMPT,     "jmpt",     OPND_TARGET, 1, 0, 0, FLOW_BRANCH, -1) \
    X(JMPFK,    "jmpfk",    OPND_TARGET, 1, 0, 0, FLOW_BRANCH, 0) \
    X(JMPTK,    "jmptk",    OPND_TARGET, 1, 0, 0, FLOW_BRANCH, 0) \
    X(CALL,     "call",     OPND_COUNT,  1, 1, 1, FLOW_NEXT,   0) \
    X(RET,      "ret",      OPND_NONE,   1, 0, 0, FLOW_END,    0) \
    X(ARRAY,    "array",    OPND_COUNT,  0, 1, 1, FLOW_NEXT,   0) \
    X(MAP,      "map",      OPND_COUNT,  0, 2, 1, FLOW_NEXT,   0) \
    X(GETINDEX, "getindex", OPND_NONE,   2, 0, 1, FLOW_NEXT,   0) \
    X(SETINDEX, "setindex", OPND_NONE,   3, 0, 0, FLOW_NEXT,   0) \
    X(GETFIELD, "getfield", OPND_FIELD,  1, 0, 1, FLOW_NEXT,   0) \
    X(SETFIELD, "setfield", OPND_FIELD,  2, 0, 0, FLOW_NEXT,   0) \
    X(RANGE,    "range",    OPND_NONE,   2, 0, 2, FLOW_NEXT,   0) \
    X(ITER,     "iter",     OPND_NONE,   1, 0, 2, FLOW_NEXT,   0) \
    X(FORNEXT,  "fornext",  OPND_TARGET, 2, 0, 3, FLOW_BRANCH, -2) \
    X(TRY,      "try",      OPND_TARGET, 0, 0, 0, FLOW_BRANCH, 1) \
    X(ENDTRY,   "endtry",   OPND_NONE,   0, 0, 0, FLOW_NEXT,   0) \
    X(THROW,    "throw",    OPND_NONE,   1, 0, 0, FLOW_END,    0) \
    X(IMPORT,   "import",   OPND_MODULE, 0, 0, 1, FLOW_NEXT,   0) \
    /* format version 2 (PBC_FIRST_V2_OP on) */ \
    X(GETOR,    "getor",    OPND_TARGET, 2, 0, 1, FLOW_BRANCH, -1) \
    X(ISTYPE,   "istype",   OPND_TYPES,  1, 0, 1, FLOW_NEXT,   0) \
    X(CALLV,    "callv",    OPND_COUNT,  2, 1, 1, FLOW_NEXT,   0) \
    X(RAISE,    "raise",    OPND_LINE,   1, 0, 0, FLOW_END,    0) \
    /* format version 3 (PBC_FIRST_V3_OP on) */ \
    X(GETMETHOD,"getmethod",OPND_FIELD,  1, 0, 2, FLOW_NEXT,   0)

typedef enum {
#define X(name, mnem, operand, pops, popsarg, pushes, flow, bdelta) OP_##name,
    OPCODES(X)
#undef X
    OP__COUNT
} Opcode;

typedef struct {
    const char *mnemonic;
    OperandKind operand;
    uint8_t pops, pops_per_arg, pushes;
    FlowKind flow;
    int8_t branch_delta;
} OpcodeInfo;

/* Indexed by Opcode. Defined in vm/bytecode/opcodes.c. */
extern const OpcodeInfo pvmB_opcode_info[OP__COUNT];

/* The first opcode of each later format version: a file whose code uses
 * it or any later opcode is written as that version, and an older file
 * may not. */
#define PBC_FIRST_V2_OP OP_GETOR
#define PBC_FIRST_V3_OP OP_GETMETHOD

/* The format version that introduced [op]. */
static inline uint32_t pvmB_opcode_version(Opcode op)
{
    if (op >= PBC_FIRST_V3_OP)
        return 3u;
    return op >= PBC_FIRST_V2_OP ? 2u : 1u;
}

/* Encoded size in bytes of an instruction with opcode [op]. */
static inline uint32_t vm_opcode_size(Opcode op)
{
    return pvmB_opcode_info[op].operand == OPND_NONE ? 1 : 5;
}

#endif
