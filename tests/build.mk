# tests/ - Check unit tests.  Each component's build.mk adds its own test binaries to
# UNIT_TESTS; this fragment holds the shared link rule and the wire codec's tests.
#
# A unit test is $(TBIN)/test_NAME, linked from $(OBJ)/tests/test_NAME.o (tests/test_NAME.c)
# plus the objects listed as further prerequisites of the binary, e.g.:
#   $(TBIN)/test_foo: $(FOO_OBJS) $(WIRE_OBJS)
#   UNIT_TESTS += $(TBIN)/test_foo
# Extra libraries go in a target-specific TEST_LIBS (`$(TBIN)/test_foo: TEST_LIBS := -lcrypto`).
# A fragment may instead give its binary a recipe of its own.

$(TBIN)/test_%: $(OBJ)/tests/test_%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(TEST_LIBS) $(CHECK_LIBS)

$(TBIN)/test_wire: $(WIRE_OBJS)
UNIT_TESTS += $(TBIN)/test_wire
# Objects made only through the pattern rule are intermediates make would delete; keep them.
.SECONDARY: $(OBJ)/tests/test_wire.o
