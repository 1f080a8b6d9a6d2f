# tests/bench/ - p11bench (C_Sign throughput and latency of any PKCS#11 module) and
# `make bench`: Warden against the same key used directly in SoftHSMv2 (scripts/bench).
# The binary stays out of ALL_TARGETS: it is a measuring tool, not a product.
BENCH_BIN := $(BUILD)/bench/p11bench

$(BENCH_BIN): $(OBJ)/tests/bench/p11bench.o $(OBJ)/tests/bench/pb_opts.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto -ldl -lpthread -lm

bench: all $(BENCH_BIN)
	BUILD=$(BUILD) P11BENCH=$(BENCH_BIN) scripts/bench
