/* Snapshots (see snap.h): taking them while recording, with the frames of
 * inlined calls, and the interpreter's type tag for each IR type (which
 * exits box values with). */
#include <stdlib.h>
#include <string.h>

#include "jit/snap.h"

void pvmJ_snap_init(JitSnapList *s)
{
    memset(s, 0, sizeof *s);
}

void pvmJ_snap_free(JitSnapList *s)
{
    free(s->snaps);
    free(s->map);
    free(s->frames);
    memset(s, 0, sizeof *s);
}

static bool snap_reserve(JitSnapList *s, uint32_t entries)
{
    if (s->nsnaps >= JIT_MAX_SNAPS)
        return false;
    if (s->nsnaps == s->snaps_cap) {
        uint32_t cap = s->snaps_cap ? s->snaps_cap * 2u : 16u;
        JitSnap *p = realloc(s->snaps, cap * sizeof *p);
        if (!p)
            return false;
        s->snaps = p;
        s->snaps_cap = cap;
    }
    if (s->nmap + entries > s->map_cap) {
        uint32_t cap = s->map_cap ? s->map_cap : 64u;
        while (cap < s->nmap + entries)
            cap *= 2u;
        JitSnapEntry *p = realloc(s->map, cap * sizeof *p);
        if (!p)
            return false;
        s->map = p;
        s->map_cap = cap;
    }
    return true;
}

int pvmJ_snap_take(JitSnapList *s, uint32_t pc, JitRef ref, const JitRef *slots, uint16_t nslots)
{
    if (s->failed || !snap_reserve(s, nslots)) {
        s->failed = true;
        return -1;
    }
    JitSnap *snap = &s->snaps[s->nsnaps];
    *snap = (JitSnap){ .map_start = s->nmap, .nslots = nslots, .pc = pc, .ref = ref };
    for (uint16_t i = 0; i < nslots; i++) {
        if (slots[i] == JIT_REF_NONE)
            continue;
        s->map[s->nmap++] = (JitSnapEntry){ .slot = i, .ref = slots[i] };
        snap->nentries++;
    }
    return (int)s->nsnaps++;
}

int32_t pvmJ_snap_add_frames(JitSnapList *s, const JitSnapFrame *frames, uint16_t n)
{
    if (s->failed)
        return -1;
    if (s->nframes + n > s->frames_cap) {
        uint32_t cap = s->frames_cap ? s->frames_cap : 16u;
        while (cap < s->nframes + n)
            cap *= 2u;
        JitSnapFrame *p = realloc(s->frames, cap * sizeof *p);
        if (!p) {
            s->failed = true;
            return -1;
        }
        s->frames = p;
        s->frames_cap = cap;
    }
    memcpy(&s->frames[s->nframes], frames, n * sizeof *frames);
    s->nframes += n;
    return (int32_t)(s->nframes - n);
}

ValueType pvmJ_value_type(JitType type)
{
    switch (type) {
    case JIT_T_BOOL: return VT_BOOL;
    case JIT_T_INT: return VT_INT;
    case JIT_T_FLT: return VT_FLOAT;
    case JIT_T_STR: return VT_STRING;
    case JIT_T_ARR: return VT_ARRAY;
    case JIT_T_MAP: return VT_MAP;
    case JIT_T_FN: return VT_CLOSURE;
    case JIT_T_NATIVE: return VT_NATIVE;
    case JIT_T_PTR: return VT_POINTER;
    default: return VT_NIL;
    }
}
