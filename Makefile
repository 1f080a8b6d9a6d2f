# Warden - top-level build.  `make` builds everything into $(BUILD)/; see README.md.
#
# Each component adds its targets in its own fragment (*/build.mk); this file holds the
# flags, the shared rules and the entry points: all check asan fuzz bench demo install.

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
# SAN=1 builds with ASan + UBSan (used by `make asan`).
SAN ?=

PKGS := libcrypto jansson libseccomp p11-kit-1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -O2 -fPIC -fstack-protector-strong \
	-fno-strict-aliasing $(WARN) $(PKG_CFLAGS) -I. -Ienclave -Ipkcs11-module \
	-Ipolicy-engine -Iaudit
ifeq ($(SAN),1)
CFLAGS_BASE += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -DWARDEN_SANITIZED=1
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_BASE += -D_FORTIFY_SOURCE=2
endif
CFLAGS += $(CFLAGS_BASE)
LDFLAGS += -Wl,-z,relro,-z,now $(LDFLAGS_SAN)

OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin
LIB := $(BUILD)/lib
TBIN := $(BUILD)/tests

ALL_TARGETS :=
UNIT_TESTS :=
FUZZ_TARGETS :=

.PHONY: all check check-unit check-conformance check-integration asan fuzz bench demo soak \
	install clean deps
all: deps-note

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

include enclave/build.mk
-include fuzz/build.mk
include pkcs11-module/build.mk
-include enclave/admin.mk
-include policy-engine/build.mk
-include audit/build.mk
-include tests/build.mk
-include pkcs11-conformance/build.mk
-include tests/bench/build.mk

all: $(ALL_TARGETS)

# Fragments included after fuzz/build.mk add fuzz targets: list the prerequisites again
# here, once every fragment has been read.
fuzz-build: $(addprefix $(FUZZ_BIN)/,$(FUZZ_TARGETS))
.SECONDARY: $(patsubst %,$(FUZZ_OBJ)/fuzz/%.o,$(FUZZ_TARGETS))

deps-note:
	@command -v pkg-config >/dev/null && pkg-config --exists $(PKGS) check || \
		{ echo "missing build dependencies: run 'scripts/install-deps' as root"; exit 1; }

deps:
	scripts/install-deps

# The whole suite: unit tests, conformance against SoftHSMv2 and Warden, integration
# with real clients.  Every service a test needs is started and torn down by the test.
check: deps
	$(MAKE) all
	@rm -rf $(BUILD)/results
	-$(MAKE) -k check-unit check-conformance check-integration
	@scripts/test-summary $(BUILD)/results

check-unit: $(UNIT_TESTS)
	@mkdir -p $(BUILD)/results
	@scripts/run-unit $(BUILD)/results $(UNIT_TESTS)

check-integration: all
	@mkdir -p $(BUILD)/results
	@BUILD=$(BUILD) scripts/run-integration $(BUILD)/results tests/integration/*.sh

asan: deps
	$(MAKE) BUILD=build-asan SAN=1 all
	@rm -rf build-asan/results
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:fast_unwind_on_malloc=0 \
		$(MAKE) -k BUILD=build-asan SAN=1 check-unit check-conformance check-integration
	@scripts/test-summary build-asan/results

demo: deps all
	BUILD=$(BUILD) scripts/demo

# Crash-safety tests repeated (scripts/soak: SOAK_RUNS, SOAK_CRASH_ROUNDS); not in check.
soak: deps all $(UNIT_TESTS)
	BUILD=$(BUILD) scripts/soak

install: all
	scripts/install-tree "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
