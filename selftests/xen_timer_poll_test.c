// SPDX-License-Identifier: GPL-2.0
/*
 * The hypercalls upstream 6.1 answers in the kernel besides xen_version and
 * EVTCHNOP_send (arch/x86/kvm/xen.c: kvm_xen_hcall_sched_op(),
 * kvm_xen_schedop_poll(), kvm_xen_hcall_vcpu_op(),
 * kvm_xen_hcall_set_timer_op(), kvm_xen_start_timer(),
 * kvm_xen_check_poller()), and the destruction of VMs with timers armed
 * and event channels set up:
 *
 *  - SCHEDOP_yield; SCHEDOP_poll (pending ports, relative timeout, wakeups
 *    by masked events on the polled port, by upcalls, by the timer; its
 *    errors; a plain yield without EVTCHN_SEND);
 *  - VCPUOP_set_singleshot_timer / VCPUOP_stop_singleshot_timer and
 *    set_timer_op, with the timer port from the TIMER attribute; Xen's
 *    workaround for bogus Linux deadlines in set_timer_op.
 */
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "persona_xen.h"

#define TPORT		13	/* the timer's event channel */
#define PORT_UNMASKED_OTHER	8

/* Argument area layout. */
#define OFF_POLL	0x000
#define OFF_PORTS	0x100
#define OFF_TIMER	0x600
#define OFF_CROSS	0x1000	/* the page boundary inside the area */

static u64 put_ports(struct xvm *x, u64 off, const u32 *ports, unsigned int n)
{
	memcpy(arg_hva(x, off), ports, n * sizeof(*ports));
	return arg_gva(off);
}

static u64 put_poll(struct xvm *x, u64 ports, u32 nr, u64 timeout)
{
	struct xen_sched_poll p = {
		.ports = ports, .nr_ports = nr, .timeout = timeout,
	};

	memcpy(arg_hva(x, OFF_POLL), &p, sizeof(p));
	return arg_gva(OFF_POLL);
}

static u64 put_oneshot(struct xvm *x, u64 deadline, u32 flags)
{
	struct xen_singleshot t = { .timeout_abs_ns = deadline, .flags = flags };

	memcpy(arg_hva(x, OFF_TIMER), &t, sizeof(t));
	return arg_gva(OFF_TIMER);
}

/* Poll @n ports from vCPU 0; returns the hypercall's result. */
static u64 __poll_ports(struct __test_metadata *_metadata, struct xvm *x,
			const u32 *ports, unsigned int n, u64 timeout)
{
	u64 arg = put_poll(x, put_ports(x, OFF_PORTS, ports, n), n, timeout);

	return xhcall(x, 0, XEN_HC_sched_op, SCHEDOP_poll, arg, 0);
}

#define POLL(x, ports, n, timeout) \
	__poll_ports(_metadata, x, ports, n, timeout)

#define POLL_RAW(x, arg)						\
	xhcall(x, 0, XEN_HC_sched_op, SCHEDOP_poll, arg, 0)

static void xvm_timer(struct __test_metadata *_metadata, struct xvm *x,
		      unsigned int flags)
{
	xvm_create(x, 1, flags);
	ASSERT_EQ(0, xen_set_timer(x->vcpu[0], TPORT, PRIO_2L, 0));
	xnop(x, 0);
}

static u64 timer_expiry(struct __test_metadata *_metadata,
			struct kvm_vcpu *vcpu)
{
	struct kvm_xen_vcpu_attr a;

	ASSERT_EQ(0, xen_get_timer(vcpu, &a));
	ASSERT_EQ(TPORT, a.u.timer.port);
	return a.u.timer.expires_ns;
}

/* ---- SCHEDOP_yield, other sched_op -------------------------------------- */

TEST(schedop_yield)
{
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_yield, 0, 0));
	ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_yield,
			    UNMAPPED_GVA, 0));

	/* Only yield and poll are the kernel's. */
	xexit(&x, 0, XEN_HC_sched_op, SCHEDOP_block, 0, 0);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	xexit(&x, 0, XEN_HC_sched_op, SCHEDOP_shutdown, arg_gva(0), 0);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	xexit(&x, 0, XEN_HC_sched_op, 99, 0, 0);
	ASSERT_EQ(0x5a, xfinish(&x, 0, 0x5a));
	kvm_vm_free(x.vm);

	/* Yield needs neither EVTCHN_SEND nor shared_info. */
	xvm_create(&x, 1, XVM_NO_EVTCHN_SEND | XVM_NO_SHINFO);
	ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_sched_op, SCHEDOP_yield, 0, 0));
	kvm_vm_free(x.vm);
}

