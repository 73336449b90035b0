// SPDX-License-Identifier: GPL-2.0
/*
 * Xen hypercall dispatch with KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL, as
 * upstream 6.1 does it (kvm_xen_hypercall() in arch/x86/kvm/xen.c, called
 * from kvm_emulate_hypercall() in arch/x86/kvm/x86.c):
 *
 *  - VMCALL and VMMCALL both land there (KVM emulates and patches the
 *    other vendor's instruction);
 *  - arguments come from RDI RSI RDX R10 R8 R9 in 64-bit mode and EBX ECX
 *    EDX ESI EDI EBP otherwise; the call exits to userspace as
 *    KVM_EXIT_XEN with longmode, cpl, input and params[], and the result
 *    userspace leaves in run->xen.u.hcall.result lands in RAX;
 *  - xen_version(XENVER_version) is answered in the kernel once the
 *    XEN_VERSION attribute is nonzero, but only for CPL 0;
 *  - with EAX bit 31 set and Hyper-V hypercalls enabled on the vCPU, the
 *    call is KVM's Hyper-V hypercall instead;
 *  - VMs without Xen keep KVM's own hypercall ABI.
 */
#include <signal.h>
#include <sys/wait.h>

#include "persona_test.h"

#define PAGE		4096
#define XEN_VERSION_4_10	0x0004000a
#define RESULT(i)	(0xcafef00dfbfb0000ull | (i))
#define BIG_NR		0x5a5a000000000011ull
#define MISALIGNED_GPA	0x5a5a5a5aull

/* Hyper-V 64-bit convention: control in RCX, input GPA in RDX, output R8. */
static inline u64 guest_hv_vmcall(u64 rax, u64 control, u64 ingpa)
{
	register u64 r8 __asm__("r8") = 0;

	__asm__ __volatile__("vmcall"
			     : "+a"(rax), "+c"(control), "+d"(ingpa), "+r"(r8)
			     : : "memory");
	return rax;
}

static inline u64 guest_hv_page_call(u64 page, u64 control, u64 ingpa)
{
	register u64 r8 __asm__("r8") = 0;
	u64 rax = 0;

	__asm__ __volatile__("call *%[fn]"
			     : "+a"(rax), "+c"(control), "+d"(ingpa), "+r"(r8)
			     : [fn] "r"(page)
			     : "memory");
	return rax;
}

static void guest_six_args(void)
{
	struct hcall_regs r;

	hcall_regs_fill(&r, XEN_HC_xen_version, 1);
	guest_vmcall(&r);
	GUEST_ASSERT_1(r.rax == RESULT(1), r.rax);
	GUEST_ASSERT(hcall_args_intact(&r, 1));

	hcall_regs_fill(&r, XEN_HC_xen_version, 2);
	guest_vmmcall(&r);
	GUEST_ASSERT_1(r.rax == RESULT(2), r.rax);
	GUEST_ASSERT(hcall_args_intact(&r, 2));

	/* In 64-bit mode the whole of RAX is the hypercall number. */
	hcall_regs_fill(&r, BIG_NR, 3);
	guest_vmcall(&r);
	GUEST_ASSERT_1(r.rax == RESULT(3), r.rax);
	GUEST_ASSERT(hcall_args_intact(&r, 3));

	/* A second round: the vendor fix-up of the first must not matter. */
	hcall_regs_fill(&r, 0x30, 4);
	guest_vmcall(&r);
	GUEST_ASSERT_1(r.rax == RESULT(4), r.rax);
	hcall_regs_fill(&r, 0x30, 5);
	guest_vmmcall(&r);
	GUEST_ASSERT_1(r.rax == RESULT(5), r.rax);
	GUEST_DONE();
}

