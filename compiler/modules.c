/* The compiler driver: compiles a program and, depth first, every module
 * it imports into one PbcImage (LANGUAGE.md section 7).
 *
 * `import util;` looks for util.pv, then util.pbc, next to the importing
 * file, then in each PVM_PATH directory. A module is identified by its
 * file's real path, compiled once, and gets its own module entry; a .pbc
 * module is merged into the image with its indices relocated. An import
 * that reaches a module still being compiled is a cycle. */
#include "compiler/compiler.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/codegen.h"
#include "compiler/parser.h"

#define MAX_SOURCE_BYTES 0x7FFFFFFFu
#define MAX_IMPORT_DEPTH 200u   /* modules being compiled at once */

typedef struct {
    char *key;          /* real path of the file, or NULL */
    char *name;         /* import name (the program: its base name) */
    uint32_t index;     /* module index in the image */
    bool done;          /* compiled; false while its imports are compiled */
} ModEntry;

typedef struct {
    PbcImage *img;
    CcDiag diag;
    const CcOptions *opt;
    const char *module_path;
    ModEntry *mods;
    uint32_t nmods, mods_cap;
    uint32_t *stack;    /* mods entries being compiled, outermost first */
    uint32_t nstack, stack_cap;
    CcArena **arenas;   /* live arenas, freed even after out of memory */
    uint32_t narenas, arenas_cap;
} Build;

static uint32_t compile_module(Build *b, const char *file, const char *src, size_t len,
                               const char *name, char *key);

/* ---- small helpers ---- */

static char *xstrdup(Build *b, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = pvmC_xrealloc(&b->diag, NULL, n);
    memcpy(p, s, n);
    return p;
}

static bool is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads a whole source or .pbc file; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len)
{
    char *data;
    return pvmB_read_path(path, MAX_SOURCE_BYTES, &data, len) ? data : NULL;
}

/* "dir/app.pv" -> "app" (a ".pv" extension is dropped). */
static char *base_name(Build *b, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *name = xstrdup(b, slash ? slash + 1 : path);
    size_t n = strlen(name);
    if (n > 3 && strcmp(name + n - 3, ".pv") == 0)
        name[n - 3] = '\0';
    return name;
}

static char *real_path(const char *path)
{
    return realpath(path, NULL);
}

static CcArena *new_arena(Build *b)
{
    CcArena *a = pvmC_xrealloc(&b->diag, NULL, sizeof *a);
    pvmC_arena_init(a, &b->diag);
    pvmC_grow(&b->diag, (void **)&b->arenas, &b->arenas_cap, b->narenas + 1, sizeof *b->arenas);
    b->arenas[b->narenas++] = a;
    return a;
}

static void drop_arena(Build *b, CcArena *a)
{
    for (uint32_t i = b->narenas; i-- > 0;)
        if (b->arenas[i] == a) {
            b->arenas[i] = b->arenas[--b->narenas];
            break;
        }
    pvmC_arena_free(a);
    free(a);
}

static uint32_t add_entry(Build *b, char *key, const char *name, uint32_t index, bool done)
{
    pvmC_grow(&b->diag, (void **)&b->mods, &b->mods_cap, b->nmods + 1, sizeof *b->mods);
    b->mods[b->nmods] = (ModEntry){ key, xstrdup(b, name), index, done };
    return b->nmods++;
}

static int find_entry(const Build *b, const char *key)
{
    for (uint32_t i = 0; i < b->nmods; i++)
        if (b->mods[i].key && strcmp(b->mods[i].key, key) == 0)
            return (int)i;
    return -1;
}

static uint32_t new_module(Build *b)
{
    uint32_t index = pvmB_add_module(b->img);
    if (index == PBC_NONE)
        longjmp(*b->diag.oom, 1);
    return index;
}

static void name_module(Build *b, uint32_t index, const char *name, const char *file)
{
    uint32_t kname = pvmB_const_string(b->img, name, (uint32_t)strlen(name));
    uint32_t kfile = pvmB_const_string(b->img, file, (uint32_t)strlen(file));
    if (kname == PBC_NONE || kfile == PBC_NONE)
        longjmp(*b->diag.oom, 1);
    b->img->modules[index].name = kname;
    b->img->modules[index].file = kfile;
}

/* ---- finding a module's file ---- */

