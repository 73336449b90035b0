// SPDX-License-Identifier: GPL-2.0
/*
 * xen_fuzz_domains: Xen domains talking to each other while they come
 * and go.
 *
 * DOM_SLOTS VMs of two vCPUs each; every vCPU has a thread that makes
 * random event channel and grant table hypercalls naming the other
 * domains (live ones, dead ones, unknown IDs, DOMID_SELF, DOMID_QEMU) and
 * random ports and references: EVTCHNOP_alloc_unbound, bind_interdomain,
 * send, close, status, bind_vcpu, reset, and GNTTABOP_copy in every
 * direction with random offsets and lengths.  The thread answers the
 * exits as QEMU would, from a model of the VM's port table (so the
 * kernel's disguised allocations really come out of it).  Meanwhile the
 * main thread destroys and recreates VMs, resets a VM's ports through
 * KVM_XEN_EVTCHN_RESET and tries to renumber domains.
 *
 * What must hold: no kernel report (the test host fails the run on any),
 * no hang (the watchdog), results only among those Xen could give, a
 * successful copy from a read-only grant delivers the granter's bytes,
 * a grant to another domain never succeeds, and a copy that must succeed
 * (the granter pinned alive, the grant naming the copier, in bounds)
 * does.
 *
 * Environment: FUZZ_SEED, FUZZ_HCALLS (operations, default 20000),
 * FUZZ_TIMEOUT, FUZZ_STALL.
 */
#include "persona_fuzz.h"

#define DOM_SLOTS		3
#define DOM_VCPUS		2
#define ATTR_DOMID		KVM_XEN_ATTR_TYPE_PERSONA_DOMID

/*
 * Region pages (persona_xen.h): 0 shared_info, 3 arguments (vCPU i at
 * i * 0x800), 4 copy ops, 5 and 1 the vCPUs' copy pages, 6 grant frame 0,
 * 7 the page read-only grants give, 2 the page writable ones give.
 */
#define OPS_GPA		(XR_GPA + 0x4000)
/* Each vCPU's own copy page: 5 for vCPU 0, 1 for vCPU 1. */
#define LOCAL_GPA(i)	(XR_GPA + ((i) ? 0x1000 : 0x5000))
#define FRAME_GPA	(XR_GPA + 0x6000)
#define RO_GPA		(XR_GPA + 0x7000)
#define RW_GPA		(XR_GPA + 0x2000)
#define NR_REFS		16	/* 0-7 read-only, 8-15 writable */

struct dvm {
	struct xvm x;
	u16 id;
	bool up;		/* created and not destroyed: under @alive */
	u16 pat;		/* the ID its read-only page was filled for */
	u16 grantee[NR_REFS];	/* whom each reference names */
	pthread_t thr[DOM_VCPUS];
	int stop;
	/*
	 * Held for reading by copies that need this VM alive and its ID
	 * steady (as granter or as copier), for writing to destroy or
	 * renumber it.
	 */
	pthread_rwlock_t alive;
	/* The model of the VMM's port table. */
	pthread_mutex_t qlock;
	u64 ports[XEN_NR_PORTS_64 / 64];
	/* Ports this VM offered to another domain: port, domain. */
	u32 offers[16][2];
};

static struct dvm dom[DOM_SLOTS];
static u64 dom_ops, dom_copies_ok, dom_binds_ok, dom_churn;
static u64 dom_target;

/* The byte a read-only grant of domain @id shows at @off. */
static u8 dom_pattern(u16 id, unsigned int off)
{
	return (u8)(id * 31 + off * 7);
}

/* ---- The VMM's part, as QEMU does it ----------------------------------- */

static u32 q_alloc(struct dvm *d)
{
	u32 p;

	pthread_mutex_lock(&d->qlock);
	for (p = 1; p < XEN_NR_PORTS_64; p++)
		if (!(d->ports[p / 64] & BIT_ULL(p % 64))) {
			d->ports[p / 64] |= BIT_ULL(p % 64);
			break;
		}
	pthread_mutex_unlock(&d->qlock);
	return p < XEN_NR_PORTS_64 ? p : 0;
}

static bool q_has(struct dvm *d, u32 p, bool free_it)
{
	bool r;

	if (p >= XEN_NR_PORTS_64)
		return false;
	pthread_mutex_lock(&d->qlock);
	r = d->ports[p / 64] & BIT_ULL(p % 64);
	if (free_it)
		d->ports[p / 64] &= ~BIT_ULL(p % 64);
	pthread_mutex_unlock(&d->qlock);
	return r;
}

