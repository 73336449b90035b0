// SPDX-License-Identifier: GPL-2.0
/*
 * persona_bench: the guest microbenchmarks behind "make bench".
 *
 * One static program, linked against the 6.1 KVM selftest library like the
 * tests of this directory, so that the same file runs on the stock 6.1 test
 * host with kvm-persona and on the 6.12 anchor kernel with upstream's
 * in-kernel Xen (and on any real x86 host with /dev/kvm).  The guests time
 * themselves with RDTSC over many iterations; the host side repeats each
 * measurement and prints one JSON object per line (scripts/bench.sh
 * collects them):
 *
 *   persona_bench info         kernel, KVM_CAP_XEN_HVM, CPU, TSC rate
 *   persona_bench p1           null hypercall: xen_version answered in the
 *                              kernel vs KVM's own -KVM_ENOSYS
 *   persona_bench p2           Xen hypercall answered by the VMM
 *                              (KVM_EXIT_XEN) vs a port I/O exit
 *   persona_bench p3           two-vCPU ping-pong: event channel IPIs
 *                              (VM-wide and per-vCPU vector) vs x2APIC IPIs
 *   persona_bench p4 --module FILE
 *                              exit-heavy loops in a VM without Xen, with
 *                              FILE (kvm-persona.ko) loaded and unloaded
 *                              in turn (needs root; starts and ends
 *                              without the module)
 *   persona_bench mem          kernel memory per Xen VM and vCPU (root)
 *
 * Options: --reps N (7), --iters N (calibrated), --target-ms MS (300, the
 * time one repetition should take), --vms N (50, mem), --wait halt|spin
 * (halt, p3: how the vCPUs wait for the other's interrupt), --module
 * FILE (p4), --host NAME (a "host" field on every line).
 *
 * Series lines carry the median of the repetitions (TSC ticks per
 * iteration), their minimum and spread, the repetitions themselves and the
 * host's wall-clock view of the same runs (ns per iteration).  The
 * variants of a benchmark are measured in interleaved rounds; a ratio line
 * gives the median of the per-round ratios ("value"), an approximate 95%
 * interval for it ("ci95"), and the ratios of the medians and minima.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

#include "apic.h"
#include "persona_util.h"

/* ---- Guest side --------------------------------------------------------- */

#define MAX_REPS		31
#define BENCH_VCPUS		2

/* A port nothing claims: OUT to it exits to userspace. */
#define USER_PORT		0x1010
/* The master PIC's mask register, emulated inside KVM (in-kernel irqchip). */
#define PIC_IMR_PORT		0x21

/* Event channel ports of the ping-pong: one IPI port per direction. */
#define PORT_TO_VCPU1		3
#define PORT_TO_VCPU0		4
#define UPCALL_VECTOR		0xf3	/* VM-wide callback vector */
#define VCPU_UPCALL_VECTOR	0xe3	/* per-vCPU callback vector */
#define IPI_VECTOR		0xe5	/* the LAPIC ping-pong's vector */

/* Xen's guest ABI, the parts used here. */
#define XEN_EVTCHNOP_send	4
#define XEN_EVTCHNSTAT_ipi	5

/* Guest memory for shared_info and vcpu_info, identity mapped. */
#define XR_GPA			0xd0000000ull
#define XR_SLOT			20
#define XR_PAGES		4
#define SHINFO_GPA		XR_GPA
#define AREA_GPA		(XR_GPA + 0x1000)

/* XENVER_* command that no kernel answers: the VMM does (p2). */
#define XENVER_get_features_cmd	6
/* The Xen version the kernel hands out (p1). */
#define BENCH_XEN_VERSION	0x0004000a

enum bench_op {
	OP_NONE,
	OP_HCALL,	/* iters hypercalls (nr, a1) */
	OP_PIO_OUT,	/* iters OUTs to USER_PORT */
	OP_MIX,		/* iters of CPUID, IN from the PIC, hypercall */
	OP_PING,	/* iters ping-pong round trips with vCPU 1 */
	OP_KICK,	/* one ping without waiting (wakes vCPU 1 to stop) */
};

struct xen_vcpu_info64 {
	u8 evtchn_upcall_pending;
	u8 evtchn_upcall_mask;
	u8 pad0[6];
	u64 evtchn_pending_sel;
	u8 arch_and_time[48];
};

struct xen_shared_info64 {
	struct xen_vcpu_info64 vcpu_info[32];
	u64 evtchn_pending[64];
	u64 evtchn_mask[64];
};

/*
 * Shared by the host and the guest: the host writes the command fields
 * while the vCPUs are out of KVM_RUN, the guest writes results.
 */
struct bench_guest {
	u64 op;
	u64 iters;
	u64 nr;			/* hypercall number (OP_HCALL, OP_MIX) */
	u64 a1;			/* its first argument */
	u64 vmmcall;		/* AMD's instruction, else Intel's */
	u64 x2apic;		/* enable the x2APIC at start */
	u64 xen;		/* p3: event channels, else LAPIC IPIs */
	u64 vcpu_vector;	/* p3: per-vCPU upcall vector (EOI needed) */
	u64 spin;		/* p3: wait by spinning, not with HLT */
	u64 stop;		/* p3: vCPU 1 leaves its loop */
	u64 ready;		/* p3: vCPU 1 is listening */
	u64 cycles;		/* result: TSC ticks of the timed loop */
	u64 last;		/* result: RAX of the last hypercall */
	u64 self[BENCH_VCPUS];	/* %gs:0 of each vCPU: its index */
	u64 rx[BENCH_VCPUS];	/* interrupts taken */
	u64 stray[BENCH_VCPUS];	/* upcalls that found no event */
	u64 vcpu_info[BENCH_VCPUS];
	u32 send_arg[BENCH_VCPUS];	/* struct evtchn_send of each vCPU */
};

static struct bench_guest bg;

static inline u64 guest_index(void)
{
	u64 i;

	__asm__ __volatile__("mov %%gs:0, %0" : "=r"(i));
	return i;
}

static inline u64 hc_vmmcall(u64 nr, u64 a1, u64 a2)
{
	__asm__ __volatile__("vmmcall"
			     : "+a"(nr), "+D"(a1), "+S"(a2) : : "memory");
	return nr;
}

static inline u64 hc_vmcall(u64 nr, u64 a1, u64 a2)
{
	__asm__ __volatile__("vmcall"
			     : "+a"(nr), "+D"(a1), "+S"(a2) : : "memory");
	return nr;
}

static inline u64 guest_hcall(u64 nr, u64 a1, u64 a2)
{
	if (bg.vmmcall)
		return hc_vmmcall(nr, a1, a2);
	return hc_vmcall(nr, a1, a2);
}

