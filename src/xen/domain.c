// SPDX-License-Identifier: GPL-2.0
/*
 * Xen domain IDs.  Every Xen VM on the host has one, unique on the host:
 * it is how one VM names another in EVTCHNOP_alloc_unbound and
 * EVTCHNOP_bind_interdomain (interdomain.c), and nothing else of a VM is
 * reachable from another.  The default is allocated cyclically, so that
 * a destroyed VM's ID is not handed to the next VM at once (a peer may
 * still hold a port meant for the old one); the VMM or the operator
 * may choose another (KVM_XEN_ATTR_TYPE_PERSONA_DOMID), e.g. the one
 * it gave QEMU with xen-domid.
 */
#include <linux/capability.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "domain.h"

/* Xen's reserved IDs start here (DOMID_FIRST_RESERVED); 0 is dom0. */
#define PERSONA_DOMID_MIN	1
#define PERSONA_DOMID_MAX	(DOMID_FIRST_RESERVED - 1)

/* The registry below and every link between domains: locking.rst. */
DEFINE_MUTEX(persona_domain_mutex);

/*
 * The module's workers that reach into VMs (deliveries, calls in another
 * VM's address space, last references): drained before the module goes.
 */
struct workqueue_struct *persona_wq;

int persona_domain_init(void)
{
	persona_wq = alloc_workqueue("kvm_persona", WQ_UNBOUND, 0);
	return persona_wq ? 0 : -ENOMEM;
}

void persona_domain_exit(void)
{
	destroy_workqueue(persona_wq);
}

/* Domain ID -> struct persona_xen_vm, under persona_domain_mutex. */
static DEFINE_XARRAY_ALLOC(persona_domains);
static u32 persona_domid_next;

static void persona_domain_put_fn(struct work_struct *work);

void persona_domain_init_vm(struct persona_xen_vm *pvm)
{
	INIT_WORK(&pvm->put_work, persona_domain_put_fn);
}

int persona_domain_register(struct persona_xen_vm *pvm)
{
	u32 id;
	int r;

	mutex_lock(&persona_domain_mutex);
	r = xa_alloc_cyclic(&persona_domains, &id, pvm,
			    XA_LIMIT(PERSONA_DOMID_MIN, PERSONA_DOMID_MAX),
			    &persona_domid_next, GFP_KERNEL_ACCOUNT);
	if (r >= 0) {
		pvm->domid = id;
		r = 0;
	}
	mutex_unlock(&persona_domain_mutex);
	return r == -EBUSY ? -ENOSPC : r;
}

/* The caller holds persona_domain_mutex (the VM's teardown). */
void persona_domain_unregister(struct persona_xen_vm *pvm)
{
	lockdep_assert_held(&persona_domain_mutex);
	xa_erase(&persona_domains, pvm->domid);
}

/*
 * The VM with ID @domid, NULL if none.  A state that lost the race to be
 * installed on its VM (persona_vm_get_or_create()) is registered for a
 * moment and freed at once: it is not found.
 */
struct persona_xen_vm *persona_domain_find(u16 domid)
{
	struct persona_xen_vm *pvm;

	lockdep_assert_held(&persona_domain_mutex);
	pvm = xa_load(&persona_domains, domid);
	if (pvm && persona_xen_vm_of(pvm->kvm) != pvm)
		return NULL;
	return pvm;
}

/*
 * Whether @domid names the caller itself: DOMID_SELF or its own ID.  The
 * VMM's own ID for the guest (QEMU's xen-domid) is the VMM's business,
 * and so are calls that name it.
 */
bool persona_domain_is_self(struct persona_xen_vm *pvm, u16 domid)
{
	return domid == DOMID_SELF || domid == READ_ONCE(pvm->domid);
}

/*
 * KVM_XEN_ATTR_TYPE_PERSONA_DOMID.  Refused (-EBUSY) while the VM has
 * ports bound or being bound to another domain: their peers know it by
 * its ID.
 */
