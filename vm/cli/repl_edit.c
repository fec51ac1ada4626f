/* Loading libedit on demand (see repl_edit.h). */
#include "vm/cli/repl_edit.h"

#include <dlfcn.h>
#include <string.h>

static const char *const repl_edit_sonames[] = { "libedit.so.2", "libedit.so" };

/* dlsym into a typed pointer; POSIX guarantees data and function pointers
 * convert through void * on the systems that have dlsym. */
static bool repl_edit_sym(void *handle, const char *name, void *out)
{
    void *p = dlsym(handle, name);
    memcpy(out, &p, sizeof p);
    return p != NULL;
}

bool repl_edit_load(ReplEdit *e)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < sizeof repl_edit_sonames / sizeof *repl_edit_sonames && !e->handle; i++)
        e->handle = dlopen(repl_edit_sonames[i], RTLD_NOW | RTLD_LOCAL);
    if (!e->handle)
        return false;
    bool ok = repl_edit_sym(e->handle, "readline", &e->readline) &&
              repl_edit_sym(e->handle, "add_history", &e->add_history) &&
              repl_edit_sym(e->handle, "read_history", &e->read_history) &&
              repl_edit_sym(e->handle, "write_history", &e->write_history) &&
              repl_edit_sym(e->handle, "using_history", &e->using_history) &&
              repl_edit_sym(e->handle, "stifle_history", &e->stifle_history) &&
              repl_edit_sym(e->handle, "rl_bind_key", &e->bind_key) &&
              repl_edit_sym(e->handle, "rl_insert", &e->insert) &&
              repl_edit_sym(e->handle, "rl_readline_name", &e->readline_name) &&
              repl_edit_sym(e->handle, "rl_getc_function", &e->getc_function);
    if (!ok) {
        dlclose(e->handle);
        memset(e, 0, sizeof *e);
    }
    return ok;
}

/* libedit stays loaded: it keeps editor state in its own globals and has
 * no call that frees it, so unloading it would only orphan that memory. */
void repl_edit_close(ReplEdit *e)
{
    memset(e, 0, sizeof *e);
}
