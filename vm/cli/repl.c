/* The REPL: reads PV inputs, compiles each as a program of its own and
 * runs it in one VM, keeping declarations from one input to the next.
 *
 * Declarations persist through one long-lived "session module". Each input
 * is compiled with the session's global names predeclared in the same
 * slots (CcOptions.predeclared_globals); once loaded, the new program's
 * module 0 is replaced by the session module, whose global slots grow to
 * hold the input's new declarations. Functions from earlier inputs read
 * and write those same slots, so an assignment in a later input is seen
 * by a function defined before it, as in a Lua or JavaScript REPL.
 *
 * An input that parses as one expression (a trailing ';' allowed) is run
 * as `__repl_show((INPUT));`, a native that prints a non-nil value in the
 * form used inside containers (strings quoted). Anything else is compiled
 * as statements; one missing final ';' is forgiven.
 *
 * An input ends at a line where every bracket opened so far is closed and
 * no block comment is open (strings and comments are skipped). Ctrl-C at
 * the prompt discards the input being typed; while code runs it stops that
 * code with the error "interrupted". End of input ends the session. */
#include "vm/cli/repl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/compiler.h"
#include "vm/cli/repl_edit.h"

#define REPL_FILE "<stdin>"
#define REPL_SHOW "__repl_show"
#define REPL_WRAP_OPEN REPL_SHOW "(("
#define REPL_WRAP_CLOSE "\n));"   /* the newline ends a trailing // comment */
#define REPL_PROMPT "> "
#define REPL_PROMPT_MORE "... "
#define REPL_HISTORY_FILE ".pvm_history"
#define REPL_HISTORY_MAX 1000

typedef struct {
    VM *vm;
    bool terminal;          /* libedit and prompts; else plain reads */
    VmModule *session;      /* module 0 of every input; NULL before the first.
                               Lives on the C stack, where the collector sees it */
    uint32_t session_cap;   /* global slots allocated in the session module */
    char *history_path;     /* NULL: history is not saved */
    ReplEdit edit;          /* libedit; edit.handle NULL: plain line reading */
    VmBuf input;            /* the input being read */
} Repl;

typedef enum {
    REPL_INPUT_READY,       /* a complete input */
    REPL_INPUT_LAST,        /* an incomplete input cut off by end of input */
    REPL_INPUT_END          /* end of input, nothing pending */
} ReplInput;

/* ---- Ctrl-C ----
 * A signal handler can reach only static storage, hence this one struct
 * (a process runs one REPL). The handler notes the signal; while code runs
 * it raises the VM's interrupt flag, which the interpreter polls at calls
 * and backward jumps; and it writes a byte to a pipe that the prompt polls
 * beside the terminal, so a Ctrl-C ends the read whenever it comes, even
 * between two read() calls of libedit. */

static struct {
    volatile sig_atomic_t seen;
    VM *volatile target;    /* the VM a Ctrl-C interrupts, while one runs */
    int pipe[2];            /* non-blocking; -1 when there is none */
} repl_sigint = { 0, NULL, { -1, -1 } };

static void repl_on_sigint(int sig)
{
    int saved = errno;
    repl_sigint.seen = 1;
    VM *target = repl_sigint.target;
    if (target)
        pvmV_interrupt_set(target);
    if (repl_sigint.pipe[1] >= 0) {
        ssize_t n = write(repl_sigint.pipe[1], "", 1);
        (void)n; /* a full pipe already says "interrupted" */
    }
    errno = saved;
}

