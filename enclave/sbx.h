/*
 * sbx.h - the enclave's sandbox: drop to the service user, no dumps, no new
 * privileges, Landlock on the file system, and a seccomp allowlist that kills.
 *
 * Entered once, in the main thread, before any thread is created; it is
 * irreversible.  Everything that needs broader rights happens before.
 */
#ifndef WARDEN_SBX_H
#define WARDEN_SBX_H

#include <stddef.h>
#include <sys/types.h>

#define SBX_MAX_PATHS 24u

struct sbx_config {
	const char *user; /* drop to this user when running as root; NULL: stay */
	/* Directories left readable and writable (Landlock); nothing else is. */
	const char *rw_paths[SBX_MAX_PATHS];
	size_t num_rw_paths;
	/* Files (or directories whose files) stay readable, nothing more: the policy
	 * file, so that SIGHUP can re-read it. */
	const char *ro_paths[SBX_MAX_PATHS];
	size_t num_ro_paths;
};

/* Looks up the user (before anything is restricted).  0, or -1 with err set.  A NULL
 * user or a non-root process gives uid/gid -1 (no change). */
__attribute__((warn_unused_result)) int sbx_user_lookup(const char *user, uid_t *out_uid,
							gid_t *out_gid, char *err,
							size_t err_len);

/* The Landlock step of sbx_enter alone (exposed for tests): handles every right the
 * running kernel's ABI knows (not only those of the build's headers) and grants
 * rw_paths read, write, create, remove and truncate of files beneath them, and ro_paths
 * reading files beneath them.  Sets
 * *out_abi to the ABI used, 0 when the kernel has no Landlock (logged; not an error:
 * seccomp still applies and the enclave runs, see docs).  0, or -1 with err set. */
__attribute__((warn_unused_result)) int sbx_landlock_restrict(const struct sbx_config *cfg,
							      int *out_abi, char *err,
							      size_t err_len);

/* Enters the sandbox.  Returns 0, or -1 with a sentence in err (the caller exits).
 * Landlock missing from the kernel is logged, not an error. */
__attribute__((warn_unused_result)) int sbx_enter(const struct sbx_config *cfg, char *err,
						  size_t err_len);

#endif
