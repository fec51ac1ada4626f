# The REPL on a real terminal: `pvm` with no arguments under script(1),
# which gives it a pseudo-terminal. Proves the libedit path: prompts, line
# editing (arrow keys, Ctrl-A), history (up arrow, ~/.pvm_history across
# sessions), Ctrl-C at the prompt and while code runs, Ctrl-D to quit.
# script(1) is in bsdutils, which every Debian system has.
set -u
fail() { echo "$*"; exit 1; }
command -v script > /dev/null || { echo "skipped: no script(1)"; exit 0; }
T=$TMPDIR/repl_tty
mkdir -p "$T/home"
# A fresh HOME: no ~/.editrc (so Emacs key bindings) and a new history file.
export HOME=$T/home TERM=dumb
LEFT=$'\e[D' UP=$'\e[A' CTRL_A=$'\x01' CTRL_C=$'\x03' CTRL_D=$'\x04'

buf=""
pty_pid=""
# A failed check must not leave pvm waiting on its terminal forever.
trap '[ -z "$pty_pid" ] || kill "$pty_pid" 2> /dev/null' EXIT
# start: runs pvm on a new pseudo-terminal; $tty is that terminal (script
# keeps it open too).
start() {
    buf=""
    tty=""
    # script(1) runs the command with $SHELL -c; "exec" keeps a shell that
    # does not exec by itself (dash) out of pvm's process group, where a
    # Ctrl-C would kill it and script would report its death.
    coproc PTY { exec script -qefc "exec '$PVM'" /dev/null 2>&1; }
    pty_pid=$PTY_PID
    # bash unsets PTY when the coprocess exits: keep our own copies of its
    # descriptors so that reading the last output after exit still works.
    exec {pty_out}<&"${PTY[0]}" {pty_in}>&"${PTY[1]}"
    local deadline=$((SECONDS + 30)) fd
    while [ -z "$tty" ]; do
        ((SECONDS < deadline)) || fail "script(1) opened no pseudo-terminal"
        for fd in /proc/"$pty_pid"/fd/*; do
            case $(readlink "$fd") in /dev/pts/*) tty=$(readlink "$fd") ;; esac
        done
        [ -n "$tty" ] || sleep 0.01
    done
}
# ready: waits until libedit has put the terminal in raw mode, i.e. is
# reading keys. libedit prints the prompt before that, and keys that come
# in between are read by the terminal's line discipline (Ctrl-D would be
# taken as end of file there).
ready() {
    local deadline=$((SECONDS + 30))
    until stty -F "$tty" -a 2> /dev/null | grep -q -- '-icanon'; do
        ((SECONDS < deadline)) || fail "the terminal never left line mode; output: $(printf %q "$buf")"
        sleep 0.01
    done
}
# try_for TEXT SECONDS: reads the terminal's output until it holds TEXT,
# then drops what was read up to it. Status 1 when the time runs out, 2
# at the end of the output.
try_for() {
    local deadline=$((SECONDS + $2)) c
    while [[ "$buf" != *"$1"* ]]; do
        ((SECONDS < deadline)) || return 1
        if IFS= read -r -d '' -n 1 -t 1 c <&"$pty_out"; then
            buf+=$c
        elif (($? <= 128)); then
            return 2
        fi
    done
    buf=${buf#*"$1"}
}
wait_for() { try_for "$1" 30 || fail "no '$(printf %q "$1")' from the REPL; it wrote: $(printf %q "$buf")"; }
# keys TEXT: sends keys.
keys() { printf '%s' "$1" >&"$pty_in"; }
# enter LINE OUTPUT: at the prompt, types LINE and Enter, then waits for
# OUTPUT (if any) and for the next prompt.
enter() {
    ready
    keys "$1"$'\r'
    [ -z "$2" ] || wait_for "$2"$'\r\n'
    wait_for "> "
}
finish() {
    ready
    keys "$CTRL_D"
    try_for "(not printed)" 30
    [ $? = 2 ] || fail "pvm did not exit after Ctrl-D; output: $(printf %q "$buf")"
    wait "$pty_pid"
    local s=$?
    pty_pid=""
    exec {pty_out}<&- {pty_in}>&-
    [ "$s" = 0 ] || fail "Ctrl-D: exit status $s; output: $(printf %q "$buf")"
}

start
wait_for "PV REPL"
wait_for "> "
enter 'let x = 40;' ''
enter 'x + 2' '42'
# Line editing: two steps left, insert a digit: print(132).
enter "print(12)$LEFT${LEFT}3" '132'
# Ctrl-A goes to the start of the line: "41 + 1".
enter "+ 1${CTRL_A}41 " '42'
# Tab inserts a tab (not file-name completion).
enter $'1 +\t2' '3'
# History: the up arrow brings back the last line.
enter 'x + 3' '43'
enter "$UP" '43'
# Multi-line input with the continuation prompt.
ready
keys $'fn f(a) {\r'
wait_for "... "
enter '  return a * 2; }' ''
enter 'f(21)' '42'
# Ctrl-C at the prompt discards the line being typed. It is sent once
# the line is echoed: sent with the keys, it could come before libedit
# waits for input, and the test would wait for a prompt that a person at
# a terminal (whose keys come one by one) never misses.
ready
keys 'garbage'
wait_for 'garbage'
keys "$CTRL_C"
wait_for $'\r\n> '
enter 'x' '40'
# Ctrl-C while code runs stops it; the session goes on.
ready
keys $'print("looping"); while (true) {}\r'
wait_for $'looping\r\n'
keys "$CTRL_C"
wait_for "error: interrupted"
wait_for "> "
enter 'len("still here")' '10'
finish

grep -q 'still' "$HOME/.pvm_history" || fail "history was not saved in \$HOME/.pvm_history"

# A new session starts with the saved history: up arrow, Enter.
start
wait_for "> "
enter "$UP" '10'
finish
exit 0
