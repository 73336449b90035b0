/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzzers (xen_fuzz_vmm, xen_fuzz_lifecycle) share: the seed, a
 * small PRNG, a ring of the last operations (shared with forked children),
 * failure reports that print that ring, and a watchdog.
 *
 * Reproducing a run: FUZZ_SEED=<seed printed by the failed run>.  Every
 * thread draws from its own generator, seeded from the run's seed and its
 * number, so each thread replays the same operations; how they interleave
 * with each other and with the vCPUs still depends on timing.
 */
#ifndef PERSONA_FUZZ_H
#define PERSONA_FUZZ_H

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>

#include "persona_xen.h"

/* ---- Seed and random numbers ------------------------------------------- */

static u64 fz_seed;

struct fz_rng {
	u64 s;
};

/* splitmix64: spreads a seed (or seed + stream number) over 64 bits. */
static inline u64 fz_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline void fz_rng_init(struct fz_rng *r, u64 stream)
{
	r->s = fz_mix(fz_seed ^ fz_mix(stream)) | 1;
}

/* xorshift64* */
static inline u64 fz_rand(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static inline u64 fz_below(struct fz_rng *r, u64 n)
{
	return n ? fz_rand(r) % n : 0;
}

/* True with probability @pct percent. */
static inline bool fz_chance(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

#define fz_pick(r, arr)						\
({									\
	typeof(arr) *__a = &(arr);					\
	(*__a)[fz_below(r, ARRAY_SIZE(*__a))];				\
})

static inline u64 fz_env(const char *name, u64 def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/* FUZZ_SEED, or the clock; printed by every fuzzer before anything else. */
static inline void fz_seed_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fz_seed = fz_env("FUZZ_SEED", ts.tv_sec * 1000003ull ^ ts.tv_nsec ^
			 ((u64)getpid() << 32));
	printf("# seed=%llu\n", (unsigned long long)fz_seed);
	fflush(stdout);
}

static inline u64 fz_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- The operation ring ------------------------------------------------- */

#define FZ_RING		64
#define FZ_INFLIGHT	0x7fffffffl	/* result not in yet */

struct fz_rec {
	u64 seq;		/* 1-based; 0: unused */
	u64 t_us;		/* since the start of the run */
	int pid;
	int tid;
	char op[16];
	u64 a[4];
	long res;		/* return value, -errno, or FZ_INFLIGHT */
};

struct fz_shared {
	u64 next_seq;
	u64 ioctls;
	u64 progress;		/* operations completed: the watchdog's pulse */
	u64 t0_ns;
	int owner;		/* the process that reports failures */
	int failing;
	struct fz_rec ring[FZ_RING];
};

/* MAP_SHARED: children forked by the lifecycle fuzzer write to it too. */
static struct fz_shared *fzs;

static inline void fz_ring_init(void)
{
	fzs = mmap(NULL, sizeof(*fzs), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(fzs != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(fzs, 0, sizeof(*fzs));
	fzs->t0_ns = fz_now_ns();
	fzs->owner = getpid();
}

/* Record the start of an operation; returns its sequence number. */
static inline u64 fz_begin(const char *op, u64 a0, u64 a1, u64 a2, u64 a3)
{
	struct fz_rec *rec;
	u64 seq;

	/* A failure is being reported: keep its ring as it is. */
	while (READ_ONCE(fzs->failing))
		pause();
	seq = __atomic_add_fetch(&fzs->next_seq, 1, __ATOMIC_RELAXED);
	rec = &fzs->ring[seq % FZ_RING];

	WRITE_ONCE(rec->seq, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	rec->t_us = (fz_now_ns() - fzs->t0_ns) / 1000;
	rec->pid = getpid();
	rec->tid = syscall(SYS_gettid);
	strncpy(rec->op, op, sizeof(rec->op) - 1);
	rec->op[sizeof(rec->op) - 1] = 0;
	rec->a[0] = a0;
	rec->a[1] = a1;
	rec->a[2] = a2;
	rec->a[3] = a3;
	rec->res = FZ_INFLIGHT;
	__atomic_store_n(&rec->seq, seq, __ATOMIC_RELEASE);
	return seq;
}

static inline void fz_end(u64 seq, long res)
{
	struct fz_rec *rec = &fzs->ring[seq % FZ_RING];

	if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) == seq)
		WRITE_ONCE(rec->res, res);
	__atomic_add_fetch(&fzs->progress, 1, __ATOMIC_RELAXED);
}

/* One recorded ioctl: returns 0 (or the ioctl's value) or -errno. */
static inline long fz_ioctl(int fd, unsigned long req, void *arg,
			    const char *op, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 seq = fz_begin(op, a0, a1, a2, a3);
	long r = ioctl(fd, req, arg);

	if (r < 0)
		r = -errno;
	__atomic_add_fetch(&fzs->ioctls, 1, __ATOMIC_RELAXED);
	fz_end(seq, r);
	return r;
}

/* Also async-signal-safe enough for the SIGALRM watchdog. */
static inline void fz_out(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0 && write(STDOUT_FILENO, buf, n) < 0)
		return;
}

static inline void fz_ring_dump(void)
{
	static struct fz_rec ring[FZ_RING];
	u64 last = __atomic_load_n(&fzs->next_seq, __ATOMIC_ACQUIRE);
	u64 first = last > FZ_RING ? last - FZ_RING + 1 : 1;
	u64 s;

	/* A copy: threads already inside an operation still finish it. */
	memcpy(ring, fzs->ring, sizeof(ring));

	fz_out("# last %llu operations (seed=%llu), oldest first:\n",
	       (unsigned long long)(last - first + 1),
	       (unsigned long long)fz_seed);
	for (s = first; s <= last; s++) {
		struct fz_rec *rec = &ring[s % FZ_RING];
		long res = rec->res;

		if (READ_ONCE(rec->seq) != s)
			continue;
		fz_out("#   %6llu %9.3fms %d/%d %-10s %#llx %#llx %#llx %#llx -> ",
		       (unsigned long long)s, rec->t_us / 1000.0, rec->pid,
		       rec->tid, rec->op, (unsigned long long)rec->a[0],
		       (unsigned long long)rec->a[1],
		       (unsigned long long)rec->a[2],
		       (unsigned long long)rec->a[3]);
		if (res == FZ_INFLIGHT)
			fz_out("(still running)\n");
		else if (res < 0 && res > -4096)
			fz_out("%ld (%s)\n", res, strerror(-res));
		else
			fz_out("%ld\n", res);
	}
}

/* Kernel stacks of every thread of @pid: where a hang sits. */
static inline void fz_dump_stacks(int pid)
{
	char path[300], buf[2048];
	struct dirent *d;
	DIR *dir;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid,
			 d->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		fz_out("# task %d/%s kernel stack:\n", pid, d->d_name);
		for (char *line = strtok(buf, "\n"); line;
		     line = strtok(NULL, "\n"))
			fz_out("#     %s\n", line);
	}
	closedir(dir);
}

/*
 * A failure: say what, with the seed and the ring, and end the process
 * (the harness reports the test as failed).  Only the first caller
 * reports; the others wait to be ended with it.
 */
static inline void __printf(1, 2) __noreturn
fz_fail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	/* A forked helper says why and exits; its parent reports. */
	if (getpid() != fzs->owner) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fflush(stdout);
		fz_out("# FAIL in child %d: %s\n", getpid(), msg);
		_exit(1);
	}
	if (__atomic_exchange_n(&fzs->failing, 1, __ATOMIC_SEQ_CST)) {
		for (;;)
			pause();
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fz_out("# FAIL (pid %d, seed=%llu): %s\n", getpid(),
	       (unsigned long long)fz_seed, msg);
	fz_ring_dump();
	/* Again below the ring: a log cut to its tail still names the cause. */
	fz_out("# FAIL (seed=%llu): %s\n", (unsigned long long)fz_seed, msg);
	_exit(1);
}

