// SPDX-License-Identifier: GPL-2.0
/*
 * What an operator sees of a Xen VM: the module's tracepoints
 * (events/kvm_persona/ in tracefs) and its per-VM debugfs directory
 * (/sys/kernel/debug/kvm-persona/<pid>-<fd>/).
 *
 *  - a guest's hypercalls, answered in the kernel and by the VMM, the
 *    hypercall page, event delivery (fast and masked), the timer, and a
 *    poll that times out each leave the events they must, with their
 *    fields; kvm_xen_hypercall has upstream KVM's fields;
 *  - debugfs shows the configuration, each vCPU's areas, timer and poll,
 *    the ports and routes, and hypercall counts that match what the guest
 *    did; the files are root-only and go with the VM;
 *  - reading every file in a loop while VMs run and are destroyed is safe
 *    (the debug test host's KASAN and lockdep watch it).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "persona_xen.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS		"/sys/kernel/debug"

#define TPORT		13	/* the timer's port */
#define LOOP_PORT	20	/* EVTCHNOP_send target, delivered to itself */
#define MASKED_PORT	21
#define POLL_PORT	7
#define ROUTE_GSI	30
#define ROUTE_PORT	22
#define HCALL_PAGE_GPA	(ARG_GPA + 0x4000)	/* the region's last page */
#define YIELDS		3	/* SCHEDOP_yield, answered in the kernel */

/* The whole of @path (at most 1 MiB, NUL-terminated), or NULL. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap + 1);
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* tracefs and debugfs, mounted if the test host has not. */
static bool fs_ready(const char *dir, const char *probe, const char *type)
{
	if (!access(probe, F_OK))
		return true;
	mount(type, dir, type, 0, NULL);
	return !access(probe, F_OK);
}

/* Our events, or a skip where the module is not what answers. */
static bool __observe_missing(struct __test_metadata *_metadata)
{
	if (xen_missing(CAPS_EVTCHN))
		return true;
	if (!persona_loaded())
		SKIP(return true, "kvm-persona is not loaded (KVM's own Xen)");
	return false;
}

#define observe_missing() __observe_missing(_metadata)

static void vm_dir(struct xvm *x, char *buf, size_t len)
{
	snprintf(buf, len, PERSONA_DEBUGFS "/%d-%d", getpid(), x->vm->fd);
}

