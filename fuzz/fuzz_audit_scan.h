/*
 * fuzz_audit_scan.h - what fuzz_audit_scan.c and its seed generator
 * (make-corpus-audit.c) share: the input layout and the fixed audit key.
 *
 * An input is a flags byte, the parts its flags announce (in this order), then the bytes
 * of the one log file audit-00000000000000000000.log:
 *
 *   FAS_NOTE     u16 length L, L bytes: a checkpoint text given to aud_scan
 *   FAS_DERIVE   u16 size, u8 tweak: a checkpoint text made by the target (size, the
 *                hash of record size-1 as the reference reader found it, its first
 *                byte xor tweak), signed with the fixed key
 *   FAS_STRETCH  u24 position, u24 count: count zero bytes inserted into the file at
 *                position (modulo the file's length + 1), to cross the reader's 1 MiB
 *                buffer with zero runs
 *   FAS_STOP     u8 k: the callback stops the scan at record k
 *
 * FAS_SIGN: the FAS_NOTE bytes are a note body; the target appends a signature line by
 * the fixed key (so that mutated sizes and heads still carry a valid signature).
 * FAS_REHASH: before the file is written, every record the framing reaches (record
 * lengths, zeros, gaps) gets its hash recomputed, so that mutations inside a record reach
 * the checks behind the hash; FAS_RELINK: its prev_hash is also set to the record
 * before's hash (then mutations reach the seq, type, flags, body and checkpoint checks).
 * FAS_PUBKEY: aud_scan gets the fixed public key.  Every input is also scanned with no
 * key, no checkpoint and no stop.
 */
#ifndef WARDEN_FUZZ_AUDIT_SCAN_H
#define WARDEN_FUZZ_AUDIT_SCAN_H

#define FAS_PUBKEY 0x01u
#define FAS_NOTE 0x02u
#define FAS_SIGN 0x04u
#define FAS_DERIVE 0x08u
#define FAS_STRETCH 0x10u
#define FAS_STOP 0x20u
#define FAS_REHASH 0x40u
#define FAS_RELINK 0x80u

/* Largest FAS_STRETCH count: enough for a zero run the reader must consume part of
 * before it sees its end (more than its first buffer of 1 MiB grown by two read chunks);
 * more would only slow the fuzzer down. */
#define FAS_STRETCH_MAX (4u * 1024u * 1024u)

/* The Ed25519 private key (RFC 8032 seed) of the seeds' logs, not a secret. */
#define FAS_KEY_SEED "warden-fuzz-audit-scan-fixed-key"

#endif
