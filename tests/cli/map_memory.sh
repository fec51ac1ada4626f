# A growing map frees the entries and index each rebuild replaces, and
# returns the pages of large ones (vm/runtime/map.c, docs/vm.md "Maps"):
# 200 000 scattered int keys, 8 MB of entries and index at the end, peak
# at about 16 MB of RSS (24 MB while the old generations piled up until a
# collection). Peak RSS from GNU time, if present.
set -u
fail() { echo "$*"; exit 1; }
[ -x /usr/bin/time ] || exit 0
[ "${SANITIZE:-0}" = 0 ] || exit 0   # the sanitizers own memory of their own
cat > "$TMPDIR/keys.pv" <<'PV'
let m = {};
for i in 0..200_000 { m[i * 2654435761 % 4294967296] = i; }
let sum = 0;
for i in 0..200_000 { sum += m[i * 2654435761 % 4294967296]; }
print(len(m), sum);
PV
for mode in off on; do
    out=$(/usr/bin/time -f '%M' -o "$TMPDIR/rss" "$PVM" -j $mode "$TMPDIR/keys.pv") || fail "keys -j $mode: status $?"
    [ "$out" = "200000 19999900000" ] || fail "keys -j $mode: output '$out'"
    rss=$(tail -n 1 "$TMPDIR/rss")
    [ "$rss" -lt 20000 ] || fail "keys -j $mode: peak RSS $rss KB for a 200 000-key map"
done
exit 0