/* ---- SCHEDOP_poll ------------------------------------------------------- */

TEST(poll_pending_returns_at_once)
{
	u32 ports[128];
	unsigned int i;
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);

	bit_set(x.shinfo->evtchn_pending, 5, true);
	ports[0] = 5;
	ASSERT_EQ(0, POLL(&x, ports, 1, 0));
	ASSERT_EQ(0, POLL(&x, ports, 1, 10000 * MS));

	/* Masked or not: only the pending bit counts. */
	bit_set(x.shinfo->evtchn_mask, 5, true);
	ASSERT_EQ(0, POLL(&x, ports, 1, 0));

	ports[0] = 100;
	ports[1] = 200;
	ports[2] = 5;
	ASSERT_EQ(0, POLL(&x, ports, 3, 0));

	/* Up to 128 ports. */
	for (i = 0; i < 127; i++)
		ports[i] = 1000 + i;
	ports[127] = 5;
	ASSERT_EQ(0, POLL(&x, ports, 128, 0));
	ASSERT_EQ(0, x.gs->irqs[0]);
	kvm_vm_free(x.vm);
}

/* The timeout is relative, in nanoseconds. */
TEST(poll_timeout)
{
	u32 ports[2] = { 7, 9 };
	struct xvm x;
	u64 t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);

	t0 = mono_ns();
	ASSERT_EQ(0, POLL(&x, ports, 1, 200 * MS));
	dt = mono_ns() - t0;
	ASSERT_LE(150 * MS, dt) TH_LOG("returned after %llu ns",
				       (unsigned long long)dt);

	t0 = mono_ns();
	ASSERT_EQ(0, POLL(&x, ports, 2, 100 * MS));
	dt = mono_ns() - t0;
	ASSERT_LE(70 * MS, dt) TH_LOG("returned after %llu ns",
				      (unsigned long long)dt);
	ASSERT_EQ(0, x.gs->irqs[0]);
	kvm_vm_free(x.vm);
}

TEST(poll_errors)
{
	u32 ports[2];
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);
	bit_set(x.shinfo->evtchn_pending, 5, true);

	/* More than 128 ports, whatever the array. */
	ports[0] = 5;
	ASSERT_EQ(-EINVAL, (s64)POLL_RAW(&x, put_poll(&x, arg_gva(OFF_PORTS),
						      129, 0)));
	ASSERT_EQ(-EINVAL, (s64)POLL_RAW(&x, put_poll(&x, UNMAPPED_GVA,
						      129, 0)));
	ASSERT_EQ(-EINVAL, (s64)POLL_RAW(&x, put_poll(&x, arg_gva(OFF_PORTS),
						      0xffffffff, 0)));

	/* Ports beyond the 2-level limit, even next to a pending one. */
	ports[0] = XEN_NR_PORTS_64;
	ASSERT_EQ(-EINVAL, (s64)POLL(&x, ports, 1, 0));
	ports[0] = 5;
	ports[1] = 5000;
	ASSERT_EQ(-EINVAL, (s64)POLL(&x, ports, 2, 0));

	/* Unreadable arguments. */
	ASSERT_EQ(-EFAULT, (s64)POLL_RAW(&x, put_poll(&x, UNMAPPED_GVA, 1,
						      0)));
	ASSERT_EQ(-EFAULT, (s64)POLL_RAW(&x, put_poll(&x, UNMAPPED_GVA, 2,
						      0)));
	ASSERT_EQ(-EFAULT, (s64)POLL_RAW(&x, UNMAPPED_GVA));

	/* Nothing stuck: a good poll still works. */
	ports[0] = 5;
	ASSERT_EQ(0, POLL(&x, ports, 1, 0));
	kvm_vm_free(x.vm);
}

/*
 * The ports array needs no alignment and may cross a page: each port is
 * read from exactly where the guest put it.
 */
