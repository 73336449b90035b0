// SPDX-License-Identifier: GPL-2.0
/*
 * The Xen singleshot timer: one per vCPU, raising the event channel port
 * userspace bound to VIRQ_TIMER (KVM_XEN_VCPU_ATTR_TYPE_TIMER).  Deadlines
 * are absolute guest system time (kvmclock) in nanoseconds.
 */
#include <linux/hrtimer.h>
#include <linux/kvm_host.h>
#include <xen/interface/xen.h>
#include <xen/interface/vcpu.h>

#include "../kvm/boundary.h"
#include "evtchn.h"
#include "timer.h"
#include "trace.h"
#include "xen.h"
#include "xen-abi.h"

/*
 * vx->timer_pending: the timer fired and the vCPU has not seen it yet.
 * FIRED: the event is in the guest's pages already; DEFERRED: it still
 * has to be delivered from the vCPU's context.  Either way expires_ns
 * keeps reading back as armed until then, as save/restore expects.
 */
#define PERSONA_TIMER_FIRED	1
#define PERSONA_TIMER_DEFERRED	2

/* Xen's "Linux workaround" in do_set_timer_op(). */
#define XEN_TIMER_FAR_FUTURE_SHIFT	50
#define XEN_TIMER_FALLBACK_NS		(100 * NSEC_PER_MSEC)

static struct kvm_xen_evtchn persona_timer_evtchn(struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	struct kvm_xen_evtchn e = {
		.port = READ_ONCE(vx->timer_virq),
		.vcpu_id = vx->vcpu_id,
		.vcpu_idx = vcpu->vcpu_idx,
		.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL,
	};

	return e;
}

/*
 * Hard-irq context: deliver straight into the guest pages if they are
 * mapped, else leave it to the vCPU's own context (persona_timer_inject()),
 * which also retires the deadline.
 */
static enum hrtimer_restart persona_timer_fn(struct hrtimer *timer)
{
	struct persona_xen_vcpu *vx = container_of(timer,
						   struct persona_xen_vcpu,
						   timer);
	struct kvm_vcpu *vcpu = vx->vcpu;
	struct persona_xen_vm *pvm = persona_xen_vm_of(vcpu->kvm);
	struct kvm_xen_evtchn e;

	if (atomic_read(&vx->timer_pending) || !pvm)
		return HRTIMER_NORESTART;

	e = persona_timer_evtchn(vcpu);
	if (persona_evtchn_set_fast(pvm, &e) != -EWOULDBLOCK) {
		trace_kvm_xen_timer_fire(vcpu->vcpu_id, e.port, false);
		atomic_set(&vx->timer_pending, PERSONA_TIMER_FIRED);
		return HRTIMER_NORESTART;
	}

	trace_kvm_xen_timer_fire(vcpu->vcpu_id, e.port, true);
	atomic_set(&vx->timer_pending, PERSONA_TIMER_DEFERRED);
	kvm_make_request(KVM_REQ_UNBLOCK, vcpu);
	kvm_vcpu_kick(vcpu);
	return HRTIMER_NORESTART;
}

void persona_timer_init(struct persona_xen_vcpu *vx)
{
	hrtimer_init(&vx->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	vx->timer.function = persona_timer_fn;
	atomic_set(&vx->timer_pending, 0);
}

bool persona_timer_pending(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	return atomic_read(&persona_xen_vcpu(pvm, vcpu)->timer_pending) > 0;
}

/* From the vCPU's run loop, where guest pages may be mapped. */
void persona_timer_inject(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	struct kvm_xen_evtchn e;
	int pending = atomic_read(&vx->timer_pending);

	if (pending <= 0)
		return;
	if (pending == PERSONA_TIMER_DEFERRED) {
		e = persona_timer_evtchn(vcpu);
		persona_evtchn_set(pvm, &e);
	}
	vx->timer_expires = 0;
	atomic_set(&vx->timer_pending, 0);
}

static void persona_timer_start(struct kvm_vcpu *vcpu, u64 guest_abs,
				s64 delta_ns)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	hrtimer_cancel(&vx->timer);
	atomic_set(&vx->timer_pending, 0);
	vx->timer_expires = guest_abs;

	if (delta_ns <= 0)
		delta_ns = 0;
	trace_kvm_xen_timer_arm(vcpu->vcpu_id, guest_abs, delta_ns);
	hrtimer_start(&vx->timer, ktime_add_ns(ktime_get(), delta_ns),
		      HRTIMER_MODE_ABS_HARD);
}