static void q_reset(struct dvm *d)
{
	pthread_mutex_lock(&d->qlock);
	memset(d->ports, 0, sizeof(d->ports));
	pthread_mutex_unlock(&d->qlock);
}

static void *q_arg(struct dvm *d, u64 gva, size_t len)
{
	if (gva < XR_GPA || gva + len > XR_GPA + XR_PAGES * 4096ull)
		return NULL;
	return xr(&d->x, gva);
}

static s64 q_evtchn(struct dvm *d, u64 cmd, u64 gva)
{
	struct xen_alloc_unbound *a = q_arg(d, gva, sizeof(*a));
	u32 *port = q_arg(d, gva, 4);
	u32 p;

	if (!port)
		return -14;
	switch (cmd) {
	case EVTCHNOP_alloc_unbound:
		if (a->dom != DOMID_SELF ||
		    (a->remote_dom != DOMID_QEMU && a->remote_dom != DOMID_SELF))
			return -1;
		p = q_alloc(d);
		if (!p)
			return -28;
		a->port = p;
		return 0;
	case EVTCHNOP_bind_interdomain:
		return -3;
	case EVTCHNOP_close:
		return q_has(d, *port, true) ? 0 : -22;
	case EVTCHNOP_reset:
		q_reset(d);
		return 0;
	case EVTCHNOP_send:
	case EVTCHNOP_status:
	case EVTCHNOP_bind_vcpu:
		return q_has(d, cmd == EVTCHNOP_status ? port[1] : *port,
			     false) ? 0 : -22;
	}
	return -38;
}

/* Run vCPU @i to its report, answering exits; false if told to stop. */
static void dom_run(struct dvm *d, unsigned int i)
{
	struct kvm_vcpu *vcpu = d->x.vcpu[i];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	s64 res;

	for (;;) {
		int r = ioctl(vcpu->fd, KVM_RUN, NULL);

		if (r && errno == EINTR)
			continue;
		if (r)
			fz_fail("slot %ld vCPU %u: KVM_RUN: %s",
				(long)(d - dom), i, strerror(errno));
		if (run->exit_reason == KVM_EXIT_XEN) {
			__u64 *pa = run->xen.u.hcall.params;

			switch (run->xen.u.hcall.input) {
			case XEN_HC_event_channel_op:
				res = q_evtchn(d, pa[0], pa[1]);
				break;
			case XEN_HC_memory_op:
				res = 0;
				break;
			default:
				res = -38;
			}
			run->xen.u.hcall.result = res;
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO)
			fz_fail("slot %ld vCPU %u: exit %u", (long)(d - dom), i,
				run->exit_reason);
		memset(&uc, 0, sizeof(uc));
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			return;
		case UCALL_ABORT:
			fz_fail("guest: %s", (const char *)uc.args[0]);
		default:
			fz_fail("guest: unexpected ucall");
		}
	}
}

static s64 dom_hcall(struct dvm *d, unsigned int i, u64 nr, u64 a0, u64 a1,
		     u64 a2)
{
	xcmd(&d->x, i, GOP_HCALL, nr, a0, a1, a2, 0);
	dom_run(d, i);
	return (s64)d->x.gs->cmd[i].result;
}

/* ---- The operations ----------------------------------------------------- */

/* A domain ID worth naming: live ones mostly, the odd ones too. */
static u16 dom_pick_id(struct fz_rng *r)
{
	static const u16 odd[] = { DOMID_SELF, DOMID_QEMU, 0x7000, 0x7fef,
				   0x7ff1, 0xffff };

	if (fz_chance(r, 85))
		return READ_ONCE(dom[fz_below(r, DOM_SLOTS)].id);
	return odd[fz_below(r, ARRAY_SIZE(odd))];
}

static u32 dom_pick_port(struct fz_rng *r, struct dvm *d)
{
	if (fz_chance(r, 70))
		return d->offers[fz_below(r, 16)][0] ?: 1;
	return fz_below(r, 40);
}