TEST(poll_unaligned_ports)
{
	static const u8 trap[8] = { 5, 0, 0, 0, 0x10, 0, 0, 0 };
	u32 nine = 9;
	struct xvm x;
	u64 p;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);
	bit_set(x.shinfo->evtchn_pending, 5, true);
	bit_set(x.shinfo->evtchn_pending, 9, true);

	/* Unaligned, inside a page. */
	memcpy(arg_hva(&x, OFF_PORTS + 1), &nine, sizeof(nine));
	p = put_poll(&x, arg_gva(OFF_PORTS + 1), 1, 0);
	ASSERT_EQ(0, POLL_RAW(&x, p));

	/* Unaligned across the page boundary. */
	memcpy(arg_hva(&x, OFF_CROSS - 2), &nine, sizeof(nine));
	p = put_poll(&x, arg_gva(OFF_CROSS - 2), 1, 0);
	ASSERT_EQ(0, POLL_RAW(&x, p));

	/*
	 * The aligned word below holds pending port 5; the unaligned one
	 * reads 0x10000000, beyond the limit.
	 */
	memcpy(arg_hva(&x, OFF_CROSS - 4), trap, sizeof(trap));
	p = put_poll(&x, arg_gva(OFF_CROSS - 3), 1, 0);
	ASSERT_EQ(-EINVAL, (s64)POLL_RAW(&x, p));
	p = put_poll(&x, arg_gva(OFF_CROSS - 4), 1, 0);
	ASSERT_EQ(0, POLL_RAW(&x, p));
	kvm_vm_free(x.vm);
}

/* Without KVM_XEN_HVM_CONFIG_EVTCHN_SEND, SCHEDOP_poll is a yield. */
TEST(poll_without_evtchn_send_is_yield)
{
	u32 port = 7;
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, XVM_NO_EVTCHN_SEND);
	xnop(&x, 0);
	ASSERT_EQ(0, POLL(&x, &port, 1, 0));
	ASSERT_EQ(0, POLL_RAW(&x, UNMAPPED_GVA));
	ASSERT_EQ(0, POLL_RAW(&x, put_poll(&x, arg_gva(OFF_PORTS), 129, 0)));
	kvm_vm_free(x.vm);
}

/* Events sent from another thread, each after a delay. */
struct sender {
	struct kvm_vm *vm;
	unsigned int n;
	struct {
		unsigned int ms;
		u32 port;
	} ev[4];
	int err;
};

static void *sender_fn(void *arg)
{
	struct sender *s = arg;
	unsigned int i;
	int r;

	for (i = 0; i < s->n; i++) {
		usleep(s->ev[i].ms * 1000);
		r = xen_send(s->vm, s->ev[i].port, 0, PRIO_2L);
		if (r && !s->err)
			s->err = r;
	}
	return NULL;
}

static void start_sender(struct __test_metadata *_metadata,
			 pthread_t *t, struct sender *s)
{
	ASSERT_EQ(0, pthread_create(t, NULL, sender_fn, s));
}

/*
 * A masked event on the polled port ends the poll (a single-port poll is
 * not ended by other ports); so does one on any port of a multi-port poll.
 */
TEST(poll_woken_by_masked_event)
{
	struct sender s = { 0 };
	u32 ports[2] = { 7, 9 };
	pthread_t t;
	struct xvm x;
	u64 t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);
	x.shinfo->evtchn_mask[0] = ~0ull;

	s.vm = x.vm;
	s.n = 2;
	s.ev[0].ms = 100;
	s.ev[0].port = 8;
	s.ev[1].ms = 200;
	s.ev[1].port = 7;
	t0 = mono_ns();
	start_sender(_metadata, &t, &s);
	ASSERT_EQ(0, POLL(&x, ports, 1, 0));
	dt = mono_ns() - t0;
	pthread_join(t, NULL);
	ASSERT_EQ(0, s.err);
	ASSERT_LE(250 * MS, dt) TH_LOG("woken after %llu ns",
				       (unsigned long long)dt);
	ASSERT_EQ(1ull << 7 | 1ull << 8, x.shinfo->evtchn_pending[0]);

	x.shinfo->evtchn_pending[0] = 0;
	s.n = 1;
	s.ev[0].ms = 100;
	s.ev[0].port = 9;
	start_sender(_metadata, &t, &s);
	ASSERT_EQ(0, POLL(&x, ports, 2, 0));
	pthread_join(t, NULL);
	ASSERT_EQ(0, s.err);
	ASSERT_EQ(1ull << 9, x.shinfo->evtchn_pending[0]);
	ASSERT_EQ(0, x.gs->irqs[0]);
	kvm_vm_free(x.vm);
}

