/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-persona: internal interfaces between the module's subsystems.
 *
 * Everything that depends on kvm.ko's private layout or on non-exported
 * symbols lives behind the persona_kvm_*() accessors implemented by the
 * hook layer (src/hooks.c).  The other files only use kvm.ko's exported
 * API, the structures of <linux/kvm_host.h>, and these accessors.
 */
#ifndef _KVM_PERSONA_H
#define _KVM_PERSONA_H

#include <linux/kvm.h>
#include <linux/kvm_host.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

/* Flags this module implements for KVM_CAP_XEN_HVM, less RUNSTATE. */
#define PERSONA_XEN_CAPS	(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR |	\
				 KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |	\
				 KVM_XEN_HVM_CONFIG_SHARED_INFO |	\
				 KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL |	\
				 KVM_XEN_HVM_CONFIG_EVTCHN_SEND)

/* Flags userspace may set in KVM_XEN_HVM_CONFIG. */
#define PERSONA_XEN_CONFIG_FLAGS	(KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL | \
					 KVM_XEN_HVM_CONFIG_EVTCHN_SEND)

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
#define XEN_ENOMEM		12
#define XEN_EFAULT		14
#define XEN_EINVAL		22
#define XEN_ENOSYS		38
#define XEN_ETIME		62

/* Per-VM personality state; exists only once userspace enabled Xen. */
struct persona_vm {
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
	u8 upcall_vector;

	/* The shared_info page; see shinfo.c. */
	struct gfn_to_pfn_cache shinfo_cache;

	/* Outbound ports (KVM_XEN_ATTR_TYPE_EVTCHN): struct persona_evtchnfd. */
	struct xarray evtchn_ports;

	/* vCPUs whose struct kvm_vcpu_xen we have initialised. */
	spinlock_t vcpu_init_lock;
	DECLARE_BITMAP(vcpu_ready, KVM_MAX_VCPUS);
	/* vCPUs blocked in SCHEDOP_poll. */
	DECLARE_BITMAP(poll_mask, KVM_MAX_VCPUS);
	/* vCPUs whose runstate area missed an update (page unmapped). */
	DECLARE_BITMAP(runstate_stale, KVM_MAX_VCPUS);
	/* vCPUs inside KVM_RUN: only those run, for runstate purposes. */
	DECLARE_BITMAP(in_run, KVM_MAX_VCPUS);
	/* The callback vector last reported injectable, per vCPU. */
	u8 promised_vector[KVM_MAX_VCPUS];
};

/* vm.c: personality lifecycle */
int persona_vm_init(void);
void persona_vm_exit(void);
struct persona_vm *persona_vm_get_or_create(struct kvm *kvm);
struct kvm_vcpu_xen *persona_vcpu_xen(struct persona_vm *pvm,
				      struct kvm_vcpu *vcpu);
bool persona_vcpu_xen_ready(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_vm_teardown(struct kvm *kvm);
void persona_vm_destroy(struct kvm *kvm);

static inline bool persona_xen_intercepts(const struct persona_vm *pvm)
{
	return (READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) &&
	       READ_ONCE(pvm->msr);
}

static inline bool persona_xen_long_mode(const struct persona_vm *pvm)
{
	return READ_ONCE(pvm->long_mode);
}

/* uapi.c: the upstream userspace ABI */
int persona_xen_caps(void);
bool persona_vm_ioctl_claims(unsigned int ioctl);
long persona_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
		      void __user *argp);
bool persona_vcpu_ioctl_claims(unsigned int ioctl);
long persona_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp);

/* hypercall.c: hypercall page and dispatch */
int persona_xen_write_hypercall_page(struct persona_vm *pvm,
				     struct kvm_vcpu *vcpu, u64 data);