static void repl_sigint_open(struct sigaction *old)
{
    if (pipe(repl_sigint.pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(repl_sigint.pipe[i], F_SETFL, fcntl(repl_sigint.pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(repl_sigint.pipe[i], F_SETFD, FD_CLOEXEC);
        }
    } else {
        repl_sigint.pipe[0] = repl_sigint.pipe[1] = -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = repl_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old); /* no SA_RESTART: a plain read returns */
}

static void repl_sigint_close(const struct sigaction *old)
{
    sigaction(SIGINT, old, NULL);
    for (int i = 0; i < 2; i++) {
        if (repl_sigint.pipe[i] >= 0)
            close(repl_sigint.pipe[i]);
        repl_sigint.pipe[i] = -1;
    }
}

/* Forgets earlier Ctrl-Cs before a new line is read. In this order, a
 * byte in the pipe always comes with [seen] set. */
static void repl_sigint_reset(void)
{
    repl_sigint.seen = 0;
    char drain[64];
    while (repl_sigint.pipe[0] >= 0 && read(repl_sigint.pipe[0], drain, sizeof drain) > 0)
        ;
}

/* libedit's character source: a byte from the terminal, or end of input
 * once Ctrl-C was pressed (repl_sigint.seen tells the two apart). */
static int repl_getc(FILE *in)
{
    struct pollfd fds[2] = { { fileno(in), POLLIN, 0 }, { repl_sigint.pipe[0], POLLIN, 0 } };
    for (;;) {
        if (repl_sigint.seen)
            return EOF;
        int ready = poll(fds, repl_sigint.pipe[0] >= 0 ? 2 : 1, -1);
        if (ready < 0 && errno != EINTR)
            return EOF;
        if (ready <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        unsigned char c;
        ssize_t n = read(fds[0].fd, &c, 1);
        if (n == 1)
            return c;
        if (n == 0 || errno != EINTR)
            return EOF;
    }
}

/* ---- reading lines ---- */

/* libedit: our key reader (see repl_getc), plain tabs, and the history,
 * loaded from ~/.pvm_history when HOME is set. */
static void repl_editline_open(Repl *r)
{
    ReplEdit *e = &r->edit;
    if (!repl_edit_load(e)) {
        fprintf(stderr, "pvm: libedit not found: line editing and history are off\n");
        return;
    }
    *e->readline_name = "pvm";         /* for "pvm:" lines in ~/.editrc */
    *e->getc_function = repl_getc;
    e->bind_key('\t', e->insert);       /* a tab is a tab, not file completion */
    e->using_history();
    e->stifle_history(REPL_HISTORY_MAX);
    const char *home = getenv("HOME");
    if (!home || !*home)
        return;
    size_t n = strlen(home) + sizeof "/" REPL_HISTORY_FILE;
    r->history_path = malloc(n);
    if (!r->history_path)
        return;
    snprintf(r->history_path, n, "%s/%s", home, REPL_HISTORY_FILE);
    e->read_history(r->history_path);  /* none yet, or unreadable: start empty */
}

/* Adds a typed line to the history, and saves the history at once so that
 * os.exit or a crash does not lose it. Failing to save is not an error. */
static void repl_remember(Repl *r, const char *line)
{
    if (!r->edit.handle || line[strspn(line, " \t\r")] == '\0')
        return;
    r->edit.add_history(line);
    if (r->history_path)
        r->edit.write_history(r->history_path);
}

/* One line without its newline, malloc'd, its length in [len]. NULL at
 * end of input, or after Ctrl-C (repl_sigint.seen is then set). */
static char *repl_read_line(Repl *r, const char *prompt, size_t *len)
{
    repl_sigint_reset();
    fflush(stdout);
    if (r->edit.handle) {
        char *line = r->edit.readline(prompt);
        if (line)
            *len = strlen(line);
        return line;
    }
    if (r->terminal)
        fputs(prompt, stdout), fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        clearerr(stdin);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    *len = (size_t)n;
    return line;
}

/* ---- where an input ends ---- */

typedef struct {
    long depth;             /* brackets open */
    bool underflow;         /* a closing bracket had no opener */
    bool in_comment;        /* a block comment is still open */
} ReplScan;

/* From the opening quote at [i]: the index of the closing quote, or of the
 * newline or end that leaves the string unterminated. */
static size_t repl_skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n && s[i] != '"' && s[i] != '\n'; i++)
        if (s[i] == '\\' && i + 1 < n && s[i + 1] != '\n')
            i++;
    return i;
}

/* Counts the brackets of [s] outside strings and comments, as the lexer
 * reads them. */
static ReplScan repl_scan(const char *s, size_t n)
{
    ReplScan sc = { 0, false, false };
    for (size_t i = 0; i < n; i++) {
        char c = s[i], next = i + 1 < n ? s[i + 1] : '\0';
        if (c == '"') {
            i = repl_skip_string(s, n, i);
        } else if (c == '/' && next == '/') {
            while (i + 1 < n && s[i + 1] != '\n')
                i++;
        } else if (c == '/' && next == '*') {
            for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); i++)
                ;
            if (i + 1 >= n) {
                sc.in_comment = true;
                return sc;
            }
            i++;
        } else if (c == '(' || c == '[' || c == '{') {
            sc.depth++;
        } else if ((c == ')' || c == ']' || c == '}') && --sc.depth < 0) {
            sc.underflow = true;
        }
    }
    return sc;
}

