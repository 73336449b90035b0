// SPDX-License-Identifier: GPL-2.0
/*
 * xen_fuzz_lifecycle: Xen VMs created and destroyed every which way.
 *
 * A seeded loop that, at random:
 *   - forks a child VMM that builds a Xen VM (1-4 vCPUs running guest
 *     loops: SCHEDOP_poll without a timeout, or re-arming set_timer_op a
 *     few milliseconds ahead and halting, or EVTCHNOP_send), with a big
 *     populated memslot holding shared_info, vcpu_info, runstate and time
 *     info, event channel ports, type 5 routes with irqfds on eventfds the
 *     parent shares, and timers armed; the child then exits without
 *     closing anything (exit() or _exit()) with timers 0.2-5 ms from
 *     firing, or is SIGKILLed while its vCPUs poll or just after arming,
 *     while the parent keeps signalling the child's eventfds;
 *   - creates Xen VMs in this process (timers armed, ports, routes,
 *     irqfds, running vCPUs) and destroys them closing fds, stopping
 *     threads and unmapping memory in a random order;
 *   - tries rmmod kvm_persona (delete_module): it must fail while a Xen VM
 *     exists and succeed when none does, after which the module is loaded
 *     again (finit_module) from KVM_PERSONA_KO; rmmod is also tried while
 *     a killed child is still dying, where either outcome is fine.
 *
 * The window it aims at: a VMM's mm is torn down by exit_mmap() before
 * kvm_arch_destroy_vm() runs; a Xen timer or irqfd delivery in between
 * must not write through a stale mapping into freed guest pages (a KASAN
 * report on a debug kernel, silent corruption on a stock one).
 *
 * Environment: FUZZ_SEED, FUZZ_VMS (VMs to create, default 24),
 * FUZZ_LC_MEM_MB (child guest memory, default 128), KVM_PERSONA_KO
 * (without it, no rmmod), FUZZ_TIMEOUT, FUZZ_STALL.  The module is loaded
 * when the test ends.
 *
 * Output: "# seed=<S>" first, "# fuzz_lifecycle: vms=<N> killed=<K>
 * rmmod_tries=<R> seed=<S>" at the end; on failure, the last operations
 * of the parent and its children.
 */
#include <poll.h>
#include <sys/wait.h>

#include "persona_fuzz.h"

#define LC_MAX_VCPUS		4
#define LC_MAX_CHILDREN		3
#define LC_MAX_LOCAL		2
#define LC_SLOT			40
#define LC_BIG_GPA		0x100000000ull
#define LC_NR_EFD		3
#define LC_GSI			24
#define LC_MODNAME		"kvm_persona"

enum lc_guest_mode { LC_G_POLL, LC_G_TIMER, LC_G_SEND, LC_G_SPIN };

/* ---- The guest ---------------------------------------------------------- */

struct lc_guest {
	u64 use_vmmcall;
	u64 mode[LC_MAX_VCPUS];
	u64 rng[LC_MAX_VCPUS];
	u64 iter[LC_MAX_VCPUS];
	u64 irqs[LC_MAX_VCPUS];
	u32 ports[4];
	u32 send[LC_MAX_VCPUS][2];
	u32 poll_port[LC_MAX_VCPUS];
	struct xen_sched_poll poll[LC_MAX_VCPUS];
};

static struct lc_guest lg;

static u64 lc_hcall(u64 nr, u64 a1, u64 a2)
{
	u64 rax = nr;

	if (READ_ONCE(lg.use_vmmcall))
		__asm__ __volatile__("vmmcall" : "+a"(rax) : "D"(a1), "S"(a2)
				     : "memory");
	else
		__asm__ __volatile__("vmcall" : "+a"(rax) : "D"(a1), "S"(a2)
				     : "memory");
	return rax;
}

/* Guest time from the pvclock in our vcpu_info (shared_info page). */
static u64 lc_guest_now(u64 i)
{
	struct xen_vcpu_info *vi = (struct xen_vcpu_info *)LC_BIG_GPA + i;
	u32 v, lo, hi;
	u64 delta, ns;

	do {
		v = READ_ONCE(vi->time.version);
		__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
		delta = ((u64)hi << 32 | lo) - vi->time.tsc_timestamp;
		if (vi->time.tsc_shift < 0)
			delta >>= -vi->time.tsc_shift;
		else
			delta <<= vi->time.tsc_shift;
		ns = vi->time.system_time +
		     (u64)(((__uint128_t)delta * vi->time.tsc_to_system_mul) >> 32);
	} while ((v & 1) || v != READ_ONCE(vi->time.version));
	return ns;
}

static void lc_guest_irq(struct ex_regs *regs)
{
	u64 i = rdmsr(MSR_GS_BASE);
	struct xen_vcpu_info *vi = (struct xen_vcpu_info *)LC_BIG_GPA + i;

	WRITE_ONCE(lg.irqs[i], lg.irqs[i] + 1);
	__atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	WRITE_ONCE(vi->evtchn_upcall_pending, 0);
	x2apic_write_reg(APIC_EOI, 0);
}

