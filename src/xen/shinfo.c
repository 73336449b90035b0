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
	struct persona_gpc *gpc = &pvm->shinfo_cache;
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

/*
 * KVM_XEN_ATTR_TYPE_SHARED_INFO (@addr a frame number) and _HVA (@addr the
 * VMM's address of the page); caller holds pvm->lock.
 */
int persona_shinfo_set(struct persona_xen_vm *pvm, u64 addr, bool by_hva)
{
	struct persona_gpc *gpc = &pvm->shinfo_cache;
	struct kvm *kvm = pvm->kvm;
	int idx, r = 0;

	lockdep_assert_held(&pvm->lock);
	idx = srcu_read_lock(&kvm->srcu);
	if (by_hva ? !addr : addr == PERSONA_XEN_INVALID_GFN)
		persona_gpc_deactivate(kvm, gpc);
	else if (by_hva)
		r = persona_gpc_activate_hva(kvm, gpc, addr, PAGE_SIZE);
	else if (addr >= (1ULL << (52 - PAGE_SHIFT)))
		r = -EINVAL;
	else
		r = persona_gpc_activate(kvm, gpc, gfn_to_gpa(addr), PAGE_SIZE);
	if (!r && persona_gpc_active(gpc))
		r = persona_shinfo_write_wallclock(pvm);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/* Where shared_info is, by frame or by VMM address, as it was set. */
u64 persona_shinfo_gfn(struct persona_xen_vm *pvm)
{
	gpa_t gpa = persona_gpc_gpa(&pvm->shinfo_cache);

	return gpa == PERSONA_GPA_INVALID ? PERSONA_XEN_INVALID_GFN :
					    gpa_to_gfn(gpa);
}

unsigned long persona_shinfo_hva(struct persona_xen_vm *pvm)
{
	return persona_gpc_hva(&pvm->shinfo_cache);
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
	if (old != lm && persona_gpc_active(&pvm->shinfo_cache))
		return persona_shinfo_write_wallclock(pvm);
	return 0;
}

/*
 * Is evtchn_upcall_pending set in the vCPU's vcpu_info?  Where kvm.ko
 * asks (@may_sleep false) the caller may be atomic, and on a kernel
 * without CONFIG_PREEMPT_COUNT that cannot be told (preemptible() is
 * always false there).  If the page is not mapped:
 *  - a vCPU about to block (not running) is told "pending", as upstream
 *    does: it wakes and looks again awake, where it may map the page;
 *  - elsewhere, unless the caller may sleep, "not pending", and the run
 *    loop maps the page and looks again (persona_upcall_catch_up()).
 *    Saying "pending" there would inject an upcall the guest did not
 *    ask for.
 */
bool persona_upcall_pending(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    bool may_sleep)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct persona_gpc *gpc = &vx->vcpu_info_cache;
	const unsigned long len = sizeof(struct vcpu_info);
	unsigned long flags;
	u8 pending;

	if (!persona_gpc_active(gpc))
		return false;
	persona_gpc_lock(gpc, flags);
	while (!persona_gpc_check(vcpu->kvm, gpc, len)) {
		persona_gpc_unlock(gpc, flags);
		if (!task_is_running(current))
			return true;
		if (!may_sleep &&
		    !(IS_ENABLED(CONFIG_PREEMPT_COUNT) && preemptible())) {
			set_bit(vcpu->vcpu_idx, pvm->upcall_stale);
			return false;
		}
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
				  struct persona_gpc *gpc,
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
 * Xen's CPUID time leaf (base + 3): subleaf 1 carries the guest TSC's
 * scaling to system time (ECX mul, EDX shift), subleaf 2 its frequency in
 * kHz (EAX).  Where userspace put the leaves in the vCPU's CPUID, keep
 * them in step with the pvclock, as upstream does since 6.3.
 */
#define XEN_CPUID_SIG_EBX	0x566e6558	/* "XenV" */
#define XEN_CPUID_SIG_ECX	0x65584d4d	/* "MMXe" */
#define XEN_CPUID_SIG_EDX	0x4d4d566e	/* "nVMM" */
#define XEN_CPUID_FIRST		0x40000000u
#define XEN_CPUID_LAST		0x4fffff00u
#define XEN_CPUID_TIME_LEAF	3

static void persona_cpuid_tsc_update(struct kvm_vcpu *vcpu,
				     const struct pvclock_vcpu_time_info *clock)
{
	struct kvm_cpuid_entry2 *e;
	u32 base = 0, limit = 0, leaf;
	int i;

	/* One pass finds the Xen signature (the lowest base wins)... */
	for (i = 0; (e = persona_kvm_cpuid_entry(vcpu, i)); i++) {
		if (e->function < XEN_CPUID_FIRST || e->function > XEN_CPUID_LAST ||
		    (e->function & 0xff) || e->ebx != XEN_CPUID_SIG_EBX ||
		    e->ecx != XEN_CPUID_SIG_ECX || e->edx != XEN_CPUID_SIG_EDX)
			continue;
		if (!base || e->function < base) {
			base = e->function;
			limit = e->eax;
		}
	}
	leaf = base + XEN_CPUID_TIME_LEAF;
	if (!base || leaf > limit)
		return;

	/* ... and one more fills in the time leaf's subleaves. */
	for (i = 0; (e = persona_kvm_cpuid_entry(vcpu, i)); i++) {
		if (e->function != leaf)
			continue;
		if (e->index == 1) {
			e->ecx = clock->tsc_to_system_mul;
			e->edx = clock->tsc_shift;
		} else if (e->index == 2) {
			e->eax = persona_kvm_tsc_khz(vcpu);
		}
	}
}

/*
 * kvm.ko has computed the vCPU's pvclock (kvm_guest_time_update()): copy
 * it to the vcpu_info's time field and to the separate vcpu_time_info, as
 * upstream's kvm.ko does itself when built with CONFIG_KVM_XEN.  The
 * field sits at the same offset in both vcpu_info layouts.  A VMM that
 * cannot promise the guest a stable TSC across migration asks for the
 * stable bit to be left out of Xen's copies
 * (KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE); kvmclock keeps it.
 */
void persona_pvclock_update(struct persona_xen_vm *pvm,
			    struct persona_xen_vcpu *vx,
			    const struct pvclock_vcpu_time_info *clock)
{
	struct pvclock_vcpu_time_info xen_clock = *clock;

	if (READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE)
		xen_clock.flags &= ~PVCLOCK_TSC_STABLE_BIT;
	persona_pvclock_write(vx->vcpu, &vx->vcpu_info_cache,
			      offsetof(struct persona_compat_vcpu_info, time),
			      &xen_clock);
	persona_pvclock_write(vx->vcpu, &vx->vcpu_time_info_cache, 0,
			      &xen_clock);
	persona_cpuid_tsc_update(vx->vcpu, clock);
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
	if (READ_ONCE(pvm->upcall_vector) &&
	    persona_upcall_pending(pvm, vcpu, true))
		kvm_make_request(KVM_REQ_EVENT, vcpu);
}

/* From the run loop: look again where persona_upcall_pending() could not. */
bool persona_upcall_stale(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	return test_bit(vcpu->vcpu_idx, pvm->upcall_stale);
}

void persona_upcall_catch_up(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	if (test_and_clear_bit(vcpu->vcpu_idx, pvm->upcall_stale))
		persona_upcall_recheck(pvm, vcpu);
}

/* Runstate accounting, in guest (kvmclock) nanoseconds. */
static void persona_runstate_account(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu, int state)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
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

/* Where the runstate area's parts lie, for the guest's current layout. */
struct persona_runstate_layout {
	size_t len, times_off;
};

static struct persona_runstate_layout
persona_runstate_layout(struct persona_xen_vm *pvm)
{
	struct persona_runstate_layout l;

	if (persona_xen_long_mode(pvm)) {
		l.len = sizeof(struct vcpu_runstate_info);
		l.times_off = offsetof(struct vcpu_runstate_info,
				       state_entry_time);
	} else {
		l.len = sizeof(struct persona_compat_runstate_info);
		l.times_off = offsetof(struct persona_compat_runstate_info,
				       state_entry_time);
	}
	return l;
}

/*
 * The runstate as the guest's layout has it: the state, then
 * state_entry_time and the four times, packed or after 4 bytes of
 * padding (zero, as Xen writes it).
 */
static void persona_runstate_image(struct persona_xen_vcpu *vx, u8 *img,
				   size_t times_off, u64 entry_time)
{
	int state = vx->current_runstate;

	memset(img, 0, times_off);
	memcpy(img, &state, sizeof(state));
	memcpy(img + times_off, &entry_time, sizeof(entry_time));
	memcpy(img + times_off + sizeof(entry_time), vx->runstate_times,
	       sizeof(vx->runstate_times));
}

/*
 * Under both caches' locks: is the runstate area mapped at @gpa, for @len1
 * bytes in the first page and @len2 in the second (0: it fits in one)?
 */
static bool persona_runstate_mapped(struct kvm *kvm, struct persona_gpc *gpc1,
				    struct persona_gpc *gpc2, gpa_t gpa,
				    size_t len1, size_t len2)
{
	if (persona_gpc_gpa(gpc1) != gpa || !persona_gpc_check(kvm, gpc1, len1))
		return false;
	/* Still mapping where an earlier address or layout ended? */
	return !len2 || (persona_gpc_gpa(gpc2) == gpa + len1 &&
			 persona_gpc_check(kvm, gpc2, len2));
}

/*
 * Map what persona_runstate_mapped() found unmapped.  The second page's
 * cache is (re)activated where the area now ends: the guest may have
 * switched to the longer 64-bit layout since the address was set.
 */
static int persona_runstate_map(struct kvm *kvm, struct persona_gpc *gpc1,
				struct persona_gpc *gpc2, gpa_t gpa,
				size_t len1, size_t len2)
{
	int idx, r;

	r = persona_gpc_refresh(kvm, gpc1, len1);
	if (r || !len2)
		return r;
	if (persona_gpc_gpa(gpc2) == gpa + len1)
		return persona_gpc_refresh(kvm, gpc2, len2);
	idx = srcu_read_lock(&kvm->srcu);
	r = persona_gpc_activate(kvm, gpc2, gpa + len1, len2);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/*
 * Copy the runstate into the guest's area, which Xen lets cross a page.
 * With the update flag (KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG) the
 * guest sees XEN_RUNSTATE_UPDATE in state_entry_time while the copy is
 * in progress; it is set and cleared through the byte that holds it, as
 * Xen does, since that byte may be in either page.  Without @may_sleep
 * (scheduled in or out) nothing is mapped or waited for: a miss is caught
 * up from the next KVM_RUN.
 */
static void persona_runstate_write(struct persona_xen_vm *pvm,
				   struct kvm_vcpu *vcpu, bool may_sleep)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct persona_gpc *gpc1 = &vx->runstate_cache;
	struct persona_gpc *gpc2 = &vx->runstate2_cache;
	struct persona_runstate_layout l = persona_runstate_layout(pvm);
	u8 img[sizeof(struct vcpu_runstate_info)];
	size_t len1, len2, bit_off;
	u64 entry_time;
	u8 *bit = NULL;
	unsigned long flags;
	gpa_t gpa;

	for (;;) {
		gpa = persona_gpc_gpa(gpc1);
		if (gpa == PERSONA_GPA_INVALID)
			return;
		len1 = min_t(size_t, l.len, PAGE_SIZE - offset_in_page(gpa));
		len2 = l.len - len1;

		/*
		 * Both locks, whether the area needs the second page or not:
		 * one lock context on every path.  The first is the outer.
		 */
		if (may_sleep) {
			persona_gpc_lock(gpc1, flags);
		} else {
			local_irq_save(flags);
			if (!persona_gpc_trylock(gpc1)) {
				local_irq_restore(flags);
				goto stale;
			}
		}
		persona_gpc_nest_first(gpc1);
		if (may_sleep) {
			persona_gpc_lock_second(gpc2);
		} else if (!persona_gpc_trylock_second(gpc2)) {
			persona_gpc_unlock(gpc1, flags);
			goto stale;
		}
		if (persona_runstate_mapped(vcpu->kvm, gpc1, gpc2, gpa, len1, len2))
			break;
		persona_gpc_unlock_second(gpc2);
		persona_gpc_unlock(gpc1, flags);
		if (!may_sleep ||
		    persona_runstate_map(vcpu->kvm, gpc1, gpc2, gpa, len1, len2))
			goto stale;
	}
	clear_bit(vcpu->vcpu_idx, pvm->runstate_stale);

	entry_time = vx->runstate_entry_time;
	if (READ_ONCE(pvm->runstate_update_flag)) {
		/* The top byte of state_entry_time, little-endian. */
		bit_off = l.times_off + sizeof(u64) - 1;
		bit = bit_off < len1 ? persona_gpc_khva(gpc1) + bit_off :
				       persona_gpc_khva(gpc2) + bit_off - len1;
		entry_time |= XEN_RUNSTATE_UPDATE;
		WRITE_ONCE(*bit, entry_time >> 56);
		/* The guest must see the flag before any new field... */
		smp_wmb();
	}

	persona_runstate_image(vx, img, l.times_off, entry_time);
	memcpy(persona_gpc_khva(gpc1), img, len1);
	if (len2)
		memcpy(persona_gpc_khva(gpc2), img + len1, len2);

	if (bit) {
		/* ... and every new field before the flag clears. */
		smp_wmb();
		WRITE_ONCE(*bit, vx->runstate_entry_time >> 56);
	}

	if (len2)
		persona_gpc_mark_dirty(vcpu, gpc2);
	persona_gpc_mark_dirty(vcpu, gpc1);
	persona_gpc_unlock_second(gpc2);
	persona_gpc_unlock(gpc1, flags);
	return;

stale:
	/* Catch up from the next KVM_RUN. */
	set_bit(vcpu->vcpu_idx, pvm->runstate_stale);
}

static void persona_runstate_set(struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu, int state,
				 bool may_sleep)
{
	persona_runstate_account(pvm, vcpu, state);
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
				struct persona_gpc *gpc, u64 gpa,
				unsigned long len)
{
	if (gpa == PERSONA_GPA_INVALID) {
		persona_gpc_deactivate(vcpu->kvm, gpc);
		return 0;
	}
	return persona_gpc_activate(vcpu->kvm, gpc, gpa, len);
}

/*
 * KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO (by guest physical address) and
 * _VCPU_INFO_HVA (by the VMM's; 6.12's u.hva is the word of u.gpa).  As
 * Xen (for 32-bit guests) and upstream since 6.2: the event selector
 * must at least be 32-bit aligned.
 */
static int persona_vcpu_info_set(struct kvm_vcpu *vcpu, struct persona_gpc *gpc,
				 const struct kvm_xen_vcpu_attr *data)
{
	bool by_hva = data->type == KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA;
	u64 addr = data->u.gpa;
	int r;

	if (by_hva ? !addr : addr == PERSONA_GPA_INVALID) {
		persona_gpc_deactivate(vcpu->kvm, gpc);
		return 0;
	}
	if (!IS_ALIGNED(addr, sizeof(u32)))
		return -ENXIO;
	if (by_hva)
		r = persona_gpc_activate_hva(vcpu->kvm, gpc, addr,
					     sizeof(struct vcpu_info));
	else
		r = persona_gpc_activate(vcpu->kvm, gpc, addr,
					 sizeof(struct vcpu_info));
	if (!r)
		kvm_make_request(KVM_REQ_CLOCK_UPDATE, vcpu);
	return r;
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

	/* Switch state, or just show the guest the adjusted times. */
	if (persona_runstate_valid(state))
		persona_runstate_set(pvm, vcpu, state, true);
	else
		persona_runstate_write(pvm, vcpu, true);
	return 0;
}

/*
 * KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR.  Xen puts no alignment on the
 * area, so it may cross into a second page; map the rest of the first
 * page (the guest may switch to the longer layout later) and, if the
 * area does not fit, its tail in the second.  Then write the runstate
 * there, as VCPUOP_register_runstate_memory_area does in Xen.
 */
static int persona_runstate_addr_set(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu, gpa_t gpa)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	size_t len = persona_runstate_layout(pvm).len, len1;
	struct kvm *kvm = vcpu->kvm;
	int r = 0;

	if (gpa == PERSONA_GPA_INVALID)
		goto deactivate;

	len1 = PAGE_SIZE - offset_in_page(gpa);
	r = persona_gpc_activate(kvm, &vx->runstate_cache, gpa, len1);
	if (r)
		goto deactivate;
	if (len1 < len)
		r = persona_gpc_activate(kvm, &vx->runstate2_cache, gpa + len1,
					 len - len1);
	else
		persona_gpc_deactivate(kvm, &vx->runstate2_cache);
	if (r)
		goto deactivate;

	persona_runstate_write(pvm, vcpu, true);
	return 0;

deactivate:
	persona_gpc_deactivate(kvm, &vx->runstate_cache);
	persona_gpc_deactivate(kvm, &vx->runstate2_cache);
	return r;
}

static int persona_runstate_attr_set(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu,
				     struct kvm_xen_vcpu_attr *data)
{
	if (!sched_info_on())
		return -EOPNOTSUPP;

	switch (data->type) {
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
		return persona_runstate_addr_set(pvm, vcpu, data->u.gpa);
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
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA:
		r = persona_vcpu_info_set(vcpu, &vx->vcpu_info_cache, data);
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
		data->u.gpa = persona_gpc_gpa(&vx->vcpu_info_cache);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA:
		data->u.gpa = persona_gpc_hva(&vx->vcpu_info_cache);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO:
		data->u.gpa = persona_gpc_gpa(&vx->vcpu_time_info_cache);
		return 0;
	case KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR:
		if (!sched_info_on())
			return -EOPNOTSUPP;
		if (!persona_gpc_active(&vx->runstate_cache))
			return -ENOENT;
		data->u.gpa = persona_gpc_gpa(&vx->runstate_cache);
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
	case KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA:
		data->u.gpa = 0;
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
		persona_gpc_invalidate(&vx->runstate2_cache);
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
	persona_gpc_deactivate(vcpu->kvm, &vx->runstate2_cache);
}