void persona_timer_stop(struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	trace_kvm_xen_timer_stop(vcpu->vcpu_id);
	hrtimer_cancel(&vx->timer);
	vx->timer_expires = 0;
	atomic_set(&vx->timer_pending, 0);
}

static bool persona_timer_enabled(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(persona_xen_vcpu_of(vcpu)->timer_virq) != 0;
}

/* KVM_XEN_VCPU_ATTR_TYPE_TIMER; caller holds pvm->lock. */
int persona_timer_attr_set(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   const struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	u64 expires = data->u.timer.expires_ns;

	lockdep_assert_held(&pvm->lock);
	if (data->u.timer.port &&
	    data->u.timer.priority != KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL)
		return -EINVAL;

	persona_timer_stop(vcpu);
	WRITE_ONCE(vx->timer_virq, data->u.timer.port);

	if (data->u.timer.port && expires)
		persona_timer_start(vcpu, expires,
				    expires - persona_kvm_clock_ns(vcpu->kvm));
	return 0;
}

/* Pending-but-undelivered counts as still armed, for save/restore. */
void persona_timer_attr_get(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	data->u.timer.port = vx->timer_virq;
	data->u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	data->u.timer.expires_ns = vx->timer_expires;
}

static bool persona_vcpuop_set_singleshot(struct kvm_vcpu *vcpu,
					  bool longmode, u64 param, u64 *r)
{
	struct vcpu_set_singleshot_timer oneshot;
	unsigned int len;
	s64 delta;

	/*
	 * The 32-bit layout is the 64-bit one without its tail padding;
	 * Xen copies the size the guest's layout has, so do we.
	 */
	len = longmode ? sizeof(oneshot) :
			 sizeof(struct persona_compat_singleshot_timer);
	if (persona_kvm_read_guest_virt(vcpu, param, &oneshot, len)) {
		*r = -XEN_EFAULT;
		return true;
	}

	/*
	 * VCPU_SSHOTTMR_future is ignored, as upstream KVM ignores it after
	 * 6.1 (which answered -ETIME): a deadline already past fires at
	 * once, which is what a guest asking for the flag wants anyway.
	 */
	delta = oneshot.timeout_abs_ns - persona_kvm_clock_ns(vcpu->kvm);
	persona_timer_start(vcpu, oneshot.timeout_abs_ns, delta);
	*r = 0;
	return true;
}

bool persona_hcall_vcpu_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   bool longmode, int cmd, int vcpu_id, u64 param,
			   u64 *r)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	if (!persona_timer_enabled(vcpu))
		return false;

	switch (cmd) {
	case VCPUOP_set_singleshot_timer:
		if (vx->vcpu_id != vcpu_id) {
			*r = -XEN_EINVAL;
			return true;
		}
		return persona_vcpuop_set_singleshot(vcpu, longmode, param, r);
	case VCPUOP_stop_singleshot_timer:
		if (vx->vcpu_id != vcpu_id) {
			*r = -XEN_EINVAL;
			return true;
		}
		persona_timer_stop(vcpu);
		*r = 0;
		return true;
	}
	return false;
}

/*
 * set_timer_op: 0 stops the timer.  A negative deadline (overflow) or one
 * more than 2^50 ns (~13 days) ahead comes from old guests' jiffies
 * arithmetic; like Xen, fire in 100 ms instead.
 */
bool persona_hcall_set_timer_op(struct persona_xen_vm *pvm,
				struct kvm_vcpu *vcpu, u64 timeout, u64 *r)
{
	u64 now;
	s64 delta;

	if (!persona_timer_enabled(vcpu))
		return false;

	if (!timeout) {
		persona_timer_stop(vcpu);
		*r = 0;
		return true;
	}

	now = persona_kvm_clock_ns(vcpu->kvm);
	delta = timeout - now;
	if ((s64)timeout < 0 ||
	    (delta > 0 && (delta >> XEN_TIMER_FAR_FUTURE_SHIFT))) {
		delta = XEN_TIMER_FALLBACK_NS;
		timeout = now + delta;
	}
	persona_timer_start(vcpu, timeout, delta);
	*r = 0;
	return true;
}