static int __persona_domain_set_id(struct persona_xen_vm *pvm, u64 domid)
{
	int r;

	lockdep_assert_held(&persona_domain_mutex);
	if (domid < PERSONA_DOMID_MIN || domid > PERSONA_DOMID_MAX)
		return -EINVAL;
	if (domid == pvm->domid)
		return 0;
	if (!xa_empty(&pvm->idc_ports) || pvm->idc_binding)
		return -EBUSY;
	r = xa_insert(&persona_domains, domid, pvm, GFP_KERNEL_ACCOUNT);
	if (r)
		return r == -EBUSY ? -EEXIST : r;
	xa_erase(&persona_domains, pvm->domid);
	WRITE_ONCE(pvm->domid, domid);
	return 0;
}

int persona_domain_set_id(struct persona_xen_vm *pvm, u64 domid)
{
	int r;

	/*
	 * An ID is how other domains know this one: taking a free one could
	 * inherit what was offered to a domain that died.  The operator's.
	 */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	mutex_lock(&persona_domain_mutex);
	r = __persona_domain_set_id(pvm, domid);
	mutex_unlock(&persona_domain_mutex);
	return r;
}

/*
 * /sys/module/kvm_persona/parameters/domains, for operators whose VMM
 * (QEMU) does not know the attribute: reading lists "<domain ID> <VMM
 * process ID>" per Xen VM; writing "<old ID> <new ID>" renumbers one,
 * with the attribute's checks (-ENOENT if no VM has the old ID).
 */
static int persona_domains_get(char *buf, const struct kernel_param *kp)
{
	struct persona_xen_vm *pvm;
	unsigned long id;
	int n = 0;

	mutex_lock(&persona_domain_mutex);
	xa_for_each(&persona_domains, id, pvm)
		n += scnprintf(buf + n, PAGE_SIZE - n, "%lu %d\n", id,
			       pvm->vmm_pid);
	mutex_unlock(&persona_domain_mutex);
	return n;
}

static int persona_domains_set(const char *val, const struct kernel_param *kp)
{
	struct persona_xen_vm *pvm;
	unsigned int old, new;
	char end;
	int r;

	if (sscanf(val, "%u %u %c", &old, &new, &end) != 2 || old > U16_MAX)
		return -EINVAL;
	mutex_lock(&persona_domain_mutex);
	pvm = persona_domain_find(old);
	r = pvm ? __persona_domain_set_id(pvm, new) : -ENOENT;
	mutex_unlock(&persona_domain_mutex);
	return r;
}

static const struct kernel_param_ops persona_domains_ops = {
	.get = persona_domains_get,
	.set = persona_domains_set,
};

module_param_cb(domains, &persona_domains_ops, NULL, 0644);
MODULE_PARM_DESC(domains,
		 "Xen domains: \"<ID> <VMM pid>\" per line; write \"<old ID> <new ID>\" to renumber");

u16 persona_domain_id(struct persona_xen_vm *pvm)
{
	return READ_ONCE(pvm->domid);
}

/*
 * The domain @domid for an operation of @pvm that may sleep: @pvm itself
 * for DOMID_SELF or its own ID, else another VM held by a reference to
 * its struct kvm until persona_domain_put().  NULL if there is none.
 */
struct persona_xen_vm *persona_domain_get(struct persona_xen_vm *pvm,
					  u16 domid)
{
	struct persona_xen_vm *other;

	if (persona_domain_is_self(pvm, domid))
		return pvm;
	mutex_lock(&persona_domain_mutex);
	other = persona_domain_find(domid);
	/*
	 * Its own ID may have just become @domid: no reference then.  And
	 * another VM's last reference may be gone: it is being destroyed.
	 */
	if (other && other != pvm && !kvm_get_kvm_safe(other->kvm))
		other = NULL;
	mutex_unlock(&persona_domain_mutex);
	return other;
}

static void persona_domain_put_fn(struct work_struct *work)
{
	struct persona_xen_vm *pvm = container_of(work, struct persona_xen_vm,
						  put_work);

	/* May destroy the VM, @pvm with it. */
	kvm_put_kvm(pvm->kvm);
}

