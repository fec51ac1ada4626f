/* The types and functions of the ffi test library (structs.c): read by
 * cc for the library and its C reference program, and by ffi.cdef in
 * tests/programs/ffi_struct_abi.pv, so both sides see the same text.
 * Each struct is chosen for how the x86-64 SysV ABI passes it. */
struct point { double x, y; };                 /* two SSE eightbytes */
struct small { char c; short s; int i; };       /* one INTEGER eightbyte */
struct mixed { int i; float f; double d; };     /* INTEGER, then SSE */
struct floats3 { float a, b, c; };             /* SSE, SSE (12 bytes) */
struct big { long v[5]; };                      /* MEMORY: passed on the stack, returned by hidden pointer */
struct nested { struct small s; struct point p; char tag[3]; };
union num { long long i; double d; };           /* INTEGER */
union fnum { float f; double d; };              /* SSE */
struct tagged { int kind; union { int i; float f; }; };  /* anonymous union member */
struct flag { _Bool ok; char name[7]; };
struct slice { const char *s; size_t n; };
enum shape { SHAPE_NONE, SHAPE_CIRCLE = 10, SHAPE_SQUARE };

struct point pt_add(struct point a, struct point b);
double pt_sum5(struct point a, struct point b, struct point c, struct point d, struct point e);
struct small small_make(char c, short s, int i);
long small_code(struct small s);
struct mixed mixed_twice(struct mixed m);
struct floats3 floats3_rev(struct floats3 f);
struct big big_scale(struct big b, long k);
long big_sum(int first, struct big b, int last);
struct nested nested_bump(struct nested n);
union num num_from_int(long long i);
double num_as_double(union num n);
union fnum fnum_half(union fnum n, int is_double);
struct tagged tagged_make(int kind, int i);
float tagged_float(struct tagged t);
struct flag flag_flip(struct flag f);
struct slice slice_of(const char *s);
size_t slice_len(struct slice s);
void pt_scale(struct point *p, double k);
int points_fill(struct point *out, int n);
enum shape shape_next(enum shape s);
