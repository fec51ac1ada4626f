# The REPL driven through a pipe (`pvm -i`: no prompts, same evaluation as
# on a terminal): declarations persist, expressions print their value,
# multi-line input, recovery from compile and runtime errors, end of input.
set -u
fail() { echo "$*"; exit 1; }
T=$TMPDIR/repl
mkdir -p "$T"

# repl NAME: feeds $T/NAME.in to `pvm -i`; stdout in NAME.out, stderr in NAME.err
repl() {
    "$PVM" -i < "$T/$1.in" > "$T/$1.out" 2> "$T/$1.err"
    echo $? > "$T/$1.status"
}
# same NAME: stdout must be exactly the lines that follow (on stdin)
same() {
    if ! diff <(cat) "$T/$1.out" > "$T/$1.diff"; then
        fail "$1: stdout differs (< expected, > got): $(head -n 10 "$T/$1.diff"); stderr: $(head -c 300 "$T/$1.err")"
    fi
}
status_is() { [ "$(cat "$T/$1.status")" = "$2" ] || fail "$1: exit status $(cat "$T/$1.status"), expected $2"; }
err_has() { grep -qF -- "$2" "$T/$1.err" || fail "$1: stderr lacks '$2'; got: $(head -c 400 "$T/$1.err")"; }
err_empty() { [ ! -s "$T/$1.err" ] || fail "$1: unexpected stderr: $(head -c 400 "$T/$1.err")"; }

# Declarations persist; globals are shared with functions of earlier inputs.
cat > "$T/decl.in" <<'EOF'
let x = 1;
x + 1
fn add(a, b) { return a + b; }
add(x, 41)
fn getx() { return x; }
x = 7;
getx()
fn bump() { x += 1; }
bump();
x
let x = 100;
getx()
let n
n
EOF
repl decl
status_is decl 0
err_empty decl
same decl <<'EOF'
2
42
7
8
100
EOF

# Closures made in one input keep their state in later ones.
cat > "$T/closure.in" <<'EOF'
fn counter() { let n = 0; return fn () { n += 1; return n; }; }
let c = counter();
c()
c();
let d = counter();
d()
c()
EOF
repl closure
status_is closure 0
err_empty closure
same closure <<'EOF'
1
2
1
3
EOF

# Expression values print in the form used inside containers; nil prints
# nothing; a call that returns nil prints only its own output.
cat > "$T/show.in" <<'EOF'
"a"
[1, "b"]
{"k": [true, nil]}
nil
print("plain")
1.5 * 2
"tab\there"
fn (a) { return a; }
(1 + 2) * 3
EOF
repl show
status_is show 0
err_empty show
same show <<'EOF'
"a"
[1, "b"]
{"k": [true, nil]}
plain
3.0
"tab\there"
<fn>
9
EOF

# Multi-line input: an input ends when its brackets balance, not counting
# those in strings or comments; a block comment continues the input.
cat > "$T/multi.in" <<'EOF'
fn fact(n) {
    if (n <= 1) {
        return 1;
    }
    return n * fact(n - 1);
}
fact(10)
let s = "{[(";
s
[1,
 2,
 3]
/* a comment
   over two lines ( */ len(s)
let m = {
    "a": 1, // a { in a comment
    "b": "}"
};
m["b"]
EOF
repl multi
status_is multi 0
err_empty multi
same multi <<'EOF'
3628800
"{[("
[1, 2, 3]
3
"}"
EOF

# Errors do not end the session: compile errors as FILE:LINE:COL (columns
# of what was typed), runtime errors with their trace, then the next input.
cat > "$T/errors.in" <<'EOF'
let y = ;
1 + nope
y
)
let q = 1; let q = 2;
q
1 / 0
throw "boom";
fn bad() {
    return [1][5];
}
bad()
let ok = "still running";
ok
EOF
repl errors
status_is errors 0
err_has errors "<stdin>:1:9: error: expected expression, found ';'"
err_has errors "<stdin>:1:5: error: undefined variable 'nope'"
err_has errors "<stdin>:1:1: error: undefined variable 'y'"
err_has errors "<stdin>:1:1: error: expected expression, found ')'"
err_has errors "<stdin>:1:16: error: 'q' is already declared in this block"
err_has errors "error: division by zero"
err_has errors "error: boom"
err_has errors "  at bad (<stdin>:2)"
same errors <<'EOF'
"still running"
EOF

# A missing final ';' is forgiven; a statement error is reported as typed.
printf 'let a = 5\na\nlet b = 1 let c = 2\n' > "$T/semi.in"
repl semi
status_is semi 0
err_has semi "<stdin>:1:11: error: expected ';'"
same semi <<'EOF'
5
EOF

# End of input inside an unfinished input: its error, then exit status 0.
printf 'fn f() {\n    return 1;\n' > "$T/eof.in"
repl eof
status_is eof 0
err_has eof "error: expected '}', found end of file"
[ ! -s "$T/eof.out" ] || fail "eof: unexpected stdout: $(cat "$T/eof.out")"

# Empty input, and only blank lines: nothing printed, status 0.
: > "$T/empty.in"
repl empty
status_is empty 0
err_empty empty
printf '\n   \n\t\n' > "$T/blank.in"
repl blank
status_is blank 0
err_empty blank
[ ! -s "$T/blank.out" ] || fail "blank: unexpected stdout"

# Imports work from the REPL (a module next to the current directory).
mkdir -p "$T/mods"
printf 'fn twice(v) { return v * 2; }\n' > "$T/mods/util.pv"
printf 'import util;\nutil.twice(21)\nimport math;\nmath.floor(2.5)\n' > "$T/import.in"
(cd "$T/mods" && "$PVM" -i < "$T/import.in" > "$T/import.out" 2> "$T/import.err")
err_empty import
same import <<'EOF'
42
2
EOF

# Without -i, a pipe is a program, not a REPL: no value printing.
out=$(printf 'print(1);\n1 + 1;\n' | "$PVM" 2>&1); s=$?
[ "$s" = 1 ] || fail "stdin program: status $s (the non-call expression statement must be a compile error)"
out=$(echo 'print(1);' | "$PVM" 2>&1); s=$?
[ "$s" = 0 ] && [ "$out" = 1 ] || fail "stdin program: status $s, output '$out'"

# -i takes no FILE or -e.
"$PVM" -i -e 'print(1);' > /dev/null 2> "$T/usage.err"; s=$?
[ "$s" = 2 ] || fail "-i with -e: status $s"
grep -q "cannot be combined" "$T/usage.err" || fail "-i with -e: message"
"$PVM" --help | grep -q -- '-i ' || fail "--help does not mention -i"
exit 0
