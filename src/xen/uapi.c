// SPDX-License-Identifier: GPL-2.0
/*
 * The upstream KVM Xen userspace ABI: KVM_CAP_XEN_HVM, KVM_XEN_HVM_CONFIG
 * and the VM/vCPU attribute ioctls, with upstream's semantics and errors.
 */
#include <linux/kvm_host.h>
#include <linux/sched/stat.h>
#include <linux/uaccess.h>

#include "domain.h"
#include "evtchn.h"
#include "interdomain.h"
#include "shinfo.h"
#include "timer.h"
#include "uapi.h"
#include "vcpu.h"
#include "vm.h"
#include "xen.h"
#include "xen-abi.h"

int persona_xen_caps(void)
{
	int caps = PERSONA_XEN_CAPS;

	/* Steal time comes from the scheduler's run_delay. */
	if (sched_info_on())
		caps |= KVM_XEN_HVM_CONFIG_RUNSTATE |
			KVM_XEN_HVM_CONFIG_RUNSTATE_UPDATE_FLAG;
	return caps;
}

/*
 * Members 6.12's <linux/kvm.h> added to struct kvm_xen_hvm_attr's union,
 * reached through the 6.1 member at the same place, so that one source
 * builds against either tree.
 */
static_assert(sizeof_field(struct kvm_xen_hvm_attr, u.shared_info.gfn) ==
	      sizeof(u64));

static u8 persona_attr_runstate_update_flag(const struct kvm_xen_hvm_attr *data)
{
	return data->u.long_mode;
}

static void persona_attr_set_runstate_update_flag(struct kvm_xen_hvm_attr *data,
						  u8 flag)
{
	data->u.long_mode = flag;
}

static unsigned long persona_attr_shinfo_hva(const struct kvm_xen_hvm_attr *data)
{
	return data->u.shared_info.gfn;
}

static void persona_attr_set_shinfo_hva(struct kvm_xen_hvm_attr *data,
					unsigned long hva)
{
	data->u.shared_info.gfn = hva;
}

bool persona_vm_ioctl_claims(unsigned int ioctl)
{
	switch (ioctl) {
	case KVM_XEN_HVM_CONFIG:
	case KVM_XEN_HVM_GET_ATTR:
	case KVM_XEN_HVM_SET_ATTR:
	case KVM_XEN_HVM_EVTCHN_SEND:
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
	struct persona_xen_vm *pvm;

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

	pvm = persona_xen_vm_of(kvm);
	if (!pvm) {
		/* Disabling what was never enabled needs no state. */
		if (!xhc->msr && !xhc->flags)
			return 0;
		pvm = persona_vm_get_or_create(kvm);
		if (IS_ERR(pvm))
			return PTR_ERR(pvm);
	}

	mutex_lock(&pvm->lock);
	/* Every Xen pvclock must be written again with or without the bit. */
	if ((pvm->flags ^ xhc->flags) & KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE)
		kvm_make_all_cpus_request(kvm, KVM_REQ_CLOCK_UPDATE);
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
	struct persona_xen_vm *pvm;
	LIST_HEAD(doomed);
	int r = 0;

	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
	case KVM_XEN_ATTR_TYPE_SHARED_INFO:
	case KVM_XEN_ATTR_TYPE_EVTCHN:
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		break;
	case KVM_XEN_ATTR_TYPE_UPCALL_VECTOR:
		if (data->u.vector && data->u.vector < 0x10)
			return -EINVAL;
		break;
	case KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA:
		if (!PAGE_ALIGNED(persona_attr_shinfo_hva(data)))
			return -EINVAL;
		break;
	case KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		break;
	case KVM_XEN_ATTR_TYPE_PERSONA_DOMID:
		pvm = persona_vm_get_or_create(kvm);
		if (IS_ERR(pvm))
			return PTR_ERR(pvm);
		return persona_domain_set_id(pvm, data->u.pad[0]);
	default:
		return -ENOENT;
	}

	pvm = persona_vm_get_or_create(kvm);
	if (IS_ERR(pvm))
		return PTR_ERR(pvm);

	mutex_lock(&pvm->lock);
	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
		r = persona_shinfo_set_long_mode(pvm, !!data->u.long_mode);
		break;
	case KVM_XEN_ATTR_TYPE_SHARED_INFO:
		r = persona_shinfo_set(pvm, data->u.shared_info.gfn, false);
		break;
	case KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA:
		r = persona_shinfo_set(pvm, persona_attr_shinfo_hva(data), true);
		break;
	case KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG:
		WRITE_ONCE(pvm->runstate_update_flag,
			   !!persona_attr_runstate_update_flag(data));
		break;
	case KVM_XEN_ATTR_TYPE_UPCALL_VECTOR:
		WRITE_ONCE(pvm->upcall_vector, data->u.vector);
		break;
	case KVM_XEN_ATTR_TYPE_EVTCHN:
		r = persona_evtchn_attr_set(pvm, data, &doomed);
		break;
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		WRITE_ONCE(pvm->xen_version, data->u.xen_version);
		break;
	}
	mutex_unlock(&pvm->lock);
	/* Outside pvm->lock: see persona_evtchn_deassign(). */
	persona_evtchn_free_doomed(pvm, &doomed);
	/* A VMM's reset of all ports closes the interdomain ones too. */
	if (!r && data->type == KVM_XEN_ATTR_TYPE_EVTCHN &&
	    data->u.evtchn.flags == KVM_XEN_EVTCHN_RESET)
		persona_idc_reset(pvm);
	return r;
}