static void dom_evtchn_op(struct fz_rng *r, struct dvm *d, unsigned int i)
{
	u64 gva = ARG_GPA + i * 0x800;
	u8 *arg = xr(&d->x, gva);
	u32 cmd, k;
	u64 seq;
	s64 res;

	memset(arg, 0, 64);
	switch (fz_below(r, 8)) {
	case 0: {
		struct xen_alloc_unbound *a = (void *)arg;

		cmd = EVTCHNOP_alloc_unbound;
		a->dom = fz_chance(r, 95) ? DOMID_SELF : dom_pick_id(r);
		a->remote_dom = dom_pick_id(r);
		break;
	}
	case 1: {
		struct xen_bind_interdomain *b = (void *)arg;
		struct dvm *o = &dom[fz_below(r, DOM_SLOTS)];

		cmd = EVTCHNOP_bind_interdomain;
		k = fz_below(r, 16);
		b->remote_dom = fz_chance(r, 90) ? READ_ONCE(o->id) :
						    dom_pick_id(r);
		b->remote_port = fz_chance(r, 80) ? READ_ONCE(o->offers[k][0]) :
						     fz_below(r, 40);
		break;
	}
	case 2:
	case 3:
		cmd = EVTCHNOP_send;
		*(u32 *)arg = dom_pick_port(r, d);
		break;
	case 4:
		cmd = EVTCHNOP_close;
		*(u32 *)arg = dom_pick_port(r, d);
		break;
	case 5:
		cmd = EVTCHNOP_status;
		*(u16 *)arg = fz_chance(r, 90) ? DOMID_SELF : dom_pick_id(r);
		*(u32 *)(arg + 4) = dom_pick_port(r, d);
		break;
	case 6:
		cmd = EVTCHNOP_bind_vcpu;
		*(u32 *)arg = dom_pick_port(r, d);
		*(u32 *)(arg + 4) = fz_below(r, 3);
		break;
	default:
		if (!fz_chance(r, 5))
			return;
		cmd = EVTCHNOP_reset;
		*(u16 *)arg = DOMID_SELF;
		break;
	}

	seq = fz_begin("evtchn", d->id, cmd, *(u64 *)arg, i);
	res = dom_hcall(d, i, XEN_HC_event_channel_op, cmd, gva, 0);
	fz_end(seq, res);
	/* Xen's errors, or the VMM model's. */
	if (res && res != -1 && res != -3 && res != -14 && res != -22 &&
	    res != -28 && res != -38)
		fz_fail("EVTCHNOP %u: result %lld", cmd, (long long)res);

	if (res)
		return;
	if (cmd == EVTCHNOP_alloc_unbound) {
		struct xen_alloc_unbound *a = (void *)arg;

			/* (Another vCPU may have closed it since: no model check.) */
		if (!a->port || a->port >= XEN_NR_PORTS_64)
			fz_fail("alloc_unbound gave port %u", a->port);
		k = fz_below(r, 16);
		d->offers[k][1] = a->remote_dom;
		WRITE_ONCE(d->offers[k][0], a->port);
	} else if (cmd == EVTCHNOP_bind_interdomain) {
		struct xen_bind_interdomain *b = (void *)arg;

		if (!b->local_port || b->local_port >= XEN_NR_PORTS_64)
			fz_fail("bind_interdomain gave port %u", b->local_port);
		__atomic_add_fetch(&dom_binds_ok, 1, __ATOMIC_RELAXED);
		WRITE_ONCE(d->offers[fz_below(r, 16)][0], b->local_port);
	}
}

