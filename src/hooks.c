// SPDX-License-Identifier: GPL-2.0
/*
 * The hook layer: redirects kvm.ko entry points into kvm-persona.
 *
 * Debian's 6.1 kvm.ko is built without CONFIG_KVM_XEN, so the places where
 * upstream KVM would call into its Xen code are stubs.  We put the Xen
 * personality back by redirecting a handful of kvm.ko functions with
 * ftrace (the mechanism livepatch uses): an ftrace_ops with IPMODIFY
 * rewrites the instruction pointer to our replacement, which handles what
 * belongs to the personality and calls the original for everything else.
 *
 * This is the only file that knows kvm.ko's internals: the private parts
 * of struct kvm_vcpu_arch and the non-exported symbols.
 */
#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/srcu.h>
#include <asm/hyperv-tlfs.h>

#include "persona.h"

/*
 * Every replacement runs inside this SRCU read section, so that unloading
 * can wait for callers that sleep inside the original function they
 * called through us (e.g. an ioctl blocked on a mutex).
 */
DEFINE_STATIC_SRCU(persona_hook_srcu);

struct persona_hook {
	const char *name;
	void *replacement;
	/* Where to store the original's address (a function pointer). */
	void **orig;
	unsigned long addr;
	struct ftrace_ops ops;
	bool registered;
};

static struct kvm_x86_ops *persona_x86_ops;

static int (*orig_check_extension)(struct kvm *kvm, long ext);
static long (*orig_arch_vm_ioctl)(struct file *filp, unsigned int ioctl,
				  unsigned long arg);
static long (*orig_arch_vcpu_ioctl)(struct file *filp, unsigned int ioctl,
				    unsigned long arg);
static int (*orig_emulate_hypercall)(struct kvm_vcpu *vcpu);
static int (*orig_set_msr_common)(struct kvm_vcpu *vcpu,
				  struct msr_data *msr_info);
static void (*orig_arch_destroy_vm)(struct kvm *kvm);

/*
 * KVM_CHECK_EXTENSION, on /dev/kvm (kvm == NULL) and on VM fds.
 */
static int hook_check_extension(struct kvm *kvm, long ext)
{
	int idx, r;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (ext == KVM_CAP_XEN_HVM)
		r = persona_xen_caps();
	else
		r = orig_check_extension(kvm, ext);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

static long hook_arch_vm_ioctl(struct file *filp, unsigned int ioctl,
			       unsigned long arg)
{
	struct kvm *kvm = filp->private_data;
	long r;
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vm_ioctl_claims(ioctl))
		r = persona_vm_ioctl(kvm, ioctl, (void __user *)arg);
	else
		r = orig_arch_vm_ioctl(filp, ioctl, arg);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

static long hook_arch_vcpu_ioctl(struct file *filp, unsigned int ioctl,
				 unsigned long arg)
{
	struct kvm_vcpu *vcpu = filp->private_data;
	long r;
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vcpu_ioctl_claims(ioctl))
		r = persona_vcpu_ioctl(vcpu, ioctl, (void __user *)arg);
	else
		r = orig_arch_vcpu_ioctl(filp, ioctl, arg);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

/*
 * The VMCALL/VMMCALL exit handler of both vendor modules.  A VM without a
 * Xen personality goes straight to KVM's own handler.
 */
static int hook_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	struct persona_vm *pvm = NULL;
	int idx, r;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vms_exist())
		pvm = persona_vm_find(vcpu->kvm);
	if (pvm && persona_xen_intercepts(pvm) &&
	    !persona_hv_claims_hypercall(vcpu))
		r = persona_xen_hypercall(pvm, vcpu);
	else
		r = orig_emulate_hypercall(vcpu);
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

static int hook_set_msr_common(struct kvm_vcpu *vcpu,
			       struct msr_data *msr_info)
{
	struct persona_vm *pvm = NULL;
	u32 index = msr_info->index;
	int idx, r;

	idx = srcu_read_lock(&persona_hook_srcu);
	if (persona_vms_exist())
		pvm = persona_vm_find(vcpu->kvm);
	if (pvm && index && index == READ_ONCE(pvm->msr)) {
		r = persona_xen_write_hypercall_page(pvm, vcpu,
						     msr_info->data);
	} else {
		r = orig_set_msr_common(vcpu, msr_info);
		if (pvm && !r && index == HV_X64_MSR_HYPERCALL)
			persona_hv_hypercall_msr_written(pvm, vcpu,
							 msr_info->data);
	}
	srcu_read_unlock(&persona_hook_srcu, idx);
	return r;
}

