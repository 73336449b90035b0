// SPDX-License-Identifier: GPL-2.0
/*
 * The pfn-cache API as 6.12 has it (kvm/boundary.h, persona_gpc_*()): the
 * cache knows its VM and address; no usage flags.  kvm.ko no longer
 * exports it (its users are all inside kvm.ko), so it is found by name.
 */
#include <linux/kvm_host.h>

#include "boundary.h"
#include "kallsyms.h"

static_assert(INVALID_GPA == PERSONA_GPA_INVALID);

static void (*gpc_init)(struct gfn_to_pfn_cache *gpc, struct kvm *kvm);
static int (*gpc_activate)(struct gfn_to_pfn_cache *gpc, gpa_t gpa,
			   unsigned long len);
static int (*gpc_activate_hva)(struct gfn_to_pfn_cache *gpc,
			       unsigned long uhva, unsigned long len);
static bool (*gpc_check)(struct gfn_to_pfn_cache *gpc, unsigned long len);
static int (*gpc_refresh)(struct gfn_to_pfn_cache *gpc, unsigned long len);
static void (*gpc_deactivate)(struct gfn_to_pfn_cache *gpc);

int persona_gpc_resolve(void)
{
	int r;

	r = persona_resolve("kvm_gpc_init", (void **)&gpc_init);
	r = r ?: persona_resolve("kvm_gpc_activate", (void **)&gpc_activate);
	r = r ?: persona_resolve("kvm_gpc_activate_hva",
				 (void **)&gpc_activate_hva);
	r = r ?: persona_resolve("kvm_gpc_check", (void **)&gpc_check);
	r = r ?: persona_resolve("kvm_gpc_refresh", (void **)&gpc_refresh);
	r = r ?: persona_resolve("kvm_gpc_deactivate",
				 (void **)&gpc_deactivate);
	return r;
}

void persona_gpc_init(struct kvm *kvm, struct persona_gpc *gpc)
{
	gpc_init(&gpc->kc, kvm);
	gpc->hva = 0;
}

int persona_gpc_activate(struct kvm *kvm, struct persona_gpc *gpc,
			 gpa_t gpa, unsigned long len)
{
	WRITE_ONCE(gpc->hva, 0);
	return gpc_activate(&gpc->kc, gpa, len);
}

/* 6.12's caches map a VMM address as such, in a memslot or not. */
int persona_gpc_activate_hva(struct kvm *kvm, struct persona_gpc *gpc,
			     unsigned long hva, unsigned long len)
{
	WRITE_ONCE(gpc->hva, hva);
	return gpc_activate_hva(&gpc->kc, hva, len);
}

void persona_gpc_deactivate(struct kvm *kvm, struct persona_gpc *gpc)
{
	gpc_deactivate(&gpc->kc);
	WRITE_ONCE(gpc->hva, 0);
}

/* Under persona_gpc_lock(): is the mapping valid for @len bytes? */
bool persona_gpc_check(struct kvm *kvm, struct persona_gpc *gpc,
		       unsigned long len)
{
	return gpc_check(&gpc->kc, len);
}

/*
 * Map @gpc again after kvm.ko invalidated it.  Sleeps; the caller then
 * re-checks the cache under its lock, which is when the mapping counts.
 * An inactive cache stays so (-EINVAL), as on 6.1.
 */
int persona_gpc_refresh(struct kvm *kvm, struct persona_gpc *gpc,
			unsigned long len)
{
	int idx, r;

	if (!gpc->kc.active)
		return -EINVAL;
	idx = srcu_read_lock(&kvm->srcu);
	r = gpc_refresh(&gpc->kc, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return r;
}

/* In the dirty log, from the vCPU running on this CPU (see gpc-6.1.c). */
void persona_gpc_mark_dirty(struct kvm_vcpu *vcpu, struct persona_gpc *gpc)
{
	if (kvm_get_running_vcpu() == vcpu)
		kvm_gpc_mark_dirty_in_slot(&gpc->kc);
}