static inline void guest_outb(u16 port, u8 v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline u8 guest_inb(u16 port)
{
	u8 v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void guest_sti(void)
{
	__asm__ __volatile__("sti; nop" : : : "memory");
}

static inline void guest_cli(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

/*
 * The timed hypercall loops, one per instruction so that the loop body is
 * the same few instructions in every VM.
 */
static u64 loop_vmmcall(u64 n, u64 nr, u64 a1)
{
	u64 i, r = 0;

	for (i = 0; i < n; i++)
		r = hc_vmmcall(nr, a1, 0);
	return r;
}

static u64 loop_vmcall(u64 n, u64 nr, u64 a1)
{
	u64 i, r = 0;

	for (i = 0; i < n; i++)
		r = hc_vmcall(nr, a1, 0);
	return r;
}

static u64 loop_mix(u64 n, u64 nr)
{
	u32 a, b, c, d;
	u64 i, r = 0;

	for (i = 0; i < n; i++) {
		cpuid(0, &a, &b, &c, &d);
		r += guest_inb(PIC_IMR_PORT);
		r = guest_hcall(nr, r, 0);
	}
	return r;
}

static void loop_pio(u64 n)
{
	u64 i;

	for (i = 0; i < n; i++)
		guest_outb(USER_PORT, (u8)i);
}

/* Interrupt the other vCPU: an event channel send or an x2APIC IPI. */
static inline void guest_ping(u64 self)
{
	if (bg.xen) {
		guest_hcall(XEN_HC_event_channel_op,
			    XEN_EVTCHNOP_send, (u64)&bg.send_arg[self]);
		return;
	}
	x2apic_write_reg(APIC_ICR, ((u64)!self << 32) | APIC_DEST_PHYSICAL |
			 APIC_DM_FIXED | IPI_VECTOR);
}

/* Wait with interrupts enabled until vCPU @i took more than @seen. */
static inline void guest_wait_rx(u64 i, u64 seen)
{
	if (bg.spin) {
		while (READ_ONCE(bg.rx[i]) == seen)
			;
		return;
	}
	for (;;) {
		guest_cli();
		if (READ_ONCE(bg.rx[i]) != seen)
			break;
		/* STI's shadow covers HLT: no wakeup is lost. */
		__asm__ __volatile__("sti; hlt" : : : "memory");
	}
	guest_sti();
}

/*
 * Event channel upcall, as a Linux guest takes it: clear the vCPU's
 * upcall flag, take the selector word, clear the port's pending bit.
 * Each vCPU expects exactly one port; vCPU 1 answers at once.
 */
static void guest_upcall(struct ex_regs *regs)
{
	struct xen_shared_info64 *si = (void *)SHINFO_GPA;
	u64 i = guest_index();
	struct xen_vcpu_info64 *vi = (void *)bg.vcpu_info[i];
	u32 port = i ? PORT_TO_VCPU1 : PORT_TO_VCPU0;
	u64 sel, bit = 1ull << (port % 64);
	bool got;

	WRITE_ONCE(vi->evtchn_upcall_pending, 0);
	sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	got = (sel & (1ull << (port / 64))) &&
	      (__atomic_fetch_and(&si->evtchn_pending[port / 64], ~bit,
				  __ATOMIC_SEQ_CST) & bit);
	if (bg.vcpu_vector)
		x2apic_write_reg(APIC_EOI, 0);
	/*
	 * An upcall with nothing pending is harmless (Linux returns from
	 * it); it is counted, and not answered.
	 */
	if (!got) {
		bg.stray[i]++;
		return;
	}
	/* Counted before answering: vCPU 0 never sees more than vCPU 1. */
	WRITE_ONCE(bg.rx[i], bg.rx[i] + 1);
	if (i == 1)
		guest_ping(1);
}

static void guest_ipi(struct ex_regs *regs)
{
	u64 i = guest_index();

	x2apic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(bg.rx[i], bg.rx[i] + 1);
	if (i == 1)
		guest_ping(1);
}

/* vCPU 1 of the ping-pong: idle with interrupts on until told to stop. */
static void guest_pong(void)
{
	WRITE_ONCE(bg.ready, 1);
	for (;;) {
		guest_cli();
		if (READ_ONCE(bg.stop))
			break;
		if (bg.spin) {
			guest_sti();
			while (!READ_ONCE(bg.stop))
				;
		} else {
			__asm__ __volatile__("sti; hlt" : : : "memory");
		}
	}
	GUEST_DONE();
}

static void guest_do_ping(u64 n)
{
	u64 i, seen, t0;

	while (!READ_ONCE(bg.ready))
		;
	guest_sti();
	t0 = rdtsc();
	for (i = 0; i < n; i++) {
		seen = READ_ONCE(bg.rx[0]);
		guest_ping(0);
		guest_wait_rx(0, seen);
	}
	bg.cycles = rdtsc() - t0;
}

static void guest_main(u64 idx)
{
	u64 t0;

	wrmsr(MSR_GS_BASE, (u64)&bg.self[idx]);
	if (bg.x2apic)
		x2apic_enable();
	if (idx == 1)
		guest_pong();

	for (;;) {
		u64 n = READ_ONCE(bg.iters);

		switch (READ_ONCE(bg.op)) {
		case OP_HCALL:
			t0 = rdtsc();
			if (bg.vmmcall)
				bg.last = loop_vmmcall(n, bg.nr, bg.a1);
			else
				bg.last = loop_vmcall(n, bg.nr, bg.a1);
			bg.cycles = rdtsc() - t0;
			break;
		case OP_PIO_OUT:
			t0 = rdtsc();
			loop_pio(n);
			bg.cycles = rdtsc() - t0;
			break;
		case OP_MIX:
			t0 = rdtsc();
			bg.last = loop_mix(n, bg.nr);
			bg.cycles = rdtsc() - t0;
			break;
		case OP_PING:
			guest_do_ping(n);
			break;
		case OP_KICK:
			guest_ping(0);
			break;
		default:
			break;
		}
		/* ucall() keeps its message in the red zone: no interrupts. */
		guest_cli();
		GUEST_SYNC(0);
	}
}

/* ---- Host side: options, output ----------------------------------------- */

static struct {
	int reps;
	u64 iters;
	unsigned int target_ms;
	unsigned int vms;
	bool spin;
	const char *module;
	const char *host;
} opt = {
	.reps = 7,
	.target_ms = 300,
	.vms = 50,
};

/* Each JSON line starts like this. */
static void jhead(const char *kind, const char *bench)
{
	printf("{");
	if (opt.host)
		printf("\"host\":\"%s\",", opt.host);
	printf("\"kind\":\"%s\",\"bench\":\"%s\"", kind, bench);
}

static void jend(void)
{
	printf("}\n");
	fflush(stdout);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A stuck guest must not hang make bench: give every run a deadline. */
#define RUN_DEADLINE_S		300

static void watchdog(int sig)
{
	static const char msg[] =
		"persona_bench: a guest run took too long, giving up\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[2 * MAX_REPS];
	int i;

	TEST_ASSERT(n > 0 && n <= 2 * MAX_REPS, "bad sample count %d", n);
	for (i = 0; i < n; i++)
		s[i] = v[i];
	qsort(s, n, sizeof(s[0]), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One measured series: ticks and host nanoseconds per iteration. */
struct series {
	const char *name;
	u64 iters;
	u64 stray;		/* p3: upcalls that found no event */
	int n;
	double tsc[MAX_REPS];
	double ns[MAX_REPS];
};

/* Median absolute deviation, in percent of the median: the noise. */
static double spread_pct(const double *v, int n)
{
	double m = median(v, n), d[2 * MAX_REPS];
	int i;

	for (i = 0; i < n; i++)
		d[i] = v[i] > m ? v[i] - m : m - v[i];
	return m ? 100 * median(d, n) / m : 0;
}

static double min_of(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static void jseries(const char *bench, const char *state,
		    const struct series *s)
{
	int i;

	jhead("series", bench);
	printf(",\"variant\":\"%s\"", s->name);
	if (state)
		printf(",\"state\":\"%s\"", state);
	printf(",\"unit\":\"tsc/iter\",\"iters\":%llu,\"median\":%.2f",
	       (unsigned long long)s->iters, median(s->tsc, s->n));
	printf(",\"min\":%.2f,\"spread_pct\":%.1f,\"wall_ns_median\":%.1f",
	       min_of(s->tsc, s->n), spread_pct(s->tsc, s->n),
	       median(s->ns, s->n));
	if (s->stray)
		printf(",\"stray_upcalls\":%llu", (unsigned long long)s->stray);
	printf(",\"reps\":[");
	for (i = 0; i < s->n; i++)
		printf("%s%.2f", i ? "," : "", s->tsc[i]);
	printf("],\"wall_ns\":[");
	for (i = 0; i < s->n; i++)
		printf("%s%.1f", i ? "," : "", s->ns[i]);
	printf("]");
	jend();
}

/* Square root of a small positive integer (no libm in this program). */
static double root_of(int n)
{
	double x = n;
	int i;

	for (i = 0; i < 30; i++)
		x = (x + n / x) / 2;
	return x;
}

/*
 * @num / @den, both measured in the same rounds: the median of the
 * per-round ratios ("value"; a slow phase of the host hits both members
 * of a pair), the ratio of the medians and that of the minima.
 *
 * "ci95" is the half-width of an approximate 95% interval for "value",
 * from the spread of the per-round ratios: 1.96 x 1.2533 (the standard
 * error of a median) x 1.4826 MAD (a robust standard deviation) / sqrt(n).
 * A goal inside value +- ci95 is not resolved by this run.
 */
static void jratio(const char *bench, const char *name,
		   const struct series *num, const struct series *den)
{
	double r[MAX_REPS] = { 0 }, dev[MAX_REPS] = { 0 }, med;
	int i, n = num->n < den->n ? num->n : den->n;

	for (i = 0; i < n; i++)
		r[i] = num->tsc[i] / den->tsc[i];
	med = median(r, n);
	for (i = 0; i < n; i++)
		dev[i] = r[i] > med ? r[i] - med : med - r[i];
	jhead("ratio", bench);
	printf(",\"ratio\":\"%s\",\"value\":%.4f", name, med);
	printf(",\"ci95\":%.4f",
	       1.96 * 1.2533 * 1.4826 * median(dev, n) / root_of(n));
	printf(",\"ratio_of_medians\":%.4f,\"ratio_of_minima\":%.4f",
	       median(num->tsc, num->n) / median(den->tsc, den->n),
	       min_of(num->tsc, num->n) / min_of(den->tsc, den->n));
	printf(",\"per_round\":[");
	for (i = 0; i < n; i++)
		printf("%s%.4f", i ? "," : "", r[i]);
	printf("]");
	jend();
}

/* ---- Host side: VMs ----------------------------------------------------- */

enum bvm_flags {
	BVM_XEN		= 1 << 0,	/* KVM_XEN_HVM_CONFIG + XEN_VERSION */
	BVM_XEN_EVENTS	= 1 << 1,	/* shared_info, vcpu_info, vector */
	BVM_VCPU_VECTOR	= 1 << 2,	/* per-vCPU vector, not VM-wide */
	BVM_PING_PORTS	= 1 << 3,	/* the two IPI ports of p3 */
	BVM_X2APIC	= 1 << 4,
};

struct bvm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[BENCH_VCPUS];
	unsigned int nr_vcpus;
	struct bench_guest *g;
	u8 *region;
	u64 xen_exits;
	u64 io_exits;
};

#define CHECK0(expr, what)						\
	do {								\
		int __r = (expr);					\
		TEST_ASSERT(!__r, "%s: %s", what, strerror(-__r));	\
	} while (0)

static int xen_vcpu_attr_gpa(struct kvm_vcpu *vcpu, u16 type, u64 gpa)
{
	struct kvm_xen_vcpu_attr a = { .type = type, .u.gpa = gpa };

	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_SET_ATTR, &a);
}

static int xen_vcpu_attr_id(struct kvm_vcpu *vcpu, u32 id)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID };

	a.u.vcpu_id = id;
	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_SET_ATTR, &a);
}

static int xen_vcpu_attr_vector(struct kvm_vcpu *vcpu, u8 vector)
{
	struct kvm_xen_vcpu_attr a = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
	};

	a.u.vector = vector;
	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_SET_ATTR, &a);
}

