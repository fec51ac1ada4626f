# pvm build. `make` builds pvm, pvmc and libpvm.a; `make test` runs every
# test; `make test SANITIZE=1` does the same under ASan + UBSan.
# Sources are found by folder: a new .c file in one of LIB_DIRS is built into
# libpvm.a without touching this file. The folders are listed in pipeline
# order; vm/cli is the pvm program, compiler/pvmc_main.c the pvmc program.

CC      ?= cc
PREFIX  ?= /usr/local
SANITIZE ?= 0
PKGS    := libffi-dev libgc-dev libcmocka-dev pkg-config libedit-dev libcapstone-dev
# Needed only by tests that skip without them (the tutorial compiler,
# examples/toyc, is Python; examples/ffi loads libz.so.1 and
# libsqlite3.so.0, which the -dev packages bring with their headers;
# tests/cli/startup_memory.sh and array_memory.sh read peak RSS with GNU
# time):
# installed with PKGS as root, never required.
TEST_PKGS := python3 zlib1g-dev libsqlite3-dev time

CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Iinclude -I. -DGC_THREADS
ifeq ($(SANITIZE),1)
BUILD   := build/san
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else
BUILD   := build/rel
endif
CFLAGS  ?=
CFLAGS  += $(CFLAGS_BASE) -MMD -MP
LIBS    := -lgc -lffi -ldl -lm -lpthread
# pvm and pvmc carry the collector and libffi inside (faster start-up: fewer
# shared objects to map); the REPL loads libedit itself when it starts.
PROG_LIBS := -Wl,-Bstatic -lgc -lffi -Wl,-Bdynamic -ldl -lm -lpthread
# pvm's -j dump disassembles machine code with capstone where its header is
# installed (deps installs it; asked when the recipe runs, so after that),
# loading the library only when it dumps; libpvm.a never needs it.
HAVE_CAPSTONE = test -f /usr/include/capstone/capstone.h

