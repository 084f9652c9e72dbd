# elfuse-py: set-up, guest binaries, tests and benchmarks.
#   make demo   - venv, package, guest binaries, then run one under elfuse-py
#   make test   - everything `demo` builds, then the whole test suite
#   make bench  - benchmarks against qemu-aarch64 (not part of `make test`)
# Both `demo` and `test` work from a fresh clone: they need python3 (>= 3.10,
# with venv) and make; zig (the guest C compiler) comes from PyPI.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
ELFUSE  = $(VENV)/bin/elfuse-py
JOBS   ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)

# Guest C compiler: zig's musl cross toolchain by default; override with e.g.
#   make guest-bins CC="aarch64-linux-gnu-gcc -static" GUEST_BUILD=guest-bins/build-glibc
GUEST_CC    ?= $(PY) -m ziglang cc -target aarch64-linux-musl -static
CC_IS_DEFAULT := $(if $(filter default,$(origin CC)),yes,no)
ifeq ($(CC_IS_DEFAULT),yes)
  GUEST_COMPILER = $(GUEST_CC)
else
  GUEST_COMPILER = $(CC)
endif
GUEST_CFLAGS ?= -O2 -g0 -s -Wall -Wno-unused-result
GUEST_BUILD  ?= guest-bins/build
GUEST_SRCS   := $(wildcard guest-bins/src/*.c)
GUEST_BINS   := $(patsubst guest-bins/src/%.c,$(GUEST_BUILD)/%,$(GUEST_SRCS))
GLIBC_BUILD  := guest-bins/build-glibc
GLIBC_CC     ?= aarch64-linux-gnu-gcc -static
HAVE_GLIBC_CC := $(shell command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && echo yes)

PYTEST_ARGS ?= -n auto

.PHONY: all venv guest-bins guest-bins-glibc guest-bins-any demo test bench startup-cache syscalls-doc clean distclean

all: guest-bins

# The editable install uses compat mode, a plain .pth path entry: the default
# mode's import-finder hook costs ~8 ms of every elfuse-py start-up.
# setuptools calls compat mode transitional, so fall back where it is gone.
# Byte-compiling up front spares the first guest run that cost, and the
# start-up bundle (elfuse_py/bundle.py) serves a run's modules from one file.
# Python 3.11's venv seeds setuptools, whose distutils-precedence.pth makes
# every interpreter start import its distutils shim (~0.5 ms of each
# elfuse-py start-up); nothing here uses distutils (builds are isolated), and
# 3.12's venvs have no setuptools at all, so the hook goes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]' --config-settings editable_mode=compat 2>/dev/null \
	  || $(PIP) install -q -e '.[dev]'
	rm -f $(VENV)/lib/python*/site-packages/distutils-precedence.pth
	$(PY) -m compileall -q elfuse_py loader syscalls
	$(PY) -m elfuse_py.bundle >/dev/null || echo "note: no start-up bundle (elfuse_py/bundle.py): plain imports"
	touch $@

# The byte code and the start-up bundle, current with the sources again (a run
# keeps them current itself, except where PYTHONDONTWRITEBYTECODE is set).
startup-cache: $(VENV)/.installed
	$(PY) -m compileall -q elfuse_py loader syscalls
	$(PY) -m elfuse_py.bundle >/dev/null || echo "note: no start-up bundle (elfuse_py/bundle.py): plain imports"

venv: $(VENV)/.installed

$(GUEST_BUILD)/%: guest-bins/src/%.c guest-bins/src/guest_test.h | $(VENV)/.installed
	@mkdir -p $(GUEST_BUILD)
	$(GUEST_COMPILER) $(GUEST_CFLAGS) -o $@ $<

# Static-PIE variants of hello, for the loader's ET_DYN path.
guest-bins/build/hello_pie: guest-bins/src/hello.c | $(VENV)/.installed
	@mkdir -p guest-bins/build
	$(GUEST_CC) -pie -fPIE $(GUEST_CFLAGS) -o $@ $<

$(GLIBC_BUILD)/hello_pie: guest-bins/src/hello.c
	@mkdir -p $(GLIBC_BUILD)
	aarch64-linux-gnu-gcc -static-pie -fPIE $(GUEST_CFLAGS) -o $@ $<

# The gdb stub's test guest keeps its debug info (tests/test_gdbstub.py).
guest-bins/build/gdb_target: guest-bins/src/gdb_target.c | $(VENV)/.installed
	@mkdir -p guest-bins/build
	$(GUEST_CC) -O0 -g -fno-sanitize=undefined -Wall -o $@ $<

$(GLIBC_BUILD)/gdb_target: guest-bins/src/gdb_target.c
	@mkdir -p $(GLIBC_BUILD)
	aarch64-linux-gnu-gcc -static -O0 -g -Wall -pthread -o $@ $<

# Every guest binary (musl, and glibc where aarch64-linux-gnu-gcc exists).
# Strict: stops at the first program that does not compile.
guest-bins: $(VENV)/.installed $(GUEST_BINS) guest-bins/build/hello_pie
ifeq ($(HAVE_GLIBC_CC),yes)
	$(MAKE) --no-print-directory guest-bins-glibc
endif

guest-bins-glibc:
	$(MAKE) --no-print-directory $(patsubst guest-bins/src/%.c,$(GLIBC_BUILD)/%,$(GUEST_SRCS)) \
	    $(GLIBC_BUILD)/hello_pie CC="$(GLIBC_CC)" GUEST_BUILD=$(GLIBC_BUILD)

# What demo and test use: build everything that compiles (in parallel), and
# carry on past a program that does not -- its tests then fail and say why,
# instead of one broken source hiding the whole suite.
guest-bins-any: $(VENV)/.installed
	@$(MAKE) --no-print-directory -k -j$(JOBS) $(GUEST_BINS) guest-bins/build/hello_pie || \
	    echo "*** note: some musl guest binaries did not build (their tests will fail)"
ifeq ($(HAVE_GLIBC_CC),yes)
	@$(MAKE) --no-print-directory -k -j$(JOBS) \
	    $(patsubst guest-bins/src/%.c,$(GLIBC_BUILD)/%,$(GUEST_SRCS)) $(GLIBC_BUILD)/hello_pie \
	    CC="$(GLIBC_CC)" GUEST_BUILD=$(GLIBC_BUILD) || \
	    echo "*** note: some glibc guest binaries did not build (their glibc tests are skipped)"
else
	@echo "note: aarch64-linux-gnu-gcc not found: glibc guest builds skipped"
endif

demo: venv guest-bins-any
	@echo "--- running guest-bins/build/hello under elfuse-py ---"
	$(ELFUSE) guest-bins/build/hello from elfuse-py

# pytest's status 5 means "no tests collected": never a pass.
test: venv guest-bins-any
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "*** pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: venv guest-bins-any startup-cache
	$(PY) bench/run.py
	$(PY) bench/real.py

# The syscall table as Markdown, generated from syscalls.table.TABLE.
syscalls-doc: venv
	$(PY) docs/syscall_table.py > docs/syscalls.md

clean:
	rm -rf guest-bins/build guest-bins/build-glibc

distclean: clean
	rm -rf $(VENV) tests/.cache .pytest_cache *.egg-info