static int xen_vcpu_attr_timer(struct kvm_vcpu *vcpu, u32 port, u64 expires)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };

	a.u.timer.port = port;
	a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	a.u.timer.expires_ns = expires;
	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_SET_ATTR, &a);
}

static int xen_vm_attr(struct kvm_vm *vm, u16 type, u64 val)
{
	struct kvm_xen_hvm_attr a = { .type = type };

	switch (type) {
	case KVM_XEN_ATTR_TYPE_SHARED_INFO:
		a.u.shared_info.gfn = val;
		break;
	case KVM_XEN_ATTR_TYPE_UPCALL_VECTOR:
		a.u.vector = val;
		break;
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
		a.u.long_mode = val;
		break;
	default:
		a.u.xen_version = val;
		break;
	}
	return xen_set_attr(vm, &a);
}

/* An IPI port: sends on @port land on the same port of vCPU @vcpu. */
static int xen_ipi_port(struct kvm_vm *vm, u32 port, u32 vcpu)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	a.u.evtchn.send_port = port;
	a.u.evtchn.type = XEN_EVTCHNSTAT_ipi;
	a.u.evtchn.deliver.port.port = port;
	a.u.evtchn.deliver.port.vcpu = vcpu;
	a.u.evtchn.deliver.port.priority =
		KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	return xen_set_attr(vm, &a);
}

static unsigned int xen_cfg_flags(void)
{
	unsigned int f = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;

	if (xen_caps() & KVM_XEN_HVM_CONFIG_EVTCHN_SEND)
		f |= KVM_XEN_HVM_CONFIG_EVTCHN_SEND;
	return f;
}

/* The Xen configuration a Linux guest under QEMU ends up with. */
static void bvm_setup_xen(struct bvm *b, unsigned int flags)
{
	unsigned int i;

	CHECK0(xen_config_simple(b->vm, xen_cfg_flags(), XEN_HCALL_MSR),
	       "KVM_XEN_HVM_CONFIG");
	CHECK0(xen_vm_attr(b->vm, KVM_XEN_ATTR_TYPE_XEN_VERSION,
			   BENCH_XEN_VERSION), "XEN_VERSION");
	if (!(flags & BVM_XEN_EVENTS))
		return;

	CHECK0(xen_vm_attr(b->vm, KVM_XEN_ATTR_TYPE_LONG_MODE, 1),
	       "LONG_MODE");
	CHECK0(xen_vm_attr(b->vm, KVM_XEN_ATTR_TYPE_SHARED_INFO,
			   SHINFO_GPA >> 12), "SHARED_INFO");
	if (!(flags & BVM_VCPU_VECTOR))
		CHECK0(xen_vm_attr(b->vm, KVM_XEN_ATTR_TYPE_UPCALL_VECTOR,
				   UPCALL_VECTOR), "UPCALL_VECTOR");
	for (i = 0; i < b->nr_vcpus; i++) {
		u64 gpa = AREA_GPA + i * 64;

		CHECK0(xen_vcpu_attr_id(b->vcpu[i], i), "VCPU_ID");
		CHECK0(xen_vcpu_attr_gpa(b->vcpu[i],
					 KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, gpa),
		       "VCPU_INFO");
		b->g->vcpu_info[i] = gpa;
		if (flags & BVM_VCPU_VECTOR)
			CHECK0(xen_vcpu_attr_vector(b->vcpu[i],
						    VCPU_UPCALL_VECTOR),
			       "vCPU UPCALL_VECTOR");
	}
	if (flags & BVM_PING_PORTS) {
		CHECK0(xen_ipi_port(b->vm, PORT_TO_VCPU1, 1), "EVTCHN port");
		CHECK0(xen_ipi_port(b->vm, PORT_TO_VCPU0, 0), "EVTCHN port");
		b->g->send_arg[0] = PORT_TO_VCPU1;
		b->g->send_arg[1] = PORT_TO_VCPU0;
	}
}

