/*
 * aud_tool.h - warden-audit's commands (aud_tool*.c).  Exit codes: AUD_EXIT_*.
 */
#ifndef WARDEN_AUD_TOOL_H
#define WARDEN_AUD_TOOL_H

#include <stdio.h>

#include "audit.h"

#define AUD_EXIT_OK 0
#define AUD_EXIT_FAIL 1  /* the log or the certificates failed the check */
#define AUD_EXIT_USAGE 2 /* bad arguments, unreadable files */

/* The audit key to verify with: --pubkey FILE, else LOGDIR/audit.pub when present.
 * Returns 1 loaded, 0 none, -1 error (message printed). */
int tool_load_pubkey(const char *dir, const char *file, uint8_t pub[AUD_ED25519_LEN],
		     char *name, int quiet);
/* Prints the failure of a scan the house way: file, offset, what, verified range. */
void tool_print_failure(FILE *f, const char *dir, const struct aud_scan_result *res);
/* JSON string (quoted, escaped) of len bytes of UTF-8. */
void tool_json_str(FILE *f, const uint8_t *p, size_t len);
void tool_hex(FILE *f, const uint8_t *p, size_t len);
/* Seconds since the epoch from "YYYY-MM-DDTHH:MM:SSZ" or a decimal number. */
int tool_parse_time(const char *s, int64_t *out);

int tool_show(int argc, char **argv);
/* show --revocations (aud_tool_revlist.c): key / serial filter when not NULL. */
int tool_show_revocations(const char *dir, const char *key, const uint8_t *serial,
			  size_t serial_len);
int tool_reconcile(int argc, char **argv);

#endif
