# pkcs11-module/ - libwarden-pkcs11.so
#
# Links only libc and pthreads (no crypto: the enclave computes every public value), and
# exports only C_GetFunctionList, C_GetInterfaceList and C_GetInterface (version script).
WP11_SRCS := pkcs11-module/module.c pkcs11-module/session.c pkcs11-module/objects.c \
	pkcs11-module/sign.c pkcs11-module/conn.c pkcs11-module/hello.c pkcs11-module/log.c \
	pkcs11-module/interface.c
WP11_OBJS := $(WP11_SRCS:%.c=$(OBJ)/%.o)
WP11_MAP := pkcs11-module/libwarden-pkcs11.map
WP11_LIB := $(LIB)/libwarden-pkcs11.so

$(WP11_LIB): $(WP11_OBJS) $(WIRE_OBJS) $(WP11_MAP)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(WP11_OBJS) $(WIRE_OBJS) $(LDFLAGS) \
		-Wl,--version-script=$(WP11_MAP) -Wl,-soname,libwarden-pkcs11.so \
		-Wl,--no-undefined -lpthread

ALL_TARGETS += $(WP11_LIB)

# Unit tests link the module's objects directly (they call internals such as
# wp11_hello_parse) and run a small in-process enclave (tests/test_module_fake.c).
WP11_TEST_NAMES := test_module_hello test_module_session test_module_objects \
	test_module_sign test_module_hostile
WP11_TEST_SUPPORT := $(OBJ)/tests/test_module_fake.o
WP11_TESTS := $(WP11_TEST_NAMES:%=$(TBIN)/%)

$(TBIN)/test_module_%: $(OBJ)/tests/test_module_%.o $(WP11_TEST_SUPPORT) $(WP11_OBJS) $(WIRE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS) $(CHECK_LIBS) -lpthread

UNIT_TESTS += $(WP11_TESTS)

.PHONY: module-tests
module-tests: $(WP11_TESTS)
