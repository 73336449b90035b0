// SPDX-License-Identifier: GPL-2.0
/*
 * Xen hypercalls: the hypercall page, and the VMCALL/VMMCALL dispatch.
 *
 * Calls the kernel can answer are answered here; everything else leaves
 * KVM_RUN as KVM_EXIT_XEN for the VMM, which hands back the result in
 * run->xen.u.hcall.result.
 */
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <xen/interface/xen.h>
#include <xen/interface/event_channel.h>
#include <xen/interface/sched.h>
#include <xen/interface/version.h>

#include "../kvm/boundary.h"
#include "evtchn.h"
#include "grant.h"
#include "hypercall.h"
#include "interdomain.h"
#include "shinfo.h"
#include "timer.h"
#include "trace.h"
#include "vcpu.h"
#include "xen.h"

#define XEN_HCALL_STUB_SIZE	32

/*
 * Each 32-byte stub is "mov $nr, %eax; vmcall/vmmcall; ret", padded with
 * int3.  The instruction is the host vendor's, so it never needs KVM's
 * #UD emulation.
 */
static int persona_xen_fill_hypercall_page(struct kvm_vcpu *vcpu, u64 gpa)
{
	u8 *page, *stub;
	u32 nr;
	int r;

	page = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!page)
		return -ENOMEM;

	memset(page, 0xcc, PAGE_SIZE);
	for (nr = 0; nr < PAGE_SIZE / XEN_HCALL_STUB_SIZE; nr++) {
		stub = page + nr * XEN_HCALL_STUB_SIZE;
		stub[0] = 0xb8;
		memcpy(stub + 1, &nr, sizeof(nr));
		persona_kvm_patch_hypercall(vcpu, stub + 5);
		stub[8] = 0xc3;
	}

	r = kvm_vcpu_write_guest(vcpu, gpa, page, PAGE_SIZE) ? 1 : 0;
	kfree(page);
	return r;
}

/* Without interception the VMM supplies the pages, 32- and 64-bit. */
static int persona_xen_copy_blob_page(struct persona_xen_vm *pvm,
				      struct kvm_vcpu *vcpu, bool lm,
				      u32 page_num, u64 gpa)
{
	u64 blob_addr;
	u8 blob_size;
	void *page;
	int r;

	mutex_lock(&pvm->lock);
	blob_addr = lm ? pvm->blob_addr_64 : pvm->blob_addr_32;
	blob_size = lm ? pvm->blob_size_64 : pvm->blob_size_32;
	mutex_unlock(&pvm->lock);

	if (page_num >= blob_size)
		return 1;

	page = memdup_user(u64_to_user_ptr(blob_addr +
					   (u64)page_num * PAGE_SIZE),
			   PAGE_SIZE);
	if (IS_ERR(page))
		return PTR_ERR(page);

	r = kvm_vcpu_write_guest(vcpu, gpa, page, PAGE_SIZE) ? 1 : 0;
	kfree(page);
	return r;
}

/*
 * A write to the Xen MSR: the low 12 bits select a page of the hypercall
 * area, the rest is its guest-physical address.  Returns 1 for #GP.
 */
int persona_xen_write_hypercall_page(struct persona_xen_vm *pvm,
				     struct kvm_vcpu *vcpu, u64 data)
{
	u32 page_num = data & ~PAGE_MASK;
	u64 gpa = data & PAGE_MASK;
	bool lm = persona_kvm_is_long_mode(vcpu);
	bool intercept;
	int r;

	/* Xen latches the guest's word size here; so does upstream KVM. */
	WRITE_ONCE(pvm->long_mode, lm);

	intercept = READ_ONCE(pvm->flags) & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
	if (intercept)
		r = page_num ? 1 : persona_xen_fill_hypercall_page(vcpu, gpa);
	else
		r = persona_xen_copy_blob_page(pvm, vcpu, lm, page_num, gpa);
	trace_kvm_xen_hypercall_page(vcpu->vcpu_id, gpa, page_num, lm,
				     intercept, r);
	return r;
}