/* An input is complete when nothing is left open, or when it is already
 * wrong (a stray closer): then the compiler says so at once. */
static bool repl_complete(const VmBuf *input)
{
    ReplScan sc = repl_scan(input->data, input->len);
    return sc.underflow || (sc.depth <= 0 && !sc.in_comment);
}

/* Reads lines into r->input until they form a complete input. */
static ReplInput repl_read_input(Repl *r)
{
    r->input.len = 0;
    for (;;) {
        size_t len = 0;
        char *line = repl_read_line(r, r->input.len ? REPL_PROMPT_MORE : REPL_PROMPT, &len);
        if (repl_sigint.seen) {
            free(line);
            if (r->terminal)
                fputs("\n", stdout);
            r->input.len = 0;
            continue;
        }
        if (!line)
            return r->input.len ? REPL_INPUT_LAST : REPL_INPUT_END;
        repl_remember(r, line);
        pvmV_buf_add(&r->input, line, len);
        pvmV_buf_addc(&r->input, '\n');
        free(line);
        if (repl_complete(&r->input))
            return REPL_INPUT_READY;
    }
}

/* ---- compiling an input ---- */

/* The session's global names, NULL-terminated (malloc'd; the strings
 * belong to the session). */
static const char **repl_global_names(const Repl *r)
{
    uint32_t n = r->session ? r->session->nglobals : 0;
    const char **names = malloc((n + 1) * sizeof *names);
    if (!names)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        names[i] = r->session->global_names[i]->chars;
    names[n] = NULL;
    return names;
}

/* [src] without trailing white space and one final ';'. */
static bool repl_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t repl_trim(const char *src, size_t len)
{
    while (len > 0 && repl_is_space(src[len - 1]))
        len--;
    if (len > 0 && src[len - 1] == ';')
        len--;
    return len;
}

/* Writes `__repl_show((INPUT\n));` to [out] when INPUT is one expression;
 * false otherwise. The input's brackets must nest on their own, so that
 * no text in it can close the wrapper's. */
static bool repl_wrap_expression(const char *src, size_t len, VmBuf *out)
{
    len = repl_trim(src, len);
    ReplScan sc = repl_scan(src, len);
    if (len == 0 || sc.underflow || sc.depth != 0 || sc.in_comment)
        return false;
    pvmV_buf_add(out, REPL_WRAP_OPEN, strlen(REPL_WRAP_OPEN));
    pvmV_buf_add(out, src, len);
    pvmV_buf_add(out, REPL_WRAP_CLOSE, strlen(REPL_WRAP_CLOSE));
    return pvmC_syntax_ok(out->data, out->len);
}

/* Writes compile errors to stderr. The wrapper put [shift] columns before
 * the input's first line, so positions on line 1 are moved back by that
 * much: the user sees the columns of what they typed. */
