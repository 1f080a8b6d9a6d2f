/*
 * enclave_snapshot_put.c - appends a state snapshot holding a given blob to an audit log
 * (through the audit library, with the audit key: the records chain and the checkpoint
 * after them is signed), as the enclave would.  tests/integration/enclave_snapshot.sh
 * uses it to plant a blob the enclave cannot decode.  The enclave must not be running.
 *   enclave_snapshot_put LOGDIR AUDIT.key VERSION BLOBFILE
 * Prints the seq of the snapshot's first record.
 */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"

int main(int argc, char **argv)
{
	struct aud_log *log = NULL;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint8_t blob[65536];
	uint64_t seq = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s LOGDIR KEY VERSION BLOBFILE\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[4], "rb");
	if (f == NULL) {
		perror(argv[4]);
		return 1;
	}
	size_t n = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	struct aud_params p = {.dir = argv[1], .key_file = argv[2]};
	if (aud_open(&p, &log, &rep, err, sizeof(err)) != WARDEN_OK) {
		fprintf(stderr, "aud_open: %s\n", err);
		return 1;
	}
	int rc = aud_snapshot_append(log, (uint32_t)strtoul(argv[3], NULL, 10), blob, n, &seq);
	if (rc == WARDEN_OK)
		rc = aud_shutdown(log, "enclave_snapshot_put");
	aud_close(log);
	if (rc != WARDEN_OK) {
		fprintf(stderr, "aud_snapshot_append failed (%d)\n", rc);
		return 1;
	}
	printf("%llu\n", (unsigned long long)seq);
	return 0;
}
