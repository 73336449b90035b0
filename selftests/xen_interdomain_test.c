// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels between two VMs (kvm-persona's extension,
 * Documentation/abi.rst "Domains"): domain IDs, EVTCHNOP_alloc_unbound
 * and EVTCHNOP_bind_interdomain naming another VM, send both ways,
 * status, close from either end, bind_vcpu, resets, the teardown of
 * either VM, and Xen's errors for every bad request.
 *
 * The test plays QEMU's part: the kernel has the VMM allocate each local
 * port, as EVTCHNOP_alloc_unbound(DOMID_SELF, DOMID_QEMU) written over
 * the guest's argument, and vmm_alloc() answers it as QEMU would (the
 * whole structure copied back, the port filled in).
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "persona_xen.h"

#define XEN_EINVAL		22
#define XEN_EFAULT		14

struct evtchn_status {
	u16 dom;
	u32 port;
	u32 status;
	u32 vcpu;
	union {
		u16 unbound_dom;
		struct {
			u16 dom;
			u32 port;
		} interdomain;
	} u;
};

static_assert(sizeof(struct evtchn_status) == 24, "evtchn_status");

/* Argument offsets: one area per operation, so none clobbers another. */
#define OFF_ALLOC	0x000
#define OFF_BIND	0x100
#define OFF_SEND	0x200
#define OFF_CLOSE	0x300
#define OFF_STATUS	0x400
#define OFF_VCPU	0x500
#define OFF_RESET	0x600

struct unpriv {
	struct kvm_vm *vm;
	u64 id;
	int r;
};

/* Capabilities are per thread: this one drops CAP_SYS_ADMIN and tries. */
static void *unpriv_thread(void *arg)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	struct unpriv *u = arg;

	u->r = -ECHILD;
	if (syscall(SYS_capget, &h, d))
		return NULL;
	d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &h, d))
		return NULL;
	u->r = xen_domid_set(u->vm, u->id);
	return NULL;
}

/* xen_domid_set() without CAP_SYS_ADMIN: 0 or -errno. */
static int domid_set_unprivileged(struct kvm_vm *vm, u64 id)
{
	struct unpriv u = { .vm = vm, .id = id };
	pthread_t t;

	if (pthread_create(&t, NULL, unpriv_thread, &u))
		return -ECHILD;
	pthread_join(t, NULL);
	return u.r;
}

/* The persona extension is there (upstream KVM has no domain IDs). */
static bool __idc_missing(struct __test_metadata *_metadata)
{
	struct kvm_vm *vm;
	u64 id;
	int r;

	if (xen_missing(CAPS_EVTCHN))
		return true;
	vm = vm_create_barebones();
	r = xen_domid_get(vm, &id);
	kvm_vm_free(vm);
	if (r == -ENOENT)
		SKIP(return true, "no domain IDs: not kvm-persona");
	ASSERT_EQ(0, r);
	return false;
}

#define idc_missing() __idc_missing(_metadata)

static u16 domid(struct __test_metadata *_metadata, struct xvm *x)
{
	u64 id;

	ASSERT_EQ(0, xen_domid_get(x->vm, &id));
	return id;
}

static s64 hc_evtchn(struct __test_metadata *_metadata, struct xvm *x,
		     unsigned int i, u32 cmd, u64 off)
{
	return (s64)__xdo(_metadata, x, i, GOP_HCALL, XEN_HC_event_channel_op,
			  cmd, arg_gva(off), 0, 0);
}

/* Start an event channel hypercall that must exit; the exit. */
static struct kvm_xen_exit *__hc_exit(struct __test_metadata *_metadata,
				      struct xvm *x, unsigned int i, u32 cmd,
				      u64 off)
{
	struct kvm_xen_exit *e;

	xcmd(x, i, GOP_HCALL, XEN_HC_event_channel_op, cmd, arg_gva(off), 0, 0);
	ASSERT_EQ(XRUN_XEN, __xrun(_metadata, x, i))
		TH_LOG("EVTCHNOP %u was answered in the kernel: %ld", cmd,
		       (long)x->gs->cmd[i].result);
	e = &x->vcpu[i]->run->xen;
	ASSERT_EQ(XEN_HC_event_channel_op, e->u.hcall.input);
	ASSERT_EQ(arg_gva(off), e->u.hcall.params[1]);
	return e;
}