static char *vm_file(struct xvm *x, const char *name)
{
	char path[256], dir[128];

	vm_dir(x, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return slurp(path);
}

#define ASSERT_HAS(text, fmt, ...) do {					\
	const char *__text = (text);					\
	char __want[256];						\
									\
	snprintf(__want, sizeof(__want), fmt, ##__VA_ARGS__);		\
	ASSERT_NE(NULL, strstr(__text, __want))				\
		TH_LOG("no \"%s\" in:\n%s", __want, __text);		\
} while (0)

static void trace_start(struct __test_metadata *_metadata)
{
	ASSERT_TRUE(fs_ready(TRACEFS, TRACEFS "/trace", "tracefs"));
	ASSERT_EQ(0, access(TRACEFS "/events/kvm_persona/enable", W_OK))
		TH_LOG("no events/kvm_persona in tracefs");
	ASSERT_EQ(0, put(TRACEFS "/tracing_on", "0"));
	ASSERT_EQ(0, put(TRACEFS "/buffer_size_kb", "2048"));
	ASSERT_EQ(0, put(TRACEFS "/trace", ""));
	ASSERT_EQ(0, put(TRACEFS "/events/kvm_persona/enable", "1"));
	ASSERT_EQ(0, put(TRACEFS "/tracing_on", "1"));
}

static char *trace_stop(void)
{
	char *t;

	put(TRACEFS "/tracing_on", "0");
	t = slurp(TRACEFS "/trace");
	put(TRACEFS "/events/kvm_persona/enable", "0");
	put(TRACEFS "/trace", "");
	return t;
}

/* Upstream KVM's kvm_xen_hypercall: cpl, nr, a0..a5. */
TEST(hypercall_event_has_upstream_fields)
{
	char *fmt;

	if (observe_missing())
		return;
	ASSERT_TRUE(fs_ready(TRACEFS, TRACEFS "/trace", "tracefs"));
	fmt = slurp(TRACEFS "/events/kvm_persona/kvm_xen_hypercall/format");
	ASSERT_NE(NULL, fmt);
	ASSERT_HAS(fmt, "field:u8 cpl;");
	ASSERT_HAS(fmt, "field:unsigned long nr;");
	ASSERT_HAS(fmt, "field:unsigned long a0;");
	ASSERT_HAS(fmt, "field:unsigned long a5;");
	free(fmt);
}

TEST(tracepoints_of_a_guest)
{
	u32 poll_port = POLL_PORT;
	struct xvm x;
	char *t;
	u64 now;

	if (observe_missing())
		return;
	trace_start(_metadata);

	xvm_create(&x, 1, 0);
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L, 0));
	ASSERT_EQ(0, xen_evtchn_port(x.vm, 0, LOOP_PORT, EVTCHNSTAT_ipi,
				     LOOP_PORT, 0, PRIO_2L));
	xnop(&x, 0);

	/* The hypercall page, written by the kernel. */
	vcpu_set_msr(x.vcpu[0], XEN_HCALL_MSR, HCALL_PAGE_GPA);
	/* Answered in the kernel, and by us as the VMM. */
	ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_yield, 0, 0));
	xexit(&x, 0, XEN_HC_xen_version, 0, 0, 0);
	ASSERT_EQ(0x5a, xfinish(&x, 0, 0x5a));
	/* A port raised on the fast path, and one masked. */
	ASSERT_EQ(0, __xdo(_metadata, &x, 0, GOP_HCALL_WAIT,
			   XEN_HC_event_channel_op, EVTCHNOP_send,
			   put_evtchn_send(&x, 0, LOOP_PORT), 0,
			   x.gs->irqs[0] + 1));
	bit_set(x.shinfo->evtchn_mask, MASKED_PORT, true);
	ASSERT_EQ(0, xen_send(x.vm, MASKED_PORT, 0, PRIO_2L));
	/* The timer, armed and fired. */
	now = kvmclock_ns(x.vm);
	ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_set_timer_op, now + 20 * MS,
				 0, 0, x.gs->irqs[0] + 1));
	/* A poll that times out. */
	memcpy(arg_hva(&x, 0x100), &poll_port, sizeof(poll_port));
	{
		struct xen_sched_poll p = {
			.ports = arg_gva(0x100), .nr_ports = 1,
			.timeout = 20 * MS,
		};

		memcpy(arg_hva(&x, 0x200), &p, sizeof(p));
	}
	ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_poll,
			    arg_gva(0x200), 0));
	kvm_vm_free(x.vm);

	t = trace_stop();
	ASSERT_NE(NULL, t);
	ASSERT_HAS(t, "kvm_xen_hypercall_page: vcpu 0 gpa 0x%llx page 0 %s",
		   (unsigned long long)HCALL_PAGE_GPA,
		   "64-bit from kernel r 0");
	ASSERT_HAS(t, "kvm_xen_hypercall: cpl 0 nr 0x%x a0 0x%x", XEN_HC_sched_op,
		   SCHEDOP_yield);
	ASSERT_HAS(t, "kvm_xen_hypercall_done: vcpu 0 nr 0x%x result 0 by kernel",
		   XEN_HC_sched_op);
	ASSERT_HAS(t, "kvm_xen_hypercall: cpl 0 nr 0x%x a0 0x0", XEN_HC_xen_version);
	ASSERT_HAS(t, "kvm_xen_hypercall_done: vcpu 0 nr 0x%x result 90 by vmm",
		   XEN_HC_xen_version);
	ASSERT_HAS(t, "kvm_xen_evtchn_set: vcpu 0 port %u fast", LOOP_PORT);
	ASSERT_HAS(t, "kvm_xen_evtchn_set: vcpu 0 port %u masked", MASKED_PORT);
	ASSERT_HAS(t, "kvm_xen_timer_arm: vcpu 0 expires %llu",
		   (unsigned long long)(now + 20 * MS));
	ASSERT_HAS(t, "kvm_xen_timer_fire: vcpu 0 port %u", TPORT);
	ASSERT_HAS(t, "kvm_xen_poll_block: vcpu 0 ports 1 (port %u) timeout %llu ns",
		   POLL_PORT, (unsigned long long)(20 * MS));
	ASSERT_HAS(t, "kvm_xen_poll_wake: vcpu 0 timed out");
	/* kvm_vm_free() stops the vCPU's timer, after everything above. */
	ASSERT_HAS(strstr(t, "kvm_xen_poll_wake: vcpu 0"), "kvm_xen_timer_stop: vcpu 0");
	free(t);
}

