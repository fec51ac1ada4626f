# libpvm.a exports only the public pvm_ names and the reserved internal
# prefixes pvmB_ (bytecode), pvmV_ (runtime and interpreter), pvmJ_ (JIT),
# pvmL_ (stdlib), pvmF_ (FFI), pvmC_ (compiler) and pvmA_ (embedding layer),
# so a host that links it never meets a clash with a name of its own.
set -u
LIB="$(dirname "${PVM:-build/rel/pvm}")/libpvm.a"
[ -f "$LIB" ] || { echo "symbols: no $LIB"; exit 1; }
syms=$(nm -g --defined-only "$LIB" | awk 'NF == 3 { print $3 }' | sort -u)
[ -n "$syms" ] || { echo "symbols: nm listed nothing"; exit 1; }
echo "$syms" | grep -q '^pvm_new$' || { echo "symbols: pvm_new missing"; exit 1; }
# sanitizer builds add their own (asan.module_ctor and the like)
stray=$(echo "$syms" | grep -Ev '^pvm(_|[BVJLFCA]_)' | grep -Ev '^(__asan|__odr_asan|__ubsan|__sanitizer|asan\.|ubsan\.)' || true)
if [ -n "$stray" ]; then
    echo "symbols: names outside the pvm prefixes:"; echo "$stray" | head -20; exit 1
fi