#define hc_exit(x, i, cmd, off) __hc_exit(_metadata, x, i, cmd, off)

/*
 * The kernel asks the VMM for a port: the exit must be the disguised
 * EVTCHNOP_alloc_unbound(DOMID_SELF, DOMID_QEMU) over the argument.
 * Answer as QEMU does, with @port (or fail with @err); the guest's result.
 */
static s64 __vmm_alloc(struct __test_metadata *_metadata, struct xvm *x,
		       unsigned int i, struct kvm_xen_exit *e, u64 off,
		       u32 port, s64 err)
{
	struct xen_alloc_unbound *a = arg_hva(x, off);

	ASSERT_EQ(EVTCHNOP_alloc_unbound, e->u.hcall.params[0]);
	ASSERT_EQ(DOMID_SELF, a->dom);
	ASSERT_EQ(DOMID_QEMU, a->remote_dom);
	if (!err)
		a->port = port;
	return (s64)xfinish(x, i, err);
}

#define vmm_alloc(x, i, e, off, port, err) \
	__vmm_alloc(_metadata, x, i, e, off, port, err)

/* EVTCHNOP_alloc_unbound(DOMID_SELF, @remote) through the VMM: the port. */
static u32 __alloc_unbound(struct __test_metadata *_metadata, struct xvm *x,
			   unsigned int i, u16 remote, u32 port)
{
	struct xen_alloc_unbound *a = arg_hva(x, OFF_ALLOC);
	struct kvm_xen_exit *e;

	*a = (struct xen_alloc_unbound){ .dom = DOMID_SELF, .remote_dom = remote };
	e = hc_exit(x, i, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(0, vmm_alloc(x, i, e, OFF_ALLOC, port, 0));
	/* The guest's own argument is back, with the port. */
	ASSERT_EQ(DOMID_SELF, a->dom);
	ASSERT_EQ(remote, a->remote_dom);
	ASSERT_EQ(port, a->port);
	return port;
}

#define alloc_unbound(x, i, remote, port) \
	__alloc_unbound(_metadata, x, i, remote, port)

static void put_bind(struct xvm *x, u16 remote, u32 rport)
{
	struct xen_bind_interdomain *b = arg_hva(x, OFF_BIND);

	memset(b, 0, sizeof(*b));
	b->remote_dom = remote;
	b->remote_port = rport;
	b->local_port = 0xdead;
}

/* EVTCHNOP_bind_interdomain(@remote, @rport), the VMM giving @port. */
static void __bind(struct __test_metadata *_metadata, struct xvm *x,
		   unsigned int i, u16 remote, u32 rport, u32 port)
{
	struct xen_bind_interdomain *b = arg_hva(x, OFF_BIND);
	struct kvm_xen_exit *e;

	put_bind(x, remote, rport);
	e = hc_exit(x, i, EVTCHNOP_bind_interdomain, OFF_BIND);
	ASSERT_EQ(0, vmm_alloc(x, i, e, OFF_BIND, port, 0));
	ASSERT_EQ(remote, b->remote_dom);
	ASSERT_EQ(rport, b->remote_port);
	ASSERT_EQ(port, b->local_port);
}

#define bind(x, i, remote, rport, port) \
	__bind(_metadata, x, i, remote, rport, port)

/* A bind the kernel refuses itself: Xen's error, no exit. */
static s64 bind_refused(struct __test_metadata *_metadata, struct xvm *x,
			u16 remote, u32 rport)
{
	put_bind(x, remote, rport);
	return hc_evtchn(_metadata, x, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
}

static s64 send(struct __test_metadata *_metadata, struct xvm *x,
		unsigned int i, u32 port)
{
	put_evtchn_send(x, OFF_SEND, port);
	return hc_evtchn(_metadata, x, i, EVTCHNOP_send, OFF_SEND);
}

/* EVTCHNOP_status of @port, answered in the kernel. */
static struct evtchn_status *status(struct __test_metadata *_metadata,
				    struct xvm *x, u32 port)
{
	struct evtchn_status *st = arg_hva(x, OFF_STATUS);

	memset(st, 0x5a, sizeof(*st));
	st->dom = DOMID_SELF;
	st->port = port;
	EXPECT_EQ(0, hc_evtchn(_metadata, x, 0, EVTCHNOP_status, OFF_STATUS));
	return st;
}

#define ASSERT_UNBOUND(x, _p, _d) do {					\
	struct evtchn_status *_st = status(_metadata, x, _p);		\
	ASSERT_EQ(EVTCHNSTAT_unbound, _st->status);			\
	ASSERT_EQ(_d, _st->u.unbound_dom);				\
} while (0)

#define ASSERT_BOUND(x, _p, _d, _rp) do {				\
	struct evtchn_status *_st = status(_metadata, x, _p);		\
	ASSERT_EQ(EVTCHNSTAT_interdomain, _st->status);		\
	ASSERT_EQ(_d, _st->u.interdomain.dom);				\
	ASSERT_EQ(_rp, _st->u.interdomain.port);			\
} while (0)