TEST(vmcall_and_vmmcall_exit_with_six_args)
{
	static const u64 nr[] = {
		0, XEN_HC_xen_version, XEN_HC_xen_version, BIG_NR, 0x30, 0x30,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_six_args);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	for (i = 1; i <= 5; i++) {
		struct kvm_xen_exit *h = run_to_xen(vcpu);

		ASSERT_XEN_HCALL64(h, nr[i], i);
		h->u.hcall.result = RESULT(i);
	}
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

static u64 guest_xenver(u64 cmd)
{
	struct hcall_regs r;

	hcall_regs_fill(&r, XEN_HC_xen_version, 7);
	r.rdi = cmd;
	r.rsi = 0;
	guest_vmcall(&r);
	return r.rax;
}

static void guest_xen_version(void)
{
	struct hcall_regs r;

	GSYNC(1, guest_xenver(XENVER_version), 0, 0, 0);
	GSYNC(2, guest_xenver(XENVER_version), 0, 0, 0);
	GSYNC(3, guest_xenver(XENVER_extraversion), 0, 0, 0);
	GSYNC(4, guest_xenver(XENVER_get_features), 0, 0, 0);
	GSYNC(5, guest_xenver(XENVER_version), 0, 0, 0);

	/* Through the hypercall page too. */
	wrmsr(XEN_HCALL_MSR, HCALL_REGION_GPA);
	hcall_regs_fill(&r, 0, 8);
	r.rdi = XENVER_version;
	guest_call_stub(HCALL_REGION_GPA + XEN_HC_xen_version * XEN_STUB_SIZE,
			&r);
	GSYNC(6, r.rax, 0, 0, 0);

	GSYNC(7, guest_xenver(XENVER_version), 0, 0, 0);
	GUEST_DONE();
}

/* Expect a KVM_EXIT_XEN for xen_version(@cmd); answer @result. */
static void answer_xenver(struct __test_metadata *_metadata,
			  struct kvm_vcpu *vcpu, u64 cmd, u64 result)
{
	struct kvm_xen_exit *h = run_to_xen(vcpu);

	ASSERT_EQ(XEN_HC_xen_version, h->u.hcall.input);
	ASSERT_EQ(cmd, h->u.hcall.params[0]);
	ASSERT_EQ(0, h->u.hcall.cpl);
	ASSERT_EQ(1, h->u.hcall.longmode);
	h->u.hcall.result = result;
}

TEST(xen_version_answered_in_kernel)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_xen_version);
	guest_map_hcall_region(vm);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	/* XEN_VERSION is 0: userspace answers. */
	answer_xenver(_metadata, vcpu, XENVER_version, 0x1234);
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0x1234, uc.args[2]);

	/* Set: the kernel answers, no exit. */
	ASSERT_EQ(0, xen_set_version(vm, XEN_VERSION_4_10));
	run_to_sync(vcpu, &uc, 2);
	ASSERT_EQ(XEN_VERSION_4_10, uc.args[2]);

	/* Other XENVER commands still exit. */
	answer_xenver(_metadata, vcpu, XENVER_extraversion, 0x77);
	run_to_sync(vcpu, &uc, 3);
	ASSERT_EQ(0x77, uc.args[2]);
	answer_xenver(_metadata, vcpu, XENVER_get_features, 0x88);
	run_to_sync(vcpu, &uc, 4);
	ASSERT_EQ(0x88, uc.args[2]);

	/* The 32-bit version is zero-extended into RAX. */
	ASSERT_EQ(0, xen_set_version(vm, 0x8004000a));
	run_to_sync(vcpu, &uc, 5);
	ASSERT_EQ(0x8004000aull, uc.args[2]);
	run_to_sync(vcpu, &uc, 6);
	ASSERT_EQ(0x8004000aull, uc.args[2]);

	/* Back to 0: userspace again. */
	ASSERT_EQ(0, xen_set_version(vm, 0));
	answer_xenver(_metadata, vcpu, XENVER_version, 0x99);
	run_to_sync(vcpu, &uc, 7);
	ASSERT_EQ(0x99, uc.args[2]);

	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

