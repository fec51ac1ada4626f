# Superinstructions (vm/interp/super.h) must not change behaviour: every program
# under tests/programs prints the same and exits the same with fusion (the
# default) and without it (--no-fuse). --trace must print the same lines
# either way: fused slots trace as the original instructions.
set -u
fail=0
for src in tests/programs/*.pv; do
    base=${src%.pv}
    args=()
    [ -f "$base.args" ] && read -r -a args < "$base.args"
    input=/dev/null
    [ -f "$base.in" ] && input="$base.in"
    "$PVM" "$src" "${args[@]}" < "$input" > "$TMPDIR/fused" 2> "$TMPDIR/fused.err"
    a=$?
    "$PVM" --no-fuse "$src" "${args[@]}" < "$input" > "$TMPDIR/plain" 2> /dev/null
    b=$?
    if [ "$a" != "$b" ] || ! cmp -s "$TMPDIR/fused" "$TMPDIR/plain"; then
        echo "differs with and without fusion: $src (status $a vs $b)"
        fail=1
    fi
done
for src in tests/programs/arith_int.pv tests/programs/arith_float.pv tests/programs/compare.pv tests/programs/audit_fused_edges.pv tests/programs/closures.pv; do
    [ -f "$src" ] || continue
    "$PVM" --trace "$src" < /dev/null > /dev/null 2> "$TMPDIR/trace.fused"
    "$PVM" --trace --no-fuse "$src" < /dev/null > /dev/null 2> "$TMPDIR/trace.plain"
    if ! cmp -s "$TMPDIR/trace.fused" "$TMPDIR/trace.plain"; then
        echo "--trace differs with and without fusion: $src"
        fail=1
    fi
done
exit $fail
