# enclave/admin*.c - warden-admin (init; later the policy tools).
ADMIN_OBJS := $(OBJ)/enclave/admin.o $(OBJ)/enclave/admin_init.o \
	$(OBJ)/enclave/admin_token.o $(OBJ)/enclave/admin_cert.o $(OBJ)/enclave/admin_policy.o

$(BIN)/warden-admin: $(ADMIN_OBJS) $(CORE_OBJS) $(WIRE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CORE_LIBS) -ljansson $(POLICY_RULES_LIBS)

ALL_TARGETS += $(BIN)/warden-admin

# Unit test: the key ceremony and the certificate against a real SoftHSMv2 token.
$(TBIN)/test_admin_cert: $(OBJ)/tests/test_admin_cert.o $(OBJ)/enclave/admin_token.o \
	$(OBJ)/enclave/admin_cert.o $(CORE_OBJS) $(WIRE_OBJS)
$(TBIN)/test_admin_cert: TEST_LIBS := $(CORE_LIBS)
UNIT_TESTS += $(TBIN)/test_admin_cert
