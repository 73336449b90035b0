// SPDX-License-Identifier: GPL-2.0
/*
 * Interdomain event channels between VMs: EVTCHNOP_alloc_unbound and
 * EVTCHNOP_bind_interdomain naming another VM's domain ID (domain.c),
 * and send, close, status and bind_vcpu on the ports they make.
 *
 * The VMM owns every port number of its VM (QEMU allocates them for the
 * ports it emulates), so the kernel never picks one.  It has the VMM
 * allocate the local port in disguise: the guest's call goes out as
 * EVTCHNOP_alloc_unbound(DOMID_SELF, remote DOMID_QEMU), which every
 * VMM emulating Xen for one domain implements, written over the guest's
 * argument for the VMM to read; when the hypercall completes, the kernel
 * takes the port the VMM allocated, links it to the other VM, and puts
 * the guest's argument back with the result filled in.  To the VMM the
 * port is then an unbound port of its backend that no backend binds;
 * its number stays taken until the guest closes it, which the kernel
 * sees first and passes on, or the VMM resets its ports, which it also
 * tells the kernel (KVM_XEN_ATTR_TYPE_EVTCHN's KVM_XEN_EVTCHN_RESET).
 * Documentation/design.rst has the whole mechanism.
 *
 * Sending is lockless: the ends are freed after an RCU grace period, and
 * a VM's ends are unlinked from their peers before its vCPUs go.
 */
#include <linux/kvm_host.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <xen/interface/xen.h>
#include <xen/interface/event_channel.h>

#include "../kvm/boundary.h"
#include "domain.h"
#include "evtchn.h"
#include "interdomain.h"
#include "vcpu.h"
#include "xen.h"

/* QEMU's name for itself as a remote domain (its backends' side). */
#define PERSONA_DOMID_VMM	0

/* One end of an interdomain channel, in its VM's idc_ports. */
struct persona_idc {
	struct persona_xen_vm *pvm;
	/* The local port and the vCPU it notifies (KVM's IDs). */
	struct kvm_xen_evtchn xe;
	/* That vCPU's Xen ID, for EVTCHNOP_status. */
	u32 xen_vcpu;
	/* The other domain; bound when @peer is set, to its @remote_port. */
	u16 remote_dom;
	u32 remote_port;
	struct persona_idc __rcu *peer;
	/* The vCPU state of a bind in flight to this end, as a token. */
	const void *binder;
	/* Delivery that needs to map the page first (process context). */
	struct work_struct deliver;
	struct list_head doomed;
};

#define persona_idc_deref(p)	\
	rcu_dereference_protected(p, lockdep_is_held(&persona_domain_mutex))

static void persona_idc_deliver_work(struct work_struct *work)
{
	struct persona_idc *end = container_of(work, struct persona_idc,
					       deliver);

	persona_evtchn_set(end->pvm, &end->xe);
}

/*
 * Raise @end's port in its VM, from any context that keeps @end alive
 * (RCU, or persona_domain_mutex).  Where its shared_info is not mapped,
 * a worker maps it in that VM's address space.
 */
static void persona_idc_deliver(struct persona_idc *end)
{
	if (persona_evtchn_set_fast(end->pvm, &end->xe) == -EWOULDBLOCK)
		queue_work(persona_wq, &end->deliver);
}

/* The vCPU whose Xen vCPU ID is @xen_id; NULL if none. */
static struct kvm_vcpu *persona_idc_vcpu(struct persona_xen_vm *pvm,
					 u32 xen_id)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	kvm_for_each_vcpu(i, vcpu, pvm->kvm) {
		u32 id = vcpu->vcpu_idx;

		if (persona_vcpu_xen_ready(pvm, vcpu))
			id = READ_ONCE(persona_xen_vcpu(pvm, vcpu)->vcpu_id);
		if (id == xen_id)
			return vcpu;
	}
	return NULL;
}

