/*
 * objects.c - objects, attributes, find, and the C_CopyObject alias.
 *
 * Token objects come from HELLO: key index k has handles 4k+1 (private key), 4k+2 (public
 * key) and 4k+3 (certificate).  Private objects are visible only while logged in; an
 * invisible object's handle is CKR_OBJECT_HANDLE_INVALID.  A C_CopyObject of a private key
 * with CKA_TOKEN=false is a session object (handle >= WP11_COPY_HANDLE_BASE) that aliases
 * the same enclave key: it reads like the key with CKA_TOKEN false, and goes away with
 * C_DestroyObject, its session, or the login.  Every value is compared and returned in
 * native form (CK_ULONG, CK_BBOOL, CK_MECHANISM_TYPE arrays).
 */
#include "wp11.h"

#include <stdlib.h>
#include <string.h>

#define WP11_HANDLES_PER_KEY 4u

static const CK_BBOOL ck_false = CK_FALSE;

struct objref {
	const struct wp11_key *key;
	const struct wp11_object *obj;
	const struct wp11_copy *copy; /* non-NULL for a session copy */
};

static struct wp11_copy *copy_find_unlocked(CK_OBJECT_HANDLE h)
{
	for (CK_ULONG i = 0; i < wp11_g.num_copies; i++)
		if (wp11_g.copies[i].handle == h)
			return &wp11_g.copies[i];
	return NULL;
}

/* 0 and *out filled when h is an object this application can see now. */
static int obj_resolve_unlocked(CK_OBJECT_HANDLE h, struct objref *out)
{
	const struct wp11_token *t = wp11_g.token;

	memset(out, 0, sizeof(*out));
	if (t == NULL || h == CK_INVALID_HANDLE)
		return -1;
	if (h >= WP11_COPY_HANDLE_BASE) {
		const struct wp11_copy *c = copy_find_unlocked(h);
		if (c == NULL || !wp11_g.logged_in)
			return -1;
		out->key = wp11_key_by_id_unlocked(c->key_id);
		if (out->key == NULL)
			return -1;
		out->obj = &out->key->objects[WP11_OBJ_PRIVATE];
		out->copy = c;
		return 0;
	}
	CK_ULONG k = (h - 1) / WP11_HANDLES_PER_KEY, r = (h - 1) % WP11_HANDLES_PER_KEY;
	if (k >= t->num_keys || r >= WIRE_MAX_OBJECTS_PER_KEY)
		return -1;
	const struct wp11_object *o = &t->keys[k].objects[r];
	if (!o->present || (o->is_private && !wp11_g.logged_in))
		return -1;
	out->key = &t->keys[k];
	out->obj = o;
	return 0;
}

/* The value of an attribute as this object shows it, or NULL. */
static const void *obj_value(const struct objref *r, CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
	if (r->copy != NULL && type == CKA_TOKEN) {
		*len = sizeof(ck_false);
		return &ck_false;
	}
	const struct wp11_attr *a = wp11_object_attr(r->obj, type);
	if (a == NULL)
		return NULL;
	*len = a->value_len;
	return a->value;
}

struct wp11_key *wp11_signing_key_unlocked(CK_OBJECT_HANDLE h)
{
	struct objref r;
	if (obj_resolve_unlocked(h, &r) != 0 || r.obj->klass != CKO_PRIVATE_KEY)
		return NULL;
	return (struct wp11_key *)r.key;
}

void wp11_copies_drop_session_unlocked(CK_SESSION_HANDLE s)
{
	CK_ULONG j = 0;
	for (CK_ULONG i = 0; i < wp11_g.num_copies; i++)
		if (wp11_g.copies[i].session != s)
			wp11_g.copies[j++] = wp11_g.copies[i];
	wp11_g.num_copies = j;
}

void wp11_copies_drop_all_unlocked(void)
{
	wp11_g.num_copies = 0;
}

void wp11_find_op_end(struct wp11_find_op *op)
{
	free(op->handles);
	memset(op, 0, sizeof(*op));
}