/*
 * Every VM of the microbenchmarks is made the same way, with the same
 * memory; only the Xen configuration differs.
 */
static void bvm_create(struct bvm *b, unsigned int nr_vcpus,
		       unsigned int flags)
{
	unsigned int i;

	memset(b, 0, sizeof(*b));
	b->nr_vcpus = nr_vcpus;
	b->vm = vm_create_with_vcpus(nr_vcpus, guest_main, b->vcpu);
	vm_init_descriptor_tables(b->vm);
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_init_descriptor_tables(b->vcpu[i]);
		vcpu_args_set(b->vcpu[i], 1, (u64)i);
	}
	vm_install_exception_handler(b->vm, UPCALL_VECTOR, guest_upcall);
	vm_install_exception_handler(b->vm, VCPU_UPCALL_VECTOR, guest_upcall);
	vm_install_exception_handler(b->vm, IPI_VECTOR, guest_ipi);

	vm_userspace_mem_region_add(b->vm, VM_MEM_SRC_ANONYMOUS, XR_GPA,
				    XR_SLOT, XR_PAGES, 0);
	virt_map(b->vm, XR_GPA, XR_GPA, XR_PAGES);
	b->region = addr_gpa2hva(b->vm, XR_GPA);
	memset(b->region, 0, XR_PAGES * 4096);

	b->g = addr_gva2hva(b->vm, (vm_vaddr_t)&bg);
	memset(b->g, 0, sizeof(*b->g));
	b->g->vmmcall = host_uses_vmmcall();
	b->g->x2apic = !!(flags & BVM_X2APIC);
	b->g->vcpu_vector = !!(flags & BVM_VCPU_VECTOR);
	for (i = 0; i < BENCH_VCPUS; i++)
		b->g->self[i] = i;

	if (flags & BVM_XEN)
		bvm_setup_xen(b, flags);
}

static void bvm_free(struct bvm *b)
{
	kvm_vm_free(b->vm);
	b->vm = NULL;
}

/*
 * Run vCPU @i until the guest reports.  Hypercalls that leave the kernel
 * (KVM_EXIT_XEN) are answered at once with 0; OUTs to USER_PORT are
 * simply resumed.
 */
static void bvm_run(struct bvm *b, unsigned int i)
{
	struct kvm_vcpu *vcpu = b->vcpu[i];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	u64 cmd;

	for (;;) {
		if (ioctl(vcpu->fd, KVM_RUN, NULL)) {
			TEST_ASSERT(errno == EINTR, "KVM_RUN: %s",
				    strerror(errno));
			continue;
		}
		if (run->exit_reason == KVM_EXIT_XEN) {
			run->xen.u.hcall.result = 0;
			b->xen_exits++;
			continue;
		}
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO,
			    "vCPU %u: unexpected exit %u (%s)", i,
			    run->exit_reason,
			    exit_reason_str(run->exit_reason));
		if (run->io.port == USER_PORT) {
			b->io_exits++;
			continue;
		}
		cmd = get_ucall(vcpu, &uc);
		TEST_ASSERT(cmd != UCALL_ABORT, "guest: %s at %s:%lu",
			    (const char *)uc.args[GUEST_ERROR_STRING],
			    (const char *)uc.args[GUEST_FILE],
			    (unsigned long)uc.args[GUEST_LINE]);
		TEST_ASSERT(cmd == UCALL_SYNC || cmd == UCALL_DONE,
			    "vCPU %u: ucall %lu (vector %lu?)", i,
			    (unsigned long)cmd, (unsigned long)uc.args[0]);
		return;
	}
}

/* One repetition of vCPU 0's current command: ticks and ns per iteration. */
static void bvm_rep(struct bvm *b, u64 iters, double *tsc, double *ns)
{
	u64 t0;

	b->g->iters = iters;
	b->g->cycles = 0;
	alarm(RUN_DEADLINE_S);
	t0 = now_ns();
	bvm_run(b, 0);
	*ns = (double)(now_ns() - t0) / iters;
	alarm(0);
	*tsc = (double)b->g->cycles / iters;
}

/* Iterations for one repetition to take about --target-ms. */
static u64 calibrate(struct bvm *b)
{
	u64 n = 200, t0, dt;
	double tsc, ns;

	if (opt.iters)
		return opt.iters;
	for (;;) {
		t0 = now_ns();
		bvm_rep(b, n, &tsc, &ns);
		dt = now_ns() - t0;
		/* Long enough to extrapolate from: 1/8 of the target. */
		if (dt * 8 >= opt.target_ms * 1000000ull || n >= 1ull << 26)
			break;
		n *= 4;
	}
	n = (u64)((double)n * opt.target_ms * 1000000.0 / (double)dt);
	if (n > 1000)
		n -= n % 100;
	return n < 10 ? 10 : n;
}

static void set_hcall(struct bvm *b, u64 op, u64 nr, u64 a1)
{
	b->g->op = op;
	b->g->nr = nr;
	b->g->a1 = a1;
}

/*
 * The module disarms its hot-path hooks two seconds after the last Xen
 * VM is gone (Documentation/design.rst).  Where VMs without Xen are
 * measured after a Xen VM, the module's host waits this long first, so
 * that they see the module idle, as on a host that runs no Xen guests.
 */
#define DISARM_WAIT_S		3

/*
 * Pauses between measurements spin instead of sleeping: a CPU left idle
 * for seconds (here: the test host's vCPU, and the build machine's core
 * under it) runs the next measurement slower until it is busy again,
 * which would penalise whichever variant comes first after a pause.
 * sched_yield() keeps passing through the scheduler, so that kernel work
 * waiting for every task to switch (RCU tasks grace periods, which
 * ftrace's unregistration needs) is not held up by the spinning.
 */
static void busy_wait_s(unsigned int s)
{
	u64 end = now_ns() + s * 1000000000ull;

	while (now_ns() < end)
		sched_yield();
}

static void disarm_wait(void)
{
	if (!access("/sys/module/kvm_persona", F_OK))
		busy_wait_s(DISARM_WAIT_S);
}

static bool have_xen(unsigned int need, const char *bench)
{
	unsigned int caps = xen_caps();

	if ((caps & need) == need)
		return true;
	jhead("skip", bench);
	printf(",\"reason\":\"KVM_CAP_XEN_HVM is %#x, need %#x\"", caps, need);
	jend();
	return false;
}

/*
 * A variant of a benchmark: a kind of VM and what its vCPU 0 does.  The
 * variants of one benchmark are interleaved: each round creates a fresh
 * VM per variant, warms it up, measures one repetition, checks that the
 * guest saw what it should, and destroys the VM.  A slow phase of the
 * (emulated, shared) machine then hits all variants alike.
 */
struct variant {
	const char *name;
	unsigned int flags;		/* BVM_* */
	unsigned int nr_vcpus;		/* 2: ping-pong with vCPU 1 */
	u64 op, nr, a1;
	void (*check)(struct variant *v, struct bvm *b, u64 iters);
	struct series s;
};

static void *pong_thread(void *arg)
{
	bvm_run(arg, 1);
	return NULL;
}

