# tests/bench/ - p11bench (C_Sign throughput and latency of any PKCS#11 module) and
# `make bench`: Warden against the same key used directly in SoftHSMv2 (scripts/bench).
# The binary stays out of ALL_TARGETS: it is a measuring tool, not a product.
BENCH_BIN := $(BUILD)/bench/p11bench

$(BENCH_BIN): $(OBJ)/tests/bench/p11bench.o $(OBJ)/tests/bench/pb_opts.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto -ldl -lpthread -lm

bench: all $(BENCH_BIN) $(BUILD)/bench/disk_flush
	BUILD=$(BUILD) P11BENCH=$(BENCH_BIN) scripts/bench

# Start-up of the real enclave on audit logs of 1M and 10M records, with and without a
# state snapshot (tests/bench/enclave_startup.sh; BENCH_STARTUP_RECORDS="1000000" for a
# shorter run: the 10M log takes ~7 GB under BENCH_STARTUP_DIR, default /var/tmp).
# enc_loggen writes enclave-shaped SIGN records; never part of `make check`.
$(BUILD)/bench/enc_loggen: $(OBJ)/tests/bench/enc_loggen.o $(AUDIT_LIB) $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(AUDIT_LIB) $(POLICY_LIB) $(AUDIT_LIBS) $(POLICY_RULES_LIBS)

.PHONY: bench-enclave-startup
bench-enclave-startup: all $(BUILD)/bench/enc_loggen
	BUILD=$(BUILD) tests/bench/enclave_startup.sh
bench: bench-enclave-startup

# What one durable audit write costs here: 4 KiB O_DIRECT|O_DSYNC writes into a
# zero-filled file under BENCH_DISK_DIR (default /tmp, where the bench's disk logs live),
# 1 and 2 threads: latency and CPU per write (docs/benchmarks.md).
$(BUILD)/bench/disk_flush: $(OBJ)/tests/bench/disk_flush.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

.PHONY: bench-disk
bench-disk: $(BUILD)/bench/disk_flush
	$(BUILD)/bench/disk_flush $${BENCH_DISK_DIR:-/tmp}
bench: bench-disk
