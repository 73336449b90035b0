// SPDX-License-Identifier: GPL-2.0
/*
 * The pages Xen shares with an HVM guest: shared_info (wallclock, event
 * bitmaps), each vCPU's vcpu_info (pvclock, event selector) and optional
 * separate pvclock, and the runstate area.
 *
 * Guest memory is reached only through pfn caches, which kvm.ko
 * invalidates on memslot changes and MMU-notifier events.  Every user
 * re-checks its cache under the cache's lock, and refreshes it only where
 * it may sleep.
 */
#include <linux/kvm_host.h>
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include <linux/timekeeping.h>

#include "../kvm/boundary.h"
#include "shinfo.h"
#include "xen-abi.h"

/*
 * The wallclock in shared_info: the real time at which the guest's
 * system time (kvmclock) was zero, under Xen's odd/even version protocol.
 */
static int persona_shinfo_write_wallclock(struct persona_xen_vm *pvm)
{
	struct gfn_to_pfn_cache *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	struct pvclock_wall_clock *wc;
	unsigned long flags;
	u32 *wc_sec_hi;
	u64 wall_nsec;
	u32 version;
	int r;

	wall_nsec = persona_kvm_wall_clock_epoch(kvm);

	persona_gpc_lock(gpc, flags);
	while (!persona_gpc_check(kvm, gpc, PAGE_SIZE)) {
		persona_gpc_unlock(gpc, flags);
		r = persona_gpc_refresh(kvm, gpc, PAGE_SIZE);
		if (r)
			return r;
		persona_gpc_lock(gpc, flags);
	}

	if (persona_xen_long_mode(pvm)) {
		struct shared_info *shinfo = persona_gpc_khva(gpc);

		wc = &shinfo->wc;
		wc_sec_hi = &shinfo->wc_sec_hi;
	} else {
		struct persona_compat_shared_info *shinfo = persona_gpc_khva(gpc);

		wc = &shinfo->wc;
		wc_sec_hi = &shinfo->wc_sec_hi;
	}

	/* An odd version tells the guest an update is in progress. */
	version = (READ_ONCE(wc->version) + 1) | 1;
	WRITE_ONCE(wc->version, version);
	/* Guest readers must see the odd version before the new time. */
	smp_wmb();
	wc->nsec = do_div(wall_nsec, NSEC_PER_SEC);
	wc->sec = (u32)wall_nsec;
	*wc_sec_hi = wall_nsec >> 32;
	/* ... and the new time before the even version. */
	smp_wmb();
	WRITE_ONCE(wc->version, version + 1);

	persona_gpc_unlock(gpc, flags);

	kvm_make_all_cpus_request(kvm, KVM_REQ_MASTERCLOCK_UPDATE);
	return 0;
}

