# enclave/ - the wire codec (shared with the module), the core the enclave and
# warden-admin share, and the warden-enclave daemon.
WIRE_OBJS := $(OBJ)/enclave/wire.o
CORE_OBJS := $(OBJ)/enclave/backend.o $(OBJ)/enclave/sign.o $(OBJ)/enclave/pin.o
CORE_LIBS := -lcrypto -ldl -lpthread
