/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kvm-persona selftests and their helper programs:
 * constants, Xen ioctl wrappers, guest-side hypercall code, and a 32-bit
 * guest that the 6.1 KVM selftest library (libkvm) cannot make itself.
 *
 * Everything is static inline: each program is one translation unit linked
 * against the upstream libkvm objects.  Nothing here needs the kselftest
 * harness; persona_test.h adds what does.
 */
#ifndef PERSONA_UTIL_H
#define PERSONA_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

/* Set (to anything but "0") to turn "no Xen support" skips into failures. */
#define PERSONA_REQUIRE_ENV	"KVM_PERSONA_REQUIRE"

/*
 * The Xen hypercall MSR: where Xen puts it when Viridian (Hyper-V) is on
 * (upstream xen_vmcall_test), and where it is otherwise (xen_shinfo_test).
 */
#define XEN_HCALL_MSR		0x40000200u
#define XEN_HCALL_MSR_LOW	0x40000000u

/* Guest physical region for hypercall pages, identity mapped. */
#define HCALL_REGION_GPA	0xc0000000ull
#define HCALL_REGION_SLOT	10
#define HCALL_REGION_PAGES	4

/* A guest physical address that no memslot covers. */
#define UNBACKED_GPA		0x80000000ull

/* The 6.1 KVM_CAP_XEN_HVM flags, and the two every version has. */
#define XEN_CAPS_6_1		0x3fu
#define XEN_CAPS_BASE		(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR | \
				 KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)

/*
 * Xen's public ABI: hypercall numbers and XENVER_* commands.  Upstream
 * answers some calls to set_timer_op, vcpu_op, sched_op (yield, poll) and
 * event_channel_op (send) in the kernel, so tests that expect an exit to
 * userspace stay away from those.
 */
#define XEN_HC_set_timer_op	15
#define XEN_HC_xen_version	17
#define XEN_HC_vcpu_op		24
#define XEN_HC_sched_op		29
#define XEN_HC_event_channel_op	32
#define XENVER_version		0
#define XENVER_extraversion	1
#define XENVER_get_features	6

/* KVM's own hypercall ABI (include/uapi/linux/kvm_para.h). */
#define KVM_HC_VAPIC_POLL_IRQ_NR	1
#define KVM_HC_UNKNOWN_NR		0x5a5aa5a5ull
#define KVM_ENOSYS_RET			((u64)-1000)

/* Hyper-V bits used here (see also libkvm's hyperv.h). */
#define HV_GUEST_OS_ID_MSR	0x40000000u
#define HV_HYPERCALL_MSR	0x40000001u
#define HV_HYPERCALL_ENABLE	1ull
#define HV_SIGNAL_EVENT		0x005d
#define HV_STATUS_BAD_ALIGNMENT	4
#define HV_XEN_BIT		0x80000000ull

/* Each of the 128 stubs of a Xen hypercall page is 32 bytes long. */
#define XEN_STUB_SIZE		32
#define XEN_NR_STUBS		(4096 / XEN_STUB_SIZE)

/*
 * GUEST_SYNC_ARGS() with every value widened to 64 bits: ucall() reads its
 * variadic arguments as 64-bit values, and an int passed on the stack
 * would leave the upper half undefined.
 */
#define GSYNC(stage, a, b, c, d)					\
	GUEST_SYNC_ARGS((u64)(stage), (u64)(a), (u64)(b), (u64)(c),	\
			(u64)(d))

/* How run.sh tells the tests that the module must be there. */
static inline bool persona_required(void)
{
	const char *s = getenv(PERSONA_REQUIRE_ENV);

	return s && *s && strcmp(s, "0");
}

static inline unsigned int xen_caps(void)
{
	return kvm_check_cap(KVM_CAP_XEN_HVM);
}

