/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the tests of the in-kernel shared_info milestone
 * (xen_shinfo_attr_test, xen_evtchn_test, xen_timer_poll_test): the parts
 * of Xen's guest ABI they look at, wrappers for the Xen attribute ioctls,
 * and a guest that runs commands the host hands it.
 *
 * The guest: every vCPU runs guest_main(index).  It executes the command
 * in gs.cmd[index] (a hypercall, a wait for event channel upcalls, or
 * nothing), stores the result and reports with GUEST_SYNC; the host then
 * looks at the result and at guest memory, sets the next command and runs
 * the vCPU again.  The upcall handler counts interrupts per vCPU and takes
 * (clears) evtchn_pending_sel and evtchn_upcall_pending as a Linux guest
 * would, recording what it saw.
 *
 * Interrupts are enabled in the guest except around GUEST_SYNC: libkvm's
 * ucall() keeps its message in the red zone, which an interrupt taken in
 * the middle of it would overwrite.  This file is built with
 * -mno-red-zone, so the rest of the guest code can be interrupted.
 */
#ifndef PERSONA_XEN_H
#define PERSONA_XEN_H

#include <assert.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "apic.h"
#include "persona_test.h"

/* ---- KVM side ---------------------------------------------------------- */

/* 6.1's uapi spells these as ~0 without a name. */
#define XEN_INVALID_GFN		(~0ull)
#define XEN_INVALID_GPA		(~0ull)
#define PRIO_2L			KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL

#define CAP_SHINFO		KVM_XEN_HVM_CONFIG_SHARED_INFO
#define CAP_RUNSTATE		KVM_XEN_HVM_CONFIG_RUNSTATE
#define CAP_2LEVEL		KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL
#define CAP_SEND		KVM_XEN_HVM_CONFIG_EVTCHN_SEND
#define CAPS_SHINFO		(XEN_CAPS_BASE | CAP_SHINFO)
#define CAPS_EVTCHN		(CAPS_SHINFO | CAP_2LEVEL | CAP_SEND)

/*
 * KVM_CAP_XEN_HVM flags and attribute types after 6.1 (upstream's values),
 * for the 6.1 headers the tests build against.  The unions they use kept
 * their layout: 6.12's u.runstate_update_flag is u.long_mode's byte, its
 * u.shared_info.hva and the vCPU attribute's u.hva the words of
 * u.shared_info.gfn and u.gpa.
 */
#define CAP_RUNSTATE_FLAG	BIT(6)	/* RUNSTATE_UPDATE_FLAG */
#define CAP_TSC_UNSTABLE	BIT(7)	/* PVCLOCK_TSC_UNSTABLE */
#define CAP_SHINFO_HVA		BIT(8)	/* SHARED_INFO_HVA */
#define XEN_ATTR_RUNSTATE_UPDATE_FLAG	5
#define XEN_ATTR_SHARED_INFO_HVA	6
#define XEN_VCPU_ATTR_VCPU_INFO_HVA	9
#define XEN_RUNSTATE_UPDATE	BIT_ULL(63)

/*
 * A kernel that advertises KVM_CAP_XEN_HVM flags 6.1 does not have
 * (RUNSTATE_UPDATE_FLAG, PVCLOCK_TSC_UNSTABLE, SHARED_INFO_HVA: upstream
 * 6.7 and later) is taken to follow later upstream semantics where they
 * differ from 6.1's; the tests say where.
 */
static inline bool xen_after_6_1(void)
{
	return xen_caps() & ~XEN_CAPS_6_1;
}

/*
 * Where kvm-persona deliberately differs from upstream KVM (documented in
 * Documentation/abi.rst), the tests expect each implementation's own
 * answer.
 */
static inline bool persona_loaded(void)
{
	return access("/sys/module/kvm_persona", F_OK) == 0;
}

/* ---- Xen's guest ABI (public/xen.h, public/vcpu.h, ...) ----------------- */

#define XEN_NR_PORTS_64		4096
#define XEN_NR_PORTS_32		1024

#define SCHEDOP_yield		0
#define SCHEDOP_block		1
#define SCHEDOP_shutdown	2
#define SCHEDOP_poll		3

#define VCPUOP_stop_periodic_timer	7
#define VCPUOP_set_singleshot_timer	8
#define VCPUOP_stop_singleshot_timer	9
#define VCPU_SSHOTTMR_future		1

#define EVTCHNOP_send		4

