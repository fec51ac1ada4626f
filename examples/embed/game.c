/* game.c: a game-style pvm host.
 *
 * The host owns the main loop and calls the script's update(dt) 10 000
 * times. The script is untrusted: it runs with the standard library's
 * files, process and ffi functions turned off, a memory limit, and an
 * instruction budget per call. Midway the host sends an event that makes
 * the script hang; the budget stops that frame, the host logs it and
 * carries on, and later frames run normally.
 *
 *   cc game.c $(pkg-config --cflags --libs pvm) -o game && ./game game.pv */
#include <pvm.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FRAMES 10000
#define GLITCH_FRAME 6000
#define FIXED_FRAME 6003

typedef struct {
    long frame;
    long sounds;
    long stopped_frames;
} Game;

/* ---- the host module the script sees as `host` ---- */

static pvm_value host_key(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    Game *g = ud;
    const char *key;
    if (argc != 1 || pvm_get_string(vm, args[0], &key, NULL))
        return pvm_raise(vm, "host.key expects a key name");
    /* A scripted player: space is down for a frame every 45 frames. */
    return pvm_bool(vm, strcmp(key, "space") == 0 && g->frame % 45 == 0);
}

static pvm_value host_sound(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    Game *g = ud;
    g->sounds++;
    return PVM_NIL;
}

static pvm_value host_frame(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    Game *g = ud;
    return pvm_int(vm, g->frame);
}

static const pvm_function_entry host_module[] = {
    { "key", host_key },
    { "sound", host_sound },
    { "frame", host_frame },
    { NULL, NULL },
};

/* The script's print, prefixed. */
static void script_output(void *ud, const char *data, size_t len)
{
    printf("[script] %.*s", (int)len, data);
}

/* ---- the loop ---- */

static void send_event(pvm_vm *vm, pvm_value on_event, const char *name)
{
    pvm_value arg = pvm_cstring(vm, name);
    if (pvm_call(vm, on_event, 1, &arg, NULL))
        fprintf(stderr, "on_event: %s\n", pvm_error_message(vm));
    pvm_release(vm, arg);
}

static int64_t global_int(pvm_vm *vm, const char *name)
{
    pvm_value v;
    int64_t i = -1;
    if (pvm_get_global(vm, name, &v) == PVM_OK)
        pvm_get_int(vm, v, &i);
    pvm_release(vm, v);
    return i;
}

/* player.jumps: a field of a map the script keeps. */
static int64_t player_jumps(pvm_vm *vm)
{
    pvm_value player, jumps;
    int64_t n = -1;
    if (pvm_get_global(vm, "player", &player) == PVM_OK &&
        pvm_map_get_field(vm, player, "jumps", &jumps) == PVM_OK) {
        pvm_get_int(vm, jumps, &n);
        pvm_release(vm, jumps);
    }
    pvm_release(vm, player);
    return n;
}

static int run_game(pvm_vm *vm, Game *g)
{
    pvm_value update, on_event;
    if (pvm_get_global(vm, "update", &update) || pvm_get_global(vm, "on_event", &on_event)) {
        fprintf(stderr, "game.pv must define update and on_event\n");
        return 1;
    }
    pvm_value dt = pvm_float(vm, 1.0 / 60.0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (g->frame = 1; g->frame <= FRAMES; g->frame++) {
        if (g->frame == GLITCH_FRAME)
            send_event(vm, on_event, "glitch");
        if (g->frame == FIXED_FRAME)
            send_event(vm, on_event, "fixed");
        pvm_status st = pvm_call(vm, update, 1, &dt, NULL);
        if (st == PVM_EBUDGET || st == PVM_EINTERRUPT || st == PVM_EMEMORY) {
            g->stopped_frames++;
            printf("frame %ld: script stopped: %s\n", g->frame, pvm_error_message(vm));
        } else if (st != PVM_OK) {
            fprintf(stderr, "frame %ld: %s\n%s", g->frame, pvm_error_message(vm), pvm_error_trace(vm));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("frames: %d, stopped: %ld, score: %lld, jumps: %lld, sounds: %ld\n", FRAMES, g->stopped_frames,
           (long long)global_int(vm, "score"), (long long)player_jumps(vm), g->sounds);
    printf("time: %.1f ms, %.2f us per update\n", secs * 1e3, secs * 1e6 / FRAMES);
    pvm_release(vm, dt);
    pvm_release(vm, update);
    pvm_release(vm, on_event);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "game.pv";
    Game game = { 0 };
    pvm_options opt = {
        .deny = PVM_SANDBOX,
        .write = script_output,
    };
    pvm_vm *vm = pvm_new(&opt);
    if (!vm) {
        fprintf(stderr, "cannot create a VM\n");
        return 1;
    }
    pvm_set_memory_limit(vm, (size_t)64 << 20);
    pvm_set_instruction_limit(vm, 100000);
    pvm_register_module(vm, "host", host_module, &game);
    if (pvm_load_file(vm, path) || pvm_run(vm)) {
        fprintf(stderr, "%s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
        pvm_free(vm);
        return 1;
    }
    int status = run_game(vm, &game);
    pvm_free(vm);
    return status;
}