/* An unmasked event on another port: the upcall ends the poll. */
TEST(poll_woken_by_upcall)
{
	struct sender s = { 0 };
	u32 port = 7;
	pthread_t t;
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_create(&x, 1, 0);
	xnop(&x, 0);

	s.vm = x.vm;
	s.n = 1;
	s.ev[0].ms = 100;
	s.ev[0].port = PORT_UNMASKED_OTHER;
	start_sender(_metadata, &t, &s);
	ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_sched_op, SCHEDOP_poll,
				 put_poll(&x, put_ports(&x, OFF_PORTS, &port, 1),
					  1, 0), 0, 1));
	pthread_join(t, NULL);
	ASSERT_EQ(0, s.err);
	ASSERT_EQ(1, x.gs->irqs[0]);
	ASSERT_EQ(1, x.gs->sel[0]);
	ASSERT_EQ(0, bit_in(x.shinfo->evtchn_pending, 7));
	kvm_vm_free(x.vm);
}

/* The timer's event on a masked timer port ends a poll on that port. */
TEST(poll_woken_by_timer)
{
	u32 port = TPORT;
	struct xvm x;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_timer(_metadata, &x, 0);
	bit_set(x.shinfo->evtchn_mask, TPORT, true);

	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L,
				   kvmclock_ns(x.vm) + 100 * MS));
	ASSERT_EQ(0, POLL(&x, &port, 1, 0));
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, x.gs->irqs[0]);
	kvm_vm_free(x.vm);
}

/* ---- Single-shot timer -------------------------------------------------- */

#define VCPUOP(x, i, cmd, id, arg) \
	xhcall(x, i, XEN_HC_vcpu_op, cmd, id, arg)

TEST(singleshot_timer)
{
	struct xvm x;
	u64 now, t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_timer(_metadata, &x, 0);

	/* Armed: TIMER reads the deadline back. */
	now = kvmclock_ns(x.vm);
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 0,
			    put_oneshot(&x, now + 10000 * MS, 0)));
	ASSERT_EQ(now + 10000 * MS, timer_expiry(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_stop_singleshot_timer, 0, 0));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	/* Expiry: an event on the timer port. */
	now = kvmclock_ns(x.vm);
	t0 = mono_ns();
	ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_vcpu_op,
				 VCPUOP_set_singleshot_timer, 0,
				 put_oneshot(&x, now + 200 * MS, 0), 1));
	dt = mono_ns() - t0;
	ASSERT_LE(150 * MS, dt) TH_LOG("fired after %llu ns",
				       (unsigned long long)dt);
	ASSERT_EQ(1, x.gs->irqs[0]);
	ASSERT_EQ(1, x.gs->sel[0]);
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	/* Stopped before expiry: nothing. */
	bit_set(x.shinfo->evtchn_pending, TPORT, false);
	now = kvmclock_ns(x.vm);
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 0,
			    put_oneshot(&x, now + 200 * MS, 0)));
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_stop_singleshot_timer, 0, 0));
	usleep(300000);
	xnop(&x, 0);
	ASSERT_EQ(1, x.gs->irqs[0]);
	ASSERT_EQ(0, bit_in(x.shinfo->evtchn_pending, TPORT));

	/* Re-arming replaces the deadline; the future flag is fine. */
	now = kvmclock_ns(x.vm);
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 0,
			    put_oneshot(&x, now + 10000 * MS,
					VCPU_SSHOTTMR_future)));
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 0,
			    put_oneshot(&x, now + 20000 * MS, 0)));
	ASSERT_EQ(now + 20000 * MS, timer_expiry(_metadata, x.vcpu[0]));
	kvm_vm_free(x.vm);
}

