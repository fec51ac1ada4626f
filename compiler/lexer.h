/* The PV lexer: source bytes to tokens, on demand.
 *
 * The lexer never fails: a malformed token is reported through CcDiag and
 * replaced by the closest valid one (a bad number becomes 0, a bad escape
 * is dropped, an unknown character is skipped), so the parser sees a
 * well-formed token stream and errors do not cascade. */
#ifndef PVM_CC_LEXER_H
#define PVM_CC_LEXER_H

#include "compiler/diag.h"

/* Token kinds with the text used for them in messages. */
#define CC_TOKENS(X) \
    X(EOF, "end of file") X(NAME, "name") X(INT, "number") X(FLOAT, "number") \
    X(STRING, "string") \
    X(LPAREN, "(") X(RPAREN, ")") X(LBRACKET, "[") X(RBRACKET, "]") \
    X(LBRACE, "{") X(RBRACE, "}") X(COMMA, ",") X(SEMI, ";") X(COLON, ":") \
    X(DOT, ".") X(DOTDOT, "..") X(ELLIPSIS, "...") X(QUESTION, "?") \
    X(PLUS, "+") X(MINUS, "-") X(STAR, "*") X(SLASH, "/") X(PERCENT, "%") \
    X(AMP, "&") X(PIPE, "|") X(CARET, "^") X(TILDE, "~") X(SHL, "<<") X(SHR, ">>") \
    X(BANG, "!") X(EQEQ, "==") X(NE, "!=") X(LT, "<") X(LE, "<=") X(GT, ">") X(GE, ">=") \
    X(ANDAND, "&&") X(OROR, "||") X(ASSIGN, "=") X(PLUSEQ, "+=") X(MINUSEQ, "-=") \
    X(STAREQ, "*=") X(SLASHEQ, "/=") X(PERCENTEQ, "%=") \
    X(LET, "let") X(FN, "fn") X(RETURN, "return") X(IF, "if") X(ELSE, "else") \
    X(WHILE, "while") X(FOR, "for") X(IN, "in") X(BREAK, "break") \
    X(CONTINUE, "continue") X(NIL, "nil") X(TRUE, "true") X(FALSE, "false") \
    X(TRY, "try") X(CATCH, "catch") X(THROW, "throw") X(IMPORT, "import")

typedef enum {
#define X(name, text) CC_TK_##name,
    CC_TOKENS(X)
#undef X
    CC_TK__COUNT
} CcTokenKind;

#define CC_TK_FIRST_KEYWORD CC_TK_LET

typedef struct {
    CcTokenKind kind;
    CcPos pos;
    const char *start;  /* the token's text in the source */
    uint32_t len;
    union {
        int64_t i;      /* CC_TK_INT */
        double f;       /* CC_TK_FLOAT */
        struct {
            char *bytes; /* CC_TK_STRING: decoded, arena-owned, NUL-terminated */
            uint32_t len;
        } str;
    } v;
} CcToken;

typedef struct {
    const char *src, *cur, *end;
    const char *line_start;
    uint32_t line;
    const char *file;
    CcDiag *diag;
    CcArena *arena;
    char *scratch;      /* string decoding buffer */
    uint32_t scratch_cap;
    char msg[64];       /* room for a formatted error message */
} CcLexer;

void pvmC_lexer_init(CcLexer *lx, const char *src, size_t len, const char *file,
                   CcDiag *diag, CcArena *arena);
void pvmC_lexer_free(CcLexer *lx);
/* Scans the next token into [out]; at the end returns CC_TK_EOF forever. */
void pvmC_lex_next(CcLexer *lx, CcToken *out);
/* "end of file", "(", "let", ... */
const char *pvmC_token_text(CcTokenKind kind);
bool pvmC_token_is_keyword(CcTokenKind kind);

#endif