/* EVTCHNOP_close: the kernel's part, then on to the VMM (answered 0). */
static void __close_port(struct __test_metadata *_metadata, struct xvm *x,
			 u32 port)
{
	struct kvm_xen_exit *e;

	memcpy(arg_hva(x, OFF_CLOSE), &port, sizeof(port));
	e = hc_exit(x, 0, EVTCHNOP_close, OFF_CLOSE);
	ASSERT_EQ(EVTCHNOP_close, e->u.hcall.params[0]);
	ASSERT_EQ(0, xfinish(x, 0, 0));
}

#define close_port(x, port) __close_port(_metadata, x, port)

/* Let vCPU @i take pending upcalls; how many it took. */
static u64 __upcalls(struct __test_metadata *_metadata, struct xvm *x,
		     unsigned int i)
{
	xnop(x, i);
	return x->gs->irqs[i];
}

#define upcalls(x, i) __upcalls(_metadata, x, i)

static bool pending(struct xvm *x, u32 port)
{
	return bit_in(x->shinfo->evtchn_pending, port);
}

static void clear_pending(struct xvm *x, u32 port)
{
	bit_set(x->shinfo->evtchn_pending, port, false);
}

FIXTURE(two) {
	struct xvm a, b;
	u16 ida, idb;
};

FIXTURE_SETUP(two)
{
	if (idc_missing())
		return;
	xvm_create(&self->a, 2, 0);
	xvm_create(&self->b, 2, 0);
	self->ida = domid(_metadata, &self->a);
	self->idb = domid(_metadata, &self->b);
	xnop(&self->a, 0);
	xnop(&self->b, 0);
}

FIXTURE_TEARDOWN(two)
{
	if (self->a.vm)
		kvm_vm_free(self->a.vm);
	if (self->b.vm)
		kvm_vm_free(self->b.vm);
}

/* Default IDs: set, distinct, outside 0 and Xen's reserved range. */
TEST_F(two, domid_default)
{
	struct kvm_vm *plain;
	u64 id;

	if (!self->a.vm)
		return;

	ASSERT_NE(self->ida, self->idb);
	ASSERT_LT(0, self->ida);
	ASSERT_LT(0, self->idb);
	ASSERT_GT(DOMID_SELF, self->ida);
	ASSERT_GT(DOMID_SELF, self->idb);

	/* A VM without Xen state has none. */
	plain = vm_create_barebones();
	ASSERT_EQ(0, xen_domid_get(plain, &id));
	ASSERT_EQ(0, id);
	kvm_vm_free(plain);
}

TEST_F(two, domid_set)
{
	if (!self->a.vm)
		return;

	ASSERT_EQ(0, xen_domid_set(self->a.vm, 4242));
	ASSERT_EQ(4242, domid(_metadata, &self->a));
	ASSERT_EQ(-EEXIST, xen_domid_set(self->b.vm, 4242));
	ASSERT_EQ(-EINVAL, xen_domid_set(self->b.vm, 0));
	ASSERT_EQ(-EINVAL, xen_domid_set(self->b.vm, DOMID_SELF));
	ASSERT_EQ(-EINVAL, xen_domid_set(self->b.vm, 1ull << 32 | 5));
	ASSERT_EQ(self->idb, domid(_metadata, &self->b));
	ASSERT_EQ(-EPERM, domid_set_unprivileged(self->b.vm, 4444));
	/* The old ID is free again. */
	ASSERT_EQ(0, xen_domid_set(self->b.vm, self->ida));
	ASSERT_EQ(0, xen_domid_set(self->a.vm, 4242));

	/* Not while a port of A is bound to another domain. */
	alloc_unbound(&self->a, 0, self->ida, 9);
	ASSERT_EQ(-EBUSY, xen_domid_set(self->a.vm, 4243));
	bind(&self->b, 0, 4242, 9, 11);
	ASSERT_EQ(-EBUSY, xen_domid_set(self->b.vm, 77));
	ASSERT_BOUND(&self->a, 9, self->ida, 11);
}

