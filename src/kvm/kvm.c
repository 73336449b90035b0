// SPDX-License-Identifier: GPL-2.0
/*
 * The kvm.ko boundary (kvm/boundary.h): the private parts of struct
 * kvm_vcpu_arch and struct kvm_arch, and the non-exported symbols, where
 * 6.1 and 6.12 agree.  What differs is in gpc-<series>.c and vm-*.c,
 * which src/Kbuild picks by probing the kernel tree.
 */
#include <linux/kvm_host.h>
#include <linux/uaccess.h>
#include <linux/timekeeping.h>

#include "kallsyms.h"
#include "boundary.h"

static struct kvm_x86_ops *persona_x86_ops;
static u64 (*persona_get_kvmclock_ns)(struct kvm *kvm);
static int (*persona_apic_set_irq)(struct kvm_vcpu *vcpu,
				   struct kvm_lapic_irq *irq, void *dest_map);
static gpa_t (*persona_gva_to_gpa_system)(struct kvm_vcpu *vcpu, gva_t gva,
					  void *exception);

int persona_kvm_init(void)
{
	int r;

	r = persona_resolve("kvm_x86_ops", (void **)&persona_x86_ops);
	r = r ?: persona_resolve("get_kvmclock_ns",
				 (void **)&persona_get_kvmclock_ns);
	r = r ?: persona_resolve("kvm_apic_set_irq",
				 (void **)&persona_apic_set_irq);
	r = r ?: persona_resolve("kvm_mmu_gva_to_gpa_system",
				 (void **)&persona_gva_to_gpa_system);
	r = r ?: persona_gpc_resolve();
	return r;
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

/* kvm_guest_time_update() passes &vcpu->arch.hv_clock. */
struct kvm_vcpu *persona_kvm_vcpu_of_clock(struct pvclock_vcpu_time_info *c)
{
	return container_of(c, struct kvm_vcpu, arch.hv_clock);
}

struct kvm_cpuid_entry2 *persona_kvm_cpuid_entry(struct kvm_vcpu *vcpu, int i)
{
	return i < vcpu->arch.cpuid_nent ? &vcpu->arch.cpuid_entries[i] : NULL;
}

u32 persona_kvm_tsc_khz(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.hw_tsc_khz;
}

bool persona_kvm_lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return !!vcpu->arch.apic;
}

/* The guest's kvmclock, the time base of Xen's system time. */
u64 persona_kvm_clock_ns(struct kvm *kvm)
{
	return persona_get_kvmclock_ns(kvm);
}

/*
 * The real time at which @kvm's kvmclock read 0 (Xen's wallclock), from
 * one clock read: the real and raw time of one snapshot, and kvmclock as
 * kvm.ko counts it, raw time since boot plus the VM's offset.  Reading
 * the real time and then kvmclock would put the epoch in the past by
 * whatever delay came between the two reads (upstream 6.1 does; later
 * kernels take one reading too).
 */
u64 persona_kvm_wall_clock_epoch(struct kvm *kvm)
{
	struct system_time_snapshot snap;
	s64 kvmclock;

	ktime_get_snapshot(&snap);
	kvmclock = ktime_to_ns(ktime_add(snap.raw,
					 ktime_mono_to_any(0, TK_OFFS_BOOT))) +
		   READ_ONCE(kvm->arch.kvmclock_offset);
	return ktime_to_ns(snap.real) - kvmclock;
}

int persona_kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq)
{
	return persona_apic_set_irq(vcpu, irq, NULL);
}

/* Translation as the guest kernel sees it; 0 when unmapped. */
gpa_t persona_kvm_gva_to_gpa(struct kvm_vcpu *vcpu, u64 gva)
{
	gpa_t gpa = persona_gva_to_gpa_system(vcpu, gva, NULL);

	return gpa == INVALID_GPA ? 0 : gpa;
}

void persona_kvm_set_mp_state(struct kvm_vcpu *vcpu, u32 state)
{
	vcpu->arch.mp_state = state;
}

/*
 * Copy @len bytes at guest-virtual @gva as the guest kernel sees them,
 * page by page so that a buffer crossing a page boundary is translated
 * correctly.  Returns 0 or -EFAULT.  Writes are only ever of a
 * hypercall's own argument, which the guest just handed us.
 */
static int persona_kvm_guest_virt(struct kvm_vcpu *vcpu, u64 gva, void *data,
				  unsigned int len, bool write)
{
	unsigned int chunk;
	gpa_t gpa;
	int r;

	while (len) {
		chunk = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(gva));
		gpa = persona_kvm_gva_to_gpa(vcpu, gva);
		if (!gpa)
			return -EFAULT;
		r = write ? kvm_vcpu_write_guest(vcpu, gpa, data, chunk) :
			    kvm_vcpu_read_guest(vcpu, gpa, data, chunk);
		if (r)
			return -EFAULT;
		gva += chunk;
		data += chunk;
		len -= chunk;
	}
	return 0;
}

int persona_kvm_read_guest_virt(struct kvm_vcpu *vcpu, u64 gva, void *data,
				unsigned int len)
{
	return persona_kvm_guest_virt(vcpu, gva, data, len, false);
}