static void lc_guest_main(u64 i)
{
	u64 s;

	wrmsr(MSR_GS_BASE, i);
	x2apic_enable();
	for (;;) {
		__asm__ __volatile__("sti; nop" : : : "memory");
		WRITE_ONCE(lg.iter[i], lg.iter[i] + 1);
		s = lg.rng[i];
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		lg.rng[i] = s;
		switch (READ_ONCE(lg.mode[i])) {
		case LC_G_POLL:
			lg.poll[i].ports = (u64)&lg.poll_port[i];
			lg.poll[i].nr_ports = 1;
			lg.poll[i].timeout = 0;
			lc_hcall(XEN_HC_sched_op, SCHEDOP_poll, (u64)&lg.poll[i]);
			break;
		case LC_G_TIMER:
			lc_hcall(XEN_HC_set_timer_op,
				 lc_guest_now(i) + 200000 + s % 5000000, 0);
			__asm__ __volatile__("sti; hlt" : : : "memory");
			break;
		case LC_G_SEND:
			lg.send[i][0] = lg.ports[s % 4];
			lc_hcall(XEN_HC_event_channel_op, EVTCHNOP_send,
				 (u64)&lg.send[i]);
			break;
		default:
			cpu_relax();
			break;
		}
	}
}

/* ---- One Xen VM (in a child VMM or in this process) --------------------- */

struct lc_vm;

struct lc_varg {
	struct lc_vm *v;
	unsigned int i;
};

struct lc_vm {
	struct kvm_vm *vm;
	struct lc_varg arg[LC_MAX_VCPUS];
	struct kvm_vcpu *vcpu[LC_MAX_VCPUS];
	pthread_t thread[LC_MAX_VCPUS];
	unsigned int nr_vcpus;
	u8 *big;
	u64 big_bytes;
	int efd[LC_NR_EFD];
	u64 arm_ns[LC_MAX_VCPUS];	/* deadline for the vCPU thread to set */
	int armed;
	int stop;
	bool threads;
};

static void lc_sigusr1(int sig)
{
}

static long lc_run_size;

/* One byte from @fd within @ms, or -1. */
static int lc_read_byte(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char ch;

	if (poll(&pfd, 1, ms) != 1 || read(fd, &ch, 1) != 1)
		return -1;
	return ch;
}

/*
 * After a triple fault: walk the guest's page tables as they are in
 * memory (the VMM's view) for the guest's code, IDT, GDT and exception
 * stubs.  If the walk succeeds here while the vCPU saw "not present",
 * the guest's memory was fine and its view of it (the nested page
 * tables, the emulated CPU's TLB) was not.
 */
static void lc_walk(struct kvm_vm *vm, const char *what, u64 gva)
{
	u64 table = vm->pgd, e = 0;
	int level, shift;

	for (level = 4; level >= 1; level--) {
		u64 *t = addr_gpa2hva(vm, table);

		shift = 12 + 9 * (level - 1);
		e = t[(gva >> shift) & 511];
		if (!(e & 1)) {
			printf("# walk %-8s %#llx: not present at level %d (entry %#llx)\n",
			       what, (unsigned long long)gva, level,
			       (unsigned long long)e);
			return;
		}
		if (level > 1 && (e & (1ull << 7)))
			break;
		table = e & 0x000ffffffffff000ull;
	}
	printf("# walk %-8s %#llx: present (%s entry %#llx)\n", what,
	       (unsigned long long)gva,
	       level == 3 ? "1 GiB" : level == 2 ? "2 MiB" : "4 KiB",
	       (unsigned long long)e);
}

static void lc_walk_guest(struct kvm_vm *vm)
{
	lc_walk(vm, "main", (u64)lc_guest_main);
	lc_walk(vm, "irq", (u64)lc_guest_irq);
	lc_walk(vm, "idt", vm->idt);
	lc_walk(vm, "gdt", vm->gdt);
	lc_walk(vm, "handlers", vm->handlers);
	lc_walk(vm, "lg", (u64)&lg);
	fflush(stdout);
}

static void *lc_vcpu_thread(void *arg)
{
	struct lc_vm *v = ((struct lc_varg *)arg)->v;
	unsigned int i = ((struct lc_varg *)arg)->i;
	struct kvm_vcpu *vcpu = v->vcpu[i];
	struct ucall uc;
	int r;

	while (!READ_ONCE(v->stop)) {
		u64 arm = __atomic_exchange_n(&v->arm_ns[i], 0, __ATOMIC_SEQ_CST);

		if (arm) {
			/* Only this thread may take the vCPU's mutex now. */
			r = xen_set_timer(vcpu, 5 + i, PRIO_2L, arm);
			if (r)
				fz_fail("vCPU %u: arming the timer: %s", i,
					strerror(-r));
			WRITE_ONCE(vcpu->run->immediate_exit, 0);
			__atomic_add_fetch(&v->armed, 1, __ATOMIC_SEQ_CST);
		}
		r = ioctl(vcpu->fd, KVM_RUN, NULL);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* Its memory was unmapped under it (teardown). */
			if (errno == EFAULT) {
				usleep(1000);
				continue;
			}
			fz_fail("vCPU %u: KVM_RUN: %s", i, strerror(errno));
		}
		switch (vcpu->run->exit_reason) {
		case KVM_EXIT_XEN:
			vcpu->run->xen.u.hcall.result = -38;
			break;
		case KVM_EXIT_IO:
			get_ucall(vcpu, &uc);
			fz_fail("vCPU %u: guest exception/ucall %lu (%#lx)", i,
				(unsigned long)uc.cmd, (unsigned long)uc.args[0]);
		default:
			persona_dump_vcpu(vcpu->fd, "vCPU");
			if (vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN)
				lc_walk_guest(v->vm);
			fz_fail("vCPU %u: unexpected exit %u (%s)", i,
				vcpu->run->exit_reason,
				exit_reason_str(vcpu->run->exit_reason));
		}
	}
	return NULL;
}

