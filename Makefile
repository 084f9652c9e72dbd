# elfuse-py: set-up, guest binaries, tests and benchmarks.
#   make demo   - venv, package, guest binaries, then run one under elfuse-py
#   make test   - everything `demo` builds, then the whole test suite
#   make bench  - benchmarks against qemu-aarch64 (not part of `make test`)

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
ELFUSE  = $(VENV)/bin/elfuse-py

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
GLIBC_CC     ?= aarch64-linux-gnu-gcc -static
HAVE_GLIBC_CC := $(shell command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && echo yes)

PYTEST_ARGS ?= -n auto

.PHONY: all venv guest-bins guest-bins-glibc demo test bench clean

all: guest-bins

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

$(GUEST_BUILD)/%: guest-bins/src/%.c guest-bins/src/guest_test.h | $(VENV)/.installed
	@mkdir -p $(GUEST_BUILD)
	$(GUEST_COMPILER) $(GUEST_CFLAGS) -o $@ $<

guest-bins: $(VENV)/.installed $(GUEST_BINS)
ifeq ($(HAVE_GLIBC_CC),yes)
	$(MAKE) --no-print-directory guest-bins-glibc
endif

guest-bins-glibc:
	$(MAKE) --no-print-directory $(patsubst guest-bins/src/%.c,guest-bins/build-glibc/%,$(GUEST_SRCS)) \
	    CC="$(GLIBC_CC)" GUEST_BUILD=guest-bins/build-glibc

demo: venv guest-bins
	@echo "--- running guest-bins/build/hello under elfuse-py ---"
	$(ELFUSE) $(GUEST_BUILD)/hello from elfuse-py

test: venv guest-bins
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv guest-bins
	$(PY) bench/run.py

clean:
	rm -rf guest-bins/build guest-bins/build-glibc
