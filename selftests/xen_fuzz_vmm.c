// SPDX-License-Identifier: GPL-2.0
/*
 * xen_fuzz_vmm: a hostile VMM.
 *
 * One Xen VM with 2-4 vCPUs, each running a guest loop of in-kernel
 * hypercalls (EVTCHNOP_send on registered ports, SCHEDOP_poll with and
 * without timeouts, set_timer_op, singleshot timers, xen_version, writes to
 * the hypercall MSR in both page modes, HLT) and of calls that exit to us,
 * in threads of their own.  Meanwhile 1-2 fuzz threads issue random
 * ioctls from a seeded PRNG: KVM_XEN_HVM_CONFIG (flags, MSR, blob),
 * every KVM_XEN_HVM_{SET,GET}_ATTR and KVM_XEN_VCPU_{SET,GET}_ATTR type
 * including unknown ones, KVM_XEN_HVM_EVTCHN_SEND, KVM_SET_GSI_ROUTING
 * with type 5 entries, KVM_IRQFD and writes to its eventfds, KVM_IRQ_LINE,
 * KVM_SIGNAL_MSI, and KVM_SET_USER_MEMORY_REGION deleting, re-adding and
 * moving the memslot that holds shared_info, vcpu_info and runstate (the
 * guest's code, stack and page tables live in slot 0 and survive).
 *
 * Checked as it goes: every result is 0 or an errno the ABI allows for
 * that call; bad inputs the ABI names get exactly its errno; a GET after
 * a successful SET returns what was set where the ABI says it does; no
 * guest exception, emulation failure or unexpected exit; the guest's
 * text in slot 0 (which no area the fuzzer names may reach) unchanged.
 * At the end a known-good configuration must still deliver an event and
 * a timer to every vCPU, and every vCPU must still make progress.  The
 * test host's harness scans the kernel log.
 *
 * Environment: FUZZ_SEED, FUZZ_IOCTLS (default 10000), FUZZ_THREADS
 * (1-2, default 2), FUZZ_VCPUS (2-4, default from the seed), FUZZ_TIMEOUT
 * (seconds, default 800), FUZZ_STALL (seconds without progress that count
 * as a hang, default 120), FUZZ_EXCLUDE (comma-separated operation names
 * to leave out, for looking past a known bug).
 *
 * Output: "# seed=<S>" first, "# fuzz_vmm: ioctls=<N> seed=<S>
 * seconds=<T>" at the end; on failure, the last 64 operations.
 */
#include "persona_fuzz.h"

#define FV_MAX_VCPUS		4
#define FV_MAX_THREADS		2

/* The fuzzed memslot: identity mapped in the guest at FV_GPA. */
#define FV_SLOT			30
#define FV_PAGES		16
#define FV_GPA			0xd0000000ull
#define FV_ALT1_GPA		0xd4000000ull
#define FV_ALT2_GPA		0xd8000000ull
#define FV_SHINFO2_PAGE		1
#define FV_AREA_PAGE		2	/* pages 2-3: vcpu areas */
#define FV_HPAGE_PAGE		4	/* pages 4-7: hypercall pages */
#define FV_HPAGE_GPA		(FV_GPA + FV_HPAGE_PAGE * 4096ull)
#define FV_MEM_BYTES		(FV_PAGES * 4096ul)

#define FV_NR_EFD		8
#define FV_GSI_BASE		24
#define FV_NR_GSI		16
#define FV_NR_PORTS		8
#define FV_BLOB_PAGES		4

#define FV_GUEST_FUZZ		0
#define FV_GUEST_CALM		1

#define XEN_ENOSYS		38

/* ---- The guest ---------------------------------------------------------- */

struct fv_guest {
	u64 use_vmmcall;
	u64 mode;
	u64 msr;			/* the Xen MSR, 0: none */
	u64 kvmclock;			/* refreshed by the host */
	u64 shinfo;			/* guest address, 0: not reachable */
	u64 vcpu_info[FV_MAX_VCPUS];	/* guest address, 0: not reachable */
	u64 rng[FV_MAX_VCPUS];
	u64 iter[FV_MAX_VCPUS];
	u64 irqs[FV_MAX_VCPUS];
	u64 hcalls[FV_MAX_VCPUS];
	u32 ports[FV_NR_PORTS];
	u32 send[FV_MAX_VCPUS][2];
	struct xen_sched_poll poll[FV_MAX_VCPUS];
	u32 poll_ports[FV_MAX_VCPUS][4];
	struct xen_singleshot sst[FV_MAX_VCPUS];
};

static struct fv_guest fg;

static inline u64 fv_guest_rand(u64 i)
{
	u64 s = fg.rng[i];

	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	fg.rng[i] = s;
	return s * 0x2545f4914f6cdd1dull;
}

static inline u64 fv_hcall(u64 nr, u64 a1, u64 a2, u64 a3)
{
	u64 rax = nr;

	if (READ_ONCE(fg.use_vmmcall))
		__asm__ __volatile__("vmmcall"
				     : "+a"(rax)
				     : "D"(a1), "S"(a2), "d"(a3)
				     : "memory");
	else
		__asm__ __volatile__("vmcall"
				     : "+a"(rax)
				     : "D"(a1), "S"(a2), "d"(a3)
				     : "memory");
	return rax;
}

/*
 * Every vector the host may pick lands here: count it, take the
 * selector, clear evtchn_upcall_pending and the pending ports of the
 * selected words, as a Linux guest does.  Plain accesses only (the host
 * may have moved the memslot away; they then become emulated MMIO).
 */
static void fv_guest_irq(struct ex_regs *regs)
{
	u64 i = rdmsr(MSR_GS_BASE);
	u8 *vi = (u8 *)READ_ONCE(fg.vcpu_info[i]);
	u64 *sh = (u64 *)READ_ONCE(fg.shinfo);
	u64 sel, w, p;

	WRITE_ONCE(fg.irqs[i], fg.irqs[i] + 1);
	if (vi) {
		sel = __atomic_exchange_n((u64 *)(vi + 8), 0, __ATOMIC_SEQ_CST);
		WRITE_ONCE(vi[0], 0);
		for (w = 0; sh && sel && w < 64; w++) {
			if (!(sel & (1ull << w)))
				continue;
			sel &= ~(1ull << w);
			p = READ_ONCE(sh[XEN_SHINFO_PENDING / 8 + w]) &
			    ~READ_ONCE(sh[XEN_SHINFO_MASK / 8 + w]);
			if (p)
				WRITE_ONCE(sh[XEN_SHINFO_PENDING / 8 + w],
					   READ_ONCE(sh[XEN_SHINFO_PENDING / 8 + w]) & ~p);
		}
	}
	x2apic_write_reg(APIC_EOI, 0);
}

/*
 * Exceptions: wrmsr_safe()'s fixup (libkvm's is not reachable from a
 * handler of our own), else report vector, RIP and error code.
 */
static void fv_guest_fault(struct ex_regs *regs)
{
	if (regs->r9 == KVM_EXCEPTION_MAGIC && regs->rip == regs->r10 &&
	    regs->vector != DE_VECTOR) {
		regs->rip = regs->r11;
		regs->r9 = regs->vector;
		return;
	}
	ucall(UCALL_UNHANDLED, 3, regs->vector, regs->rip, regs->error_code);
}

static inline u64 fv_guest_deadline(u64 r)
{
	switch (r % 8) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return ~0ull;
	case 3:
		return 1ull << 63;
	default:
		return READ_ONCE(fg.kvmclock) + (r >> 4) % 3000000;
	}
}

static void fv_guest_step(u64 i)
{
	u64 r = fv_guest_rand(i), op = r % 16, n, k, msr;

	r >>= 4;
	switch (op) {
	case 0:
	case 1:
	case 2:
		fg.send[i][0] = fg.ports[r % FV_NR_PORTS];
		fv_hcall(XEN_HC_event_channel_op, EVTCHNOP_send,
			 (u64)&fg.send[i], 0);
		break;
	case 3:
	case 4:
		n = 1 + r % 3;
		for (k = 0; k < n; k++)
			fg.poll_ports[i][k] = fg.ports[((r >> 2) + k) % FV_NR_PORTS];
		fg.poll[i].ports = (u64)fg.poll_ports[i];
		fg.poll[i].nr_ports = (r >> 8) % 16 ? n : 129;
		fg.poll[i].timeout = (r >> 12) % 4 ? (r >> 16) % 2000000 : 0;
		fv_hcall(XEN_HC_sched_op, SCHEDOP_poll, (u64)&fg.poll[i], 0);
		break;
	case 5:
		fv_hcall(XEN_HC_sched_op, SCHEDOP_yield, 0, 0);
		break;
	case 6:
	case 7:
		fv_hcall(XEN_HC_set_timer_op, fv_guest_deadline(r), 0, 0);
		break;
	case 8:
		fg.sst[i].timeout_abs_ns = READ_ONCE(fg.kvmclock) +
					   (r >> 4) % 5000000 - 1000000;
		fg.sst[i].flags = r & VCPU_SSHOTTMR_future;
		fv_hcall(XEN_HC_vcpu_op, VCPUOP_set_singleshot_timer,
			 (r >> 8) % 8 ? i : i + 1, (u64)&fg.sst[i]);
		break;
	case 9:
		fv_hcall(XEN_HC_vcpu_op, VCPUOP_stop_singleshot_timer, i, 0);
		break;
	case 10:
		fv_hcall(XEN_HC_xen_version, XENVER_version, 0, 0);
		break;
	case 11:
		msr = READ_ONCE(fg.msr);
		if (msr)
			wrmsr_safe(msr, FV_HPAGE_GPA + 4096 * (r % 4) + (r >> 2) % 4);
		break;
	case 12:
		__asm__ __volatile__("sti; hlt" : : : "memory");
		break;
	case 13:
		/* A port nobody registered: exits to the VMM. */
		fg.send[i][0] = 4000 + r % 96;
		fv_hcall(XEN_HC_event_channel_op, EVTCHNOP_send,
			 (u64)&fg.send[i], 0);
		break;
	case 14:
		/* Garbage arguments to the calls the kernel parses. */
		n = r % 5 == 0 ? XEN_HC_sched_op : r % 5 == 1 ? XEN_HC_vcpu_op :
		    r % 5 == 2 ? XEN_HC_event_channel_op :
		    r % 5 == 3 ? XEN_HC_set_timer_op : (r >> 8) % 64;
		fv_hcall(n, (r >> 3) % 8, fv_guest_rand(i), fv_guest_rand(i));
		break;
	default:
		cpu_relax();
		break;
	}
	WRITE_ONCE(fg.hcalls[i], fg.hcalls[i] + 1);
}

static void fv_guest_main(u64 i)
{
	wrmsr(MSR_GS_BASE, i);
	x2apic_enable();
	for (;;) {
		__asm__ __volatile__("sti; nop" : : : "memory");
		WRITE_ONCE(fg.iter[i], fg.iter[i] + 1);
		if (READ_ONCE(fg.mode) == FV_GUEST_CALM)
			cpu_relax();
		else
			fv_guest_step(i);
	}
}

/* ---- Host state --------------------------------------------------------- */

