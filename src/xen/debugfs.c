// SPDX-License-Identifier: GPL-2.0
/*
 * What the Xen personality holds for each VM, for the operator, in
 * debugfs: /sys/kernel/debug/kvm-persona/<pid>-<fd>/, named as KVM names
 * the VM's own directory under /sys/kernel/debug/kvm/.  Read-only and
 * root-only:
 *
 *   config      the VM's Xen configuration and shared_info
 *   vcpus       each vCPU's areas, runstate, timer, poll and held events
 *   ports       outbound ports, interdomain ports, routes (type 5)
 *   hypercalls  hypercalls by number, answered in the kernel or the VMM
 *
 * Readers see the state as it stands, not a snapshot: counters and
 * addresses are read once each, without the VM's locks, so that a reader
 * never holds up a vCPU.  The directory goes first when the VM is torn
 * down, and debugfs waits for readers inside a file before it returns,
 * so nothing here runs on a VM being freed.
 */
#include <linux/debugfs.h>
#include <linux/kvm_host.h>
#include <linux/seq_file.h>
#include <xen/interface/xen.h>

#include "../kvm/boundary.h"
#include "debugfs.h"
#include "domain.h"
#include "evtchn.h"
#include "interdomain.h"
#include "shinfo.h"
#include "xen.h"
#include "xen-abi.h"

static struct dentry *persona_debugfs_root;

static const char * const persona_runstate_names[] = {
	"running", "runnable", "blocked", "offline",
};

/*
 * vCPU @i if it has Xen state.  Callers go by index below online_vcpus,
 * not kvm_for_each_vcpu(): a vCPU being created sits in kvm.ko's array
 * before it is online, and is freed again if its creation fails.
 */
static struct kvm_vcpu *persona_debugfs_vcpu_at(struct persona_xen_vm *pvm,
						int i)
{
	struct kvm_vcpu *vcpu = kvm_get_vcpu(pvm->kvm, i);

	return vcpu && persona_vcpu_xen_ready(pvm, vcpu) ? vcpu : NULL;
}

static int persona_debugfs_nr_vcpus(struct persona_xen_vm *pvm)
{
	return atomic_read(&pvm->kvm->online_vcpus);
}

static void persona_debugfs_gpc(struct seq_file *m, const char *name,
				struct persona_gpc *gpc)
{
	gpa_t gpa = persona_gpc_gpa(gpc);
	unsigned long hva = persona_gpc_hva(gpc);

	if (hva)
		seq_printf(m, "  %s: hva 0x%lx\n", name, hva);
	else if (gpa != PERSONA_GPA_INVALID)
		seq_printf(m, "  %s: gpa 0x%llx\n", name, (u64)gpa);
	else
		seq_printf(m, "  %s: none\n", name);
}

