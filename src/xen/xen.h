/* SPDX-License-Identifier: GPL-2.0 */
/* The Xen personality's per-VM state and constants (Xen's errno, caps). */
#ifndef _PERSONA_XEN_H
#define _PERSONA_XEN_H

#include <linux/hrtimer.h>
#include <linux/kvm.h>
#include <linux/kvm_host.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <xen/interface/xen.h>
#include <xen/interface/event_channel.h>

#include "../core/personality.h"
#include "../kvm/boundary.h"

/*
 * The parts of upstream's KVM Xen ABI that came after 6.1, for kernel
 * trees whose <linux/kvm.h> predates them.  Upstream's values; the
 * structures did not change size: 6.12's u.runstate_update_flag is the
 * byte of u.long_mode, its u.shared_info.hva and the vCPU attribute's
 * u.hva the word of u.shared_info.gfn and u.gpa (see uapi.c).
 */
#ifndef KVM_XEN_HVM_CONFIG_RUNSTATE_UPDATE_FLAG
#define KVM_XEN_HVM_CONFIG_RUNSTATE_UPDATE_FLAG	BIT(6)
#define KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG	0x5
#endif
#ifndef KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE
#define KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE	BIT(7)
#endif
#ifndef KVM_XEN_HVM_CONFIG_SHARED_INFO_HVA
#define KVM_XEN_HVM_CONFIG_SHARED_INFO_HVA	BIT(8)
#define KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA	0x6
#define KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA	0x9
#endif

/*
 * Flags this module implements for KVM_CAP_XEN_HVM, less those that need
 * the scheduler's statistics (RUNSTATE, RUNSTATE_UPDATE_FLAG).
 */
#define PERSONA_XEN_CAPS	(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR |	\
				 KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |	\
				 KVM_XEN_HVM_CONFIG_SHARED_INFO |	\
				 KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL |	\
				 KVM_XEN_HVM_CONFIG_EVTCHN_SEND |	\
				 KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE | \
				 KVM_XEN_HVM_CONFIG_SHARED_INFO_HVA)

/* Flags userspace may set in KVM_XEN_HVM_CONFIG. */
#define PERSONA_XEN_CONFIG_FLAGS	(KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL | \
					 KVM_XEN_HVM_CONFIG_EVTCHN_SEND |     \
					 KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE)

/*
 * The hypercall MSR must sit in the range Intel and AMD leave to
 * hypervisors; pointing it at an architectural MSR would make the guest's
 * own writes to that MSR land in the hypercall page writer.
 */
#define PERSONA_XEN_MSR_MIN	0x40000000u
#define PERSONA_XEN_MSR_MAX	0x4fffffffu

/* Xen's public errno.h: guests see Xen's numbering. */
#define XEN_EPERM		1
#define XEN_ENOENT		2
#define XEN_ESRCH		3
#define XEN_ENOMEM		12
#define XEN_EFAULT		14
#define XEN_EINVAL		22
#define XEN_ENOSYS		38
#define XEN_ETIME		62

/*
 * The module's own VM attribute (Documentation/abi.rst): the VM's Xen
 * domain ID on this host, in u.pad[0].  Far from upstream's numbers.
 */
#define KVM_XEN_ATTR_TYPE_PERSONA_DOMID	0x7f00

/*
 * An event channel operation on another domain that the VMM performs in
 * disguise, allocating the local port, and the kernel finishes when the
 * hypercall completes (interdomain.c).  The guest's argument as it was.
 */
struct persona_idc_pending {
	bool active;
	u32 cmd;
	u64 gva;
	union {
		struct evtchn_alloc_unbound alloc;
		struct evtchn_bind_interdomain bind;
		struct evtchn_bind_vcpu bind_vcpu;
	} arg;
};

/* Rows of the per-vCPU hypercall counters: numbers 0-63, then the rest. */
#define PERSONA_XEN_HCALL_ROWS	65

/* XENMEM_add_to_physmap of a grant frame, until the VMM completes it. */
struct persona_gnt_pending {
	bool active;
	u32 idx;
	u64 gfn;
};

/*
 * Per-vCPU Xen state, the module's own: kvm.ko built without
 * CONFIG_KVM_XEN has none on 6.12.  Allocated the first time the
 * personality touches the vCPU (vm.c, persona_vcpu_xen()), freed with
 * the VM.
 */
struct persona_xen_vcpu {
	struct kvm_vcpu *vcpu;
	/* Where a hypercall handed to userspace (KVM_EXIT_XEN) resumes. */
	u64 hypercall_rip;
	/* KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR, 0 for none. */
	u8 upcall_vector;
	/* Guest pages: see shinfo.c. */
	struct persona_gpc vcpu_info_cache;
	struct persona_gpc vcpu_time_info_cache;
	/* The runstate area may cross a page: its second page's cache. */
	struct persona_gpc runstate_cache;
	struct persona_gpc runstate2_cache;
	/* Runstate accounting, in ns of guest system time. */
	u32 current_runstate;
	u64 last_steal;
	u64 runstate_entry_time;
	u64 runstate_times[4];
	/* Selector bits that could not reach vcpu_info yet (evtchn.c). */
	unsigned long evtchn_pending_sel;
	/* The Xen vCPU ID (KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID). */
	u32 vcpu_id;
	/* The singleshot timer (timer.c). */
	u32 timer_virq;
	u64 timer_expires;
	atomic_t timer_pending;
	struct hrtimer timer;
	/* SCHEDOP_poll (evtchn.c): the port polled, -1 for several. */
	int poll_evtchn;
	struct timer_list poll_timer;
	/* A forwarded interdomain operation awaiting its completion. */
	struct persona_idc_pending idc;
	/* A grant frame being placed by the VMM (grant.c). */
	struct persona_gnt_pending gnt;
	/*
	 * Hypercalls by number (the last row: any higher number), answered
	 * in the kernel [0] or by the VMM [1].  Written by the vCPU's own
	 * thread only, read by debugfs.c.
	 */
	u64 hcalls[PERSONA_XEN_HCALL_ROWS][2];
};