enum fv_op {
	OP_CONFIG, OP_LONG_MODE, OP_SHINFO, OP_VECTOR, OP_EVTCHN, OP_RESET,
	OP_VERSION, OP_VM_BADTYPE, OP_VM_GET, OP_VCPU_INFO, OP_TIME_INFO,
	OP_RS_ADDR, OP_RS_CURRENT, OP_RS_DATA, OP_RS_ADJUST, OP_VCPU_ID,
	OP_TIMER, OP_VCPU_VECTOR, OP_VCPU_BADTYPE, OP_VCPU_GET, OP_SEND,
	OP_ROUTING, OP_IRQFD, OP_EFD_WRITE, OP_EFD_SWAP, OP_SLOT, OP_REMAP,
	OP_IRQ_LINE, OP_MSI, OP_KICK, OP_HOSTMEM, OP_SHINFO_HVA,
	OP_VCPU_INFO_HVA, OP_RS_FLAG, NR_OPS,
};

struct fv_opinfo {
	const char *name;
	unsigned int weight;
	u64 n, err;
};

static struct fv_opinfo fv_ops[NR_OPS] = {
	[OP_CONFIG]	  = { "config", 6 },
	[OP_LONG_MODE]	  = { "long_mode", 4 },
	[OP_SHINFO]	  = { "shinfo", 5 },
	[OP_VECTOR]	  = { "vector", 3 },
	[OP_EVTCHN]	  = { "evtchn", 8 },
	[OP_RESET]	  = { "reset", 2 },
	[OP_VERSION]	  = { "version", 1 },
	[OP_VM_BADTYPE]	  = { "vm_badtype", 1 },
	[OP_VM_GET]	  = { "vm_get", 3 },
	[OP_VCPU_INFO]	  = { "vcpu_info", 6 },
	[OP_TIME_INFO]	  = { "time_info", 3 },
	[OP_RS_ADDR]	  = { "rs_addr", 4 },
	[OP_RS_CURRENT]	  = { "rs_current", 2 },
	[OP_RS_DATA]	  = { "rs_data", 2 },
	[OP_RS_ADJUST]	  = { "rs_adjust", 2 },
	[OP_VCPU_ID]	  = { "vcpu_id", 2 },
	[OP_TIMER]	  = { "timer", 6 },
	[OP_VCPU_VECTOR]  = { "vcpu_vector", 3 },
	[OP_VCPU_BADTYPE] = { "vcpu_badtype", 1 },
	[OP_VCPU_GET]	  = { "vcpu_get", 3 },
	[OP_SEND]	  = { "send", 8 },
	[OP_ROUTING]	  = { "routing", 4 },
	[OP_IRQFD]	  = { "irqfd", 4 },
	[OP_EFD_WRITE]	  = { "efd_write", 6 },
	[OP_EFD_SWAP]	  = { "efd_swap", 1 },
	[OP_SLOT]	  = { "slot", 5 },
	[OP_REMAP]	  = { "remap", 1 },
	[OP_IRQ_LINE]	  = { "irq_line", 2 },
	[OP_MSI]	  = { "msi", 3 },
	[OP_KICK]	  = { "kick", 2 },
	[OP_HOSTMEM]	  = { "hostmem", 3 },
	[OP_SHINFO_HVA]	  = { "shinfo_hva", 3 },
	[OP_VCPU_INFO_HVA] = { "vcpu_info_hva", 3 },
	[OP_RS_FLAG]	  = { "rs_flag", 1 },
};

struct fv_slot {
	bool present;
	u64 gpa;
	u64 pages;
	u32 flags;
	unsigned int mem;		/* which backing */
};

static struct {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[FV_MAX_VCPUS];
	pthread_t vthread[FV_MAX_VCPUS];
	unsigned int nr_vcpus;
	unsigned int nr_threads;
	unsigned int caps;
	unsigned int max_vcpus;		/* KVM_CAP_MAX_VCPUS */
	struct fv_guest *g;		/* the guest's fg */
	u8 *mem[2];			/* backings of the fuzzed slot */
	u8 *blob;			/* FV_BLOB_PAGES, then a guard page */

	pthread_mutex_t slot_lock;
	struct fv_slot slot;

	pthread_mutex_t efd_lock;
	int efd[FV_NR_EFD];

	/* Serialises a SET and the GET that checks it, per attribute. */
	pthread_mutex_t rt_lock[64];

	/*
	 * vCPU ioctls wait for the vCPU's mutex, which KVM_RUN holds (in
	 * HLT, too): like any VMM, stop the vCPU first.
	 */
	struct fv_pause {
		pthread_mutex_t m;
		pthread_cond_t c;
		int req;
		bool paused;
	} vp[FV_MAX_VCPUS];

	/* Last TIMER port set per vCPU: nothing else may change it. */
	u32 timer_port[FV_MAX_VCPUS];

	u64 target;
	int stop_fuzz;
	int stop_vcpus;
	u64 runs, run_efault, xen_exits, mmio_exits;
} fv;

static const u8 fv_safe_vectors[] = {
	0xf3, 0xf3, 0xf3, 0xe3, 0xe3, 0x10, 0x12, 0x1f, 0x20, 0x30, 0x80,
	0xef, 0xfe, 0xff,
};

static u8 fv_vector(struct fz_rng *r)
{
	if (fz_chance(r, 10))
		return 0;
	return fz_pick(r, fv_safe_vectors);
}

static u32 fv_port(struct fz_rng *r)
{
	static const u32 odd[] = {
		0, 1, 63, 64, 1023, 1024, 4095, 4096, 4097, 0x7fffffff,
		0xffffffff,
	};

	if (fz_chance(r, 75))
		return fv.g->ports[fz_below(r, FV_NR_PORTS)];
	if (fz_chance(r, 50))
		return fz_pick(r, odd);
	return fz_below(r, 4096);
}

static u32 fv_vcpu_id(struct fz_rng *r)
{
	if (fz_chance(r, 90))
		return fz_below(r, fv.nr_vcpus);
	return fz_pick(r, ((const u32[]){ 4, 5, 1023, 1024, 0xffffffff }));
}

static u32 fv_prio(struct fz_rng *r)
{
	if (fz_chance(r, 90))
		return PRIO_2L;
	return fz_pick(r, ((const u32[]){ 0, 1, 15, 0xfffffffe }));
}

static u64 fv_clock(void)
{
	struct kvm_clock_data c;

	memset(&c, 0, sizeof(c));
	if (fz_ioctl(fv.vm->fd, KVM_GET_CLOCK, &c, "get_clock", 0, 0, 0, 0))
		return READ_ONCE(fv.g->kvmclock);
	WRITE_ONCE(fv.g->kvmclock, c.clock);
	return c.clock;
}

static inline bool fv_excluded(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* ---- Stopping a vCPU for its ioctls -------------------------------------- */

static void fv_pause(unsigned int j)
{
	struct fv_pause *p = &fv.vp[j];
	struct timespec ts;

	pthread_mutex_lock(&p->m);
	p->req++;
	while (!p->paused) {
		WRITE_ONCE(fv.vcpu[j]->run->immediate_exit, 1);
		pthread_kill(fv.vthread[j], SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->c, &p->m, &ts);
	}
	pthread_mutex_unlock(&p->m);
}

static void fv_resume(unsigned int j)
{
	struct fv_pause *p = &fv.vp[j];

	pthread_mutex_lock(&p->m);
	if (!--p->req)
		pthread_cond_broadcast(&p->c);
	pthread_mutex_unlock(&p->m);
}

/* In the vCPU's thread, between two KVM_RUNs. */
static void fv_pause_point(unsigned int i)
{
	struct fv_pause *p = &fv.vp[i];

	pthread_mutex_lock(&p->m);
	if (p->req) {
		p->paused = true;
		pthread_cond_broadcast(&p->c);
		while (p->req)
			pthread_cond_wait(&p->c, &p->m);
		p->paused = false;
		if (!READ_ONCE(fv.stop_vcpus))
			WRITE_ONCE(fv.vcpu[i]->run->immediate_exit, 0);
	}
	pthread_mutex_unlock(&p->m);
}

/* ---- Attribute wrappers that record into the ring ----------------------- */

static long fv_vm_set(struct kvm_xen_hvm_attr *a, const char *op)
{
	return fz_ioctl(fv.vm->fd, KVM_XEN_HVM_SET_ATTR, a, op, a->type,
			a->u.pad[0], a->u.pad[1], a->u.pad[2]);
}

static long fv_vm_get(struct kvm_xen_hvm_attr *a, const char *op)
{
	return fz_ioctl(fv.vm->fd, KVM_XEN_HVM_GET_ATTR, a, op, a->type,
			a->u.pad[0], 0, 0);
}

static long fv_vcpu_set(unsigned int j, struct kvm_xen_vcpu_attr *a,
			const char *op)
{
	long r;

	fv_pause(j);
	r = fz_ioctl(fv.vcpu[j]->fd, KVM_XEN_VCPU_SET_ATTR, a, op,
		     (u64)j << 32 | a->type, a->u.pad[0], a->u.pad[1],
		     a->u.pad[2]);
	fv_resume(j);
	return r;
}

static long fv_vcpu_get(unsigned int j, struct kvm_xen_vcpu_attr *a,
			const char *op)
{
	long r;

	fv_pause(j);
	r = fz_ioctl(fv.vcpu[j]->fd, KVM_XEN_VCPU_GET_ATTR, a, op,
		     (u64)j << 32 | a->type, 0, 0, 0);
	fv_resume(j);
	return r;
}

/* Attribute types a 6.1 kernel does not know (later ones if advertised). */
static u16 fv_bad_vm_type(struct fz_rng *r)
{
	u16 t = fz_pick(r, ((const u16[]){ 5, 6, 7, 8, 0x100, 0x7fff,
					    0xffff }));

	if (fv.caps & ~XEN_CAPS_6_1 && t <= 6)
		t = 0x100;
	return t;
}

static u16 fv_bad_vcpu_type(struct fz_rng *r)
{
	u16 t = fz_pick(r, ((const u16[]){ 9, 10, 11, 0x100, 0xffff }));

	if (fv.caps & ~XEN_CAPS_6_1 && t <= 10)
		t = 0x100;
	return t;
}

/* ---- VM operations ------------------------------------------------------ */

static void fv_op_config(struct fz_rng *r)
{
	static const u32 msrs[] = {
		XEN_HCALL_MSR, XEN_HCALL_MSR, XEN_HCALL_MSR, XEN_HCALL_MSR,
		XEN_HCALL_MSR_LOW, 0x4fffffff, 0x40000300, 0,
		0x3fffffff, 0x50000000, 0xffffffff, 0x80000000,
	};
	struct kvm_xen_hvm_config c;
	u32 good = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
		   KVM_XEN_HVM_CONFIG_EVTCHN_SEND |
		   (fv.caps & CAP_TSC_UNSTABLE);
	u64 addrs[6];
	bool bad;
	long ret;

	memset(&c, 0, sizeof(c));
	switch (fz_below(r, 20)) {
	case 0 ... 9:
		c.flags = good & ~(fz_chance(r, 50) ? CAP_TSC_UNSTABLE : 0);
		break;
	case 10 ... 11:
		c.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
		break;
	case 12 ... 16:
		/* Blob mode: the guest's MSR writes copy from our memory. */
		c.flags = fz_chance(r, 70) ? KVM_XEN_HVM_CONFIG_EVTCHN_SEND : 0;
		break;
	case 17 ... 18:
		c.flags = good | (1u << (2 + fz_below(r, 30)));
		break;
	default:
		c.flags = fz_rand(r);
		break;
	}
	c.msr = fz_chance(r, 10) ? 0x40000200 + fz_below(r, 0x0fffff00) :
				   fz_pick(r, msrs);

	addrs[0] = (u64)fv.blob;
	addrs[1] = (u64)fv.blob + 2 * 4096;
	addrs[2] = (u64)fv.blob + FV_BLOB_PAGES * 4096;	/* guard page */
	addrs[3] = 0;
	addrs[4] = 0xffffffff81000000ull;
	addrs[5] = fz_rand(r);
	if (!(c.flags & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) ||
	    fz_chance(r, 5)) {
		c.blob_addr_64 = fz_chance(r, 70) ? addrs[0] : fz_pick(r, addrs);
		c.blob_addr_32 = fz_pick(r, addrs);
		c.blob_size_64 = fz_chance(r, 80) ? fz_below(r, 5) : fz_rand(r);
		c.blob_size_32 = fz_below(r, 3);
	}

	bad = (c.flags & ~good) ||
	      (c.msr && (c.msr < 0x40000000 || c.msr > 0x4fffffff)) ||
	      ((c.flags & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) &&
	       (c.blob_addr_32 || c.blob_addr_64 || c.blob_size_32 ||
		c.blob_size_64));
	ret = fz_ioctl(fv.vm->fd, KVM_XEN_HVM_CONFIG, &c, "config", c.flags,
		       c.msr, c.blob_addr_64, c.blob_size_64);
	if (bad)
		fz_check_eq(ret, -EINVAL, "KVM_XEN_HVM_CONFIG flags %#x msr %#x",
			    c.flags, c.msr);
	else
		fz_check(ret, FZ_ERRS(ENOMEM), "KVM_XEN_HVM_CONFIG flags %#x msr %#x",
			 c.flags, c.msr);
	if (!ret)
		WRITE_ONCE(fv.g->msr, c.msr);
}

static void fv_op_long_mode(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_LONG_MODE };
	u8 lm = fz_chance(r, 90) ? fz_below(r, 2) : fz_rand(r);
	long ret;

	a.u.long_mode = lm;
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	ret = fv_vm_set(&a, "long_mode");
	/* Rewriting the wallclock may find shared_info gone. */
	fz_check(ret, FZ_ERRS(EFAULT, EINVAL), "LONG_MODE %u", lm);
	memset(&a.u, 0x5a, sizeof(a.u));
	ret = fv_vm_get(&a, "get_lm");
	fz_check_eq(ret, 0, "GET LONG_MODE");
	/* The guest's MSR writes latch 1 (it is a 64-bit guest). */
	if (lm && a.u.long_mode != 1)
		fz_fail("LONG_MODE set to %u reads back %u", lm, a.u.long_mode);
	if (a.u.long_mode > 1)
		fz_fail("LONG_MODE reads back %u", a.u.long_mode);
	pthread_mutex_unlock(&fv.rt_lock[a.type]);
}

