/*
 * sign.c - mechanisms and the sign state machine.
 *
 * C_SignInit checks everything the module can know (login, key, mechanism, parameters).
 * C_Sign, or C_SignUpdate... C_SignFinal, gather the data up to the enclave's max_data.
 * A length query (pSignature NULL) or a too-small buffer answers the key's fixed
 * signature length and keeps the operation, with no request to the enclave.  Any other
 * outcome ends the operation, errors included; one-shot and multi-part do not mix.
 * The SIGN round trip runs unlocked: the data buffer is moved out of the session first and
 * the op marked busy, and the session is looked up again afterwards by handle and op_id.
 */
#include "wp11.h"

#include <stdlib.h>
#include <string.h>

struct pss_hash {
	CK_MECHANISM_TYPE combined; /* CKM_SHAx_RSA_PKCS_PSS */
	CK_MECHANISM_TYPE hash;     /* CKM_SHAx */
	CK_RSA_PKCS_MGF_TYPE mgf;   /* CKG_MGF1_SHAx */
	CK_ULONG hash_len;
};

static const struct pss_hash pss_hashes[] = {
	{CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20},
	{CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28},
	{CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32},
	{CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48},
	{CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64},
};
#define NUM_PSS_HASHES (sizeof(pss_hashes) / sizeof(pss_hashes[0]))

static int is_pss(CK_MECHANISM_TYPE m)
{
	if (m == CKM_RSA_PKCS_PSS)
		return 1;
	for (size_t i = 0; i < NUM_PSS_HASHES; i++)
		if (pss_hashes[i].combined == m)
			return 1;
	return 0;
}

static int is_ecdsa(CK_MECHANISM_TYPE m)
{
	return m == CKM_ECDSA || m == CKM_ECDSA_SHA1 || m == CKM_ECDSA_SHA224 ||
	       m == CKM_ECDSA_SHA256 || m == CKM_ECDSA_SHA384 || m == CKM_ECDSA_SHA512;
}

void wp11_sign_op_end(struct wp11_sign_op *op)
{
	free(op->data);
	memset(op, 0, sizeof(*op));
}