static void lc_ok(long r, const char *what)
{
	if (r)
		fz_fail("%s: %s", what, strerror(r < 0 ? -r : errno));
}

/*
 * Build a Xen VM: @mem_mb of populated guest memory at LC_BIG_GPA, the
 * last mapping made, so that exit_mmap() frees its first pages (shared_info
 * and vcpu_info) early and then spends a while on the rest.
 */
static void lc_vm_create(struct lc_vm *v, struct fz_rng *r,
			 const int *efd, u64 mem_mb)
{
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[LC_NR_EFD];
	} rt;
	struct kvm_userspace_memory_region m;
	struct lc_guest *g;
	unsigned int i, vec;
	u64 now, pages, seq;

	memset(v, 0, sizeof(*v));
	v->nr_vcpus = 1 + fz_below(r, LC_MAX_VCPUS);
	seq = fz_begin("vm_create", v->nr_vcpus, mem_mb, 0, 0);
	v->vm = vm_create_with_vcpus(v->nr_vcpus, lc_guest_main, v->vcpu);
	vm_init_descriptor_tables(v->vm);
	for (i = 0; i < v->nr_vcpus; i++) {
		vcpu_init_descriptor_tables(v->vcpu[i]);
		vcpu_args_set(v->vcpu[i], 1, (u64)i);
	}
	vm_install_exception_handler(v->vm, UPCALL_VECTOR, lc_guest_irq);
	vm_install_exception_handler(v->vm, VCPU_UPCALL_VECTOR, lc_guest_irq);

	v->big_bytes = mem_mb << 20;
	pages = v->big_bytes >> 12;
	v->big = mmap(NULL, v->big_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (v->big == MAP_FAILED)
		fz_fail("mmap %llu MiB: %s", (unsigned long long)mem_mb,
			strerror(errno));
	memset(&m, 0, sizeof(m));
	m.slot = LC_SLOT;
	m.guest_phys_addr = LC_BIG_GPA;
	m.memory_size = v->big_bytes;
	m.userspace_addr = (u64)v->big;
	lc_ok(ioctl_err(v->vm->fd, KVM_SET_USER_MEMORY_REGION, &m), "memslot");
	virt_pg_map(v->vm, LC_BIG_GPA, LC_BIG_GPA);

	g = addr_gva2hva(v->vm, (vm_vaddr_t)&lg);
	memset(g, 0, sizeof(*g));
	g->use_vmmcall = host_uses_vmmcall();
	for (i = 0; i < 4; i++)
		g->ports[i] = 20 + i;
	for (i = 0; i < v->nr_vcpus; i++) {
		g->rng[i] = fz_rand(r) | 1;
		g->mode[i] = fz_below(r, 4);
		g->poll_port[i] = 30 + i;
	}

	lc_ok(xen_config_simple(v->vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
				KVM_XEN_HVM_CONFIG_EVTCHN_SEND, XEN_HCALL_MSR),
	      "config");
	lc_ok(xen_set_long_mode(v->vm, 1), "LONG_MODE");
	lc_ok(xen_set_shinfo(v->vm, LC_BIG_GPA >> 12), "SHARED_INFO");
	lc_ok(xen_set_vector(v->vm, UPCALL_VECTOR), "UPCALL_VECTOR");
	now = kvmclock_ns(v->vm);
	for (i = 0; i < v->nr_vcpus; i++) {
		struct kvm_xen_vcpu_attr a = {
			.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
			.u.vector = VCPU_UPCALL_VECTOR,
		};
		/* Areas spread over the memslot: freed at different times. */
		u64 area = LC_BIG_GPA + fz_below(r, pages) * 4096;

		lc_ok(xen_vcpu_set_gpa(v->vcpu[i],
				       KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				       LC_BIG_GPA + i * 64), "VCPU_INFO");
		lc_ok(xen_vcpu_set_gpa(v->vcpu[i],
				       KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				       area + 0x100 + i * 32), "VCPU_TIME_INFO");
		if (xen_caps() & CAP_RUNSTATE)
			lc_ok(xen_vcpu_set_gpa(v->vcpu[i],
					       KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					       area + 0x200 + i * 64),
			      "RUNSTATE_ADDR");
		if (fz_chance(r, 30))
			lc_ok(xen_vcpu_set(v->vcpu[i], &a), "vCPU UPCALL_VECTOR");
		lc_ok(xen_set_timer(v->vcpu[i], 5 + i, PRIO_2L,
				    fz_chance(r, 20) ? 0 :
				    now + fz_below(r, 50 * MS)), "TIMER");
	}
	/* Ports the guest sends on: loopback, and eventfds. */
	lc_ok(xen_evtchn_port(v->vm, 0, 20, EVTCHNSTAT_ipi, 20, 0, PRIO_2L),
	      "EVTCHN ipi");
	lc_ok(xen_evtchn_port(v->vm, 0, 21, EVTCHNSTAT_interdomain, 25, 0,
			      PRIO_2L), "EVTCHN interdomain");
	lc_ok(xen_evtchn_eventfd(v->vm, 22, efd[0]), "EVTCHN eventfd");
	lc_ok(xen_evtchn_eventfd(v->vm, 23, efd[1]), "EVTCHN eventfd");

	/* Routes raised by eventfds the parent (another process) signals. */
	memset(&rt, 0, sizeof(rt));
	rt.info.nr = LC_NR_EFD;
	for (i = 0; i < LC_NR_EFD; i++) {
		rt.e[i].gsi = LC_GSI + i;
		rt.e[i].type = KVM_IRQ_ROUTING_XEN_EVTCHN;
		rt.e[i].u.xen_evtchn.port = 40 + i;
		rt.e[i].u.xen_evtchn.vcpu = fz_below(r, v->nr_vcpus);
		rt.e[i].u.xen_evtchn.priority = PRIO_2L;
	}
	lc_ok(ioctl_err(v->vm->fd, KVM_SET_GSI_ROUTING, &rt.info), "routing");
	for (i = 0; i < LC_NR_EFD; i++) {
		struct kvm_irqfd ifd = { .fd = efd[i], .gsi = LC_GSI + i };

		lc_ok(ioctl_err(v->vm->fd, KVM_IRQFD, &ifd), "irqfd");
		v->efd[i] = efd[i];
	}

	for (vec = 0; vec < v->nr_vcpus; vec++) {
		v->arg[vec].v = v;
		v->arg[vec].i = vec;
		if (pthread_create(&v->thread[vec], NULL, lc_vcpu_thread,
				   &v->arg[vec]))
			fz_fail("pthread_create");
	}
	v->threads = true;
	fz_end(seq, v->vm->fd);
}