static void dom_copy_op(struct fz_rng *r, struct dvm *d, unsigned int i)
{
	struct xen_gnttab_copy *op = xr(&d->x, OPS_GPA + i * 0x400);
	unsigned int slot = fz_below(r, DOM_SLOTS);
	struct dvm *g = &dom[slot];
	bool pinned = fz_chance(r, 50), strict = false, rd;
	u16 ref = fz_below(r, NR_REFS + 2), gid;
	u8 *local = xr(&d->x, LOCAL_GPA(i));
	unsigned int k;
	u64 seq;
	s64 res;

	/* Our own ID must not change under the checks below. */
	pthread_rwlock_rdlock(&d->alive);
	if (pinned)
		pthread_rwlock_rdlock(&g->alive);
	gid = READ_ONCE(g->id);

	rd = fz_chance(r, 60);
	memset(op, 0, sizeof(*op));
	op->len = fz_chance(r, 80) ? fz_below(r, 257) : fz_below(r, 4200);
	op->status = 0x55;
	if (rd) {
		op->flags = 1;
		op->source = (struct xen_copy_ptr){ ref, gid, fz_below(r, 4096) };
		op->dest = (struct xen_copy_ptr){ LOCAL_GPA(i) >> 12, DOMID_SELF,
					      fz_below(r, 4096) };
	} else {
		op->flags = 2;
		op->source = (struct xen_copy_ptr){ LOCAL_GPA(i) >> 12, DOMID_SELF,
						fz_below(r, 4096) };
		op->dest = (struct xen_copy_ptr){ ref, gid, fz_below(r, 4096) };
	}
	if (fz_chance(r, 5))
		op->flags ^= fz_below(r, 4);
	if (fz_chance(r, 5))
		op->source.domid = dom_pick_id(r);

	/* What Xen must do with it, when the granter cannot die meanwhile. */
	if (pinned && g->up && ref < NR_REFS && op->flags == (rd ? 1 : 2) &&
	    op->source.offset + op->len <= 4096 &&
	    op->dest.offset + op->len <= 4096 &&
	    g->grantee[ref] == d->id && (rd || ref >= 8) &&
	    op->source.domid == (rd ? gid : DOMID_SELF))
		strict = true;

	seq = fz_begin("copy", gid, ref, op->flags, op->len);
	res = dom_hcall(d, i, XEN_HC_grant_table_op, GNTTABOP_copy,
			OPS_GPA + i * 0x400, 1);
	fz_end(seq, res);
	if (res)
		fz_fail("GNTTABOP_copy: result %lld", (long long)res);
	if (op->status > 0 || op->status < -10)
		fz_fail("GNTTABOP_copy: status %d", op->status);
	if (strict && op->status)
		fz_fail("copy %s d%u ref %u (to d%u) by d%u: %d (%u %#llx/%u/%u %#llx/%u/%u %u)",
			rd ? "from" : "to", gid, ref, g->grantee[ref], d->id,
			op->status, op->flags,
			(unsigned long long)op->source.u, op->source.domid,
			op->source.offset, (unsigned long long)op->dest.u,
			op->dest.domid, op->dest.offset, op->len);
	if (!op->status && op->flags == (rd ? 1 : 2) && ref < NR_REFS &&
	    op->source.domid == gid && gid != d->id &&
	    g->grantee[ref] != d->id && pinned && g->up)
		fz_fail("copy of d%u ref %u granted to d%u succeeded for d%u",
			gid, ref, g->grantee[ref], d->id);
	if (!op->status && rd && op->flags == 1 && ref < 8 &&
	    op->source.domid == gid && pinned && g->up) {
		for (k = 0; k < op->len; k++)
			if (local[op->dest.offset + k] !=
			    dom_pattern(g->pat, op->source.offset + k))
				fz_fail("copy from d%u ref %u: byte %u wrong",
					gid, ref, k);
	}
	if (!op->status)
		__atomic_add_fetch(&dom_copies_ok, 1, __ATOMIC_RELAXED);
	if (pinned)
		pthread_rwlock_unlock(&g->alive);
	pthread_rwlock_unlock(&d->alive);
}

struct dom_thread {
	struct dvm *d;
	unsigned int i;
	u64 stream;
};

static void *dom_vcpu_thread(void *arg)
{
	struct dom_thread *t = arg;
	struct fz_rng r;

	fz_rng_init(&r, t->stream);
	while (!READ_ONCE(t->d->stop) &&
	       __atomic_load_n(&dom_ops, __ATOMIC_RELAXED) < dom_target) {
		if (fz_chance(&r, 55))
			dom_evtchn_op(&r, t->d, t->i);
		else
			dom_copy_op(&r, t->d, t->i);
		__atomic_add_fetch(&dom_ops, 1, __ATOMIC_RELAXED);
	}
	free(t);
	return NULL;
}

/* ---- VMs coming and going ------------------------------------------------ */

static void dom_create(struct __test_metadata *_metadata, struct dvm *d,
		       struct fz_rng *r, u64 stream)
{
	struct kvm_xen_hvm_attr a = { .type = ATTR_DOMID };
	struct xen_grant_entry *ge;
	unsigned int i, k;
	u64 *xatp;

	memset(d->offers, 0, sizeof(d->offers));
	q_reset(d);
	xvm_create(&d->x, DOM_VCPUS, 0);
	ASSERT_EQ(0, xen_get_attr(d->x.vm, &a));
	d->id = a.u.pad[0];

	/* Grant frame 0, placed through the VMM as a guest would. */
	xatp = arg_hva(&d->x, 0);
	xatp[0] = DOMID_SELF | (1ull << 32);	/* domid, size, space 1 */
	xatp[1] = 0;
	xatp[2] = FRAME_GPA >> 12;
	ASSERT_EQ(0, dom_hcall(d, 0, XEN_HC_memory_op, 7, arg_gva(0), 0));