/* Checks a mechanism's parameters; fills the op's wire form of them. */
static CK_RV mech_params_check(const CK_MECHANISM *m, const struct wp11_key *key,
			       struct wp11_sign_op *op)
{
	op->param_kind = WIRE_PK_NONE;
	if (!is_pss(m->mechanism))
		return m->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
		return CKR_MECHANISM_PARAM_INVALID;
	const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
	const struct pss_hash *h = NULL, *mgf = NULL;
	for (size_t i = 0; i < NUM_PSS_HASHES; i++) {
		if (pss_hashes[i].hash == p->hashAlg)
			h = &pss_hashes[i];
		if (pss_hashes[i].mgf == p->mgf)
			mgf = &pss_hashes[i];
	}
	if (h == NULL || mgf == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if (m->mechanism != CKM_RSA_PKCS_PSS && h->combined != m->mechanism)
		return CKR_MECHANISM_PARAM_INVALID;
	/* emLen >= hLen + sLen + 2 (RFC 8017, 9.1.1) */
	if (key->sig_len < h->hash_len + 2 || p->sLen > key->sig_len - h->hash_len - 2)
		return CKR_MECHANISM_PARAM_INVALID;
	op->param_kind = WIRE_PK_PSS;
	op->pss_hash_alg = p->hashAlg;
	op->pss_mgf = p->mgf;
	op->pss_salt_len = p->sLen;
	return CKR_OK;
}

/* --- mechanisms ------------------------------------------------------------------- */

/* The union of every key's mechanisms, in order of first appearance. */
static CK_ULONG mech_union_unlocked(CK_MECHANISM_TYPE *out, CK_ULONG max)
{
	const struct wp11_token *t = wp11_g.token;
	CK_ULONG n = 0;

	for (uint32_t k = 0; t != NULL && k < t->num_keys; k++) {
		for (uint32_t i = 0; i < t->keys[k].num_mechs; i++) {
			CK_MECHANISM_TYPE m = t->keys[k].mechs[i];
			CK_ULONG j;
			for (j = 0; j < n && out[j] != m; j++)
				;
			if (j == n && n < max)
				out[n++] = m;
		}
	}
	return n;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
			 CK_ULONG_PTR pulCount)
{
	CK_MECHANISM_TYPE mechs[WIRE_MAX_KEYS * WIRE_MAX_MECHS];
	CK_RV rv = wp11_slot_check(slotID, pulCount != NULL);

	if (rv == CKR_OK)
		rv = wp11_token_enter();
	if (rv != CKR_OK)
		return rv;
	CK_ULONG n = mech_union_unlocked(mechs, sizeof(mechs) / sizeof(mechs[0]));
	wp11_unlock();
	return wp11_list_answer(pMechanismList, pulCount, mechs, n, sizeof(mechs[0]));
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	CK_RV rv = wp11_slot_check(slotID, pInfo != NULL);

	if (rv == CKR_OK)
		rv = wp11_token_enter();
	if (rv != CKR_OK)
		return rv;
	const struct wp11_token *t = wp11_g.token;
	CK_ULONG min = 0, max = 0;
	int found = 0;
	for (uint32_t k = 0; t != NULL && k < t->num_keys; k++) {
		for (uint32_t i = 0; i < t->keys[k].num_mechs; i++) {
			if (t->keys[k].mechs[i] != type)
				continue;
			CK_ULONG bits = t->keys[k].key_bits;
			if (!found || bits < min)
				min = bits;
			if (!found || bits > max)
				max = bits;
			found = 1;
		}
	}
	wp11_unlock();
	if (!found)
		return CKR_MECHANISM_INVALID;
	/* Set, not OR-ed into whatever the caller's memory held. */
	pInfo->ulMinKeySize = min;
	pInfo->ulMaxKeySize = max;
	pInfo->flags = CKF_SIGN;
	if (is_ecdsa(type))
		pInfo->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	return CKR_OK;
}

/* --- the sign state machine -------------------------------------------------------- */

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (pMechanism == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (s->sign.active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if (!wp11_g.logged_in) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	const struct wp11_key *key = wp11_signing_key_unlocked(hKey);
	if (key == NULL) {
		rv = CKR_KEY_HANDLE_INVALID;
		goto out;
	}
	uint32_t i;
	for (i = 0; i < key->num_mechs && key->mechs[i] != pMechanism->mechanism; i++)
		;
	if (i == key->num_mechs) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	struct wp11_sign_op op;
	memset(&op, 0, sizeof(op));
	rv = mech_params_check(pMechanism, key, &op);
	if (rv != CKR_OK)
		goto out;
	op.active = 1;
	op.op_id = ++wp11_g.next_op_id;
	op.mode = WP11_SIGN_NONE;
	op.key_id = key->key_id;
	op.sig_len = key->sig_len;
	op.mechanism = pMechanism->mechanism;
	s->sign = op;
out:
	wp11_unlock();
	return rv;
}

/* What a SIGN round trip needs, copied out of the locked state. */
struct sign_job {
	CK_SESSION_HANDLE session;
	uint64_t op_id;
	struct wire_sign_req req;
	uint32_t sig_len;
};

/* Looks the op up and checks the calls common to C_Sign (mode WP11_SIGN_ONESHOT) and
 * C_SignUpdate/C_SignFinal (WP11_SIGN_MULTI): the two do not mix, and the first call sets
 * the op's mode.  CKR_OK: lock held, *out set.  Else the lock is released (and the op
 * ended when the modes were mixed). */
static CK_RV op_enter(CK_SESSION_HANDLE h, enum wp11_sign_mode mode, struct wp11_session **out)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(h, &s);
	if (rv != CKR_OK)
		return rv;
	if (!s->sign.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else if (s->sign.busy) {
		rv = CKR_OPERATION_ACTIVE; /* another thread's signature is in flight */
	} else if (s->sign.mode != WP11_SIGN_NONE && s->sign.mode != mode) {
		rv = CKR_OPERATION_ACTIVE; /* the other kind of operation began it */
		wp11_sign_op_end(&s->sign);
	}
	if (rv != CKR_OK) {
		wp11_unlock();
		return rv;
	}
	s->sign.mode = mode;
	*out = s;
	return CKR_OK;
}

/* Ends the op after a failed check (lock held; released). */
static CK_RV op_fail(struct wp11_sign_op *op, CK_RV rv)
{
	wp11_sign_op_end(op);
	wp11_unlock();
	return rv;
}

static uint64_t max_data_unlocked(void)
{
	return wp11_g.token != NULL ? wp11_g.token->max_data : WIRE_MAX_DATA;
}


/* Prepares the job and marks the op busy (lock held). */
static void job_start_unlocked(struct wp11_session *s, struct sign_job *job)
{
	struct wp11_sign_op *op = &s->sign;
	memset(job, 0, sizeof(*job));
	job->session = s->handle;
	job->op_id = op->op_id;
	job->sig_len = op->sig_len;
	memcpy(job->req.ticket, wp11_g.ticket, WIRE_TICKET_LEN);
	job->req.key_id = op->key_id;
	job->req.mechanism = op->mechanism;
	job->req.param_kind = op->param_kind;
	job->req.pss_hash_alg = op->pss_hash_alg;
	job->req.pss_mgf = op->pss_mgf;
	job->req.pss_salt_len = op->pss_salt_len;
	op->busy = 1;
}

/* The round trip (unlocked), then the op ends; a "not logged in" drops the login it
 * was made with. */
static CK_RV job_run(struct sign_job *job, const uint8_t *data, size_t len, CK_BYTE_PTR sig,
		     CK_ULONG_PTR sig_len)
{
	struct wire_buf req;
	struct wp11_resp resp;
	const uint8_t *p;
	size_t n;
	CK_RV rv;

	wire_buf_init(&req);
	memset(&resp, 0, sizeof(resp));
	job->req.data = data;
	job->req.data_len = len;
	if (wire_enc_sign_req(&req, &job->req) != 0) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = wp11_call(WIRE_SIGN, &req, &resp);
	if (rv == CKR_TOKEN_NOT_PRESENT)
		rv = CKR_DEVICE_ERROR;
	if (rv != CKR_OK)
		goto out;
	if (resp.status != WARDEN_OK) {
		rv = wp11_rv_from_status(resp.status, resp.message);
		goto out;
	}
	if (wire_get_bytes(&resp.rest, WIRE_MAX_SIG, &p, &n) != 0 || !wire_cur_done(&resp.rest) ||
	    n == 0 || n > job->sig_len || n > *sig_len) {
		wp11_log(WP11_LOG_ERROR, "malformed SIGN answer");
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	memcpy(sig, p, n);
	*sig_len = n;
out:
	wp11_resp_free(&resp);
	wire_buf_free(&req);
	if (wp11_enter() == CKR_OK) {
		struct wp11_session *s = wp11_session_find_unlocked(job->session);
		if (s != NULL && s->sign.op_id == job->op_id)
			wp11_sign_op_end(&s->sign);
		if (rv == CKR_USER_NOT_LOGGED_IN && wp11_g.logged_in &&
		    memcmp(wp11_g.ticket, job->req.ticket, WIRE_TICKET_LEN) == 0) {
			wp11_log(WP11_LOG_INFO, "the enclave no longer knows our login: dropped");
			wp11_login_drop_unlocked();
		}
		wp11_unlock();
	}
	explicit_bzero(job->req.ticket, sizeof(job->req.ticket));
	return rv;
}

/* The end of C_Sign and C_SignFinal (lock held; released).  A length query or a too-small
 * buffer answers the key's signature length and keeps the op; else the SIGN round trip
 * runs on data and the op ends.  Data gathered by C_SignUpdate (data may be it) is moved
 * out of the op first: the session may close while we wait. */
static CK_RV sign_finish(struct wp11_session *s, const uint8_t *data, size_t len,
			 CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	struct wp11_sign_op *op = &s->sign;
	struct sign_job job;
	CK_RV rv;

	if (sig == NULL || *sig_len < op->sig_len) {
		rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*sig_len = op->sig_len;
		wp11_unlock();
		return rv;
	}
	uint8_t *gathered = op->data;
	op->data = NULL;
	op->data_len = op->data_cap = 0;
	job_start_unlocked(s, &job);
	wp11_unlock();
	rv = job_run(&job, data, len, sig, sig_len);
	free(gathered);
	return rv;
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	     CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	struct wp11_session *s;
	CK_RV rv = op_enter(hSession, WP11_SIGN_ONESHOT, &s);

	if (rv != CKR_OK)
		return rv;
	if (pulSignatureLen == NULL || (pData == NULL && ulDataLen > 0))
		return op_fail(&s->sign, CKR_ARGUMENTS_BAD);
	if (ulDataLen > max_data_unlocked())
		return op_fail(&s->sign, CKR_DATA_LEN_RANGE);
	return sign_finish(s, pData, ulDataLen, pSignature, pulSignatureLen);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	struct wp11_session *s;
	CK_RV rv = op_enter(hSession, WP11_SIGN_MULTI, &s);

	if (rv != CKR_OK)
		return rv;
	struct wp11_sign_op *op = &s->sign;
	if (pPart == NULL && ulPartLen > 0)
		return op_fail(op, CKR_ARGUMENTS_BAD);
	uint64_t max = max_data_unlocked();
	/* data_len may exceed max when a newer HELLO lowered it: never wrap. */
	if (op->data_len > max || ulPartLen > max - op->data_len)
		return op_fail(op, CKR_DATA_LEN_RANGE);
	size_t need = op->data_len + ulPartLen;
	if (need > op->data_cap) {
		size_t cap = op->data_cap > 0 ? op->data_cap : WP11_SIGN_INITIAL_CAP;
		while (cap < need)
			cap *= 2;
		if (cap > max)
			cap = need;
		uint8_t *p = realloc(op->data, cap);
		if (p == NULL)
			return op_fail(op, CKR_HOST_MEMORY);
		op->data = p;
		op->data_cap = cap;
	}
	if (ulPartLen > 0)
		memcpy(op->data + op->data_len, pPart, ulPartLen);
	op->data_len = need;
	wp11_unlock();
	return CKR_OK;
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	struct wp11_session *s;
	CK_RV rv = op_enter(hSession, WP11_SIGN_MULTI, &s);

	if (rv != CKR_OK)
		return rv;
	if (pulSignatureLen == NULL)
		return op_fail(&s->sign, CKR_ARGUMENTS_BAD);
	return sign_finish(s, s->sign.data, s->sign.data_len, pSignature, pulSignatureLen);
}

CK_RV wp11_session_cancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if ((flags & CKF_SIGN) && s->sign.active) {
		if (s->sign.busy)
			rv = CKR_OPERATION_CANCEL_FAILED;
		else
			wp11_sign_op_end(&s->sign);
	}
	wp11_unlock();
	return rv;
}
