# bakeami - builds the native library, the CLI and the tests with plain make.
# `make` builds; `make test` runs everything CI runs; `make demo` bakes an
# example against the local lab (moto + sshd on loopback).

PKGS    := libcurl libssh2 libcjson libxml-2.0 libcrypto
CC      ?= cc
CFLAGS  ?= -O2 -g

# The packages' flags are looked up the first time a recipe needs them, not when make reads
# this file: `make test` and `make demo` install the packages (deps) before anything builds.
pkg_flags = $(or $(shell pkg-config $(1) $(PKGS) 2>/dev/null),$(error pkg-config finds \
  no $(PKGS): run `make deps` (tests/deps.sh) first))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_flags,--cflags))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(call pkg_flags,--libs))$(PKG_LIBS)

# SANITIZE: instrumentation flags for compiling and linking (empty here; check-asan sets them).
SANITIZE ?=
CFLAGS  += $(SANITIZE)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread \
           -fvisibility=hidden -Inative/include $(PKG_CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS   = $(PKG_LIBS) -pthread -lm

# BUILD=build/asan puts everything in that tree, compiled with ASan + UBSan (see check-asan).
BUILD   := build
ASAN_BUILD := build/asan
ifeq ($(BUILD),$(ASAN_BUILD))
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
# BUILD=build/fuzz: the same objects built by clang for libFuzzer (see fuzz).
FUZZ_BUILD := build/fuzz
ifeq ($(BUILD),$(FUZZ_BUILD))
CC       := clang
SANITIZE := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
endif
LIB_SRC := $(wildcard native/src/*/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(wildcard native/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROBE_SRC := $(wildcard tests/e2e/*_probe.c)
PROBE_BIN := $(PROBE_SRC:tests/e2e/%.c=$(BUILD)/probes/%)

LIB     := $(BUILD)/libbakeami.so
ARCHIVE := $(BUILD)/libbakeami.a
CLI     := $(BUILD)/bakeami

.PHONY: all deps test unit e2e e2e-plain test-faults probes demo bench clean test-fresh native check-asan fuzz fuzz-bins
all: $(LIB) $(CLI) plugin-jar

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(ARCHIVE): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# -z defs: a symbol no listed library provides fails here, not in the user's process.
$(LIB): $(LIB_OBJ)
	$(CC) $(SANITIZE) -shared -Wl,-z,defs -Wl,-z,noexecstack -o $@ $^ $(LDLIBS)

# The CLI links the archive so it runs from any directory without rpath games.
$(CLI): $(CLI_OBJ) $(ARCHIVE)
	$(CC) $(SANITIZE) -o $@ $(CLI_OBJ) $(ARCHIVE) $(LDLIBS)

# Unit tests link the archive: they may call internal (bk_*) functions.
$(BUILD)/tests/%: tests/unit/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS) -lcmocka

# Small drivers the e2e tests run against the library (tests/e2e/*_probe.c).
$(BUILD)/probes/%: tests/e2e/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS)

probes: $(PROBE_BIN)

# What check-asan builds: no Java (the JNI bridge would need libasan preloaded into the JVM).
native: $(LIB) $(CLI) $(PROBE_BIN) $(UNIT_BIN)

deps:
	@tests/deps.sh

# Every unit binary runs even after a failure, so one run shows them all.
unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

# The fault matrix runs in test-faults, which prints its table.
e2e: all probes
	python3 -m pytest -q --ignore=tests/e2e/test_fault_matrix.py tests/e2e

# What the sanitizers cannot run, against build/: the Java shim's lab tests (marked jni: the JNI
# bridge would need libasan preloaded into the JVM) and the valgrind ones (valgrind cannot run
# ASan binaries). make test runs every other e2e test once, under check-asan.
e2e-plain: all probes
	python3 -m pytest -q -m 'jni or valgrind' --ignore=tests/e2e/test_fault_matrix.py tests/e2e

# The fault matrix (tests/e2e/test_fault_matrix.py): every cell, then the table of cells and
# how many passed (tests/e2e/fault_table.py); fails if any cell did.
FAULTS_XML := $(BUILD)/test-faults.xml
test-faults: $(LIB) $(CLI) probes
	@rc=0; python3 -m pytest -q -p no:cacheprovider --junitxml=$(FAULTS_XML) \
	  tests/e2e/test_fault_matrix.py || rc=$$?; \
	python3 tests/e2e/fault_table.py $(FAULTS_XML) && exit $$rc

# ASan + UBSan (any finding is fatal) over the native tree, in build/asan: the unit tests, then
# the e2e tests against those binaries (BAKEAMI_BUILD), with neither the Java shim's tests (the
# JNI bridge would need libasan preloaded into the JVM) nor the valgrind ones (valgrind cannot
# run ASan binaries). Reports go to files, so a finding in a process whose exit status a test
# does not look at still fails: conftest.py fails the test that left one, and so does this.
# ASAN_E2E picks the e2e files (default: all of them); the fault matrix then runs as
# test-faults against the same binaries, so its table is printed; make test runs the matrix
# only there (once, sanitized) rather than a second time against build/.
ASAN_E2E    ?= tests/e2e
SAN_REPORTS := $(abspath $(ASAN_BUILD))/reports
SAN_ENV      = ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:exitcode=86:log_path=$(SAN_REPORTS)/asan \
               LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87:log_path=$(SAN_REPORTS)/ubsan \
               BAKEAMI_BUILD=$(ASAN_BUILD) BAKEAMI_SAN_REPORTS=$(SAN_REPORTS)
no_reports   = @if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then head -c 20000 $(SAN_REPORTS)/*; \
               echo "check-asan: sanitizer reports in $(SAN_REPORTS)" >&2; exit 1; fi

check-asan:
	$(MAKE) BUILD=$(ASAN_BUILD) native
	rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	$(SAN_ENV) $(MAKE) BUILD=$(ASAN_BUILD) unit
	$(no_reports)
	$(SAN_ENV) python3 -m pytest -q -m 'not jni and not valgrind' \
	  --ignore=tests/e2e/test_fault_matrix.py $(ASAN_E2E)
	$(no_reports)
	$(SAN_ENV) $(MAKE) BUILD=$(ASAN_BUILD) test-faults
	$(no_reports)

# libFuzzer targets (tests/fuzz/<target>.c), built with clang, ASan and UBSan in build/fuzz.
# The targets named in FUZZ_AWS answer the library's AWS calls from the input: bk_aws__send is
# wrapped (tests/fuzz/fuzz_aws.h). `make fuzz FUZZ_SECONDS=N` first replays each target's seed
# corpus (tests/fuzz/corpus/<target>: seeds and every finding's regression input), then fuzzes
# it N seconds; it prints executions and findings per target and fails on any finding.
FUZZ_SRC     := $(wildcard tests/fuzz/*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/bin/%)
FUZZ_AWS     := ec2 ssm sts iam
FUZZ_WRAP    := -Wl,--wrap=bk_aws__send
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4

$(BUILD)/bin/%: tests/fuzz/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer -fvisibility=default -Inative/src -o $@ $< \
	  $(ARCHIVE) $(LDLIBS) $(if $(filter $*,$(FUZZ_AWS)),$(FUZZ_WRAP))

fuzz-bins: $(FUZZ_BIN)

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) fuzz-bins
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# test and demo install the packages first, then build in a second make that reads the
# packages' flags fresh. The Java units run here; e2e-plain runs the e2e tests the sanitizers
# cannot, check-asan the unit tests again and every other e2e test, then the fault matrix, all
# sanitized: each e2e test runs once (a second, unsanitized pass would cost CI about 15 min).
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) java-unit
	$(MAKE) e2e-plain
	$(MAKE) check-asan
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

demo: deps
	$(MAKE) all
	python3 tests/e2e/demo.py

# Side-by-side with Packer 1.6.6 on one local lab; writes bench/RESULTS.md (minutes; not in test).
# BENCH_ARGS: e.g. --pairs 4 --only one,latency
bench: deps
	$(MAKE) all probes
	$(MAKE) java-test-classes
	python3 bench/bench.py $(BENCH_ARGS)

# demo and test in fresh Debian roots, as a new user's first commands (minutes; not in test).
# REF=commit/branch (default HEAD: committed work only); needs root.
test-fresh:
	@tests/fresh-machine.sh $(if $(REF),--ref $(REF))

clean:
	rm -rf $(BUILD)

include java.mk
# Each tree reads its own dependency files only (build/ holds build/asan).
-include $(shell find $(BUILD) $(foreach t,$(ASAN_BUILD) $(FUZZ_BUILD),$(if $(filter $(t),$(BUILD)),,\
  -path $(t) -prune -o)) -name '*.d' -print 2>/dev/null)