/* Have each vCPU thread arm its timer @lo..@hi ns from now; wait for it. */
static void lc_arm_timers(struct lc_vm *v, struct fz_rng *r, u64 lo, u64 hi)
{
	u64 now = kvmclock_ns(v->vm), end = fz_now_ns() + 30000 * MS;
	unsigned int i;

	v->armed = 0;
	for (i = 0; i < v->nr_vcpus; i++) {
		WRITE_ONCE(v->arm_ns[i], now + lo + fz_below(r, hi - lo));
		WRITE_ONCE(v->vcpu[i]->run->immediate_exit, 1);
		pthread_kill(v->thread[i], SIGUSR1);
	}
	while (READ_ONCE(v->armed) < (int)v->nr_vcpus) {
		if (fz_now_ns() > end)
			fz_fail("vCPU threads did not arm their timers");
		for (i = 0; i < v->nr_vcpus; i++)
			if (READ_ONCE(v->arm_ns[i]))
				pthread_kill(v->thread[i], SIGUSR1);
		usleep(100);
	}
}

/* ---- The module --------------------------------------------------------- */

static const char *lc_ko;
static u64 lc_rmmod_tries, lc_rmmod_ok;

static bool lc_module_loaded(void)
{
	return !access("/sys/module/" LC_MODNAME, F_OK);
}

/* delete_module(): 0 or -errno. */
static long lc_rmmod(const char *why)
{
	u64 seq = fz_begin("rmmod", 0, 0, 0, 0);
	long r = syscall(SYS_delete_module, LC_MODNAME, O_NONBLOCK);

	r = r ? -errno : 0;
	fz_end(seq, r);
	lc_rmmod_tries++;
	if (!r)
		lc_rmmod_ok++;
	return r;
}