/* Point @end at the vCPU with Xen ID @xen_id; -ENOENT if none. */
static int persona_idc_set_vcpu(struct persona_idc *end, u32 xen_id)
{
	struct kvm_vcpu *vcpu = persona_idc_vcpu(end->pvm, xen_id);

	/* Events go only to vCPUs with Xen state: make it now. */
	if (!vcpu || !persona_vcpu_xen(end->pvm, vcpu))
		return -ENOENT;
	WRITE_ONCE(end->xe.vcpu_id, vcpu->vcpu_id);
	WRITE_ONCE(end->xe.vcpu_idx, vcpu->vcpu_idx);
	WRITE_ONCE(end->xen_vcpu, xen_id);
	return 0;
}

static struct persona_idc *persona_idc_alloc(struct persona_xen_vm *pvm,
					     u32 port, u16 remote_dom)
{
	struct persona_idc *end;

	end = kzalloc(sizeof(*end), GFP_KERNEL_ACCOUNT);
	if (!end)
		return NULL;
	end->pvm = pvm;
	end->xe.port = port;
	end->xe.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	end->remote_dom = remote_dom;
	INIT_WORK(&end->deliver, persona_idc_deliver_work);
	/* Xen and QEMU notify vCPU 0 until EVTCHNOP_bind_vcpu. */
	if (persona_idc_set_vcpu(end, 0)) {
		end->xe.vcpu_id = U32_MAX;
		end->xe.vcpu_idx = -1;
	}
	return end;
}

/*
 * Unlink @end from its peer, whose port stays allocated but unbound, as
 * in Xen: its domain may bind it again.
 */
static void persona_idc_unlink(struct persona_idc *end)
{
	struct persona_idc *peer = persona_idc_deref(end->peer);

	lockdep_assert_held(&persona_domain_mutex);
	if (!peer)
		return;
	RCU_INIT_POINTER(peer->peer, NULL);
	peer->remote_port = 0;
	RCU_INIT_POINTER(end->peer, NULL);
}

/* Remove the end at @port of @pvm onto @doomed; false if there is none. */
static bool persona_idc_remove(struct persona_xen_vm *pvm, u32 port,
			       struct list_head *doomed)
{
	struct persona_idc *end;

	lockdep_assert_held(&persona_domain_mutex);
	end = xa_erase(&pvm->idc_ports, port);
	if (!end)
		return false;
	persona_idc_unlink(end);
	list_add_tail(&end->doomed, doomed);
	return true;
}

/* After persona_domain_mutex is dropped: senders may still hold them. */
static void persona_idc_free_doomed(struct list_head *doomed)
{
	struct persona_idc *end, *next;

	lockdep_assert_not_held(&persona_domain_mutex);
	if (list_empty(doomed))
		return;
	synchronize_rcu();
	list_for_each_entry_safe(end, next, doomed, doomed) {
		cancel_work_sync(&end->deliver);
		kfree(end);
	}
}

/*
 * A new end from the VMM's allocation.  A port the kernel still thought
 * its own is stale (the VMM freed it behind our back): it goes.
 */
static int persona_idc_insert(struct persona_xen_vm *pvm,
			      struct persona_idc *end,
			      struct list_head *doomed)
{
	lockdep_assert_held(&persona_domain_mutex);
	persona_idc_remove(pvm, end->xe.port, doomed);
	return xa_insert(&pvm->idc_ports, end->xe.port, end,
			 GFP_KERNEL_ACCOUNT);
}

static void persona_idc_reset_locked(struct persona_xen_vm *pvm,
				     struct list_head *doomed)
{
	struct persona_idc *end;
	unsigned long port;

	xa_for_each(&pvm->idc_ports, port, end)
		persona_idc_remove(pvm, port, doomed);
}

/* Every interdomain end of @pvm closes: EVTCHNOP_reset, the VMM's reset. */
void persona_idc_reset(struct persona_xen_vm *pvm)
{
	LIST_HEAD(doomed);

	mutex_lock(&persona_domain_mutex);
	persona_idc_reset_locked(pvm, &doomed);
	mutex_unlock(&persona_domain_mutex);
	persona_idc_free_doomed(&doomed);
}

/*
 * The end a bind in flight (@b, from @pvm's vCPU state @binder) reserved,
 * if it is still there and still reserved by it; the reservation ends.
 */