	ge = xr(&d->x, FRAME_GPA);
	for (k = 0; k < NR_REFS; k++) {
		d->grantee[k] = fz_chance(r, 80) ?
			READ_ONCE(dom[fz_below(r, DOM_SLOTS)].id) : d->id;
		ge[k] = (struct xen_grant_entry){
			.flags = GTF_permit_access | (k < 8 ? GTF_readonly : 0),
			.domid = d->grantee[k],
			.frame = (k < 8 ? RO_GPA : RW_GPA) >> 12,
		};
	}
	for (k = 0; k < 4096; k++)
		((u8 *)xr(&d->x, RO_GPA))[k] = dom_pattern(d->id, k);
	d->pat = d->id;

	pthread_rwlock_wrlock(&d->alive);
	d->up = true;
	pthread_rwlock_unlock(&d->alive);
	d->stop = 0;
	for (i = 0; i < DOM_VCPUS; i++) {
		struct dom_thread *t = malloc(sizeof(*t));

		*t = (struct dom_thread){ d, i, stream * 4 + i };
		ASSERT_EQ(0, pthread_create(&d->thr[i], NULL, dom_vcpu_thread,
					    t));
	}
}

static void dom_destroy(struct dvm *d)
{
	unsigned int i;

	WRITE_ONCE(d->stop, 1);
	for (i = 0; i < DOM_VCPUS; i++)
		pthread_join(d->thr[i], NULL);
	pthread_rwlock_wrlock(&d->alive);
	d->up = false;
	kvm_vm_free(d->x.vm);
	d->x.vm = NULL;
	pthread_rwlock_unlock(&d->alive);
}

TEST(fuzz_domains)
{
	struct kvm_xen_hvm_attr a = { .type = ATTR_DOMID };
	struct fz_rng r;
	unsigned int s;
	u64 stream = 1;
	long res;

	if (xen_missing(CAPS_EVTCHN))
		return;
	{
		struct kvm_vm *vm = vm_create_barebones();

		res = xen_get_attr(vm, &a);
		kvm_vm_free(vm);
		if (res == -ENOENT)
			SKIP(return, "no domain IDs: not kvm-persona");
	}

	fz_seed_init();
	fz_ring_init();
	fz_rng_init(&r, 0);
	dom_target = fz_env("FUZZ_HCALLS", 20000);
	fz_watchdog_start("fuzz_domains", fz_env("FUZZ_TIMEOUT", 600),
			  fz_env("FUZZ_STALL", 60));
	fz_debugfs_reader_start();

	for (s = 0; s < DOM_SLOTS; s++) {
		pthread_rwlock_init(&dom[s].alive, NULL);
		pthread_mutex_init(&dom[s].qlock, NULL);
	}
	/* IDs first, so that the first grants can name each other. */
	for (s = 0; s < DOM_SLOTS; s++)
		dom_create(_metadata, &dom[s], &r, stream++);

	while (__atomic_load_n(&dom_ops, __ATOMIC_RELAXED) < dom_target) {
		struct dvm *d = &dom[fz_below(&r, DOM_SLOTS)];
		u64 seq;

		usleep(2000 + fz_below(&r, 30000));
		switch (fz_below(&r, 4)) {
		case 0:
			seq = fz_begin("churn", d->id, 0, 0, 0);
			dom_destroy(d);
			dom_create(_metadata, d, &r, stream++);
			__atomic_add_fetch(&dom_churn, 1, __ATOMIC_RELAXED);
			fz_end(seq, d->id);
			break;
		case 1:
			res = xen_evtchn_flags(d->x.vm, KVM_XEN_EVTCHN_RESET, 0);
			fz_check_eq(res, 0, "KVM_XEN_EVTCHN_RESET");
			break;
		case 2:
			a.u.pad[0] = dom_pick_id(&r);
			pthread_rwlock_wrlock(&d->alive);
			res = xen_set_attr(d->x.vm, &a);
			fz_check(res, FZ_ERRS(EBUSY, EEXIST, EINVAL),
				 "set domain ID %llu",
				 (unsigned long long)a.u.pad[0]);
			if (!res)
				WRITE_ONCE(d->id, a.u.pad[0]);
			pthread_rwlock_unlock(&d->alive);
			break;
		default:
			break;
		}
	}
	for (s = 0; s < DOM_SLOTS; s++)
		dom_destroy(&dom[s]);

	printf("# fuzz_domains: ops=%llu binds=%llu copies_ok=%llu churn=%llu seed=%llu\n",
	       (unsigned long long)dom_ops, (unsigned long long)dom_binds_ok,
	       (unsigned long long)dom_copies_ok,
	       (unsigned long long)dom_churn, (unsigned long long)fz_seed);
	printf("# debugfs files read meanwhile: %llu\n",
	       (unsigned long long)fz_debugfs_reads);
}

TEST_HARNESS_MAIN