/* 32-bit guest code: the native hypercall instruction, then done. */
static size_t vm32_hcall_code(u8 *code)
{
	size_t n = vm32_emit_hcall(code);

	return n + vm32_emit_done(code + n);
}

#define ARG32(i)	(0x11111111u * (i))
#define JUNK(i)		(0xa5a5a5a500000000ull * (i))

/*
 * A 32-bit guest: EBX ECX EDX ESI EDI EBP, longmode 0; only the low halves
 * of the registers count (the host leaves junk in the upper ones).
 */
TEST(compat_32bit_hypercall)
{
	struct kvm_xen_exit *h;
	struct kvm_regs regs;
	u8 code[16];
	struct vm32 g;
	int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm32_create(&g);
	/* Configured before the vCPU exists. */
	ASSERT_EQ(0, xen_config_simple(g.vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	memset(&regs, 0, sizeof(regs));
	regs.rax = JUNK(1) | XEN_HC_xen_version;
	regs.rbx = JUNK(2) | ARG32(1);
	regs.rcx = JUNK(3) | ARG32(2);
	regs.rdx = JUNK(4) | ARG32(3);
	regs.rsi = JUNK(5) | ARG32(4);
	regs.rdi = JUNK(6) | ARG32(5);
	regs.rbp = JUNK(7) | ARG32(6);
	vm32_add_vcpu(&g, code, vm32_hcall_code(code), 0, &regs);

	ASSERT_EQ(VM32_EXIT_XEN, vm32_run(&g));
	h = &g.vcpu->run->xen;
	ASSERT_EQ(0, h->u.hcall.longmode);
	ASSERT_EQ(0, h->u.hcall.cpl);
	ASSERT_EQ(XEN_HC_xen_version, h->u.hcall.input);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(ARG32(i + 1), h->u.hcall.params[i])
			TH_LOG("param %d", i);
	}
	h->u.hcall.result = 0xcafef00dfbfbffffull;

	ASSERT_EQ(VM32_EXIT_DONE, vm32_run(&g));
	vcpu_regs_get(g.vcpu, &regs);
	ASSERT_EQ(0xfbfbffffu, (u32)regs.rax);
	ASSERT_EQ(ARG32(1), (u32)regs.rbx);
	ASSERT_EQ(ARG32(2), (u32)regs.rcx);
	ASSERT_EQ(ARG32(3), (u32)regs.rdx);
	ASSERT_EQ(ARG32(4), (u32)regs.rsi);
	ASSERT_EQ(ARG32(5), (u32)regs.rdi);
	ASSERT_EQ(ARG32(6), (u32)regs.rbp);
	kvm_vm_free(g.vm);
}

/*
 * xen_version(XENVER_version) from a 32-bit guest: answered in the kernel
 * at CPL 0, but at CPL 3 it exits with cpl 3 (the kernel only accelerates
 * CPL 0 callers).
 */
TEST(cpl3_hypercall_always_exits)
{
	struct kvm_regs init, regs;
	struct kvm_xen_exit *h;
	u8 code[16];
	struct vm32 g;
	size_t len;
	int cpl;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	len = vm32_hcall_code(code);
	memset(&init, 0, sizeof(init));
	init.rax = XEN_HC_xen_version;
	init.rbx = XENVER_version;

	for (cpl = 0; cpl <= 3; cpl += 3) {
		vm32_create(&g);
		ASSERT_EQ(0, xen_config_simple(g.vm,
					       KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
					       XEN_HCALL_MSR));
		ASSERT_EQ(0, xen_set_version(g.vm, XEN_VERSION_4_10));
		vm32_add_vcpu(&g, code, len, cpl, &init);

		if (cpl == 3) {
			ASSERT_EQ(VM32_EXIT_XEN, vm32_run(&g))
				TH_LOG("xen_version at CPL 3 did not exit");
			h = &g.vcpu->run->xen;
			ASSERT_EQ(3, h->u.hcall.cpl);
			ASSERT_EQ(0, h->u.hcall.longmode);
			ASSERT_EQ(XEN_HC_xen_version, h->u.hcall.input);
			ASSERT_EQ(XENVER_version, h->u.hcall.params[0]);
			h->u.hcall.result = 0xabcdef;
			ASSERT_EQ(VM32_EXIT_DONE, vm32_run(&g));
			vcpu_regs_get(g.vcpu, &regs);
			ASSERT_EQ(0xabcdefu, (u32)regs.rax);
		} else {
			ASSERT_EQ(VM32_EXIT_DONE, vm32_run(&g))
				TH_LOG("xen_version exited at CPL 0");
			vcpu_regs_get(g.vcpu, &regs);
			ASSERT_EQ(XEN_VERSION_4_10, (u32)regs.rax);
		}
		kvm_vm_free(g.vm);
	}
}

static void guest_hyperv(void)
{
	u64 hv_page = HCALL_REGION_GPA + PAGE;
	struct hcall_regs r;

	/* Bit 31 with no guest OS ID: Hyper-V hypercalls are off, Xen's. */
	GSYNC(1, guest_hv_vmcall(HV_XEN_BIT, HV_SIGNAL_EVENT, MISALIGNED_GPA),
	      0, 0, 0);

	/* With it, KVM's Hyper-V code: SIGNAL_EVENT wants an aligned GPA. */
	wrmsr(HV_GUEST_OS_ID_MSR, 0x5a);
	GSYNC(2, guest_hv_vmcall(HV_XEN_BIT, HV_SIGNAL_EVENT, MISALIGNED_GPA),
	      0, 0, 0);

	/* Bit 31 clear is still Xen. */
	hcall_regs_fill(&r, XEN_HC_xen_version, 3);
	guest_vmcall(&r);
	GSYNC(3, r.rax, 0, 0, 0);

	/* The Hyper-V hypercall page sets bit 31 itself. */
	wrmsr(HV_HYPERCALL_MSR, hv_page | HV_HYPERCALL_ENABLE);
	GSYNC(4, 0, 0, 0, 0);
	GSYNC(5, guest_hv_page_call(hv_page, HV_SIGNAL_EVENT, MISALIGNED_GPA),
	      0, 0, 0);

	/* And the Xen page next to it is still Xen's. */
	wrmsr(XEN_HCALL_MSR, HCALL_REGION_GPA);
	hcall_regs_fill(&r, 0, 6);
	guest_call_stub(HCALL_REGION_GPA + XEN_HC_xen_version * XEN_STUB_SIZE,
			&r);
	GSYNC(6, r.rax, 0, 0, 0);
	GUEST_DONE();
}

TEST(hyperv_hypercalls_coexist)
{
	struct kvm_xen_exit *h;
	u8 expect[9], *region;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_hyperv);
	vcpu_set_hv_cpuid(vcpu);
	region = guest_map_hcall_region(vm);
	memset(region, 0x5a, HCALL_REGION_PAGES * PAGE);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	h = run_to_xen(vcpu);
	ASSERT_EQ(HV_XEN_BIT, h->u.hcall.input);
	ASSERT_EQ(1, h->u.hcall.longmode);
	h->u.hcall.result = 0x1111;
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0x1111, uc.args[2]);

	run_to_sync(vcpu, &uc, 2);
	ASSERT_EQ(HV_STATUS_BAD_ALIGNMENT, uc.args[2]);

	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 3);
	h->u.hcall.result = RESULT(3);
	run_to_sync(vcpu, &uc, 3);
	ASSERT_EQ(RESULT(3), uc.args[2]);

	/* "orl $0x80000000, %eax; vmcall or vmmcall; ret" */
	run_to_sync(vcpu, &uc, 4);
	expect[0] = 0x0d;
	expect[1] = 0x00;
	expect[2] = 0x00;
	expect[3] = 0x00;
	expect[4] = 0x80;
	hcall_insn(&expect[5]);
	expect[8] = 0xc3;
	ASSERT_EQ(0, memcmp(region + PAGE, expect, sizeof(expect)))
		TH_LOG("Hyper-V page: %02x %02x %02x %02x %02x %02x %02x %02x %02x",
		       region[PAGE], region[PAGE + 1], region[PAGE + 2],
		       region[PAGE + 3], region[PAGE + 4], region[PAGE + 5],
		       region[PAGE + 6], region[PAGE + 7], region[PAGE + 8]);

	run_to_sync(vcpu, &uc, 5);
	ASSERT_EQ(HV_STATUS_BAD_ALIGNMENT, uc.args[2]);

	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 6);
	h->u.hcall.result = RESULT(6);
	run_to_sync(vcpu, &uc, 6);
	ASSERT_EQ(RESULT(6), uc.args[2]);

	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

