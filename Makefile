# bakeami - builds the native library, the CLI and the tests with plain make.
# `make` builds; `make test` runs everything CI runs; `make demo` bakes an
# example against the local lab (moto + sshd on loopback).

PKGS    := libcurl libssh2 libcjson libxml-2.0 libcrypto
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread \
           -fvisibility=hidden -Inative/include $(shell pkg-config --cflags $(PKGS))
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -pthread -lm

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

.PHONY: all deps test unit e2e probes demo bench clean
all: $(LIB) $(CLI) plugin-jar

$(BUILD)/%.o: %.c $(wildcard native/include/*.h native/src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(ARCHIVE): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB): $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

# The CLI links the archive so it runs from any directory without rpath games.
$(CLI): $(CLI_OBJ) $(ARCHIVE)
	$(CC) -o $@ $(CLI_OBJ) $(ARCHIVE) $(LDLIBS)

# Unit tests link the archive: they may call internal (bk_*) functions.
$(BUILD)/tests/%: tests/unit/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS) -lcmocka

# Small drivers the e2e tests run against the library (tests/e2e/*_probe.c).
$(BUILD)/probes/%: tests/e2e/%.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=default -Inative/src -o $@ $< $(ARCHIVE) $(LDLIBS)

probes: $(PROBE_BIN)

deps:
	@tests/deps.sh

# Every unit binary runs even after a failure, so one run shows them all.
unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

e2e: all probes
	python3 -m pytest -q tests/e2e

# The Java units run here; the shim's lab tests are part of e2e.
test: deps all
	$(MAKE) unit
	$(MAKE) java-unit
	$(MAKE) e2e

demo: deps all
	python3 tests/e2e/demo.py

clean:
	rm -rf $(BUILD)

include java.mk
