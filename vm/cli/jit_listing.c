/* Machine code listings for `pvm -j dump`, through the capstone
 * disassembler when pvm was built with its header (the Makefile defines
 * PVM_HAVE_CAPSTONE) and the library can be loaded; otherwise the JIT
 * prints hex. capstone is opened with dlopen on the first listing, so a
 * pvm that never dumps does not pay for loading it, and the library
 * (libpvm.a) never depends on it. */
#include <stdio.h>

#include "vm/cli/jit_listing.h"

#if defined(PVM_HAVE_CAPSTONE) && defined(__x86_64__)
#include <capstone/capstone.h>
#include <dlfcn.h>

typedef struct {
    cs_err (*open)(cs_arch, cs_mode, csh *);
    size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
    void (*free)(cs_insn *, size_t);
    cs_err (*close)(csh *);
} Capstone;

static bool capstone_load(Capstone *cs)
{
    static const char *const names[] = { "libcapstone.so.5", "libcapstone.so.4", "libcapstone.so" };
    void *lib = NULL;
    for (size_t i = 0; !lib && i < sizeof names / sizeof *names; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return false;
    *(void **)&cs->open = dlsym(lib, "cs_open");
    *(void **)&cs->disasm = dlsym(lib, "cs_disasm");
    *(void **)&cs->free = dlsym(lib, "cs_free");
    *(void **)&cs->close = dlsym(lib, "cs_close");
    return cs->open && cs->disasm && cs->free && cs->close;
}

static void hex(FILE *out, const uint8_t *code, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%02x%s", code[i], (i % 32 == 31 || i + 1 == len) ? "\n" : " ");
}

static void cli_disassemble(FILE *out, const uint8_t *code, size_t len)
{
    static Capstone cs;
    static int loaded; /* 0 not tried, 1 loaded, -1 unavailable */
    csh handle;
    cs_insn *insn;
    if (!loaded)
        loaded = capstone_load(&cs) ? 1 : -1;
    if (loaded < 0 || cs.open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        hex(out, code, len);
        return;
    }
    size_t n = cs.disasm(handle, code, len, (uint64_t)(uintptr_t)code, 0, &insn);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%08llx  %-8s %s\n", (unsigned long long)insn[i].address, insn[i].mnemonic, insn[i].op_str);
    if (n)
        cs.free(insn, n);
    cs.close(&handle);
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
