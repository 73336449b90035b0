// SPDX-License-Identifier: GPL-2.0
/*
 * Xen event channels, 2-level ABI: pending and mask bitmaps in shared_info,
 * the per-vCPU selector and evtchn_upcall_pending in vcpu_info.
 *
 * Sources: KVM_XEN_HVM_EVTCHN_SEND, irqfds routed with
 * KVM_IRQ_ROUTING_XEN_EVTCHN, guest EVTCHNOP_send on ports userspace
 * registered with KVM_XEN_ATTR_TYPE_EVTCHN, and the Xen timer.
 */
#include <linux/eventfd.h>
#include <linux/kthread.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <asm/apicdef.h>
#include <xen/interface/xen.h>
#include <xen/interface/event_channel.h>
#include <xen/interface/sched.h>

#include "persona.h"
#include "persona-xen.h"

/* Xen bounds SCHEDOP_poll to 128 ports (not in its public headers). */
#define XEN_SCHEDOP_POLL_MAX_PORTS	128

/* An outbound port registered with KVM_XEN_ATTR_TYPE_EVTCHN. */
struct persona_evtchnfd {
	u32 send_port;
	u32 type;
	/* Loopback delivery when port.port != 0, else the eventfd. */
	struct kvm_xen_evtchn port;
	struct eventfd_ctx *eventfd;
};

unsigned int persona_evtchn_max_port(struct persona_vm *pvm)
{
	return persona_xen_long_mode(pvm) ? PERSONA_EVTCHN_2L_PORTS_64 :
					    PERSONA_EVTCHN_2L_PORTS_32;
}

static struct kvm_vcpu *persona_evtchn_vcpu(struct kvm *kvm,
					    struct kvm_xen_evtchn *xe)
{
	struct kvm_vcpu *vcpu;
	int idx = READ_ONCE(xe->vcpu_idx);

	if (idx >= 0)
		return kvm_get_vcpu(kvm, idx);

	/* Remember the index: looking up by ID walks every vCPU. */
	vcpu = kvm_get_vcpu_by_id(kvm, xe->vcpu_id);
	if (vcpu)
		WRITE_ONCE(xe->vcpu_idx, vcpu->vcpu_idx);
	return vcpu;
}

/* Wake @vcpu if it is in SCHEDOP_poll on @port (or on several ports). */
static void persona_evtchn_wake_poller(struct persona_vm *pvm,
				       struct kvm_vcpu *vcpu, int port)
{
	int poll = READ_ONCE(persona_kvm_vcpu_xen(vcpu)->poll_evtchn);

	if ((poll == port || poll == -1) &&
	    test_and_clear_bit(vcpu->vcpu_idx, pvm->poll_mask)) {
		kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
		kvm_vcpu_kick(vcpu);
	}
}

/* HVMOP_set_evtchn_upcall_vector: an ordinary fixed LAPIC interrupt. */
static void persona_evtchn_inject_vector(struct kvm_vcpu *vcpu, u8 vector)
{
	struct kvm_lapic_irq irq = {
		.vector = vector,
		.delivery_mode = APIC_DM_FIXED,
		.dest_mode = APIC_DEST_PHYSICAL,
		.dest_id = vcpu->vcpu_id,
		.level = 1,
	};

	if (persona_kvm_lapic_in_kernel(vcpu))
		persona_kvm_apic_set_irq(vcpu, &irq);
}

/* evtchn_upcall_pending went 0 -> 1: get the guest's attention. */
static void persona_evtchn_notify(struct kvm_vcpu *vcpu)
{
	u8 vector = READ_ONCE(persona_kvm_vcpu_xen(vcpu)->upcall_vector);

	if (vector) {
		persona_evtchn_inject_vector(vcpu, vector);
		return;
	}
	/* The VM-wide vector is looked at when kvm.ko evaluates events. */
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
	kvm_vcpu_kick(vcpu);
}

/* Set the selector bit in vcpu_info; true if it was clear. */
static bool persona_evtchn_set_sel(struct persona_vm *pvm, void *vcpu_info,
				   unsigned int word)
{
	if (persona_xen_long_mode(pvm)) {
		struct vcpu_info *vi = vcpu_info;

		if (test_and_set_bit(word, &vi->evtchn_pending_sel))
			return false;
		WRITE_ONCE(vi->evtchn_upcall_pending, 1);
	} else {
		struct persona_compat_vcpu_info *vi = vcpu_info;

		if (test_and_set_bit(word,
				     (unsigned long *)&vi->evtchn_pending_sel))
			return false;
		WRITE_ONCE(vi->evtchn_upcall_pending, 1);
	}
	return true;
}

