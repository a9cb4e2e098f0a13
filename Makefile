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

CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread \
           -fvisibility=hidden -Inative/include $(PKG_CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS   = $(PKG_LIBS) -pthread -lm

BUILD   := build
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

.PHONY: all deps test unit e2e probes demo bench clean test-fresh
all: $(LIB) $(CLI) plugin-jar

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(ARCHIVE): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# -z defs: a symbol no listed library provides fails here, not in the user's process.
$(LIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-z,defs -Wl,-z,noexecstack -o $@ $^ $(LDLIBS)

# The CLI links the archive so it runs from any directory without rpath games.
$(CLI): $(CLI_OBJ) $(ARCHIVE)
	$(CC) -o $@ $(CLI_OBJ) $(ARCHIVE) $(LDLIBS)

# Unit tests link the archive: they may call internal (bk_*) functions.
$(BUILD)/tests/%: tests/unit/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS) -lcmocka

# Small drivers the e2e tests run against the library (tests/e2e/*_probe.c).
$(BUILD)/probes/%: tests/e2e/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS)

probes: $(PROBE_BIN)

deps:
	@tests/deps.sh

# Every unit binary runs even after a failure, so one run shows them all.
unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

e2e: all probes
	python3 -m pytest -q tests/e2e

# test and demo install the packages first, then build in a second make that reads the
# packages' flags fresh. The Java units run here; the shim's lab tests are part of e2e.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) java-unit
	$(MAKE) e2e

demo: deps
	$(MAKE) all
	python3 tests/e2e/demo.py

# demo and test in fresh Debian roots, as a new user's first commands (minutes; not in test).
# REF=commit/branch (default HEAD: committed work only); needs root.
test-fresh:
	@tests/fresh-machine.sh $(if $(REF),--ref $(REF))

clean:
	rm -rf $(BUILD)

include java.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
