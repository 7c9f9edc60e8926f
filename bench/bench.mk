# bench/bench.mk — benchmark programs. Included by the top-level Makefile
# (`-include bench/bench.mk`), which provides BUILD, CC, CFLAGS and LDFLAGS;
# also usable on its own: `make -f bench/bench.mk bench-build`.

ifeq ($(firstword $(MAKEFILE_LIST)),bench/bench.mk)
# standalone: defaults of our own (included, the Makefile's variables are used)
BUILD ?= build
CFLAGS ?= -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra
endif

# The bench client is timed code: never build it with sanitizers (SAN=1).
# (Recursive '=' so the Makefile's final CFLAGS/LDFLAGS are used wherever the
# include line is.)
BENCH_CC_FLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))
BENCH_LD_FLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(LDFLAGS))

BENCH_PKGS   := tss2-esys tss2-tctildr tss2-mu tss2-rc
BENCH_CFLAGS := $(shell pkg-config --cflags $(BENCH_PKGS))
BENCH_LIBS   := $(shell pkg-config --libs $(BENCH_PKGS))
BENCH_BIN    := $(BUILD)/bench/svtpm-bench $(BUILD)/bench/svtpm-launch $(BUILD)/bench/svtpm-compare

.PHONY: bench-build
bench-build: $(BENCH_BIN)

# `make bench` (defined in the Makefile) gets the bench programs as extra prerequisites.
bench: $(BENCH_BIN)

$(BUILD)/bench/svtpm-bench: bench/svtpm-bench.c bench/bench_ops.c bench/bench_ops.h bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CC_FLAGS) $(BENCH_CFLAGS) $(BENCH_LD_FLAGS) -o $@ bench/svtpm-bench.c bench/bench_ops.c $(BENCH_LIBS)

$(BUILD)/bench/svtpm-launch: bench/svtpm-launch.c bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CC_FLAGS) $(BENCH_LD_FLAGS) -o $@ $<

$(BUILD)/bench/svtpm-compare: bench/svtpm-compare.c bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CC_FLAGS) $(BENCH_LD_FLAGS) -o $@ $<

# svtpm-only rows (bench/extra-enclave.sh): links the host side of the boundary.
$(BUILD)/bench/svtpm-enclave-bench: bench/svtpm-enclave-bench.c $(BUILD)/libsvtpm-host.a $(BUILD)/libsvtpm-common.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CC_FLAGS) -Isrc/common -Isrc/host $(BENCH_LD_FLAGS) -o $@ $< $(BUILD)/libsvtpm-host.a $(BUILD)/libsvtpm-common.a
bench: $(BUILD)/bench/svtpm-enclave-bench
bench-build: $(BUILD)/bench/svtpm-enclave-bench
