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
struct vec3f { float v[3]; };                   /* an array of floats inside */
struct tiny { char c[3]; };                     /* 3 bytes */
struct di { double d; int i; };                 /* SSE, then INTEGER */
union u3 { char c[3]; short s; };               /* 4 bytes, alignment 2 */
union mixu { float f[2]; double d; int i; };    /* an int makes it INTEGER */
union fd16 { double d[2]; float f[4]; };        /* all SSE, 16 bytes */
union bigu { long v[4]; double d; };            /* MEMORY */
struct wrap { struct tiny t; union mixu m; struct { short a; char b; } anon; };

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
struct vec3f vec3f_scale(struct vec3f v, float k);
struct tiny tiny_next(struct tiny t);
struct di di_twice(struct di x);
union u3 u3_inc(union u3 u);
union mixu mixu_from(int i);
float mixu_first(union mixu u);
union fd16 fd16_sum(union fd16 u);
union bigu bigu_rev(union bigu u);
struct wrap wrap_bump(struct wrap w);
long stack_mix(int a, int b, int c, int d, int e, int f, struct small s, int g, struct point p, double h);
