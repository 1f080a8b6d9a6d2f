/*
 * enc_pincount.c - the PIN failure count as the audit log implies it: one rule shared by
 * the enclave's replay (enc_login_replay) and `warden-admin pin unlock`, which reports
 * the count it clears.  Depends on the audit library only.
 *
 *   LOGIN_FAIL, LOCKOUT  the record's AUD_F_FAILURES (capped at ENC_MAX_PIN_FAILURES);
 *                        without it, LOGIN_FAIL counts one more and LOCKOUT keeps it
 *   LOGIN_OK             0, whatever its fields (a good PIN, or an operator's unlock:
 *                        AUD_F_TEXT / AUD_F_REASON say which)
 *   anything else        unchanged
 */
#include "enc.h"

unsigned enc_pin_failures_next(unsigned count, uint16_t type, const uint8_t *body, size_t len)
{
	struct aud_field f;

	if (type == AUD_T_LOGIN_OK)
		return 0;
	if (type != AUD_T_LOGIN_FAIL && type != AUD_T_LOCKOUT)
		return count;
	if (aud_body_find(body, len, AUD_F_FAILURES, &f))
		return aud_field_uint(&f) > ENC_MAX_PIN_FAILURES ? ENC_MAX_PIN_FAILURES
								 : (unsigned)aud_field_uint(&f);
	return count + (type == AUD_T_LOGIN_FAIL);
}