static struct persona_idc *
persona_idc_unreserve(struct persona_xen_vm *pvm, const void *binder,
		      const struct evtchn_bind_interdomain *b)
{
	struct persona_xen_vm *rvm = persona_domain_find(b->remote_dom);
	struct persona_idc *end;

	lockdep_assert_held(&persona_domain_mutex);
	pvm->idc_binding--;
	end = rvm ? xa_load(&rvm->idc_ports, b->remote_port) : NULL;
	if (!end || end->binder != binder)
		return NULL;
	end->binder = NULL;
	return end;
}

/*
 * Have the VMM allocate the local port: the guest's argument at @gva is
 * replaced by an EVTCHNOP_alloc_unbound to the VMM's own backends until
 * persona_idc_complete() puts it back.  False (the hypercall exits) on
 * success; true with *r set if the argument cannot be written.
 */
static bool persona_idc_forward_alloc(struct persona_xen_vcpu *vx,
				      struct kvm_vcpu *vcpu, u32 cmd, u64 gva,
				      const void *arg, size_t len, u64 *r)
{
	struct evtchn_alloc_unbound disguise = {
		.dom = DOMID_SELF,
		.remote_dom = PERSONA_DOMID_VMM,
	};

	if (persona_kvm_write_guest_virt(vcpu, gva, &disguise,
					 sizeof(disguise))) {
		*r = -XEN_EFAULT;
		return true;
	}
	vx->idc.cmd = cmd;
	vx->idc.gva = gva;
	memcpy(&vx->idc.arg, arg, len);
	vx->idc.active = true;
	return false;
}

/* EVTCHNOP_alloc_unbound for another VM. */
static bool persona_idc_alloc_unbound(struct persona_xen_vm *pvm,
				      struct kvm_vcpu *vcpu, u64 *params,
				      u64 *r)
{
	struct evtchn_alloc_unbound a;
	bool other;

	/* An unreadable argument is the VMM's to answer, as before. */
	if (persona_kvm_read_guest_virt(vcpu, params[1], &a, sizeof(a)))
		return false;
	if (!persona_domain_is_self(pvm, a.dom) ||
	    persona_domain_is_self(pvm, a.remote_dom) ||
	    a.remote_dom == PERSONA_DOMID_VMM)
		return false;

	mutex_lock(&persona_domain_mutex);
	other = persona_domain_find(a.remote_dom);
	mutex_unlock(&persona_domain_mutex);
	if (!other)
		return false;
	return persona_idc_forward_alloc(persona_xen_vcpu(pvm, vcpu), vcpu,
					 EVTCHNOP_alloc_unbound, params[1],
					 &a, sizeof(a), r);
}

/*
 * EVTCHNOP_bind_interdomain to another VM's port.  Xen's checks come
 * first (the port must be unbound and offered to this domain: -EINVAL);
 * the port is then reserved while the VMM allocates ours.
 */
static bool persona_idc_bind_interdomain(struct persona_xen_vm *pvm,
					 struct kvm_vcpu *vcpu, u64 *params,
					 u64 *r)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct evtchn_bind_interdomain b;
	struct persona_xen_vm *rvm;
	struct persona_idc *end;

	if (persona_kvm_read_guest_virt(vcpu, params[1], &b, sizeof(b)))
		return false;
	if (persona_domain_is_self(pvm, b.remote_dom) ||
	    b.remote_dom == PERSONA_DOMID_VMM)
		return false;

	mutex_lock(&persona_domain_mutex);
	rvm = persona_domain_find(b.remote_dom);
	if (!rvm) {
		mutex_unlock(&persona_domain_mutex);
		return false;
	}
	end = xa_load(&rvm->idc_ports, b.remote_port);
	if (!end || end->remote_dom != pvm->domid || end->binder ||
	    persona_idc_deref(end->peer)) {
		mutex_unlock(&persona_domain_mutex);
		*r = -XEN_EINVAL;
		return true;
	}
	end->binder = vx;
	pvm->idc_binding++;
	mutex_unlock(&persona_domain_mutex);

	/* Guest memory may fault for long: never under the mutex. */
	if (persona_idc_forward_alloc(vx, vcpu, EVTCHNOP_bind_interdomain,
				      params[1], &b, sizeof(b), r)) {
		mutex_lock(&persona_domain_mutex);
		persona_idc_unreserve(pvm, vx, &b);
		mutex_unlock(&persona_domain_mutex);
		return true;
	}
	params[0] = EVTCHNOP_alloc_unbound;
	return false;
}

