#!/usr/bin/env bash
# Shrinks a program on which the JIT and the interpreter disagree.
#
#   tests/fuzz/reduce.sh FILE.pv [OUT.pv]      (OUT defaults to FILE.reduced.pv)
#
# A candidate is kept when it still compiles, `pvm -j off` finishes within
# the timeout, and some JIT mode of REDUCE_MODES (default "hot=1 on") differs
# from it in stdout, stderr or exit status. Delta debugging by lines, repeated
# until nothing more can go: first whole blocks (a line ending in `{` through
# its matching `}`), then runs of lines in halving sizes down to single lines.
# The smallest failing program is written to OUT, with the -j off and JIT
# outputs of it printed at the end.
# Environment: PVM (default build/rel/pvm), REDUCE_TIMEOUT (seconds, default 5).
set -u
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: tests/fuzz/reduce.sh FILE.pv [OUT.pv]" >&2
    exit 2
fi
SRC=$1
OUT=${2:-${SRC%.pv}.reduced.pv}
PVM=${PVM:-build/rel/pvm}
TIMEOUT=${REDUCE_TIMEOUT:-5}
read -r -a MODES <<< "${REDUCE_MODES:-hot=1 on}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CAND=$TMP/cand.pv
tests=0

# outputs FILE MODE TAG: runs FILE under -j MODE into $TMP/TAG.*
outputs() {
    timeout "$TIMEOUT" "$PVM" -j "$2" "$1" > "$TMP/$3.out" 2> "$TMP/$3.err" < /dev/null
    echo $? > "$TMP/$3.status"
}

# failing FILE: whether FILE compiles, terminates and still shows a difference
failing() {
    tests=$((tests + 1))
    outputs "$1" off off
    local st
    st=$(cat "$TMP/off.status")
    [ "$st" = 124 ] && return 1
    # A compile error is "FILE:LINE:COL: error: ..." and nothing runs.
    if [ "$st" = 1 ] && head -n 1 "$TMP/off.err" | grep -qE '^[^ ]+:[0-9]+:[0-9]+: error: '; then
        return 1
    fi
    local mode f
    for mode in "${MODES[@]}"; do
        outputs "$1" "$mode" jit
        for f in out err status; do
            cmp -s "$TMP/off.$f" "$TMP/jit.$f" || return 0
        done
    done
    return 1
}

mapfile -t lines < "$SRC"
if ! failing "$SRC"; then
    echo "reduce: $SRC shows no difference between -j off and ${MODES[*]}" >&2
    exit 1
fi

# try_without FROM TO: keeps lines FROM..TO (0-based, inclusive) deleted if
# the program still fails without them.
try_without() {
    local from=$1 to=$2
    printf '%s\n' "${lines[@]:0:from}" "${lines[@]:to+1}" > "$CAND"
    if failing "$CAND"; then
        lines=("${lines[@]:0:from}" "${lines[@]:to+1}")
        return 0
    fi
    return 1
}

# try_unwrap I J: keeps the body of the block from line I to line J but drops
# those two lines (an `if` or `fn` around code that matters).
try_unwrap() {
    local i=$1 j=$2
    [[ ${lines[j]} =~ ^[[:space:]]*\}[[:space:]]*$ ]] || return 1
    printf '%s\n' "${lines[@]:0:i}" "${lines[@]:i+1:j-i-1}" "${lines[@]:j+1}" > "$CAND"
    if failing "$CAND"; then
        lines=("${lines[@]:0:i}" "${lines[@]:i+1:j-i-1}" "${lines[@]:j+1}")
        return 0
    fi
    return 1
}

# block_end I: the index of the line closing the block that line I opens.
block_end() {
    local i=$1 depth=0 j s opens closes
    for ((j = i; j < ${#lines[@]}; j++)); do
        s=${lines[j]}
        opens=${s//[^\{]/}
        closes=${s//[^\}]/}
        depth=$((depth + ${#opens} - ${#closes}))
        if [ "$depth" -le 0 ]; then
            echo "$j"
            return
        fi
    done
    echo -1
}

block_pass() {
    local i=0 end
    while [ "$i" -lt "${#lines[@]}" ]; do
        if [[ ${lines[i]} == *"{" ]]; then
            end=$(block_end "$i")
            if [ "$end" -gt "$i" ] && { try_without "$i" "$end" || try_unwrap "$i" "$end"; }; then
                continue
            fi
        fi
        i=$((i + 1))
    done
}

chunk_pass() {
    local size=$(((${#lines[@]} + 1) / 2)) i
    while [ "$size" -ge 1 ]; do
        i=0
        while [ "$i" -lt "${#lines[@]}" ]; do
            try_without "$i" $((i + size - 1)) || i=$((i + size))
        done
        size=$((size / 2))
    done
}

while :; do
    before=${#lines[@]}
    block_pass
    chunk_pass
    [ "${#lines[@]}" -lt "$before" ] || break
done

printf '%s\n' "${lines[@]}" > "$OUT"
echo "reduce: $(wc -l < "$SRC") -> ${#lines[@]} lines after $tests runs; written to $OUT"
for mode in off "${MODES[@]}"; do
    outputs "$OUT" "$mode" show
    echo "--- pvm -j $mode: exit $(cat "$TMP/show.status")"
    head -c 2000 "$TMP/show.out"
    head -n 5 "$TMP/show.err"
done