#define DOMAINS_PARAM	"/sys/module/kvm_persona/parameters/domains"

/* Write @s to the domains parameter: 0 or -errno. */
static int domains_write(const char *s)
{
	int fd = open(DOMAINS_PARAM, O_WRONLY), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Whether the parameter lists "<id> <pid>". */
static bool domains_lists(u16 id, int pid)
{
	char buf[8192], want[32];
	FILE *f = fopen(DOMAINS_PARAM, "r");
	bool found = false;

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%u %d\n", id, pid);
	while (fgets(buf, sizeof(buf), f))
		if (!strcmp(buf, want))
			found = true;
	fclose(f);
	return found;
}

/* The operator's view: list and renumber through sysfs. */
TEST_F(two, domains_param)
{
	char cmd[64];

	if (!self->a.vm)
		return;

	ASSERT_TRUE(domains_lists(self->ida, getpid()));
	ASSERT_TRUE(domains_lists(self->idb, getpid()));

	snprintf(cmd, sizeof(cmd), "%u 4000", self->ida);
	ASSERT_EQ(0, domains_write(cmd));
	ASSERT_EQ(4000, domid(_metadata, &self->a));
	ASSERT_TRUE(domains_lists(4000, getpid()));
	ASSERT_FALSE(domains_lists(self->ida, getpid()));

	snprintf(cmd, sizeof(cmd), "%u 4000", self->idb);
	ASSERT_EQ(-EEXIST, domains_write(cmd));
	ASSERT_EQ(-ENOENT, domains_write("7777 7778"));
	ASSERT_EQ(-EINVAL, domains_write("4000"));
	ASSERT_EQ(-EINVAL, domains_write("4000 0"));
	ASSERT_EQ(-EINVAL, domains_write("4000 5 6"));
	ASSERT_EQ(-EINVAL, domains_write("4000 x"));
	ASSERT_EQ(4000, domid(_metadata, &self->a));

	/* A VM gone is gone from the list. */
	kvm_vm_free(self->a.vm);
	self->a.vm = NULL;
	ASSERT_FALSE(domains_lists(4000, getpid()));
	ASSERT_TRUE(domains_lists(self->idb, getpid()));
}

/* The whole exchange: offer, bind, notify both ways. */
TEST_F(two, bind_send_both_ways)
{
	u64 irqs;

	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	ASSERT_UNBOUND(&self->a, 5, self->idb);
	/* Unbound: Xen drops the event, in the kernel. */
	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));

	bind(&self->b, 0, self->ida, 5, 7);
	ASSERT_BOUND(&self->a, 5, self->idb, 7);
	ASSERT_BOUND(&self->b, 7, self->ida, 5);
	/* Xen raises the new local port: events before the bind were lost. */
	ASSERT_TRUE(pending(&self->b, 7));
	ASSERT_EQ(1, upcalls(&self->b, 0));
	clear_pending(&self->b, 7);

	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));
	ASSERT_TRUE(pending(&self->b, 7));
	ASSERT_FALSE(pending(&self->a, 5));
	ASSERT_EQ(2, upcalls(&self->b, 0));
	ASSERT_EQ(0, self->b.gs->irqs[1]);

	irqs = self->a.gs->irqs[0];
	ASSERT_EQ(0, send(_metadata, &self->b, 1, 7));
	ASSERT_TRUE(pending(&self->a, 5));
	ASSERT_EQ(irqs + 1, upcalls(&self->a, 0));

	/* A masked port stays pending without an upcall, as for any port. */
	clear_pending(&self->b, 7);
	bit_set(self->b.shinfo->evtchn_mask, 7, true);
	ASSERT_EQ(0, send(_metadata, &self->a, 1, 5));
	ASSERT_TRUE(pending(&self->b, 7));
	ASSERT_EQ(2, upcalls(&self->b, 0));
}