static void lc_insmod(void)
{
	u64 seq = fz_begin("insmod", 0, 0, 0, 0);
	int fd = open(lc_ko, O_RDONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		fz_fail("open %s: %s", lc_ko, strerror(errno));
	r = syscall(SYS_finit_module, fd, "", 0);
	r = r ? -errno : 0;
	close(fd);
	fz_end(seq, r);
	if (r && r != -EEXIST)
		fz_fail("finit_module %s: %s", lc_ko, strerror(-r));
	if (!(xen_caps() & KVM_XEN_HVM_CONFIG_SHARED_INFO))
		fz_fail("module reloaded but KVM_CAP_XEN_HVM is %#x", xen_caps());
}

/* A Xen VM exists (ours or a ready child's): rmmod must be refused. */
static void lc_rmmod_busy(void)
{
	long r;

	if (!lc_ko)
		return;
	r = lc_rmmod("busy");
	if (!r) {
		lc_insmod();
		fz_fail("rmmod %s succeeded while a Xen VM existed", LC_MODNAME);
	}
	if (r != -EAGAIN && r != -EBUSY)
		fz_fail("rmmod with a Xen VM alive: %s (want EBUSY/EAGAIN)",
			strerror(-r));
}

/*
 * No Xen VM: rmmod must succeed (the last VM's reference goes after an
 * RCU grace period, so allow some seconds on a busy emulated host), then
 * load it again.
 */
static void lc_rmmod_idle(void)
{
	unsigned int i;
	long r = 0;

	if (!lc_ko)
		return;
	for (i = 0; i < 400; i++) {
		r = lc_rmmod("idle");
		if (!r)
			break;
		if (r != -EAGAIN && r != -EBUSY)
			fz_fail("rmmod without Xen VMs: %s", strerror(-r));
		usleep(50000);
	}
	if (r)
		fz_fail("rmmod refused for 20 s with no Xen VM left (a leaked module reference?)");
	if (lc_module_loaded())
		fz_fail("rmmod succeeded but /sys/module/%s is still there",
			LC_MODNAME);
	lc_insmod();
}

/* Either outcome is fine; a success means no VM was there. */
static void lc_rmmod_racing(bool vms_alive)
{
	long r;

	if (!lc_ko)
		return;
	r = lc_rmmod("racing");
	if (r && r != -EAGAIN && r != -EBUSY)
		fz_fail("rmmod: %s", strerror(-r));
	if (!r) {
		lc_insmod();
		if (vms_alive)
			fz_fail("rmmod succeeded while a Xen VM existed");
	}
}

/* ---- Children ----------------------------------------------------------- */

static bool lc_xen_alive(void);

enum lc_end {
	LC_END_EXIT,		/* exit() with timers armed */
	LC_END__EXIT,		/* _exit() with timers armed */
	LC_END_KILL_ARMED,	/* SIGKILL right after arming */
	LC_END_KILL_POLL,	/* SIGKILL while vCPUs poll/halt/run */
	LC_END_CLOSE_VM_EXIT,	/* close the VM fd (vCPU fds stay), exit */
	NR_LC_END,
};

static const char * const lc_end_names[NR_LC_END] = {
	"exit", "_exit", "kill_armed", "kill_poll", "close_vm_exit",
};

struct lc_child {
	pid_t pid;
	int cmd;		/* parent -> child */
	int rsp;		/* child -> parent */
	int efd[LC_NR_EFD];
	bool ready;
};

static struct {
	struct lc_child child[LC_MAX_CHILDREN];
	struct lc_vm local[LC_MAX_LOCAL];
	bool local_used[LC_MAX_LOCAL];
	u64 mem_mb;
	u64 vms, killed, exited;
	/*
	 * eventfds the hammer thread signals (-1: none), under hammer_lock:
	 * a number closed under it could be a new pipe's by the next write.
	 */
	pthread_mutex_t hammer_lock;
	int hammer_fd[LC_MAX_CHILDREN * LC_NR_EFD];
	int hammer;
	u64 hammered;
	u64 scanned_mb;
} lc;

static void lc_child_main(struct lc_child *c, u64 stream)
{
	struct lc_vm v;
	struct fz_rng r;
	u8 cmd[2];

	fz_rng_init(&r, stream);
	lc_vm_create(&v, &r, c->efd, lc.mem_mb);
	if (write(c->rsp, "R", 1) != 1)
		_exit(3);
	if (read(c->cmd, cmd, 2) != 2)
		_exit(4);
	switch (cmd[0]) {
	case LC_END_EXIT:
	case LC_END__EXIT:
	case LC_END_KILL_ARMED:
	case LC_END_CLOSE_VM_EXIT:
		/* cmd[1]: the latest deadline, in units of 0.2 ms */
		lc_arm_timers(&v, &r, 200000, 200000 * (2 + cmd[1]));
		break;
	}
	fz_begin(lc_end_names[cmd[0] % NR_LC_END], v.nr_vcpus, cmd[1], 0, 0);
	switch (cmd[0]) {
	case LC_END_EXIT:
		exit(0);
	case LC_END__EXIT:
		_exit(0);
	case LC_END_CLOSE_VM_EXIT:
		close(v.vm->fd);
		_exit(0);
	default:
		if (write(c->rsp, "A", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
}

/*
 * A child must not hold the parent's other VMs or its siblings' pipes
 * and eventfds: they would outlive their owners in its fd table.
 */
static void lc_child_close_inherited(struct lc_child *self)
{
	unsigned int k, i;

	for (k = 0; k < LC_MAX_LOCAL; k++) {
		struct lc_vm *v = &lc.local[k];

		if (!lc.local_used[k])
			continue;
		close(v->vm->fd);
		close(v->vm->kvm_fd);
		for (i = 0; i < v->nr_vcpus; i++)
			close(v->vcpu[i]->fd);
		for (i = 0; i < LC_NR_EFD; i++)
			close(v->efd[i]);
	}
	for (k = 0; k < LC_MAX_CHILDREN; k++) {
		struct lc_child *c = &lc.child[k];

		if (c == self || !c->pid)
			continue;
		close(c->cmd);
		close(c->rsp);
		for (i = 0; i < LC_NR_EFD; i++)
			close(c->efd[i]);
	}
}

static void lc_child_spawn(struct fz_rng *r)
{
	int cmdp[2], rspp[2], i;
	struct lc_child *c = NULL;
	u64 seq;

	for (i = 0; i < LC_MAX_CHILDREN; i++)
		if (!lc.child[i].pid)
			c = &lc.child[i];
	if (!c)
		return;
	if (pipe2(cmdp, O_CLOEXEC) || pipe2(rspp, O_CLOEXEC))
		fz_fail("pipe: %s", strerror(errno));
	for (i = 0; i < LC_NR_EFD; i++) {
		c->efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (c->efd[i] < 0)
			fz_fail("eventfd: %s", strerror(errno));
	}
	seq = fz_begin("spawn", c - lc.child, 0, 0, 0);
	fflush(stdout);
	c->pid = fork();
	if (c->pid < 0)
		fz_fail("fork: %s", strerror(errno));
	if (!c->pid) {
		lc_child_close_inherited(c);
		close(cmdp[1]);
		close(rspp[0]);
		c->cmd = cmdp[0];
		c->rsp = rspp[1];
		lc_child_main(c, fz_rand(r));
		_exit(6);
	}
	fz_rand(r);
	fz_end(seq, c->pid);
	close(cmdp[0]);
	close(rspp[1]);
	c->cmd = cmdp[1];
	c->rsp = rspp[0];
	lc.vms++;

	if (lc_read_byte(c->rsp, 300000) != 'R') {
		int status = -1;

		waitpid(c->pid, &status, WNOHANG);
		fz_fail("child %d never got its Xen VM ready (status %#x)",
			c->pid, status);
	}
	c->ready = true;
}

static void *lc_hammer_thread(void *arg)
{
	u64 one = 1, v;
	unsigned int i;

	for (;;) {
		if (!READ_ONCE(lc.hammer)) {
			usleep(1000);
			continue;
		}
		pthread_mutex_lock(&lc.hammer_lock);
		for (i = 0; i < ARRAY_SIZE(lc.hammer_fd); i++) {
			int fd = lc.hammer_fd[i];

			if (fd < 0)
				continue;
			if (write(fd, &one, sizeof(one)) < 0 &&
			    read(fd, &v, sizeof(v)) < 0)
				continue;
			__atomic_add_fetch(&lc.hammered, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&lc.hammer_lock);
	}
	return NULL;
}

/*
 * While a child dies, take fresh pages and look at them: a page the dying
 * VMM's guest memory just gave back, written by a late timer or irqfd
 * delivery after we got it, shows up as non-zero (the stock kernel's only
 * trace of that use after free; a debug kernel's KASAN reports it).
 */
#define LC_SCAN_BYTES	(32ul << 20)

static void *lc_scan_thread(void *arg)
{
	u64 *p, i, n = LC_SCAN_BYTES / 8;

	for (;;) {
		if (!READ_ONCE(lc.hammer)) {
			usleep(1000);
			continue;
		}
		p = mmap(NULL, LC_SCAN_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			continue;
		usleep(2000);
		for (i = 0; i < n; i++)
			if (READ_ONCE(p[i]))
				fz_fail("fresh page +%#llx: %#llx at %#llx (freed page written?)",
					(unsigned long long)(i * 8 & ~4095ull),
					(unsigned long long)p[i],
					(unsigned long long)(i * 8 & 4095));
		munmap(p, LC_SCAN_BYTES);
		__atomic_add_fetch(&lc.scanned_mb, LC_SCAN_BYTES >> 20,
				   __ATOMIC_RELAXED);
	}
	return NULL;
}

/* End a ready child the way @end says, hammering its eventfds meanwhile. */
static void lc_child_end(struct lc_child *c, struct fz_rng *r, int end)
{
	unsigned int i, k = c - lc.child;
	u8 cmd[2] = { end, fz_below(r, 25) };
	int status;
	u64 seq;

	seq = fz_begin("child_end", c->pid, end, cmd[1], 0);
	pthread_mutex_lock(&lc.hammer_lock);
	for (i = 0; i < LC_NR_EFD; i++)
		lc.hammer_fd[k * LC_NR_EFD + i] = c->efd[i];
	pthread_mutex_unlock(&lc.hammer_lock);
	WRITE_ONCE(lc.hammer, 1);
	if (write(c->cmd, cmd, 2) != 2)
		fz_fail("child %d: command pipe: %s", c->pid, strerror(errno));
	if (end == LC_END_KILL_ARMED || end == LC_END_KILL_POLL) {
		if (lc_read_byte(c->rsp, 60000) != 'A')
			fz_fail("child %d died before being killed", c->pid);
		if (end == LC_END_KILL_POLL)
			usleep(fz_below(r, 20000));
		kill(c->pid, SIGKILL);
		lc.killed++;
		c->ready = false;
		/* While it dies: the module must stay, or go only if idle. */
		if (fz_chance(r, 30))
			lc_rmmod_racing(lc_xen_alive());
	}
	c->ready = false;
	if (waitpid(c->pid, &status, 0) != c->pid)
		fz_fail("waitpid %d: %s", c->pid, strerror(errno));
	fz_end(seq, status);
	if (end == LC_END_KILL_ARMED || end == LC_END_KILL_POLL) {
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fz_fail("child %d: status %#x, expected SIGKILL",
				c->pid, status);
	} else {
		lc.exited++;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fz_fail("child %d (%s): status %#x", c->pid,
				lc_end_names[end], status);
	}
	/* The eventfds outlive the VMM: signal them after it is gone too. */
	usleep(fz_below(r, 3000));
	WRITE_ONCE(lc.hammer, 0);
	pthread_mutex_lock(&lc.hammer_lock);
	for (i = 0; i < LC_NR_EFD; i++)
		lc.hammer_fd[k * LC_NR_EFD + i] = -1;
	pthread_mutex_unlock(&lc.hammer_lock);
	for (i = 0; i < LC_NR_EFD; i++) {
		if (eventfd_write(c->efd[i], 1) && errno != EAGAIN)
			fz_fail("eventfd after the VMM died: %s",
				strerror(errno));
		close(c->efd[i]);
	}
	close(c->cmd);
	close(c->rsp);
	c->pid = 0;
}

/* ---- VMs of this process ------------------------------------------------ */

static void lc_local_create(struct fz_rng *r)
{
	int efd[LC_NR_EFD], i, k;

	for (k = 0; k < LC_MAX_LOCAL && lc.local_used[k]; k++)
		;
	if (k == LC_MAX_LOCAL)
		return;
	for (i = 0; i < LC_NR_EFD; i++)
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	lc_vm_create(&lc.local[k], r, efd, 4 + fz_below(r, 13));
	lc.local_used[k] = true;
	lc.vms++;
}

static void lc_stop_threads(struct lc_vm *v)
{
	unsigned int i, tries;

	if (!v->threads)
		return;
	WRITE_ONCE(v->stop, 1);
	for (i = 0; i < v->nr_vcpus; i++) {
		WRITE_ONCE(v->vcpu[i]->run->immediate_exit, 1);
		for (tries = 0; pthread_tryjoin_np(v->thread[i], NULL); tries++) {
			if (tries > 30000)
				fz_fail("vCPU thread %u does not stop", i);
			pthread_kill(v->thread[i], SIGUSR1);
			usleep(1000);
		}
	}
	v->threads = false;
}

/*
 * Tear a VM down by hand, in a random order: close the VM fd, /dev/kvm,
 * the vCPU fds and the eventfds (the kernel VM goes with the last of its
 * fds), unmap the guest memory while it may still be in use, stop the
 * vCPU threads first or only after the VM fd has gone.
 */
static void lc_local_destroy(struct fz_rng *r, unsigned int k)
{
	struct lc_vm *v = &lc.local[k];
	struct userspace_mem_region *region;
	int fds[2 + LC_MAX_VCPUS + LC_NR_EFD], n = 0, i, j, t;
	bool unmapped = false;
	int bkt;
	u64 seq;

	seq = fz_begin("vm_destroy", v->vm->fd, v->nr_vcpus, 0, 0);
	if (fz_chance(r, 50))
		lc_arm_timers(v, r, 0, 3 * MS);
	if (fz_chance(r, 50))
		lc_stop_threads(v);
	fds[n++] = v->vm->fd;
	fds[n++] = v->vm->kvm_fd;
	for (i = 0; i < LC_NR_EFD; i++)
		fds[n++] = v->efd[i];
	for (i = n - 1; i > 0; i--) {
		j = fz_below(r, i + 1);
		t = fds[i];
		fds[i] = fds[j];
		fds[j] = t;
	}
	for (i = 0; i < n; i++) {
		if (!unmapped && fz_chance(r, 25)) {
			munmap(v->big, v->big_bytes);
			unmapped = true;
		}
		close(fds[i]);
	}
	/* vCPU fds: only once their threads are out of KVM_RUN for good. */
	lc_stop_threads(v);
	for (i = 0; i < (int)v->nr_vcpus; i++) {
		munmap(v->vcpu[i]->run, lc_run_size);
		close(v->vcpu[i]->fd);
	}
	if (!unmapped)
		munmap(v->big, v->big_bytes);
	hash_for_each(v->vm->regions.slot_hash, bkt, region, slot_node)
		munmap(region->mmap_start, region->mmap_size);
	/* libkvm's bookkeeping is left behind: a few KiB per VM. */
	fz_end(seq, 0);
	lc.local_used[k] = false;
}

/* ---- The test ----------------------------------------------------------- */

/* A Xen VM is certainly alive: a ready child's, or one of ours. */
static bool lc_xen_alive(void)
{
	unsigned int i;

	for (i = 0; i < LC_MAX_CHILDREN; i++)
		if (lc.child[i].pid && lc.child[i].ready)
			return true;
	for (i = 0; i < LC_MAX_LOCAL; i++)
		if (lc.local_used[i])
			return true;
	return false;
}

static bool lc_any_vm(void)
{
	unsigned int i;

	for (i = 0; i < LC_MAX_CHILDREN; i++)
		if (lc.child[i].pid)
			return true;
	for (i = 0; i < LC_MAX_LOCAL; i++)
		if (lc.local_used[i])
			return true;
	return false;
}

static struct lc_child *lc_ready_child(struct fz_rng *r)
{
	unsigned int i, start = fz_below(r, LC_MAX_CHILDREN);

	for (i = 0; i < LC_MAX_CHILDREN; i++) {
		struct lc_child *c = &lc.child[(start + i) % LC_MAX_CHILDREN];

		if (c->pid && c->ready)
			return c;
	}
	return NULL;
}

static void lc_watchdog_extra(void)
{
	unsigned int i;

	for (i = 0; i < LC_MAX_CHILDREN; i++)
		if (lc.child[i].pid)
			fz_dump_stacks(lc.child[i].pid);
}

/*
 * The fuzzer's own watchdog (FUZZ_TIMEOUT, FUZZ_STALL) ends it, with the
 * operation ring; the harness only backs it up.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	7200

TEST(fuzz_lifecycle)
{
	struct sigaction sa = { .sa_handler = lc_sigusr1 };
	u64 target = fz_env("FUZZ_VMS", 24), t0;
	struct lc_child *c;
	struct fz_rng r;
	pthread_t h;
	unsigned int i;

	if (xen_missing(CAPS_EVTCHN))
		return;
	fz_ring_init();
	printf("# seed=%llu\n", (unsigned long long)fz_seed);
	fz_rng_init(&r, 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	lc.mem_mb = fz_env("FUZZ_LC_MEM_MB", 128);
	lc_run_size = ioctl(open_kvm_dev_path_or_exit(), KVM_GET_VCPU_MMAP_SIZE,
			    NULL);
	ASSERT_LT(0, lc_run_size);
	lc_ko = getenv("KVM_PERSONA_KO");
	if (lc_ko && !*lc_ko)
		lc_ko = NULL;
	if (lc_ko && !lc_module_loaded())
		lc_ko = NULL;
	pthread_mutex_init(&lc.hammer_lock, NULL);
	for (i = 0; i < ARRAY_SIZE(lc.hammer_fd); i++)
		lc.hammer_fd[i] = -1;
	printf("# fuzz_lifecycle: %llu VMs, children with %llu MiB, rmmod %s\n",
	       (unsigned long long)target, (unsigned long long)lc.mem_mb,
	       lc_ko ? lc_ko : "off (KVM_PERSONA_KO unset or module not loaded)");
	fflush(stdout);
	fz_watchdog_extra = lc_watchdog_extra;
	fz_watchdog_start("fuzz_lifecycle", fz_env("FUZZ_TIMEOUT", 800),
			  fz_env("FUZZ_STALL", 180));
	ASSERT_EQ(0, pthread_create(&h, NULL, lc_hammer_thread, NULL));
	ASSERT_EQ(0, pthread_create(&h, NULL, lc_scan_thread, NULL));

	t0 = fz_now_ns();
	while (lc.vms < target) {
		switch (fz_below(&r, 100)) {
		case 0 ... 34:
			lc_child_spawn(&r);
			break;
		case 35 ... 64:
			c = lc_ready_child(&r);
			if (c)
				lc_child_end(c, &r, fz_below(&r, NR_LC_END));
			break;
		case 65 ... 77:
			lc_local_create(&r);
			break;
		case 78 ... 87:
			i = fz_below(&r, LC_MAX_LOCAL);
			if (lc.local_used[i])
				lc_local_destroy(&r, i);
			break;
		default:
			if (lc_any_vm())
				lc_rmmod_busy();
			else
				lc_rmmod_idle();
			break;
		}
	}
	while ((c = lc_ready_child(&r)))
		lc_child_end(c, &r, fz_below(&r, NR_LC_END));
	for (i = 0; i < LC_MAX_LOCAL; i++)
		if (lc.local_used[i]) {
			lc_rmmod_busy();
			lc_local_destroy(&r, i);
		}
	/* Nothing left: the module must go, and come back. */
	lc_rmmod_idle();
	if (lc_ko && !lc_module_loaded())
		fz_fail("the module is not loaded at the end");

	printf("# eventfd signals: %llu; children exited: %llu; fresh MiB scanned: %llu\n",
	       (unsigned long long)lc.hammered, (unsigned long long)lc.exited,
	       (unsigned long long)lc.scanned_mb);
	printf("# fuzz_lifecycle: vms=%llu killed=%llu rmmod_tries=%llu seed=%llu\n",
	       (unsigned long long)lc.vms, (unsigned long long)lc.killed,
	       (unsigned long long)lc_rmmod_tries,
	       (unsigned long long)fz_seed);
	printf("# rmmod succeeded %llu times; %.1f s\n",
	       (unsigned long long)lc_rmmod_ok, (fz_now_ns() - t0) / 1e9);
	fflush(stdout);
	alarm(0);
}

int main(int argc, char **argv)
{
	fz_seed_init();
	return test_harness_run(argc, argv);
}
