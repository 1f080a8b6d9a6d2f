/*
 * admin_pin.c - `warden-admin pin unlock CONFIG [--reason TEXT]`: clears the user PIN's
 * failure count (and so a lockout) by appending one record to the enclave's audit log,
 * with the enclave stopped.
 *
 * The count lives only in the audit log (enc_login.c): LOGIN_FAIL / LOCKOUT set it,
 * LOGIN_OK resets it, and the enclave rebuilds it at start-up, from a snapshot and the
 * records after it.  So an unlock is a LOGIN_OK record written by the operator:
 *   login_ok { text "PIN unlocked by the operator (warden-admin pin unlock) ...",
 *              reason TEXT (when given), caller_uid getuid(), caller_pid getpid(),
 *              software }
 * followed by a signed checkpoint (aud_checkpoint), so checkpoint.txt covers it.  Being
 * appended after every snapshot, the record is always replayed, and resets the count
 * (enc_pin_failures_next, the rule the enclave's replay uses).
 *
 * The log is opened with the library's writer (aud_open): the directory lock refuses a
 * second writer (WARDEN_E_BUSY: the enclave runs), every record is verified from genesis
 * against the audit key named in enclave.json (no fast start: this is the moment to check
 * the whole chain), a torn tail is repaired as the enclave would, and the replay callback
 * counts the PIN failures the enclave would start with (snapshots are not decoded: every
 * login record is read, which gives the same count).
 *
 * Run as root, the files this run creates or rewrites in the audit directory
 * (checkpoint.txt, a new log file on rotation) are given to the owner of that directory
 * (the enclave's "user"), so the enclave can read them after it drops privileges.
 *
 * Exit status 0 on success, 1 with one line on stderr on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "enc.h"

#define ADMIN_PIN_EXIT_FAIL 1
/* --reason: at most this many bytes (UTF-8, no control characters but tab). */
#define ADMIN_PIN_REASON_MAX 1024u
#define ADMIN_PIN_TEXT_LEN 256u

_Static_assert(ADMIN_PIN_REASON_MAX + ADMIN_PIN_TEXT_LEN + 256u < AUD_MAX_BODY,
	       "the unlock record fits a record");

static void pin_usage(FILE *f)
{
	fprintf(f, "usage: warden-admin pin unlock CONFIG [--reason TEXT]\n"
		   "  With the enclave stopped: clears the user PIN's failure count (and a\n"
		   "  lockout) by appending an operator unlock record (login_ok) and a signed\n"
		   "  checkpoint to the audit log named in CONFIG (enclave.json).\n");
}

/* What the log implies: the PIN failure count after each record, as the enclave replays. */
struct pin_replay {
	unsigned failures;
	uint64_t last_login_seq; /* UINT64_MAX: no login record */
	uint64_t num_records;
};

static int pin_replay_cb(void *ctx, const struct aud_rec *rec)
{
	struct pin_replay *r = ctx;

	r->num_records++;
	if (rec->type == AUD_T_LOGIN_FAIL || rec->type == AUD_T_LOGIN_OK ||
	    rec->type == AUD_T_LOCKOUT) {
		r->failures = enc_pin_failures_next(r->failures, rec->type, rec->body,
						    rec->body_len);
		r->last_login_seq = rec->seq;
	}
	return 0;
}

/* A reason is one line of text: no control characters but tab (UTF-8 is checked by
 * aud_body_finish). */
static int reason_check(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ADMIN_PIN_REASON_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return -1;
	return 0;
}

/* As root: the files of dir changed since t0 and owned by root go to the directory's
 * owner (when that is not root), so that the enclave, once it dropped privileges, can
 * read and replace them.  Returns 0, or -1 with err set. */
static int give_back(const char *dir, time_t t0, char *err, size_t err_len)
{
	struct stat ds, fs;
	struct dirent *e;
	int ret = 0;

	if (geteuid() != 0)
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL || fstat(dirfd(d), &ds) != 0) {
		snprintf(err, err_len, "%s: %s", dir, strerror(errno));
		if (d != NULL)
			closedir(d);
		return -1;
	}
	if (ds.st_uid == 0)
		goto out;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &fs, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(fs.st_mode) || fs.st_uid != 0 || fs.st_ctime < t0)
			continue;
		if (fchownat(dirfd(d), e->d_name, ds.st_uid, ds.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, err_len, "cannot give %s/%s to uid %u: %s", dir, e->d_name,
				 (unsigned)ds.st_uid, strerror(errno));
			ret = -1;
		}
	}
out:
	closedir(d);
	return ret;
}

