// SPDX-License-Identifier: GPL-2.0
/*
 * The Xen hypercall page: a guest write of "page GPA | page index" to the
 * MSR named in KVM_XEN_HVM_CONFIG fills that guest page (upstream 6.1:
 * kvm_xen_write_hypercall_page() in arch/x86/kvm/xen.c, reached first
 * thing in kvm_set_msr_common()).
 *
 * With INTERCEPT_HCALL, KVM writes 128 stubs "mov $i,%eax; vmcall or
 * vmmcall; ret" padded with int3, and only index 0 is valid.  Without it,
 * the page is a copy of page N of the userspace blob (the 64-bit blob if
 * the vCPU is in long mode, the 32-bit one otherwise), and N must be below
 * the blob's size.  Either way the write latches the LONG_MODE attribute
 * from the vCPU's mode, and every failure is a #GP.
 */
#include <pthread.h>

#include "persona_test.h"

#define EVTCHNSTAT_ipi	5

#define FILL		0x5a
#define PAGE		4096
#define RESULT(i)	(0xcafef00d00000000ull | (i))

static const u32 stubs_to_call[] = { 0, XEN_HC_xen_version, 127 };

/* All 128 stubs are what KVM writes in intercept mode. */
static bool page_is_intercept_page(const u8 *page)
{
	u8 stub[XEN_STUB_SIZE];
	u32 i;

	for (i = 0; i < XEN_NR_STUBS; i++) {
		xen_expected_stub(stub, i);
		if (memcmp(page + i * XEN_STUB_SIZE, stub, sizeof(stub)))
			return false;
	}
	return true;
}

static bool page_is_filled(const u8 *page, u8 c)
{
	size_t i;

	for (i = 0; i < PAGE; i++)
		if (page[i] != c)
			return false;
	return true;
}

static void dump_stub(struct __test_metadata *_metadata, const u8 *page,
		      u32 i)
{
	const u8 *s = page + i * XEN_STUB_SIZE;

	TH_LOG("stub %u: %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x",
	       i, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);
}

/*
 * Write the MSR, then call three stubs of the page, each with its own
 * arguments; the host answers RESULT(stub).
 */
static void guest_intercept_page(u64 msr)
{
	struct hcall_regs r;
	u8 vec;
	unsigned int i;

	vec = wrmsr_safe(msr, HCALL_REGION_GPA);
	GSYNC(1, vec, 0, 0, 0);

	for (i = 0; i < ARRAY_SIZE(stubs_to_call); i++) {
		hcall_regs_fill(&r, 0x5a5a5a5a5a5a5a5aull, i);
		guest_call_stub(HCALL_REGION_GPA +
				stubs_to_call[i] * XEN_STUB_SIZE, &r);
		GUEST_ASSERT_2(r.rax == RESULT(stubs_to_call[i]), r.rax,
			       (u64)i);
		GUEST_ASSERT_1(hcall_args_intact(&r, i), (u64)i);
	}
	GUEST_DONE();
}

static void test_intercept_page(struct __test_metadata *_metadata,
				u32 msr)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	u8 *page;
	unsigned int i;

	vm = guest_create(&vcpu, guest_intercept_page);
	page = guest_map_hcall_region(vm);
	memset(page, FILL, HCALL_REGION_PAGES * PAGE);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       msr));
	ASSERT_EQ(0, xen_set_long_mode(vm, 0));
	vcpu_args_set(vcpu, 1, (u64)msr);

	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, uc.args[2]) TH_LOG("wrmsr(%#x) raised vector %lu", msr,
					(unsigned long)uc.args[2]);
	if (!page_is_intercept_page(page)) {
		dump_stub(_metadata, page, 0);
		dump_stub(_metadata, page, 1);
		dump_stub(_metadata, page, 127);
		ASSERT_TRUE(false) TH_LOG("bad hypercall page (%s)",
					  host_uses_vmmcall() ? "vmmcall" :
								"vmcall");
	}
	/* One page exactly. */
	ASSERT_TRUE(page_is_filled(page + PAGE, FILL));
	/* The write latched the vCPU's long mode into LONG_MODE. */
	ASSERT_EQ(1, xen_get_long_mode(vm));

	for (i = 0; i < ARRAY_SIZE(stubs_to_call); i++) {
		struct kvm_xen_exit *h = run_to_xen(vcpu);

		ASSERT_XEN_HCALL64(h, stubs_to_call[i], i);
		h->u.hcall.result = RESULT(stubs_to_call[i]);
	}
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