/* [dir] is a prefix ending in '/' or empty. Tries DIR NAME.pv, then .pbc. */
static char *try_dir(Build *b, const char *dir, size_t dirlen, const char *name)
{
    static const char *const exts[] = { ".pv", ".pbc" };
    for (int i = 0; i < 2; i++) {
        size_t n = dirlen + strlen(name) + strlen(exts[i]) + 2;
        char *path = pvmC_xrealloc(&b->diag, NULL, n);
        snprintf(path, n, "%.*s%s%s", (int)dirlen, dir, name, exts[i]);
        if (is_regular_file(path))
            return path;
        free(path);
    }
    return NULL;
}

/* The file for `import NAME;` in [importer], or NULL. */
static char *find_module(Build *b, const char *importer, const char *name)
{
    const char *slash = strrchr(importer, '/');
    char *path = try_dir(b, importer, slash ? (size_t)(slash - importer + 1) : 0, name);
    const char *p = b->module_path;
    while (!path && p && *p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0 && n < PATH_MAX) {
            char dir[PATH_MAX + 1];
            memcpy(dir, p, n);
            if (dir[n - 1] != '/')
                dir[n++] = '/';
            path = try_dir(b, dir, n, name);
        }
        p = colon ? colon + 1 : NULL;
    }
    return path;
}

/* "a -> b -> a" for an import of entry [target] from the top of the stack. */
static void report_cycle(Build *b, const char *file, CcPos pos, uint32_t target)
{
    size_t cap = 64, len = 0;
    char *text = pvmC_xrealloc(&b->diag, NULL, cap);
    text[0] = '\0';
    uint32_t i = 0;
    while (i < b->nstack && b->stack[i] != target)
        i++;
    for (; i <= b->nstack; i++) {
        const char *name = b->mods[i < b->nstack ? b->stack[i] : target].name;
        size_t need = len + strlen(name) + 5;
        if (need > cap) {
            cap = need * 2;
            text = pvmC_xrealloc(&b->diag, text, cap);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s%s", len ? " -> " : "", name);
    }
    pvmC_error(&b->diag, file, pos, "import cycle: %s", text);
    free(text);
}

/* ---- .pbc modules ---- */

static uint32_t remap_const(Build *b, const PbcImage *sub, uint32_t k)
{
    if (k == PBC_NONE)
        return PBC_NONE;
    const PbcConst *c = &sub->consts[k];
    uint32_t r = c->kind == PBC_CONST_INT ? pvmB_const_int(b->img, c->i)
               : c->kind == PBC_CONST_FLOAT ? pvmB_const_float(b->img, c->f)
               : pvmB_const_string(b->img, c->str, c->len);
    if (r == PBC_NONE)
        longjmp(*b->diag.oom, 1);
    return r;
}

/* Copies function [fi] of [sub], rewriting its indices into the image. */
static void merge_function(Build *b, const PbcImage *sub, uint32_t fi, uint32_t fbase, uint32_t mbase)
{
    const PbcFunc *sf = &sub->funcs[fi];
    uint32_t name = remap_const(b, sub, sf->name);
    PbcUpval *upvals = pvmC_xrealloc(&b->diag, NULL, sizeof *upvals * (sf->nupvals ? sf->nupvals : 1));
    if (sf->nupvals)
        memcpy(upvals, sf->upvals, sizeof *upvals * sf->nupvals);
    PbcLine *lines = pvmC_xrealloc(&b->diag, NULL, sizeof *lines * (sf->nlines ? sf->nlines : 1));
    if (sf->nlines)
        memcpy(lines, sf->lines, sizeof *lines * sf->nlines);
    uint8_t *code = pvmC_xrealloc(&b->diag, NULL, sf->codelen);
    memcpy(code, sf->code, sf->codelen);
    PbcFunc *f = &b->img->funcs[fbase + fi];
    *f = *sf;
    f->name = name;
    f->module = mbase + sf->module;
    f->upvals = upvals;
    f->lines = lines;
    f->code = code;
    PbcInsn in;
    for (uint32_t off = 0; off < sf->codelen; off += in.size) {
        if (!pvmB_decode(sf->code, sf->codelen, off, &in))
            break; /* cannot happen: the image was verified */
        uint32_t v = (uint32_t)in.operand;
        switch (pvmB_opcode_info[in.op].operand) {
        case OPND_CONST: case OPND_NAME: case OPND_FIELD: v = remap_const(b, sub, v); break;
        case OPND_FUNC: v += fbase; break;
        case OPND_MODULE: v += mbase; break;
        default: continue;
        }
        f = &b->img->funcs[fbase + fi];
        for (int i = 0; i < 4; i++)
            f->code[off + 1 + i] = (uint8_t)(v >> (8 * i));
    }
}

/* Appends every module and function of [sub]; returns the index its
 * module 0 gets. */
static uint32_t merge_image(Build *b, const PbcImage *sub, const char *name, const char *file)
{
    uint32_t mbase = b->img->nmodules, fbase = b->img->nfuncs;
    for (uint32_t m = 0; m < sub->nmodules; m++)
        new_module(b);
    for (uint32_t fi = 0; fi < sub->nfuncs; fi++)
        if (pvmB_add_func(b->img) == PBC_NONE)
            longjmp(*b->diag.oom, 1);
    for (uint32_t fi = 0; fi < sub->nfuncs; fi++)
        merge_function(b, sub, fi, fbase, mbase);
    for (uint32_t m = 0; m < sub->nmodules; m++) {
        const PbcModule *sm = &sub->modules[m];
        uint32_t *globals = pvmC_xrealloc(&b->diag, NULL, sizeof *globals * (sm->nglobals ? sm->nglobals : 1));
        for (uint32_t g = 0; g < sm->nglobals; g++)
            globals[g] = remap_const(b, sub, sm->globals[g]);
        uint32_t mname = remap_const(b, sub, sm->name), mfile = remap_const(b, sub, sm->file);
        PbcModule *mod = &b->img->modules[mbase + m];
        mod->globals = globals;
        mod->nglobals = sm->nglobals;
        mod->main = fbase + sm->main;
        mod->name = mname;
        mod->file = mfile;
    }
    name_module(b, mbase, name, file);
    return mbase;
}

/* Loads, verifies and merges the .pbc module at [path]. */
static uint32_t load_pbc_module(Build *b, const char *importer, CcPos pos, const char *path,
                                const char *name)
{
    size_t len = 0;
    char *bytes = read_file(path, &len);
    if (!bytes) {
        pvmC_error(&b->diag, importer, pos, "cannot read module '%s': %s", path, strerror(errno));
        return PBC_NONE;
    }
    PbcImage sub;
    char err[256];
    bool ok = pvmB_read((const uint8_t *)bytes, len, &sub, err, sizeof err);
    free(bytes);
    if (ok && !pvmB_verify(&sub, err, sizeof err)) {
        pvmB_free(&sub);
        ok = false;
    }
    if (!ok) {
        pvmC_error(&b->diag, importer, pos, "invalid module '%s': %s", path, err);
        return PBC_NONE;
    }
    uint32_t index = merge_image(b, &sub, name, path);
    pvmB_free(&sub);
    return index;
}

/* ---- imports ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Compiles or merges the module file [path] for `import NAME;` at [pos]
 * of [importer]; [key] (its identity) goes to the new entry. Returns the
 * module index, or PBC_NONE after reporting an error. */
static uint32_t load_module(Build *b, const char *importer, CcPos pos, const char *path,
                            const char *name, char *key)
{
    if (b->nstack >= MAX_IMPORT_DEPTH) {
        pvmC_error(&b->diag, importer, pos, "imports nested too deeply (more than %u modules)", MAX_IMPORT_DEPTH);
        free(key);
        return PBC_NONE;
    }
    if (ends_with(path, ".pbc")) {
        uint32_t index = load_pbc_module(b, importer, pos, path, name);
        if (index == PBC_NONE)
            free(key);
        else
            add_entry(b, key, name, index, true);
        return index;
    }
    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) {
        pvmC_error(&b->diag, importer, pos, "cannot read module '%s': %s", path, strerror(errno));
        free(key);
        return PBC_NONE;
    }
    uint32_t index = compile_module(b, path, src, len, name, key);
    free(src);
    return index;
}

