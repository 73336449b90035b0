// SPDX-License-Identifier: GPL-2.0
/*
 * Grant tables between VMs, version 1: GNTTABOP_copy in the kernel.
 *
 * QEMU keeps each VM's grant table in frames of its own, and the guest
 * places them in its physical address space with XENMEM_add_to_physmap
 * (XENMAPSPACE_grant_table).  QEMU answers that call; the kernel, seeing
 * it succeed, records where each frame went.  A grant entry of VM X is
 * then ordinary guest memory of X, read and updated in X's VMM's address
 * space (persona_domain_call()), as is the page it grants.  Another VM
 * reaches X only through entries X wrote naming it: the copying domain's
 * ID must be the entry's, the entry must permit access, and a read-only
 * one is never written.  While a copy uses an entry, GTF_reading (and
 * GTF_writing for a destination) is set in it, as Xen does, so that the
 * granting guest does not end the grant under the copy; pin counts
 * decide when the flags go.
 *
 * Data moves through a bounce page: each side is claimed, copied and
 * released in its own domain's address space, so a copy between VMs of
 * two VMMs never needs both at once.  Xen's order of checks is kept:
 * domains, source claim, destination claim, then the bounds.
 */
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <xen/interface/xen.h>
#include <xen/interface/grant_table.h>
#include <xen/interface/memory.h>

#include "../kvm/boundary.h"
#include "domain.h"
#include "grant.h"
#include "xen.h"

#define PERSONA_GNT_PER_FRAME	(PAGE_SIZE / sizeof(struct grant_entry_v1))
/* Xen's and QEMU's default limit is 64 frames; more is refused here. */
#define PERSONA_GNT_MAX_FRAMES	1024
/* Xen gives up on an entry the guest keeps changing after 5 tries. */
#define PERSONA_GNT_TRIES	5
/* Copies per hypercall before kvm->srcu is let go (a restart). */
#define PERSONA_GNT_COPY_BATCH	256
/* Pin counts of an entry: all pins, and the writers among them. */
#define PERSONA_GNT_WRITER	0x10000ul

/* XENMEM_add_to_physmap's argument for 32-bit guests. */
struct persona_compat_add_to_physmap {
	u16 domid;
	u16 size;
	u32 space;
	u32 idx;
	u32 gpfn;
};

/* XENMEM_remove_from_physmap's argument for 32-bit guests. */
struct persona_compat_remove_from_physmap {
	u16 domid;
	u32 gpfn;
};

/*
 * One side of a copy that is a grant reference of @pvm (the granter),
 * with its data: allocated, since a worker may outlive the wait for it
 * (persona_domain_call()).
 */
struct persona_gnt_xfer {
	u16 grantee;
	u32 ref;
	bool write;
	bool in_bounds;
	u16 offset;
	u16 len;
	s16 status;
	u8 data[];
};

void persona_gnt_init(struct persona_xen_vm *pvm)
{
	xa_init(&pvm->gnt_frames);
	xa_init(&pvm->gnt_pins);
	mutex_init(&pvm->gnt_lock);
}

/*
 * VM teardown, in process context (the xarrays' lock is not irq-safe, so
 * not from the RCU callback that frees the VM's state).  No other VM can
 * be copying: those hold a reference to this VM, which would not be
 * being destroyed.
 */
void persona_gnt_teardown(struct persona_xen_vm *pvm)
{
	xa_destroy(&pvm->gnt_frames);
	xa_destroy(&pvm->gnt_pins);
}

void persona_gnt_free(struct persona_xen_vm *pvm)
{
	mutex_destroy(&pvm->gnt_lock);
}

/*
 * XENMEM_add_to_physmap: note a grant frame's placement, for
 * persona_gnt_complete() to record once the VMM has done it.
 */
/* Forget every frame placed at @gfn: that page is something else now. */
static void persona_gnt_forget_gfn(struct persona_xen_vm *pvm, u64 gfn)
{
	unsigned long idx;
	void *frame;

	xa_for_each(&pvm->gnt_frames, idx, frame)
		if (xa_to_value(frame) == gfn)
			xa_erase(&pvm->gnt_frames, idx);
}