static void guest_bit31_no_hyperv(void)
{
	u8 vec = wrmsr_safe(HV_GUEST_OS_ID_MSR, 0x5a);

	GSYNC(1, guest_hv_vmcall(HV_XEN_BIT, HV_SIGNAL_EVENT, MISALIGNED_GPA),
	      vec, 0, 0);
	GUEST_DONE();
}

/* Without Hyper-V in the vCPU's CPUID, bit 31 means nothing: Xen's call. */
TEST(bit31_without_hyperv_cpuid_is_xen)
{
	struct kvm_xen_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_bit31_no_hyperv);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	h = run_to_xen(vcpu);
	ASSERT_EQ(HV_XEN_BIT, h->u.hcall.input);
	ASSERT_EQ(MISALIGNED_GPA, h->u.hcall.params[2]);
	h->u.hcall.result = 0x2222;
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0x2222, uc.args[2]);
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

static void guest_kvm_abi(void)
{
	struct hcall_regs r;
	u64 r1, r2;
	u8 vec;

	r1 = kvm_hypercall(KVM_HC_VAPIC_POLL_IRQ_NR, 0, 0, 0, 0);
	r2 = kvm_hypercall(KVM_HC_UNKNOWN_NR, 0, 0, 0, 0);
	hcall_regs_fill(&r, KVM_HC_UNKNOWN_NR, 9);
	guest_vmmcall(&r);
	vec = wrmsr_safe(XEN_HCALL_MSR, 0x100000);
	GSYNC(1, r1, r2, r.rax, vec);
	GUEST_DONE();
}