/* Binds one import statement of [importer] to a module index. */
static void resolve_import(Build *b, const char *importer, CcStmt *s)
{
    const CcVar *var = s->u.import.var;
    const char *name = var->name.s;
    char *path = find_module(b, importer, name);
    if (!path) {
        if (pvmC_is_builtin_module(name))
            s->u.import.builtin = true;
        else
            pvmC_error(&b->diag, importer, var->pos, "module '%s' not found", name);
        return;
    }
    char *key = real_path(path);
    if (!key)
        key = xstrdup(b, path);
    int existing = find_entry(b, key);
    if (existing >= 0) {
        free(key);
        if (!b->mods[existing].done)
            report_cycle(b, importer, var->pos, (uint32_t)existing);
        s->u.import.module = b->mods[existing].index;
    } else {
        uint32_t index = load_module(b, importer, var->pos, path, name, key);
        s->u.import.module = index == PBC_NONE ? 0 : index;
    }
    free(path);
}

/* ---- compiling one module ---- */

/* Compiles source [src] of module [name] (file [file], identity [key],
 * owned by the entry) and, first, its imports. Returns its module index. */
static uint32_t compile_module(Build *b, const char *file, const char *src, size_t len,
                               const char *name, char *key)
{
    uint32_t index = new_module(b);
    uint32_t entry = add_entry(b, key, name, index, false);
    pvmC_grow(&b->diag, (void **)&b->stack, &b->stack_cap, b->nstack + 1, sizeof *b->stack);
    b->stack[b->nstack++] = entry;
    name_module(b, index, name, file);

    unsigned before = b->diag.count;
    CcArena *arena = new_arena(b);
    CcModuleAst *ast = pvmC_parse(src, len, file, arena, &b->diag);
    if (b->diag.count == before) {
        for (uint32_t i = 0; i < ast->nimports; i++)
            resolve_import(b, file, ast->imports[i]);
        CcModuleScope scope;
        const char *const *extra = b->opt ? b->opt->extra_builtins : NULL;
        const char *const *pre = b->opt && index == 0 ? b->opt->predeclared_globals : NULL;
        if (pvmC_resolve(ast, file, extra, pre, arena, &b->diag, &scope) && b->diag.count == before)
            pvmC_codegen(ast, &scope, index, file, b->img, &b->diag);
    }
    drop_arena(b, arena);
    b->nstack--;
    b->mods[entry].done = true;
    return index;
}

