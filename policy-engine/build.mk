# policy-engine/ - strict DER and the facts of what is signed (policy.h), as a static
# archive the enclave and warden-admin link: $(POLICY_LIB).  Pure functions, no
# libraries needed.
POLICY_OBJS := $(OBJ)/policy-engine/der.o $(OBJ)/policy-engine/pol_common.o \
	$(OBJ)/policy-engine/pol_frame.o $(OBJ)/policy-engine/pol_cert.o \
	$(OBJ)/policy-engine/pol_crl.o $(OBJ)/policy-engine/pol_ocsp.o
POLICY_LIB := $(OBJ)/libwarden-policy.a

$(POLICY_LIB): $(POLICY_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

ALL_TARGETS += $(POLICY_LIB)

# Unit tests.  The OpenSSL-based ones build their certificates, CRLs and OCSP responses
# with libcrypto; tests/policy/testutil.o holds the shared builders.
POLICY_TEST_UTIL := $(OBJ)/tests/policy/testutil.o

$(TBIN)/test_der: $(OBJ)/tests/test_der.o $(POLICY_OBJS)
$(TBIN)/test_tbs: $(OBJ)/tests/test_tbs.o $(POLICY_TEST_UTIL) $(POLICY_OBJS)
$(TBIN)/test_tbs: TEST_LIBS := -lcrypto
$(TBIN)/test_facts_openssl: $(OBJ)/tests/test_facts_openssl.o $(POLICY_TEST_UTIL) $(POLICY_OBJS)
$(TBIN)/test_facts_openssl: TEST_LIBS := -lcrypto
$(TBIN)/test_facts_crl: $(OBJ)/tests/test_facts_crl.o $(POLICY_TEST_UTIL) $(POLICY_OBJS)
$(TBIN)/test_facts_crl: TEST_LIBS := -lcrypto
$(TBIN)/test_facts_ocsp: $(OBJ)/tests/test_facts_ocsp.o $(POLICY_TEST_UTIL) $(POLICY_OBJS)
$(TBIN)/test_facts_ocsp: TEST_LIBS := -lcrypto
UNIT_TESTS += $(TBIN)/test_der $(TBIN)/test_tbs $(TBIN)/test_facts_openssl \
	$(TBIN)/test_facts_crl $(TBIN)/test_facts_ocsp

# Speed of classify + facts on a typical leaf TBS (p50 over 100k runs).
$(TBIN)/bench_policy: $(OBJ)/tests/policy/bench_policy.o $(POLICY_TEST_UTIL) $(POLICY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ -lcrypto $(CHECK_LIBS)

.PHONY: bench-policy
bench-policy: $(TBIN)/bench_policy
	$(TBIN)/bench_policy
bench: bench-policy

# Fuzz targets (fuzz/build.mk holds the rules; it is included after this file, so the
# paths are spelled out here).
FUZZ_TARGETS += fuzz_der fuzz_tbs
$(BUILD)/fuzz/bin/fuzz_der: $(BUILD)/fuzz/obj/policy-engine/der.o
$(BUILD)/fuzz/bin/fuzz_tbs: $(patsubst $(OBJ)/%,$(BUILD)/fuzz/obj/%,$(POLICY_OBJS))

# --- the policy file, its evaluation and the state (issue 3 §2) ----------------------
# These need jansson, libpsl and libcrypto (SHA-256): link $(POLICY_RULES_LIBS) with
# $(POLICY_LIB).  POLICY_OBJS (the facts) stays dependency-free.
POLICY_RULES_OBJS := $(OBJ)/policy-engine/pol_names.o $(OBJ)/policy-engine/pol_policy.o \
	$(OBJ)/policy-engine/pol_policy_names.o $(OBJ)/policy-engine/pol_rate.o \
	$(OBJ)/policy-engine/pol_eval.o $(OBJ)/policy-engine/pol_eval_cert.o \
	$(OBJ)/policy-engine/pol_eval_names.o $(OBJ)/policy-engine/pol_digest.o
POLICY_RULES_LIBS := -ljansson -lpsl -lcrypto
$(POLICY_LIB): $(POLICY_RULES_OBJS)

$(TBIN)/test_policy_names: $(OBJ)/tests/test_policy_names.o $(POLICY_RULES_OBJS) $(POLICY_OBJS)
$(TBIN)/test_policy_names: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_load: $(OBJ)/tests/test_policy_load.o $(POLICY_RULES_OBJS) $(POLICY_OBJS)
$(TBIN)/test_policy_load: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_eval: $(OBJ)/tests/test_policy_eval.o $(POLICY_TEST_UTIL) \
	$(POLICY_RULES_OBJS) $(POLICY_OBJS)
$(TBIN)/test_policy_eval: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_rate: $(OBJ)/tests/test_policy_rate.o $(POLICY_TEST_UTIL) \
	$(POLICY_RULES_OBJS) $(POLICY_OBJS)
$(TBIN)/test_policy_rate: TEST_LIBS := $(POLICY_RULES_LIBS)
UNIT_TESTS += $(TBIN)/test_policy_names $(TBIN)/test_policy_load $(TBIN)/test_policy_eval \
	$(TBIN)/test_policy_rate
.SECONDARY: $(OBJ)/tests/test_policy_names.o $(OBJ)/tests/test_policy_load.o \
	$(OBJ)/tests/test_policy_eval.o $(OBJ)/tests/test_policy_rate.o

# The whole evaluation (classify + facts + rules) of a typical leaf.
$(TBIN)/bench_policy_eval: $(OBJ)/tests/policy/bench_policy_eval.o $(POLICY_TEST_UTIL) \
	$(POLICY_RULES_OBJS) $(POLICY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(POLICY_RULES_LIBS) $(CHECK_LIBS)
.PHONY: bench-policy-eval
bench-policy-eval: $(TBIN)/bench_policy_eval
	$(TBIN)/bench_policy_eval
bench-policy: bench-policy-eval

FUZZ_TARGETS += fuzz_policy_load
$(BUILD)/fuzz/bin/fuzz_policy_load: $(patsubst $(OBJ)/%,$(BUILD)/fuzz/obj/%,$(POLICY_RULES_OBJS) \
	$(POLICY_OBJS))
$(BUILD)/fuzz/bin/fuzz_policy_load: FUZZ_LIBS := $(POLICY_RULES_LIBS)

# warden-admin policy check|test (enclave/admin_policy.c) links the engine; admin.mk is
# read before this file, so the prerequisites are added here.
$(BIN)/warden-admin: $(POLICY_RULES_OBJS) $(POLICY_OBJS)

# --- revocation integrity (issue 5 §1-3): CRL and OCSP rules, the revocation state -----
# pol_eval.o needs these, so every binary above that links $(POLICY_RULES_OBJS) gets them
# too (its prerequisites were expanded before this point).
POLICY_REV_OBJS := $(OBJ)/policy-engine/pol_revoke.o $(OBJ)/policy-engine/pol_eval_crl.o \
	$(OBJ)/policy-engine/pol_eval_ocsp.o $(OBJ)/policy-engine/pol_policy_rev.o \
	$(OBJ)/policy-engine/pol_summary.o $(OBJ)/policy-engine/pol_state_codec.o
POLICY_RULES_OBJS += $(POLICY_REV_OBJS)
$(POLICY_LIB): $(POLICY_REV_OBJS)
$(TBIN)/test_policy_names $(TBIN)/test_policy_load $(TBIN)/test_policy_eval \
	$(TBIN)/test_policy_rate $(TBIN)/bench_policy_eval $(BIN)/warden-admin: $(POLICY_REV_OBJS)
$(BUILD)/fuzz/bin/fuzz_policy_load: $(patsubst $(OBJ)/%,$(BUILD)/fuzz/obj/%,$(POLICY_REV_OBJS))

# Unit tests of the revocation rules and state.
REV_TEST_DEPS := $(POLICY_TEST_UTIL) $(POLICY_RULES_OBJS) $(POLICY_OBJS)
$(TBIN)/test_policy_crl: $(OBJ)/tests/test_policy_crl.o $(REV_TEST_DEPS)
$(TBIN)/test_policy_crl: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_ocsp: $(OBJ)/tests/test_policy_ocsp.o $(REV_TEST_DEPS)
$(TBIN)/test_policy_ocsp: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_revstate: $(OBJ)/tests/test_policy_revstate.o $(REV_TEST_DEPS)
$(TBIN)/test_policy_revstate: TEST_LIBS := $(POLICY_RULES_LIBS)
$(TBIN)/test_policy_summary: $(OBJ)/tests/test_policy_summary.o $(REV_TEST_DEPS)
$(TBIN)/test_policy_summary: TEST_LIBS := $(POLICY_RULES_LIBS)
UNIT_TESTS += $(TBIN)/test_policy_crl $(TBIN)/test_policy_ocsp $(TBIN)/test_policy_revstate \
	$(TBIN)/test_policy_summary
.SECONDARY: $(OBJ)/tests/test_policy_crl.o $(OBJ)/tests/test_policy_ocsp.o \
	$(OBJ)/tests/test_policy_revstate.o $(OBJ)/tests/test_policy_summary.o

# The whole state as bytes (pol_state_codec.c, the enclave's audit snapshots).
$(TBIN)/test_policy_state_codec: $(OBJ)/tests/test_policy_state_codec.o $(REV_TEST_DEPS)
$(TBIN)/test_policy_state_codec: TEST_LIBS := $(POLICY_RULES_LIBS)
UNIT_TESTS += $(TBIN)/test_policy_state_codec
.SECONDARY: $(OBJ)/tests/test_policy_state_codec.o

# p50 evaluation of CRLs of 1,000 and 100,000 entries and OCSP responses of 1 and 20
# SingleResponses (part of bench-policy).
$(TBIN)/bench_policy_rev: $(OBJ)/tests/policy/bench_policy_rev.o $(REV_TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(POLICY_RULES_LIBS) $(CHECK_LIBS)
.PHONY: bench-policy-rev
bench-policy-rev: $(TBIN)/bench_policy_rev
	$(TBIN)/bench_policy_rev
bench-policy: bench-policy-rev

# The decoders of what the enclave replays from its audit log (pol_summary.c, pol_revoke.c).
FUZZ_TARGETS += fuzz_pol_summary
$(BUILD)/fuzz/bin/fuzz_pol_summary: $(patsubst $(OBJ)/%,$(BUILD)/fuzz/obj/%,$(POLICY_RULES_OBJS) \
	$(POLICY_OBJS))
$(BUILD)/fuzz/bin/fuzz_pol_summary: FUZZ_LIBS := $(POLICY_RULES_LIBS)

# The decoder of the policy state read back from audit snapshots (pol_state_codec.c).
FUZZ_TARGETS += fuzz_pol_state
$(BUILD)/fuzz/bin/fuzz_pol_state: $(patsubst $(OBJ)/%,$(BUILD)/fuzz/obj/%,$(POLICY_RULES_OBJS) \
	$(POLICY_OBJS))
$(BUILD)/fuzz/bin/fuzz_pol_state: FUZZ_LIBS := $(POLICY_RULES_LIBS)