/*
 * XENMEM_remove_from_physmap: the page leaves the guest's address space.
 * Forgotten before the VMM even answers: a copy that then fails is the
 * safe side.
 */
static void persona_gnt_remove_from_physmap(struct persona_xen_vm *pvm,
					    struct kvm_vcpu *vcpu, bool longmode,
					    u64 gva)
{
	struct persona_compat_remove_from_physmap xrfp32;
	struct xen_remove_from_physmap xrfp;

	if (longmode) {
		if (persona_kvm_read_guest_virt(vcpu, gva, &xrfp, sizeof(xrfp)))
			return;
	} else {
		if (persona_kvm_read_guest_virt(vcpu, gva, &xrfp32,
						sizeof(xrfp32)))
			return;
		xrfp.domid = xrfp32.domid;
		xrfp.gpfn = xrfp32.gpfn;
	}
	if (persona_domain_is_self(pvm, xrfp.domid))
		persona_gnt_forget_gfn(pvm, xrfp.gpfn);
}

/*
 * A soft reset: QEMU resets the grant table; the guest places its frames
 * again if it wants them.
 */
void persona_gnt_reset(struct persona_xen_vm *pvm)
{
	unsigned long idx;
	void *frame;

	xa_for_each(&pvm->gnt_frames, idx, frame)
		xa_erase(&pvm->gnt_frames, idx);
}

void persona_gnt_memory_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			   bool longmode, const u64 *params)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct persona_compat_add_to_physmap xatp32;
	struct xen_add_to_physmap xatp;

	if (params[0] == XENMEM_remove_from_physmap) {
		persona_gnt_remove_from_physmap(pvm, vcpu, longmode, params[1]);
		return;
	}
	if (params[0] != XENMEM_add_to_physmap)
		return;
	if (longmode) {
		if (persona_kvm_read_guest_virt(vcpu, params[1], &xatp,
						sizeof(xatp)))
			return;
	} else {
		if (persona_kvm_read_guest_virt(vcpu, params[1], &xatp32,
						sizeof(xatp32)))
			return;
		xatp.domid = xatp32.domid;
		xatp.space = xatp32.space;
		xatp.idx = xatp32.idx;
		xatp.gpfn = xatp32.gpfn;
	}
	/* Status frames (v2) have XENMAPIDX_grant_table_status set: too big. */
	if (xatp.space != XENMAPSPACE_grant_table ||
	    !persona_domain_is_self(pvm, xatp.domid) ||
	    xatp.idx >= PERSONA_GNT_MAX_FRAMES ||
	    xatp.gpfn >> (52 - PAGE_SHIFT))
		return;
	vx->gnt.idx = xatp.idx;
	vx->gnt.gfn = xatp.gpfn;
	vx->gnt.active = true;
}

void persona_gnt_complete(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			  u64 result, bool abandoned)
{
	struct persona_gnt_pending *p = &persona_xen_vcpu(pvm, vcpu)->gnt;

	if (!p->active)
		return;
	p->active = false;
	if (result || abandoned)
		return;
	/* Without memory the frame stays unknown: its grants fail. */
	xa_store(&pvm->gnt_frames, p->idx, xa_mk_value(p->gfn),
		 GFP_KERNEL_ACCOUNT);
}

/* Where entry @ref of @pvm's table is; -ENOENT if its frame is unknown. */
static int persona_gnt_entry_gpa(struct persona_xen_vm *pvm, u32 ref,
				 gpa_t *gpa)
{
	void *frame = xa_load(&pvm->gnt_frames, ref / PERSONA_GNT_PER_FRAME);

	if (!frame)
		return -ENOENT;
	*gpa = gfn_to_gpa(xa_to_value(frame)) +
	       (ref % PERSONA_GNT_PER_FRAME) * sizeof(struct grant_entry_v1);
	return 0;
}