/*
 * VM teardown: the personality goes after kvm.ko has destroyed the vCPUs,
 * so nothing can run a Xen exit path any more.
 */
static void hook_arch_destroy_vm(struct kvm *kvm)
{
	int idx;

	idx = srcu_read_lock(&persona_hook_srcu);
	orig_arch_destroy_vm(kvm);
	persona_vm_destroy(kvm);
	srcu_read_unlock(&persona_hook_srcu, idx);
}

#define PERSONA_HOOK(sym, fn, o)					\
	{ .name = (sym), .replacement = (fn), .orig = (void **)&(o) }

static struct persona_hook persona_hooks[] = {
	PERSONA_HOOK("kvm_vm_ioctl_check_extension", hook_check_extension,
		     orig_check_extension),
	PERSONA_HOOK("kvm_arch_vm_ioctl", hook_arch_vm_ioctl,
		     orig_arch_vm_ioctl),
	PERSONA_HOOK("kvm_arch_vcpu_ioctl", hook_arch_vcpu_ioctl,
		     orig_arch_vcpu_ioctl),
	PERSONA_HOOK("kvm_emulate_hypercall", hook_emulate_hypercall,
		     orig_emulate_hypercall),
	PERSONA_HOOK("kvm_set_msr_common", hook_set_msr_common,
		     orig_set_msr_common),
	PERSONA_HOOK("kvm_arch_destroy_vm", hook_arch_destroy_vm,
		     orig_arch_destroy_vm),
};

/*
 * The ftrace callback.  Calls from our own module are the replacements
 * calling the original: let those through, redirect everything else.
 */
static void notrace persona_ftrace_thunk(unsigned long ip,
					 unsigned long parent_ip,
					 struct ftrace_ops *ops,
					 struct ftrace_regs *fregs)
{
	struct persona_hook *hook = container_of(ops, struct persona_hook, ops);

	if (!within_module(parent_ip, THIS_MODULE))
		persona_compat_set_ip(fregs,
				      (unsigned long)hook->replacement);
}

/*
 * kallsyms_lookup_name() has not been exported since 5.7; a kprobe on it
 * tells us where it is.
 */
static unsigned long (*persona_kallsyms_lookup)(const char *name);

static int persona_resolve_kallsyms(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int r;

	r = register_kprobe(&kp);
	if (r)
		return r;
	persona_kallsyms_lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	return persona_kallsyms_lookup ? 0 : -ENOENT;
}

static unsigned long persona_lookup(const char *name)
{
	return persona_kallsyms_lookup(name);
}

static int persona_hook_register(struct persona_hook *hook)
{
	int r;

	/*
	 * No FTRACE_OPS_FL_RECURSION: the thunk calls nothing traceable, and
	 * without it ftrace calls the thunk straight from the trampoline
	 * instead of through its recursion-guarding wrapper, which every
	 * VMCALL and MSR exit of every VM would pay for.  PERMANENT keeps
	 * ftrace from being switched off under running Xen guests.
	 */
	hook->ops.func = persona_ftrace_thunk;
	hook->ops.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
			  FTRACE_OPS_FL_PERMANENT;

	r = ftrace_set_filter_ip(&hook->ops, hook->addr, 0, 0);
	if (r)
		return r;
	r = register_ftrace_function(&hook->ops);
	if (r) {
		ftrace_set_filter_ip(&hook->ops, hook->addr, 1, 0);
		return r;
	}
	hook->registered = true;
	return 0;
}

static void persona_hook_unregister(struct persona_hook *hook)
{
	if (!hook->registered)
		return;
	WARN_ON_ONCE(unregister_ftrace_function(&hook->ops));
	ftrace_set_filter_ip(&hook->ops, hook->addr, 1, 0);
	hook->registered = false;
}

static void persona_unhook_all(void)
{
	int i;

	for (i = ARRAY_SIZE(persona_hooks) - 1; i >= 0; i--)
		persona_hook_unregister(&persona_hooks[i]);
}

