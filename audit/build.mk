# audit/ - the audit log library (audit.h) as a static archive the enclave links,
# $(AUDIT_LIB), and the warden-audit tool (verify, show, reconcile).
AUDIT_OBJS := $(OBJ)/audit/aud_format.o $(OBJ)/audit/aud_note.o $(OBJ)/audit/aud_scan.o \
	$(OBJ)/audit/aud_log.o $(OBJ)/audit/aud_open.o $(OBJ)/audit/aud_snapshot.o
AUDIT_LIB := $(OBJ)/libwarden-audit.a
AUDIT_LIBS := -lcrypto -lpthread

$(AUDIT_LIB): $(AUDIT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

AUDIT_TOOL_OBJS := $(OBJ)/audit/aud_tool.o $(OBJ)/audit/aud_tool_show.o \
	$(OBJ)/audit/aud_tool_reconcile.o $(OBJ)/audit/aud_tool_recheck.o \
	$(OBJ)/audit/aud_tool_revoc.o $(OBJ)/audit/aud_tool_revcheck.o $(OBJ)/audit/aud_tool_revlist.o

# reconcile --policy evaluates with the policy engine (policy-engine/build.mk comes first).
$(BIN)/warden-audit: $(AUDIT_TOOL_OBJS) $(AUDIT_LIB) $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(AUDIT_TOOL_OBJS) $(AUDIT_LIB) $(POLICY_LIB) $(AUDIT_LIBS) \
		$(POLICY_RULES_LIBS)

ALL_TARGETS += $(AUDIT_LIB) $(BIN)/warden-audit

# Unit tests (Check).  tests/test_audit_util.h holds shared helpers (header only).
AUDIT_TESTS := test_audit_format test_audit_log test_audit_verify test_audit_checkpoint \
	test_audit_snapshot
$(addprefix $(TBIN)/,$(AUDIT_TESTS)): $(AUDIT_LIB)
$(addprefix $(TBIN)/,$(AUDIT_TESTS)): TEST_LIBS := $(AUDIT_LIB) $(AUDIT_LIBS)
UNIT_TESTS += $(addprefix $(TBIN)/,$(AUDIT_TESTS))
.SECONDARY: $(patsubst %,$(OBJ)/tests/%.o,$(AUDIT_TESTS))

# reconcile --policy end to end: runs the real warden-audit on OpenSSL-made certificates
# (tests/policy/testutil.o builds them) and a log written through the library.
$(OBJ)/tests/test_audit_reconcile.o: CFLAGS += -DAUD_TEST_TOOL='"$(CURDIR)/$(BIN)/warden-audit"'
$(TBIN)/test_audit_reconcile: $(OBJ)/tests/test_audit_reconcile.o $(POLICY_TEST_UTIL) \
	$(AUDIT_LIB) $(POLICY_LIB) | $(BIN)/warden-audit
$(TBIN)/test_audit_reconcile: TEST_LIBS := $(AUDIT_LIB) $(POLICY_LIB) $(AUDIT_LIBS) \
	$(POLICY_RULES_LIBS)
UNIT_TESTS += $(TBIN)/test_audit_reconcile
.SECONDARY: $(OBJ)/tests/test_audit_reconcile.o

# Speed: replay (verify + callback), group commit at 1, 2, 8, 32 appenders, and start-up
# at 1M and 10M records with and without a snapshot (BENCH_AUDIT_STARTUP="1000000" for
# a shorter run; the 10M log takes ~5 GB of scratch space).
$(TBIN)/bench_audit: $(OBJ)/audit/aud_bench.o $(AUDIT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(AUDIT_LIB) $(AUDIT_LIBS)

.PHONY: bench-audit
bench-audit: $(TBIN)/bench_audit
	$(TBIN)/bench_audit "$(BENCH_AUDIT_DIR)" "$(BENCH_AUDIT_STARTUP)"
bench: bench-audit

# Fuzz targets: the record/body parser, the checkpoint (signed note) parser, and the
# reader of a log file (aud_scan: header, records, end-of-data zeros, gaps, checkpoints).
AUDIT_FUZZ_OBJS := $(FUZZ_OBJ)/audit/aud_format.o $(FUZZ_OBJ)/audit/aud_note.o
FUZZ_TARGETS += fuzz_audit_record fuzz_audit_checkpoint fuzz_audit_scan
$(FUZZ_BIN)/fuzz_audit_record: $(AUDIT_FUZZ_OBJS)
$(FUZZ_BIN)/fuzz_audit_record: FUZZ_LIBS := -lcrypto
$(FUZZ_BIN)/fuzz_audit_scan: $(AUDIT_FUZZ_OBJS) $(FUZZ_OBJ)/audit/aud_scan.o
$(FUZZ_BIN)/fuzz_audit_scan: FUZZ_LIBS := -lcrypto
$(FUZZ_BIN)/fuzz_audit_checkpoint: $(AUDIT_FUZZ_OBJS)
$(FUZZ_BIN)/fuzz_audit_checkpoint: FUZZ_LIBS := -lcrypto

# show --revocations and reconcile --crls / --ocsp [--policy], end to end.
$(OBJ)/tests/test_audit_reconcile_rev.o: CFLAGS += -DAUD_TEST_TOOL='"$(CURDIR)/$(BIN)/warden-audit"'
$(TBIN)/test_audit_reconcile_rev: $(OBJ)/tests/test_audit_reconcile_rev.o $(POLICY_TEST_UTIL) \
	$(AUDIT_LIB) $(POLICY_LIB) | $(BIN)/warden-audit
$(TBIN)/test_audit_reconcile_rev: TEST_LIBS := $(AUDIT_LIB) $(POLICY_LIB) $(AUDIT_LIBS) \
	$(POLICY_RULES_LIBS)
UNIT_TESTS += $(TBIN)/test_audit_reconcile_rev
.SECONDARY: $(OBJ)/tests/test_audit_reconcile_rev.o

# The seeds of fuzz_audit_scan: logs written by this library (plain build, no fuzzer);
# `make fuzz-corpus` rewrites them with the others.
$(FUZZ_OUT)/make-corpus-audit: $(OBJ)/fuzz/make-corpus-audit.o $(AUDIT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(AUDIT_LIB) $(AUDIT_LIBS)
.SECONDARY: $(OBJ)/fuzz/make-corpus-audit.o

.PHONY: fuzz-corpus-audit
fuzz-corpus-audit: $(FUZZ_OUT)/make-corpus-audit
	$(FUZZ_OUT)/make-corpus-audit fuzz/corpus
fuzz-corpus: fuzz-corpus-audit