static void guest_xen_kvm_nr(void)
{
	struct hcall_regs r;

	hcall_regs_fill(&r, KVM_HC_VAPIC_POLL_IRQ_NR, 4);
	guest_vmcall(&r);
	GSYNC(1, r.rax, 0, 0, 0);
	GUEST_DONE();
}

/*
 * A VM that never enabled Xen, next to one that did (with a vCPU stopped
 * in KVM_EXIT_XEN): KVM's hypercall ABI, no Xen MSR, default attributes.
 */
TEST(non_xen_vm_unaffected)
{
	struct kvm_xen_exit *h;
	struct kvm_vcpu *xvcpu, *pvcpu;
	struct kvm_vm *xvm, *pvm;
	struct kvm_xen_hvm_attr a;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	xvm = guest_create(&xvcpu, guest_xen_kvm_nr);
	ASSERT_EQ(0, xen_config_simple(xvm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_version(xvm, XEN_VERSION_4_10));
	ASSERT_EQ(0, xen_set_long_mode(xvm, 1));
	pvm = guest_create(&pvcpu, guest_kvm_abi);

	/* KVM's hypercall numbers mean nothing to a Xen VM. */
	h = run_to_xen(xvcpu);
	ASSERT_XEN_HCALL64(h, KVM_HC_VAPIC_POLL_IRQ_NR, 4);

	run_to_sync(pvcpu, &uc, 1);
	ASSERT_EQ(0, uc.args[2]) TH_LOG("KVM_HC_VAPIC_POLL_IRQ");
	ASSERT_EQ(KVM_ENOSYS_RET, uc.args[3]) TH_LOG("unknown nr, vmcall");
	ASSERT_EQ(KVM_ENOSYS_RET, uc.args[4]) TH_LOG("unknown nr, vmmcall");
	if (!kvm_ignores_msrs()) {
		ASSERT_EQ(GP_VECTOR, uc.args[5])
			TH_LOG("Xen MSR on a VM without Xen");
	}

	ASSERT_EQ(0, xen_get_long_mode(pvm));
	memset(&a, 0xa5, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	ASSERT_EQ(0, xen_get_attr(pvm, &a));
	ASSERT_EQ(0, a.u.xen_version);
	ASSERT_EQ(UCALL_DONE, run_vcpu(pvcpu, &uc));

	h->u.hcall.result = 0x4242;
	run_to_sync(xvcpu, &uc, 1);
	ASSERT_EQ(0x4242, uc.args[2]);
	ASSERT_EQ(UCALL_DONE, run_vcpu(xvcpu, &uc));

	kvm_vm_free(pvm);
	kvm_vm_free(xvm);
}

static void guest_toggle(void)
{
	struct hcall_regs r;
	int i;

	for (i = 1; i <= 5; i++) {
		hcall_regs_fill(&r, XEN_HC_xen_version, i);
		guest_vmcall(&r);
		GSYNC(i, r.rax, 0, 0, 0);
	}
	GUEST_DONE();
}

/*
 * Interception follows the current configuration: it needs both
 * INTERCEPT_HCALL and an MSR, and stops when Xen is disabled.
 */
TEST(reconfiguration_toggles_interception)
{
	struct kvm_xen_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_toggle);

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 1);
	h->u.hcall.result = RESULT(1);
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(RESULT(1), uc.args[2]);

	ASSERT_EQ(0, xen_config_simple(vm, 0, 0));
	run_to_sync(vcpu, &uc, 2);
	ASSERT_EQ(KVM_ENOSYS_RET, uc.args[2]);

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 3);
	h->u.hcall.result = RESULT(3);
	run_to_sync(vcpu, &uc, 3);
	ASSERT_EQ(RESULT(3), uc.args[2]);

	/* An MSR without INTERCEPT_HCALL: blob mode, KVM's ABI. */
	ASSERT_EQ(0, xen_config_simple(vm, 0, XEN_HCALL_MSR));
	run_to_sync(vcpu, &uc, 4);
	ASSERT_EQ(KVM_ENOSYS_RET, uc.args[2]);

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR_LOW));
	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 5);
	h->u.hcall.result = RESULT(5);
	run_to_sync(vcpu, &uc, 5);
	ASSERT_EQ(RESULT(5), uc.args[2]);

	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

