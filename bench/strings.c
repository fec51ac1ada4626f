/* strings.c: string building. Appends the decimal text of i for i in
 * 0..N-1 to one growing buffer, then prints its length and how many '7'
 * characters it holds. Usage: strings [N]   (N defaults to 1 000 000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} Buffer;

static void append(Buffer *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        if (b->cap < b->len + n)
            b->cap = b->len + n;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            fputs("out of memory\n", stderr);
            exit(1);
        }
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    Buffer b = { NULL, 0, 0 };
    char digits[32];
    for (long i = 0; i < n; i++) {
        int len = snprintf(digits, sizeof digits, "%ld", i);
        append(&b, digits, (size_t)len);
    }
    long sevens = 0;
    for (size_t i = 0; i < b.len; i++)
        sevens += b.data[i] == '7';
    printf("%zu %ld\n", b.len, sevens);
    free(b.data);
    return 0;
}