/* A set of acceptable errno values, ended by 0. */
#define FZ_ERRS(...)	((const int[]){ __VA_ARGS__, 0 })

static inline bool fz_err_in(long r, const int *errs)
{
	if (r >= 0)
		return true;
	for (; *errs; errs++)
		if (-r == *errs)
			return true;
	return false;
}

/* @r must be 0 or -errno with errno in @errs. */
#define fz_check(r, errs, what, ...)					\
do {									\
	long __r = (r);							\
	if (!fz_err_in(__r, errs))					\
		fz_fail(what ": unexpected result %ld (%s)", ##__VA_ARGS__, \
			__r, __r < 0 ? strerror(-__r) : "not an error"); \
} while (0)

/* @r must be exactly @want (0 or -errno). */
#define fz_check_eq(r, want, what, ...)					\
do {									\
	long __r = (r), __w = (want);					\
	if (__r != __w)							\
		fz_fail(what ": got %ld (%s), ABI says %ld (%s)",	\
			##__VA_ARGS__, __r,				\
			__r < 0 ? strerror(-__r) : "success", __w,	\
			__w < 0 ? strerror(-__w) : "success");		\
} while (0)

/* ---- Watchdog ----------------------------------------------------------- */

static u64 fz_deadline_s, fz_stall_s;
static const char *fz_name;
static void (*fz_watchdog_extra)(void);

