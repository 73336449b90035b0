/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kvm.ko boundary: every access to kvm.ko's private state and to its
 * non-exported symbols goes through these functions, which one file per
 * kernel series implements (kvm.c where 6.1 and 6.12 agree, gpc-*.c and
 * vm-*.c where they differ; src/Kbuild picks them).  The rest
 * of the module uses only these, kvm.ko's exported API and the public
 * parts of <linux/kvm_host.h>.
 */
#ifndef _PERSONA_KVM_BOUNDARY_H
#define _PERSONA_KVM_BOUNDARY_H

#include <linux/kvm_host.h>
#include <linux/types.h>

struct persona_vm;

/* Resolve the symbols the functions below need; -ENOENT if one is missing. */
int persona_kvm_init(void);

/*
 * The personality state of @kvm, NULL for a VM without one.  The hook
 * engine asks on every hooked call of every VM.  Where kvm.ko reserves a
 * struct kvm_xen in every VM even without CONFIG_KVM_XEN (6.1; src/Kbuild
 * probes for it), it is an inline load from the VM itself: built without
 * CONFIG_KVM_XEN kvm.ko never reads or writes that struct (its users are
 * all in the xen.c it does not build, and the module refuses to load
 * where that is built), so its first word is ours.  Elsewhere it is a
 * lookup in a table (vm-table.c).
 */
#ifdef PERSONA_KVM_XEN_SLOT
static_assert(sizeof(struct kvm_xen) >= sizeof(struct persona_vm *));

static __always_inline struct persona_vm **persona_kvm_slot(struct kvm *kvm)
{
	return (struct persona_vm **)&kvm->arch.xen;
}

/*
 * Valid without RCU once found: the state lives exactly as long as the VM
 * (it is published before the VM can use it and withdrawn when kvm.ko has
 * destroyed the vCPUs), and every caller holds a reference to the VM.
 */
static __always_inline struct persona_vm *persona_kvm_vm(struct kvm *kvm)
{
	return READ_ONCE(*persona_kvm_slot(kvm));
}
#else
struct persona_vm *persona_kvm_vm(struct kvm *kvm);
#endif

/*
 * Publish @pvm for @kvm; returns the state already there if any, or an
 * ERR_PTR() if there is no memory to publish it.
 */
struct persona_vm *persona_kvm_install_vm(struct kvm *kvm,
					  struct persona_vm *pvm);
struct persona_vm *persona_kvm_remove_vm(struct kvm *kvm);

enum persona_reg {
	PERSONA_RAX, PERSONA_RCX, PERSONA_RDX, PERSONA_RBX,
	PERSONA_RSP, PERSONA_RBP, PERSONA_RSI, PERSONA_RDI,
	PERSONA_R8, PERSONA_R9, PERSONA_R10, PERSONA_R11,
};

unsigned long persona_kvm_reg_read(struct kvm_vcpu *vcpu, enum persona_reg r);
void persona_kvm_reg_write(struct kvm_vcpu *vcpu, enum persona_reg r,
			   unsigned long val);
bool persona_kvm_is_long_mode(struct kvm_vcpu *vcpu);
bool persona_kvm_is_64bit_hypercall(struct kvm_vcpu *vcpu);
int persona_kvm_get_cpl(struct kvm_vcpu *vcpu);
void persona_kvm_patch_hypercall(struct kvm_vcpu *vcpu, u8 *insn);
void persona_kvm_set_complete_userspace(struct kvm_vcpu *vcpu,
					int (*fn)(struct kvm_vcpu *vcpu));
bool persona_kvm_hv_hypercall_enabled(struct kvm_vcpu *vcpu);
u64 persona_kvm_hv_hypercall_msr(struct kvm_vcpu *vcpu);
/* The vCPU whose pvclock kvm.ko passes to kvm_hv_setup_tsc_page(). */
struct kvm_vcpu *persona_kvm_vcpu_of_clock(struct pvclock_vcpu_time_info *c);
bool persona_kvm_lapic_in_kernel(struct kvm_vcpu *vcpu);
/* The vCPU's CPUID table as KVM_SET_CPUID2 set it: entry @i, NULL past it. */
struct kvm_cpuid_entry2 *persona_kvm_cpuid_entry(struct kvm_vcpu *vcpu, int i);
/* The guest TSC's frequency kvm.ko last computed the pvclock for. */
u32 persona_kvm_tsc_khz(struct kvm_vcpu *vcpu);
u64 persona_kvm_clock_ns(struct kvm *kvm);
u64 persona_kvm_wall_clock_epoch(struct kvm *kvm);
int persona_kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq);
gpa_t persona_kvm_gva_to_gpa(struct kvm_vcpu *vcpu, u64 gva);
int persona_kvm_read_guest_virt(struct kvm_vcpu *vcpu, u64 gva, void *data,
				unsigned int len);
