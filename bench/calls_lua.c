/* calls_lua.c: the Lua 5.4 half of `make bench-calls` (bench/calls.sh): the
 * calls bench/calls_pvm.c makes, through Lua's C API, with the same modes
 * and output.
 *
 *   host     lua_pcall of identity(x) from C, no result kept
 *   result   the same with one result, read with lua_tointegerx and popped
 *   native   a Lua loop calling a C function returning its argument
 *   empty    the same loop without the call (the baseline subtracted)
 *   callback a C function called from Lua calls a Lua function n times
 *            with lua_call, as a C library calls an ffi callback:
 *            identity(x) with an integer
 *   compare  the same with a comparator of two light userdata (Lua's
 *            unboxed pointers) returning 0
 *
 * The C function is a local of the chunk (an upvalue of the loop's
 * function), Lua's cheapest way to reach it (calls_pvm.c's script keeps
 * it in a top-level variable likewise); the function the host calls is
 * kept on the stack, Lua's cheapest way to hold it. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char script[] = "function identity(x) return x end\n"
                             "local host_identity = host_identity\n"
                             "function call_host(n) for i = 1, n do host_identity(i) end end\n"
                             "function empty_loop(n) for i = 1, n do end end\n"
                             "local callbacks = callbacks\n"
                             "function call_identity(n) callbacks(identity, n, false) end\n"
                             "function call_compare(n) callbacks(function (a, b) return 0 end, n, true) end\n";

static int host_identity(lua_State *L)
{
    lua_settop(L, 1);
    return 1;
}

/* callbacks(f, n, pointers): calls f n times from C, with an integer or
 * with two light userdata, and reads each integer result. */
static int callbacks(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 2);
    int pointers = lua_toboolean(L, 3);
    int a = 1, b = 2;
    lua_Integer sum = 0;
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushvalue(L, 1);
        if (pointers) {
            lua_pushlightuserdata(L, &a);
            lua_pushlightuserdata(L, &b);
        } else {
            lua_pushinteger(L, i & 0xffff);
        }
        lua_call(L, pointers ? 2 : 1, 1);
        sum += lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, sum);
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(lua_State *L)
{
    fprintf(stderr, "calls_lua: %s\n", lua_tostring(L, -1));
    exit(1);
}

/* Leaves global [name] at the top of the stack. */
static void global(lua_State *L, const char *name)
{
    if (lua_getglobal(L, name) != LUA_TFUNCTION) {
        fprintf(stderr, "calls_lua: no function %s\n", name);
        exit(1);
    }
}

static void host_calls(lua_State *L, long n)
{
    global(L, "identity");
    int fn = lua_gettop(L);
    for (long i = 0; i < n; i++) {
        lua_pushvalue(L, fn);
        lua_pushinteger(L, 42);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            die(L);
    }
    lua_pop(L, 1);
}

static void result_calls(lua_State *L, long n)
{
    global(L, "identity");
    int fn = lua_gettop(L);
    long long sum = 0;
    for (long i = 0; i < n; i++) {
        lua_pushvalue(L, fn);
        lua_pushinteger(L, 42);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK)
            die(L);
        int isnum;
        sum += lua_tointegerx(L, -1, &isnum);
        if (!isnum)
            die(L);
        lua_pop(L, 1);
    }
    if (sum != 42LL * n)
        die(L);
    lua_pop(L, 1);
}

/* Runs the Lua function [name](n): one call, n loop iterations inside. */
static void script_loop(lua_State *L, const char *name, long n)
{
    global(L, name);
    lua_pushinteger(L, n);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        die(L);
}

static void native_calls(lua_State *L, long n) { script_loop(L, "call_host", n); }
static void identity_callbacks(lua_State *L, long n) { script_loop(L, "call_identity", n); }
static void compare_callbacks(lua_State *L, long n) { script_loop(L, "call_compare", n); }
static void empty_loop(lua_State *L, long n) { script_loop(L, "empty_loop", n); }

/* The best of REPEATS runs, as in calls_pvm.c. */
#define REPEATS 5

static double ns_per(void (*run)(lua_State *, long), lua_State *L, long n)
{
    run(L, n / 10 + 1); /* warm-up, as in calls_pvm.c */
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now();
        run(L, n);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return best * 1e9 / (double)n;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "time";
    long n = argc > 2 ? atol(argv[2]) : 2000000;
    if (n <= 0)
        n = 1;
    lua_State *L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);
    lua_register(L, "host_identity", host_identity);
    lua_register(L, "callbacks", callbacks);
    if (luaL_loadbuffer(L, script, strlen(script), "calls.lua") != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK)
        die(L);
    if (!strcmp(mode, "time")) {
        printf("host %.2f\n", ns_per(host_calls, L, n));
        printf("result %.2f\n", ns_per(result_calls, L, n));
        double native = ns_per(native_calls, L, n), empty = ns_per(empty_loop, L, n);
        printf("native %.2f\n", native - empty);
        printf("callback %.2f\n", ns_per(identity_callbacks, L, n));
        printf("compare %.2f\n", ns_per(compare_callbacks, L, n));
    } else if (!strcmp(mode, "host")) {
        host_calls(L, n);
    } else if (!strcmp(mode, "result")) {
        result_calls(L, n);
    } else if (!strcmp(mode, "native")) {
        native_calls(L, n);
    } else if (!strcmp(mode, "empty")) {
        empty_loop(L, n);
    } else if (!strcmp(mode, "callback")) {
        identity_callbacks(L, n);
    } else if (!strcmp(mode, "compare")) {
        compare_callbacks(L, n);
    } else {
        fprintf(stderr, "calls_lua: unknown mode '%s'\n", mode);
        return 2;
    }
    lua_close(L);
    return 0;
}
