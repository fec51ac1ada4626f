/* Declarations whose layout pvm must compute as the C compiler does
 * (tests/cli/ffi_layout.sh): cc compiles them in layout_expect.c, ffi.cdef
 * reads this very file. */
enum { NAME_LEN = 5, GRID = 3, NPTS = 1 << 2 };
static const int POINTS = 2 * 2;

typedef unsigned char byte;
typedef struct pair { char c; double d; } pair_t;
struct padded { char a; int b; char c; short d; char e; };
struct tail { long long x; char y; };
struct point { float x, y; };
struct path { short n; struct point pts[NPTS]; char name[NAME_LEN]; };
struct grid { byte cells[GRID][GRID + 1]; int total; };
union value { char c; int i; double d; long long ll; char text[13]; };
struct node { struct node *next; const char *label; union value v; _Bool live; };
struct anon { int kind; union { float f; unsigned short h[3]; }; struct { char p, q; }; long after; };
struct fnptrs { int (*cmp)(const void *, const void *); void (*done)(void); char tag; };
struct deep { struct path paths[2]; pair_t pairs[3]; struct { int a; struct { char b; double c; } inner; } mid; };
typedef struct deep deep_t;
struct ints { signed char a; unsigned short b; unsigned c; long d; unsigned long long e; size_t f; int8_t g;
              int16_t h; int32_t i; int64_t j; uint8_t k; bool l; intptr_t m; ptrdiff_t n; };
struct ptrs { char **argv; void *p; const struct node *const *nodes; int (*table[4])(int); };