int persona_kvm_write_guest_virt(struct kvm_vcpu *vcpu, u64 gva,
				 const void *data, unsigned int len);
void persona_kvm_set_mp_state(struct kvm_vcpu *vcpu, u32 state);
/* Another VM's memory, in its VMM's address space (kvm.c). */
int persona_kvm_read_foreign(struct kvm *kvm, gpa_t gpa, void *data,
			     unsigned int len);
int persona_kvm_write_foreign(struct kvm *kvm, gpa_t gpa, const void *data,
			      unsigned int len);
int persona_kvm_cmpxchg_foreign(struct kvm *kvm, gpa_t gpa, u32 *old, u32 new);
bool persona_kvm_put_unless_last(struct kvm *kvm);
int persona_kvm_debugfs_name(struct kvm *kvm, char *buf, size_t len);
typedef void (*persona_route_fn)(void *data,
				 const struct kvm_kernel_irq_routing_entry *e);
void persona_kvm_walk_routes(struct kvm *kvm, u32 type,
			     persona_route_fn fn, void *data);

/*
 * Guest-memory caches: kvm.ko's struct gfn_to_pfn_cache, whose API changes
 * between series, and the VMM address the cache was named by when
 * userspace gave one (KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA and
 * KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA), 0 when it gave a guest physical
 * address.  To use a mapped guest page: persona_gpc_lock(); while
 * !persona_gpc_check(), unlock, persona_gpc_refresh() (which sleeps) and
 * lock again; the page at persona_gpc_khva() is then valid until
 * persona_gpc_unlock().  The lock is irq-safe (Documentation/locking.rst).
 */
#define PERSONA_GPA_INVALID	(~(gpa_t)0)

struct persona_gpc {
	struct gfn_to_pfn_cache kc;
	unsigned long hva;
};

/* Find the API where kvm.ko does not export it (persona_kvm_init()). */
int persona_gpc_resolve(void);
void persona_gpc_init(struct kvm *kvm, struct persona_gpc *gpc);
int persona_gpc_activate(struct kvm *kvm, struct persona_gpc *gpc,
			 gpa_t gpa, unsigned long len);
int persona_gpc_activate_hva(struct kvm *kvm, struct persona_gpc *gpc,
			     unsigned long hva, unsigned long len);
void persona_gpc_deactivate(struct kvm *kvm, struct persona_gpc *gpc);
bool persona_gpc_check(struct kvm *kvm, struct persona_gpc *gpc,
		       unsigned long len);
int persona_gpc_refresh(struct kvm *kvm, struct persona_gpc *gpc,
			unsigned long len);
void persona_gpc_invalidate(struct persona_gpc *gpc);
void persona_gpc_mark_dirty(struct kvm_vcpu *vcpu, struct persona_gpc *gpc);

#define persona_gpc_lock(gpc, flags)	read_lock_irqsave(&(gpc)->kc.lock, flags)
#define persona_gpc_unlock(gpc, flags)	read_unlock_irqrestore(&(gpc)->kc.lock, flags)
#define persona_gpc_trylock(gpc)	read_trylock(&(gpc)->kc.lock)
/* The second page of an area that crosses one, under the first's lock. */
#define persona_gpc_lock_second(gpc)	read_lock(&(gpc)->kc.lock)
#define persona_gpc_trylock_second(gpc)	read_trylock(&(gpc)->kc.lock)
#define persona_gpc_unlock_second(gpc)	read_unlock(&(gpc)->kc.lock)
/*
 * All caches' locks are of one lockdep class; the first of two held at
 * once is marked as the outer one.  No path takes them the other way.
 */
#define persona_gpc_nest_first(gpc)	\
	lock_set_subclass(&(gpc)->kc.lock.dep_map, 1, _THIS_IP_)

static inline void *persona_gpc_khva(struct persona_gpc *gpc)
{
	return gpc->kc.khva;
}

static inline bool persona_gpc_active(struct persona_gpc *gpc)
{
	return gpc->kc.active;
}

/* The guest physical address; PERSONA_GPA_INVALID if not named by one. */
static inline gpa_t persona_gpc_gpa(struct persona_gpc *gpc)
{
	if (!gpc->kc.active || READ_ONCE(gpc->hva))
		return PERSONA_GPA_INVALID;
	return gpc->kc.gpa;
}

/* The VMM address; 0 if the cache was not named by one. */
static inline unsigned long persona_gpc_hva(struct persona_gpc *gpc)
{
	return gpc->kc.active ? READ_ONCE(gpc->hva) : 0;
}

#endif /* _PERSONA_KVM_BOUNDARY_H */