#define EVTCHNSTAT_closed	0
#define EVTCHNSTAT_unbound	1
#define EVTCHNSTAT_interdomain	2
#define EVTCHNSTAT_pirq		3
#define EVTCHNSTAT_virq		4
#define EVTCHNSTAT_ipi		5

#define RUNSTATE_running	0
#define RUNSTATE_runnable	1
#define RUNSTATE_blocked	2
#define RUNSTATE_offline	3

/* Xen's errno values are Linux's. */
#define XEN_ETIME		62

struct xen_pvclock {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	u8 flags;
	u8 pad[2];
} __packed;

struct xen_wallclock {
	u32 version;
	u32 sec;
	u32 nsec;
} __packed;

/* The 64-bit layouts; the 32-bit ("compat") ones are described by offsets. */
struct xen_vcpu_info {
	u8 evtchn_upcall_pending;
	u8 evtchn_upcall_mask;
	u8 pad0[6];
	u64 evtchn_pending_sel;
	u64 cr2;
	u64 pad1;
	struct xen_pvclock time;
};

struct xen_shared_info {
	struct xen_vcpu_info vcpu_info[32];
	u64 evtchn_pending[64];
	u64 evtchn_mask[64];
	struct xen_wallclock wc;
	u32 wc_sec_hi;
};

struct xen_runstate {
	u32 state;
	u32 pad;
	u64 state_entry_time;
	u64 time[4];
};

struct xen_runstate32 {
	u32 state;
	u64 state_entry_time;
	u64 time[4];
} __packed;

struct xen_sched_poll {
	u64 ports;
	u32 nr_ports;
	u32 pad;
	u64 timeout;
};

struct xen_singleshot {
	u64 timeout_abs_ns;
	u32 flags;
	u32 pad;
};

#define XEN_VCPU_INFO_SEL32	0x004	/* compat evtchn_pending_sel (u32) */
#define XEN_VCPU_INFO_TIME	0x020
#define XEN_SHINFO_PENDING	0x800
#define XEN_SHINFO_MASK		0xa00
#define XEN_SHINFO_WC		0xc00
#define XEN_SHINFO_WC_SEC_HI	0xc0c
#define XEN_SHINFO32_PENDING	0x800
#define XEN_SHINFO32_MASK	0x880
#define XEN_SHINFO32_WC		0x900
#define XEN_SHINFO32_WC_SEC_HI	0x924
#define XEN_RUNSTATE_SIZE	0x30
#define XEN_RUNSTATE32_SIZE	0x2c

static_assert(sizeof(struct xen_vcpu_info) == 64, "vcpu_info");
static_assert(offsetof(struct xen_vcpu_info, time) == XEN_VCPU_INFO_TIME,
	      "vcpu_info.time");
static_assert(offsetof(struct xen_shared_info, evtchn_pending) ==
	      XEN_SHINFO_PENDING, "evtchn_pending");
static_assert(offsetof(struct xen_shared_info, evtchn_mask) ==
	      XEN_SHINFO_MASK, "evtchn_mask");
static_assert(offsetof(struct xen_shared_info, wc) == XEN_SHINFO_WC, "wc");
static_assert(offsetof(struct xen_shared_info, wc_sec_hi) ==
	      XEN_SHINFO_WC_SEC_HI, "wc_sec_hi");
static_assert(sizeof(struct xen_runstate) == XEN_RUNSTATE_SIZE, "runstate");
static_assert(sizeof(struct xen_runstate32) == XEN_RUNSTATE32_SIZE,
	      "compat runstate");
static_assert(sizeof(struct xen_sched_poll) == 24, "sched_poll");

/* ---- Domains: kvm-persona's interdomain extension (abi.rst) ------------- */

#define KVM_XEN_ATTR_TYPE_PERSONA_DOMID	0x7f00
#define DOMID_SELF		0x7ff0
#define DOMID_QEMU		0	/* QEMU's backends' side */

#define XEN_HC_memory_op	12
#define XEN_HC_grant_table_op	20
#define XENMEM_add_to_physmap	7
#define XENMEM_remove_from_physmap	15
#define XENMAPSPACE_grant_table	1
#define SHUTDOWN_soft_reset	5

#define EVTCHNOP_bind_interdomain	0
#define EVTCHNOP_close		3
#define EVTCHNOP_status		5
#define EVTCHNOP_alloc_unbound	6
#define EVTCHNOP_bind_vcpu	8
#define EVTCHNOP_reset		10

