// SPDX-License-Identifier: GPL-2.0
/*
 * Where a VM's personality state hangs (kvm/boundary.h), on kernels whose
 * struct kvm_arch keeps a struct kvm_xen whatever CONFIG_KVM_XEN says
 * (6.1): its first word, read inline by persona_kvm_vm().
 */
#include <linux/kvm_host.h>

#include "boundary.h"

/* Publish @pvm for @kvm; returns the state already there, if any. */
struct persona_vm *persona_kvm_install_vm(struct kvm *kvm,
					  struct persona_vm *pvm)
{
	return cmpxchg_release(persona_kvm_slot(kvm), NULL, pvm);
}

struct persona_vm *persona_kvm_remove_vm(struct kvm *kvm)
{
	return xchg(persona_kvm_slot(kvm), NULL);
}