struct poller {
	struct __test_metadata *_metadata;
	struct xvm *x;
	u64 r;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	struct __test_metadata *_metadata = p->_metadata;

	p->r = xhcall(p->x, 0, XEN_HC_sched_op, SCHEDOP_poll,
		      arg_gva(0x200), 0);
	return NULL;
}

static void check_root_only(struct __test_metadata *_metadata,
			    const char *path)
{
	struct stat st;
	pid_t pid;
	int status;

	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0400, st.st_mode & 0777) TH_LOG("%s", path);
	ASSERT_EQ(0, st.st_uid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(path, O_RDONLY) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s readable by nobody",
						 path);
}

/* One KVM_IRQ_ROUTING_XEN_EVTCHN route, GSI @gsi to @port of @vcpu. */
static int set_route(struct xvm *x, u32 gsi, u32 port, u32 vcpu)
{
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[1];
	} routes = { .info.nr = 1 };

	routes.e[0].gsi = gsi;
	routes.e[0].type = KVM_IRQ_ROUTING_XEN_EVTCHN;
	routes.e[0].u.xen_evtchn.port = port;
	routes.e[0].u.xen_evtchn.vcpu = vcpu;
	routes.e[0].u.xen_evtchn.priority = PRIO_2L;
	return ioctl(x->vm->fd, KVM_SET_GSI_ROUTING, &routes.info);
}

