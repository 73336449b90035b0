// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile Xen HVM guest.  Several vCPUs of one Xen VM, set up the way
 * QEMU sets one up, make random hypercalls at once: every hypercall and
 * sub-op the kernel or the VMM handles and unknown ones, with random
 * arguments and pointers that are valid, misaligned, page-crossing,
 * unmapped, behind an unbacked guest physical page or in kernel range;
 * SCHEDOP_poll with 0 to 260 ports, timers in the past and far future,
 * and writes of the hypercall-page MSR with random page indexes and
 * addresses.  The 64-bit vCPUs run their own generator; the last vCPU
 * runs 32-bit protected-mode code (a small executor, assembled below)
 * with the 32-bit hypercall ABI, fed with batches the same generator
 * makes on the host.  Hypercalls go through the vendor's instruction,
 * the other vendor's (emulated after #UD) and the hypercall page.
 *
 * The sequence of operations of each vCPU depends only on the seed, the
 * vCPU's index and the vCPU counts: FUZZ_SEED=<S> reproduces it (the
 * timing between vCPUs is not reproducible).  The VMM answers every
 * KVM_EXIT_XEN, emulating what QEMU does with the kernel's help
 * (vcpu_info, runstate and time areas, the upcall vectors, moving
 * shared_info, event channel sends) and -ENOSYS or a random value for
 * the rest; an agitator thread raises events meanwhile.
 *
 * Checked: the hypercall exits exactly when Documentation/abi.rst says
 * the kernel does not answer, with the guest's registers; what the kernel
 * answers is a Xen errno (or the configured version) and, where the
 * answer is determined, that answer (-EFAULT for unreadable arguments,
 * -EINVAL for more than 128 poll ports, -ETIME, ...); the VMM's result
 * arrives in RAX; argument registers and argument memory are untouched;
 * the MSR write raises #GP exactly when Xen's rules say so and otherwise
 * writes the hypercall page; canary pages that nothing may write stay
 * intact; a singleshot timer set in the far future stays armed; what
 * only the VMM sets (the vCPU's Xen ID, its timer port) stays set; no
 * interrupt arrives on a vector nothing raises; afterwards every vCPU
 * still gets answers and event upcalls.  The VMM checks every exit
 * against the hypercall the guest recorded, and the attribute calls it
 * makes for the guest.  On a failure, the last operations of the vCPU
 * are printed (and a few of every other vCPU).
 *
 * Environment: FUZZ_SEED (default: from the clock), FUZZ_HCALLS (guest
 * hypercalls in all, default 100000), FUZZ_VCPUS (default 4, at most 8),
 * FUZZ_VCPUS32 (0 or 1 32-bit vCPU, default 1), FUZZ_ALLOW_SPURIOUS=1
 * (count interrupts on vector 255, which the VM never raises, instead of
 * failing on the first: to look past that bug for others).
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <time.h>

#include "persona_xen.h"

/* A fuzz run takes minutes in the emulated test host. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	7200

#define FZ_MAX_VCPUS		8
#define FZ_RING			32	/* operations remembered per vCPU */
#define FZ_BATCH		256	/* 32-bit operations per batch */
#define FZ_XEN_VERSION		0x4000a

/* ---- Guest memory -------------------------------------------------------- */

/*
 * One memslot of FZ_PAGES pages at FZ_GPA, identity mapped for the 64-bit
 * vCPUs and below 4 GiB for the 32-bit one.  The kernel may write only
 * the stub page, the target pool and the verify pages (and only through
 * what the guest or the VMM asked for); the canary pages in between, the
 * control page, the rings and the 32-bit vCPU's own pages must never
 * change behind the guest's back.
 */
#define FZ_GPA			0xe0000000ull
#define FZ_SLOT			30
#define FZ_PG(n)		(FZ_GPA + (u64)(n) * 0x1000)
#define FZ_STUB			FZ_PG(1)	/* the hypercall page */
#define FZ_T(n)			FZ_PG(3 + (n))	/* target pool */
#define FZ_NR_T			8
#define FZ_V(i)			FZ_PG(12 + (i))	/* verify page of vCPU i */
#define FZ_CTL			FZ_PG(21)
#define FZ_RINGS(i)		FZ_PG(22 + 2 * (i))
#define FZ32_CODE		FZ_PG(39)	/* 2 pages */
#define FZ32_DESC		FZ_PG(41)	/* GDT, IDT at +0x800 */
#define FZ32_STACK_TOP		FZ_PG(43)
#define FZ32_RECS		FZ_PG(43)	/* 16 pages */
#define FZ32_ARENA		FZ_PG(59)	/* 16 pages */
#define FZ32_ARENA_SIZE		0x10000
#define FZ_BUF(i)		FZ_PG(76 + 2 * (i))	/* 2 pages each */
#define FZ_PAGES		92
#define FZ_END			FZ_PG(FZ_PAGES)
#define FZ_BUF_LEN		0x2000

static const u8 fz_canary_pages[] = { 0, 2, 11, 20, 38, 75 };
#define FZ_NR_CANARY		ARRAY_SIZE(fz_canary_pages)

/* Guest physical addresses that no memslot backs. */
#define FZ_HOLE_GPA		0xe0100000ull	/* up to 0xe0800000 */
#define FZ_HOLE32_GPA		0xc0000000ull	/* up to 0xd0000000 */
/* 64-bit guest virtual windows: argument buffers, an unbacked page. */
#define FZ_BUFWIN(i)		(0x500000000000ull + (u64)(i) * 0x100000)
#define FZ_HOLEWIN		0x510000000000ull

/* I/O ports the guests report on. */
#define FZ_PORT_FAIL		0xf0
#define FZ_PORT_DONE		0xf1
#define FZ_PORT_BATCH		0xf2
#define FZ_PORT_FINISHED	0xf3

/* Event channel ports of the setup; all below the 32-bit limit. */
#define FZ_PORT_TIMER(i)	(10 + (i))
#define FZ_PORT_IPI(i)		(20 + (i))
#define FZ_PORT_IDOM		30	/* interdomain, delivered to 31 */
#define FZ_PORT_IDOM_TO		31
#define FZ_PORT_EFD		40	/* signals an eventfd */
/* Ports above the 32-bit limit: usable while the VM is latched 64-bit. */
#define FZ_PORT_HIPI(i)		(2000 + (i))
static inline u32 fz_port_irqfd(u32 i)
{
	return (i & 1 ? 3000 : 50) + i;
}

#define FZ_GSI(i)		(32 + (i))

/* ---- Xen ABI bits not in persona_xen.h ---------------------------------- */

#define XEN_HC_physdev_op		33
#define XEN_HC_hvm_op			34
#define FZ_VCPUOP_register_runstate	5
#define FZ_VCPUOP_set_periodic		6
#define FZ_VCPUOP_register_vcpu_info	10
#define FZ_VCPUOP_register_time		13
#define FZ_HVMOP_set_param		0
#define FZ_HVMOP_get_param		1
#define FZ_HVMOP_pagetable_dying	9
#define FZ_HVMOP_set_upcall_vector	23
#define FZ_HVM_PARAM_CALLBACK_IRQ	18
#define FZ_XENMEM_add_to_physmap	7
#define FZ_XENMAPSPACE_shared_info	0
#define FZ_CALLBACK_VECTOR(v)		((2ull << 56) | (v))
#define FZ_MSR_IDX_MASK			0xfffull

/* Xen's errno values (public/errno.h): those the kernel may answer. */
#define XE_EPERM	1
#define XE_ENOENT	2
#define XE_ENOMEM	12
#define XE_EFAULT	14
#define XE_EINVAL	22
#define XE_ENOSYS	38
#define XE_ETIME	62

/* ---- Shared between guest and host -------------------------------------- */

enum fz_kind {
	FZK_HCALL = 1,
	FZK_WRMSR,
	FZK_RDMSR,
	FZK_TWIDDLE,	/* 64-bit only: flip bits in shared_info/vcpu_info */
	FZK_SPIN,	/* 32-bit only: wait for an upcall */
};

enum fz_method {
	FZM_VMMCALL,
	FZM_VMCALL,
	FZM_STUB,
};

/* What must happen (expect bits of a record). */
#define FZX_EXIT	BIT(0)	/* reaches the VMM */
#define FZX_KERNEL	BIT(1)	/* answered in the kernel */
#define FZX_WANT	BIT(2)	/* kernel's answer is .want ... */
#define FZX_ALT		BIT(3)	/* ... or .alt */
#define FZX_POSITIVE	BIT(4)	/* a positive answer is fine too */
#define FZX_GP		BIT(5)	/* the MSR access raises #GP */
#define FZX_NOGP	BIT(6)	/* ... does not */
#define FZX_STUBS	BIT(7)	/* the verify page holds the hypercall page */
#define FZX_KEEP	BIT(8)	/* the verify page is unchanged */
#define FZX_VMMWANT	BIT(9)	/* the VMM's answer is .want */

/* Exits to the VMM, which answers with the vCPU's armed timer deadline. */
#define FZ_HC_TIMER_PROBE	0x7ffe

/* One operation: what it is, what it must do, what it did. */
struct fz_rec {
	u64 seq;
	u32 kind;
	u32 expect;
	u64 nr;		/* hypercall number; MSR ops: the value written */
	u64 arg[6];
	u64 res;
	u64 out[6];	/* argument registers after the call */
	u64 vmm_res;
	u32 exited;	/* KVM_EXIT_XEN seen for it (the VMM counts) */
	u32 fault;	/* vector of the exception the MSR access raised */
	u64 want;
	u64 alt;
	u32 cp_src;	/* 32-bit: payload offset in the arena ... */
	u32 cp_dst;	/* ... copied here before the call ... */
	u32 cp_len;	/* ... this long */
	u32 method;
	u64 target;	/* stub address, or the MSR */
	u32 pkind;	/* pointer kinds, for the log */
	u32 pend;	/* port + 1 to mark pending first (poll) */
	u32 lo, hi;	/* argument bytes written, buffer offsets */
	u64 argsum;
	u64 pad[6];
};

/* Offsets the 32-bit executor uses. */
#define REC_SIZE	256
#define REC_KIND	8
#define REC_NR		16
#define REC_ARG		24
#define REC_RES		72
#define REC_OUT		80
#define REC_FAULT	140
#define REC_CP_SRC	160
#define REC_CP_DST	164
#define REC_CP_LEN	168
#define REC_METHOD	172
#define REC_TARGET	176
static_assert(sizeof(struct fz_rec) == REC_SIZE, "fz_rec");
static_assert(offsetof(struct fz_rec, kind) == REC_KIND, "kind");
static_assert(offsetof(struct fz_rec, nr) == REC_NR, "nr");
static_assert(offsetof(struct fz_rec, arg) == REC_ARG, "arg");
static_assert(offsetof(struct fz_rec, res) == REC_RES, "res");
static_assert(offsetof(struct fz_rec, out) == REC_OUT, "out");
static_assert(offsetof(struct fz_rec, fault) == REC_FAULT, "fault");
static_assert(offsetof(struct fz_rec, cp_src) == REC_CP_SRC, "cp_src");
static_assert(offsetof(struct fz_rec, cp_dst) == REC_CP_DST, "cp_dst");
static_assert(offsetof(struct fz_rec, cp_len) == REC_CP_LEN, "cp_len");
static_assert(offsetof(struct fz_rec, method) == REC_METHOD, "method");
static_assert(offsetof(struct fz_rec, target) == REC_TARGET, "target");
static_assert(FZ_RING * REC_SIZE == 0x2000, "ring size");
static_assert(FZ_BATCH * REC_SIZE == 0x10000, "batch size");

/* Breadcrumbs of the 64-bit guest, for a guest that dies silently. */
enum {
	FZW_GEN = 1,
	FZW_HCALL,
	FZW_HCALL_DONE,
	FZW_MSR,
	FZW_MSR_DONE,
	FZW_TWIDDLE,
	FZW_CHECK,
	FZW_CANARY,
	FZW_FINAL,
};

/* Per-vCPU status, in the control page. */
struct fz_vstat {
	u64 quota;	/* host: hypercalls to make */
	u64 hcalls;	/* guest: made */
	u64 msr_writes;
	u64 upcalls;	/* guest's upcall handler */
	u64 exits;	/* VMM: KVM_EXIT_XEN seen */
	u64 cur_rec;	/* guest: address of the record in flight */
	u64 vcpu_info;	/* VMM: where vcpu_info is registered */
	u64 fail_code;
	u64 fail_seq;
	u64 fail_val[2];
	u64 b_idx;	/* 32-bit: next record of the batch */
	u64 b_n;	/* 32-bit: records in the batch */
	u64 twiddles;
	u64 canary_checks;
	u64 seed;
	u64 phase;
	u64 where;	/* guest: what it was doing last (FZW_*) */
	u64 in_upcall;	/* guest: inside the upcall handler */
	u64 spurious;	/* guest: vector 255 interrupts taken */
	u64 allow_spurious;	/* host: count them instead of failing */
	u64 pad[11];
};

#define VS_UPCALLS	24
#define VS_CUR		40
#define VS_VINFO	48
#define VS_FAIL_CODE	56
#define VS_FAIL_VAL	72
#define VS_B_IDX	88
#define VS_B_N		96
#define VS_MSRW		16
#define VS_HCALLS	8
#define VS_SPURIOUS	152
#define VS_ALLOW_SP	160
static_assert(sizeof(struct fz_vstat) == 256, "fz_vstat");
static_assert(offsetof(struct fz_vstat, upcalls) == VS_UPCALLS, "upcalls");
static_assert(offsetof(struct fz_vstat, cur_rec) == VS_CUR, "cur_rec");
static_assert(offsetof(struct fz_vstat, vcpu_info) == VS_VINFO, "vinfo");
static_assert(offsetof(struct fz_vstat, fail_code) == VS_FAIL_CODE, "fc");
static_assert(offsetof(struct fz_vstat, fail_val) == VS_FAIL_VAL, "fv");
static_assert(offsetof(struct fz_vstat, b_idx) == VS_B_IDX, "b_idx");
static_assert(offsetof(struct fz_vstat, b_n) == VS_B_N, "b_n");
static_assert(offsetof(struct fz_vstat, msr_writes) == VS_MSRW, "msrw");
static_assert(offsetof(struct fz_vstat, hcalls) == VS_HCALLS, "hcalls");
static_assert(offsetof(struct fz_vstat, spurious) == VS_SPURIOUS, "sp");
static_assert(offsetof(struct fz_vstat, allow_spurious) == VS_ALLOW_SP, "asp");

struct fz_ctl {
	u64 nr_vcpus;
	u64 vmmcall;		/* the vendor's instruction is VMMCALL */
	u64 shinfo_gpa;		/* VMM: where shared_info is */
	u64 canary_sum;
	u64 sshot_future_ignored;	/* the kernel follows 6.12 there */
	u64 pad[11];
	struct fz_vstat v[FZ_MAX_VCPUS];
};

static_assert(sizeof(struct fz_ctl) <= 0x1000, "fz_ctl");

#define FZ_CTLP		((struct fz_ctl *)FZ_CTL)

/* Why a check failed. */
enum fz_err {
	FZE_OK,
	FZE_EXITS,
	FZE_MUST_EXIT,
	FZE_MUST_KERNEL,
	FZE_VMM_RES,
	FZE_VALUE,
	FZE_ERRNO,
	FZE_REGS,
	FZE_MUST_GP,
	FZE_MUST_NOT_GP,
	FZE_MSR_VECTOR,
	FZE_STUBS,
	FZE_KEEP,
	FZE_ARGS,
	FZE_CANARY,
	FZE_UPCALL,
	FZE_VECTOR32,
	FZE_VECTOR64,
	FZE_TIMER,
	FZE_SPURIOUS,
	FZE_NR,
};

/* For the 32-bit guest's assembly. */
#define FZE_VECTOR32_NR		16
static_assert(FZE_VECTOR32 == FZE_VECTOR32_NR, "FZE_VECTOR32");

/* ---- The generator (guest and host) ------------------------------------- */

/* Pointer kinds. */
enum {
	FZP_VALID,	/* in the argument buffer, any alignment */
	FZP_CROSS,	/* runs from the buffer into an unmapped page */
	FZP_UNMAPPED,	/* no translation (64-bit) / no memslot (32-bit) */
	FZP_HOLE,	/* translates to a guest physical page with no memslot */
	FZP_KERNEL,	/* kernel half (64-bit) / high unbacked (32-bit) */
	FZP_NONCANON,	/* bit 47 set, not sign-extended */
	FZP_NULL,	/* 0 or in the first page */
	FZP_OWN,	/* readable guest memory outside the buffer */
	FZP_RANDOM,
	FZP_NR,
};

struct fz_gen {
	u64 rng;
	u64 seq;
	u32 vcpu;
	u32 nr_vcpus;
	u32 compat;		/* 32-bit register ABI, no paging */
	u32 vmmcall;		/* the vendor's instruction is VMMCALL */
	/*
	 * VCPU_SSHOTTMR_future is ignored (upstream after 6.1, and a
	 * kernel that offers its flags); 6.1 answers a past deadline -ETIME.
	 */
	u32 sshot_future_ignored;
	u32 stub_ok;		/* the hypercall page has been written */
	u32 lo, hi;		/* buffer bytes written by this operation */
	u64 buf_va;		/* the buffer, as pointers name it */
	u8 *buf;		/* the buffer, as the generator writes it */
	u64 own_va;		/* readable memory outside the buffer */
	u32 probe;		/* step of a timer probe in progress */
	u64 probe_deadline;
};

static inline u64 fz_rand(struct fz_gen *g)
{
	u64 x = g->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline u32 fz_below(struct fz_gen *g, u32 n)
{
	return ((fz_rand(g) >> 32) * n) >> 32;
}

static inline bool fz_pct(struct fz_gen *g, u32 pct)
{
	return fz_below(g, 100) < pct;
}

static inline u64 fz_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline u64 fz_w(struct fz_gen *g, u64 v)
{
	return g->compat ? (u32)v : v;
}

/* A checksum of memory, for canaries and argument bytes. */
static inline u64 fz_sum(const u8 *p, u32 len)
{
	u64 h = 0xcbf29ce484222325ull;
	u32 i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Write @len bytes at buffer offset @off, clipped to the buffer. */
static inline void fz_put(struct fz_gen *g, s64 off, const void *src, u32 len)
{
	const u8 *s = src;
	u32 i;

	for (i = 0; i < len; i++) {
		if (off + i < 0 || off + i >= FZ_BUF_LEN)
			continue;
		g->buf[off + i] = s[i];
		if (off + i < g->lo)
			g->lo = off + i;
		if (off + i + 1 > g->hi)
			g->hi = off + i + 1;
	}
}

/*
 * A pointer of @kind to an object of @len bytes; *off is the buffer offset
 * to write the object at (-FZ_BUF_LEN when there is nothing to write).
 */
static u64 fz_ptr(struct fz_gen *g, u32 kind, u32 len, s64 *off)
{
	u64 r = fz_rand(g);
	s64 o;

	*off = -FZ_BUF_LEN;
	if (kind == FZP_CROSS && len < 2)
		kind = FZP_VALID;
	switch (kind) {
	case FZP_VALID:
		if (fz_pct(g, 30))	/* across the page boundary */
			o = 0x1000 - 1 - fz_below(g, len > 1 ? len - 1 : 1);
		else
			o = fz_below(g, FZ_BUF_LEN - len + 1);
		if (fz_pct(g, 40))
			o &= ~7ll;
		*off = o;
		return g->buf_va + o;
	case FZP_CROSS:
		o = FZ_BUF_LEN - 1 - fz_below(g, len - 1);
		*off = o;
		return g->buf_va + o;
	case FZP_UNMAPPED:
		if (g->compat)
			return FZ_HOLE_GPA + fz_below(g, 0x700000);
		return 0xdead0000000ull + (r & 0xffffff);
	case FZP_HOLE:
		if (g->compat)
			return FZ_HOLE32_GPA + fz_below(g, 0x10000000);
		return FZ_HOLEWIN + fz_below(g, 0x1000 - len + 1);
	case FZP_KERNEL:
		if (g->compat)
			return 0xf0000000ull + fz_below(g, 0x0e000000);
		if (r & 1)
			return 0xffffffff80000000ull + ((r >> 8) & 0x3fffffff);
		return 0xffff800000000000ull | ((r >> 1) & 0x7fffffffffffull);
	case FZP_NONCANON:
		if (g->compat)
			return FZ_HOLE_GPA + fz_below(g, 0x700000);
		return 0x0000800000000000ull | (r & 0x7fffffffffffull);
	case FZP_NULL:
		return fz_pct(g, 50) ? 0 : fz_below(g, 0x1000);
	case FZP_OWN:
		return g->own_va + fz_below(g, 0x1000);
	}
	return fz_w(g, r);
}

/* Will reading @len bytes at a pointer of @kind certainly fault? */
static bool fz_ptr_bad(struct fz_gen *g, u32 kind, u32 len)
{
	switch (kind) {
	case FZP_CROSS:
		return len >= 2;
	case FZP_UNMAPPED:
	case FZP_HOLE:
	case FZP_KERNEL:
	case FZP_NONCANON:
		return true;
	case FZP_NULL:
		return !g->compat;	/* 32-bit: page 0 is guest memory */
	}
	return false;
}

static u32 fz_pkind(struct fz_gen *g, u32 valid_pct)
{
	if (fz_pct(g, valid_pct))
		return FZP_VALID;
	return fz_below(g, FZP_NR);
}

/* A number of ports for SCHEDOP_poll: 0 to 260, and a few absurd ones. */
static u32 fz_nr_ports(struct fz_gen *g)
{
	u32 p = fz_below(g, 100);

	if (p < 8)
		return 0;
	if (p < 45)
		return 1;
	if (p < 70)
		return 2 + fz_below(g, 15);
	if (p < 78)
		return 17 + fz_below(g, 110);
	if (p < 86)
		return 127 + fz_below(g, 3);
	if (p < 95)
		return 130 + fz_below(g, 131);
	return fz_pct(g, 50) ? 0xffffffffu : (u32)fz_rand(g);
}

/* A port for an array: mostly ordinary ones, some beyond the limits. */
static u32 fz_port(struct fz_gen *g)
{
	u32 p = fz_below(g, 100);

	if (p < 70)
		return fz_below(g, 64);
	if (p < 85)
		return fz_below(g, 1024);
	if (p < 92)
		return 1024 + fz_below(g, 3072);
	if (p < 97)
		return 4096 + fz_below(g, 4096);
	return (u32)fz_rand(g);
}

static bool fz_port_registered(struct fz_gen *g, u32 port)
{
	return (port >= FZ_PORT_IPI(0) && port < FZ_PORT_IPI(g->nr_vcpus)) ||
	       port == FZ_PORT_IDOM || port == FZ_PORT_EFD;
}

static void fz_expect_kernel(struct fz_rec *r, u64 want)
{
	r->expect |= FZX_KERNEL | FZX_WANT;
	r->want = want;
}

static void fz_gen_xen_version(struct fz_gen *g, struct fz_rec *r)
{
	u32 k = fz_pkind(g, 50);
	u64 cmd;
	s64 off;

	cmd = fz_pct(g, 50) ? 0 : fz_pct(g, 80) ? fz_below(g, 12) : fz_rand(g);
	r->nr = XEN_HC_xen_version;
	r->arg[0] = fz_w(g, cmd);
	r->arg[1] = fz_ptr(g, k, 64, &off);
	r->pkind = k;
	if (!r->arg[0]) {
		/* The kernel answers XENVER_version (abi.rst). */
		fz_expect_kernel(r, FZ_XEN_VERSION);
		return;
	}
	r->expect |= FZX_POSITIVE;
	/* Sub-ops that write a buffer must fail on an unusable one. */
	if (r->arg[0] >= 1 && r->arg[0] <= 10 && r->arg[0] != 7 &&
	    fz_ptr_bad(g, k, 1)) {
		r->expect &= ~FZX_POSITIVE;
		r->expect |= FZX_WANT;
		r->want = -XE_EFAULT;
	}
	/* The kernel answers only XENVER_version. */
	r->expect |= FZX_EXIT;
}

static void fz_gen_evtchn(struct fz_gen *g, struct fz_rec *r)
{
	u32 k = fz_pkind(g, 75), port;
	u64 cmd;
	s64 off;

	r->nr = XEN_HC_event_channel_op;
	cmd = fz_pct(g, 65) ? EVTCHNOP_send :
	      fz_pct(g, 80) ? fz_below(g, 14) : fz_rand(g);
	r->arg[0] = fz_w(g, cmd);
	port = fz_below(g, 100);
	if (port < 28)
		port = FZ_PORT_IPI(fz_below(g, g->nr_vcpus));
	else if (port < 36)
		port = FZ_PORT_HIPI(fz_below(g, g->nr_vcpus));
	else if (port < 46)
		port = FZ_PORT_IDOM;
	else if (port < 55)
		port = FZ_PORT_EFD;
	else
		port = fz_port(g);
	r->arg[1] = fz_ptr(g, k, 4, &off);
	fz_put(g, off, &port, 4);
	r->pkind = k;
	if (r->arg[0] != EVTCHNOP_send) {
		/* Only EVTCHNOP_send is the kernel's. */
		r->expect |= FZX_EXIT;
		return;
	}
	if (fz_ptr_bad(g, k, 4)) {
		fz_expect_kernel(r, -XE_EFAULT);
		return;
	}
	if (k != FZP_VALID)
		return;
	if (fz_port_registered(g, port)) {
		fz_expect_kernel(r, 0);
	} else if (port >= FZ_PORT_HIPI(0) &&
		   port < FZ_PORT_HIPI(g->nr_vcpus)) {
		/* 0, or an exit while the VM is latched 32-bit. */
		r->expect |= FZX_WANT;
		r->want = 0;
	} else {
		r->expect |= FZX_EXIT;
	}
}

static void fz_gen_poll(struct fz_gen *g, struct fz_rec *r)
{
	u32 k = fz_pkind(g, 80), kp = fz_pkind(g, 85), nr = fz_nr_ports(g);
	u32 len = g->compat ? 16 : 24, plen, n, i, port, max = 0;
	u8 sp[24];
	u64 ports, timeout, t = fz_below(g, 100);
	s64 off, poff;

	/* Forever (0) and very long ones end with an event or a kick. */
	timeout = t < 88 ? 1 + fz_below(g, 200000) :
		  t < 90 ? 0 :
		  t < 97 ? 1 + fz_below(g, 2000000) : fz_rand(g) | 1;
	if (t >= 97 && fz_pct(g, 80))
		timeout &= 0xffffff;
	/* The array, even where nr_ports says it cannot be read whole. */
	n = nr > 260 ? 1 + fz_below(g, 8) : nr;
	plen = n ? n * 4 : 4;
	ports = fz_ptr(g, kp, plen, &poff);
	for (i = 0; i < n; i++) {
		port = fz_port(g);
		if (port > max)
			max = port;
		fz_put(g, poff + 4 * i, &port, 4);
		if (!i && fz_pct(g, 85) && port < 4096)
			r->pend = port + 1;
	}

	memset(sp, 0, sizeof(sp));
	if (g->compat) {
		u32 p32 = ports;

		memcpy(sp, &p32, 4);
		memcpy(sp + 4, &nr, 4);
		memcpy(sp + 8, &timeout, 8);
	} else {
		memcpy(sp, &ports, 8);
		memcpy(sp + 8, &nr, 4);
		memcpy(sp + 16, &timeout, 8);
	}
	r->arg[1] = fz_ptr(g, k, len, &off);
	/* The structure must not land on the array. */
	if (k == FZP_VALID && n && off < poff + plen && poff < off + len) {
		off = poff + plen + 8 + len <= FZ_BUF_LEN ? poff + plen + 8 :
		      poff - len - 8;
		r->arg[1] = g->buf_va + off;
	}
	fz_put(g, off, sp, len);
	r->pkind = k | kp << 8;

	if (g->compat) {
		/* 32-bit: a yield, as in upstream 6.1 (abi.rst). */
		fz_expect_kernel(r, 0);
		return;
	}
	if (fz_ptr_bad(g, k, len)) {
		fz_expect_kernel(r, -XE_EFAULT);
		return;
	}
	if (k != FZP_VALID)
		return;		/* unknown content */
	if (nr > 128) {
		fz_expect_kernel(r, -XE_EINVAL);
		return;
	}
	if (nr && fz_ptr_bad(g, kp, nr * 4)) {
		fz_expect_kernel(r, -XE_EFAULT);
		return;
	}
	if (kp != FZP_VALID && nr)
		return;
	if (max >= XEN_NR_PORTS_64) {
		fz_expect_kernel(r, -XE_EINVAL);
		return;
	}
	fz_expect_kernel(r, 0);
	/* The limit is 1024 while the VM is latched in 32-bit mode. */
	if (max >= XEN_NR_PORTS_32) {
		r->expect |= FZX_ALT;
		r->alt = -XE_EINVAL;
	}
}

static void fz_gen_sched(struct fz_gen *g, struct fz_rec *r)
{
	u32 p = fz_below(g, 100);
	u64 cmd;
	s64 off;

	r->nr = XEN_HC_sched_op;
	cmd = p < 25 ? SCHEDOP_yield : p < 75 ? SCHEDOP_poll :
	      p < 80 ? SCHEDOP_block : p < 84 ? SCHEDOP_shutdown :
	      p < 92 ? 4 + fz_below(g, 8) : fz_rand(g);
	/* Xen and KVM read the command as an int. */
	r->arg[0] = fz_w(g, cmd);
	switch ((u32)cmd) {
	case SCHEDOP_yield:
		r->arg[1] = fz_ptr(g, fz_below(g, FZP_NR), 8, &off);
		fz_expect_kernel(r, 0);
		return;
	case SCHEDOP_poll:
		fz_gen_poll(g, r);
		return;
	}
	r->arg[1] = fz_ptr(g, fz_pkind(g, 50), 16, &off);
	r->expect |= FZX_EXIT;
}

/* Deadlines: long past, the far future, nonsense. */
static u64 fz_deadline(struct fz_gen *g, u32 *when)
{
	u32 p = fz_below(g, 100);

	if (p < 30) {
		*when = 1;	/* past: the VM has run for more than 1 ms */
		return fz_below(g, 1000000);
	}
	if (p < 50) {
		*when = 2;	/* future: 4.9 hours and more */
		return (1ull << 44) + (fz_rand(g) >> 3);
	}
	if (p < 60) {
		*when = 1;	/* negative: far past */
		return -(1ll << 40) - (s64)(fz_rand(g) >> 3);
	}
	*when = 0;
	return fz_pct(g, 50) ? fz_rand(g) : 0;
}

static void fz_gen_vcpu_op(struct fz_gen *g, struct fz_rec *r)
{
	u32 p = fz_below(g, 100), k, len, when = 0, flags;
	u64 cmd, vid, t;
	s64 off;
	u8 st[16];

	r->nr = XEN_HC_vcpu_op;
	cmd = p < 30 ? VCPUOP_set_singleshot_timer :
	      p < 42 ? VCPUOP_stop_singleshot_timer :
	      p < 52 ? FZ_VCPUOP_register_vcpu_info :
	      p < 62 ? FZ_VCPUOP_register_runstate :
	      p < 67 ? FZ_VCPUOP_register_time :
	      p < 72 ? VCPUOP_stop_periodic_timer :
	      p < 77 ? FZ_VCPUOP_set_periodic :
	      p < 94 ? fz_below(g, 16) : fz_rand(g);
	p = fz_below(g, 100);
	vid = p < 75 ? g->vcpu : p < 85 ? fz_below(g, g->nr_vcpus) :
	      fz_rand(g);
	r->arg[0] = fz_w(g, cmd);
	r->arg[1] = fz_w(g, vid);
	memset(st, 0, sizeof(st));
	k = fz_pkind(g, 75);
	r->pkind = k;

	switch ((u32)cmd) {
	case VCPUOP_set_singleshot_timer:
		len = g->compat ? 12 : 16;
		t = fz_deadline(g, &when);
		flags = fz_pct(g, 50) ? 0 : fz_pct(g, 85) ?
			VCPU_SSHOTTMR_future : (u32)fz_rand(g);
		memcpy(st, &t, 8);
		memcpy(st + 8, &flags, 4);
		r->arg[2] = fz_ptr(g, k, len, &off);
		fz_put(g, off, st, len);
		/* The timer calls are the kernel's (timer port set). */
		if ((u32)vid != g->vcpu)
			fz_expect_kernel(r, -XE_EINVAL);
		else if (fz_ptr_bad(g, k, len))
			fz_expect_kernel(r, -XE_EFAULT);
		else if (k != FZP_VALID)
			r->expect |= FZX_KERNEL;
		else if (!(flags & VCPU_SSHOTTMR_future) || when == 2 ||
			 g->sshot_future_ignored)
			fz_expect_kernel(r, 0);
		else if (when == 1)
			fz_expect_kernel(r, -XE_ETIME);
		else
			r->expect |= FZX_KERNEL;
		return;
	case VCPUOP_stop_singleshot_timer:
		r->arg[2] = fz_ptr(g, k, 16, &off);
		fz_expect_kernel(r, (u32)vid == g->vcpu ? 0 : -XE_EINVAL);
		return;
	case FZ_VCPUOP_register_vcpu_info:
		t = fz_pct(g, 75) ? FZ_T(fz_below(g, FZ_NR_T)) >> 12 :
		    fz_rand(g) & 0xfffffffffull;
		flags = fz_pct(g, 60) ? fz_below(g, 64) * 64 :
			fz_below(g, 4096);
		memcpy(st, &t, 8);
		memcpy(st + 8, &flags, 4);
		break;
	case FZ_VCPUOP_register_runstate:
	case FZ_VCPUOP_register_time:
		t = fz_pct(g, 75) ? FZ_T(fz_below(g, FZ_NR_T)) +
				    fz_below(g, 4096) : fz_rand(g);
		if (fz_pct(g, 50))
			t &= ~7ull;
		memcpy(st, &t, 8);
		break;
	}
	r->arg[2] = fz_ptr(g, k, 16, &off);
	fz_put(g, off, st, 16);
	r->expect |= FZX_EXIT;
}

static void fz_gen_set_timer(struct fz_gen *g, struct fz_rec *r)
{
	u32 when;
	u64 t = fz_deadline(g, &when);

	r->nr = XEN_HC_set_timer_op;
	if (fz_pct(g, 20))
		t = 0;		/* stop */
	if (g->compat) {
		r->arg[0] = (u32)t;
		r->arg[1] = t >> 32;
	} else {
		r->arg[0] = t;
	}
	fz_expect_kernel(r, 0);
}

static void fz_gen_hvm_op(struct fz_gen *g, struct fz_rec *r)
{
	u32 p = fz_below(g, 100), k = fz_pkind(g, 80), v32;
	u64 cmd, val;
	s64 off;
	u8 st[16];

	r->nr = XEN_HC_hvm_op;
	cmd = p < 30 ? FZ_HVMOP_set_param : p < 45 ? FZ_HVMOP_get_param :
	      p < 65 ? FZ_HVMOP_set_upcall_vector :
	      p < 75 ? FZ_HVMOP_pagetable_dying : fz_pct(g, 80) ?
	      fz_below(g, 40) : fz_rand(g);
	r->arg[0] = fz_w(g, cmd);
	memset(st, 0, sizeof(st));
	if (cmd == FZ_HVMOP_set_upcall_vector) {
		v32 = fz_pct(g, 85) ? g->vcpu : fz_below(g, 16);
		memcpy(st, &v32, 4);
		st[4] = fz_pct(g, 45) ? 0 : fz_pct(g, 80) ? VCPU_UPCALL_VECTOR :
			fz_below(g, 256);
	} else {
		v32 = 0x7ff0;	/* DOMID_SELF */
		memcpy(st, &v32, 2);
		v32 = fz_pct(g, 60) ? FZ_HVM_PARAM_CALLBACK_IRQ :
		      fz_below(g, 64);
		memcpy(st + 4, &v32, 4);
		p = fz_below(g, 100);
		val = p < 50 ? FZ_CALLBACK_VECTOR(UPCALL_VECTOR) :
		      p < 65 ? 0 : fz_rand(g);
		memcpy(st + 8, &val, 8);
	}
	r->arg[1] = fz_ptr(g, k, 16, &off);
	fz_put(g, off, st, 16);
	r->pkind = k;
	r->expect |= FZX_EXIT;
}

static void fz_gen_memory_op(struct fz_gen *g, struct fz_rec *r)
{
	u32 k = fz_pkind(g, 80), v32;
	u64 cmd, gpfn;
	s64 off;
	u8 st[24];

	r->nr = XEN_HC_memory_op;
	cmd = fz_pct(g, 50) ? FZ_XENMEM_add_to_physmap :
	      fz_pct(g, 80) ? fz_below(g, 30) : fz_rand(g);
	r->arg[0] = fz_w(g, cmd);
	memset(st, 0, sizeof(st));
	v32 = 0x7ff0;
	memcpy(st, &v32, 2);
	v32 = fz_pct(g, 70) ? FZ_XENMAPSPACE_shared_info : fz_below(g, 8);
	memcpy(st + 4, &v32, 4);
	gpfn = fz_pct(g, 80) ? FZ_T(fz_below(g, FZ_NR_T)) >> 12 : fz_rand(g);
	if (g->compat) {
		v32 = fz_pct(g, 80) ? 0 : fz_below(g, 4);
		memcpy(st + 8, &v32, 4);
		memcpy(st + 12, &gpfn, 4);
	} else {
		memcpy(st + 16, &gpfn, 8);
	}
	r->arg[1] = fz_ptr(g, k, 24, &off);
	fz_put(g, off, st, 24);
	r->pkind = k;
	r->expect |= FZX_EXIT;
}

/* Calls nobody in the kernel answers: grant tables, physdev, others. */
static void fz_gen_other(struct fz_gen *g, struct fz_rec *r, u64 nr, u32 ncmd)
{
	u32 k = fz_pkind(g, 50), i;
	u8 junk[64];
	s64 off;

	r->nr = fz_w(g, nr);
	r->arg[0] = fz_w(g, fz_pct(g, 80) ? fz_below(g, ncmd) : fz_rand(g));
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = fz_rand(g);
	r->arg[1] = fz_ptr(g, k, 64, &off);
	fz_put(g, off, junk, 64);
	r->arg[2] = fz_w(g, fz_pct(g, 50) ? fz_below(g, 300) : fz_rand(g));
	r->pkind = k;
	r->expect |= FZX_EXIT;
}

/*
 * grant_table_op: GNTTABOP_copy from a 64-bit vCPU is answered in the
 * kernel (kvm-persona copies between domains).  At most one op, of junk
 * whose domains are all reserved IDs (never DOMID_SELF, never a VM), so
 * that the only write is its status, inside the buffer; a pointer that
 * is readable elsewhere is made a bad one.  Other commands and 32-bit
 * callers exit.
 */
static void fz_gen_grant(struct fz_gen *g, struct fz_rec *r)
{
	u32 k = fz_pkind(g, 70), i, count;
	u64 cmd = fz_pct(g, 50) ? GNTTABOP_copy :
		  fz_pct(g, 80) ? fz_below(g, 13) : fz_rand(g);
	u16 domid;
	s16 status;
	u8 op[40];
	s64 off;

	if (k != FZP_VALID && !fz_ptr_bad(g, k, sizeof(op)))
		k = FZP_UNMAPPED;
	for (i = 0; i < sizeof(op); i++)
		op[i] = fz_rand(g);
	for (i = 8; i <= 24; i += 16) {
		domid = 0x7ff1 + fz_below(g, 15);
		memcpy(op + i, &domid, sizeof(domid));
	}
	/*
	 * The status the kernel will write, written already (the argument
	 * must not change): the source's domain is unknown if it is a grant
	 * reference (flags bit 0), not DOMID_SELF if it is a frame.
	 */
	status = (op[34] & 1) ? -2 : -8;
	memcpy(op + 36, &status, sizeof(status));
	r->nr = XEN_HC_grant_table_op;
	r->arg[0] = fz_w(g, cmd);
	r->arg[1] = fz_ptr(g, k, sizeof(op), &off);
	fz_put(g, off, op, sizeof(op));
	count = fz_pct(g, 10) ? (u32)fz_rand(g) | 0x80000000u : fz_below(g, 2);
	r->arg[2] = count;
	r->pkind = k;
	if (r->arg[0] != GNTTABOP_copy || g->compat) {
		r->expect |= FZX_EXIT;
		return;
	}
	if ((int)count < 0)
		fz_expect_kernel(r, -XE_EINVAL);
	else if (count && fz_ptr_bad(g, k, sizeof(op)))
		fz_expect_kernel(r, -XE_EFAULT);
	else
		fz_expect_kernel(r, 0);
}

/* Is @nr one of the hypercalls the kernel answers some sub-ops of? */
static bool fz_kernel_hcall(u64 nr)
{
	return nr == XEN_HC_set_timer_op || nr == XEN_HC_xen_version ||
	       nr == XEN_HC_vcpu_op || nr == XEN_HC_sched_op ||
	       nr == XEN_HC_event_channel_op || nr == XEN_HC_grant_table_op;
}

static void fz_gen_random_nr(struct fz_gen *g, struct fz_rec *r, bool huge)
{
	u32 p = fz_below(g, 100), i;
	u64 nr;

	if (!huge)
		nr = fz_below(g, 64);
	else if (p < 40)
		nr = 64 + fz_below(g, 4032);
	else if (p < 60)
		nr = 0x80000000ull | fz_below(g, 64);
	else if (p < 75)
		nr = (1ull << 32) | fz_below(g, 64);
	else
		nr = fz_rand(g);
	nr = fz_w(g, nr);
	r->nr = nr;
	for (i = 0; i < 6; i++)
		r->arg[i] = fz_w(g, fz_pct(g, 30) ? fz_below(g, 32) :
				 fz_rand(g));
	if (fz_kernel_hcall(nr)) {
		/* Random arguments: only the answer's form is known. */
		r->expect |= FZX_POSITIVE;
		return;
	}
	r->expect |= FZX_EXIT;
}

/* A write (or read) of the hypercall-page MSR, or of one near it. */
static void fz_gen_msr(struct fz_gen *g, struct fz_rec *r, bool write)
{
	u32 p = fz_below(g, 100);
	u64 gpa, idx;

	r->kind = write ? FZK_WRMSR : FZK_RDMSR;
	r->target = fz_pct(g, 92) ? XEN_HCALL_MSR :
		    0x40000000u + fz_below(g, 0x300);
	idx = fz_pct(g, 55) ? 0 : fz_pct(g, 70) ? 1 + fz_below(g, 8) :
	      1 + fz_below(g, 4095);
	if (p < 30)
		gpa = FZ_V(g->vcpu);
	else if (p < 55)
		gpa = FZ_T(fz_below(g, FZ_NR_T));
	else if (p < 62)
		gpa = FZ_STUB;
	else if (p < 75)
		gpa = FZ_HOLE_GPA + fz_below(g, 0x700) * 0x1000ull;
	else if (p < 85)
		gpa = (1ull << (52 + fz_below(g, 12))) |
		      (fz_rand(g) & 0xffffffffff000ull);
	else if (p < 92)
		gpa = 0xffff800000000000ull | (fz_rand(g) & 0x7ffffffff000ull);
	else
		gpa = fz_rand(g) & ~FZ_MSR_IDX_MASK;
	r->nr = gpa | idx;
	if (!write || r->target != XEN_HCALL_MSR)
		return;
	if (p >= 92) {
		if (idx)
			r->expect |= FZX_GP;
		return;
	}
	/* Intercepting: page 0 only; a page with no memory is #GP too. */
	if (idx || p >= 62)
		r->expect |= FZX_GP;
	else
		r->expect |= FZX_NOGP;
	if (p < 30)
		r->expect |= idx ? FZX_KEEP : FZX_STUBS;
}

static void fz_gen_twiddle(struct fz_gen *g, struct fz_rec *r)
{
	r->kind = FZK_TWIDDLE;
	r->nr = fz_below(g, 6);
	r->arg[0] = fz_pct(g, 70) ? fz_below(g, 64) : fz_below(g, 4096);
	r->arg[1] = fz_rand(g);
}

static void fz_pick_method(struct fz_gen *g, struct fz_rec *r)
{
	u32 p = fz_below(g, 100);

	if (p < 25 && g->stub_ok && r->nr < XEN_NR_STUBS) {
		r->method = FZM_STUB;
		r->target = FZ_STUB + r->nr * XEN_STUB_SIZE;
	} else if (p < 35) {
		r->method = g->vmmcall ? FZM_VMCALL : FZM_VMMCALL;
	} else {
		r->method = g->vmmcall ? FZM_VMMCALL : FZM_VMCALL;
	}
}

/*
 * A timer probe: a singleshot timer far in the future (up to the largest
 * deadline there is), a yield, then a call that asks the VMM what the
 * kernel says is armed: it must still be that deadline, not fired.
 */
static void fz_gen_probe(struct fz_gen *g, struct fz_rec *r)
{
	u32 p = fz_below(g, 100), len = g->compat ? 12 : 16, flags = 0;
	u64 d;
	s64 off;
	u8 st[16];

	r->kind = FZK_HCALL;
	if (g->probe == 1) {
		r->nr = XEN_HC_sched_op;
		r->arg[0] = SCHEDOP_yield;
		fz_expect_kernel(r, 0);
		g->probe = 2;
		return;
	}
	if (g->probe == 2) {
		r->nr = FZ_HC_TIMER_PROBE;
		r->arg[0] = fz_w(g, g->probe_deadline);
		r->expect = FZX_EXIT | FZX_VMMWANT;
		r->want = g->probe_deadline;
		g->probe = 0;
		return;
	}
	d = p < 40 ? 0x7fffffffffffffffull :
	    p < 70 ? 0x7fffffffffffffffull - fz_below(g, 1000000000) *
		     (u64)fz_below(g, 1000) :
	    (1ull << 62) + (fz_rand(g) >> 2);
	memset(st, 0, sizeof(st));
	memcpy(st, &d, 8);
	memcpy(st + 8, &flags, 4);
	r->nr = XEN_HC_vcpu_op;
	r->arg[0] = VCPUOP_set_singleshot_timer;
	r->arg[1] = g->vcpu;
	r->arg[2] = fz_ptr(g, FZP_VALID, len, &off);
	fz_put(g, off, st, len);
	fz_expect_kernel(r, 0);
	g->probe = 1;
	g->probe_deadline = d;
}

/* The next operation of this vCPU's sequence. */
static void fz_gen_op(struct fz_gen *g, struct fz_rec *r)
{
	u32 p, i;

	memset(r, 0, sizeof(*r));
	r->seq = ++g->seq;
	g->lo = FZ_BUF_LEN;
	g->hi = 0;

	if (g->probe || (g->stub_ok && fz_pct(g, 1))) {
		for (i = 0; i < 6; i++)
			r->arg[i] = fz_w(g, fz_rand(g));
		fz_gen_probe(g, r);
		goto done;
	}

	if (!g->stub_ok) {
		/* First of all, the hypercall page. */
		r->kind = FZK_WRMSR;
		r->target = XEN_HCALL_MSR;
		r->nr = FZ_STUB;
		r->expect = FZX_NOGP;
		g->stub_ok = 1;
		return;
	}

	p = fz_below(g, 100);
	if (g->compat && p >= 93)
		p = fz_below(g, 93);
	if (p >= 83) {
		if (p < 92)
			fz_gen_msr(g, r, true);
		else if (p < 93)
			fz_gen_msr(g, r, false);
		else
			fz_gen_twiddle(g, r);
		return;
	}

	r->kind = FZK_HCALL;
	for (i = 0; i < 6; i++)
		r->arg[i] = fz_w(g, fz_rand(g));
	if (p < 15)
		fz_gen_xen_version(g, r);
	else if (p < 28)
		fz_gen_sched(g, r);
	else if (p < 41)
		fz_gen_evtchn(g, r);
	else if (p < 55)
		fz_gen_vcpu_op(g, r);
	else if (p < 63)
		fz_gen_set_timer(g, r);
	else if (p < 67)
		fz_gen_hvm_op(g, r);
	else if (p < 70)
		fz_gen_memory_op(g, r);
	else if (p < 72)
		fz_gen_grant(g, r);
	else if (p < 74)
		fz_gen_other(g, r, XEN_HC_physdev_op, 32);
	else if (p < 79)
		fz_gen_random_nr(g, r, false);
	else
		fz_gen_random_nr(g, r, true);
done:
	for (i = 0; i < 6; i++)
		r->arg[i] = fz_w(g, r->arg[i]);
	fz_pick_method(g, r);
	if (g->hi > g->lo) {
		r->lo = g->lo;
		r->hi = g->hi;
		r->argsum = fz_sum(g->buf + g->lo, g->hi - g->lo);
	}
}

/* The answers the kernel may give (Xen's errno values). */
static bool fz_errno_ok(s64 v)
{
	return v == 0 || v == -XE_EPERM || v == -XE_ENOENT ||
	       v == -XE_ENOMEM || v == -XE_EFAULT || v == -XE_EINVAL ||
	       v == -XE_ENOSYS || v == -XE_ETIME;
}

/* Did the operation do what it must?  0 or an FZE_* code. */
static u32 fz_check(const struct fz_rec *r, bool compat)
{
	u64 m = compat ? 0xffffffffull : ~0ull;
	s64 v;
	int i;

	if (r->kind == FZK_WRMSR || r->kind == FZK_RDMSR) {
		if (r->fault && r->fault != 13)
			return FZE_MSR_VECTOR;
		if ((r->expect & FZX_GP) && !r->fault)
			return FZE_MUST_GP;
		if ((r->expect & FZX_NOGP) && r->fault)
			return FZE_MUST_NOT_GP;
		return FZE_OK;
	}
	if (r->kind != FZK_HCALL)
		return FZE_OK;
	if (r->exited > 1)
		return FZE_EXITS;
	for (i = 0; i < 6; i++)
		if ((r->out[i] & m) != (r->arg[i] & m))
			return FZE_REGS;
	if (r->exited) {
		if (r->expect & FZX_KERNEL)
			return FZE_MUST_KERNEL;
		if ((r->res & m) != (r->vmm_res & m))
			return FZE_VMM_RES;
		if ((r->expect & FZX_VMMWANT) && (r->res & m) != (r->want & m))
			return FZE_TIMER;
		return FZE_OK;
	}
	if (r->expect & FZX_EXIT)
		return FZE_MUST_EXIT;
	if (r->expect & FZX_WANT) {
		if ((r->res & m) == (r->want & m))
			return FZE_OK;
		if ((r->expect & FZX_ALT) && (r->res & m) == (r->alt & m))
			return FZE_OK;
		return FZE_VALUE;
	}
	v = compat ? (s32)r->res : (s64)r->res;
	if (fz_errno_ok(v) || ((r->expect & FZX_POSITIVE) && v > 0))
		return FZE_OK;
	return FZE_ERRNO;
}

/* Does @page hold the hypercall page the kernel writes? */
static bool fz_stubs_ok(const u8 *page, bool vmmcall)
{
	u32 nr, i;

	for (nr = 0; nr < XEN_NR_STUBS; nr++) {
		const u8 *s = page + nr * XEN_STUB_SIZE;

		if (s[0] != 0xb8 || s[5] != 0x0f || s[6] != 0x01 ||
		    s[7] != (vmmcall ? 0xd9 : 0xc1) || s[8] != 0xc3)
			return false;
		if (s[1] != (u8)nr || s[2] || s[3] || s[4])
			return false;
		for (i = 9; i < XEN_STUB_SIZE; i++)
			if (s[i] != 0xcc)
				return false;
	}
	return true;
}

static u64 fz_canary_sum(u64 base)
{
	u64 h = 0;
	u32 i;

	for (i = 0; i < FZ_NR_CANARY; i++)
		h = h * 31 + fz_sum((const u8 *)(base + fz_canary_pages[i] *
						 0x1000ull), 0x1000);
	return h;
}

/* ---- The 64-bit guest ---------------------------------------------------- */

static void fz_guest_fail(struct fz_vstat *vs, u64 code, u64 seq, u64 a,
			  u64 b)
{
	WRITE_ONCE(vs->fail_val[0], a);
	WRITE_ONCE(vs->fail_val[1], b);
	WRITE_ONCE(vs->fail_seq, seq);
	WRITE_ONCE(vs->fail_code, code);
	for (;;)
		__asm__ __volatile__("cli; outb %%al, %0; hlt"
				     : : "i"(FZ_PORT_FAIL) : "memory");
}

static void fz_guest_out(u16 port)
{
	__asm__ __volatile__("outb %%al, %w0" : : "Nd"(port) : "memory");
}

static void fz_upcall(struct ex_regs *regs)
{
	u64 i = rdmsr(MSR_GS_BASE);
	struct fz_vstat *vs = &FZ_CTLP->v[i];
	u8 *vi = (u8 *)READ_ONCE(vs->vcpu_info);

	WRITE_ONCE(vs->in_upcall, vs->in_upcall + 1);
	WRITE_ONCE(vs->upcalls, vs->upcalls + 1);
	if (vi) {
		__atomic_exchange_n((u32 *)(vi + 4), 0, __ATOMIC_SEQ_CST);
		__atomic_exchange_n((u32 *)(vi + 8), 0, __ATOMIC_SEQ_CST);
		__atomic_exchange_n((u32 *)(vi + 12), 0, __ATOMIC_SEQ_CST);
		WRITE_ONCE(vi[0], 0);
	}
	if (regs->vector == VCPU_UPCALL_VECTOR)
		x2apic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(vs->in_upcall, vs->in_upcall - 1);
}

/*
 * Exceptions: the fixup of wrmsr_safe()/rdmsr_safe() (libkvm's protocol),
 * anything else is a failure, reported with where it happened.
 */
static void fz_exception(struct ex_regs *regs)
{
	struct fz_vstat *vs = &FZ_CTLP->v[rdmsr(MSR_GS_BASE)];

	if (regs->r9 == KVM_EXCEPTION_MAGIC && regs->rip == regs->r10) {
		regs->rip = regs->r11;
		regs->r9 = regs->vector;
		return;
	}
	fz_guest_fail(vs, FZE_VECTOR64, 0, regs->vector | regs->error_code << 8,
		      regs->rip);
}

/* Vector 255: nothing in this VM raises it. */
static void fz_spurious(struct ex_regs *regs)
{
	struct fz_vstat *vs = &FZ_CTLP->v[rdmsr(MSR_GS_BASE)];

	WRITE_ONCE(vs->spurious, vs->spurious + 1);
	if (!READ_ONCE(vs->allow_spurious))
		fz_guest_fail(vs, FZE_SPURIOUS, 0, regs->vector, regs->rip);
}

static u64 fz_shinfo(void)
{
	return READ_ONCE(FZ_CTLP->shinfo_gpa);
}

static void fz_twiddle(struct fz_vstat *vs, const struct fz_rec *r)
{
	u64 port = r->arg[0], sh = fz_shinfo();
	u64 *w;

	switch (r->nr) {
	case 0:
	case 1:
		w = (u64 *)(sh + XEN_SHINFO_PENDING) + port / 64;
		break;
	case 2:
	case 3:
		if (r->arg[1] & 1)	/* the 32-bit layout's mask */
			w = (u64 *)(sh + XEN_SHINFO32_MASK) +
			    (port % 1024) / 64;
		else
			w = (u64 *)(sh + XEN_SHINFO_MASK) + port / 64;
		break;
	case 4:
		if (READ_ONCE(vs->vcpu_info))
			WRITE_ONCE(*(u8 *)vs->vcpu_info, 1);
		return;
	default:
		if (READ_ONCE(vs->vcpu_info))
			WRITE_ONCE(*(u8 *)(vs->vcpu_info + 1), r->arg[1]);
		return;
	}
	if (r->nr & 1)
		__atomic_and_fetch(w, ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
	else
		__atomic_or_fetch(w, 1ull << (port % 64), __ATOMIC_SEQ_CST);
	vs->twiddles++;
}

static void fz_exec(struct fz_vstat *vs, struct fz_gen *g, struct fz_rec *r)
{
	struct hcall_regs h;
	u64 v;
	u32 i;

	WRITE_ONCE(vs->cur_rec, (u64)r);
	switch (r->kind) {
	case FZK_HCALL:
		WRITE_ONCE(vs->where, FZW_HCALL);
		if (r->pend)
			__atomic_or_fetch((u64 *)(fz_shinfo() + XEN_SHINFO_PENDING) +
					  (r->pend - 1) / 64,
					  1ull << ((r->pend - 1) % 64),
					  __ATOMIC_SEQ_CST);
		h.rax = r->nr;
		h.rdi = r->arg[0];
		h.rsi = r->arg[1];
		h.rdx = r->arg[2];
		h.r10 = r->arg[3];
		h.r8 = r->arg[4];
		h.r9 = r->arg[5];
		if (r->method == FZM_STUB)
			guest_call_stub(r->target, &h);
		else if (r->method == FZM_VMCALL)
			guest_vmcall(&h);
		else
			guest_vmmcall(&h);
		r->res = h.rax;
		r->out[0] = h.rdi;
		r->out[1] = h.rsi;
		r->out[2] = h.rdx;
		r->out[3] = h.r10;
		r->out[4] = h.r8;
		r->out[5] = h.r9;
		WRITE_ONCE(vs->hcalls, vs->hcalls + 1);
		WRITE_ONCE(vs->where, FZW_HCALL_DONE);
		break;
	case FZK_WRMSR:
		WRITE_ONCE(vs->where, FZW_MSR);
		if (r->expect & (FZX_STUBS | FZX_KEEP))
			for (i = 0; i < 512; i++)
				((u64 *)FZ_V(g->vcpu))[i] = fz_mix(r->seq + i);
		r->fault = wrmsr_safe(r->target, r->nr);
		WRITE_ONCE(vs->msr_writes, vs->msr_writes + 1);
		WRITE_ONCE(vs->where, FZW_MSR_DONE);
		break;
	case FZK_RDMSR:
		r->fault = rdmsr_safe(r->target, &v);
		r->res = v;
		break;
	case FZK_TWIDDLE:
		WRITE_ONCE(vs->where, FZW_TWIDDLE);
		fz_twiddle(vs, r);
		break;
	}
	WRITE_ONCE(vs->cur_rec, 0);
	WRITE_ONCE(vs->where, FZW_CHECK);
}

static void fz_verify(struct fz_vstat *vs, struct fz_gen *g,
		      const struct fz_rec *r)
{
	const u64 *v = (const u64 *)FZ_V(g->vcpu);
	u32 e = fz_check(r, false), i;

	if (e)
		fz_guest_fail(vs, e, r->seq, r->res, r->fault);
	if (r->hi > r->lo &&
	    fz_sum(g->buf + r->lo, r->hi - r->lo) != r->argsum)
		fz_guest_fail(vs, FZE_ARGS, r->seq, r->lo, r->hi);
	if ((r->expect & FZX_STUBS) && !fz_stubs_ok((const u8 *)v, g->vmmcall))
		fz_guest_fail(vs, FZE_STUBS, r->seq, v[0], v[1]);
	if (r->expect & FZX_KEEP)
		for (i = 0; i < 512; i++)
			if (v[i] != fz_mix(r->seq + i))
				fz_guest_fail(vs, FZE_KEEP, r->seq, i, v[i]);
}

static void fz_canary_check(struct fz_vstat *vs, u64 seq)
{
	u64 sum = fz_canary_sum(FZ_GPA);

	if (sum != READ_ONCE(FZ_CTLP->canary_sum))
		fz_guest_fail(vs, FZE_CANARY, seq, sum, FZ_CTLP->canary_sum);
	vs->canary_checks++;
}

/* One fixed operation of the final round, checked like the others. */
static void fz_final_op(struct fz_vstat *vs, struct fz_gen *g,
			struct fz_rec *r, u64 nr, u64 a0, u64 a1, u32 expect,
			u64 want)
{
	memset(r, 0, sizeof(*r));
	r->seq = ++g->seq;
	r->kind = FZK_HCALL;
	r->nr = nr;
	r->arg[0] = a0;
	r->arg[1] = a1;
	r->expect = expect;
	r->want = want;
	r->method = g->vmmcall ? FZM_VMMCALL : FZM_VMCALL;
	fz_exec(vs, g, r);
	fz_verify(vs, g, r);
}

static struct fz_rec *fz_slot(u32 i, u64 seq)
{
	return (struct fz_rec *)(FZ_RINGS(i) + (seq % FZ_RING) * REC_SIZE);
}

static void fz_guest_final(struct fz_vstat *vs, struct fz_gen *g, u32 i)
{
	u64 sh = fz_shinfo(), up, spin;
	u32 port = FZ_PORT_IPI(i);

	fz_final_op(vs, g, fz_slot(i, g->seq + 1), XEN_HC_xen_version, 0, 0,
		    FZX_KERNEL | FZX_WANT, FZ_XEN_VERSION);
	fz_final_op(vs, g, fz_slot(i, g->seq + 1), 0x7fff, 1, 2, FZX_EXIT, 0);

	/* An event on the vCPU's own IPI port must come back as an upcall. */
	__atomic_and_fetch((u64 *)(sh + XEN_SHINFO_PENDING), ~(1ull << port),
			   __ATOMIC_SEQ_CST);
	__atomic_and_fetch((u64 *)(sh + XEN_SHINFO_MASK), ~(1ull << port),
			   __ATOMIC_SEQ_CST);
	__atomic_and_fetch((u64 *)(sh + XEN_SHINFO32_MASK), ~(1ull << port),
			   __ATOMIC_SEQ_CST);
	__atomic_exchange_n((u32 *)(vs->vcpu_info + 4), 0, __ATOMIC_SEQ_CST);
	__atomic_exchange_n((u64 *)(vs->vcpu_info + 8), 0, __ATOMIC_SEQ_CST);
	WRITE_ONCE(*(u8 *)vs->vcpu_info, 0);
	*(u32 *)(g->buf + 0x100) = port;
	up = READ_ONCE(vs->upcalls);
	fz_final_op(vs, g, fz_slot(i, g->seq + 1), XEN_HC_event_channel_op,
		    EVTCHNOP_send, g->buf_va + 0x100, FZX_KERNEL | FZX_WANT, 0);
	for (spin = 0; spin < 10000000 && READ_ONCE(vs->upcalls) == up; spin++)
		cpu_relax();
	if (READ_ONCE(vs->upcalls) == up ||
	    !(READ_ONCE(*(u64 *)(sh + XEN_SHINFO_PENDING)) & (1ull << port)))
		fz_guest_fail(vs, FZE_UPCALL, g->seq, port, spin);
	fz_canary_check(vs, g->seq);
	/* Leave with a timer armed (100 ms: Xen's rule for a negative one). */
	fz_final_op(vs, g, fz_slot(i, g->seq + 1), XEN_HC_set_timer_op, -1ull,
		    0, FZX_KERNEL | FZX_WANT, 0);
}

/* libkvm enters with RSP 16-byte aligned, not as after a call. */
static void __attribute__((force_align_arg_pointer)) fz_guest_main(u64 i)
{
	struct fz_vstat *vs = &FZ_CTLP->v[i];
	struct fz_gen g;
	struct fz_rec *r;
	u64 n = 0;
	u32 k;

	wrmsr(MSR_GS_BASE, i);
	x2apic_enable();
	memset(&g, 0, sizeof(g));
	g.rng = fz_mix(READ_ONCE(vs->seed)) | 1;
	g.vcpu = i;
	g.nr_vcpus = READ_ONCE(FZ_CTLP->nr_vcpus);
	g.vmmcall = READ_ONCE(FZ_CTLP->vmmcall);
	g.sshot_future_ignored = READ_ONCE(FZ_CTLP->sshot_future_ignored);
	g.buf_va = FZ_BUFWIN(i);
	g.buf = (u8 *)FZ_BUF(i);
	g.own_va = (u64)&fz_guest_main & ~0xfffull;
	for (k = 0; k < FZ_BUF_LEN / 8; k++)
		((u64 *)g.buf)[k] = fz_rand(&g);
	__asm__ __volatile__("sti" : : : "memory");

	while (READ_ONCE(vs->hcalls) < READ_ONCE(vs->quota)) {
		if (!(n++ % 1024))
			fz_canary_check(vs, g.seq);
		r = fz_slot(i, g.seq + 1);
		WRITE_ONCE(vs->where, FZW_GEN);
		fz_gen_op(&g, r);
		fz_exec(vs, &g, r);
		fz_verify(vs, &g, r);
	}

	/* The VMM now puts shared_info, vcpu_info and vectors back. */
	WRITE_ONCE(vs->phase, 1);
	fz_guest_out(FZ_PORT_DONE);
	fz_guest_final(vs, &g, i);
	WRITE_ONCE(vs->phase, 2);
	for (;;)
		fz_guest_out(FZ_PORT_FINISHED);
}

/* ---- The 32-bit guest ---------------------------------------------------- */

/*
 * Protected mode, flat segments, no paging; entered at fz32_start with
 * interrupts enabled.  It runs the records of a batch: copies each one's
 * argument bytes into its buffer, makes the hypercall (vendor instruction,
 * the other one, or the hypercall page) or the MSR access, and stores the
 * result and the argument registers; then reports the batch on
 * FZ_PORT_BATCH and starts over with the next one.  Vector 0xf3 is the
 * upcall; #GP on the MSR instructions is recorded and skipped; any other
 * exception is reported on FZ_PORT_FAIL.  The words at the end are set by
 * the host: its fz_vstat, the records, the payload arena.
 */
#define FZ_STR2(x)	#x
#define FZ_STR(x)	FZ_STR2(x)

__asm__(".pushsection .rodata.fz32, \"a\"\n"
	".code32\n"
	".balign 16\n"
	".global fz32_start\n"
	"fz32_start:\n"
	"	call 1f\n"
	"1:	pop %ebp\n"
	"	sub $(1b - fz32_start), %ebp\n"
	"fz32_loop:\n"
	"	mov (fz32_vstat - fz32_start)(%ebp), %esi\n"
	"	mov " FZ_STR(VS_B_IDX) "(%esi), %eax\n"
	"	cmp " FZ_STR(VS_B_N) "(%esi), %eax\n"
	"	jb 2f\n"
	"	out %al, $" FZ_STR(FZ_PORT_BATCH) "\n"
	"	jmp fz32_loop\n"
	"2:	imul $" FZ_STR(REC_SIZE) ", %eax, %edi\n"
	"	add (fz32_recs - fz32_start)(%ebp), %edi\n"
	"	mov %edi, " FZ_STR(VS_CUR) "(%esi)\n"
	"	movl $0, " FZ_STR(VS_CUR) "+4(%esi)\n"
	"	mov " FZ_STR(REC_CP_LEN) "(%edi), %ecx\n"
	"	jecxz 3f\n"
	"	push %esi\n"
	"	push %edi\n"
	"	mov " FZ_STR(REC_CP_SRC) "(%edi), %esi\n"
	"	add (fz32_arena - fz32_start)(%ebp), %esi\n"
	"	mov " FZ_STR(REC_CP_DST) "(%edi), %edi\n"
	"	cld\n"
	"	rep movsb\n"
	"	pop %edi\n"
	"	pop %esi\n"
	"3:	mov " FZ_STR(REC_KIND) "(%edi), %eax\n"
	"	cmp $1, %eax\n"			/* FZK_HCALL */
	"	je fz32_hcall\n"
	"	cmp $2, %eax\n"			/* FZK_WRMSR */
	"	je fz32_wrmsr\n"
	"	cmp $3, %eax\n"			/* FZK_RDMSR */
	"	je fz32_rdmsr\n"
	"	cmp $5, %eax\n"			/* FZK_SPIN */
	"	je fz32_spin\n"
	"	jmp fz32_next\n"
	"fz32_hcall:\n"
	"	push %ebp\n"
	"	push %edi\n"
	"	push " FZ_STR(REC_TARGET) "(%edi)\n"
	"	push " FZ_STR(REC_METHOD) "(%edi)\n"
	"	mov " FZ_STR(REC_ARG) "+0(%edi), %ebx\n"
	"	mov " FZ_STR(REC_ARG) "+8(%edi), %ecx\n"
	"	mov " FZ_STR(REC_ARG) "+16(%edi), %edx\n"
	"	mov " FZ_STR(REC_ARG) "+24(%edi), %esi\n"
	"	mov " FZ_STR(REC_ARG) "+40(%edi), %ebp\n"
	"	mov " FZ_STR(REC_NR) "(%edi), %eax\n"
	"	mov " FZ_STR(REC_ARG) "+32(%edi), %edi\n"
	"	cmpl $2, (%esp)\n"		/* FZM_STUB */
	"	je 5f\n"
	"	cmpl $1, (%esp)\n"		/* FZM_VMCALL */
	"	je 4f\n"
	"	vmmcall\n"
	"	jmp 6f\n"
	"4:	vmcall\n"
	"	jmp 6f\n"
	"5:	call *4(%esp)\n"
	"6:	add $8, %esp\n"
	"	xchg %edi, (%esp)\n"
	"	mov %eax, " FZ_STR(REC_RES) "(%edi)\n"
	"	mov %ebx, " FZ_STR(REC_OUT) "+0(%edi)\n"
	"	mov %ecx, " FZ_STR(REC_OUT) "+8(%edi)\n"
	"	mov %edx, " FZ_STR(REC_OUT) "+16(%edi)\n"
	"	mov %esi, " FZ_STR(REC_OUT) "+24(%edi)\n"
	"	mov %ebp, " FZ_STR(REC_OUT) "+40(%edi)\n"
	"	pop %eax\n"
	"	mov %eax, " FZ_STR(REC_OUT) "+32(%edi)\n"
	"	pop %ebp\n"
	"	mov (fz32_vstat - fz32_start)(%ebp), %esi\n"
	"	addl $1, " FZ_STR(VS_HCALLS) "(%esi)\n"
	"	adcl $0, " FZ_STR(VS_HCALLS) "+4(%esi)\n"
	"	jmp fz32_next\n"
	"fz32_wrmsr:\n"
	"	mov %edi, (fz32_msr_rec - fz32_start)(%ebp)\n"
	"	mov " FZ_STR(REC_TARGET) "(%edi), %ecx\n"
	"	mov " FZ_STR(REC_NR) "(%edi), %eax\n"
	"	mov " FZ_STR(REC_NR) "+4(%edi), %edx\n"
	"	addl $1, " FZ_STR(VS_MSRW) "(%esi)\n"
	"	adcl $0, " FZ_STR(VS_MSRW) "+4(%esi)\n"
	".global fz32_wrmsr_insn\n"
	"fz32_wrmsr_insn:\n"
	"	wrmsr\n"
	"	jmp fz32_msr_done\n"
	"fz32_rdmsr:\n"
	"	mov %edi, (fz32_msr_rec - fz32_start)(%ebp)\n"
	"	mov " FZ_STR(REC_TARGET) "(%edi), %ecx\n"
	".global fz32_rdmsr_insn\n"
	"fz32_rdmsr_insn:\n"
	"	rdmsr\n"
	"	mov %eax, " FZ_STR(REC_RES) "(%edi)\n"
	"	mov %edx, " FZ_STR(REC_RES) "+4(%edi)\n"
	"fz32_msr_done:\n"
	"	call 7f\n"
	"7:	pop %ebp\n"
	"	sub $(7b - fz32_start), %ebp\n"
	"	mov (fz32_vstat - fz32_start)(%ebp), %esi\n"
	"	jmp fz32_next\n"
	"fz32_spin:\n"
	"	mov " FZ_STR(REC_ARG) "(%edi), %ecx\n"
	"	mov " FZ_STR(REC_ARG) "+8(%edi), %eax\n"
	"8:	cmp " FZ_STR(VS_UPCALLS) "(%esi), %eax\n"
	"	jne 9f\n"
	"	pause\n"
	"	loop 8b\n"
	"9:	mov %ecx, " FZ_STR(REC_RES) "(%edi)\n"
	"fz32_next:\n"
	"	addl $1, " FZ_STR(VS_B_IDX) "(%esi)\n"
	"	jmp fz32_loop\n"

	/* 256 entry points, 16 bytes apart: push the vector, go on. */
	".balign 16\n"
	".global fz32_vectors\n"
	"fz32_vectors:\n"
	".set fzv, 0\n"
	".rept 256\n"
	"	.balign 16\n"
	"	push $fzv\n"
	"	jmp fz32_common\n"
	"	.set fzv, fzv + 1\n"
	".endr\n"
	"fz32_common:\n"
	"	pusha\n"
	"	call 1f\n"
	"1:	pop %ebp\n"
	"	sub $(1b - fz32_start), %ebp\n"
	"	mov (fz32_vstat - fz32_start)(%ebp), %esi\n"
	"	mov 32(%esp), %eax\n"
	"	cmp $" FZ_STR(UPCALL_VECTOR) ", %eax\n"
	"	je 3f\n"
	"	cmp $0xff, %eax\n"
	"	jne 6f\n"
	"	cmpl $0, " FZ_STR(VS_ALLOW_SP) "(%esi)\n"
	"	je 4f\n"
	"	addl $1, " FZ_STR(VS_SPURIOUS) "(%esi)\n"
	"	adcl $0, " FZ_STR(VS_SPURIOUS) "+4(%esi)\n"
	"	jmp 5f\n"
	"6:	cmp $13, %eax\n"
	"	jne 4f\n"
	"	mov 40(%esp), %ebx\n"
	"	lea (fz32_wrmsr_insn - fz32_start)(%ebp), %ecx\n"
	"	cmp %ecx, %ebx\n"
	"	je 2f\n"
	"	lea (fz32_rdmsr_insn - fz32_start)(%ebp), %ecx\n"
	"	cmp %ecx, %ebx\n"
	"	jne 4f\n"
	"2:	mov (fz32_msr_rec - fz32_start)(%ebp), %ecx\n"
	"	movl $13, " FZ_STR(REC_FAULT) "(%ecx)\n"
	"	lea (fz32_msr_done - fz32_start)(%ebp), %ecx\n"
	"	mov %ecx, 40(%esp)\n"
	"	popa\n"
	"	add $8, %esp\n"
	"	iret\n"
	"3:	addl $1, " FZ_STR(VS_UPCALLS) "(%esi)\n"
	"	adcl $0, " FZ_STR(VS_UPCALLS) "+4(%esi)\n"
	"	mov " FZ_STR(VS_VINFO) "(%esi), %edi\n"
	"	test %edi, %edi\n"
	"	jz 5f\n"
	"	xor %eax, %eax\n"
	"	xchg %eax, 4(%edi)\n"
	"	xor %eax, %eax\n"
	"	xchg %eax, 8(%edi)\n"
	"	xor %eax, %eax\n"
	"	xchg %eax, 12(%edi)\n"
	"	movb $0, (%edi)\n"
	"5:	popa\n"
	"	add $4, %esp\n"
	"	iret\n"
	"4:	mov %eax, " FZ_STR(VS_FAIL_VAL) "(%esi)\n"
	"	mov 36(%esp), %eax\n"
	"	mov %eax, " FZ_STR(VS_FAIL_VAL) "+8(%esi)\n"
	"	mov 40(%esp), %eax\n"
	"	mov %eax, " FZ_STR(VS_FAIL_VAL) "+12(%esi)\n"
	"	movl $" FZ_STR(FZE_VECTOR32_NR) ", " FZ_STR(VS_FAIL_CODE) "(%esi)\n"
	"	out %al, $" FZ_STR(FZ_PORT_FAIL) "\n"
	"	cli\n"
	"	hlt\n"
	"	jmp 4b\n"
	".balign 4\n"
	".global fz32_vstat\n"
	"fz32_vstat:	.long 0\n"
	".global fz32_recs\n"
	"fz32_recs:	.long 0\n"
	".global fz32_arena\n"
	"fz32_arena:	.long 0\n"
	"fz32_msr_rec:	.long 0\n"
	".global fz32_end\n"
	"fz32_end:\n"
	".code64\n"
	".popsection\n");

/* Where a label of the 32-bit code is, in this program. */
#define FZ32_SYM(sym)							\
({									\
	const u8 *__p;							\
									\
	__asm__("lea " #sym "(%%rip), %0" : "=r"(__p));			\
	__p;								\
})

/* ---- The host ------------------------------------------------------------ */

struct fz_vm;

struct fz_cpu {
	struct fz_vm *f;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	u32 idx;
	bool compat;
	u8 vector;		/* per-vCPU upcall vector at setup */
	int state;		/* 0 running, 1 at the barrier, 2 finished */
	u64 kicks;
	u64 last_hcalls;
	u64 last_change_ns;
	/* 32-bit: the generator and its view of the buffer. */
	struct fz_gen g;
	u8 *shadow;
	u64 batches;
	/* Where the vCPU was when the run stopped (after a failure). */
	struct kvm_regs regs;
	struct kvm_mp_state mp;
	bool have_regs;
};

struct fz_vm {
	struct kvm_vm *vm;
	struct fz_ctl *ctl;
	struct fz_cpu cpu[FZ_MAX_VCPUS];
	u32 nr_vcpus;
	u32 nr_compat;
	u64 seed;
	u64 quota;
	bool vmmcall;
	bool runstate;		/* KVM_XEN_HVM_CONFIG_RUNSTATE */
	bool allow_spurious;	/* FUZZ_ALLOW_SPURIOUS */
	u8 *canary;		/* the canary pages as written */
	int irqfd[FZ_MAX_VCPUS];
	int efd;		/* FZ_PORT_EFD's eventfd */
	pthread_t agitator;
	int stop;
	int final;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	u32 at_barrier;
	u32 barrier_gen;
	/* The first failure. */
	int failed;
	char why[512];
	u32 fail_vcpu;
	u64 agitations;
};

static const char * const fz_err_names[FZE_NR] = {
	[FZE_OK] = "ok",
	[FZE_EXITS] = "more than one KVM_EXIT_XEN for one hypercall",
	[FZE_MUST_EXIT] = "answered in the kernel, but the kernel does not handle it",
	[FZE_MUST_KERNEL] = "exited to the VMM, but the kernel must answer it",
	[FZE_VMM_RES] = "RAX is not the result the VMM gave",
	[FZE_VALUE] = "wrong answer from the kernel",
	[FZE_ERRNO] = "kernel answer is not a Xen errno",
	[FZE_REGS] = "argument registers changed",
	[FZE_MUST_GP] = "MSR write did not raise #GP",
	[FZE_MUST_NOT_GP] = "MSR write raised #GP",
	[FZE_MSR_VECTOR] = "MSR access raised an exception other than #GP",
	[FZE_STUBS] = "MSR write did not write the hypercall page",
	[FZE_KEEP] = "MSR write that raised #GP changed the page",
	[FZE_ARGS] = "argument memory changed by the hypercall",
	[FZE_CANARY] = "a canary page changed",
	[FZE_UPCALL] = "no upcall for an event on the vCPU's own port",
	[FZE_VECTOR32] = "unexpected exception in the 32-bit guest",
	[FZE_VECTOR64] = "unexpected exception in the 64-bit guest",
	[FZE_TIMER] = "a singleshot timer set far in the future is not armed any more",
	/* -1 from kvm_cpu_get_interrupt() after has-interrupt said yes? */
	[FZE_SPURIOUS] = "interrupt on vector 255, which nothing raises",
};

static u64 fz_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void __printf(1, 2)
fz_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void __printf(3, 4)
fz_failf(struct fz_vm *f, u32 vcpu, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->lock);
	if (!READ_ONCE(f->failed)) {
		va_start(ap, fmt);
		vsnprintf(f->why, sizeof(f->why), fmt, ap);
		va_end(ap);
		f->fail_vcpu = vcpu;
		WRITE_ONCE(f->failed, 1);
	}
	WRITE_ONCE(f->stop, 1);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void *fz_hva(struct fz_vm *f, u64 gpa, u64 len)
{
	if (gpa < FZ_GPA || gpa + len > FZ_END || gpa + len < gpa)
		return NULL;
	return (u8 *)addr_gpa2hva(f->vm, FZ_GPA) + (gpa - FZ_GPA);
}

static const char *fz_hcall_name(u64 nr)
{
	switch (nr) {
	case XEN_HC_memory_op: return "memory_op";
	case XEN_HC_set_timer_op: return "set_timer_op";
	case XEN_HC_xen_version: return "xen_version";
	case XEN_HC_grant_table_op: return "grant_table_op";
	case XEN_HC_vcpu_op: return "vcpu_op";
	case XEN_HC_sched_op: return "sched_op";
	case XEN_HC_event_channel_op: return "event_channel_op";
	case XEN_HC_physdev_op: return "physdev_op";
	case XEN_HC_hvm_op: return "hvm_op";
	}
	return "?";
}

static void fz_print_rec(const struct fz_rec *r, bool compat)
{
	static const char * const kinds[] = {
		"?", "hcall", "wrmsr", "rdmsr", "twiddle", "spin",
	};
	static const char * const methods[] = { "vmmcall", "vmcall", "stub" };
	const char *k = r->kind < ARRAY_SIZE(kinds) ? kinds[r->kind] : "?";

	if (r->kind != FZK_HCALL) {
		fz_log("#   #%lu %s target=%#lx value=%#lx arg0=%#lx",
		       r->seq, k, r->target, r->nr, r->arg[0]);
		fz_log(" res=%#lx fault=%u expect=%#x check=%u\n",
		       r->res, r->fault, r->expect, fz_check(r, compat));
		return;
	}
	fz_log("#   #%lu %s %s nr=%#lx(%s) args=%#lx %#lx %#lx %#lx %#lx %#lx",
	       r->seq, k, methods[r->method % 3], r->nr, fz_hcall_name(r->nr),
	       r->arg[0], r->arg[1], r->arg[2], r->arg[3], r->arg[4],
	       r->arg[5]);
	fz_log(" res=%#lx exited=%u vmm_res=%#lx expect=%#x want=%#lx",
	       r->res, r->exited, r->vmm_res, r->expect, r->want);
	fz_log(" alt=%#lx ptrs=%#x pend=%u check=%u\n",
	       r->alt, r->pkind, r->pend, fz_check(r, compat));
}

/* The last @nr operations of vCPU @i, oldest first. */
static void fz_print_ring(struct fz_vm *f, u32 i, u32 nr)
{
	struct fz_cpu *c = &f->cpu[i];
	struct fz_vstat *vs = &f->ctl->v[i];
	const struct fz_rec *r, *recs;
	u64 max = 0, s;
	u32 k, n;

	fz_log("# vCPU %u (%s): where=%lu in_upcall=%lu cur_rec=%#lx",
	       i, c->compat ? "32-bit" : "64-bit", vs->where, vs->in_upcall,
	       vs->cur_rec);
	fz_log(" vcpu_info=%#lx shinfo=%#lx\n", vs->vcpu_info,
	       f->ctl->shinfo_gpa);
	fz_log("# vCPU %u: hcalls=%lu msr_writes=%lu upcalls=%lu", i,
	       vs->hcalls, vs->msr_writes, vs->upcalls);
	fz_log(" exits=%lu twiddles=%lu kicks=%lu\n",
	       vs->exits, vs->twiddles, c->kicks);
	if (c->have_regs)
		fz_log("# vCPU %u stopped at rip %#llx rsp %#llx rax %#llx, mp_state %u\n",
		       i, c->regs.rip, c->regs.rsp, c->regs.rax,
		       c->mp.mp_state);
	if (c->compat) {
		recs = fz_hva(f, FZ32_RECS, FZ_BATCH * REC_SIZE);
		n = vs->b_idx < FZ_BATCH ? vs->b_idx + 1 : FZ_BATCH;
		if (n > vs->b_n)
			n = vs->b_n;
		fz_log("# last operations of vCPU %u (batch %lu):\n", i,
		       c->batches);
		for (k = n > nr ? n - nr : 0; k < n; k++)
			fz_print_rec(&recs[k], true);
		return;
	}
	recs = fz_hva(f, FZ_RINGS(i), FZ_RING * REC_SIZE);
	for (k = 0; k < FZ_RING; k++)
		if (recs[k].seq > max)
			max = recs[k].seq;
	fz_log("# last operations of vCPU %u:\n", i);
	for (s = max > nr ? max - nr + 1 : 1; s <= max; s++) {
		r = &recs[s % FZ_RING];
		if (r->seq == s)
			fz_print_rec(r, false);
	}
}

/* ---- The VMM ------------------------------------------------------------- */

static int fz_vcpu_attr(struct kvm_vcpu *vcpu, u16 type, u64 gpa)
{
	return xen_vcpu_set_gpa(vcpu, type, gpa);
}

/* Guest memory an argument names, for the VMM (what QEMU would read). */
static void *fz_arg(struct fz_vm *f, struct fz_cpu *c, u64 p, u32 len)
{
	if (c->compat)
		return fz_hva(f, (u32)p, len);
	if (p >= FZ_BUFWIN(c->idx) &&
	    p + len <= FZ_BUFWIN(c->idx) + FZ_BUF_LEN)
		return fz_hva(f, FZ_BUF(c->idx) + (p - FZ_BUFWIN(c->idx)),
			      len);
	return fz_hva(f, p, len);
}

static bool fz_in_pool(u64 gpa, u64 len)
{
	return gpa >= FZ_T(0) && gpa + len <= FZ_T(FZ_NR_T) && gpa + len > gpa;
}

/*
 * Check what the kernel said to an attribute the VMM set on the guest's
 * behalf: areas within a page work, page-crossing ones are -EINVAL, but
 * for a runstate area (@may_cross) on a kernel after 6.1.
 */
static s64 fz_area_result(struct fz_vm *f, struct fz_cpu *c, const char *what,
			  u64 gpa, u32 len, bool may_cross, int r)
{
	int want = (gpa & 0xfff) + len > 0x1000 &&
		   !(may_cross && xen_after_6_1()) ? -EINVAL : 0;

	/* A vcpu_info not 4-byte aligned: -ENXIO since upstream 6.2. */
	if (r == -ENXIO && len == 64 && (gpa & 3))
		return r;
	if (r != want)
		fz_failf(f, c->idx, "VMM: %s at %#lx: %d (%s), expected %d",
			 what, gpa, r, strerror(-r), want);
	return r;
}

static s64 fz_vmm_vcpu_op(struct fz_vm *f, struct fz_cpu *c, u32 cmd,
			  u32 vid, u64 p)
{
	struct fz_vstat *vs = &f->ctl->v[c->idx];
	u8 *a = fz_arg(f, c, p, 16);
	u64 gpa, mfn;
	u32 off;
	s64 r;

	if (cmd != FZ_VCPUOP_register_vcpu_info &&
	    cmd != FZ_VCPUOP_register_runstate &&
	    cmd != FZ_VCPUOP_register_time)
		return -XE_ENOSYS;
	if (vid != c->idx)
		return -XE_EINVAL;	/* only for itself, no cross-vCPU */
	if (!a)
		return -XE_EFAULT;
	memcpy(&mfn, a, 8);
	memcpy(&off, a + 8, 4);
	if (cmd == FZ_VCPUOP_register_vcpu_info) {
		gpa = (mfn << 12) + off;
		if (!fz_in_pool(gpa, 64))
			return -XE_EINVAL;
		r = fz_vcpu_attr(c->vcpu, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, gpa);
		fz_area_result(f, c, "VCPU_INFO", gpa, 64, false, r);
		if (!r)
			WRITE_ONCE(vs->vcpu_info, gpa);
		return r;
	}
	gpa = c->compat ? (u32)mfn : mfn;
	if (cmd == FZ_VCPUOP_register_runstate) {
		if (!f->runstate)
			return -XE_ENOSYS;
		if (!fz_in_pool(gpa, 48))
			return -XE_EINVAL;
		r = fz_vcpu_attr(c->vcpu, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				 gpa);
		return fz_area_result(f, c, "RUNSTATE_ADDR", gpa, 48, true, r);
	}
	if (!fz_in_pool(gpa, 32))
		return -XE_EINVAL;
	r = fz_vcpu_attr(c->vcpu, KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO, gpa);
	return fz_area_result(f, c, "VCPU_TIME_INFO", gpa, 32, false, r);
}

static s64 fz_vmm_hvm_op(struct fz_vm *f, struct fz_cpu *c, u32 cmd, u64 p)
{
	u8 *a = fz_arg(f, c, p, 16);
	struct kvm_xen_vcpu_attr va = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
	};
	u32 idx;
	u64 val;
	int r;

	if (cmd != FZ_HVMOP_set_param && cmd != FZ_HVMOP_set_upcall_vector)
		return -XE_ENOSYS;
	if (!a)
		return -XE_EFAULT;
	if (cmd == FZ_HVMOP_set_upcall_vector) {
		memcpy(&idx, a, 4);
		if (idx != c->idx)
			return -XE_EINVAL;
		/* Only vectors the guest has a handler for. */
		if (a[4] && (a[4] != VCPU_UPCALL_VECTOR || c->compat))
			return -XE_EINVAL;
		va.u.vector = a[4];
		r = xen_vcpu_set(c->vcpu, &va);
		if (r)
			fz_failf(f, c->idx, "VMM: UPCALL_VECTOR %#x: %d",
				 a[4], r);
		return r;
	}
	memcpy(&idx, a + 4, 4);
	memcpy(&val, a + 8, 8);
	if (idx != FZ_HVM_PARAM_CALLBACK_IRQ)
		return -XE_EINVAL;
	if (val != 0 && val != FZ_CALLBACK_VECTOR(UPCALL_VECTOR))
		return -XE_EINVAL;
	r = xen_set_vector(f->vm, val ? UPCALL_VECTOR : 0);
	if (r)
		fz_failf(f, c->idx, "VMM: UPCALL_VECTOR (VM) %#lx: %d", val, r);
	return r;
}

static s64 fz_vmm_memory_op(struct fz_vm *f, struct fz_cpu *c, u32 cmd,
			    u64 p)
{
	u8 *a = fz_arg(f, c, p, c->compat ? 16 : 24);
	u32 space, idx32, gpfn32;
	u64 idx, gpfn;
	int r;

	if (cmd != FZ_XENMEM_add_to_physmap)
		return -XE_ENOSYS;
	if (!a)
		return -XE_EFAULT;
	memcpy(&space, a + 4, 4);
	if (c->compat) {
		memcpy(&idx32, a + 8, 4);
		memcpy(&gpfn32, a + 12, 4);
		idx = idx32;
		gpfn = gpfn32;
	} else {
		memcpy(&idx, a + 8, 8);
		memcpy(&gpfn, a + 16, 8);
	}
	if (space != FZ_XENMAPSPACE_shared_info || idx ||
	    !fz_in_pool(gpfn << 12, 0x1000))
		return -XE_EINVAL;
	r = xen_set_shinfo(f->vm, gpfn);
	if (r)
		fz_failf(f, c->idx, "VMM: SHARED_INFO gfn %#lx: %d", gpfn, r);
	else
		WRITE_ONCE(f->ctl->shinfo_gpa, gpfn << 12);
	return r;
}

static s64 fz_vmm_evtchn(struct fz_vm *f, struct fz_cpu *c, u32 cmd, u64 p)
{
	u32 *port = fz_arg(f, c, p, 4);
	int r;

	if (cmd != EVTCHNOP_send)
		return -XE_ENOSYS;
	if (!port)
		return -XE_EFAULT;
	if (!*port || *port >= XEN_NR_PORTS_32)
		return -XE_EINVAL;
	/* QEMU's own ports: raise it on the sender. */
	r = xen_send(f->vm, *port, c->idx, PRIO_2L);
	if (r)
		fz_failf(f, c->idx, "VMM: EVTCHN_SEND port %u: %d", *port, r);
	return r;
}

/*
 * What only the VMM sets must stay as it set it, whatever the guest does:
 * the vCPU's Xen ID and its timer's port (the timer's state goes in *ta).
 */
static bool fz_vcpu_attrs_ok(struct fz_vm *f, struct fz_cpu *c,
			     struct kvm_xen_vcpu_attr *ta)
{
	struct kvm_xen_vcpu_attr id;
	int r;

	r = xen_get_timer(c->vcpu, ta);
	if (r || ta->u.timer.port != FZ_PORT_TIMER(c->idx)) {
		fz_failf(f, c->idx, "VMM: TIMER attribute: %d, port %u (set: %u)",
			 r, ta->u.timer.port, FZ_PORT_TIMER(c->idx));
		return false;
	}
	memset(&id, 0x5a, sizeof(id));
	id.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
	r = xen_vcpu_get(c->vcpu, &id);
	if (r || id.u.vcpu_id != c->idx) {
		fz_failf(f, c->idx, "VMM: VCPU_ID attribute: %d, %u (set: %u)",
			 r, id.u.vcpu_id, c->idx);
		return false;
	}
	return true;
}

/* KVM_EXIT_XEN: check it is the guest's hypercall, answer it. */
static void fz_vmm_hcall(struct fz_vm *f, struct fz_cpu *c)
{
	struct kvm_xen_exit *xe = &c->vcpu->run->xen;
	struct fz_vstat *vs = &f->ctl->v[c->idx];
	u64 m = c->compat ? 0xffffffffull : ~0ull, nr;
	struct kvm_xen_vcpu_attr ta;
	struct fz_rec *r;
	s64 res;
	int i;

	if (xe->type != KVM_EXIT_XEN_HCALL) {
		fz_failf(f, c->idx, "KVM_EXIT_XEN of type %u", xe->type);
		return;
	}
	r = fz_hva(f, READ_ONCE(vs->cur_rec), REC_SIZE);
	if (!r || r->kind != FZK_HCALL) {
		fz_failf(f, c->idx,
			 "KVM_EXIT_XEN (%#llx) outside a hypercall (record %#lx)",
			 xe->u.hcall.input, vs->cur_rec);
		return;
	}
	r->exited++;
	vs->exits++;
	nr = r->nr & m;
	if (xe->u.hcall.input != nr || xe->u.hcall.longmode != !c->compat ||
	    xe->u.hcall.cpl) {
		fz_failf(f, c->idx,
			 "KVM_EXIT_XEN input %#llx longmode %u cpl %u for #%lu %#lx",
			 xe->u.hcall.input, xe->u.hcall.longmode,
			 xe->u.hcall.cpl, r->seq, nr);
		return;
	}
	for (i = 0; i < 6; i++) {
		if (xe->u.hcall.params[i] != (r->arg[i] & m)) {
			fz_failf(f, c->idx,
				 "KVM_EXIT_XEN param %d is %#llx, not %#lx (#%lu)",
				 i, xe->u.hcall.params[i], r->arg[i] & m,
				 r->seq);
			return;
		}
	}

	switch (nr) {
	case XEN_HC_vcpu_op:
		res = fz_vmm_vcpu_op(f, c, r->arg[0], r->arg[1], r->arg[2]);
		break;
	case XEN_HC_hvm_op:
		res = fz_vmm_hvm_op(f, c, r->arg[0], r->arg[1]);
		break;
	case XEN_HC_memory_op:
		res = fz_vmm_memory_op(f, c, r->arg[0], r->arg[1]);
		break;
	case XEN_HC_event_channel_op:
		res = fz_vmm_evtchn(f, c, r->arg[0], r->arg[1]);
		break;
	case FZ_HC_TIMER_PROBE:
		if (!fz_vcpu_attrs_ok(f, c, &ta))
			return;
		res = ta.u.timer.expires_ns;
		break;
	case XEN_HC_sched_op:
		/* shutdown, block: the VM goes on. */
		res = (u32)r->arg[0] == SCHEDOP_shutdown ||
		      (u32)r->arg[0] == SCHEDOP_block ? 0 : -XE_ENOSYS;
		break;
	default:
		/* Unknown calls get a value the guest can recognise. */
		res = nr >= 64 ? (s64)fz_mix(r->seq ^ nr) : -XE_ENOSYS;
		break;
	}
	r->vmm_res = res;
	xe->u.hcall.result = res;
}

/* ---- vCPU threads -------------------------------------------------------- */

static void fz_sig(int sig)
{
}

/* Wait for every vCPU; the last one runs @fn first.  False: stopping. */
static bool fz_barrier(struct fz_vm *f, void (*fn)(struct fz_vm *f))
{
	u32 gen;

	pthread_mutex_lock(&f->lock);
	gen = f->barrier_gen;
	if (++f->at_barrier == f->nr_vcpus) {
		pthread_mutex_unlock(&f->lock);
		if (fn && !READ_ONCE(f->stop))
			fn(f);
		pthread_mutex_lock(&f->lock);
		f->at_barrier = 0;
		f->barrier_gen++;
		pthread_cond_broadcast(&f->cond);
	} else {
		while (gen == f->barrier_gen && !READ_ONCE(f->stop))
			pthread_cond_wait(&f->cond, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return !READ_ONCE(f->stop);
}

/* Everyone is done fuzzing: put the VM-wide state back. */
static void fz_reset_vm(struct fz_vm *f)
{
	u32 i;
	int r;

	WRITE_ONCE(f->final, 1);
	pthread_join(f->agitator, NULL);
	r = xen_set_long_mode(f->vm, 1);
	r = r ?: xen_set_shinfo(f->vm, FZ_T(0) >> 12);
	r = r ?: xen_set_vector(f->vm, UPCALL_VECTOR);
	for (i = 0; i < f->nr_vcpus && !r; i++)
		r = xen_evtchn_port(f->vm, KVM_XEN_EVTCHN_UPDATE,
				    FZ_PORT_IPI(i), EVTCHNSTAT_ipi,
				    FZ_PORT_IPI(i), i, PRIO_2L);
	f->ctl->shinfo_gpa = FZ_T(0);
	if (r)
		fz_failf(f, 0, "resetting the VM after fuzzing: %d", r);
}

/* ... and each vCPU its own. */
static int fz_reset_vcpu(struct fz_vm *f, struct fz_cpu *c)
{
	struct kvm_xen_vcpu_attr va = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
		.u.vector = c->vector,
	};
	u64 gpa = FZ_T(0) + c->idx * 64;
	struct kvm_xen_vcpu_attr ta;
	int r;

	if (!fz_vcpu_attrs_ok(f, c, &ta))
		return -EIO;
	r = fz_vcpu_attr(c->vcpu, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, gpa);
	r = r ?: xen_vcpu_set(c->vcpu, &va);
	f->ctl->v[c->idx].vcpu_info = gpa;
	return r;
}

static void fz32_batch(struct fz_vm *f, struct fz_cpu *c, bool final);
static bool fz32_check_batch(struct fz_vm *f, struct fz_cpu *c);

/* One KVM_RUN; returns the exit reason, or -1 to go round again. */
static int fz_run_once(struct fz_vm *f, struct fz_cpu *c)
{
	struct kvm_run *run = c->vcpu->run;
	int r;

	r = ioctl(c->vcpu->fd, KVM_RUN, NULL);
	if (r) {
		if (errno != EINTR && errno != EAGAIN) {
			fz_failf(f, c->idx, "KVM_RUN: %s", strerror(errno));
			return -2;
		}
		if (READ_ONCE(f->stop) && !c->have_regs) {
			vcpu_regs_get(c->vcpu, &c->regs);
			memset(&c->mp, 0, sizeof(c->mp));
			ioctl(c->vcpu->fd, KVM_GET_MP_STATE, &c->mp);
			c->have_regs = true;
		}
		return -1;
	}
	if (run->exit_reason == KVM_EXIT_XEN) {
		fz_vmm_hcall(f, c);
		return -1;
	}
	return run->exit_reason;
}

static void fz_unexpected_exit(struct fz_vm *f, struct fz_cpu *c, int why)
{
	struct kvm_run *run = c->vcpu->run;
	struct fz_vstat *vs = &f->ctl->v[c->idx];
	struct kvm_regs regs;
	struct ucall uc;

	vcpu_regs_get(c->vcpu, &regs);
	if (why == KVM_EXIT_IO && run->io.port == FZ_PORT_FAIL) {
		if (vs->fail_code == FZE_VECTOR32 && vs->fail_val[0] == 0xff)
			fz_failf(f, c->idx, "32-bit guest: %s",
				 fz_err_names[FZE_SPURIOUS]);
		else if (vs->fail_code == FZE_VECTOR64)
			fz_failf(f, c->idx,
				 "64-bit guest: exception %lu (error %#lx) at %#lx",
				 vs->fail_val[0] & 0xff, vs->fail_val[0] >> 8,
				 vs->fail_val[1]);
		else if (vs->fail_code == FZE_VECTOR32)
			fz_failf(f, c->idx, "32-bit guest: exception %lu (error code/eip %#lx)",
				 vs->fail_val[0], vs->fail_val[1]);
		else
			fz_failf(f, c->idx, "guest check failed at op #%lu: %s (%#lx, %#lx)",
				 vs->fail_seq,
				 vs->fail_code < FZE_NR ?
				 fz_err_names[vs->fail_code] : "?",
				 vs->fail_val[0], vs->fail_val[1]);
		return;
	}
	if (why == KVM_EXIT_IO && !c->compat &&
	    get_ucall(c->vcpu, &uc) == UCALL_UNHANDLED) {
		fz_failf(f, c->idx, "unexpected exception %lu in the 64-bit guest (rip %#llx)",
			 (unsigned long)uc.args[0], regs.rip);
		return;
	}
	persona_dump_vcpu(c->vcpu->fd, "vCPU");
	fz_failf(f, c->idx, "unexpected exit %d (%s) port %#x, rip %#llx",
		 why, exit_reason_str(why),
		 why == KVM_EXIT_IO ? run->io.port : 0, regs.rip);
}

static void *fz_vcpu_thread(void *arg)
{
	struct fz_cpu *c = arg;
	struct fz_vm *f = c->f;
	struct kvm_run *run = c->vcpu->run;
	int why;
	bool final = false;

	if (c->compat)
		fz32_batch(f, c, false);
	while (!READ_ONCE(f->stop)) {
		why = fz_run_once(f, c);
		if (why == -1)
			continue;
		if (why == -2)
			break;
		if (why != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT) {
			fz_unexpected_exit(f, c, why);
			break;
		}
		if (run->io.port == FZ_PORT_BATCH && c->compat) {
			if (!fz32_check_batch(f, c))
				break;
			if (final) {
				WRITE_ONCE(c->state, 2);
				break;
			}
			if (f->ctl->v[c->idx].hcalls >= f->ctl->v[c->idx].quota) {
				why = FZ_PORT_DONE;
			} else {
				fz32_batch(f, c, false);
				continue;
			}
		} else if (run->io.port == FZ_PORT_FINISHED && !c->compat) {
			WRITE_ONCE(c->state, 2);
			break;
		} else if (run->io.port != FZ_PORT_DONE || c->compat) {
			fz_unexpected_exit(f, c, why);
			break;
		}
		/* Done fuzzing: wait for all, reset, then the final round. */
		WRITE_ONCE(c->state, 1);
		if (!fz_barrier(f, fz_reset_vm))
			break;
		if (fz_reset_vcpu(f, c)) {
			fz_failf(f, c->idx, "resetting vCPU %u failed", c->idx);
			break;
		}
		WRITE_ONCE(c->state, 0);
		c->last_change_ns = fz_now_ns();
		final = true;
		if (c->compat)
			fz32_batch(f, c, true);
	}
	if (READ_ONCE(c->state) != 2 && !READ_ONCE(f->failed))
		fz_failf(f, c->idx, "vCPU %u stopped", c->idx);
	WRITE_ONCE(c->state, 2);
	return NULL;
}

/* ---- 32-bit batches ------------------------------------------------------ */

static void fz32_final_rec(struct fz_cpu *c, struct fz_rec *r, u64 nr,
			   u64 a0, u64 a1, u32 expect, u64 want)
{
	memset(r, 0, sizeof(*r));
	r->seq = ++c->g.seq;
	r->kind = FZK_HCALL;
	r->nr = nr;
	r->arg[0] = a0;
	r->arg[1] = a1;
	r->expect = expect;
	r->want = want;
	r->method = c->g.vmmcall ? FZM_VMMCALL : FZM_VMCALL;
}

/* Generate the next batch (or the final one) and fill the payloads. */
static void fz32_batch(struct fz_vm *f, struct fz_cpu *c, bool final)
{
	struct fz_vstat *vs = &f->ctl->v[c->idx];
	struct fz_rec *recs = fz_hva(f, FZ32_RECS, FZ_BATCH * REC_SIZE);
	u8 *arena = fz_hva(f, FZ32_ARENA, FZ32_ARENA_SIZE);
	u8 *buf = fz_hva(f, FZ_BUF(FZ_MAX_VCPUS - 1), FZ_BUF_LEN);
	u64 *v = fz_hva(f, FZ_V(c->idx), 0x1000);
	u64 planned = vs->hcalls;
	u32 n = 0, used = 0, i, port = FZ_PORT_IPI(c->idx);
	u8 *sh;

	/* The batch's MSR writes are judged against this. */
	for (i = 0; i < 512; i++)
		v[i] = fz_mix(c->batches ^ (i + 0x5a5a0000ull));
	memcpy(c->shadow, buf, FZ_BUF_LEN);

	if (final) {
		sh = fz_hva(f, FZ_T(0), 0x1000);
		__atomic_and_fetch(sh + XEN_SHINFO_PENDING + port / 8,
				   ~(1u << (port % 8)), __ATOMIC_SEQ_CST);
		__atomic_and_fetch(sh + XEN_SHINFO_MASK + port / 8,
				   ~(1u << (port % 8)), __ATOMIC_SEQ_CST);
		__atomic_and_fetch(sh + XEN_SHINFO32_MASK + port / 8,
				   ~(1u << (port % 8)), __ATOMIC_SEQ_CST);
		memset(sh + c->idx * 64 + 4, 0, 12);
		sh[c->idx * 64] = 0;
		memcpy(buf + 0x100, &port, 4);
		fz32_final_rec(c, &recs[n++], XEN_HC_xen_version, 0, 0,
			       FZX_KERNEL | FZX_WANT, FZ_XEN_VERSION);
		fz32_final_rec(c, &recs[n++], 0x7fff, 1, 2, FZX_EXIT, 0);
		fz32_final_rec(c, &recs[n++], XEN_HC_event_channel_op,
			       EVTCHNOP_send, FZ_BUF(FZ_MAX_VCPUS - 1) + 0x100,
			       FZX_KERNEL | FZX_WANT, 0);
		memset(&recs[n], 0, sizeof(recs[n]));
		recs[n].seq = ++c->g.seq;
		recs[n].kind = FZK_SPIN;
		recs[n].arg[0] = 10000000;
		recs[n].arg[1] = (u32)vs->upcalls;
		n++;
		fz32_final_rec(c, &recs[n++], XEN_HC_set_timer_op, -1u, -1u,
			       FZX_KERNEL | FZX_WANT, 0);
	}
	while (!final && n < FZ_BATCH && planned < vs->quota &&
	       used + FZ_BUF_LEN <= FZ32_ARENA_SIZE) {
		struct fz_rec *r = &recs[n++];

		fz_gen_op(&c->g, r);
		if (r->kind == FZK_HCALL)
			planned++;
		if (c->g.hi > c->g.lo) {
			r->cp_src = used;
			r->cp_dst = FZ_BUF(FZ_MAX_VCPUS - 1) + c->g.lo;
			r->cp_len = c->g.hi - c->g.lo;
			memcpy(arena + used, c->shadow + c->g.lo, r->cp_len);
			used = (used + r->cp_len + 7) & ~7u;
		}
	}
	vs->b_idx = 0;
	vs->b_n = n;
	vs->cur_rec = 0;
	c->batches++;
}

static bool fz32_check_batch(struct fz_vm *f, struct fz_cpu *c)
{
	struct fz_vstat *vs = &f->ctl->v[c->idx];
	struct fz_rec *recs = fz_hva(f, FZ32_RECS, FZ_BATCH * REC_SIZE);
	const u64 *v = fz_hva(f, FZ_V(c->idx), 0x1000);
	bool wrote = false, keep_ok = true;
	u32 i, e;

	if (vs->b_idx != vs->b_n) {
		fz_failf(f, c->idx, "32-bit batch ended at %lu of %lu",
			 vs->b_idx, vs->b_n);
		return false;
	}
	for (i = 0; i < vs->b_n; i++) {
		struct fz_rec *r = &recs[i];

		e = fz_check(r, true);
		if (r->kind == FZK_SPIN && !r->res)
			e = FZE_UPCALL;
		if (e) {
			vs->b_idx = i;
			fz_failf(f, c->idx, "32-bit op #%lu: %s", r->seq,
				 fz_err_names[e]);
			return false;
		}
		if (r->kind == FZK_WRMSR && !r->fault &&
		    (r->expect & FZX_STUBS))
			wrote = true;
	}
	for (i = 0; i < 512; i++)
		if (v[i] != fz_mix((c->batches - 1) ^ (i + 0x5a5a0000ull)))
			keep_ok = false;
	if (wrote && !fz_stubs_ok((const u8 *)v, f->vmmcall)) {
		fz_failf(f, c->idx, "32-bit: %s", fz_err_names[FZE_STUBS]);
		return false;
	}
	if (!wrote && !keep_ok) {
		fz_failf(f, c->idx, "32-bit: %s", fz_err_names[FZE_KEEP]);
		return false;
	}
	return true;
}

/* ---- Set-up --------------------------------------------------------------- */

static u64 fz_env(const char *name, u64 def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/*
 * A memslot that comes and goes, as when a guest moves a PCI BAR: every
 * pfn cache of the VM goes stale, and deliveries take the slow paths.
 */
#define FZ_FLAP_SLOT	31
#define FZ_FLAP_GPA	0x100000000ull

static int fz_flap_memslot(struct fz_vm *f, void *page, bool add)
{
	struct kvm_userspace_memory_region m = {
		.slot = FZ_FLAP_SLOT,
		.guest_phys_addr = FZ_FLAP_GPA,
		.memory_size = add ? 0x1000 : 0,
		.userspace_addr = (u64)page,
	};

	return ioctl_err(f->vm->fd, KVM_SET_USER_MEMORY_REGION, &m);
}

static void *fz_agitator(void *arg)
{
	struct fz_vm *f = arg;
	struct fz_gen g = { .rng = fz_mix(f->seed ^ 0xa617a7e) | 1 };
	void *page = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool flapped = false;
	u64 v;
	int r;

	while (!READ_ONCE(f->stop) && !READ_ONCE(f->final)) {
		u32 p = fz_below(&g, 100), vcpu = fz_below(&g, f->nr_vcpus);
		u32 port = 1 + fz_below(&g, 1023);

		if (p < 8 && page != MAP_FAILED) {
			r = fz_flap_memslot(f, page, !flapped);
			if (r)
				fz_failf(f, vcpu, "agitator: memslot: %d", r);
			flapped = !flapped;
		} else if (p < 40) {
			/* Above 1023 only while the VM is latched 64-bit. */
			if (fz_pct(&g, 40))
				port = 1024 + fz_below(&g, 3072);
			r = xen_send(f->vm, port, vcpu, PRIO_2L);
			if (r && (r != -EINVAL || port < XEN_NR_PORTS_32))
				fz_failf(f, vcpu, "agitator: EVTCHN_SEND %u: %d",
					 port, r);
		} else if (p < 70) {
			eventfd_write(f->irqfd[vcpu], 1);
		} else if (p < 85) {
			port = p & 1 ? FZ_PORT_IPI(vcpu) : FZ_PORT_HIPI(vcpu);
			r = xen_evtchn_port(f->vm, KVM_XEN_EVTCHN_UPDATE,
					    port, EVTCHNSTAT_ipi, port,
					    fz_below(&g, f->nr_vcpus), PRIO_2L);
			/* High ports: -EINVAL while latched 32-bit. */
			if (r && (r != -EINVAL || port < XEN_NR_PORTS_32))
				fz_failf(f, vcpu, "agitator: EVTCHN UPDATE: %d",
					 r);
		} else {
			eventfd_read(f->efd, &v);
			xen_get_shinfo(f->vm);
		}
		f->agitations++;
		usleep(500 + fz_below(&g, 1500));
	}
	if (flapped)
		fz_flap_memslot(f, page, false);
	return NULL;
}

static void fz_setup_32(struct fz_vm *f, struct fz_cpu *c)
{
	u8 *code = fz_hva(f, FZ32_CODE, 0x2000);
	u8 *desc = fz_hva(f, FZ32_DESC, 0x1000);
	const u8 *start = FZ32_SYM(fz32_start);
	u64 len = FZ32_SYM(fz32_end) - start, gate;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	u32 val, v;

	TEST_ASSERT(len <= 0x2000, "32-bit guest code too long: %lu", len);
	memcpy(code, start, len);
	val = FZ_CTL + offsetof(struct fz_ctl, v[c->idx]);
	memcpy(code + (FZ32_SYM(fz32_vstat) - start), &val, 4);
	val = FZ32_RECS;
	memcpy(code + (FZ32_SYM(fz32_recs) - start), &val, 4);
	val = FZ32_ARENA;
	memcpy(code + (FZ32_SYM(fz32_arena) - start), &val, 4);

	/* GDT: null, flat code 0x08, flat data 0x10. */
	memset(desc, 0, 0x1000);
	*(u64 *)(desc + 8) = 0x00cf9b000000ffffull;
	*(u64 *)(desc + 16) = 0x00cf93000000ffffull;
	/* IDT at +0x800: 32-bit interrupt gates to the entry points. */
	for (v = 0; v < 256; v++) {
		gate = FZ32_CODE + (FZ32_SYM(fz32_vectors) - start) + 16 * v;
		*(u64 *)(desc + 0x800 + 8 * v) =
			(gate & 0xffff) | (0x08ull << 16) | (0x8eull << 40) |
			((gate >> 16) << 48);
	}

	vcpu_sregs_get(c->vcpu, &sregs);
	vm32_seg(&sregs.cs, 0x08, 0x0b, 0);
	vm32_seg(&sregs.ds, 0x10, 0x03, 0);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x18;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0x0b;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = FZ32_DESC;
	sregs.gdt.limit = 0x17;
	sregs.idt.base = FZ32_DESC + 0x800;
	sregs.idt.limit = 0x7ff;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	vcpu_sregs_set(c->vcpu, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rip = FZ32_CODE;
	regs.rsp = FZ32_STACK_TOP;
	regs.rflags = X86_EFLAGS_FIXED | 0x200;	/* IF */
	vcpu_regs_set(c->vcpu, &regs);

	c->shadow = calloc(1, FZ_BUF_LEN);
	TEST_ASSERT(c->shadow, "calloc");
	memset(&c->g, 0, sizeof(c->g));
	c->g.rng = fz_mix(f->ctl->v[c->idx].seed) | 1;
	c->g.vcpu = c->idx;
	c->g.nr_vcpus = f->nr_vcpus;
	c->g.compat = 1;
	c->g.vmmcall = f->vmmcall;
	c->g.sshot_future_ignored = xen_after_6_1();
	c->g.buf_va = FZ_BUF(FZ_MAX_VCPUS - 1);
	c->g.buf = c->shadow;
	c->g.own_va = 0x1000 + 0x1000 * fz_below(&c->g, 0x100);
	/* The buffer's random content, from the same generator. */
	for (v = 0; v < FZ_BUF_LEN / 8; v++)
		((u64 *)fz_hva(f, FZ_BUF(FZ_MAX_VCPUS - 1), FZ_BUF_LEN))[v] =
			fz_rand(&c->g);
}

static void __fz_setup(struct __test_metadata *_metadata, struct fz_vm *f,
		       void *guest_code)
{
	struct kvm_vcpu *vcpus[FZ_MAX_VCPUS];
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[FZ_MAX_VCPUS];
	} routes;
	struct fz_gen g;
	u32 i, k;
	u8 *p;

	f->vm = vm_create_with_vcpus(f->nr_vcpus, guest_code, vcpus);
	vm_init_descriptor_tables(f->vm);
	vm_install_exception_handler(f->vm, UPCALL_VECTOR, fz_upcall);
	vm_install_exception_handler(f->vm, VCPU_UPCALL_VECTOR, fz_upcall);
	for (i = 0; i < 32; i++)
		if (i != 2)	/* NMI */
			vm_install_exception_handler(f->vm, i, fz_exception);
	vm_install_exception_handler(f->vm, 0xff, fz_spurious);

	vm_userspace_mem_region_add(f->vm, VM_MEM_SRC_ANONYMOUS, FZ_GPA,
				    FZ_SLOT, FZ_PAGES, 0);
	virt_map(f->vm, FZ_GPA, FZ_GPA, FZ_PAGES);
	for (i = 0; i < FZ_MAX_VCPUS; i++) {
		virt_pg_map(f->vm, FZ_BUFWIN(i), FZ_BUF(i));
		virt_pg_map(f->vm, FZ_BUFWIN(i) + 0x1000, FZ_BUF(i) + 0x1000);
	}
	virt_pg_map(f->vm, FZ_HOLEWIN, FZ_HOLE_GPA + 0x400000);
	p = addr_gpa2hva(f->vm, FZ_GPA);
	memset(p, 0, FZ_PAGES * 0x1000);

	/* Canaries: random pages nobody may write. */
	memset(&g, 0, sizeof(g));
	g.rng = fz_mix(f->seed ^ 0xca5a11e5ull) | 1;
	for (i = 0; i < FZ_NR_CANARY; i++)
		for (k = 0; k < 0x1000 / 8; k++)
			((u64 *)(p + fz_canary_pages[i] * 0x1000))[k] =
				fz_rand(&g);
	f->canary = malloc(FZ_PAGES * 0x1000);
	ASSERT_NE(NULL, f->canary);
	memcpy(f->canary, p, FZ_PAGES * 0x1000);

	f->ctl = fz_hva(f, FZ_CTL, 0x1000);
	f->ctl->nr_vcpus = f->nr_vcpus;
	f->ctl->vmmcall = f->vmmcall;
	f->ctl->sshot_future_ignored = xen_after_6_1();
	f->ctl->shinfo_gpa = FZ_T(0);
	f->ctl->canary_sum = fz_canary_sum((u64)p);

	ASSERT_EQ(0, xen_config_simple(f->vm,
				       KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
				       KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_long_mode(f->vm, 1));
	ASSERT_EQ(0, xen_set_shinfo(f->vm, FZ_T(0) >> 12));
	ASSERT_EQ(0, xen_set_vector(f->vm, UPCALL_VECTOR));
	ASSERT_EQ(0, xen_set_version(f->vm, FZ_XEN_VERSION));

	for (i = 0; i < f->nr_vcpus; i++) {
		struct fz_cpu *c = &f->cpu[i];
		struct kvm_xen_vcpu_attr a = {
			.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
			.u.vcpu_id = i,
		};

		c->f = f;
		c->vcpu = vcpus[i];
		c->idx = i;
		c->compat = i >= f->nr_vcpus - f->nr_compat;
		c->vector = !c->compat && i < 2 ? VCPU_UPCALL_VECTOR : 0;
		f->ctl->v[i].seed = fz_mix(f->seed + i * 0x9e3779b9ull);
		f->ctl->v[i].quota = f->quota / f->nr_vcpus +
				     (i ? 0 : f->quota % f->nr_vcpus);
		f->ctl->v[i].vcpu_info = FZ_T(0) + i * 64;
		f->ctl->v[i].allow_spurious = f->allow_spurious;
		vcpu_init_descriptor_tables(c->vcpu);
		vcpu_args_set(c->vcpu, 1, (u64)i);

		ASSERT_EQ(0, xen_vcpu_set(c->vcpu, &a));
		ASSERT_EQ(0, fz_vcpu_attr(c->vcpu,
					  KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
					  FZ_T(0) + i * 64));
		ASSERT_EQ(0, fz_vcpu_attr(c->vcpu,
					  KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
					  FZ_T(1) + i * 64));
		if (f->runstate)
			ASSERT_EQ(0, fz_vcpu_attr(c->vcpu,
						  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
						  FZ_T(1) + 0x800 + i * 64));
		ASSERT_EQ(0, xen_set_timer(c->vcpu, FZ_PORT_TIMER(i), PRIO_2L,
					   0));
		if (c->vector) {
			a.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR;
			a.u.vector = c->vector;
			ASSERT_EQ(0, xen_vcpu_set(c->vcpu, &a));
		}
		ASSERT_EQ(0, xen_evtchn_port(f->vm, 0, FZ_PORT_IPI(i),
					     EVTCHNSTAT_ipi, FZ_PORT_IPI(i), i,
					     PRIO_2L));
		ASSERT_EQ(0, xen_evtchn_port(f->vm, 0, FZ_PORT_HIPI(i),
					     EVTCHNSTAT_ipi, FZ_PORT_HIPI(i), i,
					     PRIO_2L));
		if (c->compat)
			fz_setup_32(f, c);
	}
	ASSERT_EQ(0, xen_evtchn_port(f->vm, 0, FZ_PORT_IDOM,
				     EVTCHNSTAT_interdomain, FZ_PORT_IDOM_TO,
				     0, PRIO_2L));
	f->efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, f->efd);
	ASSERT_EQ(0, xen_evtchn_eventfd(f->vm, FZ_PORT_EFD, f->efd));

	/* Routing type 5 and an irqfd per vCPU, as QEMU's backends. */
	memset(&routes, 0, sizeof(routes));
	for (i = 0; i < f->nr_vcpus; i++) {
		struct kvm_irq_routing_entry *e = &routes.e[i];
		struct kvm_irqfd irqfd = { .gsi = FZ_GSI(i) };

		e->gsi = FZ_GSI(i);
		e->type = KVM_IRQ_ROUTING_XEN_EVTCHN;
		e->u.xen_evtchn.port = fz_port_irqfd(i);
		e->u.xen_evtchn.vcpu = i;
		e->u.xen_evtchn.priority = PRIO_2L;
		f->irqfd[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_LE(0, f->irqfd[i]);
		irqfd.fd = f->irqfd[i];
		routes.info.nr = i + 1;
		ASSERT_EQ(0, ioctl_err(f->vm->fd, KVM_SET_GSI_ROUTING,
				       &routes.info));
		ASSERT_EQ(0, ioctl_err(f->vm->fd, KVM_IRQFD, &irqfd));
	}
}

#define fz_setup(f, code) __fz_setup(_metadata, f, code)

/* Whatever the guest did, these pages must be as the host left them. */
static bool fz_final_memory(struct fz_vm *f)
{
	const u8 *p = addr_gpa2hva(f->vm, FZ_GPA);
	bool ok = true;
	u32 i, k;

	for (i = 0; i < FZ_NR_CANARY; i++) {
		u32 pg = fz_canary_pages[i];

		for (k = 0; k < 0x1000; k++) {
			if (p[pg * 0x1000 + k] == f->canary[pg * 0x1000 + k])
				continue;
			fz_log("# canary page %u (gpa %#llx) changed at +%#x: %#x, was %#x\n",
			       pg, FZ_PG(pg), k, p[pg * 0x1000 + k],
			       f->canary[pg * 0x1000 + k]);
			ok = false;
			break;
		}
	}
	if (!fz_stubs_ok(p + (FZ_STUB - FZ_GPA), f->vmmcall)) {
		fz_log("# the hypercall page at %#llx is damaged\n", FZ_STUB);
		ok = false;
	}
	return ok;
}

TEST(fuzz_guest)
{
	struct fz_vm *f;
	struct sigaction sa = { .sa_handler = fz_sig };
	u64 t0, last_print, hcalls, msrw, upcalls, exits, kicks = 0, now;
	u64 stop_ns = 0;
	u32 i, running;
	bool mem_ok;
	double secs;

	f = calloc(1, sizeof(*f));
	ASSERT_NE(NULL, f);
	f->seed = fz_env("FUZZ_SEED", fz_mix(fz_now_ns() ^ getpid()) >> 16);
	f->quota = fz_env("FUZZ_HCALLS", 100000);
	f->nr_vcpus = fz_env("FUZZ_VCPUS", 4);
	f->nr_compat = fz_env("FUZZ_VCPUS32", 1);
	f->allow_spurious = fz_env("FUZZ_ALLOW_SPURIOUS", 0);
	fz_log("# seed=%lu\n", f->seed);
	if (xen_missing(CAPS_EVTCHN))
		return;
	ASSERT_TRUE(f->nr_vcpus >= 1 && f->nr_vcpus <= FZ_MAX_VCPUS);
	ASSERT_TRUE(f->nr_compat <= 1);
	f->vmmcall = host_uses_vmmcall();
	f->runstate = xen_caps() & CAP_RUNSTATE;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	fz_log("# fuzz_guest: %u vCPUs (%u 32-bit), %lu hypercalls, %s\n",
	       f->nr_vcpus, f->nr_compat, f->quota,
	       f->vmmcall ? "vmmcall" : "vmcall");

	fz_setup(f, fz_guest_main);

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	t0 = fz_now_ns();
	last_print = t0;
	for (i = 0; i < f->nr_vcpus; i++) {
		f->cpu[i].last_change_ns = t0;
		ASSERT_EQ(0, pthread_create(&f->cpu[i].thread, NULL,
					    fz_vcpu_thread, &f->cpu[i]));
	}
	ASSERT_EQ(0, pthread_create(&f->agitator, NULL, fz_agitator, f));

	/* Watch: kick vCPUs that sit in a long poll, give up on stalls. */
	for (;;) {
		usleep(20000);
		now = fz_now_ns();
		running = 0;
		for (i = 0; i < f->nr_vcpus; i++) {
			struct fz_cpu *c = &f->cpu[i];
			u64 h = f->ctl->v[i].hcalls + f->ctl->v[i].b_idx +
				f->ctl->v[i].msr_writes;

			if (READ_ONCE(c->state) == 2)
				continue;
			running++;
			if (READ_ONCE(c->state) == 1 || h != c->last_hcalls) {
				c->last_hcalls = h;
				c->last_change_ns = now;
				continue;
			}
			/*
			 * Generous: the test host's clock runs fast when the
			 * machine under it is loaded.
			 */
			if (now - c->last_change_ns > 300000000000ull &&
			    !READ_ONCE(f->failed)) {
				fz_failf(f, i, "vCPU %u made no progress for 300 s",
					 i);
			} else if (now - c->last_change_ns > 30000000ull) {
				pthread_kill(c->thread, SIGUSR1);
				c->kicks++;
			}
		}
		if (READ_ONCE(f->stop)) {
			if (!stop_ns)
				stop_ns = now;
			for (i = 0; i < f->nr_vcpus; i++)
				if (READ_ONCE(f->cpu[i].state) != 2)
					pthread_kill(f->cpu[i].thread, SIGUSR1);
		}
		if (!running)
			break;
		if (stop_ns && now - stop_ns > 30000000000ull) {
			fz_log("# vCPU threads do not stop; giving up\n");
			break;
		}
		if (now - last_print > 15000000000ull) {
			for (hcalls = 0, i = 0; i < f->nr_vcpus; i++)
				hcalls += f->ctl->v[i].hcalls;
			fz_log("# progress: %lu hypercalls after %.0f s\n",
			       hcalls, (now - t0) / 1e9);
			last_print = now;
		}
	}
	WRITE_ONCE(f->stop, 1);
	if (!READ_ONCE(f->final))
		pthread_join(f->agitator, NULL);
	secs = (fz_now_ns() - t0) / 1e9;

	hcalls = 0;
	msrw = 0;
	upcalls = 0;
	exits = 0;
	for (i = 0; i < f->nr_vcpus; i++) {
		hcalls += f->ctl->v[i].hcalls;
		msrw += f->ctl->v[i].msr_writes;
		upcalls += f->ctl->v[i].upcalls;
		exits += f->ctl->v[i].exits;
		kicks += f->cpu[i].kicks;
	}
	mem_ok = fz_final_memory(f);
	if (READ_ONCE(f->failed)) {
		fz_log("# FAILED on vCPU %u: %s (seed=%lu)\n", f->fail_vcpu,
		       f->why, f->seed);
		fz_print_ring(f, f->fail_vcpu, FZ_RING);
		for (i = 0; i < f->nr_vcpus; i++)
			if (i != f->fail_vcpu)
				fz_print_ring(f, i, 4);
	}
	for (i = 0; i < f->nr_vcpus; i++) {
		struct fz_vstat *vs = &f->ctl->v[i];

		fz_log("# vCPU %u (%s): hypercalls=%lu msr_writes=%lu",
		       i, f->cpu[i].compat ? "32-bit" : "64-bit", vs->hcalls,
		       vs->msr_writes);
		fz_log(" vmm_exits=%lu upcalls=%lu twiddles=%lu", vs->exits,
		       vs->upcalls, vs->twiddles);
		fz_log(" canary_checks=%lu kicks=%lu spurious=%lu\n",
		       vs->canary_checks, f->cpu[i].kicks, vs->spurious);
	}
	fz_log("# upcalls=%lu vmm_exits=%lu kicks=%lu agitations=%lu\n",
	       upcalls, exits, kicks, f->agitations);
	fz_log("# fuzz_guest: hypercalls=%lu msr_writes=%lu vcpus=%u seed=%lu seconds=%.1f\n",
	       hcalls, msrw, f->nr_vcpus, f->seed, secs);
	ASSERT_FALSE(READ_ONCE(f->failed))
		TH_LOG("seed=%lu: %s", f->seed, f->why);
	ASSERT_TRUE(mem_ok) TH_LOG("seed=%lu: canary or stub page changed",
				   f->seed);
	ASSERT_LE(f->quota, hcalls);
	kvm_vm_free(f->vm);
}

TEST_HARNESS_MAIN
