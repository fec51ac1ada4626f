# Folders depend one way (docs/vm.md, "Layout"): no file includes a header
# from a layer above its own. Each folder lists the folders it may include.
set -u
allowed() {
    case "$1" in
    vm/bytecode) echo "vm/bytecode" ;;
    compiler)    echo "vm/bytecode compiler" ;;
    vm/runtime)  echo "vm/bytecode vm/runtime" ;;
    vm/interp)   echo "vm/bytecode vm/runtime vm/interp" ;;
    jit)         echo "vm/bytecode vm/runtime vm/interp jit" ;;
    stdlib)      echo "vm/bytecode vm/runtime vm/interp jit stdlib" ;;
    vm/api)      echo "vm/bytecode vm/runtime vm/interp jit stdlib compiler vm/api include" ;;
    vm/cli)      echo "vm/bytecode vm/runtime vm/interp jit stdlib compiler vm/api vm/cli include" ;;
    *)           echo "?" ;;
    esac
}
bad=0
for f in $(find vm compiler stdlib jit -name '*.[ch]' ! -path vm/config.h 2>/dev/null | sort); do
    dir=$(dirname "$f")
    ok=$(allowed "$dir")
    if [ "$ok" = "?" ]; then
        echo "layers: $f is in a folder with no layer rule ($dir)"; bad=1; continue
    fi
    for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
        [ "$inc" = pvm.h ] && inc=include/pvm.h
    [ "$inc" = vm/config.h ] && continue   # the configuration: below every layer
    # the interpreter sees the JIT through its one narrow header
    [ "$dir" = vm/interp ] && [ "$inc" = jit/jit.h ] && continue
        incdir=$(dirname "$inc")
        case " $ok " in
        *" $incdir "*) ;;
        *) echo "layers: $f includes $inc (allowed: $ok)"; bad=1 ;;
        esac
    done
done
exit $bad