/* KVM_XEN_ATTR_TYPE_SHARED_INFO; caller holds pvm->lock. */
int persona_shinfo_set(struct persona_xen_vm *pvm, u64 gfn)
{
	struct kvm *kvm = pvm->kvm;
	int idx, r = 0;

	lockdep_assert_held(&pvm->lock);
	idx = srcu_read_lock(&kvm->srcu);
	if (gfn == PERSONA_XEN_INVALID_GFN) {
		persona_gpc_deactivate(kvm, &pvm->shinfo_cache);
	} else if (gfn >= (1ULL << (52 - PAGE_SHIFT))) {
		r = -EINVAL;
	} else {
		r = persona_gpc_activate(kvm, &pvm->shinfo_cache, gfn_to_gpa(gfn), PAGE_SIZE);
		if (!r)
			r = persona_shinfo_write_wallclock(pvm);
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

u64 persona_shinfo_gfn(struct persona_xen_vm *pvm)
{
	struct gfn_to_pfn_cache *gpc = &pvm->shinfo_cache;

	return persona_gpc_active(gpc) ? gpa_to_gfn(persona_gpc_gpa(gpc)) : PERSONA_XEN_INVALID_GFN;
}

/*
 * The guest's word size decides the layout of every shared structure;
 * when it changes the wallclock moves, so write it at its new place.
 * Caller holds pvm->lock.
 */
int persona_shinfo_set_long_mode(struct persona_xen_vm *pvm, bool lm)
{
	bool old = persona_xen_long_mode(pvm);

	lockdep_assert_held(&pvm->lock);
	WRITE_ONCE(pvm->long_mode, lm);
	if (old != lm && pvm->shinfo_cache.active)
		return persona_shinfo_write_wallclock(pvm);
	return 0;
}

/*
 * Is evtchn_upcall_pending set in the vCPU's vcpu_info?  Called where
 * kvm.ko decides whether an interrupt is pending, possibly from atomic
 * context or while the task is about to block: if the page cannot be
 * checked there, say "pending" so that the vCPU comes back and looks
 * again from a context that can map it.
 */
bool persona_upcall_pending(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	struct gfn_to_pfn_cache *gpc = &vx->vcpu_info_cache;
	const unsigned long len = sizeof(struct vcpu_info);
	unsigned long flags;
	u8 pending;

	if (!persona_gpc_active(gpc))
		return false;
	persona_gpc_lock(gpc, flags);
	while (!persona_gpc_check(vcpu->kvm, gpc, len)) {
		persona_gpc_unlock(gpc, flags);
		if (!preemptible() || !task_is_running(current))
			return true;
		if (persona_gpc_refresh(vcpu->kvm, gpc, len))
			return false;
		persona_gpc_lock(gpc, flags);
	}

	/* Same offset in the 32- and 64-bit layouts. */
	pending = READ_ONCE(((struct vcpu_info *)persona_gpc_khva(gpc))->evtchn_upcall_pending);
	persona_gpc_unlock(gpc, flags);
	return pending;
}

/*
 * Write @clock into the pvclock area at @offset of @gpc as kvm.ko writes
 * kvmclock: the version odd while the fields change and even after, so a
 * guest reading another vCPU's area retries; a PVCLOCK_GUEST_STOPPED the
 * guest has not consumed yet is kept.
 */
static void persona_pvclock_write(struct kvm_vcpu *vcpu,
				  struct gfn_to_pfn_cache *gpc,
				  unsigned int offset,
				  const struct pvclock_vcpu_time_info *clock)
{
	unsigned long len = offset + sizeof(struct pvclock_vcpu_time_info);
	struct pvclock_vcpu_time_info *guest, copy = *clock;
	unsigned long flags;
	u32 version;

	if (!persona_gpc_active(gpc))
		return;
	persona_gpc_lock(gpc, flags);
	while (!persona_gpc_check(vcpu->kvm, gpc, len)) {
		persona_gpc_unlock(gpc, flags);
		if (persona_gpc_refresh(vcpu->kvm, gpc, len))
			return;
		persona_gpc_lock(gpc, flags);
	}
	guest = persona_gpc_khva(gpc) + offset;
	version = (READ_ONCE(guest->version) + 1) | 1;
	WRITE_ONCE(guest->version, version);
	/* The odd version before any field changes... */
	smp_wmb();
	copy.version = version;
	copy.flags |= READ_ONCE(guest->flags) & PVCLOCK_GUEST_STOPPED;
	memcpy(guest, &copy, sizeof(copy));
	/* ... and every field before the even one. */
	smp_wmb();
	WRITE_ONCE(guest->version, version + 1);
	persona_gpc_mark_dirty(vcpu, gpc);
	persona_gpc_unlock(gpc, flags);
}

/*
 * kvm.ko has computed the vCPU's pvclock (kvm_guest_time_update()): copy
 * it to the vcpu_info's time field and to the separate vcpu_time_info, as
 * upstream's kvm.ko does itself when built with CONFIG_KVM_XEN.  The
 * field sits at the same offset in both vcpu_info layouts.
 */
void persona_pvclock_update(struct persona_xen_vcpu *vx,
			    const struct pvclock_vcpu_time_info *clock)
{
	persona_pvclock_write(vx->vcpu, &vx->vcpu_info_cache,
			      offsetof(struct persona_compat_vcpu_info, time),
			      clock);
	persona_pvclock_write(vx->vcpu, &vx->vcpu_time_info_cache, 0, clock);
}

/*
 * The VM-wide vector is level-triggered on evtchn_upcall_pending, which
 * kvm.ko without CONFIG_KVM_XEN never looks at on entry: where the flag
 * may have been set behind its back (by the VMM while the vCPU was out,
 * or before an in-kernel hypercall returns, where Xen delivers pending
 * events), have it evaluate events again.
 */
void persona_upcall_recheck(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	if (READ_ONCE(pvm->upcall_vector) && persona_upcall_pending(pvm, vcpu))
		kvm_make_request(KVM_REQ_EVENT, vcpu);
}

/* Runstate accounting, in guest (kvmclock) nanoseconds. */
static void persona_runstate_account(struct kvm_vcpu *vcpu, int state)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	u64 now = persona_kvm_clock_ns(vcpu->kvm);
	u64 delta = now - vx->runstate_entry_time;
	u64 run_delay = current->sched_info.run_delay;

	if (unlikely(!vx->runstate_entry_time))
		vx->current_runstate = RUNSTATE_offline;

	/*
	 * Time the vCPU thread spent waiting for a host CPU while the vCPU
	 * was running is stolen: Xen accounts it as runnable.
	 */
	if (vx->current_runstate == RUNSTATE_running) {
		u64 steal = run_delay - vx->last_steal;

		delta -= steal;
		vx->runstate_times[RUNSTATE_runnable] += steal;
	}
	vx->last_steal = run_delay;

	vx->runstate_times[vx->current_runstate] += delta;
	vx->current_runstate = state;
	vx->runstate_entry_time = now;
}

/*
 * Copy the runstate into the guest's area, with XEN_RUNSTATE_UPDATE set in
 * state_entry_time while the copy is in progress.
 */
static void persona_runstate_write(struct persona_xen_vm *pvm,
				   struct kvm_vcpu *vcpu, bool may_sleep)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	struct gfn_to_pfn_cache *gpc = &vx->runstate_cache;
	unsigned long flags;
	size_t len, times_off;
	u64 *times;
	int *state;

	if (!persona_gpc_active(gpc))
		return;

	if (persona_xen_long_mode(pvm)) {
		len = sizeof(struct vcpu_runstate_info);
		times_off = offsetof(struct vcpu_runstate_info,
				     state_entry_time);
	} else {
		len = sizeof(struct persona_compat_runstate_info);
		times_off = offsetof(struct persona_compat_runstate_info,
				     state_entry_time);
	}

	if (may_sleep) {
		persona_gpc_lock(gpc, flags);
	} else {
		/*
		 * Scheduled in or out, perhaps under the runqueue lock,
		 * while event delivery wakes tasks (taking the runqueue
		 * lock) under gpc->lock: only try, so gpc->lock never nests
		 * inside the runqueue lock.
		 */
		local_irq_save(flags);
		if (!persona_gpc_trylock(gpc)) {
			local_irq_restore(flags);
			set_bit(vcpu->vcpu_idx, pvm->runstate_stale);
			return;
		}
	}
	while (!persona_gpc_check(vcpu->kvm, gpc, len)) {
		persona_gpc_unlock(gpc, flags);
		if (!may_sleep || persona_gpc_refresh(vcpu->kvm, gpc, len)) {
			/* Catch up from the next KVM_RUN. */
			set_bit(vcpu->vcpu_idx, pvm->runstate_stale);
			return;
		}
		persona_gpc_lock(gpc, flags);
	}
	clear_bit(vcpu->vcpu_idx, pvm->runstate_stale);

	state = persona_gpc_khva(gpc);
	times = persona_gpc_khva(gpc) + times_off;

	WRITE_ONCE(times[0], vx->runstate_entry_time | XEN_RUNSTATE_UPDATE);
	/* The guest must see the update flag before any new field. */
	smp_wmb();
	WRITE_ONCE(*state, vx->current_runstate);
	memcpy(times + 1, vx->runstate_times, sizeof(vx->runstate_times));
	/* ... and every new field before the flag clears. */
	smp_wmb();
	WRITE_ONCE(times[0], vx->runstate_entry_time);

	persona_gpc_unlock(gpc, flags);
	persona_gpc_mark_dirty(vcpu, gpc);
}