/* EVTCHNOP_bind_vcpu: the VMM agrees, and delivery follows it. */
TEST_F(two, bind_vcpu)
{
	struct kvm_xen_exit *e;
	u32 *bv = arg_hva(&self->b, OFF_VCPU);

	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	ASSERT_EQ(1, upcalls(&self->b, 0));
	clear_pending(&self->b, 7);

	bv[0] = 7;
	bv[1] = 1;
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_vcpu, OFF_VCPU);
	ASSERT_EQ(EVTCHNOP_bind_vcpu, e->u.hcall.params[0]);
	ASSERT_EQ(0, xfinish(&self->b, 0, 0));
	ASSERT_EQ(1, status(_metadata, &self->b, 7)->vcpu);

	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));
	ASSERT_EQ(1, upcalls(&self->b, 1));
	ASSERT_EQ(1, upcalls(&self->b, 0));

	/* Refused by the VMM: the kernel keeps the old vCPU. */
	bv[1] = 0;
	hc_exit(&self->b, 0, EVTCHNOP_bind_vcpu, OFF_VCPU);
	ASSERT_EQ(-XEN_EINVAL, (s64)xfinish(&self->b, 0, -XEN_EINVAL));
	ASSERT_EQ(1, status(_metadata, &self->b, 7)->vcpu);
}

/* Close from the offering side: the binder's port becomes unbound. */
TEST_F(two, close_offerer)
{
	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	close_port(&self->a, 5);

	ASSERT_UNBOUND(&self->b, 7, self->ida);
	clear_pending(&self->a, 5);
	ASSERT_EQ(0, send(_metadata, &self->b, 0, 7));
	ASSERT_FALSE(pending(&self->a, 5));
	/* Port 5 of A is the VMM's again: its calls exit. */
	put_evtchn_send(&self->a, OFF_SEND, 5);
	hc_exit(&self->a, 0, EVTCHNOP_send, OFF_SEND);
	ASSERT_EQ(0, xfinish(&self->a, 0, 0));
}

/* Close from the binder: the offer stands again, and can be rebound. */
TEST_F(two, close_binder_rebind)
{
	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	close_port(&self->b, 7);
	ASSERT_UNBOUND(&self->a, 5, self->idb);

	bind(&self->b, 0, self->ida, 5, 8);
	ASSERT_BOUND(&self->a, 5, self->idb, 8);
	clear_pending(&self->b, 8);
	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));
	ASSERT_TRUE(pending(&self->b, 8));
}

/* Xen's errors; what is not another VM's stays the VMM's. */
TEST_F(two, bind_errors)
{
	struct kvm_xen_exit *e;
	struct xvm c;
	u16 idc;

	if (!self->a.vm)
		return;

	/* Never offered, out of range, offered to another domain. */
	ASSERT_EQ(-XEN_EINVAL, bind_refused(_metadata, &self->b, self->ida, 5));
	ASSERT_EQ(-XEN_EINVAL,
		  bind_refused(_metadata, &self->b, self->ida, 1u << 31));
	xvm_create(&c, 1, 0);
	idc = domid(_metadata, &c);
	alloc_unbound(&self->a, 0, idc, 5);
	ASSERT_EQ(-XEN_EINVAL, bind_refused(_metadata, &self->b, self->ida, 5));

	/* Bound already. */
	bind(&c, 0, self->ida, 5, 3);
	ASSERT_EQ(-XEN_EINVAL, bind_refused(_metadata, &c, self->ida, 5));
	ASSERT_BOUND(&self->a, 5, idc, 3);

	/* No such domain, DOMID_QEMU, itself: the VMM's call, untouched. */
	put_bind(&self->b, 0x7000, 5);
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	ASSERT_EQ(EVTCHNOP_bind_interdomain, e->u.hcall.params[0]);
	ASSERT_EQ(0x7000, ((struct xen_bind_interdomain *)arg_hva(&self->b, OFF_BIND))->remote_dom);
	ASSERT_EQ(-ESRCH, (s64)xfinish(&self->b, 0, -ESRCH));
	put_bind(&self->b, DOMID_QEMU, 5);
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	ASSERT_EQ(EVTCHNOP_bind_interdomain, e->u.hcall.params[0]);
	xfinish(&self->b, 0, 0);
	put_bind(&self->b, self->idb, 5);
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	ASSERT_EQ(EVTCHNOP_bind_interdomain, e->u.hcall.params[0]);
	xfinish(&self->b, 0, 0);

	/* An unreadable argument: the VMM's, as before. */
	xcmd(&self->b, 0, GOP_HCALL, XEN_HC_event_channel_op,
	     EVTCHNOP_bind_interdomain, UNMAPPED_GVA, 0, 0);
	ASSERT_EQ(XRUN_XEN, xrun(&self->b, 0));
	ASSERT_EQ(EVTCHNOP_bind_interdomain,
		  self->b.vcpu[0]->run->xen.u.hcall.params[0]);
	ASSERT_EQ(-XEN_EFAULT, (s64)xfinish(&self->b, 0, -XEN_EFAULT));

	kvm_vm_free(c.vm);
	/* C is gone: A's port is unbound again, offered to C's old ID. */
	ASSERT_UNBOUND(&self->a, 5, idc);
}