#define GNTTABOP_copy		5
#define GNTCOPY_source_gref	1
#define GNTCOPY_dest_gref	2
#define GTF_permit_access	1
#define GTF_readonly		BIT(2)
#define GTF_reading		BIT(3)
#define GTF_writing		BIT(4)
#define GNTST_okay		0
#define GNTST_general_error	-1
#define GNTST_bad_domain	-2
#define GNTST_bad_gntref	-3
#define GNTST_permission_denied	-8
#define GNTST_bad_page		-9
#define GNTST_bad_copy_arg	-10

struct xen_alloc_unbound {
	u16 dom, remote_dom;
	u32 port;
};

struct xen_bind_interdomain {
	u16 remote_dom;
	u32 remote_port;
	u32 local_port;
};

struct xen_grant_entry {
	u16 flags;
	u16 domid;
	u32 frame;
};

struct xen_copy_ptr {
	u64 u;		/* grant reference or frame number */
	u16 domid;
	u16 offset;
};

struct xen_gnttab_copy {
	struct xen_copy_ptr source, dest;
	u16 len;
	u16 flags;
	s16 status;
};

static_assert(sizeof(struct xen_alloc_unbound) == 8, "alloc_unbound");
static_assert(sizeof(struct xen_bind_interdomain) == 12, "bind_interdomain");
static_assert(sizeof(struct xen_gnttab_copy) == 40, "gnttab_copy");

/* The VM's domain ID (0 without Xen state): 0 or -errno. */
static inline int xen_domid_get(struct kvm_vm *vm, u64 *id)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_PERSONA_DOMID };
	int r;

	a.u.pad[0] = 0x5a5a;
	r = xen_get_attr(vm, &a);
	*id = a.u.pad[0];
	return r;
}

static inline int xen_domid_set(struct kvm_vm *vm, u64 id)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_PERSONA_DOMID };

	a.u.pad[0] = id;
	return xen_set_attr(vm, &a);
}

/* ---- Guest memory used by these tests ----------------------------------- */

/*
 * XR_PAGES pages at XR_GPA, identity mapped into the guest:
 *   page 0  shared_info (vCPU n's vcpu_info is vcpu_info[n] in it)
 *   page 1  vcpu_info / time info / runstate areas outside shared_info
 *   page 2  a second shared_info candidate
 *   page 3+ hypercall arguments (physically and virtually contiguous)
 */
#define XR_GPA			0xd0000000ull
#define XR_SLOT			20
#define XR_PAGES		8
#define SHINFO_GPA		XR_GPA
#define SHINFO_GFN		(SHINFO_GPA >> 12)
#define AREA_GPA		(XR_GPA + 0x1000)
#define SHINFO2_GPA		(XR_GPA + 0x2000)
#define ARG_GPA			(XR_GPA + 0x3000)
#define ARG_BYTES		((XR_PAGES - 3) * 0x1000)
/* A canonical guest virtual address libkvm never maps. */
#define UNMAPPED_GVA		0xdead0000000ull

#define UPCALL_VECTOR		0xf3	/* VM-wide (HVM_PARAM_CALLBACK_IRQ) */
#define VCPU_UPCALL_VECTOR	0xe3	/* per vCPU, through the local APIC */
#define XVM_MAX_VCPUS		2

#define MS			1000000ull	/* in ns */

/* ---- Attribute wrappers: 0 or -errno ------------------------------------ */

static inline int xen_vcpu_set(struct kvm_vcpu *vcpu,
			       struct kvm_xen_vcpu_attr *a)
{
	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_SET_ATTR, a);
}

static inline int xen_vcpu_get(struct kvm_vcpu *vcpu,
			       struct kvm_xen_vcpu_attr *a)
{
	return ioctl_err(vcpu->fd, KVM_XEN_VCPU_GET_ATTR, a);
}

static inline int xen_vcpu_set_gpa(struct kvm_vcpu *vcpu, u16 type, u64 gpa)
{
	struct kvm_xen_vcpu_attr a = { .type = type, .u.gpa = gpa };

	return xen_vcpu_set(vcpu, &a);
}

/* Read a gpa-valued vCPU attribute into *gpa; 0 or -errno. */
static inline int xen_vcpu_get_gpa(struct kvm_vcpu *vcpu, u16 type, u64 *gpa)
{
	struct kvm_xen_vcpu_attr a;
	int r;

	memset(&a, 0x5a, sizeof(a));
	a.type = type;
	r = xen_vcpu_get(vcpu, &a);
	*gpa = a.u.gpa;
	return r;
}