/* The checks of a call on one object, in this order: the session, args_ok (the call's
 * pointer arguments), the object handle.  CKR_OK with the lock held and *out filled, or an
 * error with the lock released. */
static CK_RV enter_object(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, int args_ok,
			  struct objref *out)
{
	CK_RV rv = wp11_session_enter(hSession, NULL);
	if (rv != CKR_OK)
		return rv;
	if (!args_ok)
		rv = CKR_ARGUMENTS_BAD;
	else if (obj_resolve_unlocked(hObject, out) != 0)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv != CKR_OK)
		wp11_unlock();
	return rv;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
			  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct objref r;
	int sensitive = 0, invalid = 0, too_small = 0;
	CK_RV rv = enter_object(hSession, hObject, pTemplate != NULL || ulCount == 0, &r);

	if (rv != CKR_OK)
		return rv;
	/* Every attribute is processed, whatever happens to the others. */
	for (CK_ULONG i = 0; i < ulCount; i++) {
		CK_ATTRIBUTE *a = &pTemplate[i];
		CK_ULONG len;
		const void *v = obj_value(&r, a->type, &len);
		if (v == NULL) {
			if (wp11_attr_is_sensitive(r.obj->klass, a->type))
				sensitive = 1;
			else
				invalid = 1;
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		} else if (a->pValue == NULL) {
			a->ulValueLen = len;
		} else if (a->ulValueLen < len) {
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			too_small = 1;
		} else {
			if (len > 0)
				memcpy(a->pValue, v, len);
			a->ulValueLen = len;
		}
	}
	if (sensitive)
		rv = CKR_ATTRIBUTE_SENSITIVE;
	else if (invalid)
		rv = CKR_ATTRIBUTE_TYPE_INVALID;
	else if (too_small)
		rv = CKR_BUFFER_TOO_SMALL;
	wp11_unlock();
	return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
			  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct objref r;
	CK_RV rv = enter_object(hSession, hObject, pTemplate != NULL || ulCount == 0, &r);

	if (rv != CKR_OK)
		return rv;
	wp11_unlock();
	return CKR_ATTRIBUTE_READ_ONLY; /* every object mirrors the enclave's */
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	struct objref r;
	CK_RV rv = enter_object(hSession, hObject, pulSize != NULL, &r);

	if (rv != CKR_OK)
		return rv;
	CK_ULONG size = 0;
	for (uint32_t i = 0; i < r.obj->num_attrs; i++)
		size += r.obj->attrs[i].value_len;
	*pulSize = size;
	wp11_unlock();
	return CKR_OK;
}