static void fz_sigalrm(int sig)
{
	fz_out("# %s: SIGALRM watchdog fired (%llu s, seed=%llu)\n", fz_name,
	       (unsigned long long)fz_deadline_s,
	       (unsigned long long)fz_seed);
	fz_ring_dump();
	fz_dump_stacks(getpid());
	fz_out("# FAIL: %s: SIGALRM watchdog fired (seed=%llu)\n", fz_name,
	       (unsigned long long)fz_seed);
	_exit(1);
}

/*
 * A thread that looks at the pulse every second: no operation completed
 * for fz_stall_s seconds is a hang (a deadlock in the kernel, most
 * likely); print the ring and every thread's kernel stack.  Threads stuck
 * in the kernel cannot be ended, so the process may then linger until the
 * test host's own time limit.
 */
static void *fz_watchdog(void *arg)
{
	u64 last = 0, still = 0;

	for (;;) {
		u64 now = __atomic_load_n(&fzs->progress, __ATOMIC_RELAXED);

		sleep(1);
		if (now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still < fz_stall_s)
			continue;
		if (__atomic_exchange_n(&fzs->failing, 1, __ATOMIC_SEQ_CST))
			return NULL;
		fflush(stdout);
		fz_out("# FAIL: %s: HUNG: no operation completed for %llu s (seed=%llu)\n",
		       fz_name, (unsigned long long)still,
		       (unsigned long long)fz_seed);
		fz_ring_dump();
		fz_dump_stacks(getpid());
		if (fz_watchdog_extra)
			fz_watchdog_extra();
		fz_out("# FAIL: %s: HUNG for %llu s (seed=%llu)\n", fz_name,
		       (unsigned long long)still, (unsigned long long)fz_seed);
		_exit(1);
	}
	return NULL;
}

static inline void fz_watchdog_start(const char *name, u64 deadline_s,
				     u64 stall_s)
{
	struct sigaction sa = { .sa_handler = fz_sigalrm };
	pthread_t t;

	fz_name = name;
	fz_deadline_s = deadline_s;
	fz_stall_s = stall_s;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(deadline_s);
	TEST_ASSERT(!pthread_create(&t, NULL, fz_watchdog, NULL),
		    "watchdog thread");
	pthread_detach(t);
}

/*
 * Operators read the module's debugfs while VMs run, so the fuzzers do
 * too: a thread reads every file of every VM's directory until the
 * process ends (KASAN and lockdep on the debug test host watch it).
 */
static u64 fz_debugfs_reads;

static inline void *fz_debugfs_thread(void *arg)
{
	long n;

	for (;;) {
		n = persona_debugfs_read_vms();
		if (n > 0)
			__atomic_add_fetch(&fz_debugfs_reads, n,
					   __ATOMIC_RELAXED);
		/* An operator's pace, not a busy loop starving the vCPUs. */
		usleep(n < 0 ? 100000 : 5000);
	}
	return NULL;
}

static inline void fz_debugfs_reader_start(void)
{
	pthread_t t;

	if (access("/sys/kernel/debug/kvm", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (pthread_create(&t, NULL, fz_debugfs_thread, NULL))
		fz_fail("pthread_create");
}

#endif /* PERSONA_FUZZ_H */
