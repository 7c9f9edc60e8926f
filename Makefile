# svtpm — plain make. `make` builds, `make check` runs the whole suite,
# `make demo` runs the main job end to end, `make bench` the benchmark.
#
# The layout is the trust boundary: src/common (wire formats, no I/O) is linked
# into both sides; src/enclave (trusted) and src/host (untrusted) only see their
# own headers plus common's, and scripts/check-boundary.sh fails the build if a
# source reaches across.

BUILD ?= build
SAN ?= 0
CC ?= cc
ifeq ($(SAN),1)
CC := clang
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1
else
SANFLAGS :=
OPT := -O2
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter
CFLAGS ?= $(OPT) -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
          -fPIE $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS += -pie -Wl,-z,relro,-z,now $(SANFLAGS)

SIGNING_KEY ?= .signing-key.pem

COMMON_SRC  := $(wildcard src/common/*.c)
# main.c and timeshim.c (the time interposer) go into the enclave executable only.
ENCLAVE_SRC := $(filter-out src/enclave/main.c src/enclave/timeshim.c,$(wildcard src/enclave/*.c))
HOST_SRC    := $(filter-out src/host/main.c,$(wildcard src/host/*.c))

obj = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ  := $(call obj,$(COMMON_SRC))
ENCLAVE_OBJ := $(call obj,$(ENCLAVE_SRC))
HOST_OBJ    := $(call obj,$(HOST_SRC))

LIB_COMMON  := $(BUILD)/libsvtpm-common.a
LIB_ENCLAVE := $(BUILD)/libsvtpm-enclave.a
LIB_HOST    := $(BUILD)/libsvtpm-host.a

ENCLAVE_LIBS := -ltpms -lcrypto
HOST_LIBS    :=

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
PROTO_SRC := $(wildcard tests/proto/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
PROTO_BIN := $(patsubst tests/proto/%.c,$(BUILD)/tests/proto/%,$(PROTO_SRC))
TEST_HELPERS := $(wildcard tests/lib/*.c)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRC))

.PHONY: all tests fuzz check demo bench clean boundary setup
all: boundary $(BUILD)/svtpm $(BUILD)/swtpm $(BUILD)/svtpm-enclave $(BUILD)/svtpm-enclave.sig \
     $(BUILD)/svtpm-tenant $(BUILD)/svtpm-timeauth

setup:
	bash scripts/setup.sh

boundary:
	@sh scripts/check-boundary.sh

$(BUILD)/obj/common/%.o: src/common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/common -c $< -o $@
$(BUILD)/obj/enclave/%.o: src/enclave/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/common -Isrc/enclave -c $< -o $@
$(BUILD)/obj/host/%.o: src/host/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/common -Isrc/host -c $< -o $@
$(BUILD)/obj/tools/%.o: src/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/common -c $< -o $@

$(LIB_COMMON): $(COMMON_OBJ)
	@rm -f $@; ar rcs $@ $^
$(LIB_ENCLAVE): $(ENCLAVE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(LIB_HOST): $(HOST_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/svtpm: $(BUILD)/obj/host/main.o $(LIB_HOST) $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LIBS)
$(BUILD)/swtpm: $(BUILD)/svtpm
	ln -sf svtpm $@
$(BUILD)/svtpm-enclave: $(BUILD)/obj/enclave/main.o $(BUILD)/obj/enclave/timeshim.o $(LIB_ENCLAVE) $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENCLAVE_LIBS)
$(BUILD)/svtpm-sign: $(BUILD)/obj/tools/sign.o $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto
# The tenant's tool: key pair, binding manifests, restore authorisations.
$(BUILD)/svtpm-tenant: $(BUILD)/obj/tools/tenant.o $(BUILD)/obj/tools/edtool.o $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto
# The time authority's tool (issue 5): key pair, signed time tokens.
$(BUILD)/svtpm-timeauth: $(BUILD)/obj/tools/timeauth.o $(BUILD)/obj/tools/edtool.o $(LIB_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto

# The enclave's SIGSTRUCT: its measurement signed by the build's signing key.
# In soft mode the enclave checks it at start, as EINIT would.
$(BUILD)/svtpm-enclave.sig: $(BUILD)/svtpm-enclave $(BUILD)/svtpm-sign
	$(BUILD)/svtpm-sign --key $(SIGNING_KEY) --enclave $< --out $@

TEST_CFLAGS = $(CFLAGS) -Isrc/common -Isrc/enclave -Isrc/host -Itests/lib -Wno-missing-prototypes
TEST_LIBS   = $(LIB_ENCLAVE) $(LIB_HOST) $(LIB_COMMON) -lcmocka $(ENCLAVE_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(TEST_HELPERS) $(LIB_ENCLAVE) $(LIB_HOST) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_HELPERS) $(TEST_LIBS)
$(BUILD)/tests/proto/%: tests/proto/%.c $(TEST_HELPERS) $(LIB_ENCLAVE) $(LIB_HOST) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_HELPERS) $(TEST_LIBS)

# Fuzz targets: libFuzzer + ASan/UBSan, built from the sources directly with clang.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
               -Isrc/common -Isrc/enclave -Isrc/host
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(ENCLAVE_SRC) $(HOST_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(COMMON_SRC) $(ENCLAVE_SRC) $(HOST_SRC) $(ENCLAVE_LIBS)

tests: all $(UNIT_BIN) $(PROTO_BIN)
fuzz: $(FUZZ_BIN)

check: setup
	$(MAKE) all tests fuzz
	bash tests/run.sh

demo: setup all
	bash scripts/demo.sh

-include bench/bench.mk

bench: setup all
	bash bench/run.sh

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