static void variant_open(const struct variant *v, struct bvm *b,
			 pthread_t *pong)
{
	bool ping = v->nr_vcpus > 1;

	bvm_create(b, v->nr_vcpus, v->flags | (ping ? BVM_X2APIC : 0));
	set_hcall(b, v->op, v->nr, v->a1);
	if (!ping)
		return;
	b->g->xen = !!(v->flags & BVM_XEN);
	b->g->spin = opt.spin;
	TEST_ASSERT(!pthread_create(pong, NULL, pong_thread, b),
		    "pthread_create");
}

static void variant_close(const struct variant *v, struct bvm *b,
			  pthread_t pong)
{
	if (v->nr_vcpus > 1) {
		/* vCPU 1 may be halted: wake it with one more ping. */
		b->g->stop = 1;
		b->g->op = OP_KICK;
		alarm(RUN_DEADLINE_S);
		bvm_run(b, 0);
		pthread_join(pong, NULL);
		alarm(0);
	}
	bvm_free(b);
}

static u64 interleave(const char *bench, const char *state,
		      struct variant *v, int nv)
{
	u64 iters = opt.iters;
	double tsc, ns;
	pthread_t pong;
	struct bvm b;
	int i, r;

	for (r = 0; r < opt.reps; r++) {
		bool xen = false;

		for (i = 0; i < nv; i++) {
			variant_open(&v[i], &b, &pong);
			if (!iters)
				iters = calibrate(&b);
			bvm_rep(&b, iters / 4 ? iters / 4 : 1, &tsc, &ns);
			bvm_rep(&b, iters, &v[i].s.tsc[r], &v[i].s.ns[r]);
			if (v[i].check)
				v[i].check(&v[i], &b, iters);
			variant_close(&v[i], &b, pong);
			v[i].s.name = v[i].name;
			v[i].s.iters = iters;
			v[i].s.n = r + 1;
			xen |= !!(v[i].flags & BVM_XEN);
		}
		if (xen && r + 1 < opt.reps)
			disarm_wait();
	}
	for (i = 0; i < nv; i++)
		jseries(bench, state, &v[i].s);
	return iters;
}

/* ---- info --------------------------------------------------------------- */

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *p;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10))
			continue;
		p = strchr(line, ':');
		if (!p)
			break;
		p += strspn(p + 1, " \t") + 1;
		p[strcspn(p, "\n\"\\")] = 0;
		snprintf(buf, len, "%s", p);
		break;
	}
	fclose(f);
}

static int cmd_info(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct utsname u;
	char cpu[128];
	long khz;

	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	vm = vm_create_barebones();
	vcpu = __vm_vcpu_add(vm, 0);
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, NULL);
	kvm_vm_free(vm);

	jhead("info", "info");
	printf(",\"kernel\":\"%s\",\"xen_caps\":\"%#x\",\"module\":%s",
	       u.release, xen_caps(),
	       access("/sys/module/kvm_persona", F_OK) ? "false" : "true");
	printf(",\"cpu\":\"%s\",\"hcall_insn\":\"%s\",\"guest_tsc_khz\":%ld",
	       cpu, host_uses_vmmcall() ? "vmmcall" : "vmcall", khz);
	printf(",\"online_cpus\":%ld", sysconf(_SC_NPROCESSORS_ONLN));
	jend();
	return 0;
}

/* ---- p1: null hypercall ------------------------------------------------- */

/*
 * The same guest loop, "xen_version(XENVER_version)" in RAX/RDI, in a VM
 * without Xen (KVM answers -KVM_ENOSYS: RAX 17 is no KVM hypercall) and in
 * Xen VMs (the kernel answers with XEN_VERSION): one with only the
 * hypercall configuration, one set up like a Linux guest (shared_info,
 * vcpu_info, callback vector).
 */
static void check_p1(struct variant *v, struct bvm *b, u64 iters)
{
	u64 want = v->flags & BVM_XEN ? BENCH_XEN_VERSION : KVM_ENOSYS_RET;

	TEST_ASSERT(b->g->last == want && !b->xen_exits,
		    "%s: hypercall returned %#llx (want %#llx), %llu exits",
		    v->name, (unsigned long long)b->g->last,
		    (unsigned long long)want,
		    (unsigned long long)b->xen_exits);
}

static int cmd_p1(void)
{
	struct variant v[3] = {
		{ .name = "native", .flags = 0 },
		{ .name = "xen", .flags = BVM_XEN },
		{ .name = "xen_events", .flags = BVM_XEN | BVM_XEN_EVENTS },
	};
	int i;

	if (!have_xen(XEN_CAPS_BASE | KVM_XEN_HVM_CONFIG_SHARED_INFO, "p1"))
		return KSFT_SKIP;
	for (i = 0; i < 3; i++) {
		v[i].nr_vcpus = 1;
		v[i].op = OP_HCALL;
		v[i].nr = XEN_HC_xen_version;
		v[i].a1 = XENVER_version;
		v[i].check = check_p1;
	}
	interleave("p1", NULL, v, 3);
	jratio("p1", "xen/native", &v[1].s, &v[0].s);
	jratio("p1", "xen_events/native", &v[2].s, &v[0].s);
	return 0;
}

/* ---- p2: hypercall exit to the VMM -------------------------------------- */

static void check_p2(struct variant *v, struct bvm *b, u64 iters)
{
	u64 exits = v->flags & BVM_XEN ? b->xen_exits : b->io_exits;

	TEST_ASSERT(exits >= iters, "%s: only %llu exits", v->name,
		    (unsigned long long)exits);
}

static int cmd_p2(void)
{
	/*
	 * The reference is a VM without Xen doing OUTs to a port only
	 * userspace serves; the Xen VM calls xen_version(XENVER_get_features),
	 * which no kernel answers.  The VMM loop (bvm_run) resumes at once.
	 */
	struct variant v[2] = {
		{ .name = "io_exit", .flags = 0, .op = OP_PIO_OUT },
		{ .name = "xen_exit", .flags = BVM_XEN | BVM_XEN_EVENTS,
		  .op = OP_HCALL, .nr = XEN_HC_xen_version,
		  .a1 = XENVER_get_features_cmd },
	};

	if (!have_xen(XEN_CAPS_BASE | KVM_XEN_HVM_CONFIG_SHARED_INFO, "p2"))
		return KSFT_SKIP;
	v[0].nr_vcpus = 1;
	v[1].nr_vcpus = 1;
	v[0].check = check_p2;
	v[1].check = check_p2;
	interleave("p2", NULL, v, 2);
	jratio("p2", "xen_exit/io_exit", &v[1].s, &v[0].s);
	return 0;
}

/* ---- p3: IPI ping-pong -------------------------------------------------- */

static void check_p3(struct variant *v, struct bvm *b, u64 iters)
{
	struct bench_guest *g = b->g;

	TEST_ASSERT(g->rx[0] == g->rx[1] && g->rx[0] >= iters &&
		    !b->xen_exits,
		    "%s: %llu/%llu interrupts, %llu/%llu stray, %llu exits",
		    v->name, (unsigned long long)g->rx[0],
		    (unsigned long long)g->rx[1],
		    (unsigned long long)g->stray[0],
		    (unsigned long long)g->stray[1],
		    (unsigned long long)b->xen_exits);
	/* Strays are legal (spurious upcalls); they are reported. */
	v->s.stray += g->stray[0] + g->stray[1];
}