TEST(singleshot_errors)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID };
	struct xvm x;
	u64 arg, now, r;

	if (xen_missing(CAPS_EVTCHN))
		return;

	/* Without a timer port, vcpu_op is userspace's. */
	xvm_create(&x, 1, 0);
	arg = put_oneshot(&x, 1, 0);
	xexit(&x, 0, XEN_HC_vcpu_op, VCPUOP_set_singleshot_timer, 0, arg);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	xexit(&x, 0, XEN_HC_vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	xexit(&x, 0, XEN_HC_set_timer_op, 1, 0, 0);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	kvm_vm_free(x.vm);

	xvm_timer(_metadata, &x, 0);
	now = kvmclock_ns(x.vm);
	arg = put_oneshot(&x, now + 10000 * MS, 0);

	/* The vCPU argument must be the caller's Xen vCPU id. */
	ASSERT_EQ(-EINVAL, (s64)VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 1,
				       arg));
	ASSERT_EQ(-EINVAL, (s64)VCPUOP(&x, 0, VCPUOP_stop_singleshot_timer,
				       1, 0));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
	a.u.vcpu_id = 3;
	ASSERT_EQ(0, xen_vcpu_set(x.vcpu[0], &a));
	ASSERT_EQ(-EINVAL, (s64)VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 0,
				       arg));
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 3, arg));
	ASSERT_EQ(now + 10000 * MS, timer_expiry(_metadata, x.vcpu[0]));
	ASSERT_EQ(-EINVAL, (s64)VCPUOP(&x, 0, VCPUOP_stop_singleshot_timer,
				       0, 0));
	ASSERT_EQ(now + 10000 * MS, timer_expiry(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, VCPUOP(&x, 0, VCPUOP_stop_singleshot_timer, 3, 0));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	ASSERT_EQ(-EFAULT, (s64)VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 3,
				       UNMAPPED_GVA));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	/*
	 * A deadline already past with VCPU_SSHOTTMR_future: -ETIME in 6.1;
	 * later kernels ignore the flag and the timer fires at once.
	 */
	arg = put_oneshot(&x, 1, VCPU_SSHOTTMR_future);
	if (!xen_after_6_1()) {
		r = VCPUOP(&x, 0, VCPUOP_set_singleshot_timer, 3, arg);
		ASSERT_EQ(-XEN_ETIME, (s64)r);
		ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
		xnop(&x, 0);
		ASSERT_EQ(0, x.gs->irqs[0]);
	} else {
		ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_vcpu_op,
					 VCPUOP_set_singleshot_timer, 3, arg,
					 1));
		ASSERT_EQ(1, x.gs->irqs[0]);
	}

	/* Other vcpu_op commands exit, timer port or not. */
	xexit(&x, 0, XEN_HC_vcpu_op, VCPUOP_stop_periodic_timer, 3, 0);
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	xexit(&x, 0, XEN_HC_vcpu_op, 10, 3, arg_gva(0));
	ASSERT_EQ(0, xfinish(&x, 0, 0));
	kvm_vm_free(x.vm);
}

/* ---- set_timer_op ------------------------------------------------------- */

#define SET_TIMER_OP(x, t) xhcall(x, 0, XEN_HC_set_timer_op, t, 0, 0)

TEST(set_timer_op)
{
	struct xvm x;
	u64 now, t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_timer(_metadata, &x, 0);

	now = kvmclock_ns(x.vm);
	ASSERT_EQ(0, SET_TIMER_OP(&x, now + 10000 * MS));
	ASSERT_EQ(now + 10000 * MS, timer_expiry(_metadata, x.vcpu[0]));
	/* 0 stops it. */
	ASSERT_EQ(0, SET_TIMER_OP(&x, 0));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
	xnop(&x, 0);
	ASSERT_EQ(0, x.gs->irqs[0]);

	now = kvmclock_ns(x.vm);
	t0 = mono_ns();
	ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_set_timer_op, now + 200 * MS,
				 0, 0, 1));
	dt = mono_ns() - t0;
	ASSERT_LE(150 * MS, dt) TH_LOG("fired after %llu ns",
				       (unsigned long long)dt);
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));
	ASSERT_EQ(1, x.gs->sel[0]);
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	/* A deadline in the past fires at once. */
	bit_set(x.shinfo->evtchn_pending, TPORT, false);
	ASSERT_EQ(0, xhcall_wait(&x, 0, XEN_HC_set_timer_op, 1, 0, 0, 2));
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
	kvm_vm_free(x.vm);
}

