/* Machine code listings for `pvm -j dump`, through the capstone
 * disassembler when pvm was built with it (the Makefile defines
 * PVM_HAVE_CAPSTONE where its header is installed); without it the JIT
 * prints hex. The library itself never depends on capstone. */
#include <stdio.h>

#include "vm/cli/jit_listing.h"

#if defined(PVM_HAVE_CAPSTONE) && defined(__x86_64__)
#include <capstone/capstone.h>

static void cli_disassemble(FILE *out, const uint8_t *code, size_t len)
{
    csh handle;
    cs_insn *insn;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        fprintf(out, "(capstone unavailable)\n");
        return;
    }
    size_t n = cs_disasm(handle, code, len, (uint64_t)(uintptr_t)code, 0, &insn);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%08llx  %-8s %s\n", (unsigned long long)insn[i].address, insn[i].mnemonic, insn[i].op_str);
    if (n)
        cs_free(insn, n);
    cs_close(&handle);
}

void (*pvm_cli_disassembler(void))(FILE *, const uint8_t *, size_t)
{
    return cli_disassemble;
}

#else

void (*pvm_cli_disassembler(void))(FILE *, const uint8_t *, size_t)
{
    return NULL;
}

#endif
