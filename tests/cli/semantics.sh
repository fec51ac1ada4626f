# The instruction tables of docs/bytecode.md cannot drift from the VM:
#  1. the encoding table lists every opcode of vm/bytecode/opcodes.h, in
#     order, with its byte, operand kind and stack effect;
#  2. every row of the semantics table is run, and what it leaves (or the
#     error it raises) must be what the row says;
#  3. every opcode has at least one semantics row.
# A row is `| op | code | result |`: the code cell's `...` items are .pva
# lines, run inside the harness function below (try-wrapped, with the helper
# functions and module the doc's "Semantics" section describes); the result
# is "TYPE VALUE" of the value on top of the stack afterwards (the value in
# its display form, as print shows it inside an array), "nil", or
# "error: MESSAGE" for what the code throws.
set -u
DOC=${DOC:-docs/bytecode.md}
OPS=${OPS:-vm/bytecode/opcodes.h}
W=$(mktemp -d "${TMPDIR:-/tmp}/sem.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail=0
err() { echo "semantics: $*"; fail=1; }

# ---- 1. the encoding table against the opcode table
# opcodes.h rows: X(NAME, "mnem", OPND_KIND, pops, popsarg, pushes, FLOW_X, bdelta)
awk '/^#define OPCODES\(X\)/ { on = 1 } on && /X\(/ {
        line = $0; sub(/.*X\(/, "", line); sub(/\).*/, "", line)
        gsub(/[ "]/, "", line); split(line, f, ",")
        kind = tolower(f[3]); sub(/opnd_/, "", kind); if (kind == "none") kind = "—"
        pops = f[4]; if (f[5] == 1) pops = (f[4] > 0 ? f[4] " + N" : "N"); if (f[5] == 2) pops = "2N"
        flow = tolower(f[7]); sub(/flow_/, "", flow)
        delta = ""; if (flow == "jump" || flow == "branch") delta = (f[8] > 0 ? "+" f[8] : f[8])
        printf "| 0x%02x | %s | %s | %d | %s | %s | %s | %s |\n", n++, f[2], kind, kind == "—" ? 1 : 5, pops, f[6], flow, delta
     }
     on && !/\\$/ { on = 0 }' "$OPS" > "$W/want_enc"
[ -s "$W/want_enc" ] || err "no opcodes read from $OPS"
grep -E '^\| 0x[0-9a-f]{2} \|' "$DOC" | sed 's/ *|$/ |/; s/|  *|/| |/g' > "$W/got_enc"
sed 's/|  *|/| |/g' "$W/want_enc" > "$W/want_enc2"
if ! diff "$W/want_enc2" "$W/got_enc" > "$W/enc_diff"; then
    err "the encoding table of $DOC differs from $OPS (< opcodes.h, > doc):"
    head -n 20 "$W/enc_diff"
fi

# ---- 2. the semantics rows
# One line per row: op <TAB> code lines joined by \037 <TAB> expected.
awk -F'\t' '
    /<!-- semantics:begin -->/ { on = 1; next }
    /<!-- semantics:end -->/ { on = 0 }
    !on || !/^\| `/ { next }
    {
        line = $0; gsub(/\\\|/, "\001", line)
        n = split(line, c, "|")
        if (n < 5) { print "BAD\t\t" $0; next }
        op = c[2]; gsub(/[ `]/, "", op)
        code = ""; cell = c[3]
        while (match(cell, /`[^`]*`/)) {
            item = substr(cell, RSTART + 1, RLENGTH - 2); cell = substr(cell, RSTART + RLENGTH)
            code = code (code == "" ? "" : "\037") item
        }
        res = c[4]; sub(/^ *`/, "", res); sub(/` *$/, "", res)
        gsub(/\001/, "|", code); gsub(/\001/, "|", res)
        print op "\t" code "\t" res
    }' "$DOC" > "$W/rows"
nrows=$(wc -l < "$W/rows")
[ "$nrows" -gt 0 ] || err "no semantics rows in $DOC"

harness() { # CODE-LINES-FILE
    cat <<'EOF'
.module main "sem.pva"
.global g
.func top "top" locals=4
    try harness_catch
EOF
    sed 's/^/    /' "$1"
    cat <<'EOF'
    setlocal 0
    getname print
    getname type
    getlocal 0
    call 1
    getlocal 0
    array 1
    call 2
    pop
    endtry
    nil
    ret
harness_catch:
    setlocal 0
    getname print
    const "error:"
    getlocal 0
    call 2
    pop
    nil
    ret
.end
.func f1 "f1" params=1              ; f1(a) returns a
    getlocal 0
    ret
.end
.func f2 "f2" params=2              ; f2(a, b) returns a - b
    getlocal 0
    getlocal 1
    sub
    ret
.end
.func fv "fv" params=1 variadic     ; fv(a, ...rest) returns rest
    getlocal 1
    ret
.end
.func fthrow "fthrow"               ; fthrow() throws "boom"
    const "boom"
    throw
.end
.func fup "fup"                     ; returns upvalue 0 (local 1 of its creator)
    .upval local 1
    getupval 0
    ret
.end
.func fset "fset" params=1          ; sets upvalue 0 (local 1 of its creator)
    .upval local 1
    getlocal 0
    setupval 0
    nil
    ret
.end
.module lib "lib.pva"
.global x
.global _hidden
.func libmain "<lib>"
    int 7
    setglobal x
    int 8
    setglobal _hidden
    nil
    ret
.end
EOF
}

i=0
while IFS=$'\t' read -r op code want; do
    i=$((i + 1))
    if [ "$op" = BAD ]; then err "row $i is malformed: $want"; continue; fi
    printf '%s\n' "$code" | tr '\037' '\n' > "$W/code"
    harness "$W/code" > "$W/r.pva"
    if ! "$PVMC" "$W/r.pva" -o "$W/r.pbc" > "$W/out" 2>&1; then
        err "row $i ($op: $(tr '\n' ' ' < "$W/code")) does not assemble: $(head -c 300 "$W/out")"
        continue
    fi
    got=$("$PVM" "$W/r.pbc" 2>&1 | sed -E 's/^nil \[nil\]$/nil/; s/^([a-z]+) \[(.*)\]$/\1 \2/')
    if [ "$got" != "$want" ]; then
        err "row $i ($op: $(tr '\n' ' ' < "$W/code")): got '$got', the doc says '$want'"
    fi
    echo "$op" >> "$W/covered"
done < "$W/rows"

# ---- 3. every opcode has a row
sed -n 's/^| 0x[0-9a-f]* | \([a-z0-9]*\) |.*/\1/p' "$W/want_enc" | while read -r m; do
    grep -qx "$m" "$W/covered" 2>/dev/null || echo "$m"
done > "$W/missing"
[ -s "$W/missing" ] && err "opcodes without a semantics row: $(tr '\n' ' ' < "$W/missing")"
cut -f1 "$W/rows" | sort -u | while read -r m; do
    grep -q "^| 0x[0-9a-f]* | $m |" "$W/want_enc" || echo "$m"
done > "$W/unknown"
[ -s "$W/unknown" ] && err "semantics rows for unknown opcodes: $(tr '\n' ' ' < "$W/unknown")"

[ "$fail" = 0 ] && echo "semantics: $nrows rows checked"
exit "$fail"