static int persona_xen_hypercall_set_result(struct kvm_vcpu *vcpu, u64 result)
{
	persona_kvm_reg_write(vcpu, PERSONA_RAX, result);
	return kvm_skip_emulated_instruction(vcpu);
}

/*
 * Re-entry after KVM_EXIT_XEN.  If userspace moved RIP (e.g. it injected
 * an exception or restored state) the hypercall is abandoned.  Events the
 * VMM raised meanwhile need no look here: the KVM_RUN hook that brought
 * us back has just checked evtchn_upcall_pending.
 */
static int persona_xen_hypercall_complete(struct kvm_vcpu *vcpu)
{
	struct persona_xen_vm *pvm = persona_xen_vm_of(vcpu->kvm);
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	bool abandoned = !kvm_is_linear_rip(vcpu, vx->hypercall_rip);
	u64 result;

	/* Calls the VMM helped with are finished here. */
	result = vcpu->run->xen.u.hcall.result;
	persona_gnt_complete(pvm, vcpu, result, abandoned);
	result = persona_idc_complete(pvm, vcpu, result, abandoned);
	trace_kvm_xen_hypercall_done(vcpu->vcpu_id,
				     vcpu->run->xen.u.hcall.input, result,
				     abandoned ? PERSONA_TRACE_HCALL_ABANDONED :
						 PERSONA_TRACE_HCALL_VMM);
	if (abandoned)
		return 1;
	return persona_xen_hypercall_set_result(vcpu, result);
}

static bool persona_xen_hcall_xen_version(struct persona_xen_vm *pvm, u64 cmd,
					  u64 *r)
{
	u32 version = READ_ONCE(pvm->xen_version);

	if (cmd != XENVER_version || !version)
		return false;
	*r = version;
	return true;
}

static int persona_xen_hypercall_exit(struct persona_xen_vm *pvm,
				      struct kvm_vcpu *vcpu, bool longmode,
				      int cpl, u64 input, const u64 *params)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	struct kvm_run *run = vcpu->run;
	int i;

	vx->hypercall_rip = kvm_get_linear_rip(vcpu);

	run->exit_reason = KVM_EXIT_XEN;
	run->xen.type = KVM_EXIT_XEN_HCALL;
	run->xen.u.hcall.longmode = longmode;
	run->xen.u.hcall.cpl = cpl;
	run->xen.u.hcall.input = input;
	run->xen.u.hcall.result = 0;
	for (i = 0; i < 6; i++)
		run->xen.u.hcall.params[i] = params[i];

	persona_kvm_set_complete_userspace(vcpu,
					   persona_xen_hypercall_complete);
	return 0;
}

/*
 * SCHEDOP_shutdown(SHUTDOWN_soft_reset): QEMU closes all the VM's ports
 * and resets its grant table without telling KVM, so the kernel's links
 * to other domains go first.  The call then goes on to the VMM.
 */
static void persona_xen_sched_shutdown(struct persona_xen_vm *pvm,
				       struct kvm_vcpu *vcpu, u64 gva)
{
	struct sched_shutdown sd;

	if (persona_kvm_read_guest_virt(vcpu, gva, &sd, sizeof(sd)) ||
	    sd.reason != SHUTDOWN_soft_reset)
		return;
	persona_idc_reset(pvm);
	persona_gnt_reset(pvm);
}

/* Hypercall argument registers, in Xen's order for each word size. */
static const enum persona_reg persona_xen_args_64[6] = {
	PERSONA_RDI, PERSONA_RSI, PERSONA_RDX,
	PERSONA_R10, PERSONA_R8, PERSONA_R9,
};

static const enum persona_reg persona_xen_args_32[6] = {
	PERSONA_RBX, PERSONA_RCX, PERSONA_RDX,
	PERSONA_RSI, PERSONA_RDI, PERSONA_RBP,
};

/* For debugfs.c: a plain counter, as only the vCPU's thread writes it. */
static void persona_xen_hypercall_count(struct persona_xen_vcpu *vx, u64 nr,
					bool vmm)
{
	u64 *c = &vx->hcalls[min_t(u64, nr, PERSONA_XEN_HCALL_ROWS - 1)][vmm];

	WRITE_ONCE(*c, *c + 1);
}