static inline int xen_set_shinfo(struct kvm_vm *vm, u64 gfn)
{
	struct kvm_xen_hvm_attr a = {
		.type = KVM_XEN_ATTR_TYPE_SHARED_INFO,
		.u.shared_info.gfn = gfn,
	};

	return xen_set_attr(vm, &a);
}

static inline u64 xen_get_shinfo(struct kvm_vm *vm)
{
	struct kvm_xen_hvm_attr a;

	memset(&a, 0x5a, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_SHARED_INFO;
	if (xen_get_attr(vm, &a))
		return 0x5a5a5a5a5a5a5a5aull;
	return a.u.shared_info.gfn;
}

static inline int xen_set_vector(struct kvm_vm *vm, u8 vector)
{
	struct kvm_xen_hvm_attr a = {
		.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR,
		.u.vector = vector,
	};

	return xen_set_attr(vm, &a);
}

static inline int xen_send(struct kvm_vm *vm, u32 port, u32 vcpu, u32 prio)
{
	struct kvm_irq_routing_xen_evtchn e = {
		.port = port, .vcpu = vcpu, .priority = prio,
	};

	return ioctl_err(vm->fd, KVM_XEN_HVM_EVTCHN_SEND, &e);
}

/* KVM_XEN_ATTR_TYPE_EVTCHN with a port target (deliver.port). */
static inline int xen_evtchn_port(struct kvm_vm *vm, u32 flags, u32 send_port,
				  u32 type, u32 port, u32 vcpu, u32 prio)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	a.u.evtchn.send_port = send_port;
	a.u.evtchn.type = type;
	a.u.evtchn.flags = flags;
	a.u.evtchn.deliver.port.port = port;
	a.u.evtchn.deliver.port.vcpu = vcpu;
	a.u.evtchn.deliver.port.priority = prio;
	return xen_set_attr(vm, &a);
}

/* KVM_XEN_ATTR_TYPE_EVTCHN with an eventfd target. */
static inline int xen_evtchn_eventfd(struct kvm_vm *vm, u32 send_port, int fd)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	a.u.evtchn.send_port = send_port;
	a.u.evtchn.type = EVTCHNSTAT_interdomain;
	a.u.evtchn.deliver.eventfd.port = 0;
	a.u.evtchn.deliver.eventfd.fd = fd;
	return xen_set_attr(vm, &a);
}

static inline int xen_evtchn_flags(struct kvm_vm *vm, u32 flags, u32 send_port)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	a.u.evtchn.send_port = send_port;
	a.u.evtchn.flags = flags;
	return xen_set_attr(vm, &a);
}

static inline int xen_set_timer(struct kvm_vcpu *vcpu, u32 port, u32 prio,
				u64 expires)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };

	a.u.timer.port = port;
	a.u.timer.priority = prio;
	a.u.timer.expires_ns = expires;
	return xen_vcpu_set(vcpu, &a);
}

static inline int xen_get_timer(struct kvm_vcpu *vcpu,
				struct kvm_xen_vcpu_attr *a)
{
	memset(a, 0x5a, sizeof(*a));
	a->type = KVM_XEN_VCPU_ATTR_TYPE_TIMER;
	return xen_vcpu_get(vcpu, a);
}

/* The VM's kvmclock, the clock Xen timers and runstate times run on. */
static inline u64 kvmclock_ns(struct kvm_vm *vm)
{
	struct kvm_clock_data c;

	memset(&c, 0, sizeof(c));
	vm_ioctl(vm, KVM_GET_CLOCK, &c);
	return c.clock;
}

static inline u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Bits of guest memory, from the host; plain accesses, as the tests touch
 * them only while no vCPU runs.
 */
static inline bool bit_in(const void *base, unsigned int bit)
{
	const u8 *p = base;

	return p[bit / 8] & (1u << (bit % 8));
}

static inline void bit_set(void *base, unsigned int bit, bool on)
{
	u8 *p = base;

	if (on)
		p[bit / 8] |= 1u << (bit % 8);
	else
		p[bit / 8] &= ~(1u << (bit % 8));
}

/* ---- The guest ---------------------------------------------------------- */

enum guest_op {
	GOP_NOP,	/* just report; lets pending upcalls in first */
	GOP_HCALL,	/* one hypercall; result = RAX */
	GOP_WAIT,	/* halt until irqs >= want */
	GOP_HCALL_WAIT,	/* a hypercall, then halt until irqs >= want */
};

