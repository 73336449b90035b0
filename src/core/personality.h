/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a personality gives the dispatch (dispatch.c), as kvm_x86_ops is
 * what a vendor module gives kvm.ko: the hooked kvm.ko entry points call
 * these, and a new personality is a new table, not edits in the engine or
 * the dispatch.
 */
#ifndef _PERSONA_PERSONALITY_H
#define _PERSONA_PERSONALITY_H

#include <linux/kvm_host.h>
#include <linux/types.h>

struct persona_ops;

/*
 * The head of a personality's per-VM state, which kvm/boundary.h hangs
 * off the VM (persona_kvm_install_vm()).
 */
struct persona_vm {
	const struct persona_ops *ops;
};

/* Every operation must be set. */
struct persona_ops {
	const char *name;
	/*
	 * The capability by which a kvm.ko with this personality built in
	 * says so: the module then refuses to load.
	 */
	long native_cap;
	const char *native_cap_name;

	/* Module-wide: asked for every VM, with or without a personality. */

	/* KVM_CHECK_EXTENSION: true if @ext is this personality's (*@r). */
	bool (*check_extension)(long ext, int *r);
	bool (*vm_ioctl_claims)(unsigned int ioctl);
	long (*vm_ioctl)(struct kvm *kvm, unsigned int ioctl,
			 void __user *argp);
	bool (*vcpu_ioctl_claims)(unsigned int ioctl);
	long (*vcpu_ioctl)(struct kvm_vcpu *vcpu, unsigned int ioctl,
			   void __user *argp);
	/* KVM_SET_GSI_ROUTING entries of a type kvm.ko does not know. */
	bool (*routing_claims)(u32 type);
	int (*set_routing_entry)(struct kvm *kvm,
				 struct kvm_kernel_irq_routing_entry *e,
				 const struct kvm_irq_routing_entry *ue);

	/*
	 * Per VM: called only for a VM whose state is this personality's,
	 * with that state.
	 */

	/* kvm_arch_destroy_vm(): before kvm.ko frees the vCPUs, and after. */
	void (*vm_teardown)(struct persona_vm *pvm);
	void (*vm_destroy)(struct kvm *kvm);
	/* A VMCALL/VMMCALL exit: true if handled, with the exit code in *@r. */
	bool (*hypercall)(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			  int *r);
	/* A WRMSR: true if handled before kvm.ko sees it (*@r as above). */
	bool (*set_msr)(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			struct msr_data *msr, int *r);
	/* kvm.ko has accepted a WRMSR. */
	void (*msr_written)(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			    u32 index, u64 data);
	/* KVM_RUN from userspace, on the way in and out. */
	void (*run_enter)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	void (*run_exit)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	/* The vCPU is scheduled in; about to be scheduled out. */
	void (*vcpu_load)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	void (*vcpu_put)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	/*
	 * A vector to inject as ExtINT is (before the LAPIC's), or 0.
	 * @promise: kvm.ko is asking whether one is injectable, and will
	 * ask which next (see promised_vector).
	 */
	u8 (*extint)(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
		     bool promise);
	/* What to inject when the source found injectable has gone. */
	u8 (*promised_vector)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	/*
	 * kvm.ko has computed the vCPU's pvclock (kvm_guest_time_update(),
	 * from the vCPU's sleepable context) and written its own areas.
	 */
	void (*clock_update)(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			     const struct pvclock_vcpu_time_info *clock);
	/* Work for the vCPU's own context, from the run loop. */
	bool (*timer_pending)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
	void (*timer_inject)(struct persona_vm *pvm, struct kvm_vcpu *vcpu);
};

/* Make @ops one of the personalities the dispatch asks (before start). */
void persona_register(const struct persona_ops *ops);

/*
 * Per-VM hooks are armed while VMs with a personality exist: each such VM
 * holds them from before its state is installed until it is removed.
 */
int persona_vm_hooks_get(void);
void persona_vm_hooks_put(void);

#endif /* _PERSONA_PERSONALITY_H */