int persona_xen_hypercall(struct persona_xen_vm *pvm, struct kvm_vcpu *vcpu)
{
	const enum persona_reg *regs;
	bool longmode, handled = false;
	u64 input, params[6], r = -XEN_ENOSYS;
	struct persona_xen_vcpu *vx;
	int cpl, i;

	/* The first hypercall makes the vCPU's Xen state. */
	vx = persona_vcpu_xen(pvm, vcpu);
	if (!vx)
		return -ENOMEM;
	longmode = persona_kvm_is_64bit_hypercall(vcpu);
	regs = longmode ? persona_xen_args_64 : persona_xen_args_32;
	input = persona_kvm_reg_read(vcpu, PERSONA_RAX);
	for (i = 0; i < 6; i++)
		params[i] = persona_kvm_reg_read(vcpu, regs[i]);
	if (!longmode) {
		input = (u32)input;
		for (i = 0; i < 6; i++)
			params[i] = (u32)params[i];
	}
	cpl = persona_kvm_get_cpl(vcpu);
	trace_kvm_xen_hypercall(cpl, input, params[0], params[1], params[2],
				params[3], params[4], params[5]);

	/*
	 * Only the guest kernel gets the in-kernel fast paths; what guest
	 * user space may call is the VMM's business.
	 */
	if (cpl > 0)
		goto exit_to_userspace;

	switch (input) {
	case __HYPERVISOR_xen_version:
		handled = persona_xen_hcall_xen_version(pvm, params[0], &r);
		break;
	case __HYPERVISOR_event_channel_op:
		handled = persona_hcall_evtchn_op(pvm, vcpu, params, &r);
		break;
	case __HYPERVISOR_grant_table_op:
		switch (persona_hcall_grant_table_op(pvm, vcpu, longmode,
						     params, &r)) {
		case PERSONA_GNT_VMM:
			break;
		case PERSONA_GNT_DONE:
			handled = true;
			break;
		case PERSONA_GNT_RESTART:
			/* Not done: RIP stays on the call, made again. */
			trace_kvm_xen_hypercall_done(vcpu->vcpu_id, input, 0,
						     PERSONA_TRACE_HCALL_RESTART);
			return 1;
		}
		break;
	case __HYPERVISOR_memory_op:
		persona_gnt_memory_op(pvm, vcpu, longmode, params);
		break;
	case __HYPERVISOR_sched_op:
		if (params[0] == SCHEDOP_shutdown)
			persona_xen_sched_shutdown(pvm, vcpu, params[1]);
		handled = persona_hcall_sched_op(pvm, vcpu, longmode,
						 params[0], params[1], &r);
		break;
	case __HYPERVISOR_vcpu_op:
		handled = persona_hcall_vcpu_op(pvm, vcpu, longmode, params[0],
						params[1], params[2], &r);
		break;
	case __HYPERVISOR_set_timer_op:
		/* 32-bit callers pass the 64-bit deadline in two halves. */
		if (!longmode)
			params[0] |= params[1] << 32;
		handled = persona_hcall_set_timer_op(pvm, vcpu, params[0], &r);
		break;
	default:
		break;
	}

	if (handled) {
		/*
		 * Xen delivers pending events on the way back from any
		 * hypercall; guests rely on it (Linux re-enables event
		 * delivery with a dummy xen_version call).
		 */
		persona_upcall_recheck(pvm, vcpu);
		persona_xen_hypercall_count(vx, input, false);
		trace_kvm_xen_hypercall_done(vcpu->vcpu_id, input, r,
					     PERSONA_TRACE_HCALL_KERNEL);
		return persona_xen_hypercall_set_result(vcpu, r);
	}

exit_to_userspace:
	persona_xen_hypercall_count(vx, input, true);
	return persona_xen_hypercall_exit(pvm, vcpu, longmode, cpl, input,
					  params);
}
