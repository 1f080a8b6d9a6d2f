# pkcs11-conformance/ - p11-conformance, a Check suite that tests any PKCS#11 module
# (see pkcs11-conformance/README.md).  `make check-conformance` runs it against
# SoftHSMv2 (the reference, its known deviations in softhsm2.deviations) and against
# Warden (warden.deviations); results go to $(BUILD)/results/conformance-*.txt.
P11C_SRCS := $(wildcard pkcs11-conformance/*.c)
P11C_OBJS := $(P11C_SRCS:%.c=$(OBJ)/%.o)
P11C_BIN := $(TBIN)/p11-conformance
P11C_LIBS := $(CHECK_LIBS) -lcrypto -ldl -lpthread

$(P11C_BIN): $(P11C_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(P11C_LIBS)

# The Warden run needs the module, the enclave and warden-admin.  They are built here
# (so the run never tests stale binaries); when they do not build yet, the Warden run
# reports SKIP lines with the reason instead of failing the SoftHSM run.
P11C_WARDEN_DEPS := $(filter %/libwarden-pkcs11.so %/warden-enclave %/warden-admin,$(ALL_TARGETS))

check-conformance: $(P11C_BIN)
	@mkdir -p $(BUILD)/results
	@st=0; \
	BUILD=$(BUILD) pkcs11-conformance/run-softhsm.sh $(BUILD)/results || st=1; \
	if $(MAKE) --no-print-directory BUILD=$(BUILD) $(P11C_WARDEN_DEPS) \
		>$(BUILD)/results/conformance-warden-build.log 2>&1; then \
		P11C_WARDEN_BUILD=ok; else P11C_WARDEN_BUILD=failed; fi; \
	P11C_WARDEN_BUILD=$$P11C_WARDEN_BUILD \
	P11C_WARDEN_BUILD_LOG=$(BUILD)/results/conformance-warden-build.log \
	BUILD=$(BUILD) pkcs11-conformance/run-warden.sh $(BUILD)/results || st=1; \
	exit $$st
