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
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <asm/apicdef.h>
#include <xen/interface/xen.h>
#include <xen/interface/event_channel.h>
#include <xen/interface/sched.h>

#include "../kvm/boundary.h"
#include "evtchn.h"
#include "shinfo.h"
#include "trace.h"
#include "xen.h"
#include "xen-abi.h"

/* Xen bounds SCHEDOP_poll to 128 ports (not in its public headers). */
#define XEN_SCHEDOP_POLL_MAX_PORTS	128

/* An outbound port registered with KVM_XEN_ATTR_TYPE_EVTCHN. */
struct persona_evtchnfd {
	/* On the caller's list between removal and the grace period. */
	struct list_head doomed;
	u32 send_port;
	u32 type;
	/* Loopback delivery when port.port != 0, else the eventfd. */
	struct kvm_xen_evtchn port;
	struct eventfd_ctx *eventfd;
};

/* Ports of the 2-level ABI in the layout of the given word size. */
static unsigned int persona_evtchn_nr_ports(bool lm)
{
	return lm ? PERSONA_EVTCHN_2L_PORTS_64 : PERSONA_EVTCHN_2L_PORTS_32;
}

unsigned int persona_evtchn_max_port(struct persona_xen_vm *pvm)
{
	return persona_evtchn_nr_ports(persona_xen_long_mode(pvm));
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
static void persona_evtchn_wake_poller(struct persona_xen_vm *pvm,
				       struct kvm_vcpu *vcpu, int port)
{
	int poll = READ_ONCE(persona_xen_vcpu(pvm, vcpu)->poll_evtchn);

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
static void persona_evtchn_notify(struct persona_xen_vcpu *vx)
{
	struct kvm_vcpu *vcpu = vx->vcpu;
	u8 vector = READ_ONCE(vx->upcall_vector);

	if (vector) {
		persona_evtchn_inject_vector(vcpu, vector);
		return;
	}
	/* The VM-wide vector is looked at when kvm.ko evaluates events. */
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
	kvm_vcpu_kick(vcpu);
}

/*
 * Atomically set bit @nr of a bitmap in guest memory; true if it was set
 * already.  The operation is on the one byte that holds the bit: the
 * guest picks where its vcpu_info lives, and an 8-byte locked operation on
 * a selector that straddles a cache line is a split lock (#AC in the host
 * kernel where split-lock detection is on).  A byte never straddles.
 */
static bool persona_guest_test_and_set_bit(void *bitmap, unsigned int nr)
{
	u8 *byte = (u8 *)bitmap + nr / BITS_PER_BYTE;
	u8 mask = BIT(nr % BITS_PER_BYTE);
	u8 old = READ_ONCE(*byte);

	do {
		if (old & mask)
			return true;
	} while (!try_cmpxchg(byte, &old, old | mask));
	return false;
}

/* Set every bit of @bits in the guest's selector at @sel. */
static void persona_guest_or_bits(void *sel, unsigned long bits)
{
	unsigned int nr;

	for_each_set_bit(nr, &bits, BITS_PER_LONG)
		persona_guest_test_and_set_bit(sel, nr);
}

/* The selector in @vcpu_info for the layout @lm. */
static void *persona_vcpu_info_sel(void *vcpu_info, bool lm)
{
	if (lm)
		return &((struct vcpu_info *)vcpu_info)->evtchn_pending_sel;
	return &((struct persona_compat_vcpu_info *)vcpu_info)->evtchn_pending_sel;
}

/*
 * Set selector bit @word in vcpu_info; true if it was clear.  @word is
 * below 64 for @lm and below 32 otherwise (the caller's port check, made
 * with the same @lm).  evtchn_upcall_pending is at offset 0 in both
 * layouts.
 */
static bool persona_evtchn_set_sel(void *vcpu_info, bool lm,
				   unsigned int word)
{
	if (persona_guest_test_and_set_bit(persona_vcpu_info_sel(vcpu_info, lm),
					   word))
		return false;
	WRITE_ONCE(((struct vcpu_info *)vcpu_info)->evtchn_upcall_pending, 1);
	return true;
}

/*
 * Raise @xe without sleeping.  Returns 1 if delivered, 0 if it was
 * already pending, -ENOTCONN if masked, -EINVAL for a bad target, or
 * -EWOULDBLOCK if shared_info is not mapped and the caller must retry
 * from a context that can map it.
 */
int persona_evtchn_set_fast(struct persona_xen_vm *pvm, struct kvm_xen_evtchn *xe)
{
	struct persona_gpc *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	unsigned long *pending, *mask;
	struct persona_xen_vcpu *vx;
	bool notify = false, kick = false, wake = false;
	struct kvm_vcpu *vcpu;
	unsigned long flags;
	unsigned int word;
	int idx, rc, path;
	/*
	 * Read once: the word size picks the port limit, the layout and the
	 * selector word, and the guest or the VMM may change it meanwhile.
	 */
	bool lm = persona_xen_long_mode(pvm);

	vcpu = persona_evtchn_vcpu(kvm, xe);
	if (!vcpu || !persona_vcpu_xen_ready(pvm, vcpu))
		return -EINVAL;
	vx = persona_xen_vcpu(pvm, vcpu);
	if (xe->port >= persona_evtchn_nr_ports(lm))
		return -EINVAL;

	idx = srcu_read_lock(&kvm->srcu);
	persona_gpc_lock(gpc, flags);
	if (!persona_gpc_check(kvm, gpc, PAGE_SIZE)) {
		rc = -EWOULDBLOCK;
		path = PERSONA_TRACE_EVTCHN_UNMAPPED;
		goto out;
	}

	if (lm) {
		struct shared_info *shinfo = persona_gpc_khva(gpc);

		pending = (unsigned long *)shinfo->evtchn_pending;
		mask = (unsigned long *)shinfo->evtchn_mask;
		word = xe->port / 64;
	} else {
		struct persona_compat_shared_info *shinfo = persona_gpc_khva(gpc);

		pending = (unsigned long *)shinfo->evtchn_pending;
		mask = (unsigned long *)shinfo->evtchn_mask;
		word = xe->port / 32;
	}

	if (test_and_set_bit(xe->port, pending)) {
		rc = 0;
		path = PERSONA_TRACE_EVTCHN_PENDING;
		goto out;
	}
	if (test_bit(xe->port, mask)) {
		/* Masked: stays pending, but a poller on it wakes up. */
		rc = -ENOTCONN;
		path = PERSONA_TRACE_EVTCHN_MASKED;
		wake = true;
		goto out;
	}

	rc = 1;
	path = PERSONA_TRACE_EVTCHN_FAST;
	persona_gpc_unlock(gpc, flags);
	gpc = &vx->vcpu_info_cache;
	persona_gpc_lock(gpc, flags);
	if (persona_gpc_check(kvm, gpc, sizeof(struct vcpu_info))) {
		notify = persona_evtchn_set_sel(persona_gpc_khva(gpc), lm, word);
	} else {
		/*
		 * vcpu_info unmapped, or not set up yet (upstream took the
		 * event this way from 6.7; 6.1 refused it): the vCPU sets
		 * the selector itself once it has a vcpu_info.
		 */
		path = PERSONA_TRACE_EVTCHN_DEFERRED;
		kick = !test_and_set_bit(word, &vx->evtchn_pending_sel);
	}
	wake = true;
out:
	persona_gpc_unlock(gpc, flags);
	srcu_read_unlock(&kvm->srcu, idx);
	trace_kvm_xen_evtchn_set(vcpu->vcpu_id, xe->port, path);
	/*
	 * Wake-ups take the scheduler's locks, so never under gpc->lock:
	 * Documentation/locking.rst.
	 */
	if (kick) {
		kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
		kvm_vcpu_kick(vcpu);
	}
	if (wake)
		persona_evtchn_wake_poller(pvm, vcpu, xe->port);
	if (notify)
		persona_evtchn_notify(vx);
	return rc;
}

/*
 * Raise @xe, mapping shared_info if needed.  Process context only: the
 * vCPU's thread, the VMM's ioctl, or the irqfd worker (which has no mm and
 * borrows the VM's, holding it alive: a VMM that died with its fds open
 * has no address space left to map from).
 */
int persona_evtchn_set(struct persona_xen_vm *pvm, struct kvm_xen_evtchn *xe)
{
	struct persona_gpc *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	bool borrowed = false;
	int idx, rc;

	rc = persona_evtchn_set_fast(pvm, xe);
	if (rc != -EWOULDBLOCK)
		return rc;

	if (current->mm != kvm->mm) {
		if (current->mm || !mmget_not_zero(kvm->mm))
			return -EINVAL;
		kthread_use_mm(kvm->mm);
		borrowed = true;
	}

	/*
	 * Under pvm->lock, as KVM_XEN_ATTR_TYPE_SHARED_INFO: a refresh of
	 * the address read before a concurrent change would map the old
	 * page again, and the VMM would read back the old gfn.
	 */
	mutex_lock(&pvm->lock);
	for (;;) {
		rc = persona_evtchn_set_fast(pvm, xe);
		if (rc != -EWOULDBLOCK)
			break;
		idx = srcu_read_lock(&kvm->srcu);
		rc = persona_gpc_refresh(kvm, gpc, PAGE_SIZE);
		srcu_read_unlock(&kvm->srcu, idx);
		if (rc)
			break;
	}
	mutex_unlock(&pvm->lock);

	if (borrowed) {
		kthread_unuse_mm(kvm->mm);
		mmput(kvm->mm);
	}
	return rc;
}

/*
 * Selector bits wait for the vCPU's run loop; without a vcpu_info they
 * wait for one, and must not keep the vCPU from blocking meanwhile.
 */
bool persona_evtchn_has_deferred(struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);

	return READ_ONCE(vx->evtchn_pending_sel) &&
	       persona_gpc_active(&vx->vcpu_info_cache);
}

/*
 * From the vCPU's run loop: move selector bits that could not be written
 * while vcpu_info was unmapped into the guest's vcpu_info.
 */
void persona_evtchn_inject_deferred(struct persona_xen_vm *pvm,
				    struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct persona_gpc *gpc = &vx->vcpu_info_cache;
	struct kvm *kvm = vcpu->kvm;
	unsigned long sel, flags;
	bool lm;
	int idx;

	sel = READ_ONCE(vx->evtchn_pending_sel);
	if (!sel)
		return;

	idx = srcu_read_lock(&kvm->srcu);
	persona_gpc_lock(gpc, flags);
	while (!persona_gpc_check(kvm, gpc, sizeof(struct vcpu_info))) {
		persona_gpc_unlock(gpc, flags);
		if (persona_gpc_refresh(kvm, gpc, sizeof(struct vcpu_info))) {
			srcu_read_unlock(&kvm->srcu, idx);
			return;
		}
		persona_gpc_lock(gpc, flags);
	}

	lm = persona_xen_long_mode(pvm);
	/* Bits of the other layout's upper words are stale: drop them. */
	persona_guest_or_bits(persona_vcpu_info_sel(persona_gpc_khva(gpc), lm),
			      lm ? sel : (u32)sel);
	WRITE_ONCE(((struct vcpu_info *)persona_gpc_khva(gpc))->evtchn_upcall_pending, 1);
	atomic_long_andnot(sel, (atomic_long_t *)&vx->evtchn_pending_sel);
	/* A migration must carry these bits: log the page as written. */
	persona_gpc_mark_dirty(vcpu, gpc);
	persona_gpc_unlock(gpc, flags);
	srcu_read_unlock(&kvm->srcu, idx);
	trace_kvm_xen_evtchn_deferred(vcpu->vcpu_id, sel);

	persona_evtchn_notify(vx);
}

/* KVM_XEN_HVM_EVTCHN_SEND. */
int persona_evtchn_send_ioctl(struct persona_xen_vm *pvm,
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
	struct persona_xen_vm *pvm = persona_xen_vm_of(kvm);

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
int persona_evtchn_route_check(const struct kvm_irq_routing_entry *ue)
{
	if (ue->u.xen_evtchn.priority != KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
		return -EINVAL;
	return 0;
}

/* After persona_evtchn_route_check(), on a VM with the personality. */
int persona_evtchn_setup_route(struct persona_xen_vm *pvm,
			       struct kvm_kernel_irq_routing_entry *e,
			       const struct kvm_irq_routing_entry *ue)
{
	struct kvm_vcpu *vcpu;

	vcpu = kvm_get_vcpu_by_id(pvm->kvm, ue->u.xen_evtchn.vcpu);
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

static int persona_evtchn_assign(struct persona_xen_vm *pvm,
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
static int persona_evtchn_update(struct persona_xen_vm *pvm,
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

/*
 * Hypercalls look ports up under kvm->srcu, so a removed port is freed only
 * after a grace period, and that wait must not happen under pvm->lock: a
 * vCPU inside kvm->srcu takes pvm->lock (the blob hypercall page), and
 * would deadlock with us.  Removal therefore only unlinks the port onto
 * @doomed; persona_evtchn_free_doomed() waits and frees once the caller
 * has dropped the lock.
 */
static int persona_evtchn_deassign(struct persona_xen_vm *pvm, u32 port,
				   struct list_head *doomed)
{
	struct persona_evtchnfd *fd = xa_erase(&pvm->evtchn_ports, port);

	if (!fd)
		return -ENOENT;
	list_add_tail(&fd->doomed, doomed);
	return 0;
}

static int persona_evtchn_reset(struct persona_xen_vm *pvm,
				struct list_head *doomed)
{
	struct persona_evtchnfd *fd;
	unsigned long port;

	xa_for_each(&pvm->evtchn_ports, port, fd) {
		xa_erase(&pvm->evtchn_ports, port);
		list_add_tail(&fd->doomed, doomed);
	}
	return 0;
}

/*
 * KVM_XEN_ATTR_TYPE_EVTCHN.  Ports it removes go onto @doomed, for
 * persona_evtchn_free_doomed() after pvm->lock is dropped.
 */
int persona_evtchn_attr_set(struct persona_xen_vm *pvm,
			    const struct kvm_xen_hvm_attr *data,
			    struct list_head *doomed)
{
	u32 port = data->u.evtchn.send_port;

	lockdep_assert_held(&pvm->lock);

	if (data->u.evtchn.flags == KVM_XEN_EVTCHN_RESET)
		return persona_evtchn_reset(pvm, doomed);

	if (!port || port >= persona_evtchn_max_port(pvm))
		return -EINVAL;

	switch (data->u.evtchn.flags) {
	case KVM_XEN_EVTCHN_DEASSIGN:
		return persona_evtchn_deassign(pvm, port, doomed);
	case KVM_XEN_EVTCHN_UPDATE:
		return persona_evtchn_update(pvm, data);
	case 0:
		return persona_evtchn_assign(pvm, data);
	}
	return -EINVAL;
}

/* Wait out the hypercalls that may still use @doomed's ports; free them. */
void persona_evtchn_free_doomed(struct persona_xen_vm *pvm,
				struct list_head *doomed)
{
	struct persona_evtchnfd *fd, *next;

	lockdep_assert_not_held(&pvm->lock);

	if (list_empty(doomed))
		return;
	synchronize_srcu(&pvm->kvm->srcu);
	list_for_each_entry_safe(fd, next, doomed, doomed)
		persona_evtchnfd_free(fd);
}

/*
 * debugfs.c's "ports": the outbound ports (KVM_XEN_ATTR_TYPE_EVTCHN) and
 * where each goes.  A removed port is freed after a grace period of the
 * VM's kvm->srcu (persona_evtchn_free_doomed()), so that is what the
 * walk holds.
 */
void persona_evtchn_ports_show(struct persona_xen_vm *pvm, struct seq_file *m)
{
	struct persona_evtchnfd *fd;
	unsigned long port;
	int idx;

	idx = srcu_read_lock(&pvm->kvm->srcu);
	xa_for_each(&pvm->evtchn_ports, port, fd) {
		u32 to = READ_ONCE(fd->port.port);

		if (to)
			seq_printf(m, "send %lu -> vcpu %u port %u\n", port,
				   READ_ONCE(fd->port.vcpu_id), to);
		else
			seq_printf(m, "send %lu -> eventfd\n", port);
	}
	srcu_read_unlock(&pvm->kvm->srcu, idx);
}

/* VM teardown: no vCPU can make a hypercall any more. */
void persona_evtchn_ports_free(struct persona_xen_vm *pvm)
{
	struct persona_evtchnfd *fd;
	unsigned long port;

	xa_for_each(&pvm->evtchn_ports, port, fd)
		persona_evtchnfd_free(fd);
	xa_destroy(&pvm->evtchn_ports);
}

/*
 * EVTCHNOP_send on @port.  Ports userspace registered are handled here;
 * any other port is the VMM's (false: the hypercall exits).
 */
bool persona_evtchn_send_port(struct persona_xen_vm *pvm, u32 port, u64 *r)
{
	struct persona_evtchnfd *fd;
	int ret;

	/* The entry stays valid while we hold kvm->srcu (vCPU context). */
	RCU_LOCKDEP_WARN(!srcu_read_lock_held(&pvm->kvm->srcu),
			 "EVTCHNOP_send outside kvm->srcu");
	fd = xa_load(&pvm->evtchn_ports, port);
	if (!fd)
		return false;

	if (fd->eventfd) {
		persona_compat_eventfd_signal(fd->eventfd);
	} else {
		ret = persona_evtchn_set(pvm, &fd->port);
		if (ret < 0 && ret != -ENOTCONN)
			return false;
	}
	*r = 0;
	return true;
}

/* Is any of @ports pending?  True as well if shared_info is unusable. */
static bool persona_evtchn_any_pending(struct persona_xen_vm *pvm, bool lm,
				       const evtchn_port_t *ports,
				       unsigned int nr)
{
	struct persona_gpc *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	unsigned long *pending;
	unsigned long flags;
	bool ret = true;
	unsigned int i;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	persona_gpc_lock(gpc, flags);
	if (!persona_gpc_check(kvm, gpc, PAGE_SIZE))
		goto out;

	if (lm) {
		struct shared_info *shinfo = persona_gpc_khva(gpc);

		pending = (unsigned long *)shinfo->evtchn_pending;
	} else {
		struct persona_compat_shared_info *shinfo =
			persona_gpc_khva(gpc);

		pending = (unsigned long *)shinfo->evtchn_pending;
	}

	ret = false;
	for (i = 0; i < nr; i++) {
		if (test_bit(ports[i], pending)) {
			ret = true;
			break;
		}
	}
out:
	persona_gpc_unlock(gpc, flags);
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

void persona_poll_timer_fn(struct timer_list *t)
{
	struct persona_xen_vcpu *vx = from_timer(vx, t, poll_timer);
	struct kvm_vcpu *vcpu = vx->vcpu;

	kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
	kvm_vcpu_kick(vcpu);
}

static void persona_poll_block(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			       u32 nr_ports, u64 timeout)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	bool timed_out = false;

	trace_kvm_xen_poll_block(vcpu->vcpu_id, nr_ports,
				 READ_ONCE(vx->poll_evtchn), timeout);
	persona_kvm_set_mp_state(vcpu, KVM_MP_STATE_HALTED);
	if (timeout)
		mod_timer(&vx->poll_timer,
			  jiffies + nsecs_to_jiffies(timeout));
	/* Like kvm.ko's own HLT path, do not block memslot updates. */
	kvm_vcpu_srcu_read_unlock(vcpu);
	kvm_vcpu_halt(vcpu);
	kvm_vcpu_srcu_read_lock(vcpu);
	/* A timer no longer pending has fired. */
	if (timeout)
		timed_out = !del_timer(&vx->poll_timer);
	persona_kvm_set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE);
	trace_kvm_xen_poll_wake(vcpu->vcpu_id, timed_out);
}

/*
 * SCHEDOP_poll: block until one of the ports is pending, or the timeout
 * (nanoseconds from now, as upstream KVM reads it) passes.  Needs an
 * in-kernel LAPIC and userspace's EVTCHN_SEND opt-in; otherwise upstream
 * treats it as a yield, and so do we.
 */
static bool persona_schedop_poll(struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu, bool longmode,
				 u64 param, u64 *r)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	/* One word size for the port check and the bitmap layout. */
	bool lm = persona_xen_long_mode(pvm);
	unsigned int max = persona_evtchn_nr_ports(lm);
	struct sched_poll poll;
	evtchn_port_t one, *ports;
	unsigned int i;

	if (!longmode || !persona_kvm_lapic_in_kernel(vcpu) ||
	    !(READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_EVTCHN_SEND))
		return false;

	if (persona_kvm_read_guest_virt(vcpu, param, &poll, sizeof(poll))) {
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

	if (persona_kvm_read_guest_virt(vcpu, (u64)(unsigned long)poll.ports,
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
	if (!persona_evtchn_any_pending(pvm, lm, ports, poll.nr_ports))
		persona_poll_block(pvm, vcpu, poll.nr_ports, poll.timeout);
	WRITE_ONCE(vx->poll_evtchn, 0);
	clear_bit(vcpu->vcpu_idx, pvm->poll_mask);
	*r = 0;
out:
	if (ports != &one)
		kfree(ports);
	return true;
}

bool persona_hcall_sched_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
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
