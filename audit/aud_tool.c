/*
 * aud_tool.c - warden-audit: verify, show and reconcile a Warden audit log.
 *
 *   warden-audit verify LOGDIR [--pubkey FILE] [--checkpoint FILE]
 *   warden-audit show LOGDIR [--since T] [--until T] [--serial HEX] [--name SUBSTR]
 *                            [--key LABEL] [--decision allowed|refused] [--type TYPE]
 *   warden-audit show LOGDIR --revocations [--key LABEL] [--serial HEX]
 *   warden-audit reconcile LOGDIR [--certs FILE|DIR] [--crls FILE|DIR] [--ocsp FILE|DIR]
 *                          [--pubkey FILE]
 *                          [--policy POLICY.json [--ca CA.pem]...]
 *
 * See docs/man/warden-audit.1 and docs/audit-format.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aud_tool.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: warden-audit verify LOGDIR [--pubkey FILE] [--checkpoint FILE]\n"
		   "       warden-audit show LOGDIR [--since T] [--until T] [--serial HEX]\n"
		   "                         [--name SUBSTR] [--key LABEL]\n"
		   "                         [--decision allowed|refused] [--type TYPE]\n"
		   "       warden-audit show LOGDIR --revocations [--key LABEL] [--serial HEX]\n"
		   "       warden-audit reconcile LOGDIR [--certs FILE|DIR] [--crls FILE|DIR]\n"
		   "                         [--ocsp FILE|DIR] [--pubkey FILE]\n"
		   "                         [--policy POLICY.json [--ca CA.pem]...]\n"
		   "T is YYYY-MM-DDTHH:MM:SSZ or seconds since the epoch.\n"
		   "exit: 0 all verified, 1 verification failed, 2 usage or I/O error\n");
}

int tool_load_pubkey(const char *dir, const char *file, uint8_t pub[AUD_ED25519_LEN],
		     char *name, int quiet)
{
	char path[AUD_MAX_PATH], err[AUD_ERR_LEN];

	if (file == NULL) {
		snprintf(path, sizeof path, "%s/%s", dir, AUD_PUBKEY_FILE);
		if (access(path, F_OK) != 0)
			return 0;
		if (!quiet)
			fprintf(stderr, "warden-audit: using %s (a copy kept off this host, given "
					"with --pubkey, is stronger)\n", path);
		file = path;
	}
	if (aud_pubkey_load(file, name, pub, err, sizeof err) != WARDEN_OK) {
		fprintf(stderr, "warden-audit: %s\n", err);
		return -1;
	}
	return 1;
}

void tool_print_failure(FILE *f, const char *dir, const struct aud_scan_result *res)
{
	fprintf(f, "FAIL %s/%s offset %llu: %s: %s\n", dir, res->file[0] ? res->file : "-",
		(unsigned long long)res->offset, aud_verdict_str(res->verdict), res->what);
	if (res->num_records > 0)
		fprintf(f, "verified: records 0..%llu (%s/%s up to byte %llu)\n",
			(unsigned long long)(res->num_records - 1), dir, res->good_file,
			(unsigned long long)res->good_end);
	else
		fprintf(f, "verified: no record\n");
}

void tool_json_str(FILE *f, const uint8_t *p, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void tool_hex(FILE *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

int tool_parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0) {
		*out = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static char *read_small_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;

	*len = 0;
	if (f == NULL)
		return NULL;
	buf = malloc(max + 1);
	if (buf != NULL) {
		*len = fread(buf, 1, max + 1, f);
		buf[*len <= max ? *len : max] = '\0';
	}
	fclose(f);
	return buf;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pubkey", required_argument, NULL, 'p'},
		{"checkpoint", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	const char *pubfile = NULL, *ckfile = NULL, *dir;
	char name[AUD_ORIGIN_MAX], path[AUD_MAX_PATH], *ck = NULL;
	uint8_t pub[AUD_ED25519_LEN];
	struct aud_scan_opts o = {0};
	struct aud_scan_result *res = malloc(sizeof *res);
	size_t ck_len = 0;
	int c, have_key, ret = AUD_EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			pubfile = optarg;
		else if (c == 'c')
			ckfile = optarg;
		else
			goto usage;
	}
	if (optind + 1 != argc || res == NULL)
		goto usage;
	dir = argv[optind];
	have_key = tool_load_pubkey(dir, pubfile, pub, name, 0);
	if (have_key < 0)
		goto out;
	if (ckfile == NULL && have_key) {
		snprintf(path, sizeof path, "%s/%s", dir, AUD_CHECKPOINT_FILE);
		if (access(path, F_OK) == 0)
			ckfile = path;
	}
	if (ckfile != NULL) {
		ck = read_small_file(ckfile, AUD_NOTE_MAX, &ck_len);
		if (ck == NULL || ck_len > AUD_NOTE_MAX) {
			fprintf(stderr, "warden-audit: %s: unreadable or too long\n", ckfile);
			goto out;
		}
		if (!have_key) {
			fprintf(stderr, "warden-audit: --checkpoint needs the audit public key "
					"(--pubkey FILE)\n");
			goto out;
		}
	}
	o.dir = dir;
	o.pubkey = have_key ? pub : NULL;
	o.checkpoint_text = ck;
	o.checkpoint_len = ck_len;
	if (aud_scan(&o, res) != AUD_V_OK) {
		tool_print_failure(stdout, dir, res);
		ret = res->verdict == AUD_V_IO || res->verdict == AUD_V_EMPTY ? AUD_EXIT_USAGE
									      : AUD_EXIT_FAIL;
		goto out;
	}
	if (!have_key && res->num_checkpoints > 0) {
		printf("FAIL %s: %llu checkpoint signatures cannot be verified without the audit "
		       "public key (--pubkey FILE)\n",
		       dir, (unsigned long long)res->num_checkpoints);
		ret = AUD_EXIT_FAIL;
		goto out;
	}
	printf("OK %s: records 0..%llu in %llu files, chain intact, %llu checkpoints%s", dir,
	       (unsigned long long)(res->num_records - 1), (unsigned long long)res->num_files,
	       (unsigned long long)res->num_checkpoints,
	       have_key ? " signed by " : "");
	if (have_key)
		printf("%s", name);
	printf("\nhead ");
	tool_hex(stdout, res->head, AUD_HASH_LEN);
	printf("\n");
	if (ck != NULL)
		printf("checkpoint %s: matched\n", ckfile);
	ret = AUD_EXIT_OK;
	goto out;
usage:
	usage(stderr);
out:
	free(ck);
	free(res);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return AUD_EXIT_USAGE;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return tool_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "reconcile") == 0)
		return tool_reconcile(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return AUD_EXIT_OK;
	}
	usage(stderr);
	return AUD_EXIT_USAGE;
}