static void persona_runstate_set(struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu, int state,
				 bool may_sleep)
{
	persona_runstate_account(vcpu, state);
	persona_runstate_write(pvm, vcpu, may_sleep);
}

/* Scheduled in: preemption disabled, so no refresh. */
void persona_runstate_load(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	if (sched_info_on())
		persona_runstate_set(pvm, vcpu, RUNSTATE_running, false);
}

/* Preempted while running (a normal exit stays "running", as in Xen). */
void persona_runstate_put(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	if (sched_info_on())
		persona_runstate_set(pvm, vcpu, RUNSTATE_runnable, false);
}

/*
 * From KVM_RUN: if a write from atomic context found the area unmapped,
 * map it and bring the guest's copy up to date; otherwise there is
 * nothing to pay on every entry.
 */
void persona_runstate_sync(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	if (sched_info_on() && test_bit(vcpu->vcpu_idx, pvm->runstate_stale))
		persona_runstate_write(pvm, vcpu, true);
}

static int persona_gpc_attr_set(struct kvm_vcpu *vcpu,
				struct gfn_to_pfn_cache *gpc, u64 gpa,
				unsigned long len)
{
	if (gpa == PERSONA_GPA_INVALID) {
		persona_gpc_deactivate(vcpu->kvm, gpc);
		return 0;
	}
	return persona_gpc_activate(vcpu->kvm, gpc, gpa, len);
}