/* Change entry @ref's pin counts by @delta; 0 or -ENOMEM. */
static int persona_gnt_pin(struct persona_xen_vm *pvm, u32 ref, long delta)
{
	void *old = xa_load(&pvm->gnt_pins, ref);
	unsigned long pins = (old ? xa_to_value(old) : 0) + delta;

	lockdep_assert_held(&pvm->gnt_lock);
	if (!pins) {
		xa_erase(&pvm->gnt_pins, ref);
		return 0;
	}
	return xa_err(xa_store(&pvm->gnt_pins, ref, xa_mk_value(pins),
			       GFP_KERNEL_ACCOUNT));
}

/*
 * Clear @bits in the entry's flags; the other half of the word (the
 * grantee's ID) is the guest's and is written back as it is read.
 */
static void persona_gnt_clear_flags(struct persona_xen_vm *pvm, gpa_t egpa,
				    u32 bits)
{
	u32 old;
	int i;

	if (persona_kvm_read_foreign(pvm->kvm, egpa, &old, sizeof(old)))
		return;
	/* A guest that keeps rewriting it keeps the flags it wrote. */
	for (i = 0; i < 64 && (old & bits); i++)
		if (persona_kvm_cmpxchg_foreign(pvm->kvm, egpa, &old,
						old & ~bits) <= 0)
			return;
}

static void persona_gnt_release(struct persona_xen_vm *pvm, u32 ref,
				gpa_t egpa, bool write)
{
	unsigned long pins;
	u32 clear = 0;
	void *v;

	mutex_lock(&pvm->gnt_lock);
	persona_gnt_pin(pvm, ref, -(1 + (write ? PERSONA_GNT_WRITER : 0)));
	v = xa_load(&pvm->gnt_pins, ref);
	pins = v ? xa_to_value(v) : 0;
	if (pins < PERSONA_GNT_WRITER)
		clear |= GTF_writing;
	if (!pins)
		clear |= GTF_reading;
	persona_gnt_clear_flags(pvm, egpa, clear);
	mutex_unlock(&pvm->gnt_lock);
}

/*
 * Check entry @ref for @x's grantee and access, set GTF_reading (and
 * GTF_writing) and pin it.  Returns a GNTST_ code; on success *frame is
 * the granted page.
 */
static s16 persona_gnt_acquire(struct persona_xen_vm *pvm,
			       struct persona_gnt_xfer *x, gpa_t egpa,
			       u32 *frame)
{
	u32 bits = GTF_reading | (x->write ? GTF_writing : 0);
	bool set_here = false;
	u32 old, flags;
	int i, r = 1;
	u8 probe;

	lockdep_assert_held(&pvm->gnt_lock);
	if (persona_kvm_read_foreign(pvm->kvm, egpa, &old, sizeof(old)))
		return GNTST_general_error;
	for (i = 0; i < PERSONA_GNT_TRIES && r > 0; i++) {
		/* The flags, then the grantee's ID, in one word. */
		flags = old & 0xffff;
		if ((flags & GTF_type_mask) != GTF_permit_access ||
		    (old >> 16) != x->grantee ||
		    (x->write && (flags & GTF_readonly)))
			return GNTST_general_error;
		/* Set already: another copy holds it too. */
		if ((old & bits) == bits) {
			r = 0;
			break;
		}
		r = persona_kvm_cmpxchg_foreign(pvm->kvm, egpa, &old,
						old | bits);
		if (r < 0)
			return GNTST_general_error;
		set_here = !r;
	}
	if (r > 0)
		return GNTST_general_error;

	if (persona_gnt_pin(pvm, x->ref,
			    1 + (x->write ? PERSONA_GNT_WRITER : 0))) {
		/* Only what no other copy holds. */
		if (set_here && !xa_load(&pvm->gnt_pins, x->ref))
			persona_gnt_clear_flags(pvm, egpa, bits);
		return GNTST_general_error;
	}
	/* The frame is read only once the entry is pinned. */
	if (persona_kvm_read_foreign(pvm->kvm, egpa + 4, frame, sizeof(*frame)) ||
	    persona_kvm_read_foreign(pvm->kvm, gfn_to_gpa(*frame), &probe, 1))
		return GNTST_bad_page;
	return GNTST_okay;
}