int persona_kvm_write_guest_virt(struct kvm_vcpu *vcpu, u64 gva,
				 const void *data, unsigned int len)
{
	return persona_kvm_guest_virt(vcpu, gva, (void *)data, len, true);
}

/*
 * Guest memory of @kvm from outside its vCPUs, in its VMM's address space
 * (the caller is that VMM's thread or a worker that borrowed its mm, and
 * holds kvm->srcu).  kvm.ko's own writers record the page in the dirty
 * log, which needs a running vCPU of that VM; these do not, so a write
 * to a memslot whose dirty pages are being logged is refused (-EBUSY)
 * rather than lost to a migration.
 */
static unsigned long persona_kvm_foreign_hva(struct kvm *kvm, gpa_t gpa,
					     unsigned int len, bool write)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gpa_to_gfn(gpa));

	if (!slot || len > PAGE_SIZE - offset_in_page(gpa))
		return KVM_HVA_ERR_BAD;
	if (write && (slot->flags & KVM_MEM_READONLY))
		return KVM_HVA_ERR_BAD;
	if (write && kvm_slot_dirty_track_enabled(slot))
		return KVM_HVA_ERR_RO_BAD;
	return gfn_to_hva_memslot(slot, gpa_to_gfn(gpa)) + offset_in_page(gpa);
}

/* Write @len bytes, within one page, at @gpa: 0, -EFAULT or -EBUSY. */
int persona_kvm_write_foreign(struct kvm *kvm, gpa_t gpa, const void *data,
			      unsigned int len)
{
	unsigned long hva = persona_kvm_foreign_hva(kvm, gpa, len, true);

	if (hva == KVM_HVA_ERR_RO_BAD)
		return -EBUSY;
	if (kvm_is_error_hva(hva) ||
	    __copy_to_user((void __user *)hva, data, len))
		return -EFAULT;
	return 0;
}

/* Read @len bytes, within one page, at @gpa: 0 or -EFAULT. */
int persona_kvm_read_foreign(struct kvm *kvm, gpa_t gpa, void *data,
			     unsigned int len)
{
	unsigned long hva = persona_kvm_foreign_hva(kvm, gpa, len, false);

	if (kvm_is_error_hva(hva) ||
	    __copy_from_user(data, (void __user *)hva, len))
		return -EFAULT;
	return 0;
}

/*
 * Compare-and-exchange the aligned 32-bit word at @gpa, as above: 0 if
 * swapped, 1 if it held another value (now in *@old), -EFAULT or -EBUSY.
 */
int persona_kvm_cmpxchg_foreign(struct kvm *kvm, gpa_t gpa, u32 *old, u32 new)
{
	unsigned long hva = persona_kvm_foreign_hva(kvm, gpa, sizeof(u32), true);
	u32 __user *p = (u32 __user *)hva;
	int r;

	if (hva == KVM_HVA_ERR_RO_BAD)
		return -EBUSY;
	if (kvm_is_error_hva(hva) || !IS_ALIGNED(gpa, sizeof(u32)) ||
	    !user_access_begin(p, sizeof(*p)))
		return -EFAULT;
	r = unsafe_try_cmpxchg_user(p, old, new, efault) ? 0 : 1;
	user_access_end();
	return r;
efault:
	user_access_end();
	return -EFAULT;
}

/*
 * Drop a reference to @kvm unless it is the last one: true if dropped.
 * The last one must be dropped where destroying the VM is safe.
 */
bool persona_kvm_put_unless_last(struct kvm *kvm)
{
	return refcount_dec_not_one(&kvm->users_count);
}

/*
 * The name of the directory KVM gave @kvm in debugfs ("<pid>-<fd>"), for
 * the module's own directory of the VM to match it; -ENOENT if KVM made
 * none (debugfs off, or its creation failed).
 */
int persona_kvm_debugfs_name(struct kvm *kvm, char *buf, size_t len)
{
	struct dentry *d = kvm->debugfs_dentry;

	if (IS_ERR_OR_NULL(d))
		return -ENOENT;
	return snprintf(buf, len, "%pd", d) < len ? 0 : -ENAMETOOLONG;
}

/*
 * Call @fn on each of @kvm's interrupt routes of @type, as the routing
 * table stands; @fn runs under kvm->irq_srcu and must not sleep.
 */
void persona_kvm_walk_routes(struct kvm *kvm, u32 type,
			     persona_route_fn fn, void *data)
{
	struct kvm_kernel_irq_routing_entry *e;
	struct kvm_irq_routing_table *rt;
	u32 gsi;
	int idx;

	idx = srcu_read_lock(&kvm->irq_srcu);
	rt = srcu_dereference(kvm->irq_routing, &kvm->irq_srcu);
	for (gsi = 0; rt && gsi < rt->nr_rt_entries; gsi++)
		hlist_for_each_entry(e, &rt->map[gsi], link)
			if (e->type == type)
				fn(data, e);
	srcu_read_unlock(&kvm->irq_srcu, idx);
}

/* Make every user of @gpc see it unmapped until it is refreshed. */
void persona_gpc_invalidate(struct persona_gpc *gpc)
{
	unsigned long flags;

	write_lock_irqsave(&gpc->kc.lock, flags);
	gpc->kc.valid = false;
	write_unlock_irqrestore(&gpc->kc.lock, flags);
}