static void fv_op_shinfo(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_SHARED_INFO };
	static const u64 bases[] = { FV_GPA, FV_GPA, FV_ALT1_GPA, FV_ALT2_GPA };
	static const u64 huge_gfns[] = {
		1ull << 40, (1ull << 40) - 1, ~1ull, 1ull << 63,
	};
	u64 gfn;
	long ret;

	switch (fz_below(r, 20)) {
	case 0 ... 1:
		gfn = XEN_INVALID_GFN;
		break;
	case 2:
		gfn = UNBACKED_GPA >> 12;
		break;
	case 3:
		gfn = fz_pick(r, huge_gfns);
		break;
	case 4:
		gfn = fz_rand(r);
		break;
	default:
		gfn = (fz_pick(r, bases) >> 12) +
		      (fz_chance(r, 70) ? 0 : fz_below(r, FV_PAGES + 2));
		break;
	}
	a.u.shared_info.gfn = gfn;
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	ret = fv_vm_set(&a, "shinfo");
	if (gfn != XEN_INVALID_GFN && gfn >= 1ull << 40)
		fz_check_eq(ret, -EINVAL, "SHARED_INFO gfn %#llx",
			    (unsigned long long)gfn);
	else if (gfn == UNBACKED_GPA >> 12)
		fz_check_eq(ret, -EFAULT, "SHARED_INFO gfn %#llx (no memslot)",
			    (unsigned long long)gfn);
	else
		fz_check(ret, FZ_ERRS(EFAULT, EINVAL), "SHARED_INFO gfn %#llx",
			 (unsigned long long)gfn);
	if (!ret) {
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vm_get(&a, "get_shinfo"), 0, "GET SHARED_INFO");
		if (a.u.shared_info.gfn != gfn)
			fz_fail("SHARED_INFO set to %#llx reads back %#llx",
				(unsigned long long)gfn,
				(unsigned long long)a.u.shared_info.gfn);
		WRITE_ONCE(fv.g->shinfo, gfn == FV_GPA >> 12 ? FV_GPA : 0);
	}
	pthread_mutex_unlock(&fv.rt_lock[a.type]);
}

static void fv_op_vector(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR };
	u8 v = fz_chance(r, 10) ? 1 + fz_below(r, 15) : fv_vector(r);
	long ret;

	a.u.vector = v;
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	ret = fv_vm_set(&a, "vector");
	fz_check_eq(ret, v && v < 0x10 ? -EINVAL : 0, "UPCALL_VECTOR %#x", v);
	if (!ret) {
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vm_get(&a, "get_vector"), 0, "GET UPCALL_VECTOR");
		if (a.u.vector != v)
			fz_fail("UPCALL_VECTOR set to %#x reads back %#x", v,
				a.u.vector);
	}
	pthread_mutex_unlock(&fv.rt_lock[a.type]);
}

static int fv_any_efd(struct fz_rng *r)
{
	int fd;

	switch (fz_below(r, 10)) {
	case 0:
		return -1;
	case 1:
		return fv.vm->fd;	/* not an eventfd */
	case 2:
		return 999;
	default:
		pthread_mutex_lock(&fv.efd_lock);
		fd = fv.efd[fz_below(r, FV_NR_EFD)];
		pthread_mutex_unlock(&fv.efd_lock);
		return fd;
	}
}

static void fv_op_evtchn(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };
	u32 port = fv_port(r), flags;
	bool bad_flags = false;
	long ret;

	switch (fz_below(r, 20)) {
	case 0 ... 9:
		flags = 0;
		break;
	case 10 ... 12:
		flags = KVM_XEN_EVTCHN_UPDATE;
		break;
	case 13 ... 18:
		flags = KVM_XEN_EVTCHN_DEASSIGN;
		break;
	default:
		flags = fz_pick(r, ((const u32[]){ 3, 5, 6, 7, 8, 0x80000000 }));
		bad_flags = true;
		break;
	}
	a.u.evtchn.send_port = port;
	a.u.evtchn.flags = flags;
	a.u.evtchn.type = fz_chance(r, 90) ?
		(fz_chance(r, 40) ? EVTCHNSTAT_ipi : EVTCHNSTAT_interdomain) :
		fz_pick(r, ((const u32[]){ 0, 1, 3, 4, 6, 0xffffffff }));
	if (a.u.evtchn.type == EVTCHNSTAT_interdomain && fz_chance(r, 40)) {
		a.u.evtchn.deliver.eventfd.port = 0;
		a.u.evtchn.deliver.eventfd.fd = fv_any_efd(r);
	} else {
		a.u.evtchn.deliver.port.port =
			a.u.evtchn.type == EVTCHNSTAT_ipi && fz_chance(r, 90) ?
			port : fv_port(r);
		a.u.evtchn.deliver.port.vcpu = fv_vcpu_id(r);
		a.u.evtchn.deliver.port.priority = fv_prio(r);
	}
	ret = fv_vm_set(&a, "evtchn");
	if (bad_flags || !port || port >= XEN_NR_PORTS_64)
		fz_check_eq(ret, -EINVAL, "EVTCHN flags %#x port %u", flags,
			    port);
	else
		fz_check(ret, FZ_ERRS(EINVAL, ENOENT, EEXIST, EBADF, ENOMEM),
			 "EVTCHN flags %#x port %u type %u", flags, port,
			 a.u.evtchn.type);
}

static void fv_op_reset(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	a.u.evtchn.flags = KVM_XEN_EVTCHN_RESET;
	if (fz_chance(r, 30))
		a.u.evtchn.send_port = fv_port(r);
	fz_check_eq(fv_vm_set(&a, "evtchn_reset"), 0, "EVTCHN RESET");
}

static void fv_op_version(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_XEN_VERSION };
	u32 v = fz_chance(r, 50) ? 0x4000a : fz_rand(r);

	a.u.xen_version = v;
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	fz_check_eq(fv_vm_set(&a, "version"), 0, "XEN_VERSION");
	memset(&a.u, 0x5a, sizeof(a.u));
	fz_check_eq(fv_vm_get(&a, "get_version"), 0, "GET XEN_VERSION");
	if (a.u.xen_version != v)
		fz_fail("XEN_VERSION set to %#x reads back %#x", v,
			a.u.xen_version);
	pthread_mutex_unlock(&fv.rt_lock[a.type]);
}

static void fv_op_vm_badtype(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a;
	unsigned int i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < ARRAY_SIZE(a.u.pad); i++)
		a.u.pad[i] = fz_rand(r);
	a.type = fv_bad_vm_type(r);
	fz_check_eq(fv_vm_set(&a, "vm_badtype"), -ENOENT,
		    "SET_ATTR type %#x", a.type);
}

static void fv_op_vm_get(struct fz_rng *r)
{
	unsigned int nr = xen_after_6_1() ? 7 : 5;
	struct kvm_xen_hvm_attr a;
	long ret;

	memset(&a, 0xa5, sizeof(a));
	a.type = fz_chance(r, 80) ? fz_below(r, nr) : fv_bad_vm_type(r);
	ret = fv_vm_get(&a, "vm_get");
	if (a.type >= nr)
		fz_check_eq(ret, -ENOENT, "GET_ATTR type %#x", a.type);
	else
		fz_check(ret, FZ_ERRS(ENOENT, EINVAL), "GET_ATTR type %#x",
			 a.type);
	if (!ret && a.type == KVM_XEN_ATTR_TYPE_LONG_MODE && a.u.long_mode > 1)
		fz_fail("LONG_MODE reads %u", a.u.long_mode);
}

/* ---- vCPU operations ---------------------------------------------------- */

/* A guest physical address for an area of @len bytes. */
static u64 fv_area_gpa(struct fz_rng *r)
{
	static const u64 offs[] = {
		0, 8, 0x20, 0x34, 0x38, 0x3c, 0x40, 0x80, 0xfc0, 0xfc8, 0xfd0,
		0xfe0, 0xff0, 0xff8, 0xfff,
	};
	static const u64 bases[] = {
		FV_GPA, FV_GPA, FV_GPA, FV_GPA, FV_ALT1_GPA, FV_ALT2_GPA,
	};
	u64 page, off;

	switch (fz_below(r, 20)) {
	case 0 ... 1:
		return XEN_INVALID_GPA;
	case 2:
		return UNBACKED_GPA + fz_pick(r, offs);
	case 3:
		return fz_pick(r, ((const u64[]){ 1ull << 52, 1ull << 63,
						  0xfffffffffffff000ull,
						  ~0ull - 64 }));
	case 4:
		return FV_GPA + FV_MEM_BYTES - fz_below(r, 64);
	default:
		break;
	}
	page = fz_chance(r, 40) ? 0 : FV_AREA_PAGE + fz_below(r, 2);
	switch (fz_below(r, 4)) {
	case 0:
		off = fz_below(r, 4096);
		break;
	case 1:
		off = fz_below(r, 64) * 64;
		break;
	default:
		off = fz_pick(r, offs);
		break;
	}
	return fz_pick(r, bases) + page * 4096 + off;
}

