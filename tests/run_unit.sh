#!/usr/bin/env sh
# Runs every cmocka unit-test binary given as an argument and sums the
# results into one closing line.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
pass=0
fail=0
for t in "$@"; do
    out=$("$t" 2>&1)
    status=$?
    n=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    pass=$((pass + ${n:-0}))
    if [ "$status" -ne 0 ]; then
        printf '%s\n' "$out" | grep -E 'FAILED|ERROR|error|Assert' | head -n 20
        echo "FAIL: $t (status $status)"
        fail=$((fail + ${f:-1}))
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
