# policy-engine/ - strict DER and the facts of what is signed (policy.h), as a static
# archive the enclave and warden-admin link: $(POLICY_LIB).  Pure functions, no
# libraries needed.
POLICY_OBJS := $(OBJ)/policy-engine/der.o $(OBJ)/policy-engine/pol_common.o \
	$(OBJ)/policy-engine/pol_cert.o $(OBJ)/policy-engine/pol_crl.o \
	$(OBJ)/policy-engine/pol_ocsp.o
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