/* VCPU_INFO, VCPU_TIME_INFO, RUNSTATE_ADDR. */
static void fv_op_area(struct fz_rng *r, u16 type, u64 len, const char *op)
{
	struct kvm_xen_vcpu_attr a = { .type = type };
	unsigned int j = fz_below(r, fv.nr_vcpus);
	pthread_mutex_t *lk = &fv.rt_lock[8 + type * FV_MAX_VCPUS + j];
	u64 gpa = fv_area_gpa(r);
	bool runstate = type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR;
	long ret;

	a.u.gpa = gpa;
	pthread_mutex_lock(lk);
	ret = fv_vcpu_set(j, &a, op);
	if (runstate && ret == -EOPNOTSUPP && !(fv.caps & CAP_RUNSTATE))
		goto out;
	/* Documentation/abi.rst: as upstream since 6.2 */
	if (type == KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO &&
	    gpa != XEN_INVALID_GPA && (gpa & 3))
		fz_check_eq(ret, -ENXIO, "%s gpa %#llx not 4-byte aligned", op,
			    (unsigned long long)gpa);
	else if (gpa != XEN_INVALID_GPA && (gpa & 0xfff) + len > 4096 &&
		 !(runstate && xen_after_6_1()))
		fz_check_eq(ret, -EINVAL, "%s gpa %#llx crosses a page", op,
			    (unsigned long long)gpa);
	else if (gpa == XEN_INVALID_GPA)
		fz_check_eq(ret, 0, "%s = GPA_INVALID", op);
	else if ((gpa & ~0xfffull) == UNBACKED_GPA || gpa >= 1ull << 52)
		fz_check_eq(ret, -EFAULT, "%s gpa %#llx (no memslot)", op,
			    (unsigned long long)gpa);
	else
		fz_check(ret, FZ_ERRS(EFAULT), "%s gpa %#llx", op,
			 (unsigned long long)gpa);
	if (ret)
		goto out;

	if (type == KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO)
		WRITE_ONCE(fv.g->vcpu_info[j],
			   gpa >= FV_GPA && gpa < FV_GPA + FV_MEM_BYTES ? gpa : 0);

	memset(&a.u, 0x5a, sizeof(a.u));
	ret = fv_vcpu_get(j, &a, op);
	if (runstate && gpa == XEN_INVALID_GPA) {
		/* An unset runstate area has no address to read. */
		fz_check(ret, FZ_ERRS(ENOENT), "GET RUNSTATE_ADDR after unset");
		if (!ret && a.u.gpa != gpa)
			fz_fail("RUNSTATE_ADDR unset reads back %#llx",
				(unsigned long long)a.u.gpa);
		goto out;
	}
	fz_check_eq(ret, 0, "GET %s", op);
	if (a.u.gpa != gpa)
		fz_fail("%s of vCPU %u set to %#llx reads back %#llx", op, j,
			(unsigned long long)gpa, (unsigned long long)a.u.gpa);
out:
	pthread_mutex_unlock(lk);
}

static u64 fv_time_value(struct fz_rng *r)
{
	return fz_pick(r, ((const u64[]){ 0, 1, 1000, 1000000000ull,
					  1ull << 62, 1ull << 63, ~0ull,
					  fz_rand(r) }));
}

static void fv_op_runstate(struct fz_rng *r, u16 type, const char *op)
{
	struct kvm_xen_vcpu_attr a = { .type = type };
	unsigned int j = fz_below(r, fv.nr_vcpus);
	__u64 *t = &a.u.runstate.time_running;
	u64 now = fv_clock();
	u64 state;
	bool bad_state;
	unsigned int i;
	long ret;

	state = fz_chance(r, 85) ? fz_below(r, 4) :
		fz_pick(r, ((const u64[]){ 4, 5, 0x80000000, ~0ull }));
	a.u.runstate.state = state;
	if (fz_chance(r, 60)) {
		/* Consistent: the times add up to an entry time in the past. */
		u64 total = fz_chance(r, 20) ? 0 : fz_below(r, now + 1);

		for (i = 0; i < 3; i++) {
			t[i] = fz_below(r, total + 1);
			total -= t[i];
		}
		t[3] = total;
		a.u.runstate.state_entry_time =
			t[0] + t[1] + t[2] + t[3];
		if (type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST &&
		    fz_chance(r, 70)) {
			for (i = 0; i < 4; i++)
				t[i] /= 1000000;
			a.u.runstate.state_entry_time =
				t[0] + t[1] + t[2] + t[3];
		}
	} else {
		a.u.runstate.state_entry_time = fv_time_value(r);
		for (i = 0; i < 4; i++)
			t[i] = fv_time_value(r);
	}

	ret = fv_vcpu_set(j, &a, op);
	if (ret == -EOPNOTSUPP && !(fv.caps & CAP_RUNSTATE))
		return;
	if (type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST)
		bad_state = state > RUNSTATE_offline && state != ~0ull;
	else
		bad_state = state > RUNSTATE_offline;
	if (bad_state)
		fz_check_eq(ret, -EINVAL, "%s state %#llx", op,
			    (unsigned long long)state);
	else if (type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT)
		fz_check_eq(ret, 0, "%s state %llu", op,
			    (unsigned long long)state);
	else
		fz_check(ret, FZ_ERRS(EINVAL), "%s state %llu", op,
			 (unsigned long long)state);
}

static void fv_op_vcpu_id(struct fz_rng *r)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID };
	unsigned int j = fz_below(r, fv.nr_vcpus);
	pthread_mutex_t *lk = &fv.rt_lock[8 + a.type * FV_MAX_VCPUS + j];
	u32 id = fz_chance(r, 70) ? j : fv_vcpu_id(r);
	long ret;

	a.u.vcpu_id = id;
	pthread_mutex_lock(lk);
	ret = fv_vcpu_set(j, &a, "vcpu_id");
	/* The kernel's KVM_MAX_VCPUS: 1024 on 6.1, a config option on 6.12. */
	fz_check_eq(ret, id >= fv.max_vcpus ? -EINVAL : 0, "VCPU_ID %u", id);
	if (!ret) {
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vcpu_get(j, &a, "get_vcpu_id"), 0, "GET VCPU_ID");
		if (a.u.vcpu_id != id)
			fz_fail("VCPU_ID set to %u reads back %u", id,
				a.u.vcpu_id);
	}
	pthread_mutex_unlock(lk);
}

static long xen_get_timer_rec(unsigned int j, struct kvm_xen_vcpu_attr *a)
{
	memset(a, 0x5a, sizeof(*a));
	a->type = KVM_XEN_VCPU_ATTR_TYPE_TIMER;
	return fv_vcpu_get(j, a, "get_timer");
}

static void fv_op_timer(struct fz_rng *r)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };
	unsigned int j = fz_below(r, fv.nr_vcpus);
	pthread_mutex_t *lk = &fv.rt_lock[8 + a.type * FV_MAX_VCPUS + j];
	u64 now = fv_clock();
	long ret;

	a.u.timer.port = fz_chance(r, 10) ? 0 : fv_port(r);
	a.u.timer.priority = fv_prio(r);
	switch (fz_below(r, 10)) {
	case 0:
		a.u.timer.expires_ns = 0;
		break;
	case 1:
		a.u.timer.expires_ns = 1;
		break;
	case 2:
		a.u.timer.expires_ns = now - 1000000000ull;
		break;
	case 3:
		a.u.timer.expires_ns = fz_pick(r, ((const u64[]){
			~0ull, 1ull << 63, now + (1ull << 62) }));
		break;
	default:
		a.u.timer.expires_ns = now + fz_below(r, 5000000);
		break;
	}
	pthread_mutex_lock(lk);
	if (!fz_chance(r, 50)) {
		struct kvm_xen_vcpu_attr g;

		fz_check_eq(xen_get_timer_rec(j, &g), 0, "GET TIMER");
		if (g.u.timer.port != fv.timer_port[j])
			fz_fail("vCPU %u: TIMER port is %#x, last set to %#x (overwritten?)",
				j, g.u.timer.port, fv.timer_port[j]);
	}
	ret = fv_vcpu_set(j, &a, "timer");
	fz_check_eq(ret, a.u.timer.port && a.u.timer.priority != PRIO_2L ?
			 -EINVAL : 0,
		    "TIMER port %u priority %#x", a.u.timer.port,
		    a.u.timer.priority);
	if (!ret) {
		u32 port = a.u.timer.port;

		fv.timer_port[j] = port;
		fz_check_eq(xen_get_timer_rec(j, &a), 0, "GET TIMER");
		if (a.u.timer.port != port)
			fz_fail("TIMER port set to %u reads back %u", port,
				a.u.timer.port);
	}
	pthread_mutex_unlock(lk);
}

static void fv_op_vcpu_vector(struct fz_rng *r)
{
	struct kvm_xen_vcpu_attr a = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
	};
	unsigned int j = fz_below(r, fv.nr_vcpus);
	pthread_mutex_t *lk = &fv.rt_lock[8 + a.type * FV_MAX_VCPUS + j];
	u8 v = fz_chance(r, 10) ? 1 + fz_below(r, 15) : fv_vector(r);
	long ret;

	/* Mostly off: the VM-wide vector is the one that needs no EOI. */
	if (fz_chance(r, 40))
		v = 0;
	a.u.vector = v;
	pthread_mutex_lock(lk);
	ret = fv_vcpu_set(j, &a, "vcpu_vector");
	fz_check_eq(ret, v && v < 0x10 ? -EINVAL : 0, "vCPU UPCALL_VECTOR %#x",
		    v);
	if (!ret) {
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vcpu_get(j, &a, "get_vvector"), 0,
			    "GET vCPU UPCALL_VECTOR");
		if (a.u.vector != v)
			fz_fail("vCPU UPCALL_VECTOR set to %#x reads back %#x",
				v, a.u.vector);
	}
	pthread_mutex_unlock(lk);
}

static void fv_op_vcpu_badtype(struct fz_rng *r)
{
	struct kvm_xen_vcpu_attr a;
	unsigned int i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < ARRAY_SIZE(a.u.pad); i++)
		a.u.pad[i] = fz_rand(r);
	a.type = fv_bad_vcpu_type(r);
	fz_check_eq(fv_vcpu_set(fz_below(r, fv.nr_vcpus), &a, "vcpu_badtype"),
		    -ENOENT, "vCPU SET_ATTR type %#x", a.type);
}

static void fv_op_vcpu_get(struct fz_rng *r)
{
	unsigned int nr = xen_after_6_1() ? 10 : 9;
	struct kvm_xen_vcpu_attr a;
	long ret;

	memset(&a, 0xa5, sizeof(a));
	a.type = fz_chance(r, 85) ? fz_below(r, nr) : fv_bad_vcpu_type(r);
	ret = fv_vcpu_get(fz_below(r, fv.nr_vcpus), &a, "vcpu_get");
	if (a.type >= nr)
		fz_check_eq(ret, -ENOENT, "vCPU GET_ATTR type %#x", a.type);
	else
		fz_check(ret, FZ_ERRS(ENOENT, EINVAL, EOPNOTSUPP),
			 "vCPU GET_ATTR type %#x", a.type);
}