static void guest_one_call(void)
{
	struct hcall_regs r;

	hcall_regs_fill(&r, XEN_HC_xen_version, 1);
	guest_vmcall(&r);
	GSYNC(1, r.rax, 0, 0, 0);
	GUEST_DONE();
}

/*
 * A pending KVM_EXIT_XEN completes on the next KVM_RUN even if userspace
 * disabled Xen in between: the completion was armed at exit time.
 */
TEST(pending_exit_completes_after_disable)
{
	struct kvm_xen_exit *h;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_one_call);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	h = run_to_xen(vcpu);
	ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 1);
	ASSERT_EQ(0, xen_config_simple(vm, 0, 0));
	h->u.hcall.result = RESULT(1);
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(RESULT(1), uc.args[2]);
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

/*
 * Guest for the teardown tests: fill the hypercall page, call a stub,
 * and spin if the host ever lets the call complete.
 */
static void guest_live(void)
{
	struct hcall_regs r;

	wrmsr(XEN_HCALL_MSR, HCALL_REGION_GPA);
	hcall_regs_fill(&r, 0, 11);
	guest_call_stub(HCALL_REGION_GPA + XEN_HC_xen_version * XEN_STUB_SIZE,
			&r);
	for (;;)
		__asm__ __volatile__("pause");
}

