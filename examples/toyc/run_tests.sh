#!/usr/bin/env bash
# The tutorial compiler's tests (docs/backend-tutorial.md): each
# tests/NAME.toy is compiled by toyc.py to .pva, assembled and verified by
# pvmc, run by pvm in each JIT mode, and compared with NAME.out (and with
# NAME.err, whose lines must appear on stderr of a run that exits 1).
# tests/bug.toy is compiled with --bug and must be rejected by the verifier
# with the message the tutorial explains. Without python3 it skips.
set -u
cd "$(dirname "$0")"
PVM=${PVM:-../../build/rel/pvm}
PVMC=${PVMC:-../../build/rel/pvmc}
if ! command -v python3 > /dev/null 2>&1; then
    echo "toyc: python3 not found, skipping the tutorial compiler's tests"
    exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
bad() { echo "FAIL: toyc $1: $2"; fail=$((fail + 1)); }
for src in tests/*.toy; do
    name=$(basename "$src" .toy)
    [ "$name" = bug ] && continue
    if ! python3 toyc.py "$src" -o "$TMP/$name.pva" 2> "$TMP/err"; then
        bad "$name" "toyc failed: $(head -c 300 "$TMP/err")"; continue
    fi
    if ! "$PVMC" "$TMP/$name.pva" -o "$TMP/$name.pbc" 2> "$TMP/err"; then
        bad "$name" "pvmc rejected the output: $(head -c 300 "$TMP/err")"; continue
    fi
    want_status=0
    [ -f "tests/$name.err" ] && want_status=1
    ok=1
    for mode in off on hot=1; do
        "$PVM" -j "$mode" "$TMP/$name.pbc" > "$TMP/out" 2> "$TMP/err"
        status=$?
        if [ "$status" != "$want_status" ] || ! cmp -s "$TMP/out" "tests/$name.out"; then
            bad "$name" "-j $mode: status $status, output: $(diff "tests/$name.out" "$TMP/out" | head -5) $(head -c 200 "$TMP/err")"
            ok=0; break
        fi
        if [ -f "tests/$name.err" ]; then
            while IFS= read -r line; do
                grep -qF -- "$line" "$TMP/err" || { bad "$name" "stderr lacks '$line'"; ok=0; break 2; }
            done < "tests/$name.err"
        fi
    done
    [ "$ok" = 1 ] && pass=$((pass + 1))
done
# The deliberate bug: the verifier names the function, the offset and the rule.
python3 toyc.py --bug tests/bug.toy -o "$TMP/bug.pva" && "$PVMC" "$TMP/bug.pva" -o "$TMP/bug.pbc" 2> "$TMP/err"
status=$?
want="pvmc: invalid bytecode: <main> at offset 10: inconsistent stack depth at join (0 vs 1)"
if [ "$status" = 1 ] && grep -qxF "$want" "$TMP/err" && [ ! -e "$TMP/bug.pbc" ]; then
    pass=$((pass + 1))
else
    bad bug "status $status, stderr: $(cat "$TMP/err")"
fi
# A Toy syntax error is toyc's own, with the file and line.
printf 'let x = ;\n' > "$TMP/syntax.toy"
python3 toyc.py "$TMP/syntax.toy" > /dev/null 2> "$TMP/err"
status=$?
if [ "$status" = 1 ] && grep -qF "syntax.toy:1: expected an expression, found ';'" "$TMP/err"; then
    pass=$((pass + 1))
else
    bad syntax "status $status, stderr: $(cat "$TMP/err")"
fi
echo "toyc: $pass passed, $fail failed"
[ "$fail" = 0 ]
