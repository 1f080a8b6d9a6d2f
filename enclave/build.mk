# enclave/ - the wire codec (shared with the module), the core the enclave and
# warden-admin share, and the warden-enclave daemon.
WIRE_OBJS := $(OBJ)/enclave/wire.o
CORE_OBJS := $(OBJ)/enclave/backend.o $(OBJ)/enclave/sign.o $(OBJ)/enclave/pin.o
CORE_LIBS := -lcrypto -ldl -lpthread

# The daemon: everything but main() is in ENC_OBJS so unit tests can link it.
ENC_OBJS := $(OBJ)/enclave/enc_config.o $(OBJ)/enclave/enc_log.o \
	$(OBJ)/enclave/enc_hello.o $(OBJ)/enclave/enc_login.o $(OBJ)/enclave/enc_conn.o \
	$(OBJ)/enclave/enc_serve.o $(OBJ)/enclave/sbx.o $(OBJ)/enclave/enc_policy.o \
	$(OBJ)/enclave/enc_audit.o $(OBJ)/enclave/enc_decide.o $(OBJ)/enclave/enc_snapshot.o \
	$(OBJ)/enclave/enc_pincount.o
# The policy engine and the audit log (their fragments come later: the archives are
# named here, built by their own rules).
ENC_ARCHIVES := $(OBJ)/libwarden-audit.a $(OBJ)/libwarden-policy.a
ENC_LIBS := $(ENC_ARCHIVES) $(CORE_LIBS) -ljansson -lseccomp -lpsl

$(BIN)/warden-enclave: $(OBJ)/enclave/enc_main.o $(ENC_OBJS) $(CORE_OBJS) $(WIRE_OBJS) \
		$(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS)

ALL_TARGETS += $(BIN)/warden-enclave

# Unit tests (Check).
$(TBIN)/test_pin: $(OBJ)/tests/test_pin.o $(CORE_OBJS) $(WIRE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CORE_LIBS) $(CHECK_LIBS)

$(TBIN)/test_sign: $(OBJ)/tests/test_sign.o $(CORE_OBJS) $(WIRE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CORE_LIBS) $(CHECK_LIBS)

$(TBIN)/test_enclave_config: $(OBJ)/tests/test_enclave_config.o $(ENC_OBJS) $(CORE_OBJS) \
		$(WIRE_OBJS) $(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS) $(CHECK_LIBS)

$(TBIN)/test_enc_login: $(OBJ)/tests/test_enc_login.o $(ENC_OBJS) $(CORE_OBJS) $(WIRE_OBJS) \
		$(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS) $(CHECK_LIBS)

$(TBIN)/test_sbx: $(OBJ)/tests/test_sbx.o $(ENC_OBJS) $(CORE_OBJS) $(WIRE_OBJS) $(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS) $(CHECK_LIBS)

$(TBIN)/test_enc_audit: $(OBJ)/tests/test_enc_audit.o $(ENC_OBJS) $(CORE_OBJS) $(WIRE_OBJS) \
		$(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS) $(CHECK_LIBS)

$(TBIN)/test_enc_snapshot: $(OBJ)/tests/test_enc_snapshot.o $(ENC_OBJS) $(CORE_OBJS) \
		$(WIRE_OBJS) $(ENC_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENC_LIBS) $(CHECK_LIBS)

UNIT_TESTS += $(TBIN)/test_pin $(TBIN)/test_sign $(TBIN)/test_enclave_config \
	$(TBIN)/test_enc_login $(TBIN)/test_sbx $(TBIN)/test_enc_audit $(TBIN)/test_enc_snapshot