static int persona_debugfs_config_show(struct seq_file *m, void *unused)
{
	struct persona_xen_vm *pvm = m->private;
	u64 gfn = persona_shinfo_gfn(pvm);
	unsigned long hva = persona_shinfo_hva(pvm);

	seq_printf(m, "domid: %u\n", persona_domain_id(pvm));
	seq_printf(m, "vmm_pid: %d\n", pvm->vmm_pid);
	seq_printf(m, "flags: 0x%x\n", READ_ONCE(pvm->flags));
	seq_printf(m, "hypercall_msr: 0x%x\n", READ_ONCE(pvm->msr));
	seq_printf(m, "intercept_hcall: %d\n", persona_xen_intercepts(pvm));
	seq_printf(m, "blob_pages: %u (32-bit) %u (64-bit)\n",
		   READ_ONCE(pvm->blob_size_32), READ_ONCE(pvm->blob_size_64));
	seq_printf(m, "long_mode: %d\n", persona_xen_long_mode(pvm));
	seq_printf(m, "xen_version: 0x%x\n", READ_ONCE(pvm->xen_version));
	seq_printf(m, "upcall_vector: 0x%x\n", READ_ONCE(pvm->upcall_vector));
	seq_printf(m, "runstate_update_flag: %d\n",
		   READ_ONCE(pvm->runstate_update_flag));
	if (hva)
		seq_printf(m, "shared_info: hva 0x%lx\n", hva);
	else if (gfn != PERSONA_XEN_INVALID_GFN)
		seq_printf(m, "shared_info: gfn 0x%llx\n", gfn);
	else
		seq_puts(m, "shared_info: none\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(persona_debugfs_config);

static void persona_debugfs_vcpu(struct seq_file *m,
				 struct persona_xen_vm *pvm,
				 struct kvm_vcpu *vcpu)
{
	struct persona_xen_vcpu *vx = persona_xen_vcpu(pvm, vcpu);
	u32 state = READ_ONCE(vx->current_runstate);
	int poll = READ_ONCE(vx->poll_evtchn);
	int i;

	seq_printf(m, "vcpu %d: xen_id %u upcall_vector 0x%x in_run %d\n",
		   vcpu->vcpu_id, READ_ONCE(vx->vcpu_id),
		   READ_ONCE(vx->upcall_vector),
		   test_bit(vcpu->vcpu_idx, pvm->in_run));
	persona_debugfs_gpc(m, "vcpu_info", &vx->vcpu_info_cache);
	persona_debugfs_gpc(m, "vcpu_time_info", &vx->vcpu_time_info_cache);
	persona_debugfs_gpc(m, "runstate", &vx->runstate_cache);
	seq_printf(m, "  runstate_state: %s\n",
		   state < ARRAY_SIZE(persona_runstate_names) ?
		   persona_runstate_names[state] : "?");
	seq_puts(m, "  runstate_ns:");
	for (i = 0; i < ARRAY_SIZE(vx->runstate_times); i++)
		seq_printf(m, " %llu", READ_ONCE(vx->runstate_times[i]));
	seq_putc(m, '\n');
	seq_printf(m, "  timer: virq_port %u expires %llu armed %d pending %d\n",
		   READ_ONCE(vx->timer_virq), READ_ONCE(vx->timer_expires),
		   hrtimer_active(&vx->timer), atomic_read(&vx->timer_pending));
	if (test_bit(vcpu->vcpu_idx, pvm->poll_mask))
		seq_printf(m, "  poll: port %d\n", poll);
	else
		seq_puts(m, "  poll: no\n");
	seq_printf(m, "  held_selector: 0x%lx\n",
		   READ_ONCE(vx->evtchn_pending_sel));
}

static int persona_debugfs_vcpus_show(struct seq_file *m, void *unused)
{
	struct persona_xen_vm *pvm = m->private;
	int i, n = persona_debugfs_nr_vcpus(pvm);
	struct kvm_vcpu *vcpu;

	for (i = 0; i < n; i++) {
		vcpu = persona_debugfs_vcpu_at(pvm, i);
		if (vcpu)
			persona_debugfs_vcpu(m, pvm, vcpu);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(persona_debugfs_vcpus);

static void persona_debugfs_route(void *data,
				  const struct kvm_kernel_irq_routing_entry *e)
{
	seq_printf(data, "route gsi %u -> vcpu %u port %u\n", e->gsi,
		   e->xen_evtchn.vcpu_id, e->xen_evtchn.port);
}

static int persona_debugfs_ports_show(struct seq_file *m, void *unused)
{
	struct persona_xen_vm *pvm = m->private;

	persona_evtchn_ports_show(pvm, m);
	persona_idc_ports_show(pvm, m);
	/*
	 * kvm.ko frees the routing table before the teardown removes this
	 * file: walk it only while a reference keeps the VM from being
	 * destroyed.  The last one is dropped by a worker, as the teardown
	 * it starts waits for this reader.
	 */
	if (kvm_get_kvm_safe(pvm->kvm)) {
		persona_kvm_walk_routes(pvm->kvm, KVM_IRQ_ROUTING_XEN_EVTCHN,
					persona_debugfs_route, m);
		persona_domain_put(NULL, pvm);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(persona_debugfs_ports);

/* Xen's names of the hypercalls a guest of ours makes. */
static const char * const persona_hcall_names[PERSONA_XEN_HCALL_ROWS] = {
	[__HYPERVISOR_set_timer_op] = "set_timer_op",
	[__HYPERVISOR_memory_op] = "memory_op",
	[__HYPERVISOR_multicall] = "multicall",
	[__HYPERVISOR_xen_version] = "xen_version",
	[__HYPERVISOR_console_io] = "console_io",
	[__HYPERVISOR_grant_table_op] = "grant_table_op",
	[__HYPERVISOR_vm_assist] = "vm_assist",
	[__HYPERVISOR_vcpu_op] = "vcpu_op",
	[__HYPERVISOR_sched_op] = "sched_op",
	[__HYPERVISOR_callback_op] = "callback_op",
	[__HYPERVISOR_event_channel_op] = "event_channel_op",
	[__HYPERVISOR_physdev_op] = "physdev_op",
	[__HYPERVISOR_hvm_op] = "hvm_op",
	[__HYPERVISOR_sysctl] = "sysctl",
	[__HYPERVISOR_domctl] = "domctl",
	[PERSONA_XEN_HCALL_ROWS - 1] = "(higher)",
};

/* Row @nr of every vCPU's counters, summed. */
static void persona_debugfs_hcall_sum(struct persona_xen_vm *pvm, int nr,
				      u64 *kernel, u64 *vmm)
{
	int i, n = persona_debugfs_nr_vcpus(pvm);
	struct kvm_vcpu *vcpu;

	*kernel = 0;
	*vmm = 0;
	for (i = 0; i < n; i++) {
		struct persona_xen_vcpu *vx;

		vcpu = persona_debugfs_vcpu_at(pvm, i);
		if (!vcpu)
			continue;
		vx = persona_xen_vcpu(pvm, vcpu);
		*kernel += READ_ONCE(vx->hcalls[nr][0]);
		*vmm += READ_ONCE(vx->hcalls[nr][1]);
	}
}

static int persona_debugfs_hypercalls_show(struct seq_file *m, void *unused)
{
	struct persona_xen_vm *pvm = m->private;
	u64 kernel, vmm;
	int nr;

	seq_puts(m, "nr name kernel vmm\n");
	for (nr = 0; nr < PERSONA_XEN_HCALL_ROWS; nr++) {
		cond_resched();
		persona_debugfs_hcall_sum(pvm, nr, &kernel, &vmm);
		if (kernel || vmm)
			seq_printf(m, "%d %s %llu %llu\n", nr,
				   persona_hcall_names[nr] ?: "-", kernel, vmm);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(persona_debugfs_hypercalls);

/*
 * After the state is installed on its VM.  Debugfs is for the operator:
 * a VM goes on without it if it cannot be made.
 */
void persona_debugfs_vm_add(struct persona_xen_vm *pvm)
{
	struct dentry *dir;
	char name[48];

	if (IS_ERR_OR_NULL(persona_debugfs_root))
		return;
	if (persona_kvm_debugfs_name(pvm->kvm, name, sizeof(name)))
		snprintf(name, sizeof(name), "%d-domid%u", pvm->vmm_pid,
			 persona_domain_id(pvm));
	dir = debugfs_create_dir(name, persona_debugfs_root);
	if (IS_ERR(dir)) {
		/* A VM with that pid and fd is still being destroyed. */
		snprintf(name + strlen(name), sizeof(name) - strlen(name),
			 "-domid%u", persona_domain_id(pvm));
		dir = debugfs_create_dir(name, persona_debugfs_root);
		if (IS_ERR(dir))
			return;
	}
	debugfs_create_file("config", 0400, dir, pvm,
			    &persona_debugfs_config_fops);
	debugfs_create_file("vcpus", 0400, dir, pvm,
			    &persona_debugfs_vcpus_fops);
	debugfs_create_file("ports", 0400, dir, pvm,
			    &persona_debugfs_ports_fops);
	debugfs_create_file("hypercalls", 0400, dir, pvm,
			    &persona_debugfs_hypercalls_fops);
	pvm->debugfs = dir;
}

/* First in the teardown: returns once no reader is inside a file. */
void persona_debugfs_vm_remove(struct persona_xen_vm *pvm)
{
	debugfs_remove(pvm->debugfs);
	pvm->debugfs = NULL;
}

void persona_debugfs_init(void)
{
	persona_debugfs_root = debugfs_create_dir("kvm-persona", NULL);
}

void persona_debugfs_exit(void)
{
	debugfs_remove(persona_debugfs_root);
}