static int template_matches(const struct objref *r, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ULONG len;
		const void *v = obj_value(r, tmpl[i].type, &len);
		if (v == NULL || tmpl[i].ulValueLen != len)
			return 0;
		if (len > 0 && (tmpl[i].pValue == NULL || memcmp(tmpl[i].pValue, v, len) != 0))
			return 0;
	}
	return 1;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (pTemplate == NULL && ulCount > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (s->find.active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	CK_ULONG num_keys = wp11_g.token != NULL ? wp11_g.token->num_keys : 0;
	CK_ULONG max = num_keys * WIRE_MAX_OBJECTS_PER_KEY + wp11_g.num_copies;
	CK_OBJECT_HANDLE *handles = calloc(max > 0 ? max : 1, sizeof(*handles));
	if (handles == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	CK_ULONG n = 0;
	for (CK_ULONG k = 0; k < num_keys; k++) {
		for (CK_ULONG i = 0; i < WIRE_MAX_OBJECTS_PER_KEY; i++) {
			CK_OBJECT_HANDLE h = k * WP11_HANDLES_PER_KEY + i + 1;
			struct objref r;
			if (obj_resolve_unlocked(h, &r) == 0 && template_matches(&r, pTemplate, ulCount))
				handles[n++] = h;
		}
	}
	for (CK_ULONG i = 0; i < wp11_g.num_copies; i++) {
		struct objref r;
		CK_OBJECT_HANDLE h = wp11_g.copies[i].handle;
		if (obj_resolve_unlocked(h, &r) == 0 && template_matches(&r, pTemplate, ulCount))
			handles[n++] = h;
	}
	s->find.active = 1;
	s->find.handles = handles;
	s->find.num = n;
	s->find.pos = 0;
out:
	wp11_unlock();
	return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
		    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (pulObjectCount == NULL || (phObject == NULL && ulMaxObjectCount > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!s->find.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	CK_ULONG n = 0;
	while (n < ulMaxObjectCount && s->find.pos < s->find.num) {
		struct objref r;
		CK_OBJECT_HANDLE h = s->find.handles[s->find.pos++];
		/* Skip what became invisible since (a logout, a destroyed copy). */
		if (obj_resolve_unlocked(h, &r) == 0)
			phObject[n++] = h;
	}
	*pulObjectCount = n;
out:
	wp11_unlock();
	return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (!s->find.active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else
		wp11_find_op_end(&s->find);
	wp11_unlock();
	return rv;
}

/* A copy's template may only say CKA_TOKEN=false and repeat values the key has. */
static CK_RV copy_template_check(const struct objref *r, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	int token_false = 0;

	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *a = &tmpl[i];
		if (a->pValue == NULL && a->ulValueLen > 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (a->type == CKA_TOKEN) {
			if (a->ulValueLen != sizeof(CK_BBOOL))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			if (*(const CK_BBOOL *)a->pValue != CK_FALSE)
				return CKR_TEMPLATE_INCONSISTENT; /* no new token objects */
			token_false = 1;
			continue;
		}
		CK_ULONG len;
		const void *v = obj_value(r, a->type, &len);
		if (v == NULL)
			return CKR_TEMPLATE_INCONSISTENT;
		if (a->ulValueLen != len || (len > 0 && memcmp(a->pValue, v, len) != 0))
			return CKR_ATTRIBUTE_READ_ONLY;
	}
	/* Without CKA_TOKEN=false the copy would be a token object. */
	return token_false ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
		   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	struct objref r;
	CK_RV rv = enter_object(hSession, hObject,
				phNewObject != NULL && (pTemplate != NULL || ulCount == 0), &r);

	if (rv != CKR_OK)
		return rv;
	if (r.obj->klass != CKO_PRIVATE_KEY) {
		rv = CKR_ACTION_PROHIBITED;
		goto out;
	}
	rv = copy_template_check(&r, pTemplate, ulCount);
	if (rv != CKR_OK)
		goto out;
	if (wp11_g.num_copies >= WP11_MAX_COPIES) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	struct wp11_copy *copies =
		realloc(wp11_g.copies, (wp11_g.num_copies + 1) * sizeof(*wp11_g.copies));
	if (copies == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	wp11_g.copies = copies;
	CK_OBJECT_HANDLE h;
	do {
		h = wp11_g.next_copy++;
		if (wp11_g.next_copy == 0)
			wp11_g.next_copy = WP11_COPY_HANDLE_BASE;
	} while (copy_find_unlocked(h) != NULL);
	copies[wp11_g.num_copies].handle = h;
	copies[wp11_g.num_copies].session = hSession;
	copies[wp11_g.num_copies].key_id = r.key->key_id;
	wp11_g.num_copies++;
	*phNewObject = h;
out:
	wp11_unlock();
	return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	struct objref r;
	CK_RV rv = enter_object(hSession, hObject, 1, &r);

	if (rv != CKR_OK)
		return rv;
	if (r.copy == NULL) {
		rv = CKR_ACTION_PROHIBITED; /* token objects belong to the enclave */
	} else {
		CK_ULONG i = (CK_ULONG)(r.copy - wp11_g.copies);
		wp11_g.copies[i] = wp11_g.copies[wp11_g.num_copies - 1];
		wp11_g.num_copies--;
	}
	wp11_unlock();
	return rv;
}