struct guest_cmd {
	u64 op;
	u64 nr;
	u64 arg[3];
	u64 want;
	u64 result;
};

struct guest_state {
	u64 use_vmmcall;
	u64 x2apic;
	u64 lapic_eoi;
	u64 compat;		/* vcpu_info has the 32-bit layout */
	u64 keep_pending;	/* upcalls to leave evtchn_upcall_pending set */
	u64 vcpu_info[XVM_MAX_VCPUS];	/* guest address, 0: none */
	struct guest_cmd cmd[XVM_MAX_VCPUS];
	u64 irqs[XVM_MAX_VCPUS];	/* upcalls taken */
	u64 sel[XVM_MAX_VCPUS];		/* pending_sel bits taken */
	u64 vector[XVM_MAX_VCPUS];	/* vector of the last upcall */
	u64 irqs_with_pending[XVM_MAX_VCPUS];	/* upcall_pending was 1 */
};

static struct guest_state gs;

static inline void guest_sti_nop(void)
{
	__asm__ __volatile__("sti; nop" : : : "memory");
}

static inline void guest_cli(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static inline u64 guest_hcall(u64 nr, u64 a1, u64 a2, u64 a3)
{
	u64 rax = nr;

	if (READ_ONCE(gs.use_vmmcall))
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

static inline void guest_wait_irqs(u64 i, u64 want)
{
	for (;;) {
		guest_cli();
		if (READ_ONCE(gs.irqs[i]) >= want)
			break;
		/* STI's shadow covers HLT: no wakeup is lost. */
		__asm__ __volatile__("sti; hlt" : : : "memory");
	}
	guest_sti_nop();
}

static inline void guest_upcall(struct ex_regs *regs)
{
	u64 i = rdmsr(MSR_GS_BASE);
	u8 *vi = (u8 *)READ_ONCE(gs.vcpu_info[i]);

	WRITE_ONCE(gs.irqs[i], gs.irqs[i] + 1);
	WRITE_ONCE(gs.vector[i], regs->vector);
	if (vi) {
		u64 sel;

		if (READ_ONCE(vi[0]))
			gs.irqs_with_pending[i]++;
		if (gs.compat)
			sel = __atomic_exchange_n((u32 *)(vi + XEN_VCPU_INFO_SEL32),
						  0, __ATOMIC_SEQ_CST);
		else
			sel = __atomic_exchange_n(&((struct xen_vcpu_info *)vi)->evtchn_pending_sel,
						  0, __ATOMIC_SEQ_CST);
		gs.sel[i] |= sel;
		if (gs.keep_pending)
			gs.keep_pending--;
		else
			WRITE_ONCE(vi[0], 0);
	}
	if (gs.lapic_eoi)
		x2apic_write_reg(APIC_EOI, 0);
}

static inline void guest_main(u64 i)
{
	struct guest_cmd *c = &gs.cmd[i];

	wrmsr(MSR_GS_BASE, i);
	if (READ_ONCE(gs.x2apic))
		x2apic_enable();
	for (;;) {
		u64 op, r = 0;

		guest_sti_nop();
		op = READ_ONCE(c->op);
		if (op == GOP_HCALL || op == GOP_HCALL_WAIT)
			r = guest_hcall(READ_ONCE(c->nr), READ_ONCE(c->arg[0]),
					READ_ONCE(c->arg[1]),
					READ_ONCE(c->arg[2]));
		if (op == GOP_WAIT || op == GOP_HCALL_WAIT)
			guest_wait_irqs(i, READ_ONCE(c->want));
		WRITE_ONCE(c->result, r);
		guest_cli();
		GUEST_SYNC(i);
	}
}

/* ---- The host side of it ------------------------------------------------ */

enum xvm_flags {
	XVM_COMPAT		= 1 << 0,	/* LONG_MODE 0 */
	XVM_NO_SHINFO		= 1 << 1,
	XVM_VCPU_VECTOR		= 1 << 2,	/* per-vCPU vector instead */
	XVM_NO_EVTCHN_SEND	= 1 << 3,	/* config without EVTCHN_SEND */
};

struct xvm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[XVM_MAX_VCPUS];
	unsigned int nr_vcpus;
	u8 *region;				/* XR_GPA */
	struct xen_shared_info *shinfo;
	struct guest_state *gs;
};

/* Host view of guest physical @gpa inside the region. */
static inline void *xr(struct xvm *x, u64 gpa)
{
	return x->region + (gpa - XR_GPA);
}

static inline struct xen_vcpu_info *xvi(struct xvm *x, unsigned int i)
{
	return &x->shinfo->vcpu_info[i];
}

static inline void __xvm_create(struct __test_metadata *_metadata,
				struct xvm *x, unsigned int nr_vcpus,
				unsigned int flags)
{
	u32 cfg = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
	unsigned int i;

	memset(x, 0, sizeof(*x));
	ASSERT_GE(XVM_MAX_VCPUS, nr_vcpus);
	x->nr_vcpus = nr_vcpus;
	x->vm = vm_create_with_vcpus(nr_vcpus, guest_main, x->vcpu);
	vm_init_descriptor_tables(x->vm);
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_init_descriptor_tables(x->vcpu[i]);
		vcpu_args_set(x->vcpu[i], 1, (u64)i);
	}
	vm_install_exception_handler(x->vm, UPCALL_VECTOR, guest_upcall);
	vm_install_exception_handler(x->vm, VCPU_UPCALL_VECTOR, guest_upcall);

	vm_userspace_mem_region_add(x->vm, VM_MEM_SRC_ANONYMOUS, XR_GPA,
				    XR_SLOT, XR_PAGES, 0);
	virt_map(x->vm, XR_GPA, XR_GPA, XR_PAGES);
	x->region = addr_gpa2hva(x->vm, XR_GPA);
	memset(x->region, 0, XR_PAGES * 4096);
	x->shinfo = (void *)x->region;

	x->gs = addr_gva2hva(x->vm, (vm_vaddr_t)&gs);
	memset(x->gs, 0, sizeof(*x->gs));
	x->gs->use_vmmcall = host_uses_vmmcall();
	x->gs->compat = !!(flags & XVM_COMPAT);
	if (flags & XVM_VCPU_VECTOR) {
		x->gs->x2apic = 1;
		x->gs->lapic_eoi = 1;
	}

	if (!(flags & XVM_NO_EVTCHN_SEND) && (xen_caps() & CAP_SEND))
		cfg |= KVM_XEN_HVM_CONFIG_EVTCHN_SEND;
	ASSERT_EQ(0, xen_config_simple(x->vm, cfg, XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_long_mode(x->vm, !(flags & XVM_COMPAT)));
	if (!(flags & XVM_NO_SHINFO))
		ASSERT_EQ(0, xen_set_shinfo(x->vm, SHINFO_GFN));
	if (!(flags & XVM_VCPU_VECTOR))
		ASSERT_EQ(0, xen_set_vector(x->vm, UPCALL_VECTOR));

	for (i = 0; i < nr_vcpus; i++) {
		u64 gpa = SHINFO_GPA + i * sizeof(struct xen_vcpu_info);

		if (flags & XVM_VCPU_VECTOR) {
			struct kvm_xen_vcpu_attr a = {
				.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
				.u.vector = VCPU_UPCALL_VECTOR,
			};

			ASSERT_EQ(0, xen_vcpu_set(x->vcpu[i], &a));
		}
		ASSERT_EQ(0, xen_vcpu_set_gpa(x->vcpu[i],
					      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
					      gpa));
		x->gs->vcpu_info[i] = gpa;
	}
}

#define xvm_create(x, n, flags) __xvm_create(_metadata, x, n, flags)

/* Time limit of one KVM_RUN that waits for something. */
#define XRUN_MS			10000

static int xrun_alarm;

static inline void xrun_sigalrm(int sig)
{
	WRITE_ONCE(xrun_alarm, 1);
}

/* KVM_RUN, interrupted after @ms milliseconds; 0 or -errno. */
static inline int run_limited(struct kvm_vcpu *vcpu, unsigned int ms)
{
	struct sigaction sa = { .sa_handler = xrun_sigalrm };
	struct itimerval it = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 },
	};
	int r, err = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	WRITE_ONCE(xrun_alarm, 0);
	setitimer(ITIMER_REAL, &it, NULL);
	do {
		r = ioctl(vcpu->fd, KVM_RUN, NULL);
		err = r ? errno : 0;
	} while (r && err == EINTR && !READ_ONCE(xrun_alarm));
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	return -err;
}