static void repl_print_errors(const char *text, size_t len, size_t shift)
{
    static const char line1[] = REPL_FILE ":1:";
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        char *after;
        unsigned long col;
        if (shift && (size_t)(stop - p) > sizeof line1 - 1 && !memcmp(p, line1, sizeof line1 - 1) &&
            (col = strtoul(p + sizeof line1 - 1, &after, 10)) > 0 && after < stop && *after == ':') {
            col = col > shift ? col - shift : 1;
            fprintf(stderr, "%s%lu%.*s", line1, col, (int)(stop - after), after);
        } else {
            fwrite(p, 1, (size_t)(stop - p), stderr);
        }
        p = stop;
    }
}

/* Compiles [src] with errors kept in a memory stream ([*errors], malloc'd,
 * may be NULL after out of memory); [errors] NULL discards them. */
static bool repl_compile_text(const char *src, size_t len, const CcOptions *opt,
                              PbcImage *img, char **errors, size_t *errlen)
{
    if (!errors)
        return pvmC_compile_source(src, len, REPL_FILE, opt, img, NULL);
    FILE *f = open_memstream(errors, errlen);
    bool ok = pvmC_compile_source(src, len, REPL_FILE, opt, img, f ? f : stderr);
    if (f)
        fclose(f);
    else
        *errors = NULL;
    return ok;
}

/* Statements, or failing that the same with a ';' added (the user left
 * off the last one); the errors shown are those of what was typed. */
static bool repl_compile_statements(const char *src, size_t len, const CcOptions *opt, PbcImage *img)
{
    char *errors = NULL;
    size_t errlen = 0;
    bool ok = repl_compile_text(src, len, opt, img, &errors, &errlen);
    if (!ok) {
        VmBuf fixed;
        pvmV_buf_init(&fixed);
        pvmV_buf_add(&fixed, src, len);
        pvmV_buf_add(&fixed, "\n;", 2);
        ok = repl_compile_text(fixed.data, fixed.len, opt, img, NULL, NULL);
        pvmV_buf_free(&fixed);
    }
    if (!ok && errors)
        repl_print_errors(errors, errlen, 0);
    free(errors);
    return ok;
}

/* Compiles one input into [img], printing its compile errors. */
static bool repl_compile(const Repl *r, const char *src, size_t len, PbcImage *img)
{
    static const char *const extra[] = { REPL_SHOW, NULL };
    const char **names = repl_global_names(r);
    if (!names) {
        fprintf(stderr, "pvm: out of memory\n");
        return false;
    }
    CcOptions opt = { .extra_builtins = extra, .predeclared_globals = names };
    VmBuf wrapped;
    pvmV_buf_init(&wrapped);
    bool ok;
    if (repl_wrap_expression(src, len, &wrapped)) {
        char *errors = NULL;
        size_t errlen = 0;
        ok = repl_compile_text(wrapped.data, wrapped.len, &opt, img, &errors, &errlen);
        if (!ok && errors)
            repl_print_errors(errors, errlen, strlen(REPL_WRAP_OPEN));
        free(errors);
    } else {
        ok = repl_compile_statements(src, len, &opt, img);
    }
    pvmV_buf_free(&wrapped);
    free(names);
    return ok;
}

/* ---- running an input ---- */

static Value repl_show(VM *vm, int argc, Value *args, void *data)
{
    if (args[0].type == VT_NIL)
        return VAL_NIL;
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display_element(&b, args[0]);
    pvmV_buf_addc(&b, '\n');
    fwrite(b.data, 1, b.len, vm->out);
    pvmV_buf_free(&b);
    return VAL_NIL;
}