static u64 persona_gpc_attr_get(struct gfn_to_pfn_cache *gpc)
{
	return persona_gpc_active(gpc) ? persona_gpc_gpa(gpc) : PERSONA_GPA_INVALID;
}

static bool persona_runstate_valid(u64 state)
{
	return state <= RUNSTATE_offline;
}

static bool persona_runstate_sums(const struct kvm_xen_vcpu_attr *data)
{
	return data->u.runstate.state_entry_time ==
	       data->u.runstate.time_running + data->u.runstate.time_runnable +
	       data->u.runstate.time_blocked + data->u.runstate.time_offline;
}

/* KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA: restore a saved runstate. */
static int persona_runstate_data_set(struct kvm_vcpu *vcpu,
				     const struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	if (!persona_runstate_valid(data->u.runstate.state) ||
	    !persona_runstate_sums(data) ||
	    persona_kvm_clock_ns(vcpu->kvm) < data->u.runstate.state_entry_time)
		return -EINVAL;

	vx->current_runstate = data->u.runstate.state;
	vx->runstate_entry_time = data->u.runstate.state_entry_time;
	vx->runstate_times[RUNSTATE_running] = data->u.runstate.time_running;
	vx->runstate_times[RUNSTATE_runnable] = data->u.runstate.time_runnable;
	vx->runstate_times[RUNSTATE_blocked] = data->u.runstate.time_blocked;
	vx->runstate_times[RUNSTATE_offline] = data->u.runstate.time_offline;
	vx->last_steal = current->sched_info.run_delay;
	return 0;
}

/* KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST: add deltas, optionally switch. */
static int persona_runstate_adjust(struct persona_xen_vm *pvm,
				   struct kvm_vcpu *vcpu,
				   const struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	u64 state = data->u.runstate.state;

	if ((!persona_runstate_valid(state) && state != (u64)-1) ||
	    !persona_runstate_sums(data) ||
	    persona_kvm_clock_ns(vcpu->kvm) <
	    vx->runstate_entry_time + data->u.runstate.state_entry_time)
		return -EINVAL;

	vx->runstate_entry_time += data->u.runstate.state_entry_time;
	vx->runstate_times[RUNSTATE_running] += data->u.runstate.time_running;
	vx->runstate_times[RUNSTATE_runnable] += data->u.runstate.time_runnable;
	vx->runstate_times[RUNSTATE_blocked] += data->u.runstate.time_blocked;
	vx->runstate_times[RUNSTATE_offline] += data->u.runstate.time_offline;

	if (persona_runstate_valid(state))
		persona_runstate_set(pvm, vcpu, state, true);
	return 0;
}

static int persona_runstate_attr_set(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu,
				     struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	if (!sched_info_on())
		return -EOPNOTSUPP;

	switch (data->type) {
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
		return persona_gpc_attr_set(vcpu, &vx->runstate_cache,
					    data->u.gpa,
					    sizeof(struct vcpu_runstate_info));
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT:
		if (!persona_runstate_valid(data->u.runstate.state))
			return -EINVAL;
		persona_runstate_set(pvm, vcpu, data->u.runstate.state, true);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA:
		return persona_runstate_data_set(vcpu, data);
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST:
		return persona_runstate_adjust(pvm, vcpu, data);
	}
	return -ENOENT;
}

/*
 * KVM_XEN_VCPU_SET_ATTR but the timer's; caller holds pvm->lock and has
 * initialised the vCPU's Xen state.
 */
int persona_vcpu_attr_set(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);
	int idx, r;

	lockdep_assert_held(&pvm->lock);
	idx = srcu_read_lock(&vcpu->kvm->srcu);
	switch (data->type) {
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO:
		/*
		 * As Xen (for 32-bit guests) and upstream since 6.2: the
		 * selector must at least be 32-bit aligned.
		 */
		if (data->u.gpa != PERSONA_GPA_INVALID &&
		    !IS_ALIGNED(data->u.gpa, sizeof(u32))) {
			r = -ENXIO;
			break;
		}
		r = persona_gpc_attr_set(vcpu, &vx->vcpu_info_cache,
					 data->u.gpa,
					 sizeof(struct vcpu_info));
		if (!r && data->u.gpa != PERSONA_GPA_INVALID)
			kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
		break;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO:
		r = persona_gpc_attr_set(vcpu, &vx->vcpu_time_info_cache,
					 data->u.gpa,
					 sizeof(struct pvclock_vcpu_time_info));
		if (!r && data->u.gpa != PERSONA_GPA_INVALID)
			kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
		break;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT:
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA:
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST:
		r = persona_runstate_attr_set(pvm, vcpu, data);
		break;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID:
		if (data->u.vcpu_id >= KVM_MAX_VCPUS) {
			r = -EINVAL;
			break;
		}
		vx->vcpu_id = data->u.vcpu_id;
		r = 0;
		break;
	case KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR:
		if (data->u.vector && data->u.vector < 0x10) {
			r = -EINVAL;
			break;
		}
		WRITE_ONCE(vx->upcall_vector, data->u.vector);
		r = 0;
		break;
	default:
		r = -ENOENT;
		break;
	}
	srcu_read_unlock(&vcpu->kvm->srcu, idx);
	return r;
}