/* ---- Events ------------------------------------------------------------- */

static void fv_op_send(struct fz_rng *r)
{
	struct kvm_irq_routing_xen_evtchn e;
	long ret;

	e.port = fv_port(r);
	e.vcpu = fv_vcpu_id(r);
	e.priority = fv_prio(r);
	ret = fz_ioctl(fv.vm->fd, KVM_XEN_HVM_EVTCHN_SEND, &e, "send", e.port,
		       e.vcpu, e.priority, 0);
	if (!e.port || e.port >= XEN_NR_PORTS_64 || e.priority != PRIO_2L)
		fz_check_eq(ret, -EINVAL, "EVTCHN_SEND port %u priority %#x",
			    e.port, e.priority);
	else
		fz_check(ret, FZ_ERRS(EINVAL, EFAULT), "EVTCHN_SEND port %u vcpu %u",
			 e.port, e.vcpu);
}

static void fv_op_routing(struct fz_rng *r)
{
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[8];
	} rt;
	unsigned int i, n = fz_below(r, 9);
	static const u32 odd_gsis[] = { 4095, 4096, 0xffffffff };
	static const u32 odd_types[] = { 0, 3, 6, 7, 0xffffffff };
	bool bad = false;	/* EINVAL allowed */
	unsigned int k;
	long ret;

	memset(&rt, 0, sizeof(rt));
	rt.info.nr = n;
	for (i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e = &rt.e[i];

		e->gsi = fz_chance(r, 95) ? FV_GSI_BASE + fz_below(r, FV_NR_GSI) :
					    fz_pick(r, odd_gsis);
		if (e->gsi >= 4096)
			bad = true;
		/* One non-irqchip route per GSI. */
		for (k = 0; k < i; k++)
			if (rt.e[k].gsi == e->gsi)
				bad = true;
		switch (fz_below(r, 20)) {
		case 0 ... 14:
			e->type = KVM_IRQ_ROUTING_XEN_EVTCHN;
			e->u.xen_evtchn.port = fv_port(r);
			e->u.xen_evtchn.vcpu = fv_vcpu_id(r);
			e->u.xen_evtchn.priority = fv_prio(r);
			if (e->u.xen_evtchn.priority != PRIO_2L)
				bad = true;
			break;
		case 15 ... 16:
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = 0xfee00000 |
					      fz_below(r, fv.nr_vcpus) << 12;
			e->u.msi.data = fz_pick(r, fv_safe_vectors);
			break;
		case 17:
			/*
			 * IOAPIC pins only: its entries stay masked, while
			 * the PIC, never programmed, would hand vCPU 0 (its
			 * LVT0 is ExtINT) exception vectors.
			 */
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
			e->u.irqchip.pin = fz_below(r, 24);
			bad = true;	/* two pins of one chip on a GSI */
			break;
		default:
			e->type = fz_pick(r, odd_types);
			bad = true;
			break;
		}
		if (fz_chance(r, 3)) {
			e->flags = 1u << fz_below(r, 32);
			bad = true;
		}
	}
	ret = fz_ioctl(fv.vm->fd, KVM_SET_GSI_ROUTING, &rt.info, "routing", n,
		       n ? (u64)rt.e[0].gsi << 32 | rt.e[0].type : 0,
		       n ? (u64)rt.e[0].u.xen_evtchn.port << 32 |
			   rt.e[0].u.xen_evtchn.vcpu : 0,
		       bad);
	if (fz_err_in(ret, bad ? FZ_ERRS(EINVAL) : FZ_ERRS(ENOMEM)))
		return;
	for (i = 0; i < n; i++)
		fz_out("# routing entry %u: gsi %u type %u flags %#x u %#llx %#llx\n",
		       i, rt.e[i].gsi, rt.e[i].type, rt.e[i].flags,
		       (unsigned long long)rt.e[i].u.pad[0],
		       (unsigned long long)rt.e[i].u.pad[1]);
	fz_fail("KVM_SET_GSI_ROUTING with %u entries: %s", n, strerror(-ret));
}

static void fv_op_irqfd(struct fz_rng *r)
{
	static const u32 odd_flags[] = {
		KVM_IRQFD_FLAG_RESAMPLE, 4, 0x80000000,
	};
	struct kvm_irqfd i;
	long ret;

	memset(&i, 0, sizeof(i));
	i.fd = fv_any_efd(r);
	i.gsi = FV_GSI_BASE + fz_below(r, FV_NR_GSI + 2);
	switch (fz_below(r, 10)) {
	case 0 ... 5:
		break;
	case 6 ... 8:
		i.flags = KVM_IRQFD_FLAG_DEASSIGN;
		break;
	default:
		i.flags = fz_pick(r, odd_flags);
		i.resamplefd = fv_any_efd(r);
		break;
	}
	ret = fz_ioctl(fv.vm->fd, KVM_IRQFD, &i, "irqfd", i.fd, i.gsi, i.flags,
		       i.resamplefd);
	fz_check(ret, FZ_ERRS(EINVAL, EBADF, EBUSY, ENOMEM),
		 "KVM_IRQFD fd %d gsi %u flags %#x", i.fd, i.gsi, i.flags);
}

static void fv_op_efd_write(struct fz_rng *r)
{
	u64 v = fz_chance(r, 95) ? 1 : 0xfffffffffffffffeull;
	unsigned int k = fz_below(r, FV_NR_EFD);
	u64 seq;
	long ret;

	pthread_mutex_lock(&fv.efd_lock);
	seq = fz_begin("efd_write", k, fv.efd[k], v, 0);
	if (fv.efd[k] < 0)
		ret = -EBADF;
	else if (fz_chance(r, 30))
		ret = read(fv.efd[k], &v, sizeof(v)) < 0 ? -errno : 0;
	else
		ret = write(fv.efd[k], &v, sizeof(v)) < 0 ? -errno : 0;
	fz_end(seq, ret);
	pthread_mutex_unlock(&fv.efd_lock);
	fz_check(ret, FZ_ERRS(EAGAIN, EBADF), "eventfd %u", k);
}

static void fv_op_efd_swap(struct fz_rng *r)
{
	unsigned int k = fz_below(r, FV_NR_EFD);
	u64 seq;

	pthread_mutex_lock(&fv.efd_lock);
	seq = fz_begin("efd_swap", k, fv.efd[k], 0, 0);
	if (fv.efd[k] >= 0)
		close(fv.efd[k]);
	fv.efd[k] = fz_chance(r, 70) ? eventfd(0, EFD_NONBLOCK) : -1;
	fz_end(seq, fv.efd[k]);
	pthread_mutex_unlock(&fv.efd_lock);
}

static void fv_op_irq_line(struct fz_rng *r)
{
	struct kvm_irq_level l = {
		.irq = FV_GSI_BASE + fz_below(r, FV_NR_GSI),
		.level = fz_below(r, 2),
	};

	fz_check(fz_ioctl(fv.vm->fd, KVM_IRQ_LINE, &l, "irq_line", l.irq,
			  l.level, 0, 0),
		 FZ_ERRS(EINVAL), "KVM_IRQ_LINE %u", l.irq);
}

static void fv_op_msi(struct fz_rng *r)
{
	struct kvm_msi m;

	memset(&m, 0, sizeof(m));
	m.address_lo = 0xfee00000 | fz_below(r, fv.nr_vcpus) << 12;
	m.data = fz_pick(r, fv_safe_vectors);
	fz_check(fz_ioctl(fv.vm->fd, KVM_SIGNAL_MSI, &m, "msi", m.address_lo,
			  m.data, 0, 0),
		 FZ_ERRS(EINVAL), "KVM_SIGNAL_MSI");
}

static void fv_op_kick(struct fz_rng *r)
{
	unsigned int j = fz_below(r, fv.nr_vcpus);
	u64 seq = fz_begin("kick", j, 0, 0, 0);

	fz_end(seq, pthread_kill(fv.vthread[j], SIGUSR1));
}

/* The VMM writes guest memory too: clear or flip event bits. */
static void fv_op_hostmem(struct fz_rng *r)
{
	u8 *m = fv.mem[fz_below(r, 2)];
	unsigned int page = fz_below(r, 2), k = fz_below(r, 64);
	u64 *bits = (u64 *)(m + page * 4096);
	u64 seq = fz_begin("hostmem", page, k, 0, 0);

	switch (fz_below(r, 4)) {
	case 0:
		__atomic_store_n(&bits[XEN_SHINFO_PENDING / 8 + k], 0,
				 __ATOMIC_RELAXED);
		break;
	case 1:
		__atomic_fetch_xor(&bits[XEN_SHINFO_MASK / 8 + k],
				   1ull << fz_below(r, 64), __ATOMIC_RELAXED);
		break;
	case 2:
		__atomic_store_n(&bits[XEN_SHINFO_MASK / 8 + k], 0,
				 __ATOMIC_RELAXED);
		break;
	default:
		/* evtchn_upcall_pending of every 64-byte slot of the page */
		for (k = 0; k < 64; k++)
			__atomic_store_n(m + page * 4096 + k * 64, 0,
					 __ATOMIC_RELAXED);
		break;
	}
	fz_end(seq, 0);
}

/* ---- The memslot under shared_info, vcpu_info and runstate -------------- */

static long fv_slot_set(u64 gpa, u64 pages, u32 flags, unsigned int mem,
			const char *op)
{
	struct kvm_userspace_memory_region m = {
		.slot = FV_SLOT,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = pages * 4096,
		.userspace_addr = (u64)fv.mem[mem],
	};

	return fz_ioctl(fv.vm->fd, KVM_SET_USER_MEMORY_REGION, &m, op, gpa,
			pages, flags, mem);
}

static void fv_op_slot(struct fz_rng *r)
{
	static const u64 bases[] = {
		FV_GPA, FV_GPA, FV_GPA, FV_ALT1_GPA, FV_ALT2_GPA,
	};
	struct fv_slot *s = &fv.slot;
	long ret;
	u64 gpa;

	pthread_mutex_lock(&fv.slot_lock);
	if (!s->present) {
		s->gpa = fz_pick(r, bases);
		s->pages = fz_chance(r, 70) ? FV_PAGES : 1 + fz_below(r, FV_PAGES);
		s->flags = fz_chance(r, 80) ? 0 :
			   fz_chance(r, 75) ? KVM_MEM_LOG_DIRTY_PAGES :
					      KVM_MEM_READONLY;
		s->mem = fz_chance(r, 80) ? 0 : 1;
		ret = fv_slot_set(s->gpa, s->pages, s->flags, s->mem, "slot_add");
		fz_check_eq(ret, 0, "add memslot at %#llx", (unsigned long long)s->gpa);
		s->present = true;
		goto out;
	}
	switch (fz_below(r, 10)) {
	case 0 ... 3:
		ret = fv_slot_set(s->gpa, 0, s->flags, s->mem, "slot_del");
		fz_check_eq(ret, 0, "delete memslot");
		s->present = false;
		break;
	case 4 ... 6:
		do {
			gpa = fz_pick(r, bases);
		} while (gpa == s->gpa);
		ret = fv_slot_set(gpa, s->pages, s->flags, s->mem, "slot_move");
		fz_check_eq(ret, 0, "move memslot %#llx -> %#llx",
			    (unsigned long long)s->gpa, (unsigned long long)gpa);
		s->gpa = gpa;
		break;
	case 7:
		if (s->flags & KVM_MEM_READONLY)
			break;
		s->flags ^= KVM_MEM_LOG_DIRTY_PAGES;
		ret = fv_slot_set(s->gpa, s->pages, s->flags, s->mem, "slot_dirty");
		fz_check_eq(ret, 0, "memslot dirty logging %#x", s->flags);
		break;
	default:
		/* Refused changes: overlap with slot 0, unaligned, resize. */
		switch (fz_below(r, 3)) {
		case 0:
			ret = fv_slot_set(0, s->pages, s->flags, s->mem,
					  "slot_bad");
			break;
		case 1:
			ret = fv_slot_set(s->gpa + 0x800, s->pages, s->flags,
					  s->mem, "slot_bad");
			break;
		default:
			ret = fv_slot_set(s->gpa, s->pages == FV_PAGES ? 1 :
					  FV_PAGES, s->flags, s->mem,
					  "slot_bad");
			break;
		}
		fz_check(ret, FZ_ERRS(EINVAL, EEXIST), "refused memslot change");
		if (!ret)
			fz_fail("a memslot change KVM must refuse succeeded");
		break;
	}
out:
	pthread_mutex_unlock(&fv.slot_lock);
}