static int cmd_p3(void)
{
	unsigned int x = BVM_XEN | BVM_XEN_EVENTS | BVM_PING_PORTS;
	struct variant v[3] = {
		{ .name = "lapic", .flags = 0 },
		{ .name = "xen_vm_vector", .flags = x },
		{ .name = "xen_vcpu_vector", .flags = x | BVM_VCPU_VECTOR },
	};
	int i;

	if (!have_xen(XEN_CAPS_BASE | KVM_XEN_HVM_CONFIG_SHARED_INFO |
		      KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL |
		      KVM_XEN_HVM_CONFIG_EVTCHN_SEND, "p3"))
		return KSFT_SKIP;
	for (i = 0; i < 3; i++) {
		v[i].nr_vcpus = 2;
		v[i].op = OP_PING;
		v[i].check = check_p3;
	}
	interleave("p3", opt.spin ? "spin" : "halt", v, 3);
	jratio("p3", opt.spin ? "xen_vm_vector/lapic:spin" :
	       "xen_vm_vector/lapic:halt", &v[1].s, &v[0].s);
	jratio("p3", opt.spin ? "xen_vcpu_vector/lapic:spin" :
	       "xen_vcpu_vector/lapic:halt", &v[2].s, &v[0].s);
	return 0;
}

/* ---- p4: VMs without Xen, with and without the module ------------------- */

/*
 * Two loops in one VM that never enables Xen: "mix" exits three times per
 * iteration and never leaves the kernel (CPUID, an IN from the in-kernel
 * PIC, a KVM hypercall answered -KVM_ENOSYS); "io" is an OUT that exits
 * to userspace each time (KVM_RUN, vcpu_load and vcpu_put every time).
 */
struct p4_state {
	const char *name;
	struct series mix;
	struct series io;
};

static void p4_rep(struct bvm *p, u64 iters, struct p4_state *st, int r)
{
	double tsc, ns;

	set_hcall(p, OP_MIX, KVM_HC_UNKNOWN_NR, 0);
	bvm_rep(p, iters / 8 ? iters / 8 : 1, &tsc, &ns);
	bvm_rep(p, iters, &st->mix.tsc[r], &st->mix.ns[r]);
	TEST_ASSERT(p->g->last == KVM_ENOSYS_RET && !p->xen_exits,
		    "p4: hypercall returned %#llx, %llu Xen exits",
		    (unsigned long long)p->g->last,
		    (unsigned long long)p->xen_exits);
	set_hcall(p, OP_PIO_OUT, 0, 0);
	bvm_rep(p, iters / 8 ? iters / 8 : 1, &tsc, &ns);
	bvm_rep(p, iters, &st->io.tsc[r], &st->io.ns[r]);
	TEST_ASSERT(p->io_exits >= iters, "p4: no port I/O exits");
	st->mix.name = "mix";
	st->io.name = "io";
	st->mix.iters = iters;
	st->io.iters = iters;
	st->mix.n = r + 1;
	st->io.n = r + 1;
}

static void p4_print(const struct p4_state *st)
{
	jseries("p4", st->name, &st->mix);
	jseries("p4", st->name, &st->io);
}

/* finit_module() and delete_module(): what insmod and rmmod do. */
static int module_load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return r;
}

static int module_unload(void)
{
	int i;

	if (access("/sys/module/kvm_persona", F_OK))
		return 0;
	/* The last Xen VM's reference may take a moment to go. */
	for (i = 0; i < 100; i++) {
		if (!syscall(SYS_delete_module, "kvm_persona", O_NONBLOCK))
			return 0;
		if (errno != EBUSY && errno != EAGAIN)
			return -errno;
		usleep(100000);
	}
	return -EBUSY;
}

/*
 * Each round, with the same VM (which never enables Xen): without the
 * module; loaded; while a Xen VM lives in the same process (its vCPU
 * having run); at once after that VM is destroyed (the hooks stay armed
 * two more seconds); once the module is idle again; then the module is
 * unloaded for the next round.  Ratios are throughputs against the same
 * round's measurement without the module: >= 1 means no slower.
 *
 * Loading and unloading leave work behind for a moment (RCU callbacks,
 * freeing the module's memory, ftrace's bookkeeping), and under TCG that
 * slows whatever is measured next: SETTLE_S seconds pass before the first
 * measurement after each, so that neither state is penalised.
 */
#define SETTLE_S		2

static int cmd_p4(void)
{
	static const char * const names[] = {
		"noload", "loaded", "xen_alive", "xen_gone", "xen_gone_3s",
	};
	struct p4_state st[5];
	struct bvm p, x;
	double tsc, ns;
	char name[64];
	u64 iters;
	int i, r;

	TEST_ASSERT(opt.module, "p4 needs --module FILE (kvm-persona.ko)");
	memset(st, 0, sizeof(st));
	for (i = 0; i < 5; i++)
		st[i].name = names[i];
	CHECK0(module_unload(), "delete_module(kvm_persona)");

	bvm_create(&p, 1, 0);
	set_hcall(&p, OP_MIX, KVM_HC_UNKNOWN_NR, 0);
	iters = calibrate(&p);
	for (r = 0; r < opt.reps; r++) {
		CHECK0(module_unload(), "delete_module(kvm_persona)");
		busy_wait_s(SETTLE_S);
		p4_rep(&p, iters, &st[0], r);
		CHECK0(module_load(opt.module), "finit_module");
		TEST_ASSERT(xen_caps() & KVM_XEN_HVM_CONFIG_SHARED_INFO,
			    "the module loaded, but KVM_CAP_XEN_HVM is %#x",
			    xen_caps());
		busy_wait_s(SETTLE_S);
		p4_rep(&p, iters, &st[1], r);

		bvm_create(&x, 1, BVM_XEN | BVM_XEN_EVENTS);
		set_hcall(&x, OP_HCALL, XEN_HC_xen_version, XENVER_version);
		bvm_rep(&x, 10, &tsc, &ns);
		p4_rep(&p, iters, &st[2], r);
		bvm_free(&x);
		p4_rep(&p, iters, &st[3], r);
		disarm_wait();
		p4_rep(&p, iters, &st[4], r);
	}
	CHECK0(module_unload(), "delete_module(kvm_persona)");
	bvm_free(&p);

	for (i = 0; i < 5; i++)
		p4_print(&st[i]);
	for (i = 1; i < 5; i++) {
		snprintf(name, sizeof(name), "mix:%s", names[i]);
		jratio("p4", name, &st[0].mix, &st[i].mix);
		snprintf(name, sizeof(name), "io:%s", names[i]);
		jratio("p4", name, &st[0].io, &st[i].io);
	}
	return 0;
}

/* ---- mem: kernel memory per Xen VM and vCPU ----------------------------- */

/*
 * Create --vms VMs with 1 and with 4 vCPUs, once without Xen and once
 * configured as QEMU configures a Linux Xen guest, and compare the kernel
 * memory they hold.  Two views:
 *
 *  - the memory cgroup this program moves itself into (cgroup v2): every
 *    allocation made with __GFP_ACCOUNT (all of KVM's per-VM and per-vCPU
 *    state, all of kvm-persona's, most of upstream's) in its own context,
 *    and nothing else, so that other activity of the host does not count;
 *    memcg statistics are flushed every two seconds, so each snapshot
 *    waits that long;
 *  - /proc/slabinfo (active objects x object size, every cache, whoever
 *    allocated), which also sees unaccounted allocations but picks up
 *    everything else the host does meanwhile.
 */

#define MAX_CACHES		1024
#define MEM_ROUNDS		2
#define MEM_PORTS_PER_VCPU	5
#define MEM_MAX_VCPUS		4
#define MEMCG_ROOT		"/sys/fs/cgroup"
#define MEMCG_FLUSH_WAIT_US	2300000

