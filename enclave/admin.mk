# enclave/admin*.c - warden-admin (init; later the policy tools).
ADMIN_OBJS := $(OBJ)/enclave/admin.o $(OBJ)/enclave/admin_init.o \
	$(OBJ)/enclave/admin_token.o $(OBJ)/enclave/admin_cert.o $(OBJ)/enclave/admin_policy.o \
	$(OBJ)/enclave/admin_pin.o
# pin unlock reads enclave.json as the enclave does and counts PIN failures by the
# enclave's rule (enc_pincount.c); neither object pulls in the rest of the daemon.
ADMIN_OBJS += $(OBJ)/enclave/enc_config.o $(OBJ)/enclave/enc_pincount.o

# init writes the starter policy (policy-engine/starter-policy.json, compiled in) and
# starts the audit log with the key ceremony's genesis record (audit library).
$(OBJ)/enclave/starter_policy.inc: policy-engine/starter-policy.json
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@
$(OBJ)/enclave/admin_init.o: $(OBJ)/enclave/starter_policy.inc
$(OBJ)/enclave/admin_init.o: CFLAGS += -I$(OBJ)/enclave

$(BIN)/warden-admin: $(ADMIN_OBJS) $(CORE_OBJS) $(WIRE_OBJS) $(OBJ)/libwarden-audit.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(OBJ)/libwarden-audit.a $(CORE_LIBS) -ljansson \
		$(POLICY_RULES_LIBS)

ALL_TARGETS += $(BIN)/warden-admin

# Unit test: the key ceremony and the certificate against a real SoftHSMv2 token.
$(TBIN)/test_admin_cert: $(OBJ)/tests/test_admin_cert.o $(OBJ)/enclave/admin_token.o \
	$(OBJ)/enclave/admin_cert.o $(CORE_OBJS) $(WIRE_OBJS)
$(TBIN)/test_admin_cert: TEST_LIBS := $(CORE_LIBS)
UNIT_TESTS += $(TBIN)/test_admin_cert
