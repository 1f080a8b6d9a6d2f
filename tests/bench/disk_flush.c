/*
 * disk_flush.c - what one durable audit write costs on a file system: 4 KiB
 * O_DIRECT|O_DSYNC writes (the audit writer's mode, docs/audit-format.md "Writer
 * guarantees") into a zero-filled file, from 1 and 2 threads, with the latency per write
 * and the CPU time the process spent per write.  A measuring tool for `make bench`
 * (docs/benchmarks.md, "Why the disk rows stay below issue 4's targets"); it asserts
 * nothing.
 *
 *   disk_flush DIR [WRITES-PER-THREAD]     (default 2000; the file is removed after)
 *
 * One line per thread count:
 *   disk_flush dir=DIR threads=N writes_per_s=.. mean_us=.. p50_us=.. p99_us=.. cpu_us_per_write=..
 * or "disk_flush dir=DIR direct_io=unavailable" where O_DIRECT is refused (tmpfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u
#define SLOTS 2048u /* blocks in the file: writes cycle over them */
#define MAX_THREADS 2

struct run {
	int fd;
	unsigned id, n;
	double *lat_us;
	int err;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void *writer(void *arg)
{
	struct run *r = arg;
	void *buf = NULL;

	if (posix_memalign(&buf, BLOCK, BLOCK) != 0) {
		r->err = ENOMEM;
		return NULL;
	}
	memset(buf, 'w', BLOCK);
	for (unsigned i = 0; i < r->n; i++) {
		/* Each thread its own blocks, as two writes in flight never share one. */
		off_t off = (off_t)(((r->id * r->n + i) % SLOTS) * BLOCK);
		double t0 = now_s();
		if (pwrite(r->fd, buf, BLOCK, off) != (ssize_t)BLOCK) {
			r->err = errno != 0 ? errno : EIO;
			break;
		}
		r->lat_us[i] = (now_s() - t0) * 1e6;
	}
	free(buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	char path[4096];
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2000u;
	static uint8_t zero[BLOCK];
	int zfd, fd, rc = 0;

	if (argc < 2 || n == 0) {
		fprintf(stderr, "usage: disk_flush DIR [WRITES-PER-THREAD]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/disk_flush.%ld.tmp", argv[1], (long)getpid());
	/* Zero-filled and synced first, as the audit writer preallocates: a write then meets
	 * neither a size change nor an unwritten extent. */
	zfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (zfd < 0) {
		fprintf(stderr, "disk_flush: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < SLOTS && rc == 0; i++)
		if (pwrite(zfd, zero, BLOCK, (off_t)i * BLOCK) != (ssize_t)BLOCK)
			rc = 1;
	if (rc != 0 || fsync(zfd) != 0) {
		fprintf(stderr, "disk_flush: zero-filling %s: %s\n", path, strerror(errno));
		close(zfd);
		unlink(path);
		return 1;
	}
	close(zfd);
	fd = open(path, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
	if (fd < 0) {
		printf("disk_flush dir=%s direct_io=unavailable (%s)\n", argv[1], strerror(errno));
		unlink(path);
		return 0;
	}
	for (unsigned threads = 1; threads <= MAX_THREADS && rc == 0; threads++) {
		struct run runs[MAX_THREADS];
		pthread_t t[MAX_THREADS];
		double *lat = calloc((size_t)threads * n, sizeof(double));
		double t0, c0, wall, cpu;

		if (lat == NULL) {
			rc = 1;
			break;
		}
		t0 = now_s();
		c0 = cpu_s();
		for (unsigned i = 0; i < threads; i++) {
			runs[i] = (struct run){fd, i, n, lat + (size_t)i * n, 0};
			if (pthread_create(&t[i], NULL, writer, &runs[i]) != 0)
				runs[i].err = EAGAIN;
		}
		for (unsigned i = 0; i < threads; i++)
			if (runs[i].err != EAGAIN)
				pthread_join(t[i], NULL);
		wall = now_s() - t0;
		cpu = cpu_s() - c0;
		for (unsigned i = 0; i < threads; i++)
			if (runs[i].err != 0) {
				printf("disk_flush dir=%s threads=%u error=%s\n", argv[1], threads,
				       strerror(runs[i].err));
				rc = 1;
			}
		if (rc == 0) {
			size_t total = (size_t)threads * n;
			double sum = 0;
			for (size_t i = 0; i < total; i++)
				sum += lat[i];
			qsort(lat, total, sizeof(double), cmp_double);
			printf("disk_flush dir=%s threads=%u writes_per_s=%.0f mean_us=%.1f p50_us=%.1f "
			       "p99_us=%.1f cpu_us_per_write=%.1f\n",
			       argv[1], threads, (double)total / wall, sum / (double)total,
			       lat[total / 2], lat[total * 99 / 100], cpu * 1e6 / (double)total);
		}
		free(lat);
	}
	close(fd);
	unlink(path);
	return rc;
}