/* The MSR upstream's xen_vmcall_test uses (Xen's choice with Viridian). */
TEST(intercept_page_msr_40000200)
{
	if (xen_missing(XEN_CAPS_BASE))
		return;
	test_intercept_page(_metadata, XEN_HCALL_MSR);
}

/* The MSR Xen uses without Viridian (upstream's xen_shinfo_test). */
TEST(intercept_page_msr_40000000)
{
	if (xen_missing(XEN_CAPS_BASE))
		return;
	test_intercept_page(_metadata, XEN_HCALL_MSR_LOW);
}

static void guest_bad_writes(void)
{
	u8 v1, v2, v3, v4;

	v1 = wrmsr_safe(XEN_HCALL_MSR, HCALL_REGION_GPA | 1);
	v2 = wrmsr_safe(XEN_HCALL_MSR, HCALL_REGION_GPA | 0xfff);
	v3 = wrmsr_safe(XEN_HCALL_MSR, UNBACKED_GPA);
	v4 = wrmsr_safe(XEN_HCALL_MSR, HCALL_REGION_GPA + PAGE);
	GSYNC(1, v1, v2, v3, v4);
	GUEST_DONE();
}

/*
 * With INTERCEPT_HCALL only page 0 exists: any other index is a #GP, as
 * is a page that no memslot backs; a good write to the next page works.
 */
TEST(intercept_page_bad_writes_gp)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	u8 *page;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_bad_writes);
	page = guest_map_hcall_region(vm);
	memset(page, FILL, HCALL_REGION_PAGES * PAGE);
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(GP_VECTOR, uc.args[2]) TH_LOG("page index 1");
	ASSERT_EQ(GP_VECTOR, uc.args[3]) TH_LOG("page index 0xfff");
	ASSERT_EQ(GP_VECTOR, uc.args[4]) TH_LOG("unbacked GPA");
	ASSERT_EQ(0, uc.args[5]) TH_LOG("second page, index 0");

	ASSERT_TRUE(page_is_filled(page, FILL));
	ASSERT_TRUE(page_is_intercept_page(page + PAGE));
	ASSERT_TRUE(page_is_filled(page + 2 * PAGE, FILL));
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

static void guest_msr_numbers(void)
{
	GSYNC(1, wrmsr_safe(HV_GUEST_OS_ID_MSR, HCALL_REGION_GPA), 0, 0, 0);
	GSYNC(2, wrmsr_safe(XEN_HCALL_MSR, HCALL_REGION_GPA), 0, 0, 0);
	GSYNC(3, wrmsr_safe(HV_GUEST_OS_ID_MSR, HCALL_REGION_GPA), 0, 0, 0);
	GSYNC(4, wrmsr_safe(HV_GUEST_OS_ID_MSR, HCALL_REGION_GPA), 0, 0, 0);
	GUEST_DONE();
}

/*
 * Only the configured MSR writes the page: with the page at 0x40000200,
 * 0x40000000 is still Hyper-V's guest OS ID; moved to 0x40000000, the old
 * number is an ordinary unknown MSR; disabled, neither writes anything.
 */