/* A VM that never enabled Xen reads back upstream's defaults. */
static int persona_xen_hvm_get_attr(struct kvm *kvm,
				    struct kvm_xen_hvm_attr *data)
{
	struct persona_xen_vm *pvm = persona_xen_vm_of(kvm);

	switch (data->type) {
	case KVM_XEN_ATTR_TYPE_LONG_MODE:
		data->u.long_mode = pvm ? persona_xen_long_mode(pvm) : 0;
		return 0;
	case KVM_XEN_ATTR_TYPE_SHARED_INFO:
		if (!pvm) {
			data->u.shared_info.gfn = PERSONA_XEN_INVALID_GFN;
			return 0;
		}
		mutex_lock(&pvm->lock);
		data->u.shared_info.gfn = persona_shinfo_gfn(pvm);
		mutex_unlock(&pvm->lock);
		return 0;
	case KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA:
		if (!pvm) {
			persona_attr_set_shinfo_hva(data, 0);
			return 0;
		}
		mutex_lock(&pvm->lock);
		persona_attr_set_shinfo_hva(data, persona_shinfo_hva(pvm));
		mutex_unlock(&pvm->lock);
		return 0;
	case KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		persona_attr_set_runstate_update_flag(data, pvm ?
			READ_ONCE(pvm->runstate_update_flag) : 0);
		return 0;
	case KVM_XEN_ATTR_TYPE_UPCALL_VECTOR:
		data->u.vector = pvm ? READ_ONCE(pvm->upcall_vector) : 0;
		return 0;
	case KVM_XEN_ATTR_TYPE_XEN_VERSION:
		data->u.xen_version = pvm ? READ_ONCE(pvm->xen_version) : 0;
		return 0;
	case KVM_XEN_ATTR_TYPE_PERSONA_DOMID:
		/* A VM gets its ID with its Xen state. */
		data->u.pad[0] = pvm ? persona_domain_id(pvm) : 0;
		return 0;
	}
	return -ENOENT;
}

static int persona_xen_hvm_evtchn_send(struct kvm *kvm,
				       const struct kvm_irq_routing_xen_evtchn *uxe)
{
	struct persona_xen_vm *pvm = persona_xen_vm_of(kvm);

	/* Without shared_info there is nowhere to deliver to. */
	if (!pvm)
		return -EINVAL;
	return persona_evtchn_send_ioctl(pvm, uxe);
}

long persona_vm_ioctl(struct kvm *kvm, unsigned int ioctl, void __user *argp)
{
	struct kvm_irq_routing_xen_evtchn uxe;
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
	case KVM_XEN_HVM_EVTCHN_SEND:
		if (copy_from_user(&uxe, argp, sizeof(uxe)))
			return -EFAULT;
		return persona_xen_hvm_evtchn_send(kvm, &uxe);
	}
	return -ENOTTY;
}

/* The timer attribute; caller holds pvm->lock. */
static int persona_vcpu_timer_attr(struct persona_xen_vm *pvm,
				   struct kvm_vcpu *vcpu, unsigned int ioctl,
				   struct kvm_xen_vcpu_attr *xva)
{
	int idx, r;

	lockdep_assert_held(&pvm->lock);
	if (ioctl == KVM_XEN_VCPU_GET_ATTR) {
		persona_timer_attr_get(pvm, vcpu, xva);
		return 0;
	}
	/* Setting an expired timer delivers its event at once. */
	idx = srcu_read_lock(&vcpu->kvm->srcu);
	r = persona_timer_attr_set(pvm, vcpu, xva);
	srcu_read_unlock(&vcpu->kvm->srcu, idx);
	return r;
}

long persona_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned int ioctl,
			void __user *argp)
{
	struct kvm_xen_vcpu_attr xva;
	struct persona_xen_vm *pvm;
	long r;

	if (copy_from_user(&xva, argp, sizeof(xva)))
		return -EFAULT;

	/* Reading a VM that never enabled Xen must not enable it. */
	pvm = persona_xen_vm_of(vcpu->kvm);
	if (!pvm && ioctl == KVM_XEN_VCPU_GET_ATTR) {
		r = persona_vcpu_attr_get_fresh(vcpu, &xva);
		if (!r && copy_to_user(argp, &xva, sizeof(xva)))
			r = -EFAULT;
		return r;
	}

	pvm = persona_vm_get_or_create(vcpu->kvm);
	if (IS_ERR(pvm))
		return PTR_ERR(pvm);

	mutex_lock(&pvm->lock);
	/* The first touch of the vCPU's Xen state makes it. */
	if (!persona_vcpu_xen(pvm, vcpu))
		r = -ENOMEM;
	else if (xva.type == KVM_XEN_VCPU_ATTR_TYPE_TIMER)
		r = persona_vcpu_timer_attr(pvm, vcpu, ioctl, &xva);
	else if (ioctl == KVM_XEN_VCPU_SET_ATTR)
		r = persona_vcpu_attr_set(pvm, vcpu, &xva);
	else
		r = persona_vcpu_attr_get(pvm, vcpu, &xva);
	mutex_unlock(&pvm->lock);

	if (!r && ioctl == KVM_XEN_VCPU_GET_ATTR &&
	    copy_to_user(argp, &xva, sizeof(xva)))
		r = -EFAULT;
	return r;
}