struct kmem_snap {
	/* memcg (bytes) */
	long long kernel;
	long long slab;
	long long vmalloc;
	long long percpu;
	/* /proc/slabinfo */
	long long slab_total;
	int n;
	char name[MAX_CACHES][64];
	long long bytes[MAX_CACHES];
};

static char memcg_dir[128];

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* Move this process into a memory cgroup of its own; false if none. */
static bool memcg_enter(void)
{
	char path[192], pid[32];

	if (access(MEMCG_ROOT "/cgroup.controllers", F_OK))
		return false;
	write_str(MEMCG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(memcg_dir, sizeof(memcg_dir), MEMCG_ROOT "/persona-bench.%d",
		 getpid());
	if (mkdir(memcg_dir, 0755) && errno != EEXIST)
		return false;
	snprintf(path, sizeof(path), "%s/cgroup.procs", memcg_dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_str(path, pid))
		return false;
	snprintf(path, sizeof(path), "%s/memory.stat", memcg_dir);
	return !access(path, R_OK);
}

static void memcg_leave(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	write_str(MEMCG_ROOT "/cgroup.procs", pid);
	rmdir(memcg_dir);
}

static void memcg_read(struct kmem_snap *s)
{
	char path[192], key[64];
	long long v;
	FILE *f;

	s->kernel = -1;
	s->slab = -1;
	s->vmalloc = -1;
	s->percpu = -1;
	if (!memcg_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/memory.stat", memcg_dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fscanf(f, "%63s %lld", key, &v) == 2) {
		if (!strcmp(key, "kernel"))
			s->kernel = v;
		else if (!strcmp(key, "slab"))
			s->slab = v;
		else if (!strcmp(key, "vmalloc"))
			s->vmalloc = v;
		else if (!strcmp(key, "percpu"))
			s->percpu = v;
	}
	fclose(f);
}

static void slab_read(struct kmem_snap *s)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	long long active, num, size;
	char line[512], name[64];

	TEST_ASSERT(f, "/proc/slabinfo: %s (run as root)", strerror(errno));
	s->n = 0;
	s->slab_total = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &size) != 4 || s->n >= MAX_CACHES)
			continue;
		memcpy(s->name[s->n], name, sizeof(name));
		s->bytes[s->n] = active * size;
		s->slab_total += active * size;
		s->n++;
	}
	fclose(f);
}

static void kmem_snapshot(struct kmem_snap *s)
{
	usleep(MEMCG_FLUSH_WAIT_US);
	slab_read(s);
	memcg_read(s);
}

/* A VM as a VMM would configure one, without running it. */
static struct kvm_vm *mem_vm(unsigned int nr_vcpus, bool xen, u64 clock)
{
	struct kvm_vcpu *vcpu[MEM_MAX_VCPUS];
	struct kvm_vm *vm = vm_create_barebones();
	unsigned int i, p;

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, 0, 0, 16, 0);
	vm_create_irqchip(vm);
	for (i = 0; i < nr_vcpus; i++)
		vcpu[i] = __vm_vcpu_add(vm, i);
	if (!xen)
		return vm;

	CHECK0(xen_config_simple(vm, xen_cfg_flags(), XEN_HCALL_MSR),
	       "KVM_XEN_HVM_CONFIG");
	CHECK0(xen_vm_attr(vm, KVM_XEN_ATTR_TYPE_LONG_MODE, 1), "LONG_MODE");
	CHECK0(xen_vm_attr(vm, KVM_XEN_ATTR_TYPE_SHARED_INFO, 0),
	       "SHARED_INFO");
	CHECK0(xen_vm_attr(vm, KVM_XEN_ATTR_TYPE_UPCALL_VECTOR, UPCALL_VECTOR),
	       "UPCALL_VECTOR");
	CHECK0(xen_vm_attr(vm, KVM_XEN_ATTR_TYPE_XEN_VERSION,
			   BENCH_XEN_VERSION), "XEN_VERSION");
	for (i = 0; i < nr_vcpus; i++) {
		CHECK0(xen_vcpu_attr_id(vcpu[i], i), "VCPU_ID");
		CHECK0(xen_vcpu_attr_gpa(vcpu[i],
					 KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
					 0x1000 + i * 64), "VCPU_INFO");
		CHECK0(xen_vcpu_attr_gpa(vcpu[i],
					 KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
					 0x2000 + i * 32), "VCPU_TIME_INFO");
		if (xen_caps() & KVM_XEN_HVM_CONFIG_RUNSTATE)
			CHECK0(xen_vcpu_attr_gpa(vcpu[i],
						 KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
						 0x3000 + i * 64),
			       "RUNSTATE_ADDR");
		/* A Linux guest's timer VIRQ port, armed an hour ahead. */
		CHECK0(xen_vcpu_attr_timer(vcpu[i], 1 + i, clock + 3600ull *
					   1000000000ull), "TIMER");
		/* Its IPI ports (reschedule, call function, ...). */
		for (p = 0; p < MEM_PORTS_PER_VCPU; p++)
			CHECK0(xen_ipi_port(vm, 16 + i * MEM_PORTS_PER_VCPU + p,
					    i), "EVTCHN");
	}
	return vm;
}

static u64 vm_clock_ns(struct kvm_vm *vm)
{
	struct kvm_clock_data c;

	memset(&c, 0, sizeof(c));
	vm_ioctl(vm, KVM_GET_CLOCK, &c);
	return c.clock;
}

struct mem_round {
	struct kmem_snap *before;
	struct kmem_snap *after;
};

/*
 * Create, measure and destroy one batch of VMs.  @before is the snapshot
 * taken after the previous batch was destroyed; @after is taken with the
 * batch alive, and @next once it is gone (the next batch's "before").
 */
static void mem_batch(unsigned int nr_vcpus, bool xen, u64 clock,
		      struct kmem_snap *after, struct kmem_snap *next)
{
	struct kvm_vm **vms = calloc(opt.vms, sizeof(*vms));
	unsigned int i;

	TEST_ASSERT(vms, "calloc");
	for (i = 0; i < opt.vms; i++)
		vms[i] = mem_vm(nr_vcpus, xen, clock);
	kmem_snapshot(after);
	for (i = 0; i < opt.vms; i++)
		kvm_vm_free(vms[i]);
	free(vms);
	kmem_snapshot(next);
}

static long long cache_bytes(const struct kmem_snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->bytes[i];
	return 0;
}

/* Bytes per VM by which Xen VMs exceed plain ones, median over rounds. */
#define MEM_FIELD_KERNEL	0
#define MEM_FIELD_SLAB		1
#define MEM_FIELD_VMALLOC	2
#define MEM_FIELD_PERCPU	3
#define MEM_FIELD_SLABINFO	4

static long long snap_field(const struct kmem_snap *s, int field)
{
	switch (field) {
	case MEM_FIELD_KERNEL:
		return s->kernel;
	case MEM_FIELD_SLAB:
		return s->slab;
	case MEM_FIELD_VMALLOC:
		return s->vmalloc;
	case MEM_FIELD_PERCPU:
		return s->percpu;
	default:
		return s->slab_total;
	}
}

static double round_delta(const struct mem_round *m, int field)
{
	return (double)(snap_field(m->after, field) -
			snap_field(m->before, field)) / opt.vms;
}

static double mem_extra(struct mem_round (*m)[MEM_ROUNDS], int field,
			double *plain)
{
	double x[MEM_ROUNDS], p[MEM_ROUNDS];
	int r;

	for (r = 0; r < MEM_ROUNDS; r++) {
		p[r] = round_delta(&m[0][r], field);
		x[r] = round_delta(&m[1][r], field) - p[r];
	}
	if (plain)
		*plain = median(p, MEM_ROUNDS);
	return median(x, MEM_ROUNDS);
}