/* Fresh pages under part of a backing: an MMU notifier invalidation. */
static void fv_op_remap(struct fz_rng *r)
{
	unsigned int mem = fz_below(r, 2), page = fz_below(r, 4);
	u64 seq = fz_begin("remap", mem, page, 0, 0);
	void *p;

	p = mmap(fv.mem[mem] + page * 4096, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	fz_end(seq, p == MAP_FAILED ? -errno : 0);
	if (p == MAP_FAILED)
		fz_fail("mmap over the memslot: %s", strerror(errno));
}

/* ---- Threads ------------------------------------------------------------ */

extern char __executable_start[], etext[];

/*
 * The guest runs this very binary's text, loaded into memslot 0 by the
 * selftest library, and nothing is allowed to write there: no area the
 * fuzzer names lies in memslot 0.  A byte that differs is a write the
 * kernel was never asked to make, so name it (a guest that runs wild
 * only shows the symptom).
 */
static void fv_check_guest_text(const char *when)
{
	u64 a, end = (u64)etext, n, k;
	const u8 *g;

	for (a = (u64)__executable_start; a < end; a += n) {
		n = min(4096 - (a & 0xfff), end - a);
		g = addr_gva2hva(fv.vm, a);
		if (!memcmp(g, (void *)a, n))
			continue;
		for (k = 0; g[k] == ((u8 *)a)[k]; k++)
			;
		fz_fail("%s: stray write: guest text at %#llx (gpa %#llx) is %#x, not %#x",
			when, (unsigned long long)(a + k),
			(unsigned long long)addr_gva2gpa(fv.vm, a + k), g[k],
			((u8 *)a)[k]);
	}
}

static void fv_sigusr1(int sig)
{
}

static void *fv_vcpu_thread(void *arg)
{
	unsigned int i = (unsigned long)arg;
	struct kvm_vcpu *vcpu = fv.vcpu[i];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	int r;

	while (!READ_ONCE(fv.stop_vcpus)) {
		fv_pause_point(i);
		r = ioctl(vcpu->fd, KVM_RUN, NULL);
		__atomic_add_fetch(&fv.runs, 1, __ATOMIC_RELAXED);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* A blob page the VMM cannot read (upstream too). */
			if (errno == EFAULT) {
				__atomic_add_fetch(&fv.run_efault, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			fz_fail("vCPU %u: KVM_RUN: %s", i, strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_XEN:
			__atomic_add_fetch(&fv.xen_exits, 1, __ATOMIC_RELAXED);
			if (run->xen.type != KVM_EXIT_XEN_HCALL)
				fz_fail("vCPU %u: KVM_EXIT_XEN type %u", i,
					run->xen.type);
			run->xen.u.hcall.result = -XEN_ENOSYS;
			break;
		case KVM_EXIT_MMIO:
			/* The guest touched the memslot while it was away. */
			__atomic_add_fetch(&fv.mmio_exits, 1, __ATOMIC_RELAXED);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_IO:
			switch (get_ucall(vcpu, &uc)) {
			case UCALL_UNHANDLED:
				fv_check_guest_text("guest exception");
				fz_fail("vCPU %u: guest vector %#lx at rip %#lx, error code %#lx",
					i, (unsigned long)uc.args[0],
					(unsigned long)uc.args[1],
					(unsigned long)uc.args[2]);
			case UCALL_ABORT:
				fz_fail("vCPU %u: guest assertion: %s", i,
					(const char *)uc.args[GUEST_ERROR_STRING]);
			default:
				fv_check_guest_text("unexpected port I/O");
				fz_fail("vCPU %u: unexpected port I/O %#x", i,
					run->io.port);
			}
		case KVM_EXIT_INTERNAL_ERROR:
			fv_check_guest_text("internal error");
			fz_fail("vCPU %u: internal error, suberror %u, data %#llx %#llx",
				i, run->internal.suberror,
				(unsigned long long)run->internal.data[0],
				(unsigned long long)run->internal.data[1]);
		default:
			persona_dump_vcpu(vcpu->fd, "vCPU");
			fv_check_guest_text("unexpected exit");
			fz_fail("vCPU %u: unexpected exit %u (%s)", i,
				run->exit_reason,
				exit_reason_str(run->exit_reason));
		}
	}
	return NULL;
}

/* ---- The ABI after 6.1: addresses in the VMM, the runstate flag -------- */

/*
 * A VMM address for a page-sized area: mostly the slot's backings.  Never
 * past their end: what follows them may be the memory of another memslot
 * (the guest's own code and stack), and the kernel would rightly write
 * there.
 */
static u64 fv_area_hva(struct fz_rng *r, u64 align)
{
	switch (fz_below(r, 16)) {
	case 0:
		return 0;
	case 1:
		return (u64)fv.mem[fz_below(r, 2)] + fz_below(r, 4096);
	case 2:
		return 0xffffffff81000000ull;
	case 3:
		return fz_rand(r) & ~(align - 1);
	case 4:
		return (u64)fv.blob;				/* no memslot */
	case 5:
		return (u64)fv.blob + FV_BLOB_PAGES * 4096;	/* guard page */
	default:
		/* In-page offset: page-aligned areas get 0, not pages beyond. */
		return (u64)fv.mem[fz_below(r, 2)] +
		       fz_below(r, FV_PAGES) * 4096 +
		       (fz_chance(r, 50) ? 0 : (fz_below(r, 64) * align) & 0xfff);
	}
}

/* Errors an accepted-looking address may still meet: no page, no slot. */
#define FV_HVA_ERRS	FZ_ERRS(EFAULT, EINVAL)

static void fv_op_shinfo_hva(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_SHARED_INFO };
	u64 hva;
	long ret;

	if (!(fv.caps & CAP_SHINFO_HVA))
		return;
	hva = fv_area_hva(r, 4096);
	/* One lock for both ways of naming shared_info. */
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	a.type = XEN_ATTR_SHARED_INFO_HVA;
	a.u.shared_info.gfn = hva;
	ret = fv_vm_set(&a, "shinfo_hva");
	if (hva & 0xfff)
		fz_check_eq(ret, -EINVAL, "SHARED_INFO_HVA %#llx misaligned",
			    (unsigned long long)hva);
	else if (!hva)
		fz_check_eq(ret, 0, "SHARED_INFO_HVA 0");
	else
		fz_check(ret, FV_HVA_ERRS, "SHARED_INFO_HVA %#llx",
			 (unsigned long long)hva);
	if (!ret) {
		/* The guest finds it only when named by frame. */
		WRITE_ONCE(fv.g->shinfo, 0);
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vm_get(&a, "get_shinfo_hva"), 0,
			    "GET SHARED_INFO_HVA");
		if (a.u.shared_info.gfn != hva)
			fz_fail("SHARED_INFO_HVA set to %#llx reads back %#llx",
				(unsigned long long)hva,
				(unsigned long long)a.u.shared_info.gfn);
		a.type = KVM_XEN_ATTR_TYPE_SHARED_INFO;
		fz_check_eq(fv_vm_get(&a, "get_shinfo"), 0, "GET SHARED_INFO");
		if (a.u.shared_info.gfn != XEN_INVALID_GFN)
			fz_fail("SHARED_INFO reads %#llx with SHARED_INFO_HVA set",
				(unsigned long long)a.u.shared_info.gfn);
	}
	pthread_mutex_unlock(&fv.rt_lock[KVM_XEN_ATTR_TYPE_SHARED_INFO]);
}

static void fv_op_vcpu_info_hva(struct fz_rng *r)
{
	struct kvm_xen_vcpu_attr a = { .type = XEN_VCPU_ATTR_VCPU_INFO_HVA };
	unsigned int j = fz_below(r, fv.nr_vcpus);
	pthread_mutex_t *lk = &fv.rt_lock[8 + KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO *
					      FV_MAX_VCPUS + j];
	u64 hva;
	long ret;

	if (!(fv.caps & CAP_SHINFO_HVA))
		return;
	hva = fv_area_hva(r, 4);
	a.u.gpa = hva;
	pthread_mutex_lock(lk);
	ret = fv_vcpu_set(j, &a, "vcpu_info_hva");
	if (hva & 3)
		fz_check_eq(ret, -ENXIO, "VCPU_INFO_HVA %#llx misaligned",
			    (unsigned long long)hva);
	else if (!hva)
		fz_check_eq(ret, 0, "VCPU_INFO_HVA 0");
	else if ((hva & 0xfff) + 64 > 4096)
		fz_check_eq(ret, -EINVAL, "VCPU_INFO_HVA %#llx crosses a page",
			    (unsigned long long)hva);
	else
		fz_check(ret, FV_HVA_ERRS, "VCPU_INFO_HVA %#llx",
			 (unsigned long long)hva);
	if (!ret) {
		WRITE_ONCE(fv.g->vcpu_info[j], 0);
		memset(&a.u, 0x5a, sizeof(a.u));
		fz_check_eq(fv_vcpu_get(j, &a, "vcpu_info_hva"), 0,
			    "GET VCPU_INFO_HVA");
		if (a.u.gpa != hva)
			fz_fail("VCPU_INFO_HVA of vCPU %u set to %#llx reads back %#llx",
				j, (unsigned long long)hva,
				(unsigned long long)a.u.gpa);
	}
	pthread_mutex_unlock(lk);
}

static void fv_op_rs_flag(struct fz_rng *r)
{
	struct kvm_xen_hvm_attr a = { .type = XEN_ATTR_RUNSTATE_UPDATE_FLAG };
	u8 v = fz_chance(r, 50) ? fz_below(r, 2) : fz_rand(r);
	long ret;

	if (!(fv.caps & CAP_RUNSTATE_FLAG))
		return;
	a.u.long_mode = v;
	pthread_mutex_lock(&fv.rt_lock[a.type]);
	ret = fv_vm_set(&a, "rs_flag");
	fz_check(ret, FZ_ERRS(ENOMEM), "SET RUNSTATE_UPDATE_FLAG %u", v);
	if (!ret) {
		a.u.long_mode = 0x5a;
		fz_check_eq(fv_vm_get(&a, "rs_flag"), 0,
			    "GET RUNSTATE_UPDATE_FLAG");
		if (a.u.long_mode != !!v)
			fz_fail("RUNSTATE_UPDATE_FLAG set to %u reads back %u",
				v, a.u.long_mode);
	}
	pthread_mutex_unlock(&fv.rt_lock[a.type]);
}

typedef void (*fv_op_fn)(struct fz_rng *r);

static void fv_op_vcpu_info(struct fz_rng *r)
{
	fv_op_area(r, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, 64, "vcpu_info");
}

static void fv_op_time_info(struct fz_rng *r)
{
	fv_op_area(r, KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO, 32, "time_info");
}

static void fv_op_rs_addr(struct fz_rng *r)
{
	fv_op_area(r, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR, 48, "rs_addr");
}

static void fv_op_rs_current(struct fz_rng *r)
{
	fv_op_runstate(r, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT, "rs_current");
}

static void fv_op_rs_data(struct fz_rng *r)
{
	fv_op_runstate(r, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA, "rs_data");
}

static void fv_op_rs_adjust(struct fz_rng *r)
{
	fv_op_runstate(r, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST, "rs_adjust");
}

static const fv_op_fn fv_fns[NR_OPS] = {
	[OP_CONFIG] = fv_op_config,		[OP_LONG_MODE] = fv_op_long_mode,
	[OP_SHINFO] = fv_op_shinfo,		[OP_VECTOR] = fv_op_vector,
	[OP_EVTCHN] = fv_op_evtchn,		[OP_RESET] = fv_op_reset,
	[OP_VERSION] = fv_op_version,		[OP_VM_BADTYPE] = fv_op_vm_badtype,
	[OP_VM_GET] = fv_op_vm_get,		[OP_VCPU_INFO] = fv_op_vcpu_info,
	[OP_TIME_INFO] = fv_op_time_info,	[OP_RS_ADDR] = fv_op_rs_addr,
	[OP_RS_CURRENT] = fv_op_rs_current,	[OP_RS_DATA] = fv_op_rs_data,
	[OP_RS_ADJUST] = fv_op_rs_adjust,	[OP_VCPU_ID] = fv_op_vcpu_id,
	[OP_TIMER] = fv_op_timer,		[OP_VCPU_VECTOR] = fv_op_vcpu_vector,
	[OP_VCPU_BADTYPE] = fv_op_vcpu_badtype,	[OP_VCPU_GET] = fv_op_vcpu_get,
	[OP_SEND] = fv_op_send,			[OP_ROUTING] = fv_op_routing,
	[OP_IRQFD] = fv_op_irqfd,		[OP_EFD_WRITE] = fv_op_efd_write,
	[OP_EFD_SWAP] = fv_op_efd_swap,		[OP_SLOT] = fv_op_slot,
	[OP_REMAP] = fv_op_remap,		[OP_IRQ_LINE] = fv_op_irq_line,
	[OP_MSI] = fv_op_msi,			[OP_KICK] = fv_op_kick,
	[OP_HOSTMEM] = fv_op_hostmem,		[OP_SHINFO_HVA] = fv_op_shinfo_hva,
	[OP_VCPU_INFO_HVA] = fv_op_vcpu_info_hva, [OP_RS_FLAG] = fv_op_rs_flag,
};

static void *fv_fuzz_thread(void *arg)
{
	unsigned long t = (unsigned long)arg;
	unsigned int total = 0, op, w;
	struct fz_rng r;
	u64 n = 0, pick;

	fz_rng_init(&r, 100 + t);
	for (op = 0; op < NR_OPS; op++)
		total += fv_ops[op].weight;
	while (!READ_ONCE(fv.stop_fuzz) &&
	       __atomic_load_n(&fzs->ioctls, __ATOMIC_RELAXED) < fv.target) {
		if (!(n++ % 16))
			fv_clock();
		pick = fz_below(&r, total);
		for (op = 0; op < NR_OPS; op++) {
			w = fv_ops[op].weight;
			if (pick < w)
				break;
			pick -= w;
		}
		__atomic_add_fetch(&fv_ops[op].n, 1, __ATOMIC_RELAXED);
		fv_fns[op](&r);
	}
	return NULL;
}

/* ---- Setup, the end check, the test ------------------------------------- */

static void fv_setup(struct __test_metadata *_metadata, struct fz_rng *r)
{
	unsigned int i, v;

	fv.caps = xen_caps();
	fv.max_vcpus = kvm_check_cap(KVM_CAP_MAX_VCPUS);
	fv.nr_vcpus = fz_env("FUZZ_VCPUS", 2 + fz_below(r, 3));
	if (fv.nr_vcpus < 1 || fv.nr_vcpus > FV_MAX_VCPUS)
		fv.nr_vcpus = 2;
	fv.nr_threads = fz_env("FUZZ_THREADS", FV_MAX_THREADS);
	if (fv.nr_threads < 1 || fv.nr_threads > FV_MAX_THREADS)
		fv.nr_threads = FV_MAX_THREADS;
	fv.target = fz_env("FUZZ_IOCTLS", 10000);

	fv.vm = vm_create_with_vcpus(fv.nr_vcpus, fv_guest_main, fv.vcpu);
	vm_init_descriptor_tables(fv.vm);
	for (i = 0; i < fv.nr_vcpus; i++) {
		vcpu_init_descriptor_tables(fv.vcpu[i]);
		vcpu_args_set(fv.vcpu[i], 1, (u64)i);
	}
	/* Every vector the host may pick, except #AC's (an error code). */
	for (v = 0; v < 0x100; v++)
		vm_install_exception_handler(fv.vm, v, v < 0x10 || v == 0x11 ?
					     fv_guest_fault : fv_guest_irq);

	for (i = 0; i < 2; i++) {
		fv.mem[i] = mmap(NULL, FV_MEM_BYTES, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, fv.mem[i]);
	}
	fv.blob = mmap(NULL, (FV_BLOB_PAGES + 1) * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fv.blob);
	memset(fv.blob, 0xc3, FV_BLOB_PAGES * 4096);
	ASSERT_EQ(0, munmap(fv.blob + FV_BLOB_PAGES * 4096, 4096));

	fv.slot = (struct fv_slot){ true, FV_GPA, FV_PAGES, 0, 0 };
	ASSERT_EQ(0, fv_slot_set(FV_GPA, FV_PAGES, 0, 0, "slot_add"));
	/* Guest page tables (in slot 0) map the slot's usual place. */
	for (i = 0; i < FV_PAGES; i++)
		virt_pg_map(fv.vm, FV_GPA + i * 4096, FV_GPA + i * 4096);

	fv.g = addr_gva2hva(fv.vm, (vm_vaddr_t)&fg);
	memset(fv.g, 0, sizeof(*fv.g));
	fv.g->use_vmmcall = host_uses_vmmcall();
	fv.g->msr = XEN_HCALL_MSR;
	fv.g->shinfo = FV_GPA;
	for (i = 0; i < FV_NR_PORTS; i++)
		fv.g->ports[i] = 1 + fz_below(r, i < 4 ? 64 : XEN_NR_PORTS_64 - 1);
	for (i = 0; i < fv.nr_vcpus; i++) {
		fv.g->rng[i] = fz_rand(r) | 1;
		fv.g->vcpu_info[i] = FV_GPA + i * 64;
	}

	for (i = 0; i < FV_NR_EFD; i++) {
		fv.efd[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_LE(0, fv.efd[i]);
	}
	for (i = 0; i < FV_MAX_VCPUS; i++) {
		pthread_mutex_init(&fv.vp[i].m, NULL);
		pthread_cond_init(&fv.vp[i].c, NULL);
	}
	pthread_mutex_init(&fv.slot_lock, NULL);
	pthread_mutex_init(&fv.efd_lock, NULL);
	for (i = 0; i < ARRAY_SIZE(fv.rt_lock); i++)
		pthread_mutex_init(&fv.rt_lock[i], NULL);

	/* A working Xen VM to start from. */
	ASSERT_EQ(0, xen_config_simple(fv.vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
				       KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_long_mode(fv.vm, 1));
	ASSERT_EQ(0, xen_set_shinfo(fv.vm, FV_GPA >> 12));
	ASSERT_EQ(0, xen_set_vector(fv.vm, UPCALL_VECTOR));
	ASSERT_EQ(0, xen_set_version(fv.vm, 0x4000a));
	for (i = 0; i < fv.nr_vcpus; i++) {
		ASSERT_EQ(0, xen_vcpu_set_gpa(fv.vcpu[i],
					      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
					      FV_GPA + i * 64));
		ASSERT_EQ(0, xen_set_timer(fv.vcpu[i], fv.g->ports[i % 4],
					   PRIO_2L, 0));
		fv.timer_port[i] = fv.g->ports[i % 4];
		ASSERT_EQ(0, xen_evtchn_port(fv.vm, 0, fv.g->ports[4 + i],
					     EVTCHNSTAT_ipi, fv.g->ports[4 + i],
					     i, PRIO_2L));
	}
}

/* Wait up to @ms for *@p to pass @old. */
static bool fv_wait_above(const u64 *p, u64 old, unsigned int ms)
{
	u64 end = fz_now_ns() + ms * MS;

	while (fz_now_ns() < end) {
		if (READ_ONCE(*p) > old)
			return true;
		usleep(2000);
	}
	return READ_ONCE(*p) > old;
}

/*
 * An event that did not arrive: say what the guest's pages and the
 * kernel's view hold, then see whether the vCPU takes it once it goes
 * through KVM_RUN again (a lost wake-up), and whether an event reaches
 * it through a vcpu_info at a fresh address (a stale cached mapping).
 */
static void fv_final_no_upcall(unsigned int j, u32 port, bool timer)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO };
	u8 *vi = fv.mem[0] + j * 64, *vi2;
	u64 gpa, old, gpa2;
	int r;

	old = READ_ONCE(fv.g->irqs[j]);
	fv_pause(j);
	r = xen_vcpu_get(fv.vcpu[j], &a);
	gpa = a.u.gpa;
	if (timer) {
		xen_get_timer(fv.vcpu[j], &a);
		fz_out("# final: vCPU %u: TIMER port %u, expires %llu, kvmclock %llu\n",
		       j, a.u.timer.port,
		       (unsigned long long)a.u.timer.expires_ns,
		       (unsigned long long)kvmclock_ns(fv.vm));
	}
	fv_resume(j);
	fz_out("# final: vCPU %u: no upcall for port %u in 30 s: port pending %d, masked %d\n",
	       j, port, bit_in(fv.mem[0] + XEN_SHINFO_PENDING, port),
	       bit_in(fv.mem[0] + XEN_SHINFO_MASK, port));
	fz_out("# final: vcpu_info: upcall_pending %u, pending_sel %#llx; VCPU_INFO %#llx (%d)\n",
	       vi[0], (unsigned long long)*(u64 *)(vi + 8),
	       (unsigned long long)gpa, r);
	fz_out("# final: guest: irqs %llu, loops %llu, its vcpu_info %#llx\n",
	       (unsigned long long)fv.g->irqs[j],
	       (unsigned long long)fv.g->iter[j],
	       (unsigned long long)fv.g->vcpu_info[j]);
	if (fv_wait_above(&fv.g->irqs[j], old, 5000))
		fz_fail("final: vCPU %u took port %u only after a KVM_RUN (lost wake-up)",
			j, port);

	/* Unmap vcpu_info and map it again at the same place. */
	fv_pause(j);
	r = xen_vcpu_set_gpa(fv.vcpu[j], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
			     XEN_INVALID_GPA);
	r = r ? r : xen_vcpu_set_gpa(fv.vcpu[j],
				     KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, gpa);
	fv_resume(j);
	memset(vi, 0, 16);
	bit_set(fv.mem[0] + XEN_SHINFO_PENDING, port, false);
	old = READ_ONCE(fv.g->irqs[j]);
	r = r ? r : xen_send(fv.vm, port, j, PRIO_2L);
	if (!r && fv_wait_above(&fv.g->irqs[j], old, 5000))
		fz_fail("final: vCPU %u took port %u after vcpu_info %#llx was remapped",
			j, port, (unsigned long long)gpa);

	/* The same event through a vcpu_info somewhere else. */
	gpa2 = FV_GPA + FV_AREA_PAGE * 4096 + j * 64;
	vi2 = fv.mem[0] + FV_AREA_PAGE * 4096 + j * 64;
	memset(vi2, 0, 16);
	fv_pause(j);
	r = xen_vcpu_set_gpa(fv.vcpu[j], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, gpa2);
	WRITE_ONCE(fv.g->vcpu_info[j], gpa2);
	fv_resume(j);
	bit_set(fv.mem[0] + XEN_SHINFO_PENDING, port + 8, false);
	old = READ_ONCE(fv.g->irqs[j]);
	r = r ? r : xen_send(fv.vm, port + 8, j, PRIO_2L);
	if (!r && fv_wait_above(&fv.g->irqs[j], old, 5000))
		fz_fail("final: vCPU %u lost port %u, got %u via vcpu_info %#llx (stale %#llx?)",
			j, port, port + 8, (unsigned long long)gpa2,
			(unsigned long long)gpa);
	fz_fail("final: vCPU %u lost port %u, and port %u via a new vcpu_info (%d, pending %u)",
		j, port, port + 8, r, vi2[0]);
}

/*
 * After the storm: a known-good configuration must work.  Each vCPU gets
 * an event from KVM_XEN_HVM_EVTCHN_SEND and one from its Xen timer, and
 * keeps running its loop.
 */
static void fv_final_check(void)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };
	struct kvm_irq_routing empty = { .nr = 0 };
	struct fv_slot *s = &fv.slot;
	unsigned int j;
	u64 old;

	fv_check_guest_text("after the storm");
	fz_out("# final check: restoring a known-good configuration\n");
	WRITE_ONCE(fv.g->mode, FV_GUEST_CALM);
	if (s->present && (s->gpa != FV_GPA || s->pages != FV_PAGES ||
			   s->flags || s->mem)) {
		fz_check_eq(fv_slot_set(s->gpa, 0, s->flags, s->mem, "slot_del"),
			    0, "final: delete memslot");
		s->present = false;
	}
	if (!s->present)
		fz_check_eq(fv_slot_set(FV_GPA, FV_PAGES, 0, 0, "slot_add"), 0,
			    "final: add memslot");
	*s = (struct fv_slot){ true, FV_GPA, FV_PAGES, 0, 0 };

	fz_check_eq(xen_config_simple(fv.vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
				      KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
				      XEN_HCALL_MSR), 0, "final: config");
	WRITE_ONCE(fv.g->msr, XEN_HCALL_MSR);
	/* shared_info first: LONG_MODE rewrites the wallclock there. */
	fz_check_eq(xen_set_shinfo(fv.vm, FV_GPA >> 12), 0, "final: SHARED_INFO");
	fz_check_eq(xen_set_long_mode(fv.vm, 1), 0, "final: LONG_MODE");
	fz_check_eq(xen_set_vector(fv.vm, UPCALL_VECTOR), 0, "final: vector");
	a.u.evtchn.flags = KVM_XEN_EVTCHN_RESET;
	fz_check_eq(xen_set_attr(fv.vm, &a), 0, "final: EVTCHN RESET");
	fz_check_eq(ioctl_err(fv.vm->fd, KVM_SET_GSI_ROUTING, &empty), 0,
		    "final: empty routing");
	for (j = 0; j < fv.nr_vcpus; j++) {
		struct kvm_xen_vcpu_attr v = {
			.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
		};

		fv_pause(j);
		fz_check_eq(xen_vcpu_set(fv.vcpu[j], &v), 0, "final: vCPU vector");
		v.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
		v.u.vcpu_id = j;
		fz_check_eq(xen_vcpu_set(fv.vcpu[j], &v), 0, "final: VCPU_ID");
		fz_check_eq(xen_set_timer(fv.vcpu[j], 0, PRIO_2L, 0), 0,
			    "final: timer off");
		/* No other area overlapping vcpu_info any more. */
		fz_check_eq(xen_vcpu_set_gpa(fv.vcpu[j],
					     KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
					     XEN_INVALID_GPA), 0,
			    "final: VCPU_TIME_INFO off");
		if (fv.caps & CAP_RUNSTATE)
			fz_check_eq(xen_vcpu_set_gpa(fv.vcpu[j],
						     KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
						     XEN_INVALID_GPA), 0,
				    "final: RUNSTATE_ADDR off");
		fz_check_eq(xen_vcpu_set_gpa(fv.vcpu[j],
					     KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
					     FV_GPA + j * 64), 0,
			    "final: VCPU_INFO");
		WRITE_ONCE(fv.g->vcpu_info[j], FV_GPA + j * 64);
		fv_resume(j);
	}
	WRITE_ONCE(fv.g->shinfo, FV_GPA);
	/* The configuration must stick (no late write of an old one). */
	usleep(100000);
	if (xen_get_shinfo(fv.vm) != FV_GPA >> 12)
		fz_fail("final: SHARED_INFO set to %#llx, reads %#llx 100 ms later",
			FV_GPA >> 12, (unsigned long long)xen_get_shinfo(fv.vm));
	for (j = 0; j < fv.nr_vcpus; j++) {
		u64 gpa = 0;

		fv_pause(j);
		xen_vcpu_get_gpa(fv.vcpu[j], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				 &gpa);
		fv_resume(j);
		if (gpa != FV_GPA + j * 64)
			fz_fail("final: VCPU_INFO of vCPU %u set to %#llx, reads %#llx",
				j, FV_GPA + j * 64, (unsigned long long)gpa);
	}
	/* Nothing masked, nothing pending. */
	memset(fv.mem[0] + XEN_SHINFO_PENDING, 0, 0x400);
	for (j = 0; j < fv.nr_vcpus; j++)
		memset(fv.mem[0] + j * 64, 0, 16);

	for (j = 0; j < fv.nr_vcpus; j++) {
		u32 port = 10 + j;

		old = READ_ONCE(fv.g->irqs[j]);
		fz_check_eq(xen_send(fv.vm, port, j, PRIO_2L), 0,
			    "final: EVTCHN_SEND to vCPU %u", j);
		if (!fv_wait_above(&fv.g->irqs[j], old, 30000))
			fv_final_no_upcall(j, port, false);

		old = READ_ONCE(fv.g->irqs[j]);
		fv_pause(j);
		fz_check_eq(xen_set_timer(fv.vcpu[j], 20 + j, PRIO_2L,
					  kvmclock_ns(fv.vm) + MS), 0,
			    "final: timer");
		fv_resume(j);
		if (!fv_wait_above(&fv.g->irqs[j], old, 30000))
			fv_final_no_upcall(j, 20 + j, true);
		old = READ_ONCE(fv.g->iter[j]);
		if (!fv_wait_above(&fv.g->iter[j], old, 20000))
			fz_fail("final: vCPU %u makes no progress", j);
	}
}