TEST(only_the_configured_msr_writes)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	u8 *page;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm = guest_create(&vcpu, guest_msr_numbers);
	vcpu_set_hv_cpuid(vcpu);
	page = guest_map_hcall_region(vm);
	memset(page, FILL, HCALL_REGION_PAGES * PAGE);

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, uc.args[2]) TH_LOG("Hyper-V guest OS ID write faulted");
	ASSERT_TRUE(page_is_filled(page, FILL));

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR_LOW));
	run_to_sync(vcpu, &uc, 2);
	if (!kvm_ignores_msrs()) {
		ASSERT_EQ(GP_VECTOR, uc.args[2])
			TH_LOG("write to the old MSR number");
	}
	ASSERT_TRUE(page_is_filled(page, FILL));

	run_to_sync(vcpu, &uc, 3);
	ASSERT_EQ(0, uc.args[2]);
	ASSERT_TRUE(page_is_intercept_page(page));

	memset(page, FILL, PAGE);
	ASSERT_EQ(0, xen_config_simple(vm, 0, 0));
	run_to_sync(vcpu, &uc, 4);
	ASSERT_EQ(0, uc.args[2]) TH_LOG("Hyper-V guest OS ID write faulted");
	ASSERT_TRUE(page_is_filled(page, FILL));

	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
}

/* Blob pages with contents that tell them apart. */
static u8 *alloc_blob(unsigned int pages, u8 seed)
{
	u8 *blob = aligned_alloc(PAGE, pages * PAGE);
	size_t i;

	TEST_ASSERT(blob, "aligned_alloc");
	for (i = 0; i < pages * PAGE; i++)
		blob[i] = seed + i / PAGE + (i % 251);
	return blob;
}

static void guest_blob(void)
{
	struct hcall_regs r;

	GSYNC(1, wrmsr_safe(XEN_HCALL_MSR, HCALL_REGION_GPA | 1), 0, 0, 0);
	GSYNC(2, wrmsr_safe(XEN_HCALL_MSR, (HCALL_REGION_GPA + PAGE) | 0),
	      0, 0, 0);
	GSYNC(3, wrmsr_safe(XEN_HCALL_MSR, (HCALL_REGION_GPA + 2 * PAGE) | 2),
	      0, 0, 0);

	/* Without INTERCEPT_HCALL, VMCALL keeps KVM's own ABI. */
	hcall_regs_fill(&r, KVM_HC_UNKNOWN_NR, 1);
	guest_vmcall(&r);
	GSYNC(4, r.rax, 0, 0, 0);

	GSYNC(5, wrmsr_safe(XEN_HCALL_MSR, (HCALL_REGION_GPA + 3 * PAGE) | 0),
	      0, 0, 0);
	GUEST_DONE();
}

