# Superinstructions (vm/interp/super.h) must not change behaviour: every program
# under tests/programs prints the same and exits the same with fusion (the
# default) and without it (--trace loads code unfused).
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
    "$PVM" --trace "$src" "${args[@]}" < "$input" > "$TMPDIR/plain" 2> /dev/null
    b=$?
    if [ "$a" != "$b" ] || ! cmp -s "$TMPDIR/fused" "$TMPDIR/plain"; then
        echo "differs with and without fusion: $src (status $a vs $b)"
        fail=1
    fi
done
exit $fail
