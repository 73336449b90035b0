// SPDX-License-Identifier: GPL-2.0
/*
 * The upstream KVM Xen userspace ABI: KVM_CAP_XEN_HVM, KVM_XEN_HVM_CONFIG
 * and the VM/vCPU attribute ioctls, with upstream's semantics and errors.
 */
#include <linux/kvm_host.h>
#include <linux/uaccess.h>

#include "persona.h"

int persona_xen_caps(void)
{
	return PERSONA_XEN_CAPS;
}

bool persona_vm_ioctl_claims(unsigned int ioctl)
{
	switch (ioctl) {
	case KVM_XEN_HVM_CONFIG:
	case KVM_XEN_HVM_GET_ATTR:
	case KVM_XEN_HVM_SET_ATTR:
		return true;
	}
	return false;
}

bool persona_vcpu_ioctl_claims(unsigned int ioctl)
{
	switch (ioctl) {
	case KVM_XEN_VCPU_GET_ATTR:
	case KVM_XEN_VCPU_SET_ATTR:
		return true;
	}
	return false;
}

static int persona_xen_hvm_config(struct kvm *kvm,
				  const struct kvm_xen_hvm_config *xhc)
{
	struct persona_vm *pvm;

	if (xhc->flags & ~PERSONA_XEN_CONFIG_FLAGS)
		return -EINVAL;

	/* With interception the kernel writes the page: no blob allowed. */
	if ((xhc->flags & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) &&
	    (xhc->blob_addr_32 || xhc->blob_addr_64 ||
	     xhc->blob_size_32 || xhc->blob_size_64))
		return -EINVAL;

	if (xhc->msr &&
	    (xhc->msr < PERSONA_XEN_MSR_MIN || xhc->msr > PERSONA_XEN_MSR_MAX))
		return -EINVAL;

	pvm = persona_vm_find(kvm);
	if (!pvm) {
		/* Disabling what was never enabled needs no state. */
		if (!xhc->msr && !xhc->flags)
			return 0;
		pvm = persona_vm_get_or_create(kvm);
		if (IS_ERR(pvm))
			return PTR_ERR(pvm);
	}

	mutex_lock(&pvm->lock);
	WRITE_ONCE(pvm->blob_addr_32, xhc->blob_addr_32);
	WRITE_ONCE(pvm->blob_addr_64, xhc->blob_addr_64);
	WRITE_ONCE(pvm->blob_size_32, xhc->blob_size_32);
	WRITE_ONCE(pvm->blob_size_64, xhc->blob_size_64);
	WRITE_ONCE(pvm->flags, xhc->flags);
	WRITE_ONCE(pvm->msr, xhc->msr);
	mutex_unlock(&pvm->lock);
	return 0;
}

static int persona_xen_hvm_set_attr(struct kvm *kvm,
				    const struct kvm_xen_hvm_attr *data)
{
	struct persona_vm *pvm;

	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		break;
	default:
		return -ENOENT;
	}

	pvm = persona_vm_get_or_create(kvm);
	if (IS_ERR(pvm))
		return PTR_ERR(pvm);

	mutex_lock(&pvm->lock);
	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
		WRITE_ONCE(pvm->long_mode, !!data->u.long_mode);
		break;
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		WRITE_ONCE(pvm->xen_version, data->u.xen_version);
		break;
	}
	mutex_unlock(&pvm->lock);
	return 0;
}

/* A VM that never enabled Xen reads back upstream's defaults. */
static int persona_xen_hvm_get_attr(struct kvm *kvm,
				    struct kvm_xen_hvm_attr *data)
{
	struct persona_vm *pvm = persona_vm_find(kvm);

	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
		data->u.long_mode = pvm ? READ_ONCE(pvm->long_mode) : 0;
		return 0;
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		data->u.xen_version = pvm ? READ_ONCE(pvm->xen_version) : 0;
		return 0;
	}
	return -ENOENT;
}

long persona_vm_ioctl(struct kvm *kvm, unsigned int ioctl, void __user *argp)
{
	struct kvm_xen_hvm_config xhc;
	struct kvm_xen_hvm_attr xha;
	long r;

	switch (ioctl) {
	case KVM_XEN_HVM_CONFIG:
		if (copy_from_user(&xhc, argp, sizeof(xhc)))
			return -EFAULT;
		return persona_xen_hvm_config(kvm, &xhc);
	case KVM_XEN_HVM_SET_ATTR:
		if (copy_from_user(&xha, argp, sizeof(xha)))
			return -EFAULT;
		return persona_xen_hvm_set_attr(kvm, &xha);
	case KVM_XEN_HVM_GET_ATTR:
		if (copy_from_user(&xha, argp, sizeof(xha)))
			return -EFAULT;
		r = persona_xen_hvm_get_attr(kvm, &xha);
		if (!r && copy_to_user(argp, &xha, sizeof(xha)))
			r = -EFAULT;
		return r;
	}
	return -ENOTTY;
}

/* No vCPU attribute is implemented yet: upstream answers -ENOENT. */
long persona_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp)
{
	struct kvm_xen_vcpu_attr xva;

	switch (ioctl) {
	case KVM_XEN_VCPU_GET_ATTR:
	case KVM_XEN_VCPU_SET_ATTR:
		if (copy_from_user(&xva, argp, sizeof(xva)))
			return -EFAULT;
		return -ENOENT;
	}
	return -ENOTTY;
}