/* One side in the granter's address space (persona_domain_call()). */
static int persona_gnt_xfer_fn(struct persona_xen_vm *pvm, void *ctx)
{
	struct persona_gnt_xfer *x = ctx;
	gpa_t egpa, gpa;
	u32 frame;
	int r;

	if (persona_gnt_entry_gpa(pvm, x->ref, &egpa)) {
		x->status = GNTST_bad_gntref;
		return 0;
	}
	mutex_lock(&pvm->gnt_lock);
	x->status = persona_gnt_acquire(pvm, x, egpa, &frame);
	mutex_unlock(&pvm->gnt_lock);
	if (x->status == GNTST_general_error)
		return 0;

	if (x->status == GNTST_okay && !x->in_bounds && x->write) {
		x->status = GNTST_bad_copy_arg;
	} else if (x->status == GNTST_okay && x->in_bounds && x->len) {
		gpa = gfn_to_gpa(frame) + x->offset;
		if (x->write)
			r = persona_kvm_write_foreign(pvm->kvm, gpa, x->data,
						      x->len);
		else
			r = persona_kvm_read_foreign(pvm->kvm, gpa, x->data,
						     x->len);
		if (r)
			x->status = GNTST_general_error;
	}
	persona_gnt_release(pvm, x->ref, egpa, x->write);
	return 0;
}

/*
 * A side named by the caller's own frame number.  Out of bounds, only
 * the frame is checked (and the destination reports the bounds).
 */
static s16 persona_gnt_local(struct kvm_vcpu *vcpu,
			     const struct gnttab_copy_ptr *ptr, bool write,
			     bool in_bounds, void *buf, u16 len)
{
	gpa_t gpa;
	u8 probe;
	int r;

	if (ptr->u.gmfn >> (52 - PAGE_SHIFT))
		return GNTST_bad_page;
	gpa = gfn_to_gpa(ptr->u.gmfn);
	if (kvm_vcpu_read_guest(vcpu, gpa, &probe, 1))
		return GNTST_bad_page;
	if (!in_bounds)
		return write ? GNTST_bad_copy_arg : GNTST_okay;
	/* Xen copies nothing, and checks no more, for a zero length. */
	if (!len)
		return GNTST_okay;
	if (write)
		r = kvm_vcpu_write_guest(vcpu, gpa + ptr->offset, buf, len);
	else
		r = kvm_vcpu_read_guest(vcpu, gpa + ptr->offset, buf, len);
	return r ? GNTST_general_error : GNTST_okay;
}

/* The domain of one side: NULL for a local frame (caller's own). */
static s16 persona_gnt_side_domain(struct persona_xen_vm *pvm,
				   const struct gnttab_copy_ptr *ptr,
				   bool gref, struct persona_xen_vm **dom)
{
	*dom = NULL;
	if (!gref)
		/* Frame numbers are only ever the caller's own. */
		return ptr->domid == DOMID_SELF ? GNTST_okay :
						  GNTST_permission_denied;
	*dom = persona_domain_get(pvm, ptr->domid);
	return *dom ? GNTST_okay : GNTST_bad_domain;
}

static s16 persona_gnt_side(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			    struct persona_xen_vm *granter,
			    const struct gnttab_copy_ptr *ptr, bool write,
			    bool in_bounds, void *buf, u16 len)
{
	bool data = in_bounds && len;
	struct persona_gnt_xfer *x;
	s16 st;
	int r;

	if (!granter)
		return persona_gnt_local(vcpu, ptr, write, in_bounds, buf, len);

	x = kmalloc(struct_size(x, data, data ? len : 0), GFP_KERNEL_ACCOUNT);
	if (!x)
		return GNTST_general_error;
	*x = (struct persona_gnt_xfer){
		.grantee = persona_domain_id(pvm),
		.ref = ptr->u.ref,
		.write = write,
		.in_bounds = in_bounds,
		.offset = ptr->offset,
		.len = len,
	};
	if (write && data)
		memcpy(x->data, buf, len);

	r = persona_domain_call(granter, persona_gnt_xfer_fn, x);
	/* Given up (a fatal signal): the worker frees @x. */
	if (r == -EINTR)
		return GNTST_general_error;
	/* Its VMM's address space is gone: the domain is dying. */
	st = r == -ESRCH ? GNTST_bad_domain : r ? GNTST_general_error :
	     x->status;
	if (!st && !write && data)
		memcpy(buf, x->data, len);
	kfree(x);
	return st;
}