/* EVTCHNOP_send on an interdomain port; false if it is not one. */
static bool persona_idc_send(struct persona_xen_vm *pvm, u32 port, u64 *r)
{
	struct persona_idc *end, *peer;

	if (xa_empty(&pvm->idc_ports))
		return false;
	rcu_read_lock();
	end = xa_load(&pvm->idc_ports, port);
	if (!end) {
		rcu_read_unlock();
		return false;
	}
	/* Unbound: Xen drops the event. */
	peer = rcu_dereference(end->peer);
	if (peer)
		persona_idc_deliver(peer);
	rcu_read_unlock();
	*r = 0;
	return true;
}

/*
 * EVTCHNOP_close: the kernel's end goes (the peer's port becomes unbound)
 * and the call goes on to the VMM, which frees the port number.
 */
static void persona_idc_close(struct persona_xen_vm *pvm,
			      struct kvm_vcpu *vcpu, u64 gva)
{
	struct evtchn_close c;
	LIST_HEAD(doomed);

	if (xa_empty(&pvm->idc_ports) ||
	    persona_kvm_read_guest_virt(vcpu, gva, &c, sizeof(c)))
		return;
	mutex_lock(&persona_domain_mutex);
	persona_idc_remove(pvm, c.port, &doomed);
	mutex_unlock(&persona_domain_mutex);
	persona_idc_free_doomed(&doomed);
}

/* EVTCHNOP_status of an interdomain port, answered here. */
static bool persona_idc_status(struct persona_xen_vm *pvm,
			       struct kvm_vcpu *vcpu, u64 gva, u64 *r)
{
	struct persona_idc *end;
	struct evtchn_status st;

	if (xa_empty(&pvm->idc_ports) ||
	    persona_kvm_read_guest_virt(vcpu, gva, &st, sizeof(st)) ||
	    !persona_domain_is_self(pvm, st.dom))
		return false;

	mutex_lock(&persona_domain_mutex);
	end = xa_load(&pvm->idc_ports, st.port);
	if (!end) {
		mutex_unlock(&persona_domain_mutex);
		return false;
	}
	st.vcpu = end->xen_vcpu;
	memset(&st.u, 0, sizeof(st.u));
	if (persona_idc_deref(end->peer)) {
		st.status = EVTCHNSTAT_interdomain;
		st.u.interdomain.dom = end->remote_dom;
		st.u.interdomain.port = end->remote_port;
	} else {
		st.status = EVTCHNSTAT_unbound;
		st.u.unbound.dom = end->remote_dom;
	}
	mutex_unlock(&persona_domain_mutex);

	*r = persona_kvm_write_guest_virt(vcpu, gva, &st, sizeof(st)) ?
		-XEN_EFAULT : 0;
	return true;
}

/*
 * EVTCHNOP_bind_vcpu of an interdomain port: the VMM validates and
 * records the vCPU as for its own ports (its EVTCHNOP_unmask delivers to
 * it), and the kernel follows when the call succeeds.
 */
static void persona_idc_bind_vcpu(struct persona_xen_vm *pvm,
				  struct kvm_vcpu *vcpu, u64 gva)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct evtchn_bind_vcpu bv;

	if (xa_empty(&pvm->idc_ports) ||
	    persona_kvm_read_guest_virt(vcpu, gva, &bv, sizeof(bv)) ||
	    !xa_load(&pvm->idc_ports, bv.port))
		return;
	vx->idc.cmd = EVTCHNOP_bind_vcpu;
	vx->idc.gva = gva;
	vx->idc.arg.bind_vcpu = bv;
	vx->idc.active = true;
}