static void fv_stop_vcpus(void)
{
	unsigned int i, tries;

	WRITE_ONCE(fv.stop_vcpus, 1);
	for (i = 0; i < fv.nr_vcpus; i++) {
		WRITE_ONCE(fv.vcpu[i]->run->immediate_exit, 1);
		for (tries = 0; pthread_tryjoin_np(fv.vthread[i], NULL); tries++) {
			if (tries > 3000)
				fz_fail("vCPU %u thread does not stop", i);
			pthread_kill(fv.vthread[i], SIGUSR1);
			usleep(10000);
		}
	}
}

/*
 * The fuzzer's own watchdog (FUZZ_TIMEOUT, FUZZ_STALL) ends it, with the
 * operation ring; the harness only backs it up.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	7200

TEST(fuzz_vmm)
{
	struct sigaction sa = { .sa_handler = fv_sigusr1 };
	pthread_t ft[FV_MAX_THREADS];
	const char *excl = getenv("FUZZ_EXCLUDE");
	struct fz_rng r;
	unsigned long i;
	u64 t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	fz_ring_init();
	printf("# seed=%llu\n", (unsigned long long)fz_seed);
	fz_rng_init(&r, 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	fv_setup(_metadata, &r);
	for (i = 0; i < NR_OPS; i++) {
		if (excl && fv_excluded(excl, fv_ops[i].name)) {
			fv_ops[i].weight = 0;
			printf("# excluded: %s\n", fv_ops[i].name);
		}
	}
	printf("# fuzz_vmm: %u vCPUs, %u fuzz threads, target %llu ioctls, KVM_CAP_XEN_HVM %#x\n",
	       fv.nr_vcpus, fv.nr_threads, (unsigned long long)fv.target,
	       fv.caps);
	fflush(stdout);
	fz_watchdog_start("fuzz_vmm", fz_env("FUZZ_TIMEOUT", 800),
			  fz_env("FUZZ_STALL", 120));
	fz_debugfs_reader_start();

	t0 = fz_now_ns();
	for (i = 0; i < fv.nr_vcpus; i++)
		ASSERT_EQ(0, pthread_create(&fv.vthread[i], NULL,
					    fv_vcpu_thread, (void *)i));
	for (i = 0; i < fv.nr_threads; i++)
		ASSERT_EQ(0, pthread_create(&ft[i], NULL, fv_fuzz_thread,
					    (void *)i));
	for (i = 0; i < fv.nr_threads; i++)
		pthread_join(ft[i], NULL);
	dt = fz_now_ns() - t0;

	fv_final_check();
	fv_stop_vcpus();

	for (i = 0; i < NR_OPS; i++)
		printf("#   %-12s %llu\n", fv_ops[i].name,
		       (unsigned long long)fv_ops[i].n);
	printf("# vCPUs: %llu KVM_RUNs, %llu Xen exits, %llu MMIO, %llu EFAULT (blob), irqs",
	       (unsigned long long)fv.runs, (unsigned long long)fv.xen_exits,
	       (unsigned long long)fv.mmio_exits,
	       (unsigned long long)fv.run_efault);
	for (i = 0; i < fv.nr_vcpus; i++)
		printf(" %llu", (unsigned long long)fv.g->irqs[i]);
	printf(", guest loops");
	for (i = 0; i < fv.nr_vcpus; i++)
		printf(" %llu", (unsigned long long)fv.g->iter[i]);
	printf("\n# fuzz_vmm: ioctls=%llu debugfs_reads=%llu seed=%llu seconds=%.1f\n",
	       (unsigned long long)fzs->ioctls,
	       (unsigned long long)fz_debugfs_reads,
	       (unsigned long long)fz_seed, dt / 1e9);
	fflush(stdout);
	alarm(0);
	kvm_vm_free(fv.vm);
}

int main(int argc, char **argv)
{
	fz_seed_init();
	return test_harness_run(argc, argv);
}