/*
 * Xen's workaround for Linux guests: a negative deadline, or one more
 * than 2^50 ns ahead, means 100 ms from now.
 */
TEST(set_timer_op_linux_workaround)
{
	static const u64 slack = 5 * MS;
	struct xvm x;
	u64 before, after, e;
	unsigned int i;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_timer(_metadata, &x, 0);

	for (i = 0; i < 3; i++) {
		u64 deadline;

		bit_set(x.shinfo->evtchn_pending, TPORT, false);
		before = kvmclock_ns(x.vm);
		if (i == 0)
			deadline = ~0ull;
		else if (i == 1)
			deadline = 1ull << 63;
		else
			deadline = before + (1ull << 50) + 5000 * MS;
		ASSERT_EQ(0, SET_TIMER_OP(&x, deadline));
		after = kvmclock_ns(x.vm);
		e = timer_expiry(_metadata, x.vcpu[0]);
		ASSERT_LE(before + 100 * MS - slack, e)
			TH_LOG("deadline %#llx: expiry %llu, before %llu",
			       (unsigned long long)deadline,
			       (unsigned long long)e,
			       (unsigned long long)before);
		ASSERT_GE(after + 100 * MS + slack, e)
			TH_LOG("deadline %#llx: expiry %llu, after %llu",
			       (unsigned long long)deadline,
			       (unsigned long long)e,
			       (unsigned long long)after);
		/* And it does fire. */
		xwait(&x, 0, i + 1);
		ASSERT_EQ(i + 1, x.gs->irqs[0]);
		ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));
	}

	/* Less than 2^50 ns ahead is taken as it is. */
	before = kvmclock_ns(x.vm);
	ASSERT_EQ(0, SET_TIMER_OP(&x, before + (1ull << 49)));
	ASSERT_EQ(before + (1ull << 49), timer_expiry(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, SET_TIMER_OP(&x, 0));
	kvm_vm_free(x.vm);
}

/* The TIMER attribute arms the same timer; a past expiry fires at once. */
TEST(timer_attr_fires)
{
	struct xvm x;
	u64 t0, dt;

	if (xen_missing(CAPS_EVTCHN))
		return;
	xvm_timer(_metadata, &x, 0);

	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L, 1));
	xwait(&x, 0, 1);
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));
	ASSERT_EQ(0, timer_expiry(_metadata, x.vcpu[0]));

	bit_set(x.shinfo->evtchn_pending, TPORT, false);
	t0 = mono_ns();
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L,
				   kvmclock_ns(x.vm) + 200 * MS));
	xwait(&x, 0, 2);
	dt = mono_ns() - t0;
	ASSERT_LE(150 * MS, dt);
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, TPORT));

	/* A new port: the timer's events go there. */
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], 70, PRIO_2L, 1));
	xwait(&x, 0, 3);
	ASSERT_EQ(1, bit_in(x.shinfo->evtchn_pending, 70));
	ASSERT_EQ(3, x.gs->sel[0]);
	kvm_vm_free(x.vm);
}

/* ---- VM destruction ----------------------------------------------------- */

/*
 * Set up everything that holds references or runs asynchronously: a timer
 * (expiring now, soon or much later), loopback and eventfd channels, an
 * event channel route with an irqfd, events in flight.
 */