/* EVTCHNOP_reset of this domain: ours go, then the VMM's. */
static void persona_idc_evtchn_reset(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu, u64 gva)
{
	struct evtchn_reset rst;

	if (xa_empty(&pvm->idc_ports) ||
	    persona_kvm_read_guest_virt(vcpu, gva, &rst, sizeof(rst)) ||
	    !persona_domain_is_self(pvm, rst.dom))
		return;
	persona_idc_reset(pvm);
}

/*
 * __HYPERVISOR_event_channel_op from the guest kernel.  True with *r set
 * if answered here; false to exit to the VMM with @params, which this
 * may have changed (the disguised allocation).
 */
bool persona_hcall_evtchn_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			     u64 *params, u64 *r)
{
	struct evtchn_send send;

	switch (params[0]) {
	case EVTCHNOP_send:
		if (persona_kvm_read_guest_virt(vcpu, params[1], &send,
						sizeof(send))) {
			*r = -XEN_EFAULT;
			return true;
		}
		return persona_idc_send(pvm, send.port, r) ||
		       persona_evtchn_send_port(pvm, send.port, r);
	case EVTCHNOP_alloc_unbound:
		return persona_idc_alloc_unbound(pvm, vcpu, params, r);
	case EVTCHNOP_bind_interdomain:
		return persona_idc_bind_interdomain(pvm, vcpu, params, r);
	case EVTCHNOP_close:
		persona_idc_close(pvm, vcpu, params[1]);
		return false;
	case EVTCHNOP_status:
		return persona_idc_status(pvm, vcpu, params[1], r);
	case EVTCHNOP_bind_vcpu:
		persona_idc_bind_vcpu(pvm, vcpu, params[1]);
		return false;
	case EVTCHNOP_reset:
		persona_idc_evtchn_reset(pvm, vcpu, params[1]);
		return false;
	}
	return false;
}

/*
 * The VMM allocated @port for a disguised call: make the end.  For a
 * bind, link it to the end it reserved, if that is still there (else
 * the other side closed or died meanwhile, and ours is left unbound, as
 * if that had happened just after the bind).  Returns Xen's result.
 */
static s64 persona_idc_made(struct persona_xen_vm *pvm,
			    struct persona_xen_vcpu *vx, u32 port,
			    struct list_head *doomed)
{
	struct persona_idc_pending *p = &vx->idc;
	struct persona_idc *end, *remote = NULL;
	u16 remote_dom;

	lockdep_assert_held(&persona_domain_mutex);
	if (p->cmd == EVTCHNOP_bind_interdomain) {
		remote = persona_idc_unreserve(pvm, vx, &p->arg.bind);
		remote_dom = p->arg.bind.remote_dom;
	} else {
		remote_dom = p->arg.alloc.remote_dom;
	}

	end = persona_idc_alloc(pvm, port, remote_dom);
	if (!end)
		return -XEN_ENOMEM;
	if (persona_idc_insert(pvm, end, doomed)) {
		kfree(end);
		return -XEN_ENOMEM;
	}
	if (p->cmd == EVTCHNOP_alloc_unbound) {
		p->arg.alloc.port = port;
		return 0;
	}

	p->arg.bind.local_port = port;
	if (remote) {
		end->remote_port = remote->xe.port;
		remote->remote_port = port;
		rcu_assign_pointer(end->peer, remote);
		rcu_assign_pointer(remote->peer, end);
	}
	/* Events sent before the bind were dropped: Xen raises the port. */
	persona_idc_deliver(end);
	return 0;
}

/*
 * A forwarded call completed with the VMM's @result (or was abandoned:
 * the VMM moved RIP).  Returns the result for the guest, and puts the
 * guest's argument back for the disguised ones.
 */