/* Blob mode from a 64-bit guest: the 64-bit blob, whatever LONG_MODE says. */
TEST(blob_page_64bit)
{
	u8 *blob32 = alloc_blob(1, 0x32), *blob64 = alloc_blob(2, 0x64);
	struct kvm_xen_hvm_config c = {
		.msr = XEN_HCALL_MSR,
		.blob_addr_32 = (uintptr_t)blob32,
		.blob_addr_64 = (uintptr_t)blob64,
		.blob_size_32 = 1,
		.blob_size_64 = 2,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	u8 *page;

	if (xen_missing(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR))
		return;

	vm = guest_create(&vcpu, guest_blob);
	page = guest_map_hcall_region(vm);
	memset(page, FILL, HCALL_REGION_PAGES * PAGE);
	ASSERT_EQ(0, xen_config(vm, &c));
	ASSERT_EQ(0, xen_set_long_mode(vm, 0));

	run_to_sync(vcpu, &uc, 1);
	ASSERT_EQ(0, uc.args[2]);
	ASSERT_EQ(0, memcmp(page, blob64 + PAGE, PAGE)) TH_LOG("blob64[1]");
	ASSERT_EQ(1, xen_get_long_mode(vm));

	run_to_sync(vcpu, &uc, 2);
	ASSERT_EQ(0, uc.args[2]);
	ASSERT_EQ(0, memcmp(page + PAGE, blob64, PAGE)) TH_LOG("blob64[0]");

	/* Index 2 of a 2-page blob. */
	run_to_sync(vcpu, &uc, 3);
	ASSERT_EQ(GP_VECTOR, uc.args[2]);
	ASSERT_TRUE(page_is_filled(page + 2 * PAGE, FILL));

	run_to_sync(vcpu, &uc, 4);
	ASSERT_EQ(KVM_ENOSYS_RET, uc.args[2]);

	/* An empty 64-bit blob: every index faults. */
	c.blob_size_64 = 0;
	ASSERT_EQ(0, xen_config(vm, &c));
	run_to_sync(vcpu, &uc, 5);
	ASSERT_EQ(GP_VECTOR, uc.args[2]);
	ASSERT_TRUE(page_is_filled(page + 3 * PAGE, FILL));

	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	kvm_vm_free(vm);
	free(blob32);
	free(blob64);
}

/*
 * 32-bit guest code: "wrmsr" with ECX/EAX/EDX preset by the host, then
 * ECX/EDX reloaded with hypercall arguments, "call *%eax" to the stub of
 * hypercall 17 (a stub only runs in intercept mode), and done.
 */
#define ARG32(i)	(0x11111111u * (i))

static size_t vm32_page_code(u8 *code, bool call_stub)
{
	u32 stub = VM32_PAGE_GPA + XEN_HC_xen_version * XEN_STUB_SIZE;
	u32 a2 = ARG32(2), a3 = ARG32(3);
	size_t n = 0;

	code[n++] = 0x0f;			/* wrmsr */
	code[n++] = 0x30;
	if (call_stub) {
		code[n++] = 0xb9;		/* mov $a2, %ecx */
		memcpy(&code[n], &a2, 4);
		n += 4;
		code[n++] = 0xba;		/* mov $a3, %edx */
		memcpy(&code[n], &a3, 4);
		n += 4;
		code[n++] = 0xb8;		/* mov $stub, %eax */
		memcpy(&code[n], &stub, 4);
		n += 4;
		code[n++] = 0xff;		/* call *%eax */
		code[n++] = 0xd0;
	}
	n += vm32_emit_done(&code[n]);
	return n;
}

static void vm32_page_regs(struct kvm_regs *regs, u32 msr)
{
	memset(regs, 0, sizeof(*regs));
	regs->rcx = msr;
	regs->rax = VM32_PAGE_GPA;
	regs->rdx = 0;
	regs->rbx = ARG32(1);
	regs->rsi = ARG32(4);
	regs->rdi = ARG32(5);
	regs->rbp = ARG32(6);
}

/* Intercept mode from a 32-bit guest: same page; a stub call exits. */
TEST(intercept_page_32bit)
{
	u8 code[64];
	struct kvm_regs regs;
	struct vm32 g;
	size_t len;
	int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	vm32_create(&g);
	memset(g.mem + VM32_PAGE_GPA, FILL, PAGE);
	ASSERT_EQ(0, xen_config_simple(g.vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_long_mode(g.vm, 1));

	len = vm32_page_code(code, true);
	vm32_page_regs(&regs, XEN_HCALL_MSR);
	vm32_add_vcpu(&g, code, len, 0, &regs);

	ASSERT_EQ(VM32_EXIT_XEN, vm32_run(&g));
	ASSERT_TRUE(page_is_intercept_page(g.mem + VM32_PAGE_GPA));
	ASSERT_EQ(0, xen_get_long_mode(g.vm));

	ASSERT_EQ(0, g.vcpu->run->xen.u.hcall.longmode);
	ASSERT_EQ(0, g.vcpu->run->xen.u.hcall.cpl);
	ASSERT_EQ(XEN_HC_xen_version, g.vcpu->run->xen.u.hcall.input);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(ARG32(i + 1), g.vcpu->run->xen.u.hcall.params[i])
			TH_LOG("param %d", i);
	}
	g.vcpu->run->xen.u.hcall.result = 0xfeedf00d12345678ull;

	ASSERT_EQ(VM32_EXIT_DONE, vm32_run(&g));
	vcpu_regs_get(g.vcpu, &regs);
	ASSERT_EQ(0x12345678u, (u32)regs.rax);
	kvm_vm_free(g.vm);
}

/* Blob mode from a 32-bit guest: the 32-bit blob. */
TEST(blob_page_32bit)
{
	u8 *blob32 = alloc_blob(1, 0x32), *blob64 = alloc_blob(1, 0x64);
	struct kvm_xen_hvm_config c = {
		.msr = XEN_HCALL_MSR,
		.blob_addr_32 = (uintptr_t)blob32,
		.blob_addr_64 = (uintptr_t)blob64,
		.blob_size_32 = 1,
		.blob_size_64 = 1,
	};
	u8 code[64];
	struct kvm_regs regs;
	struct vm32 g;
	size_t len;

	if (xen_missing(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR))
		return;

	vm32_create(&g);
	memset(g.mem + VM32_PAGE_GPA, FILL, PAGE);
	ASSERT_EQ(0, xen_config(g.vm, &c));
	ASSERT_EQ(0, xen_set_long_mode(g.vm, 1));

	len = vm32_page_code(code, false);
	vm32_page_regs(&regs, XEN_HCALL_MSR);
	vm32_add_vcpu(&g, code, len, 0, &regs);

	ASSERT_EQ(VM32_EXIT_DONE, vm32_run(&g));
	ASSERT_EQ(0, memcmp(g.mem + VM32_PAGE_GPA, blob32, PAGE));
	ASSERT_EQ(0, xen_get_long_mode(g.vm));

	kvm_vm_free(g.vm);
	free(blob32);
	free(blob64);
}

#define BLOB_WRITES	20000

static void guest_blob_loop(void)
{
	unsigned int i;

	for (i = 0; i < BLOB_WRITES; i++)
		wrmsr(XEN_HCALL_MSR, HCALL_REGION_GPA);
	GUEST_DONE();
}

struct port_churn {
	struct kvm_vm *vm;
	int stop;
	unsigned long ops;
	int err;
};

/* Assign and remove a port, and reset them all, until told to stop. */
static void *churn_ports(void *arg)
{
	struct port_churn *c = arg;
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };

	while (!READ_ONCE(c->stop) && !c->err) {
		a.u.evtchn.send_port = 5;
		a.u.evtchn.type = EVTCHNSTAT_ipi;
		a.u.evtchn.flags = 0;
		a.u.evtchn.deliver.port.port = 5;
		a.u.evtchn.deliver.port.priority =
			KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
		c->err = xen_set_attr(c->vm, &a);
		if (c->err)
			break;
		a.u.evtchn.flags = c->ops % 4 ? KVM_XEN_EVTCHN_DEASSIGN :
						KVM_XEN_EVTCHN_RESET;
		c->err = xen_set_attr(c->vm, &a);
		c->ops++;
	}
	return NULL;
}