/* ioctl() returning 0 or -errno. */
static inline int ioctl_err(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

static inline int xen_config(struct kvm_vm *vm,
			     const struct kvm_xen_hvm_config *cfg)
{
	struct kvm_xen_hvm_config c = *cfg;

	return ioctl_err(vm->fd, KVM_XEN_HVM_CONFIG, &c);
}

static inline int xen_config_simple(struct kvm_vm *vm, u32 flags, u32 msr)
{
	struct kvm_xen_hvm_config c = { .flags = flags, .msr = msr };

	return xen_config(vm, &c);
}

static inline int xen_set_attr(struct kvm_vm *vm, struct kvm_xen_hvm_attr *a)
{
	return ioctl_err(vm->fd, KVM_XEN_HVM_SET_ATTR, a);
}

static inline int xen_get_attr(struct kvm_vm *vm, struct kvm_xen_hvm_attr *a)
{
	return ioctl_err(vm->fd, KVM_XEN_HVM_GET_ATTR, a);
}

static inline int xen_set_version(struct kvm_vm *vm, u32 version)
{
	struct kvm_xen_hvm_attr a = {
		.type = KVM_XEN_ATTR_TYPE_XEN_VERSION,
		.u.xen_version = version,
	};

	return xen_set_attr(vm, &a);
}

static inline int xen_set_long_mode(struct kvm_vm *vm, u8 lm)
{
	struct kvm_xen_hvm_attr a = {
		.type = KVM_XEN_ATTR_TYPE_LONG_MODE,
		.u.long_mode = lm,
	};

	return xen_set_attr(vm, &a);
}

/* Read LONG_MODE; returns the value, or a negative errno. */
static inline int xen_get_long_mode(struct kvm_vm *vm)
{
	struct kvm_xen_hvm_attr a;
	int r;

	memset(&a, 0xa5, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_LONG_MODE;
	r = xen_get_attr(vm, &a);
	return r ? r : a.u.long_mode;
}

/*
 * Which hypercall instruction KVM writes into hypercall pages (and which
 * one the hardware traps natively): VMMCALL with kvm_amd, VMCALL with
 * kvm_intel.
 */
static inline bool host_uses_vmmcall(void)
{
	if (!access("/sys/module/kvm_amd", F_OK))
		return true;
	if (!access("/sys/module/kvm_intel", F_OK))
		return false;
	return is_amd_cpu();
}

static inline void hcall_insn(u8 insn[3])
{
	insn[0] = 0x0f;
	insn[1] = 0x01;
	insn[2] = host_uses_vmmcall() ? 0xd9 : 0xc1;
}

/* The stub KVM writes at offset 32 * @idx of an intercepting page. */
static inline void xen_expected_stub(u8 stub[XEN_STUB_SIZE], u32 idx)
{
	memset(stub, 0xcc, XEN_STUB_SIZE);
	stub[0] = 0xb8;				/* mov $idx, %eax */
	memcpy(&stub[1], &idx, sizeof(idx));
	hcall_insn(&stub[5]);			/* vmcall / vmmcall */
	stub[8] = 0xc3;				/* ret */
}

/* True if kvm.ko ignores guest accesses to unknown MSRs instead of #GP. */
static inline bool kvm_ignores_msrs(void)
{
	char c = 'N';
	int fd = open("/sys/module/kvm/parameters/ignore_msrs", O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 'N';
	close(fd);
	return c == 'Y' || c == 'y' || c == '1';
}

/*
 * A 64-bit guest created by libkvm with exception handling in place, so
 * that wrmsr_safe() works and stray exceptions are reported (libkvm turns
 * them into UCALL_UNHANDLED, which vcpu_run() asserts on).
 */
static inline struct kvm_vm *guest_create(struct kvm_vcpu **vcpu,
					  void *guest_code)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);

	vm_init_descriptor_tables(vm);
	vcpu_init_descriptor_tables(*vcpu);
	return vm;
}

/* Identity-map HCALL_REGION_PAGES pages at HCALL_REGION_GPA; returns HVA. */
static inline u8 *guest_map_hcall_region(struct kvm_vm *vm)
{
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, HCALL_REGION_GPA,
				    HCALL_REGION_SLOT, HCALL_REGION_PAGES, 0);
	virt_map(vm, HCALL_REGION_GPA, HCALL_REGION_GPA, HCALL_REGION_PAGES);
	return addr_gpa2hva(vm, HCALL_REGION_GPA);
}

/*
 * Guest side: a hypercall with the 64-bit Xen register convention (RAX
 * number, RDI RSI RDX R10 R8 R9 arguments).  All registers go in and come
 * back so the guest can check that KVM preserved them.
 */
struct hcall_regs {
	u64 rax, rdi, rsi, rdx, r10, r8, r9;
};

#define __GUEST_HCALL(insn, regs)					\
do {									\
	struct hcall_regs *__r = (regs);				\
	register u64 __r10 __asm__("r10") = __r->r10;			\
	register u64 __r8 __asm__("r8") = __r->r8;			\
	register u64 __r9 __asm__("r9") = __r->r9;			\
									\
	__asm__ __volatile__(insn					\
			     : "+a"(__r->rax), "+D"(__r->rdi),		\
			       "+S"(__r->rsi), "+d"(__r->rdx),		\
			       "+r"(__r10), "+r"(__r8), "+r"(__r9)	\
			     : : "memory");				\
	__r->r10 = __r10;						\
	__r->r8 = __r8;							\
	__r->r9 = __r9;							\
} while (0)

static inline void guest_vmcall(struct hcall_regs *r)
{
	__GUEST_HCALL("vmcall", r);
}

static inline void guest_vmmcall(struct hcall_regs *r)
{
	__GUEST_HCALL("vmmcall", r);
}