/*
 * Drop persona_domain_get()'s reference.  The caller is a vCPU of
 * another VM, inside its exit: if this is the last reference, destroying
 * the VM here would load and free that VM's vCPUs under ours, so the
 * last one is dropped from a worker.  Only the holder of the last
 * reference queues the work, so it is never pending when queued.
 */
void persona_domain_put(struct persona_xen_vm *pvm, struct persona_xen_vm *other)
{
	if (!other || other == pvm || persona_kvm_put_unless_last(other->kvm))
		return;
	queue_work(persona_wq, &other->put_work);
}

struct persona_domain_work {
	struct work_struct work;
	struct completion done;
	/* The caller's and the worker's: the last one frees it. */
	refcount_t users;
	struct persona_xen_vm *pvm;
	int (*fn)(struct persona_xen_vm *pvm, void *ctx);
	void *ctx;
	int ret;
	/* The caller gave up waiting: @ctx goes with the last reference. */
	bool abandoned;
};

static void persona_domain_work_put(struct persona_domain_work *dw)
{
	if (!refcount_dec_and_test(&dw->users))
		return;
	if (dw->abandoned)
		kfree(dw->ctx);
	kfree(dw);
}

static void persona_domain_work_fn(struct work_struct *work)
{
	struct persona_domain_work *dw =
		container_of(work, struct persona_domain_work, work);
	struct kvm *kvm = dw->pvm->kvm;
	int idx;

	/* Never in an address space that is gone. */
	if (!mmget_not_zero(kvm->mm)) {
		dw->ret = -ESRCH;
	} else {
		kthread_use_mm(kvm->mm);
		idx = srcu_read_lock(&kvm->srcu);
		dw->ret = dw->fn(dw->pvm, dw->ctx);
		srcu_read_unlock(&kvm->srcu, idx);
		kthread_unuse_mm(kvm->mm);
		mmput(kvm->mm);
	}
	/* Its own reference: the caller may have left already. */
	kvm_put_kvm(kvm);
	complete(&dw->done);
	persona_domain_work_put(dw);
}

/*
 * Run @fn on @pvm's memory: in its VMM's address space under its
 * kvm->srcu.  That is where the caller is if @pvm is its own VM (or
 * another VM of the same process); otherwise a worker borrows that
 * address space while the caller waits, killably: the other VMM's memory
 * may fault for as long as that VMM likes (userfaultfd, FUSE), and must
 * not keep this VMM from being killed.  @ctx is kmalloc()ed; if the wait
 * is given up (-EINTR), the worker frees it when it is done.  The caller
 * holds a reference to @pvm's VM.  Returns @fn's result, -ESRCH if the
 * VMM's address space is gone, -EINTR or -ENOMEM.
 */
int persona_domain_call(struct persona_xen_vm *pvm,
			int (*fn)(struct persona_xen_vm *pvm, void *ctx),
			void *ctx)
{
	struct persona_domain_work *dw;
	int idx, r;

	if (current->mm == pvm->kvm->mm) {
		idx = srcu_read_lock(&pvm->kvm->srcu);
		r = fn(pvm, ctx);
		srcu_read_unlock(&pvm->kvm->srcu, idx);
		return r;
	}

	dw = kzalloc(sizeof(*dw), GFP_KERNEL_ACCOUNT);
	if (!dw)
		return -ENOMEM;
	INIT_WORK(&dw->work, persona_domain_work_fn);
	init_completion(&dw->done);
	refcount_set(&dw->users, 2);
	dw->pvm = pvm;
	dw->fn = fn;
	dw->ctx = ctx;
	kvm_get_kvm(pvm->kvm);
	queue_work(persona_wq, &dw->work);

	if (wait_for_completion_killable(&dw->done)) {
		dw->abandoned = true;
		persona_domain_work_put(dw);
		return -EINTR;
	}
	r = dw->ret;
	persona_domain_work_put(dw);
	return r;
}
