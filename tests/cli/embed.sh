# The embedding examples build against an installed pvm exactly as a host
# would (`cc host.c $(pkg-config --cflags --libs pvm)`) and run.
#
# `make install` must not rebuild with other flags than the test run's, so
# it is given the same SANITIZE: under `make test SANITIZE=1` the sanitizer
# build is installed, its pvm.pc adds -fsanitize to Libs, and the examples
# run under ASan and UBSan too.
set -u
fail() { echo "embed: $*"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX_DIR="$TMPDIR/x"
SAN=${SANITIZE:-0}

env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$ROOT" install PREFIX="$PREFIX_DIR" SANITIZE="$SAN" \
    > "$TMPDIR/install.log" 2>&1 || fail "make install: $(tail -n 5 "$TMPDIR/install.log")"
[ -f "$PREFIX_DIR/include/pvm.h" ] || fail "pvm.h not installed"
[ -f "$PREFIX_DIR/lib/libpvm.a" ] || fail "libpvm.a not installed"
export PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig"
flags=$(pkg-config --cflags --libs pvm) || fail "pkg-config pvm"
[ "$(pkg-config --modversion pvm)" = 0.1.0 ] || fail "pvm.pc version: $(pkg-config --modversion pvm)"

cd "$TMPDIR" || fail "cd"
for host in minimal game calls; do
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Wno-unused-parameter -Werror "$ROOT/examples/embed/$host.c" $flags -o "$host" \
        > "$host.log" 2>&1 || fail "$host does not build: $(head -n 10 "$host.log")"
done

out=$(./minimal 2>&1) || fail "minimal: $out"
[ "$out" = "$(printf '1 + 2 = 3.0\nhello, C')" ] || fail "minimal printed: $out"

./game "$ROOT/examples/embed/game.pv" > game.out 2> game.err || fail "game: $(cat game.err)"
grep -qxF '[script] event glitch at frame 6000' game.out || fail "game: no glitch event: $(cat game.out)"
grep -qxF 'frame 6000: script stopped: instruction budget exceeded' game.out || fail "game: budget: $(cat game.out)"
grep -qxF '[script] event fixed at frame 6003' game.out || fail "game: no fixed event"
grep -qE '^frames: 10000, stopped: 3, score: [1-9][0-9]*, jumps: [1-9][0-9]*, sounds: [1-9][0-9]*$' game.out ||
    fail "game summary: $(cat game.out)"
[ ! -s game.err ] || fail "game wrote to stderr: $(cat game.err)"

out=$(./calls 20000) || fail "calls: $out"
echo "$out" | grep -q 'host -> PV (no result) .* calls/s' || fail "calls printed: $out"
echo "$out" | grep -q 'PV -> host (loop subtracted) .* calls/s' || fail "calls printed: $out"
exit 0