static void repl_grow_session(VM *vm, Repl *r, uint32_t need)
{
    if (need <= r->session_cap)
        return;
    VmModule *s = r->session;
    uint32_t cap = need / 2 > r->session_cap ? need : r->session_cap * 2;
    Value *globals = pvmV_alloc(vm, pvmV_checked_size(vm, cap, sizeof(Value), 0));
    PvString **names = pvmV_alloc(vm, pvmV_checked_size(vm, cap, sizeof(PvString *), 0));
    memcpy(globals, s->globals, s->nglobals * sizeof(Value));
    memcpy(names, s->global_names, s->nglobals * sizeof(PvString *));
    s->globals = globals;
    s->global_names = names;
    r->session_cap = cap;
}

/* Makes the session module the loaded program's module 0 (pvmV_protect
 * body: allocation may raise). Its first slots are the predeclared names,
 * in the session's order; the slots after them are the input's own. */
static void repl_adopt(VM *vm, void *ud)
{
    Repl *r = ud;
    VmProgram *prog = vm->program;
    VmModule *fresh = prog->modules[0];
    fresh->global_once = NULL; /* each input's top level writes the session's globals again */
    if (!r->session) {
        r->session = fresh;
        r->session_cap = fresh->nglobals;
        return;
    }
    VmModule *s = r->session;
    repl_grow_session(vm, r, fresh->nglobals);
    for (uint32_t g = s->nglobals; g < fresh->nglobals; g++) {
        s->globals[g] = VAL_NIL;
        s->global_names[g] = fresh->global_names[g];
    }
    if (fresh->nglobals > s->nglobals)
        s->nglobals = fresh->nglobals;
    s->main = fresh->main;
    s->global_once = NULL;
    s->state = VM_MODULE_NEW;
    s->exports = VAL_NIL;
    for (uint32_t i = 0; i < prog->nprotos; i++)
        if (prog->protos[i]->module == fresh)
            prog->protos[i]->module = s;
    prog->modules[0] = s;
}

static void repl_run_image(Repl *r, const PbcImage *img)
{
    VM *vm = r->vm;
    char err[512];
    if (!pvmV_load_verified(vm, img, err, sizeof err)) {
        fprintf(stderr, "pvm: invalid bytecode: %s\n", err);
        return;
    }
    if (!pvmV_protect(vm, repl_adopt, r)) {
        pvmV_report_error(vm, stderr);
        return;
    }
    /* A Ctrl-C pressed since the line was read already counts. */
    pvmV_interrupt_clear(vm);
    repl_sigint.target = vm;
    if (repl_sigint.seen)
        pvmV_interrupt_set(vm);
    bool ok = pvmV_run_program(vm);
    repl_sigint.target = NULL;
    pvmV_interrupt_clear(vm); /* a Ctrl-C after the end must not stop the next input */
    if (!ok)
        pvmV_report_error(vm, stderr);
    fflush(vm->out);
}

static void repl_eval(Repl *r)
{
    const char *src = r->input.data;
    size_t len = r->input.len;
    if (strspn(src, " \t\r\n") >= len)
        return;
    PbcImage img;
    pvmB_init(&img);
    if (repl_compile(r, src, len, &img))
        repl_run_image(r, &img);
    pvmB_free(&img);
}

int repl_run(VM *vm, bool terminal)
{
    Repl r = { .vm = vm, .terminal = terminal };
    pvmV_buf_init(&r.input);
    pvmV_define_native(vm, REPL_SHOW, repl_show, 1, 1);
    struct sigaction old_sigint;
    repl_sigint_open(&old_sigint);
    if (terminal) {
        repl_editline_open(&r);
        printf("PV REPL: an expression prints its value; Ctrl-D quits.\n");
    }
    ReplInput got;
    while ((got = repl_read_input(&r)) != REPL_INPUT_END) {
        repl_eval(&r);
        if (got == REPL_INPUT_LAST)
            break;
    }
    if (terminal)
        fputs("\n", stdout);
    fflush(stdout);
    repl_sigint_close(&old_sigint);
    free(r.history_path);
    repl_edit_close(&r.edit);
    pvmV_buf_free(&r.input);
    return 0;
}
