/* SPDX-License-Identifier: GPL-2.0 */
/* The upstream userspace ABI: KVM_XEN_* ioctls (uapi.c). */
#ifndef _PERSONA_XEN_UAPI_H
#define _PERSONA_XEN_UAPI_H

#include <linux/kvm_host.h>

bool persona_vm_ioctl_claims(unsigned int ioctl);
long persona_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
		      void __user *argp);
bool persona_vcpu_ioctl_claims(unsigned int ioctl);
long persona_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp);

#endif /* _PERSONA_XEN_UAPI_H */