#define XRUN_SYNC	1
#define XRUN_XEN	2

/* Run vCPU @i until it reports (XRUN_SYNC) or exits with KVM_EXIT_XEN. */
static inline int __xrun(struct __test_metadata *_metadata, struct xvm *x,
			 unsigned int i)
{
	struct kvm_vcpu *vcpu = x->vcpu[i];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	u64 cmd;
	int r;

	r = run_limited(vcpu, XRUN_MS);
	ASSERT_EQ(0, r)
		TH_LOG("vCPU %u: KVM_RUN failed (%s) after %u ms; command %lu, %lu upcalls so far",
		       i, strerror(-r), XRUN_MS,
		       (unsigned long)x->gs->cmd[i].op,
		       (unsigned long)x->gs->irqs[i]);
	if (run->exit_reason == KVM_EXIT_XEN) {
		ASSERT_EQ(KVM_EXIT_XEN_HCALL, run->xen.type);
		return XRUN_XEN;
	}
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason)
		TH_LOG("vCPU %u: exit %u (%s)", i, run->exit_reason,
		       exit_reason_str(run->exit_reason));
	memset(&uc, 0, sizeof(uc));
	cmd = get_ucall(vcpu, &uc);
	if (cmd == UCALL_ABORT)
		TH_LOG("guest: %s at %s:%lu",
		       (const char *)uc.args[GUEST_ERROR_STRING],
		       (const char *)uc.args[GUEST_FILE],
		       (unsigned long)uc.args[GUEST_LINE]);
	ASSERT_NE(UCALL_UNHANDLED, cmd)
		TH_LOG("vCPU %u: unexpected vector %lu in the guest", i,
		       (unsigned long)uc.args[0]);
	ASSERT_EQ(UCALL_SYNC, cmd);
	ASSERT_EQ(i, uc.args[1]);
	return XRUN_SYNC;
}