static int cmd_unlock(int argc, char **argv)
{
	enum { O_REASON = 256, O_HELP };
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, O_REASON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct enc_config cfg;
	struct aud_log *log = NULL;
	struct aud_open_report rep;
	struct pin_replay r = {.last_login_seq = UINT64_MAX};
	struct aud_body b;
	char err[ENC_ERR_LEN], aerr[AUD_ERR_LEN], text[ADMIN_PIN_TEXT_LEN];
	const char *reason = NULL;
	uint64_t seq = 0;
	uid_t uid = getuid();
	pid_t pid = getpid();
	time_t t0 = time(NULL);
	int c, rc, have_cfg = 0, ret = ADMIN_PIN_EXIT_FAIL;

	aud_body_init(&b);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_REASON:
			if (reason_check(optarg) != 0) {
				fprintf(stderr, "warden-admin: --reason must be 1 to %u bytes of "
						"text on one line\n",
					ADMIN_PIN_REASON_MAX);
				goto out;
			}
			reason = optarg;
			break;
		case O_HELP: pin_usage(stdout); ret = 0; goto out;
		default:
			fprintf(stderr, "warden-admin: bad option %s (see warden-admin pin --help)\n",
				argv[optind - 1]);
			goto out;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "warden-admin: usage: warden-admin pin unlock CONFIG "
				"[--reason TEXT]\n");
		goto out;
	}
	if (enc_config_load(argv[optind], &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "warden-admin: %s\n", err);
		goto out;
	}
	have_cfg = 1;
	/* The modes the library asks for (log files 0640, checkpoint.txt 0644), as the
	 * enclave writes them. */
	umask(022);

	struct aud_params p = {
		.dir = cfg.audit_dir,
		.key_file = cfg.audit_key,
		.rotate_bytes = cfg.audit_rotate_bytes,
		.checkpoint_records = cfg.audit_checkpoint_records,
		.checkpoint_ms = cfg.audit_checkpoint_ms,
		.buffered = !cfg.audit_direct_io,
		.genesis = NULL, /* an empty directory is an error: this is no place to start a log */
		.replay = pin_replay_cb,
		.replay_ctx = &r,
	};
	rc = aud_open(&p, &log, &rep, aerr, sizeof(aerr));
	if (rc == WARDEN_E_BUSY) {
		fprintf(stderr, "warden-admin: audit log %s is locked by another writer: stop the "
				"enclave first (warden-admin pin unlock writes to its audit log)\n",
			cfg.audit_dir);
		goto out;
	}
	if (rc != WARDEN_OK) {
		fprintf(stderr, "warden-admin: audit log %s: %s\n", cfg.audit_dir, aerr);
		goto out;
	}
	if (rep.repaired)
		printf("audit log repaired first: %s\n", rep.message);

	unsigned before = r.failures;
	snprintf(text, sizeof(text),
		 "PIN unlocked by the operator (warden-admin pin unlock): %u failure%s before, "
		 "limit %u",
		 before, before == 1 ? "" : "s", cfg.pin_max_failures);
	aud_put_str(&b, AUD_F_TEXT, text);
	if (reason != NULL)
		aud_put_str(&b, AUD_F_REASON, reason);
	aud_put_uint(&b, AUD_F_CALLER_UID, uid);
	aud_put_uint(&b, AUD_F_CALLER_PID, (uint64_t)(uint32_t)pid);
	aud_put_str(&b, AUD_F_SOFTWARE, ENC_SOFTWARE " (warden-admin)");
	rc = aud_body_finish(&b);
	if (rc != WARDEN_OK) {
		fprintf(stderr, "warden-admin: the unlock record cannot be built (%s)\n",
			rc == WARDEN_E_NOMEM ? "out of memory" : "the reason is not valid UTF-8");
		goto out;
	}
	struct aud_record rec = {.type = AUD_T_LOGIN_OK, .body = b.data, .body_len = b.len};
	rc = aud_append(log, &rec, &seq);
	if (rc == WARDEN_OK)
		rc = aud_sync(log, seq);
	if (rc == WARDEN_OK)
		rc = aud_checkpoint(log);
	if (rc != WARDEN_OK) {
		aerr[0] = '\0';
		(void)aud_failed(log, aerr, sizeof(aerr));
		fprintf(stderr, "warden-admin: audit log %s: the unlock record could not be "
				"written: %s\n",
			cfg.audit_dir, aerr[0] != '\0' ? aerr : "error");
		goto out;
	}
	uint64_t num = aud_num_records(log);
	aud_close(log);
	log = NULL;
	if (give_back(cfg.audit_dir, t0, err, sizeof(err)) != 0) {
		fprintf(stderr, "warden-admin: %s\n", err);
		goto out;
	}

	printf("PIN unlocked: record %llu (login_ok, operator unlock by uid %u) in %s\n",
	       (unsigned long long)seq, (unsigned)uid, cfg.audit_dir);
	if (before >= cfg.pin_max_failures)
		printf("the PIN was locked: %u failures (limit %u); the count is now 0\n", before,
		       cfg.pin_max_failures);
	else if (before > 0)
		printf("the PIN was not locked: %u failure%s (limit %u); the count is now 0\n",
		       before, before == 1 ? "" : "s", cfg.pin_max_failures);
	else
		printf("the PIN was not locked and had no failures: nothing to clear (the record "
		       "is written anyway)\n");
	if (cfg.audit_key != NULL)
		printf("a checkpoint signed with %s follows it (%s/%s, %llu records in the log)\n",
		       cfg.audit_key, cfg.audit_dir, AUD_CHECKPOINT_FILE, (unsigned long long)num);
	printf("start the enclave: warden-enclave --config %s\n", argv[optind]);
	ret = 0;
out:
	if (log != NULL)
		aud_close(log);
	aud_body_free(&b);
	if (have_cfg)
		enc_config_free(&cfg);
	return ret;
}

int admin_pin_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "unlock") == 0)
		return cmd_unlock(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		pin_usage(stdout);
		return 0;
	}
	pin_usage(stderr);
	return ADMIN_PIN_EXIT_FAIL;
}