static s64 persona_idc_finish(struct persona_xen_vm *pvm,
			      struct kvm_vcpu *vcpu, s64 result, bool abandoned)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct persona_idc_pending *p = &vx->idc;
	struct evtchn_alloc_unbound got;
	LIST_HEAD(doomed);
	size_t len;

	len = p->cmd == EVTCHNOP_alloc_unbound ? sizeof(p->arg.alloc) :
						 sizeof(p->arg.bind);
	if (!result && !abandoned &&
	    persona_kvm_read_guest_virt(vcpu, p->gva, &got, sizeof(got)))
		result = -XEN_EFAULT;
	/* The VMM is not trusted with the port number either. */
	if (!result && !abandoned &&
	    (!got.port || got.port >= persona_evtchn_max_port(pvm)))
		result = -XEN_EINVAL;

	mutex_lock(&persona_domain_mutex);
	if (!result && !abandoned)
		result = persona_idc_made(pvm, vx, got.port, &doomed);
	else if (p->cmd == EVTCHNOP_bind_interdomain)
		persona_idc_unreserve(pvm, vx, &p->arg.bind);
	mutex_unlock(&persona_domain_mutex);
	persona_idc_free_doomed(&doomed);

	if (persona_kvm_write_guest_virt(vcpu, p->gva, &p->arg, len) &&
	    !result)
		result = -XEN_EFAULT;
	return result;
}

/* The VMM accepted EVTCHNOP_bind_vcpu of an interdomain port. */
static void persona_idc_bound_vcpu(struct persona_xen_vm *pvm,
				   const struct evtchn_bind_vcpu *bv)
{
	struct persona_idc *end;

	mutex_lock(&persona_domain_mutex);
	end = xa_load(&pvm->idc_ports, bv->port);
	if (end)
		persona_idc_set_vcpu(end, bv->vcpu);
	mutex_unlock(&persona_domain_mutex);
}

u64 persona_idc_complete(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			 u64 result, bool abandoned)
{
	struct persona_idc_pending *p = &persona_xen_vcpu(pvm, vcpu)->idc;

	if (!p->active)
		return result;
	p->active = false;
	if (p->cmd == EVTCHNOP_bind_vcpu) {
		if (!result && !abandoned)
			persona_idc_bound_vcpu(pvm, &p->arg.bind_vcpu);
		return result;
	}
	return persona_idc_finish(pvm, vcpu, result, abandoned);
}

/*
 * The VM is going (before kvm.ko frees its vCPUs): its ID is released,
 * the binds its vCPUs had in flight give up their reservations, and its
 * ends close, leaving their peers unbound.
 */
void persona_idc_vm_teardown(struct persona_xen_vm *pvm)
{
	struct persona_xen_vcpu *vx;
	struct kvm_vcpu *vcpu;
	LIST_HEAD(doomed);
	unsigned long i;

	mutex_lock(&persona_domain_mutex);
	persona_domain_unregister(pvm);
	kvm_for_each_vcpu(i, vcpu, pvm->kvm) {
		if (!persona_vcpu_xen_ready(pvm, vcpu))
			continue;
		vx = persona_xen_vcpu(pvm, vcpu);
		if (vx->idc.active && vx->idc.cmd == EVTCHNOP_bind_interdomain)
			persona_idc_unreserve(pvm, vx, &vx->idc.arg.bind);
		vx->idc.active = false;
	}
	persona_idc_reset_locked(pvm, &doomed);
	mutex_unlock(&persona_domain_mutex);
	persona_idc_free_doomed(&doomed);
	xa_destroy(&pvm->idc_ports);
}

/*
 * debugfs.c's "ports": the ports linked to other domains.  Ends are freed
 * after a grace period; the fields are read as they stand.
 */
void persona_idc_ports_show(struct persona_xen_vm *pvm, struct seq_file *m)
{
	struct persona_idc *end;
	unsigned long port;

	rcu_read_lock();
	xa_for_each(&pvm->idc_ports, port, end)
		seq_printf(m, "interdomain %lu -> domain %u port %u %s vcpu %u\n",
			   port, READ_ONCE(end->remote_dom),
			   READ_ONCE(end->remote_port),
			   rcu_access_pointer(end->peer) ? "bound" : "unbound",
			   READ_ONCE(end->xen_vcpu));
	rcu_read_unlock();
}