/* ---- entry points ---- */

static void build_init(Build *b, PbcImage *out, const CcOptions *opt, FILE *errors, jmp_buf *oom)
{
    memset(b, 0, sizeof *b);
    pvmB_init(out);
    b->img = out;
    b->opt = opt;
    pvmC_diag_init(&b->diag, errors, oom);
    b->diag.info = opt ? opt->error_info : NULL;
    b->module_path = opt && opt->module_path ? opt->module_path : getenv("PVM_PATH");
}

static void build_out_of_memory(Build *b, const char *file)
{
    pvmC_error_file(&b->diag, file, "out of memory");
    if (b->diag.info)
        b->diag.info->out_of_memory = true;
}

/* Frees the build's bookkeeping; on failure also empties the image. */
static bool build_finish(Build *b, bool ok)
{
    for (uint32_t i = 0; i < b->narenas; i++) {
        pvmC_arena_free(b->arenas[i]);
        free(b->arenas[i]);
    }
    for (uint32_t i = 0; i < b->nmods; i++) {
        free(b->mods[i].key);
        free(b->mods[i].name);
    }
    free(b->arenas);
    free(b->mods);
    free(b->stack);
    ok = ok && b->diag.count == 0;
    if (!ok) {
        pvmB_free(b->img);
        pvmB_init(b->img);
    }
    return ok;
}

bool pvmC_compile_source(const char *src, size_t len, const char *filename,
                       const CcOptions *opt, PbcImage *out, FILE *errors)
{
    jmp_buf oom;
    Build b;
    build_init(&b, out, opt, errors, &oom);
    if (setjmp(oom)) {
        build_out_of_memory(&b, filename);
        return build_finish(&b, false);
    }
    char *name = base_name(&b, filename);
    compile_module(&b, filename, src, len, name, real_path(filename));
    free(name);
    return build_finish(&b, true);
}

bool pvmC_compile_file(const char *path, const CcOptions *opt, PbcImage *out, FILE *errors)
{
    jmp_buf oom;
    Build b;
    build_init(&b, out, opt, errors, &oom);
    if (setjmp(oom)) {
        build_out_of_memory(&b, path);
        return build_finish(&b, false);
    }
    size_t len = 0;
    struct stat st;
    char *src = NULL;
    if (stat(path, &st) != 0)
        pvmC_error_file(&b.diag, path, "cannot read file: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        pvmC_error_file(&b.diag, path, "cannot read file: not a regular file");
    else if (!(src = read_file(path, &len)))
        pvmC_error_file(&b.diag, path, "cannot read file: %s", strerror(errno));
    if (!src)
        return build_finish(&b, false);
    char *name = base_name(&b, path);
    compile_module(&b, path, src, len, name, real_path(path));
    free(name);
    free(src);
    return build_finish(&b, true);
}

bool pvmC_syntax_ok(const char *src, size_t len)
{
    jmp_buf oom;
    CcDiag diag;
    CcArena arena;
    pvmC_diag_init(&diag, NULL, &oom);
    pvmC_arena_init(&arena, &diag);
    volatile bool ok = false;
    if (!setjmp(oom)) {
        pvmC_parse(src, len, "<syntax>", &arena, &diag);
        ok = diag.count == 0;
    }
    pvmC_arena_free(&arena);
    return ok;
}
