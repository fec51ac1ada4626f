/* The opcode metadata table, expanded from OPCODES in opcodes.h. */
#include "vm/bytecode/opcodes.h"

const OpcodeInfo pvmB_opcode_info[OP__COUNT] = {
#define X(name, mnem, operand, pops, popsarg, pushes, flow, bdelta) \
    [OP_##name] = { mnem, operand, pops, popsarg, pushes, flow, bdelta },
    OPCODES(X)
#undef X
};