static void arm_everything(struct __test_metadata *_metadata, struct xvm *x,
			   unsigned int i, int *efd)
{
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[1];
	} r;
	struct kvm_irqfd ifd;
	u64 now = kvmclock_ns(x->vm);
	u64 expiry[3] = { 1, now + 1 * MS, now + 10000 * MS };

	ASSERT_EQ(0, xen_set_timer(x->vcpu[0], TPORT, PRIO_2L,
				   expiry[i % 3]));
	ASSERT_EQ(0, xen_evtchn_port(x->vm, 0, 20, EVTCHNSTAT_ipi, 20, 0,
				     PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(x->vm, 0, 21, EVTCHNSTAT_interdomain, 22,
				     0, PRIO_2L));
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd[0]);
	ASSERT_LE(0, efd[1]);
	ASSERT_EQ(0, xen_evtchn_eventfd(x->vm, 23, efd[0]));

	memset(&r, 0, sizeof(r));
	r.info.nr = 1;
	r.e[0].gsi = 40;
	r.e[0].type = KVM_IRQ_ROUTING_XEN_EVTCHN;
	r.e[0].u.xen_evtchn.port = 9;
	r.e[0].u.xen_evtchn.vcpu = 0;
	r.e[0].u.xen_evtchn.priority = PRIO_2L;
	ASSERT_EQ(0, ioctl_err(x->vm->fd, KVM_SET_GSI_ROUTING, &r.info));
	memset(&ifd, 0, sizeof(ifd));
	ifd.fd = efd[1];
	ifd.gsi = 40;
	ASSERT_EQ(0, ioctl_err(x->vm->fd, KVM_IRQFD, &ifd));
	ASSERT_EQ(0, xen_evtchn_eventfd(x->vm, 24, efd[1]));
}

/*
 * A Xen VM without guest code (cheaper to make than xvm_create()'s): an
 * in-kernel irqchip, one vCPU with its vcpu_info, shared_info.
 */