int persona_xen_hypercall(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
int persona_read_guest_virt(struct kvm_vcpu *vcpu, u64 gva, void *data,
			    unsigned int len);

/* shinfo.c: shared_info, vcpu_info, pvclock, runstate */
int persona_shinfo_set(struct persona_vm *pvm, u64 gfn);
u64 persona_shinfo_gfn(struct persona_vm *pvm);
int persona_shinfo_set_long_mode(struct persona_vm *pvm, bool lm);
int persona_vcpu_attr_set(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data);
int persona_vcpu_attr_get(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data);
int persona_vcpu_attr_get_fresh(struct kvm_vcpu *vcpu,
				struct kvm_xen_vcpu_attr *data);
void persona_runstate_load(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_runstate_put(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_runstate_sync(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
bool persona_upcall_pending(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_upcall_recheck(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_vcpu_xen_teardown(struct kvm_vcpu *vcpu);
void persona_shinfo_mm_release(struct persona_vm *pvm);
void persona_mark_dirty(struct kvm_vcpu *vcpu, struct gfn_to_pfn_cache *gpc);

/* evtchn.c: 2-level event channels, ports, SCHEDOP_poll */
int persona_evtchn_set(struct persona_vm *pvm, struct kvm_xen_evtchn *xe);
int persona_evtchn_set_fast(struct persona_vm *pvm,
			    struct kvm_xen_evtchn *xe);
int persona_evtchn_send_ioctl(struct persona_vm *pvm,
			      const struct kvm_irq_routing_xen_evtchn *uxe);
int persona_evtchn_attr_set(struct persona_vm *pvm,
			    const struct kvm_xen_hvm_attr *data,
			    struct list_head *doomed);
void persona_evtchn_free_doomed(struct persona_vm *pvm,
				struct list_head *doomed);
void persona_evtchn_ports_free(struct persona_vm *pvm);
int persona_evtchn_setup_route(struct kvm *kvm,
			       struct kvm_kernel_irq_routing_entry *e,
			       const struct kvm_irq_routing_entry *ue);
bool persona_hcall_evtchn_send(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			       u64 param, u64 *r);
bool persona_hcall_sched_op(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			    bool longmode, int cmd, u64 param, u64 *r);
bool persona_evtchn_has_deferred(struct persona_vm *pvm,
				 struct kvm_vcpu *vcpu);
void persona_evtchn_inject_deferred(struct persona_vm *pvm,
				    struct kvm_vcpu *vcpu);
void persona_poll_timer_fn(struct timer_list *t);
unsigned int persona_evtchn_max_port(struct persona_vm *pvm);

/* timer.c: the Xen singleshot timer */
void persona_timer_init(struct kvm_vcpu *vcpu);
int persona_timer_attr_set(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			   const struct kvm_xen_vcpu_attr *data);
void persona_timer_attr_get(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			    struct kvm_xen_vcpu_attr *data);
bool persona_hcall_vcpu_op(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			   bool longmode, int cmd, int vcpu_id, u64 param,
			   u64 *r);
bool persona_hcall_set_timer_op(struct persona_vm *pvm,
				struct kvm_vcpu *vcpu, u64 timeout, u64 *r);
bool persona_timer_pending(struct kvm_vcpu *vcpu);
void persona_timer_inject(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
void persona_timer_stop(struct kvm_vcpu *vcpu);

/* hyperv.c: coexistence with kvm.ko's own Hyper-V emulation */
bool persona_hv_claims_hypercall(struct kvm_vcpu *vcpu);
void persona_hv_hypercall_msr_written(struct persona_vm *pvm,
				      struct kvm_vcpu *vcpu, u64 data);

/* kallsyms.c: kvm.ko's non-exported symbols */
int persona_kallsyms_init(void);
int persona_resolve(const char *name, void **where);

/* hooks.c: interception of kvm.ko and accessors to its internals */
int persona_hooks_init(void);
void persona_hooks_exit(void);
int persona_hooks_arm_xen(void);
void persona_hooks_disarm_xen(void);
struct persona_vm *persona_vm_of(struct kvm *kvm);
struct persona_vm *persona_kvm_install_vm(struct kvm *kvm,
					  struct persona_vm *pvm);
struct persona_vm *persona_kvm_remove_vm(struct kvm *kvm);

enum persona_reg {
	PERSONA_RAX, PERSONA_RCX, PERSONA_RDX, PERSONA_RBX,
	PERSONA_RSP, PERSONA_RBP, PERSONA_RSI, PERSONA_RDI,
	PERSONA_R8, PERSONA_R9, PERSONA_R10, PERSONA_R11,
};

unsigned long persona_kvm_reg_read(struct kvm_vcpu *vcpu, enum persona_reg r);
void persona_kvm_reg_write(struct kvm_vcpu *vcpu, enum persona_reg r,
			   unsigned long val);
bool persona_kvm_is_long_mode(struct kvm_vcpu *vcpu);
bool persona_kvm_is_64bit_hypercall(struct kvm_vcpu *vcpu);
int persona_kvm_get_cpl(struct kvm_vcpu *vcpu);
void persona_kvm_patch_hypercall(struct kvm_vcpu *vcpu, u8 *insn);
void persona_kvm_set_complete_userspace(struct kvm_vcpu *vcpu,
					int (*fn)(struct kvm_vcpu *vcpu));
bool persona_kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu);
u64 persona_kvm_hv_hypercall_msr(struct kvm_vcpu *vcpu);
struct kvm_vcpu_xen *persona_kvm_vcpu_xen(struct kvm_vcpu *vcpu);
bool persona_kvm_lapic_in_kernel(struct kvm_vcpu *vcpu);
u64 persona_kvm_clock_ns(struct kvm *kvm);
u64 persona_kvm_wall_clock_epoch(struct kvm *kvm);
int persona_kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq);
gpa_t persona_kvm_gva_to_gpa(struct kvm_vcpu *vcpu, u64 gva);
void persona_kvm_set_mp_state(struct kvm_vcpu *vcpu, u32 state);

#endif /* _KVM_PERSONA_H */
