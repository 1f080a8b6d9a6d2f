/*
 * fuzz_tbs.c - classification and the three fact extractors (TBSCertificate,
 * TBSCertList with its entry iterator, OCSP ResponseData) on arbitrary input.
 * No crash, no UB, no leak; failures carry a reason and an offset inside the input;
 * views handed out stay inside the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy.h"

static void inside(const struct der_cur *v, const uint8_t *data, size_t len)
{
	if (v->len != 0)
		assert(v->p >= data && v->p + v->len <= data + len);
}

static void failed(const struct der_err *e, size_t len)
{
	assert(e->reason != DER_OK && e->offset <= len);
	assert(der_reason_str(e->reason) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct pol_cert_facts cert;
	static struct pol_crl_facts crl;
	static struct pol_ocsp_facts ocsp;
	struct der_err e;
	(void)pol_kind_str(pol_classify(data, len));

	if (pol_cert_facts(data, len, &cert, &e)) {
		inside(&cert.serial, data, len);
		inside(&cert.issuer.raw, data, len);
		inside(&cert.subject.raw, data, len);
		inside(&cert.spki.raw, data, len);
		for (size_t i = 0; i < cert.num_san; i++)
			inside(&cert.san[i].value, data, len);
		for (size_t i = 0; i < cert.exts.num; i++)
			inside(&cert.exts.ext[i].value, data, len);
		assert(cert.num_san <= POL_MAX_SAN && cert.exts.num <= POL_MAX_EXTENSIONS);
	} else {
		failed(&e, len);
	}

	if (pol_crl_facts(data, len, &crl, &e)) {
		struct pol_crl_iter it;
		struct pol_crl_entry ent;
		struct der_err ie;
		size_t n = 0;
		der_err_init(&ie, data);
		pol_crl_iter_init(&it, &crl, &ie);
		while (pol_crl_iter_next(&it, &ent)) {
			inside(&ent.serial, data, len);
			n++;
		}
		assert(ie.reason == DER_OK && n == crl.num_revoked);
	} else {
		failed(&e, len);
	}

	if (pol_ocsp_facts(data, len, &ocsp, &e)) {
		assert(ocsp.num_responses <= POL_MAX_OCSP_RESPONSES);
		for (size_t i = 0; i < ocsp.num_responses; i++)
			inside(&ocsp.responses[i].serial, data, len);
	} else {
		failed(&e, len);
	}
	return 0;
}