/*
 * Raise @xe without sleeping.  Returns 1 if delivered, 0 if it was
 * already pending, -ENOTCONN if masked, -EINVAL for a bad target, or
 * -EWOULDBLOCK if shared_info is not mapped and the caller must retry
 * from a context that can map it.
 */
int persona_evtchn_set_fast(struct persona_vm *pvm, struct kvm_xen_evtchn *xe)
{
	struct gfn_to_pfn_cache *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	unsigned long *pending, *mask;
	struct kvm_vcpu_xen *vx;
	struct kvm_vcpu *vcpu;
	bool notify = false;
	unsigned long flags;
	unsigned int word;
	int idx, rc;

	vcpu = persona_evtchn_vcpu(kvm, xe);
	if (!vcpu || !persona_vcpu_xen_ready(pvm, vcpu))
		return -EINVAL;
	vx = persona_kvm_vcpu_xen(vcpu);
	if (!vx->vcpu_info_cache.active)
		return -EINVAL;
	if (xe->port >= persona_evtchn_max_port(pvm))
		return -EINVAL;

	idx = srcu_read_lock(&kvm->srcu);
	read_lock_irqsave(&gpc->lock, flags);
	if (!kvm_gfn_to_pfn_cache_check(kvm, gpc, gpc->gpa, PAGE_SIZE)) {
		rc = -EWOULDBLOCK;
		goto out;
	}

	if (persona_xen_long_mode(pvm)) {
		struct shared_info *shinfo = gpc->khva;

		pending = (unsigned long *)shinfo->evtchn_pending;
		mask = (unsigned long *)shinfo->evtchn_mask;
		word = xe->port / 64;
	} else {
		struct persona_compat_shared_info *shinfo = gpc->khva;

		pending = (unsigned long *)shinfo->evtchn_pending;
		mask = (unsigned long *)shinfo->evtchn_mask;
		word = xe->port / 32;
	}

	if (test_and_set_bit(xe->port, pending)) {
		rc = 0;
		goto out;
	}
	if (test_bit(xe->port, mask)) {
		/* Masked: stays pending, but a poller on it wakes up. */
		rc = -ENOTCONN;
		persona_evtchn_wake_poller(pvm, vcpu, xe->port);
		goto out;
	}

	rc = 1;
	read_unlock_irqrestore(&gpc->lock, flags);
	gpc = &vx->vcpu_info_cache;
	read_lock_irqsave(&gpc->lock, flags);
	if (kvm_gfn_to_pfn_cache_check(kvm, gpc, gpc->gpa,
				       sizeof(struct vcpu_info))) {
		notify = persona_evtchn_set_sel(pvm, gpc->khva, word);
	} else if (!test_and_set_bit(word, &vx->evtchn_pending_sel)) {
		/* vcpu_info unmapped: the vCPU sets the selector itself. */
		kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
		kvm_vcpu_kick(vcpu);
	}
	persona_evtchn_wake_poller(pvm, vcpu, xe->port);
out:
	read_unlock_irqrestore(&gpc->lock, flags);
	srcu_read_unlock(&kvm->srcu, idx);
	if (notify)
		persona_evtchn_notify(vcpu);
	return rc;
}

/*
 * Raise @xe, mapping shared_info if needed.  Process context only: the
 * vCPU's thread, the VMM's ioctl, or the irqfd worker (which has no mm and
 * borrows the VM's).
 */
int persona_evtchn_set(struct persona_vm *pvm, struct kvm_xen_evtchn *xe)
{
	struct gfn_to_pfn_cache *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	bool borrowed = false;
	int idx, rc;

	rc = persona_evtchn_set_fast(pvm, xe);
	if (rc != -EWOULDBLOCK)
		return rc;

	if (current->mm != kvm->mm) {
		if (current->mm)
			return -EINVAL;
		kthread_use_mm(kvm->mm);
		borrowed = true;
	}

	mutex_lock(&pvm->evtchn_lock);
	for (;;) {
		rc = persona_evtchn_set_fast(pvm, xe);
		if (rc != -EWOULDBLOCK)
			break;
		idx = srcu_read_lock(&kvm->srcu);
		rc = kvm_gfn_to_pfn_cache_refresh(kvm, gpc, gpc->gpa,
						  PAGE_SIZE);
		srcu_read_unlock(&kvm->srcu, idx);
		if (rc)
			break;
	}
	mutex_unlock(&pvm->evtchn_lock);

	if (borrowed)
		kthread_unuse_mm(kvm->mm);
	return rc;
}