#define xrun(x, i) __xrun(_metadata, x, i)

static inline void xcmd(struct xvm *x, unsigned int i, u64 op, u64 nr,
			u64 a0, u64 a1, u64 a2, u64 want)
{
	struct guest_cmd *c = &x->gs->cmd[i];

	c->op = op;
	c->nr = nr;
	c->arg[0] = a0;
	c->arg[1] = a1;
	c->arg[2] = a2;
	c->want = want;
	c->result = 0x5a5a5a5a5a5a5a5aull;
}

/* Have vCPU @i do @op to its report; returns the hypercall's result. */
static inline u64 __xdo(struct __test_metadata *_metadata, struct xvm *x,
			unsigned int i, u64 op, u64 nr, u64 a0, u64 a1, u64 a2,
			u64 want)
{
	int r;

	xcmd(x, i, op, nr, a0, a1, a2, want);
	r = __xrun(_metadata, x, i);
	ASSERT_EQ(XRUN_SYNC, r)
		TH_LOG("vCPU %u: hypercall %lu (%#lx, %#lx, %#lx) exited to userspace",
		       i, (unsigned long)nr, (unsigned long)a0,
		       (unsigned long)a1, (unsigned long)a2);
	return x->gs->cmd[i].result;
}

#define xnop(x, i) __xdo(_metadata, x, i, GOP_NOP, 0, 0, 0, 0, 0)
#define xhcall(x, i, nr, a0, a1, a2) \
	__xdo(_metadata, x, i, GOP_HCALL, nr, a0, a1, a2, 0)
#define xwait(x, i, want) __xdo(_metadata, x, i, GOP_WAIT, 0, 0, 0, 0, want)
#define xhcall_wait(x, i, nr, a0, a1, a2, want) \
	__xdo(_metadata, x, i, GOP_HCALL_WAIT, nr, a0, a1, a2, want)

/*
 * Have vCPU @i make a hypercall that must exit to userspace; returns the
 * exit for inspection.  xfinish() then completes it with a result.
 */
static inline struct kvm_xen_exit *
__xexit(struct __test_metadata *_metadata, struct xvm *x, unsigned int i,
	u64 nr, u64 a0, u64 a1, u64 a2)
{
	struct kvm_xen_exit *e;
	int r;

	xcmd(x, i, GOP_HCALL, nr, a0, a1, a2, 0);
	r = __xrun(_metadata, x, i);
	ASSERT_EQ(XRUN_XEN, r)
		TH_LOG("vCPU %u: hypercall %lu (%#lx, %#lx) was handled in the kernel, result %#lx",
		       i, (unsigned long)nr, (unsigned long)a0,
		       (unsigned long)a1,
		       (unsigned long)x->gs->cmd[i].result);
	e = &x->vcpu[i]->run->xen;
	ASSERT_EQ(nr, e->u.hcall.input);
	ASSERT_EQ(1, e->u.hcall.longmode);
	ASSERT_EQ(0, e->u.hcall.cpl);
	ASSERT_EQ(a0, e->u.hcall.params[0]);
	ASSERT_EQ(a1, e->u.hcall.params[1]);
	ASSERT_EQ(a2, e->u.hcall.params[2]);
	return e;
}