/*
 * Removing event channel ports waits for the hypercalls that may still
 * use them (an SRCU grace period of kvm->srcu), while a vCPU inside
 * kvm->srcu writes a blob hypercall page, which reads the blob settings
 * under the same lock the removal is made under: the wait must not
 * happen under that lock, or both sleep forever (and the VM can no
 * longer be killed).
 */
TEST(blob_page_writes_while_ports_churn)
{
	u8 *blob64 = alloc_blob(1, 0x64);
	struct kvm_xen_hvm_config c = {
		.msr = XEN_HCALL_MSR,
		.blob_addr_64 = (uintptr_t)blob64,
		.blob_size_64 = 1,
	};
	struct port_churn churn = { 0 };
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	struct kvm_vm *vm;
	struct ucall uc;
	u8 *page;

	if (xen_missing(KVM_XEN_HVM_CONFIG_SHARED_INFO))
		return;

	vm = guest_create(&vcpu, guest_blob_loop);
	page = guest_map_hcall_region(vm);
	ASSERT_EQ(0, xen_config(vm, &c));

	churn.vm = vm;
	ASSERT_EQ(0, pthread_create(&thread, NULL, churn_ports, &churn));
	ASSERT_EQ(UCALL_DONE, run_vcpu(vcpu, &uc));
	WRITE_ONCE(churn.stop, 1);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, churn.err);
	TH_LOG("%d page writes, %lu port operations", BLOB_WRITES, churn.ops);
	ASSERT_EQ(0, memcmp(page, blob64, PAGE));
	kvm_vm_free(vm);
	free(blob64);
}

TEST_HARNESS_MAIN