int persona_hooks_init(void)
{
	struct persona_hook *hook;
	int i, r;

	r = persona_resolve_kallsyms();
	if (r) {
		pr_err("cannot locate kallsyms_lookup_name (%d), not loading\n",
		       r);
		return r;
	}

	for (i = 0; i < ARRAY_SIZE(persona_hooks); i++) {
		hook = &persona_hooks[i];
		hook->addr = persona_lookup(hook->name);
		if (!hook->addr) {
			pr_err("kvm.ko has no symbol %s, not loading\n",
			       hook->name);
			return -ENOENT;
		}
		*hook->orig = (void *)hook->addr;
	}

	persona_x86_ops = (void *)persona_lookup("kvm_x86_ops");
	if (!persona_x86_ops) {
		pr_err("kvm.ko has no symbol kvm_x86_ops, not loading\n");
		return -ENOENT;
	}

	/* A kernel with CONFIG_KVM_XEN already has the personality. */
	r = orig_check_extension(NULL, KVM_CAP_XEN_HVM);
	if (r) {
		pr_err("kvm.ko already implements the Xen ABI (KVM_CAP_XEN_HVM=%#x), not loading\n",
		       r);
		return -EEXIST;
	}

	for (i = 0; i < ARRAY_SIZE(persona_hooks); i++) {
		r = persona_hook_register(&persona_hooks[i]);
		if (r) {
			pr_err("cannot hook %s (%d), not loading\n",
			       persona_hooks[i].name, r);
			persona_unhook_all();
			return r;
		}
	}
	return 0;
}

void persona_hooks_exit(void)
{
	persona_unhook_all();
	/* Callers that entered a replacement before it was unhooked. */
	synchronize_srcu(&persona_hook_srcu);
	/*
	 * A caller may still be on the last instructions of a replacement,
	 * after its srcu_read_unlock(); it leaves them before it next
	 * schedules voluntarily.
	 */
	synchronize_rcu_tasks();
}

/* Accessors to kvm.ko's private vCPU state. */

static const enum kvm_reg persona_reg_map[] = {
	[PERSONA_RAX] = VCPU_REGS_RAX, [PERSONA_RCX] = VCPU_REGS_RCX,
	[PERSONA_RDX] = VCPU_REGS_RDX, [PERSONA_RBX] = VCPU_REGS_RBX,
	[PERSONA_RSP] = VCPU_REGS_RSP, [PERSONA_RBP] = VCPU_REGS_RBP,
	[PERSONA_RSI] = VCPU_REGS_RSI, [PERSONA_RDI] = VCPU_REGS_RDI,
	[PERSONA_R8] = VCPU_REGS_R8, [PERSONA_R9] = VCPU_REGS_R9,
	[PERSONA_R10] = VCPU_REGS_R10, [PERSONA_R11] = VCPU_REGS_R11,
};

unsigned long persona_kvm_reg_read(struct kvm_vcpu *vcpu, enum persona_reg r)
{
	enum kvm_reg reg = persona_reg_map[r];

	if (!test_bit(reg, (unsigned long *)&vcpu->arch.regs_avail))
		persona_x86_ops->cache_reg(vcpu, reg);
	return vcpu->arch.regs[reg];
}

void persona_kvm_reg_write(struct kvm_vcpu *vcpu, enum persona_reg r,
			   unsigned long val)
{
	enum kvm_reg reg = persona_reg_map[r];

	vcpu->arch.regs[reg] = val;
	__set_bit(reg, (unsigned long *)&vcpu->arch.regs_avail);
	__set_bit(reg, (unsigned long *)&vcpu->arch.regs_dirty);
}

bool persona_kvm_is_long_mode(struct kvm_vcpu *vcpu)
{
	return !!(vcpu->arch.efer & EFER_LMA);
}

bool persona_kvm_is_64bit_hypercall(struct kvm_vcpu *vcpu)
{
	int db, l;

	/* Protected guests can only make hypercalls in 64-bit mode. */
	if (vcpu->arch.guest_state_protected)
		return true;
	if (!persona_kvm_is_long_mode(vcpu))
		return false;
	persona_x86_ops->get_cs_db_l_bits(vcpu, &db, &l);
	return l;
}

int persona_kvm_get_cpl(struct kvm_vcpu *vcpu)
{
	return persona_x86_ops->get_cpl(vcpu);
}

void persona_kvm_patch_hypercall(struct kvm_vcpu *vcpu, u8 *insn)
{
	persona_x86_ops->patch_hypercall(vcpu, insn);
}

void persona_kvm_set_complete_userspace(struct kvm_vcpu *vcpu,
					int (*fn)(struct kvm_vcpu *vcpu))
{
	vcpu->arch.complete_userspace_io = fn;
}

bool persona_kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.hyperv_enabled &&
	       READ_ONCE(vcpu->kvm->arch.hyperv.hv_guest_os_id);
}

u64 persona_kvm_hv_hypercall_msr(struct kvm_vcpu *vcpu)
{
	return READ_ONCE(vcpu->kvm->arch.hyperv.hv_hypercall);
}