/* The slab caches that grew most for Xen VMs compared with plain ones. */
static void mem_top_caches(struct mem_round (*m)[MEM_ROUNDS])
{
	const struct kmem_snap *a = m[1][0].after;
	double best[5] = { 0 };
	int who[5] = { -1, -1, -1, -1, -1 };
	int i, j, k;

	for (i = 0; i < a->n; i++) {
		double per_vm = 0;
		int r;

		/* Smallest growth over the rounds: noise rarely repeats. */
		for (r = 0; r < MEM_ROUNDS; r++) {
			const char *c = a->name[i];
			double d = (double)(cache_bytes(m[1][r].after, c) -
					    cache_bytes(m[1][r].before, c) -
					    cache_bytes(m[0][r].after, c) +
					    cache_bytes(m[0][r].before, c)) /
				   opt.vms;

			per_vm = r ? (d < per_vm ? d : per_vm) : d;
		}
		for (j = 0; j < 5; j++) {
			if (per_vm <= best[j])
				continue;
			for (k = 4; k > j; k--) {
				best[k] = best[k - 1];
				who[k] = who[k - 1];
			}
			best[j] = per_vm;
			who[j] = i;
			break;
		}
	}
	printf(",\"slab_caches_grown\":[");
	for (j = 0, k = 0; j < 5; j++) {
		if (who[j] < 0)
			continue;
		printf("%s{\"cache\":\"%s\",\"bytes_per_vm\":%.0f}",
		       k++ ? "," : "", a->name[who[j]], best[j]);
	}
	printf("]");
}

static int cmd_mem(void)
{
	static const unsigned int vcpus[2] = { 1, MEM_MAX_VCPUS };
	static const char * const fields[] = {
		"memcg_kernel", "memcg_slab", "memcg_vmalloc", "memcg_percpu",
		"slabinfo",
	};
	/*
	 * On the heap: the guest images of the other subcommands hold this
	 * program's data and bss, which must stay small.
	 */
	struct mem_round (*m)[2][MEM_ROUNDS];
	double extra[2][5], plain[2][5];
	struct kmem_snap *snap;
	struct kvm_vm *vm;
	int c, f, k, r, n;
	bool memcg;
	u64 clock;

	if (!have_xen(XEN_CAPS_BASE | KVM_XEN_HVM_CONFIG_SHARED_INFO |
		      KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL, "mem"))
		return KSFT_SKIP;
	m = calloc(2, sizeof(*m));
	snap = calloc(8 * MEM_ROUNDS + 1, sizeof(*snap));
	TEST_ASSERT(m && snap, "calloc");
	memcg = memcg_enter();
	vm = vm_create_barebones();
	clock = vm_clock_ns(vm);
	kvm_vm_free(vm);

	/*
	 * Batches back to back, each snapshot after a destruction serving
	 * as the next batch's baseline; the order alternates so that drift
	 * hits both kinds alike.
	 */
	kmem_snapshot(&snap[0]);
	n = 0;
	for (r = 0; r < MEM_ROUNDS; r++) {
		for (c = 0; c < 2; c++) {
			for (k = 0; k < 2; k++) {
				struct mem_round *mr = &m[c][(k + r) % 2][r];

				mr->before = &snap[2 * n];
				mr->after = &snap[2 * n + 1];
				mem_batch(vcpus[c], (k + r) % 2, clock,
					  mr->after, &snap[2 * n + 2]);
				n++;
			}
		}
	}
	if (memcg)
		memcg_leave();

	for (c = 0; c < 2; c++) {
		for (f = 0; f < 5; f++)
			extra[c][f] = mem_extra(m[c], f, &plain[c][f]);

		jhead("mem", "mem");
		printf(",\"vcpus\":%u,\"vms\":%u,\"rounds\":%d,\"memcg\":%s",
		       vcpus[c], opt.vms, MEM_ROUNDS, memcg ? "true" : "false");
		for (f = memcg ? 0 : MEM_FIELD_SLABINFO; f < 5; f++)
			printf(",\"%s\":{\"plain_per_vm\":%.0f,\"xen_extra_per_vm\":%.0f}",
			       fields[f], plain[c][f], extra[c][f]);
		f = memcg ? MEM_FIELD_KERNEL : MEM_FIELD_SLABINFO;
		printf(",\"%s_rounds\":[", fields[f]);
		for (r = 0; r < MEM_ROUNDS; r++)
			printf("%s%.0f", r ? "," : "",
			       round_delta(&m[c][1][r], f) -
			       round_delta(&m[c][0][r], f));
		printf("]");
		mem_top_caches(m[c]);
		jend();
	}

	/*
	 * The headline: memcg "kernel" (slab, vmalloc, page allocations made
	 * on the VM's behalf), or the slabinfo view without a memory cgroup.
	 */
	f = memcg ? MEM_FIELD_KERNEL : MEM_FIELD_SLABINFO;
	jhead("mem_summary", "mem");
	printf(",\"source\":\"%s\",\"per_vm_bytes\":%.0f", fields[f],
	       extra[0][f] - (extra[1][f] - extra[0][f]) /
	       (MEM_MAX_VCPUS - 1));
	printf(",\"per_vcpu_bytes\":%.0f,\"per_1vcpu_vm_bytes\":%.0f",
	       (extra[1][f] - extra[0][f]) / (MEM_MAX_VCPUS - 1),
	       extra[0][f]);
	printf(",\"per_4vcpu_vm_bytes\":%.0f", extra[1][f]);
	jend();
	free(snap);
	free(m);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static void print_usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s info|p1|p2|p3|p4|mem [--reps N] [--iters N]\n"
		"       [--target-ms MS] [--vms N] [--wait spin|halt]\n"
		"       [--module FILE] [--host NAME]\n", argv0);
	exit(2);
}

static unsigned long long num_arg(const char *argv0, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end || !v)
		print_usage(argv0);
	return v;
}

int main(int argc, char *argv[])
{
	const char *cmd;
	int i;

	if (argc < 2)
		print_usage(argv[0]);
	cmd = argv[1];
	for (i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			print_usage(argv[0]);
		i++;
		if (!strcmp(o, "--reps"))
			opt.reps = num_arg(argv[0], v);
		else if (!strcmp(o, "--iters"))
			opt.iters = num_arg(argv[0], v);
		else if (!strcmp(o, "--target-ms"))
			opt.target_ms = num_arg(argv[0], v);
		else if (!strcmp(o, "--vms"))
			opt.vms = num_arg(argv[0], v);
		else if (!strcmp(o, "--wait") && !strcmp(v, "spin"))
			opt.spin = true;
		else if (!strcmp(o, "--wait") && !strcmp(v, "halt"))
			opt.spin = false;
		else if (!strcmp(o, "--module"))
			opt.module = v;
		else if (!strcmp(o, "--host"))
			opt.host = v;
		else
			print_usage(argv[0]);
	}
	if (opt.reps > MAX_REPS)
		opt.reps = MAX_REPS;
	signal(SIGALRM, watchdog);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "p1"))
		return cmd_p1();
	if (!strcmp(cmd, "p2"))
		return cmd_p2();
	if (!strcmp(cmd, "p3"))
		return cmd_p3();
	if (!strcmp(cmd, "p4"))
		return cmd_p4();
	if (!strcmp(cmd, "mem"))
		return cmd_mem();
	print_usage(argv[0]);
	return 2;
}