/* Call the stub at @addr (a Xen or Hyper-V hypercall page entry). */
static inline void guest_call_stub(u64 addr, struct hcall_regs *r)
{
	register u64 r10 __asm__("r10") = r->r10;
	register u64 r8 __asm__("r8") = r->r8;
	register u64 r9 __asm__("r9") = r->r9;

	__asm__ __volatile__("call *%[fn]"
			     : "+a"(r->rax), "+D"(r->rdi), "+S"(r->rsi),
			       "+d"(r->rdx), "+r"(r10), "+r"(r8), "+r"(r9)
			     : [fn] "r"(addr)
			     : "memory");
	r->r10 = r10;
	r->r8 = r8;
	r->r9 = r9;
}

/* Six recognisable 64-bit argument values. */
#define ARGVAL(seed, i)	(0xdeadbeef00000000ull | ((u64)(seed) << 8) | (i))

static inline void hcall_regs_fill(struct hcall_regs *r, u64 nr, u32 seed)
{
	r->rax = nr;
	r->rdi = ARGVAL(seed, 1);
	r->rsi = ARGVAL(seed, 2);
	r->rdx = ARGVAL(seed, 3);
	r->r10 = ARGVAL(seed, 4);
	r->r8 = ARGVAL(seed, 5);
	r->r9 = ARGVAL(seed, 6);
}

/* Guest: were the argument registers preserved? */
static inline bool hcall_args_intact(const struct hcall_regs *r, u32 seed)
{
	return r->rdi == ARGVAL(seed, 1) && r->rsi == ARGVAL(seed, 2) &&
	       r->rdx == ARGVAL(seed, 3) && r->r10 == ARGVAL(seed, 4) &&
	       r->r8 == ARGVAL(seed, 5) && r->r9 == ARGVAL(seed, 6);
}

/*
 * A 32-bit guest, which libkvm cannot make: flat protected mode without
 * paging, built with raw KVM_SET_SREGS/KVM_SET_REGS on a bare VM (no
 * irqchip, so HLT exits).  Guest physical memory starts at 0; code is
 * copied to VM32_CODE_GPA.  The guest signals the host with
 * "out %al, $VM32_DONE_PORT", which also works at CPL3 (IOPL is 3).
 */
#define VM32_PAGES		16
#define VM32_CODE_GPA		0x1000u
#define VM32_STACK_GPA		0x3000u
#define VM32_PAGE_GPA		0x5000u	/* hypercall page target */
#define VM32_DONE_PORT		0x10

struct vm32 {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	u8 *mem;
};

static inline void vm32_create(struct vm32 *g)
{
	g->vm = vm_create_barebones();
	vm_userspace_mem_region_add(g->vm, VM_MEM_SRC_ANONYMOUS, 0, 0,
				    VM32_PAGES, 0);
	g->mem = addr_gpa2hva(g->vm, 0);
	g->vcpu = NULL;
}

static inline void vm32_seg(struct kvm_segment *s, u16 sel, u8 type, u8 dpl)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel | dpl;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

/*
 * Add the vCPU, entering @code at VM32_CODE_GPA with privilege level @cpl
 * (0 or 3) and the given general purpose registers (RIP, RSP and RFLAGS
 * are set here).
 */
static inline void vm32_add_vcpu(struct vm32 *g, const u8 *code, size_t len,
				 u8 cpl, const struct kvm_regs *init)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = *init;

	TEST_ASSERT(len <= 0x1000, "32-bit guest code too long");
	memcpy(g->mem + VM32_CODE_GPA, code, len);

	g->vcpu = __vm_vcpu_add(g->vm, 0);

	vcpu_sregs_get(g->vcpu, &sregs);
	vm32_seg(&sregs.cs, 0x08, 0x0b, cpl);	/* code, execute/read */
	vm32_seg(&sregs.ds, 0x10, 0x03, cpl);	/* data, read/write */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x18;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0x0b;			/* busy 32-bit TSS */
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = 0;
	sregs.gdt.limit = 0;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	vcpu_sregs_set(g->vcpu, &sregs);

	regs.rip = VM32_CODE_GPA;
	regs.rsp = VM32_STACK_GPA;
	regs.rflags = X86_EFLAGS_FIXED | (3u << 12);	/* IOPL 3 */
	vcpu_regs_set(g->vcpu, &regs);
}

/* Emit the native hypercall instruction into 32-bit guest code. */
static inline size_t vm32_emit_hcall(u8 *p)
{
	hcall_insn(p);
	return 3;
}

/* Emit "out %al, $VM32_DONE_PORT; hlt". */
static inline size_t vm32_emit_done(u8 *p)
{
	p[0] = 0xe6;
	p[1] = VM32_DONE_PORT;
	p[2] = 0xf4;
	return 3;
}

#endif /* PERSONA_UTIL_H */