bool persona_evtchn_has_deferred(struct persona_vm *pvm,
				 struct kvm_vcpu *vcpu)
{
	return READ_ONCE(persona_kvm_vcpu_xen(vcpu)->evtchn_pending_sel);
}

/*
 * From the vCPU's run loop: move selector bits that could not be written
 * while vcpu_info was unmapped into the guest's vcpu_info.
 */
void persona_evtchn_inject_deferred(struct persona_vm *pvm,
				    struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_xen *vx = persona_kvm_vcpu_xen(vcpu);
	struct gfn_to_pfn_cache *gpc = &vx->vcpu_info_cache;
	struct kvm *kvm = vcpu->kvm;
	unsigned long sel, flags;
	int idx;

	sel = READ_ONCE(vx->evtchn_pending_sel);
	if (!sel)
		return;

	idx = srcu_read_lock(&kvm->srcu);
	read_lock_irqsave(&gpc->lock, flags);
	while (!kvm_gfn_to_pfn_cache_check(kvm, gpc, gpc->gpa,
					   sizeof(struct vcpu_info))) {
		read_unlock_irqrestore(&gpc->lock, flags);
		if (kvm_gfn_to_pfn_cache_refresh(kvm, gpc, gpc->gpa,
						 sizeof(struct vcpu_info))) {
			srcu_read_unlock(&kvm->srcu, idx);
			return;
		}
		read_lock_irqsave(&gpc->lock, flags);
	}

	if (persona_xen_long_mode(pvm)) {
		struct vcpu_info *vi = gpc->khva;

		atomic_long_or(sel, (atomic_long_t *)&vi->evtchn_pending_sel);
		WRITE_ONCE(vi->evtchn_upcall_pending, 1);
	} else {
		struct persona_compat_vcpu_info *vi = gpc->khva;

		atomic_or((u32)sel, (atomic_t *)&vi->evtchn_pending_sel);
		WRITE_ONCE(vi->evtchn_upcall_pending, 1);
	}
	atomic_long_andnot(sel, (atomic_long_t *)&vx->evtchn_pending_sel);
	read_unlock_irqrestore(&gpc->lock, flags);
	srcu_read_unlock(&kvm->srcu, idx);

	persona_evtchn_notify(vcpu);
}

