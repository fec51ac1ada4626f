/* Line editing for the REPL: libedit, loaded with dlopen when the REPL
 * starts, so that running a program never pays for loading it (and its
 * dependencies) at start-up. */
#ifndef PVM_REPL_EDIT_H
#define PVM_REPL_EDIT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    void *handle;
    char *(*readline)(const char *prompt);
    int (*add_history)(const char *line);
    int (*read_history)(const char *path);
    int (*write_history)(const char *path);
    void (*using_history)(void);
    void (*stifle_history)(int max);
    int (*bind_key)(int key, int (*fn)(int, int));
    int (*insert)(int count, int key);
    const char **readline_name;
    int (**getc_function)(FILE *in);
} ReplEdit;

/* Loads libedit's readline interface; false (and a zeroed [e]) when the
 * library or one of its symbols is missing. */
bool repl_edit_load(ReplEdit *e);
void repl_edit_close(ReplEdit *e);

#endif