LIB_DIRS := vm/bytecode vm/runtime vm/interp jit stdlib compiler vm/api
LIB_SRC  := $(filter-out compiler/pvmc_main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# vm/cli is the pvm command and its REPL (which needs libedit): pvm only.
PVM_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard vm/cli/*.c))
LIB      := $(BUILD)/libpvm.a
PVM      := $(BUILD)/pvm
PVMC     := $(BUILD)/pvmc
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS_OK  := build/.deps-ok

.PHONY: all deps test unit e2e e2e-switch fuzz fuzz-test tutorial clean install bench bench-quick bench-callgrind bench-calls bench-ffi bench-threads
all: $(PVM) $(PVMC) $(LIB)
ifeq ($(SANITIZE),0)
	@ln -sf $(PVM) pvm && ln -sf $(PVMC) pvmc && ln -sf $(LIB) libpvm.a
endif

# Installs missing Debian packages when run as root; otherwise names them
# (a missing TEST_PKGS package is only named: its tests skip). Checked
# again when this file changes, so a package added to the lists is
# installed in existing build trees too.
deps: $(DEPS_OK)
$(DEPS_OK): Makefile
	@missing=""; optional=""; \
	if command -v dpkg >/dev/null 2>&1; then \
	  for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || optional="$$optional $$p"; done; \
	fi; \
	if [ -n "$$optional" ]; then \
	  if [ "$$(id -u)" = 0 ]; then missing="$$missing$$optional"; \
	  else echo "note: without$$optional some tests are skipped (sudo apt-get install -y$$optional)" >&2; fi; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "pvm needs these packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi; \
	mkdir -p build && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# pvm's machine code is laid out in the order a run needs it: the
# interpreter, runtime and stdlib, then the collector, then the JIT, then
# what most runs never execute (the PV compiler, the ffi, the REPL). The
# kernel maps a file's pages 64 KB at a time around each page a program
# touches, so code that is never run only stays out of RSS when it sits
# together: listed in this order, hello.pbc keeps one to two 64 KB windows
# of text out of RSS at -j off (docs/performance.md, "Start-up memory").
# The objects named are the ones the link pulls from libpvm.a anyway;
# anything else still comes from the archive, after them.
# Every run calls a function in each of ffi.c, ffi_callback.c and
# ffi_memory.c (opening the ffi module) and in jit_listing.c (asking for
# the disassembler): those sit with the hot code.
PVM_FFI_OPEN := $(BUILD)/stdlib/ffi.o $(BUILD)/stdlib/ffi_callback.o $(BUILD)/stdlib/ffi_memory.o
PVM_HOT_OBJ  := $(filter $(BUILD)/vm/cli/pvm_main.o $(BUILD)/vm/cli/jit_listing.o $(BUILD)/vm/bytecode/% $(BUILD)/vm/runtime/% $(BUILD)/vm/interp/%,$(PVM_OBJ) $(LIB_OBJ)) \
                $(filter-out $(BUILD)/stdlib/ffi%,$(filter $(BUILD)/stdlib/%,$(LIB_OBJ))) $(PVM_FFI_OPEN)
PVM_JIT_OBJ  := $(filter $(BUILD)/jit/%,$(LIB_OBJ))
PVM_COLD_OBJ := $(filter-out $(PVM_FFI_OPEN),$(filter $(BUILD)/stdlib/ffi%,$(LIB_OBJ))) $(filter-out $(BUILD)/vm/cli/pvm_main.o $(BUILD)/vm/cli/jit_listing.o,$(PVM_OBJ)) \
                $(filter-out $(BUILD)/compiler/asm.o $(BUILD)/compiler/disasm.o,$(filter $(BUILD)/compiler/%,$(LIB_OBJ)))
$(PVM): $(PVM_OBJ) $(LIB)
	$(CC) $(LDFLAGS_SAN) -o $@ $(PVM_HOT_OBJ) -Wl,-Bstatic -lgc -Wl,-Bdynamic $(PVM_JIT_OBJ) $(PVM_COLD_OBJ) $(LIB) $(PROG_LIBS)

$(BUILD)/vm/cli/jit_listing.o: vm/cli/jit_listing.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $$($(HAVE_CAPSTONE) && echo -DPVM_HAVE_CAPSTONE) -c $< -o $@

$(PVMC): $(BUILD)/compiler/pvmc_main.o $(LIB)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(PROG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS_SAN) -lcmocka $(LIBS)

# The x86-64 encoder test checks every form against the capstone disassembler.
CAPSTONE_TESTS := $(BUILD)/tests/test_x86_encoder
$(CAPSTONE_TESTS): $(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS_SAN) -lcmocka -lcapstone $(LIBS)

test: unit e2e e2e-switch fuzz-test tutorial

unit: $(UNIT_BIN)
	@sh tests/run_unit.sh $(UNIT_BIN)

# The ffi's struct tests, and those of C calls from traces, call a small C
# library built from tests/ffilib (tests/programs/ffi_struct_abi.pv and
# jit_ffi_callback.pv find it through PVM_FFI_TESTLIB).
FFI_TESTLIB := $(BUILD)/tests/libpvmffitest.so
$(FFI_TESTLIB): tests/ffilib/structs.c tests/ffilib/calls.c tests/ffilib/structs.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -fPIC -shared -o $@ $(filter %.c,$^)
E2E_ENV = PVMC=$(PVMC) SANITIZE=$(SANITIZE) PVM_FFI_TESTLIB=$(abspath $(FFI_TESTLIB))

e2e: $(PVM) $(PVMC) $(FFI_TESTLIB)
	@PVM=$(PVM) $(E2E_ENV) bash tests/run_e2e.sh

# The back-end tutorial's compiler (docs/backend-tutorial.md), written in
# Python: its tests skip with a message when python3 is missing.
tutorial: $(PVM) $(PVMC)
	@PVM=$(abspath $(PVM)) PVMC=$(abspath $(PVMC)) bash examples/toyc/run_tests.sh

# The interpreter's portable dispatch (a switch instead of computed goto,
# selected by PVM_NO_COMPUTED_GOTO) runs the same programs.
SWITCH_PVM := $(BUILD)/switch/pvm
$(BUILD)/switch/interp.o: vm/interp/interp.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPVM_NO_COMPUTED_GOTO -c $< -o $@
$(SWITCH_PVM): $(BUILD)/switch/interp.o $(PVM_OBJ) $(LIB)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(PROG_LIBS)
e2e-switch: $(SWITCH_PVM) $(PVMC) $(FFI_TESTLIB)
	@echo "e2e with switch dispatch:"
	@PVM=$(SWITCH_PVM) $(E2E_ENV) E2E_SKIP_CLI=1 bash tests/run_e2e.sh

# Differential fuzzing: random programs (tests/tools/fuzzgen.c) run with
# -j off, -j hot=1 and the default JIT must agree (tests/fuzz/run.sh).
# `make fuzz` runs FUZZ_N programs from seed FUZZ_SEED; `make test` runs a
# fixed sample (fewer under SANITIZE=1, where every run is slower).
FUZZGEN   := $(BUILD)/fuzzgen
FUZZ_N    ?= 10000
FUZZ_SEED ?= 1
FUZZ_TEST_N := $(if $(filter 1,$(SANITIZE)),60,300)
$(FUZZGEN): tests/tools/fuzzgen.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS_SAN)
fuzz: $(PVM) $(FUZZGEN)
	@PVM=$(PVM) FUZZGEN=$(FUZZGEN) FUZZ_OUT=build/fuzz bash tests/fuzz/run.sh $(FUZZ_SEED) $(FUZZ_N)
fuzz-test: $(PVM) $(FUZZGEN)
	@PVM=$(PVM) FUZZGEN=$(FUZZGEN) FUZZ_OUT=build/fuzz FUZZ_QUIET=1 bash tests/fuzz/run.sh 1 $(FUZZ_TEST_N)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(PVM) $(PVMC) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/pvm.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(LDFLAGS_SAN) $(LIBS)|' pvm.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pvm.pc

clean:
	rm -rf build pvm pvmc libpvm.a

# Benchmarks against Lua 5.4, LuaJIT, CPython and C (bench/run.sh; as root it
# installs the missing peers). Not part of `make test`.
BENCH_RUN = @PVM=$(PVM) PVMC=$(PVMC) CC="$(CC)" bash bench/run.sh
bench: all
	$(BENCH_RUN) full
bench-quick: all
	$(BENCH_RUN) quick
bench-callgrind: all
	$(BENCH_RUN) callgrind
# What a call across the embedding boundary costs, pvm beside Lua 5.4's C
# API (bench/calls.sh; as root it installs liblua5.4-dev and valgrind).
bench-calls: $(LIB)
	@LIB=$(LIB) CC="$(CC)" bash bench/calls.sh
# What the ffi's operations and callbacks cost: libc qsort with a PV
# comparator against array.sort, and each operation's ns (docs/ffi.md).
bench-ffi: $(PVM)
	$(PVM) -j off bench/callbacks.pv
	$(PVM) -j off bench/ffi_costs.pv

# How VMs in threads scale: 1, 2 and 8 threads, each with its own VM
# (bench/threads.sh, bench/threads.c).
bench-threads: $(LIB)
	@LIB=$(LIB) CC="$(CC)" bash bench/threads.sh

-include $(LIB_OBJ:.o=.d) $(PVM_OBJ:.o=.d) $(BUILD)/switch/interp.d $(BUILD)/compiler/pvmc_main.d