/* KVM_XEN_HVM_EVTCHN_SEND. */
int persona_evtchn_send_ioctl(struct persona_vm *pvm,
			      const struct kvm_irq_routing_xen_evtchn *uxe)
{
	struct kvm_xen_evtchn e;
	int r;

	if (!uxe->port || uxe->port >= persona_evtchn_max_port(pvm))
		return -EINVAL;
	/* FIFO event channels are not implemented. */
	if (uxe->priority != KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
		return -EINVAL;

	e.port = uxe->port;
	e.vcpu_id = uxe->vcpu;
	e.vcpu_idx = -1;
	e.priority = uxe->priority;

	r = persona_evtchn_set(pvm, &e);
	/* Delivered, already pending or masked: all fine for the sender. */
	if (r >= 0 || r == -ENOTCONN)
		return 0;
	return r;
}

/* Routing type 5: kvm_set_irq() on the GSI raises the port. */
static int persona_evtchn_set_fn(struct kvm_kernel_irq_routing_entry *e,
				 struct kvm *kvm, int irq_source_id, int level,
				 bool line_status)
{
	struct persona_vm *pvm = persona_vm_of(kvm);

	if (!level || !pvm)
		return -EINVAL;
	return persona_evtchn_set(pvm, &e->xen_evtchn);
}

/*
 * KVM_SET_GSI_ROUTING with KVM_IRQ_ROUTING_XEN_EVTCHN.  The port is not
 * range-checked here: the routing table may be restored before the
 * guest's word size is, so a bad target simply fails at delivery time,
 * as an MSI to a missing APIC would.
 */
int persona_evtchn_setup_route(struct kvm *kvm,
			       struct kvm_kernel_irq_routing_entry *e,
			       const struct kvm_irq_routing_entry *ue)
{
	struct persona_vm *pvm;
	struct kvm_vcpu *vcpu;

	if (ue->u.xen_evtchn.priority != KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
		return -EINVAL;

	/* The route's callback is ours: the VM now pins the module. */
	pvm = persona_vm_get_or_create(kvm);
	if (IS_ERR(pvm))
		return PTR_ERR(pvm);

	vcpu = kvm_get_vcpu_by_id(kvm, ue->u.xen_evtchn.vcpu);
	e->xen_evtchn.vcpu_idx = vcpu ? vcpu->vcpu_idx : -1;
	e->xen_evtchn.port = ue->u.xen_evtchn.port;
	e->xen_evtchn.vcpu_id = ue->u.xen_evtchn.vcpu;
	e->xen_evtchn.priority = ue->u.xen_evtchn.priority;
	e->set = persona_evtchn_set_fn;
	return 0;
}

static void persona_evtchnfd_free(struct persona_evtchnfd *fd)
{
	if (fd->eventfd)
		eventfd_ctx_put(fd->eventfd);
	kfree(fd);
}

static int persona_evtchn_assign(struct persona_vm *pvm,
				 const struct kvm_xen_hvm_attr *data)
{
	unsigned int max = persona_evtchn_max_port(pvm);
	u32 port = data->u.evtchn.send_port;
	struct persona_evtchnfd *fd;
	int r;

	fd = kzalloc(sizeof(*fd), GFP_KERNEL_ACCOUNT);
	if (!fd)
		return -ENOMEM;
	fd->send_port = port;
	fd->type = data->u.evtchn.type;

	r = -EINVAL;
	switch (data->u.evtchn.type) {
	case EVTCHNSTAT_ipi:
		/* An IPI comes back on the port it was sent on. */
		if (data->u.evtchn.deliver.port.port != port)
			goto fail;
		break;
	case EVTCHNSTAT_interdomain:
		if (data->u.evtchn.deliver.port.port) {
			if (data->u.evtchn.deliver.port.port >= max)
				goto fail;
			break;
		}
		fd->eventfd =
			eventfd_ctx_fdget(data->u.evtchn.deliver.eventfd.fd);
		if (IS_ERR(fd->eventfd)) {
			r = PTR_ERR(fd->eventfd);
			fd->eventfd = NULL;
			goto fail;
		}
		break;
	default:
		goto fail;
	}

	if (!fd->eventfd) {
		if (data->u.evtchn.deliver.port.priority !=
		    KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
			goto fail;
		fd->port.port = data->u.evtchn.deliver.port.port;
		fd->port.vcpu_id = data->u.evtchn.deliver.port.vcpu;
		fd->port.vcpu_idx = -1;
		fd->port.priority = data->u.evtchn.deliver.port.priority;
	}

	r = xa_insert(&pvm->evtchn_ports, port, fd, GFP_KERNEL_ACCOUNT);
	if (!r)
		return 0;
	if (r == -EBUSY)
		r = -EEXIST;
fail:
	persona_evtchnfd_free(fd);
	return r;
}

/* Only the target vCPU and priority of a loopback port may change. */
static int persona_evtchn_update(struct persona_vm *pvm,
				 const struct kvm_xen_hvm_attr *data)
{
	struct persona_evtchnfd *fd;

	fd = xa_load(&pvm->evtchn_ports, data->u.evtchn.send_port);
	if (!fd)
		return -ENOENT;
	if (fd->type != data->u.evtchn.type || !fd->port.port ||
	    fd->port.port != data->u.evtchn.deliver.port.port)
		return -EINVAL;
	if (data->u.evtchn.deliver.port.priority !=
	    KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
		return -EINVAL;

	WRITE_ONCE(fd->port.priority, data->u.evtchn.deliver.port.priority);
	if (fd->port.vcpu_id != data->u.evtchn.deliver.port.vcpu) {
		WRITE_ONCE(fd->port.vcpu_id, data->u.evtchn.deliver.port.vcpu);
		WRITE_ONCE(fd->port.vcpu_idx, -1);
	}
	return 0;
}

/* Hypercalls read the table under kvm->srcu. */
static int persona_evtchn_deassign(struct persona_vm *pvm, u32 port)
{
	struct persona_evtchnfd *fd = xa_erase(&pvm->evtchn_ports, port);

	if (!fd)
		return -ENOENT;
	synchronize_srcu(&pvm->kvm->srcu);
	persona_evtchnfd_free(fd);
	return 0;
}

static int persona_evtchn_reset(struct persona_vm *pvm)
{
	struct persona_evtchnfd *fd;
	struct xarray doomed;
	unsigned long port;

	/* Move everything aside, wait out readers once, then free. */
	xa_init(&doomed);
	xa_for_each(&pvm->evtchn_ports, port, fd) {
		xa_erase(&pvm->evtchn_ports, port);
		if (xa_insert(&doomed, port, fd, GFP_KERNEL_ACCOUNT)) {
			synchronize_srcu(&pvm->kvm->srcu);
			persona_evtchnfd_free(fd);
		}
	}
	synchronize_srcu(&pvm->kvm->srcu);
	xa_for_each(&doomed, port, fd)
		persona_evtchnfd_free(fd);
	xa_destroy(&doomed);
	return 0;
}

/* KVM_XEN_ATTR_TYPE_EVTCHN; caller holds pvm->lock. */
int persona_evtchn_attr_set(struct persona_vm *pvm,
			    const struct kvm_xen_hvm_attr *data)
{
	u32 port = data->u.evtchn.send_port;

	if (data->u.evtchn.flags == KVM_XEN_EVTCHN_RESET)
		return persona_evtchn_reset(pvm);

	if (!port || port >= persona_evtchn_max_port(pvm))
		return -EINVAL;

	switch (data->u.evtchn.flags) {
	case KVM_XEN_EVTCHN_DEASSIGN:
		return persona_evtchn_deassign(pvm, port);
	case KVM_XEN_EVTCHN_UPDATE:
		return persona_evtchn_update(pvm, data);
	case 0:
		return persona_evtchn_assign(pvm, data);
	}
	return -EINVAL;
}

/* VM teardown: no vCPU can make a hypercall any more. */
void persona_evtchn_ports_free(struct persona_vm *pvm)
{
	struct persona_evtchnfd *fd;
	unsigned long port;

	xa_for_each(&pvm->evtchn_ports, port, fd)
		persona_evtchnfd_free(fd);
	xa_destroy(&pvm->evtchn_ports);
}

/*
 * EVTCHNOP_send.  Ports userspace registered are handled here; any other
 * port is the VMM's (the hypercall exits).
 */
bool persona_hcall_evtchn_send(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			       u64 param, u64 *r)
{
	struct persona_evtchnfd *fd;
	struct evtchn_send send;
	int ret;

	if (persona_read_guest_virt(vcpu, param, &send, sizeof(send))) {
		*r = -XEN_EFAULT;
		return true;
	}

	/* The entry stays valid while we hold kvm->srcu (vCPU context). */
	fd = xa_load(&pvm->evtchn_ports, send.port);
	if (!fd)
		return false;

	if (fd->eventfd) {
		eventfd_signal(fd->eventfd, 1);
	} else {
		ret = persona_evtchn_set(pvm, &fd->port);
		if (ret < 0 && ret != -ENOTCONN)
			return false;
	}
	*r = 0;
	return true;
}

/* Is any of @ports pending?  True as well if shared_info is unusable. */
static bool persona_evtchn_any_pending(struct persona_vm *pvm,
				       const evtchn_port_t *ports,
				       unsigned int nr)
{
	struct gfn_to_pfn_cache *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	unsigned long *pending;
	unsigned long flags;
	bool ret = true;
	unsigned int i;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	read_lock_irqsave(&gpc->lock, flags);
	if (!kvm_gfn_to_pfn_cache_check(kvm, gpc, gpc->gpa, PAGE_SIZE))
		goto out;

	if (persona_xen_long_mode(pvm))
		pending = (unsigned long *)
			((struct shared_info *)gpc->khva)->evtchn_pending;
	else
		pending = (unsigned long *)
			((struct persona_compat_shared_info *)gpc->khva)->evtchn_pending;

	ret = false;
	for (i = 0; i < nr; i++) {
		if (test_bit(ports[i], pending)) {
			ret = true;
			break;
		}
	}
out:
	read_unlock_irqrestore(&gpc->lock, flags);
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

void persona_poll_timer_fn(struct timer_list *t)
{
	struct kvm_vcpu_xen *vx = from_timer(vx, t, poll_timer);
	struct kvm_vcpu_arch *arch = container_of(vx, struct kvm_vcpu_arch,
						  xen);
	struct kvm_vcpu *vcpu = container_of(arch, struct kvm_vcpu, arch);

	kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
	kvm_vcpu_kick(vcpu);
}

static void persona_poll_block(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			       u64 timeout)
{
	struct kvm_vcpu_xen *vx = persona_kvm_vcpu_xen(vcpu);

	persona_kvm_set_mp_state(vcpu, KVM_MP_STATE_HALTED);
	if (timeout)
		mod_timer(&vx->poll_timer,
			  jiffies + nsecs_to_jiffies(timeout));
	/* Like kvm.ko's own HLT path, do not block memslot updates. */
	kvm_vcpu_srcu_read_unlock(vcpu);
	kvm_vcpu_halt(vcpu);
	kvm_vcpu_srcu_read_lock(vcpu);
	if (timeout)
		del_timer(&vx->poll_timer);
	persona_kvm_set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE);
}

/*
 * SCHEDOP_poll: block until one of the ports is pending, or the timeout
 * (nanoseconds from now, as upstream KVM reads it) passes.  Needs an
 * in-kernel LAPIC and userspace's EVTCHN_SEND opt-in; otherwise upstream
 * treats it as a yield, and so do we.
 */
static bool persona_schedop_poll(struct persona_vm *pvm,
				 struct kvm_vcpu *vcpu, bool longmode,
				 u64 param, u64 *r)
{
	struct kvm_vcpu_xen *vx = persona_kvm_vcpu_xen(vcpu);
	unsigned int max = persona_evtchn_max_port(pvm);
	struct sched_poll poll;
	evtchn_port_t one, *ports;
	unsigned int i;

	if (!longmode || !persona_kvm_lapic_in_kernel(vcpu) ||
	    !(READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_EVTCHN_SEND))
		return false;

	if (persona_read_guest_virt(vcpu, param, &poll, sizeof(poll))) {
		*r = -XEN_EFAULT;
		return true;
	}
	if (poll.nr_ports > XEN_SCHEDOP_POLL_MAX_PORTS) {
		*r = -XEN_EINVAL;
		return true;
	}

	ports = &one;
	if (poll.nr_ports > 1) {
		ports = kmalloc_array(poll.nr_ports, sizeof(*ports),
				      GFP_KERNEL_ACCOUNT);
		if (!ports) {
			*r = -XEN_ENOMEM;
			return true;
		}
	}

	if (persona_read_guest_virt(vcpu, (u64)(unsigned long)poll.ports,
				    ports, poll.nr_ports * sizeof(*ports))) {
		*r = -XEN_EFAULT;
		goto out;
	}
	for (i = 0; i < poll.nr_ports; i++) {
		if (ports[i] >= max) {
			*r = -XEN_EINVAL;
			goto out;
		}
	}

	WRITE_ONCE(vx->poll_evtchn, poll.nr_ports == 1 ? (int)one : -1);
	set_bit(vcpu->vcpu_idx, pvm->poll_mask);
	if (!persona_evtchn_any_pending(pvm, ports, poll.nr_ports))
		persona_poll_block(pvm, vcpu, poll.timeout);
	WRITE_ONCE(vx->poll_evtchn, 0);
	clear_bit(vcpu->vcpu_idx, pvm->poll_mask);
	*r = 0;
out:
	if (ports != &one)
		kfree(ports);
	return true;
}

bool persona_hcall_sched_op(struct persona_vm *pvm, struct kvm_vcpu *vcpu,
			    bool longmode, int cmd, u64 param, u64 *r)
{
	switch (cmd) {
	case SCHEDOP_poll:
		if (persona_schedop_poll(pvm, vcpu, longmode, param, r))
			return true;
		fallthrough;
	case SCHEDOP_yield:
		kvm_vcpu_on_spin(vcpu, true);
		*r = 0;
		return true;
	}
	return false;
}