/* KVM_XEN_VCPU_GET_ATTR but the timer's; as persona_vcpu_attr_set(). */
int persona_vcpu_attr_get(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  struct kvm_xen_vcpu_attr *data)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	lockdep_assert_held(&pvm->lock);
	switch (data->type) {
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO:
		data->u.gpa = persona_gpc_attr_get(&vx->vcpu_info_cache);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO:
		data->u.gpa = persona_gpc_attr_get(&vx->vcpu_time_info_cache);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		if (!vx->runstate_cache.active)
			return -ENOENT;
		data->u.gpa = vx->runstate_cache.gpa;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		data->u.runstate.state = vx->current_runstate;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		data->u.runstate.state = vx->current_runstate;
		data->u.runstate.state_entry_time = vx->runstate_entry_time;
		data->u.runstate.time_running =
			vx->runstate_times[RUNSTATE_running];
		data->u.runstate.time_runnable =
			vx->runstate_times[RUNSTATE_runnable];
		data->u.runstate.time_blocked =
			vx->runstate_times[RUNSTATE_blocked];
		data->u.runstate.time_offline =
			vx->runstate_times[RUNSTATE_offline];
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST:
		return sched_info_on() ? -EINVAL : -EOPNOTSUPP;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID:
		data->u.vcpu_id = vx->vcpu_id;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR:
		data->u.vector = vx->upcall_vector;
		return 0;
	}
	return -ENOENT;
}

/*
 * KVM_XEN_VCPU_GET_ATTR on a VM without the personality: what a fresh
 * vCPU reads back upstream, with nothing created.
 */
int persona_vcpu_attr_get_fresh(struct kvm_vcpu *vcpu,
				struct kvm_xen_vcpu_attr *data)
{
	switch (data->type) {
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO:
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO:
		data->u.gpa = PERSONA_GPA_INVALID;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
		return sched_info_on() ? -ENOENT : -EOPNOTSUPP;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT:
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		memset(&data->u.runstate, 0, sizeof(data->u.runstate));
		data->u.runstate.state = RUNSTATE_running;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST:
		return sched_info_on() ? -EINVAL : -EOPNOTSUPP;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID:
		data->u.vcpu_id = vcpu->vcpu_idx;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_TIMER:
		data->u.timer.port = 0;
		data->u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
		data->u.timer.expires_ns = 0;
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR:
		data->u.vector = 0;
		return 0;
	}
	return -ENOENT;
}

/*
 * The VMM's mm is being torn down and its pages are about to be freed,
 * but kvm.ko's own MMU notifier does not invalidate pfn caches on
 * release.  Once each cache's write lock has been taken here, no reader
 * still holds a mapping, and a timer or irqfd that comes later finds the
 * caches invalid; nothing can refresh them without the mm.
 */
void persona_shinfo_mm_release(struct persona_xen_vm *pvm)
{
	struct persona_xen_vcpu *vx;
	struct kvm_vcpu *vcpu;
	unsigned long i;

	persona_gpc_invalidate(&pvm->shinfo_cache);
	kvm_for_each_vcpu(i, vcpu, pvm->kvm) {
		if (!persona_vcpu_xen_ready(pvm, vcpu))
			continue;
		vx = persona_xen_vcpu_of(vcpu);
		persona_gpc_invalidate(&vx->vcpu_info_cache);
		persona_gpc_invalidate(&vx->vcpu_time_info_cache);
		persona_gpc_invalidate(&vx->runstate_cache);
	}
}

/* Before kvm.ko frees @vcpu. */
void persona_vcpu_xen_teardown(struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu_of(vcpu);

	del_timer_sync(&vx->poll_timer);
	persona_gpc_deactivate(vcpu->kvm, &vx->vcpu_info_cache);
	persona_gpc_deactivate(vcpu->kvm, &vx->vcpu_time_info_cache);
	persona_gpc_deactivate(vcpu->kvm, &vx->runstate_cache);
}