static void bare_xvm(struct __test_metadata *_metadata, struct xvm *x)
{
	memset(x, 0, sizeof(*x));
	x->nr_vcpus = 1;
	x->vm = vm_create_barebones();
	vm_create_irqchip(x->vm);
	vm_userspace_mem_region_add(x->vm, VM_MEM_SRC_ANONYMOUS, XR_GPA,
				    XR_SLOT, XR_PAGES, 0);
	x->region = addr_gpa2hva(x->vm, XR_GPA);
	x->shinfo = (void *)x->region;
	x->vcpu[0] = __vm_vcpu_add(x->vm, 0);
	ASSERT_EQ(0, xen_config_simple(x->vm,
				       KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
				       KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_long_mode(x->vm, 1));
	ASSERT_EQ(0, xen_set_shinfo(x->vm, SHINFO_GFN));
	ASSERT_EQ(0, xen_set_vector(x->vm, UPCALL_VECTOR));
	ASSERT_EQ(0, xen_vcpu_set_gpa(x->vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      SHINFO_GPA));
}

/* VMs @first.. @first + @n - 1: set up, perhaps run, destroy. */
static void destroy_loop(struct __test_metadata *_metadata,
			 unsigned int first, unsigned int n)
{
	unsigned int i;
	int efd[2];
	struct xvm x;

	for (i = first; i < first + n; i++) {
		bool guest = i % 5 == 1;

		if (guest)
			xvm_create(&x, 1, i % 10 == 6 ? XVM_VCPU_VECTOR : 0);
		else
			bare_xvm(_metadata, &x);
		arm_everything(_metadata, &x, i, efd);
		if (guest) {
			xnop(&x, 0);
			ASSERT_EQ(0, SET_TIMER_OP(&x, kvmclock_ns(x.vm) +
						  (i % 3) * MS));
			ASSERT_EQ(0, xhcall(&x, 0, XEN_HC_event_channel_op,
					    EVTCHNOP_send,
					    put_evtchn_send(&x, 0, 24), 0));
		}
		ASSERT_EQ(0, xen_send(x.vm, 30, 0, PRIO_2L));
		ASSERT_EQ(0, eventfd_write(efd[1], 1));
		if (i % 5 == 0) {
			close(efd[0]);
			close(efd[1]);
		}
		kvm_vm_free(x.vm);
		if (i % 5) {
			close(efd[0]);
			close(efd[1]);
		}
	}
}

/*
 * 50 VMs destroyed with all that armed, by two processes at once; every
 * fifth VM runs its guest, which arms the timer itself.
 */
TEST(destroy_with_timer_and_ports)
{
	pid_t pid[2];
	int w, status;

	if (xen_missing(CAPS_EVTCHN))
		return;

	for (w = 0; w < 2; w++) {
		pid[w] = fork();
		ASSERT_LE(0, pid[w]);
		if (!pid[w]) {
			destroy_loop(_metadata, w * 25, 25);
			_exit(0);
		}
	}
	for (w = 0; w < 2; w++) {
		ASSERT_EQ(pid[w], waitpid(pid[w], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("VMs %d to %d", w * 25, w * 25 + 24);
	}
}

/*
 * A process killed while its vCPU waits in SCHEDOP_poll, with the timer
 * armed and channels set up: the VM goes away with the process.
 */
TEST(kill_while_polling)
{
	unsigned int i;

	if (xen_missing(CAPS_EVTCHN))
		return;

	for (i = 0; i < 3; i++) {
		struct pollfd pfd;
		int p[2], status;
		char c = 0;
		pid_t pid;

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			u32 port = 7;
			int efd[2];
			struct xvm x;

			close(p[0]);
			xvm_create(&x, 1, 0);
			arm_everything(_metadata, &x, 2, efd);
			xnop(&x, 0);
			xcmd(&x, 0, GOP_HCALL, XEN_HC_sched_op, SCHEDOP_poll,
			     put_poll(&x, put_ports(&x, OFF_PORTS, &port, 1),
				      1, 0), 0, 0);
			if (write(p[1], "R", 1) != 1)
				_exit(1);
			run_limited(x.vcpu[0], 60000);
			_exit(2);
		}
		close(p[1]);
		pfd.fd = p[0];
		pfd.events = POLLIN;
		ASSERT_EQ(1, poll(&pfd, 1, 30000));
		ASSERT_EQ(1, read(p[0], &c, 1));
		ASSERT_EQ('R', c);
		close(p[0]);
		usleep(100000 + i * 50000);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(SIGKILL, WTERMSIG(status));
	}
}

/*
 * A VMM that dies with its fds open loses its address space in
 * exit_mmap() before kvm.ko destroys the VM, and with it the pages that
 * shared_info and vcpu_info live in.  A timer that fires, or an irqfd
 * that another process signals, in between must not write into them
 * (they may belong to someone else by then).  On a KASAN host that is a
 * use-after-free report; here the run must simply leave no trace.
 *
 * The child maps @pad_mb of populated memory after the Xen pages so that
 * freeing it keeps the window open, arms the timer @delay_us ahead, and
 * exits without closing anything while the parent keeps signalling the
 * routed eventfd it shares.
 */
static void die_with_timer_armed(struct __test_metadata *_metadata,
				 unsigned int delay_us, unsigned int pad_mb,
				 int efd)
{
	struct {
		struct kvm_irq_routing info;
		struct kvm_irq_routing_entry e[1];
	} r;
	struct kvm_irqfd ifd = { .fd = efd, .gsi = 41 };
	struct xvm x;
	u8 *pad;

	bare_xvm(_metadata, &x);
	pad = mmap(NULL, pad_mb << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, pad);
	memset(&r, 0, sizeof(r));
	r.info.nr = 1;
	r.e[0].gsi = 41;
	r.e[0].type = KVM_IRQ_ROUTING_XEN_EVTCHN;
	r.e[0].u.xen_evtchn.port = 11;
	r.e[0].u.xen_evtchn.priority = PRIO_2L;
	ASSERT_EQ(0, ioctl_err(x.vm->fd, KVM_SET_GSI_ROUTING, &r.info));
	ASSERT_EQ(0, ioctl_err(x.vm->fd, KVM_IRQFD, &ifd));
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], TPORT, PRIO_2L,
				   kvmclock_ns(x.vm) + delay_us * 1000ull));
	_exit(0);
}

TEST(vmm_dies_with_timer_and_irqfd_armed)
{
	unsigned int i;

	if (xen_missing(CAPS_EVTCHN))
		return;

	for (i = 0; i < 24; i++) {
		int efd = eventfd(0, EFD_NONBLOCK);
		int status;
		pid_t pid;

		ASSERT_LE(0, efd);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			die_with_timer_armed(_metadata, (i % 8) * 500,
					     8 + (i % 3) * 8, efd);
		/* Signal the irqfd until the child is gone. */
		while (waitpid(pid, &status, WNOHANG) == 0) {
			ASSERT_EQ(0, eventfd_write(efd, 1));
			usleep(50);
		}
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
		close(efd);
	}
}

TEST_HARNESS_MAIN