#define xexit(x, i, nr, a0, a1, a2) __xexit(_metadata, x, i, nr, a0, a1, a2)

static inline u64 __xfinish(struct __test_metadata *_metadata,
			    struct xvm *x, unsigned int i, u64 result)
{
	x->vcpu[i]->run->xen.u.hcall.result = result;
	ASSERT_EQ(XRUN_SYNC, __xrun(_metadata, x, i));
	return x->gs->cmd[i].result;
}

#define xfinish(x, i, result) __xfinish(_metadata, x, i, result)

/* Guest virtual (= physical) address of the argument area, plus @off. */
static inline u64 arg_gva(u64 off)
{
	return ARG_GPA + off;
}

static inline void *arg_hva(struct xvm *x, u64 off)
{
	return xr(x, ARG_GPA + off);
}

/* Write a struct evtchn_send for @port at argument offset @off. */
static inline u64 put_evtchn_send(struct xvm *x, u64 off, u32 port)
{
	memcpy(arg_hva(x, off), &port, sizeof(port));
	return arg_gva(off);
}

/* Poll for up to @ms for a shared_info pending bit (irqfd may be async). */
static inline bool wait_pending_bit(const void *pending, unsigned int port,
				    unsigned int ms)
{
	u64 end = mono_ns() + ms * MS;

	do {
		if (bit_in((const void *)pending, port))
			return true;
		usleep(1000);
	} while (mono_ns() < end);
	return bit_in(pending, port);
}

/*
 * A vCPU stopped where it should not have (a shutdown, i.e. a triple
 * fault in the guest, or an internal error): print where, from the vCPU
 * thread itself, before the failure.  The events tell whether an
 * interrupt or exception was being delivered.
 */
static inline void persona_dump_vcpu(int vcpu_fd, const char *who)
{
	struct kvm_vcpu_events ev;
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) ||
	    ioctl(vcpu_fd, KVM_GET_SREGS, &sr) ||
	    ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev)) {
		printf("# %s: cannot read its state: %s\n", who, strerror(errno));
		fflush(stdout);
		return;
	}
	printf("# %s: rip %#llx rsp %#llx rflags %#llx rax %#llx\n", who,
	       r.rip, r.rsp, r.rflags, r.rax);
	printf("# %s: cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx cs %#x/%u\n",
	       who, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer, sr.cs.selector,
	       sr.cs.l);
	printf("# %s: idt %#llx/%#x gdt %#llx/%#x apic_base %#llx\n", who,
	       sr.idt.base, sr.idt.limit, sr.gdt.base, sr.gdt.limit,
	       sr.apic_base);
	printf("# %s: exception inj %u pend %u nr %u err %#x,", who,
	       ev.exception.injected, ev.exception.pending, ev.exception.nr,
	       ev.exception.error_code);
	printf(" interrupt inj %u nr %u soft %u, shadow %u, nmi inj %u pend %u\n",
	       ev.interrupt.injected, ev.interrupt.nr, ev.interrupt.soft,
	       ev.interrupt.shadow, ev.nmi.injected, ev.nmi.pending);
	fflush(stdout);
}

/*
 * The module's per-VM debugfs directories (Documentation/abi.rst,
 * "Observing a VM"): read every file of every VM once, as an operator
 * would.  Returns how many files were read whole (a VM torn down
 * meanwhile reads EIO), or -1 if there is no directory.
 */
#define PERSONA_DEBUGFS		"/sys/kernel/debug/kvm-persona"

static inline long persona_debugfs_read_vms(void)
{
	static const char * const files[] = {
		"config", "vcpus", "ports", "hypercalls",
	};
	char path[512], buf[4096];
	struct dirent *d;
	unsigned int i;
	long reads = 0;
	ssize_t n;
	DIR *dir;
	int fd;

	dir = opendir(PERSONA_DEBUGFS);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			snprintf(path, sizeof(path), PERSONA_DEBUGFS "/%s/%s",
				 d->d_name, files[i]);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				;
			close(fd);
			reads += !n;
		}
	}
	closedir(dir);
	return reads;
}

#endif /* PERSONA_XEN_H */