/* The VMM's failures and a VMM that hands out a bad port. */
TEST_F(two, vmm_errors)
{
	struct xen_alloc_unbound *a = arg_hva(&self->a, OFF_ALLOC);
	struct xen_bind_interdomain *b = arg_hva(&self->b, OFF_BIND);
	struct kvm_xen_exit *e;

	if (!self->a.vm)
		return;

	*a = (struct xen_alloc_unbound){ .dom = DOMID_SELF,
				     .remote_dom = self->idb };
	e = hc_exit(&self->a, 0, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(-28, vmm_alloc(&self->a, 0, e, OFF_ALLOC, 0, -28));
	ASSERT_EQ(self->idb, a->remote_dom);

	e = hc_exit(&self->a, 0, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(-XEN_EINVAL, vmm_alloc(&self->a, 0, e, OFF_ALLOC, 4096, 0));
	e = hc_exit(&self->a, 0, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(-XEN_EINVAL, vmm_alloc(&self->a, 0, e, OFF_ALLOC, 0, 0));
	ASSERT_EQ(self->idb, a->remote_dom);

	/* A failed bind gives its reservation back. */
	alloc_unbound(&self->a, 0, self->idb, 5);
	put_bind(&self->b, self->ida, 5);
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	ASSERT_EQ(-28, vmm_alloc(&self->b, 0, e, OFF_BIND, 0, -28));
	ASSERT_EQ(self->ida, b->remote_dom);
	ASSERT_EQ(5, b->remote_port);
	ASSERT_UNBOUND(&self->a, 5, self->idb);
	bind(&self->b, 0, self->ida, 5, 7);

	/* Alloc for a domain that is not there, or DOMID_QEMU: the VMM's. */
	*a = (struct xen_alloc_unbound){ .dom = DOMID_SELF, .remote_dom = 0x7000 };
	e = hc_exit(&self->a, 0, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(0x7000, a->remote_dom);
	ASSERT_EQ(-1, (s64)xfinish(&self->a, 0, -1));
	*a = (struct xen_alloc_unbound){ .dom = DOMID_SELF, .remote_dom = DOMID_QEMU };
	e = hc_exit(&self->a, 0, EVTCHNOP_alloc_unbound, OFF_ALLOC);
	ASSERT_EQ(DOMID_QEMU, a->remote_dom);
	xfinish(&self->a, 0, 0);
}

/* A bind in flight while the offering VM dies: bound, then unbound. */
TEST_F(two, offerer_dies_during_bind)
{
	struct kvm_xen_exit *e;

	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	put_bind(&self->b, self->ida, 5);
	e = hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	kvm_vm_free(self->a.vm);
	self->a.vm = NULL;
	ASSERT_EQ(0, vmm_alloc(&self->b, 0, e, OFF_BIND, 7, 0));
	ASSERT_UNBOUND(&self->b, 7, self->ida);
	ASSERT_EQ(0, send(_metadata, &self->b, 0, 7));
}

/* A VM that dies while bound leaves its peer's port unbound. */
TEST_F(two, peer_dies)
{
	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	kvm_vm_free(self->b.vm);
	self->b.vm = NULL;
	ASSERT_UNBOUND(&self->a, 5, self->idb);
	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));
}

/* A binder dying with its bind in flight frees the reservation. */
TEST_F(two, binder_dies_during_bind)
{
	struct xvm c;

	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	put_bind(&self->b, self->ida, 5);
	hc_exit(&self->b, 0, EVTCHNOP_bind_interdomain, OFF_BIND);
	kvm_vm_free(self->b.vm);
	self->b.vm = NULL;
	ASSERT_UNBOUND(&self->a, 5, self->idb);

	/* A new VM given the old ID can take the offer. */
	xvm_create(&c, 1, 0);
	ASSERT_EQ(0, xen_domid_set(c.vm, self->idb));
	bind(&c, 0, self->ida, 5, 3);
	ASSERT_BOUND(&self->a, 5, self->idb, 3);
	kvm_vm_free(c.vm);
}

/* EVTCHNOP_reset, SHUTDOWN_soft_reset and the VMM's reset close ours. */
TEST_F(two, resets)
{
	struct kvm_xen_exit *e;
	u32 *reason = arg_hva(&self->a, OFF_RESET);
	u16 *dom = arg_hva(&self->a, OFF_RESET);

	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	*dom = DOMID_SELF;
	e = hc_exit(&self->a, 0, EVTCHNOP_reset, OFF_RESET);
	ASSERT_EQ(EVTCHNOP_reset, e->u.hcall.params[0]);
	xfinish(&self->a, 0, 0);
	ASSERT_UNBOUND(&self->b, 7, self->ida);

	alloc_unbound(&self->a, 0, self->idb, 6);
	close_port(&self->b, 7);
	bind(&self->b, 0, self->ida, 6, 7);
	*reason = SHUTDOWN_soft_reset;
	xcmd(&self->a, 0, GOP_HCALL, XEN_HC_sched_op, SCHEDOP_shutdown,
	     arg_gva(OFF_RESET), 0, 0);
	ASSERT_EQ(XRUN_XEN, xrun(&self->a, 0));
	xfinish(&self->a, 0, 0);
	ASSERT_UNBOUND(&self->b, 7, self->ida);

	alloc_unbound(&self->a, 0, self->idb, 5);
	close_port(&self->b, 7);
	bind(&self->b, 0, self->ida, 5, 7);
	ASSERT_EQ(0, xen_evtchn_flags(self->a.vm, KVM_XEN_EVTCHN_RESET, 0));
	ASSERT_UNBOUND(&self->b, 7, self->ida);
	/* A's port 5 is the VMM's again. */
	memset(arg_hva(&self->a, OFF_STATUS), 0, 24);
	*(u32 *)((u8 *)arg_hva(&self->a, OFF_STATUS) + 4) = 5;
	hc_exit(&self->a, 0, EVTCHNOP_status, OFF_STATUS);
	xfinish(&self->a, 0, 0);
}

/*
 * Delivery into a VM whose shared_info cache needs mapping again (a
 * memslot change invalidates it): the worker maps it in that VM's mm.
 */
TEST_F(two, deliver_needs_mapping)
{
	if (!self->a.vm)
		return;

	alloc_unbound(&self->a, 0, self->idb, 5);
	bind(&self->b, 0, self->ida, 5, 7);
	ASSERT_EQ(1, upcalls(&self->b, 0));
	clear_pending(&self->b, 7);

	/* Moving another memslot of B invalidates B's caches. */
	vm_userspace_mem_region_add(self->b.vm, VM_MEM_SRC_ANONYMOUS,
				    0xe0000000ull, XR_SLOT + 1, 1, 0);
	vm_mem_region_move(self->b.vm, XR_SLOT + 1, 0xe0100000ull);
	ASSERT_EQ(0, send(_metadata, &self->a, 0, 5));
	ASSERT_TRUE(wait_pending_bit(self->b.shinfo->evtchn_pending, 7, 2000));
	ASSERT_EQ(2, upcalls(&self->b, 0));
}

TEST_HARNESS_MAIN