TEST(debugfs_shows_the_vm)
{
	char dir[128], path[256], *s;
	u32 poll_port = POLL_PORT;
	struct poller p;
	pthread_t th;
	struct xvm x;
	u64 domid;
	int i;

	if (observe_missing())
		return;
	ASSERT_TRUE(fs_ready(DEBUGFS, PERSONA_DEBUGFS, "debugfs"));

	xvm_create(&x, 2, 0);
	vm_dir(&x, dir, sizeof(dir));
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L, 0));
	ASSERT_EQ(0, xen_evtchn_port(x.vm, 0, LOOP_PORT, EVTCHNSTAT_ipi,
				     LOOP_PORT, 1, PRIO_2L));
	ASSERT_EQ(0, set_route(&x, ROUTE_GSI, ROUTE_PORT, 1));
	for (i = 0; i < YIELDS; i++)
		ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_yield, 0, 0));
	xexit(&x, 1, XEN_HC_xen_version, 0, 0, 0);
	ASSERT_EQ(0, xfinish(&x, 1, 0));
	ASSERT_EQ(0, xen_domid_get(x.vm, &domid));

	s = vm_file(&x, "config");
	ASSERT_NE(NULL, s) TH_LOG("no %s/config", dir);
	ASSERT_HAS(s, "domid: %llu\n", (unsigned long long)domid);
	ASSERT_HAS(s, "vmm_pid: %d\n", getpid());
	ASSERT_HAS(s, "hypercall_msr: 0x%x\n", XEN_HCALL_MSR);
	ASSERT_HAS(s, "intercept_hcall: 1\n");
	ASSERT_HAS(s, "long_mode: 1\n");
	ASSERT_HAS(s, "upcall_vector: 0x%x\n", UPCALL_VECTOR);
	ASSERT_HAS(s, "shared_info: gfn 0x%llx\n", (unsigned long long)SHINFO_GFN);
	free(s);

	s = vm_file(&x, "ports");
	ASSERT_NE(NULL, s);
	ASSERT_HAS(s, "send %u -> vcpu 1 port %u\n", LOOP_PORT, LOOP_PORT);
	ASSERT_HAS(s, "route gsi %u -> vcpu 1 port %u\n", ROUTE_GSI, ROUTE_PORT);
	free(s);

	s = vm_file(&x, "hypercalls");
	ASSERT_NE(NULL, s);
	ASSERT_HAS(s, "%u sched_op %u 0\n", XEN_HC_sched_op, YIELDS);
	ASSERT_HAS(s, "%u xen_version 0 1\n", XEN_HC_xen_version);
	free(s);

	/* vCPU 0 blocked in SCHEDOP_poll shows as such until woken. */
	memcpy(arg_hva(&x, 0x100), &poll_port, sizeof(poll_port));
	{
		struct xen_sched_poll sp = {
			.ports = arg_gva(0x100), .nr_ports = 1,
			.timeout = 60000 * MS,
		};

		memcpy(arg_hva(&x, 0x200), &sp, sizeof(sp));
	}
	p = (struct poller){ ._metadata = _metadata, .x = &x, .r = 1 };
	ASSERT_EQ(0, pthread_create(&th, NULL, poll_thread, &p));
	for (i = 0; i < 3000; i++) {
		s = vm_file(&x, "vcpus");
		ASSERT_NE(NULL, s);
		if (strstr(s, "poll: port 7\n"))
			break;
		free(s);
		s = NULL;
		usleep(10000);
	}
	ASSERT_NE(NULL, s) TH_LOG("vCPU 0 never seen polling");
	ASSERT_HAS(s, "vcpu 0: xen_id 0 ");
	ASSERT_HAS(s, "vcpu 1: xen_id 1 ");
	ASSERT_HAS(s, "  vcpu_info: gpa 0x%llx\n",
		   (unsigned long long)SHINFO_GPA);
	ASSERT_HAS(s, "  vcpu_info: gpa 0x%llx\n",
		   (unsigned long long)(SHINFO_GPA + 64));
	ASSERT_HAS(s, "  timer: virq_port %u ", TPORT);
	free(s);
	ASSERT_EQ(0, xen_send(x.vm, POLL_PORT, 0, PRIO_2L));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, p.r);
	s = vm_file(&x, "vcpus");
	ASSERT_NE(NULL, s);
	ASSERT_EQ(NULL, strstr(s, "poll: port")) TH_LOG("%s", s);
	free(s);

	snprintf(path, sizeof(path), "%s/config", dir);
	check_root_only(_metadata, path);
	snprintf(path, sizeof(path), "%s/hypercalls", dir);
	check_root_only(_metadata, path);

	/* The directory goes with the VM. */
	kvm_vm_free(x.vm);
	ASSERT_NE(0, access(dir, F_OK));
	ASSERT_EQ(ENOENT, errno);
}

/* Readers of every file of every VM, until told to stop. */
struct reader {
	bool stop;
	unsigned long reads;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	long n;

	while (!READ_ONCE(r->stop)) {
		n = persona_debugfs_read_vms();
		if (n < 0)
			return NULL;
		__atomic_add_fetch(&r->reads, n, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(debugfs_read_while_vms_come_and_go)
{
	struct reader r = {};
	pthread_t th[2];
	struct xvm x;
	int i, j;

	if (observe_missing())
		return;
	ASSERT_TRUE(fs_ready(DEBUGFS, PERSONA_DEBUGFS, "debugfs"));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reader_thread, &r));
	for (i = 0; i < 12; i++) {
		xvm_create(&x, 2, 0);
		ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L, 0));
		for (j = 0; j < 2; j++)
			ASSERT_EQ(0, xhcall(&x, j, XEN_HC_sched_op,
					    SCHEDOP_yield, 0, 0));
		/* A timer armed at destruction, and a port set. */
		ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_set_timer_op,
				    kvmclock_ns(x.vm) + 1000 * MS, 0, 0));
		ASSERT_EQ(0, xen_evtchn_port(x.vm, 0, LOOP_PORT, EVTCHNSTAT_ipi,
					     LOOP_PORT, 0, PRIO_2L));
		ASSERT_EQ(0, set_route(&x, ROUTE_GSI, ROUTE_PORT, 1));
		kvm_vm_free(x.vm);
	}
	WRITE_ONCE(r.stop, true);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_LT(0, r.reads);
	TH_LOG("%lu file reads beside 12 VMs", r.reads);
}

TEST_HARNESS_MAIN
