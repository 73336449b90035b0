/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-persona: internal interfaces between the module's subsystems.
 *
 * Everything that depends on kvm.ko's private layout or on non-exported
 * symbols lives behind the persona_kvm_*() accessors implemented by the
 * hook layer (src/hooks.c).  The other files only use kvm.ko's exported
 * API and these accessors.
 */
#ifndef _KVM_PERSONA_H
#define _KVM_PERSONA_H

#include <linux/kvm.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct file;
struct kvm;
struct kvm_vcpu;

/* Flags this module implements for KVM_CAP_XEN_HVM. */
#define PERSONA_XEN_CAPS	(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR |	\
				 KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)

/* Flags userspace may set in KVM_XEN_HVM_CONFIG. */
#define PERSONA_XEN_CONFIG_FLAGS	KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL

/*
 * The hypercall MSR must sit in the range Intel and AMD leave to
 * hypervisors; pointing it at an architectural MSR would make the guest's
 * own writes to that MSR land in the hypercall page writer.
 */
#define PERSONA_XEN_MSR_MIN	0x40000000u
#define PERSONA_XEN_MSR_MAX	0x4fffffffu

/* Per-VM personality state; exists only once userspace enabled Xen. */
struct persona_vm {
	struct hlist_node node;
	struct kvm *kvm;
	/* Serialises configuration changes (ioctls) for this VM. */
	struct mutex lock;
	/* Read locklessly on the exit paths; written under @lock. */
	u32 flags;
	u32 msr;
	u64 blob_addr_32, blob_addr_64;
	u8 blob_size_32, blob_size_64;
	u32 xen_version;
	bool long_mode;
	/* struct persona_vcpu, indexed by vcpu_idx. */
	struct xarray vcpus;
};

struct persona_vcpu {
	/* Linear RIP of the hypercall that exited to userspace. */
	unsigned long hypercall_rip;
};

/* vm.c: personality lifecycle */
int persona_vm_init(void);
void persona_vm_exit(void);
struct persona_vm *persona_vm_find(struct kvm *kvm);
struct persona_vm *persona_vm_get_or_create(struct kvm *kvm);
struct persona_vcpu *persona_vcpu_get(struct persona_vm *pvm,
				      struct kvm_vcpu *vcpu);
void persona_vm_destroy(struct kvm *kvm);
bool persona_vms_exist(void);
unsigned int persona_vm_count(void);

static inline bool persona_xen_intercepts(const struct persona_vm *pvm)
{
	return (READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) &&
	       READ_ONCE(pvm->msr);
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

/* hyperv.c: coexistence with kvm.ko's own Hyper-V emulation */
bool persona_hv_claims_hypercall(struct kvm_vcpu *vcpu);
void persona_hv_hypercall_msr_written(struct persona_vm *pvm,
				      struct kvm_vcpu *vcpu, u64 data);

/* hooks.c: interception of kvm.ko and accessors to its internals */
int persona_hooks_init(void);
void persona_hooks_exit(void);

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

#endif /* _KVM_PERSONA_H */
