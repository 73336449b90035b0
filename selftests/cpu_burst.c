// SPDX-License-Identifier: GPL-2.0
/*
 * cpu_burst: a CPU competitor for scripts/shinfo-preempt.sh.
 *
 *   cpu_burst ON_US OFF_US   spin for ON_US microseconds, sleep for
 *                            OFF_US, forever
 *
 * Run at a high nice level on the CPU a test is pinned to, it preempts
 * the test at random points without starving it, as housekeeping
 * kthreads do, only more often.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char *argv[])
{
	long on, off;

	if (argc != 3) {
		fprintf(stderr, "usage: %s ON_US OFF_US\n", argv[0]);
		return 2;
	}
	on = atol(argv[1]);
	off = atol(argv[2]);
	if (on <= 0 || off <= 0) {
		fprintf(stderr, "%s: ON_US and OFF_US must be positive\n",
			argv[0]);
		return 2;
	}
	for (;;) {
		long long end = now_us() + on;

		while (now_us() < end)
			;
		usleep(off);
	}
}