/* Per-VM Xen state; exists only once userspace enabled Xen. */
struct persona_xen_vm {
	/* The dispatch's head (core/personality.h). */
	struct persona_vm vm;
	struct rcu_head rcu;
	struct kvm *kvm;
	/*
	 * Tells us when the VMM's address space goes (exit_mmap(), long
	 * before kvm.ko destroys the VM if the VMM dies with its fds
	 * open): from then on no cached guest mapping may be used.
	 */
	struct mmu_notifier mm_notifier;
	/* Serialises configuration changes (ioctls) for this VM. */
	struct mutex lock;
	/* Read locklessly on the exit paths; written under @lock. */
	u32 flags;
	u32 msr;
	u64 blob_addr_32, blob_addr_64;
	u8 blob_size_32, blob_size_64;
	u32 xen_version;
	bool long_mode;
	/* KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG: XEN_RUNSTATE_UPDATE used. */
	bool runstate_update_flag;
	u8 upcall_vector;

	/* The shared_info page; see shinfo.c. */
	struct persona_gpc shinfo_cache;

	/* Outbound ports (KVM_XEN_ATTR_TYPE_EVTCHN): struct persona_evtchnfd. */
	struct xarray evtchn_ports;

	/*
	 * The domain ID on this host (domain.c) and the ports whose other
	 * end is another domain (interdomain.c): struct persona_idc.  Both
	 * change under persona_domain_mutex.
	 */
	u16 domid;
	/* The VMM's process, for the operator (domain.c). */
	pid_t vmm_pid;
	/* The VM's directory in the module's debugfs (debugfs.c). */
	struct dentry *debugfs;
	/* Drops another VM's last reference to this one (domain.c). */
	struct work_struct put_work;
	struct xarray idc_ports;
	/* This VM's binds in flight to other domains' ports. */
	unsigned int idc_binding;

	/*
	 * The grant table (grant.c): where the guest placed each frame
	 * (index -> gfn, as xa_mk_value()), and the entries other domains
	 * are copying from or to (ref -> pin counts), under @gnt_lock.
	 */
	struct xarray gnt_frames;
	struct mutex gnt_lock;	/* @gnt_pins and the flags they stand for */
	struct xarray gnt_pins;

	/* vCPUs whose state (@vcpus) exists, published in vcpu_ready. */
	spinlock_t vcpu_init_lock;
	DECLARE_BITMAP(vcpu_ready, KVM_MAX_VCPUS);
	struct persona_xen_vcpu *vcpus[KVM_MAX_VCPUS];
	/* vCPUs blocked in SCHEDOP_poll. */
	DECLARE_BITMAP(poll_mask, KVM_MAX_VCPUS);
	/* vCPUs whose runstate area missed an update (page unmapped). */
	DECLARE_BITMAP(runstate_stale, KVM_MAX_VCPUS);
	/* vCPUs whose vcpu_info was unmapped where kvm.ko asked for events. */
	DECLARE_BITMAP(upcall_stale, KVM_MAX_VCPUS);
	/* vCPUs inside KVM_RUN: only those run, for runstate purposes. */
	DECLARE_BITMAP(in_run, KVM_MAX_VCPUS);
	/* The callback vector last reported injectable, per vCPU. */
	u8 promised_vector[KVM_MAX_VCPUS];
};

static inline bool persona_xen_intercepts(const struct persona_xen_vm *pvm)
{
	return (READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) &&
	       READ_ONCE(pvm->msr);
}

static inline bool persona_xen_long_mode(const struct persona_xen_vm *pvm)
{
	return READ_ONCE(pvm->long_mode);
}

/* The Xen state of @kvm, NULL if it has none. */
static inline struct persona_xen_vm *persona_xen_vm_of(struct kvm *kvm)
{
	struct persona_vm *vm = persona_kvm_vm(kvm);

	return vm ? container_of(vm, struct persona_xen_vm, vm) : NULL;
}

/* Whether the vCPU's Xen state has been initialised (vm.c). */
static inline bool persona_vcpu_xen_ready(struct persona_xen_vm *pvm,
					  struct kvm_vcpu *vcpu)
{
	return test_bit_acquire(vcpu->vcpu_idx, pvm->vcpu_ready);
}

/* The vCPU's Xen state; only once persona_vcpu_xen_ready(). */
static inline struct persona_xen_vcpu *
persona_xen_vcpu(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	return pvm->vcpus[vcpu->vcpu_idx];
}

/* The same for a vCPU of a Xen VM, found from the vCPU alone. */
static inline struct persona_xen_vcpu *persona_xen_vcpu_of(struct kvm_vcpu *vcpu)
{
	return persona_xen_vcpu(persona_xen_vm_of(vcpu->kvm), vcpu);
}

/* The Xen personality's operations and its module init and exit (ops.c). */
extern const struct persona_ops persona_xen_ops;

int persona_xen_init(void);
void persona_xen_exit(void);
int persona_xen_caps(void);

#endif /* _PERSONA_XEN_H */
