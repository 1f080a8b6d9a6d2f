/*
 * faulty_p11.c - a PKCS#11 module for tests: forwards every call to the module named by
 * $FAULTY_P11_TARGET (SoftHSMv2), but flips one bit of every signature C_Sign returns
 * while the file named by $FAULTY_P11_TRIGGER exists.  It stands for a faulty HSM (an
 * RSA-CRT fault): the enclave must verify and withhold such a signature.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST faulty;
static CK_FUNCTION_LIST_PTR target;

static int tripped(void)
{
	/* open, not access: the enclave's seccomp allowlist has openat, and Landlock lets
	 * it reach only the backend's directories, so the trigger lives in the token dir. */
	const char *t = getenv("FAULTY_P11_TRIGGER");
	int fd = t != NULL ? open(t, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static CK_RV faulty_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
			 CK_ULONG_PTR sig_len)
{
	CK_RV rv = target->C_Sign(s, data, len, sig, sig_len);
	if (rv == CKR_OK && sig != NULL && *sig_len > 0 && tripped())
		sig[*sig_len / 2] ^= 0x01;
	return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	if (target == NULL) {
		const char *path = getenv("FAULTY_P11_TARGET");
		void *h = dlopen(path != NULL ? path : "/usr/lib/softhsm/libsofthsm2.so",
				 RTLD_NOW | RTLD_LOCAL);
		if (h == NULL)
			return CKR_GENERAL_ERROR;
		CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
		if (get == NULL || get(&target) != CKR_OK)
			return CKR_GENERAL_ERROR;
		faulty = *target;
		faulty.C_Sign = faulty_sign;
	}
	*out = &faulty;
	return CKR_OK;
}