static s16 persona_gnt_copy_one(struct persona_xen_vm *pvm,
				struct kvm_vcpu *vcpu,
				const struct gnttab_copy *op, void *buf)
{
	bool in_bounds = op->source.offset + op->len <= PAGE_SIZE &&
			 op->dest.offset + op->len <= PAGE_SIZE;
	struct persona_xen_vm *src, *dst = NULL;
	s16 st;

	/* Xen ignores flags it does not know. */
	st = persona_gnt_side_domain(pvm, &op->source,
				     op->flags & GNTCOPY_source_gref, &src);
	if (!st)
		st = persona_gnt_side_domain(pvm, &op->dest,
					     op->flags & GNTCOPY_dest_gref, &dst);
	if (!st)
		st = persona_gnt_side(pvm, vcpu, src, &op->source, false,
				      in_bounds, buf, op->len);
	if (!st)
		st = persona_gnt_side(pvm, vcpu, dst, &op->dest, true,
				      in_bounds, buf, op->len);
	persona_domain_put(pvm, src);
	persona_domain_put(pvm, dst);
	return st;
}

/*
 * GNTTABOP_copy, 64-bit callers.  Every op gets its status; the call
 * fails (-EFAULT) only if an op cannot be read or its status written.
 * Long batches are cut, as Xen cuts them: the guest makes the call again
 * for the rest (its argument registers moved on), which lets a pending
 * signal or a memslot update in.
 */
static enum persona_gnt_action persona_gnt_copy(struct persona_xen_vm *pvm,
						struct kvm_vcpu *vcpu, u64 uop,
						u32 count, u64 *r)
{
	struct gnttab_copy op;
	u64 gva;
	void *buf;
	u32 i;

	if ((int)count < 0) {
		*r = -XEN_EINVAL;
		return PERSONA_GNT_DONE;
	}
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!buf) {
		*r = -XEN_ENOMEM;
		return PERSONA_GNT_DONE;
	}

	*r = 0;
	for (i = 0; i < count; i++) {
		gva = uop + (u64)i * sizeof(op);
		if (i && (i % PERSONA_GNT_COPY_BATCH == 0 ||
			  signal_pending(current))) {
			persona_kvm_reg_write(vcpu, PERSONA_RSI, gva);
			persona_kvm_reg_write(vcpu, PERSONA_RDX, count - i);
			kfree(buf);
			return PERSONA_GNT_RESTART;
		}
		if (persona_kvm_read_guest_virt(vcpu, gva, &op, sizeof(op))) {
			*r = -XEN_EFAULT;
			break;
		}
		op.status = persona_gnt_copy_one(pvm, vcpu, &op, buf);
		if (persona_kvm_write_guest_virt(vcpu,
						 gva + offsetof(struct gnttab_copy, status),
						 &op.status, sizeof(op.status))) {
			*r = -XEN_EFAULT;
			break;
		}
		cond_resched();
	}
	kfree(buf);
	return PERSONA_GNT_DONE;
}

/*
 * __HYPERVISOR_grant_table_op: GNTTABOP_copy is the kernel's (QEMU has
 * none); 32-bit callers' layout is not implemented and goes to the VMM.
 */
enum persona_gnt_action
persona_hcall_grant_table_op(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu,
			     bool longmode, const u64 *params, u64 *r)
{
	if (params[0] != GNTTABOP_copy || !longmode)
		return PERSONA_GNT_VMM;
	return persona_gnt_copy(pvm, vcpu, params[1], params[2], r);
}