/* A Xen VM with @nr_vcpus vCPUs, all stopped in KVM_EXIT_XEN. */
static struct kvm_vm *live_xen_vm(struct __test_metadata *_metadata,
				  int nr_vcpus, struct kvm_vcpu **vcpus)
{
	struct kvm_vm *vm;
	int i;

	vm = vm_create_with_vcpus(nr_vcpus, guest_live, vcpus);
	vm_init_descriptor_tables(vm);
	guest_map_hcall_region(vm);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_version(vm, XEN_VERSION_4_10));
	for (i = 0; i < nr_vcpus; i++) {
		struct kvm_xen_exit *h;

		vcpu_init_descriptor_tables(vcpus[i]);
		h = run_to_xen(vcpus[i]);
		ASSERT_XEN_HCALL64(h, XEN_HC_xen_version, 11);
	}
	return vm;
}

static unsigned int stress_iterations(void)
{
	const char *s = getenv("KVM_PERSONA_STRESS_ITERS");
	long n = s ? strtol(s, NULL, 0) : 0;

	return n > 0 ? n : 100;
}

#define NR_KEPT	8

/*
 * Destroy VMs whose vCPUs sit in an unfinished KVM_EXIT_XEN, in various
 * ways: plain, with the vCPU fd outliving the VM fd, with two vCPUs, and
 * with several such VMs alive at once.  Leaks and warnings show in dmesg.
 */
TEST(destroy_vms_with_pending_exits)
{
	struct kvm_vm *kept[NR_KEPT] = { NULL };
	struct kvm_vcpu *vcpus[2];
	unsigned int i, n = stress_iterations(), k = 0;
	struct kvm_vm *vm;
	int fd;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	for (i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			vm = live_xen_vm(_metadata, 1, vcpus);
			kvm_vm_free(vm);
			break;
		case 1:
			vm = live_xen_vm(_metadata, 1, vcpus);
			fd = dup(vcpus[0]->fd);
			ASSERT_LE(0, fd);
			kvm_vm_free(vm);
			ASSERT_EQ(0, close(fd));
			break;
		case 2:
			vm = live_xen_vm(_metadata, 2, vcpus);
			kvm_vm_free(vm);
			break;
		case 3:
			kvm_vm_free(kept[k]);
			kept[k] = live_xen_vm(_metadata, 1, vcpus);
			k = (k + 1) % NR_KEPT;
			break;
		}
	}
	for (k = 0; k < NR_KEPT; k++)
		kvm_vm_free(kept[k]);
}

/*
 * Child processes that exit, or are killed, with a Xen VM in flight: the
 * VM is torn down by the exit path, after the process's mm is gone.
 */
TEST(process_exit_with_pending_exits)
{
	int i, status, pipefd[2];
	char c;
	pid_t pid;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, pipe(pipefd));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			struct kvm_vcpu *vcpus[1];

			close(pipefd[0]);
			live_xen_vm(_metadata, 1, vcpus);
			if (i % 2) {
				/* Leave without cleaning up. */
				_exit(0);
			}
			/* Let the call complete; the guest spins until killed. */
			vcpus[0]->run->xen.u.hcall.result = 0;
			if (write(pipefd[1], "r", 1) != 1)
				_exit(2);
			vcpu_run(vcpus[0]);
			_exit(3);
		}
		close(pipefd[1]);
		if (i % 2 == 0) {
			ASSERT_EQ(1, read(pipefd[0], &c, 1))
				TH_LOG("child %d died before running", i);
			usleep(200 * 1000);
			ASSERT_EQ(0, kill(pid, SIGKILL));
		}
		close(pipefd[0]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (i % 2) {
			ASSERT_TRUE(WIFEXITED(status));
			ASSERT_EQ(0, WEXITSTATUS(status));
		} else {
			ASSERT_TRUE(WIFSIGNALED(status))
				TH_LOG("child status %#x", status);
			ASSERT_EQ(SIGKILL, WTERMSIG(status));
		}
	}
}

TEST_HARNESS_MAIN
