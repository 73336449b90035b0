// SPDX-License-Identifier: GPL-2.0
/*
 * The shared_info milestone's attributes, with upstream 6.1 semantics
 * (arch/x86/kvm/xen.c: kvm_xen_hvm_set_attr(), kvm_xen_hvm_get_attr(),
 * kvm_xen_vcpu_set_attr(), kvm_xen_vcpu_get_attr(), kvm_xen_setattr_evtchn()
 * and kvm_xen_shared_info_init()):
 *
 *  - VM: SHARED_INFO (and the wallclock it writes), UPCALL_VECTOR, EVTCHN;
 *  - vCPU: VCPU_INFO, VCPU_TIME_INFO (and the pvclocks KVM keeps there),
 *    RUNSTATE_ADDR/CURRENT/DATA/ADJUST (and the runstate area), VCPU_ID,
 *    TIMER, UPCALL_VECTOR, unknown types;
 *  - every attribute saved from one VM and restored into another.
 *
 * Where later upstream kernels differ, a kernel that advertises post-6.1
 * KVM_CAP_XEN_HVM flags is held to the later behaviour (xen_after_6_1()).
 */
#include "persona_xen.h"

/* A VM that never runs guest code, with the test region as a memslot. */
struct bvm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[2];
	u8 *region;
};

static void __bvm_create(struct __test_metadata *_metadata, struct bvm *b,
			 unsigned int nr_vcpus, bool config)
{
	u32 flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
	unsigned int i;

	memset(b, 0, sizeof(*b));
	b->vm = vm_create_barebones();
	vm_userspace_mem_region_add(b->vm, VM_MEM_SRC_ANONYMOUS, XR_GPA,
				    XR_SLOT, XR_PAGES, 0);
	b->region = addr_gpa2hva(b->vm, XR_GPA);
	memset(b->region, 0, XR_PAGES * 4096);
	for (i = 0; i < nr_vcpus; i++)
		b->vcpu[i] = __vm_vcpu_add(b->vm, i);
	if (!config)
		return;
	if (xen_caps() & CAP_SEND)
		flags |= KVM_XEN_HVM_CONFIG_EVTCHN_SEND;
	ASSERT_EQ(0, xen_config_simple(b->vm, flags, XEN_HCALL_MSR));
}

#define bvm_create(b, n) __bvm_create(_metadata, b, n, true)

static u8 *bvm_page(struct bvm *b, u64 gpa)
{
	return b->region + (gpa - XR_GPA);
}

/* ---- SHARED_INFO -------------------------------------------------------- */

TEST(shinfo_gfn_round_trip)
{
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 1);

	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	ASSERT_EQ(SHINFO_GFN, xen_get_shinfo(b.vm));

	/* Moving it is a plain SET. */
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO2_GPA >> 12));
	ASSERT_EQ(SHINFO2_GPA >> 12, xen_get_shinfo(b.vm));

	/* The invalid gfn unmaps it, as often as asked. */
	ASSERT_EQ(0, xen_set_shinfo(b.vm, XEN_INVALID_GFN));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));
	ASSERT_EQ(0, xen_set_shinfo(b.vm, XEN_INVALID_GFN));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));

	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	ASSERT_EQ(SHINFO_GFN, xen_get_shinfo(b.vm));
	kvm_vm_free(b.vm);
}

/*
 * A gfn outside every memslot: the pfn cache cannot resolve it, -EFAULT.
 * (What GET returns after a failed SET is an artefact of the pfn cache,
 * not asserted.)
 */
TEST(shinfo_unbacked_gfn)
{
	static const u64 gfns[] = {
		UNBACKED_GPA >> 12,
		(XR_GPA >> 12) + XR_PAGES,
		(XR_GPA >> 12) - 1,
		1ull << 30,
	};
	unsigned int i;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 1);

	for (i = 0; i < ARRAY_SIZE(gfns); i++) {
		ASSERT_EQ(-EFAULT, xen_set_shinfo(b.vm, gfns[i]))
			TH_LOG("gfn %#llx", (unsigned long long)gfns[i]);
	}
	ASSERT_EQ(0, xen_set_shinfo(b.vm, XEN_INVALID_GFN));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	ASSERT_EQ(SHINFO_GFN, xen_get_shinfo(b.vm));
	kvm_vm_free(b.vm);
}

static u64 ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ull + ts->tv_nsec;
}

/*
 * SHARED_INFO writes the wallclock (the realtime at which kvmclock was 0,
 * i.e. about when the VM was created) at 0xc00 (version, sec, nsec) and
 * the high half of the seconds at 0xc0c, or at 0x900 and 0x924 with
 * LONG_MODE 0, bumping the version to the next even value past an odd
 * one; nothing else in the page changes.
 */
static void check_wallclock(struct __test_metadata *_metadata, bool lm)
{
	u32 wc_off = lm ? XEN_SHINFO_WC : XEN_SHINFO32_WC;
	u32 hi_off = lm ? XEN_SHINFO_WC_SEC_HI : XEN_SHINFO32_WC_SEC_HI;
	struct timespec before, after;
	struct xen_wallclock wc;
	u32 hi, version;
	u64 wall;
	struct bvm b;
	u8 *page;
	int i;

	clock_gettime(CLOCK_REALTIME, &before);
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, lm));
	page = bvm_page(&b, SHINFO_GPA);
	memset(page, 0xa5, 4096);
	version = 6;
	memcpy(page + wc_off, &version, sizeof(version));

	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	clock_gettime(CLOCK_REALTIME, &after);

	memcpy(&wc, page + wc_off, sizeof(wc));
	memcpy(&hi, page + hi_off, sizeof(hi));
	ASSERT_EQ(8, wc.version);
	ASSERT_GT(1000000000u, wc.nsec);
	ASSERT_EQ(0, hi);
	wall = ((u64)hi << 32 | wc.sec) * 1000000000ull + wc.nsec;
	ASSERT_LE(ts_ns(&before) - 1000000000ull, wall)
		TH_LOG("wallclock %u.%09u, VM created after %ld.%09ld",
		       wc.sec, wc.nsec, (long)before.tv_sec,
		       (long)before.tv_nsec);
	ASSERT_GE(ts_ns(&after) + 1000000000ull, wall)
		TH_LOG("wallclock %u.%09u, VM created before %ld.%09ld",
		       wc.sec, wc.nsec, (long)after.tv_sec,
		       (long)after.tv_nsec);

	for (i = 0; i < 4096; i++) {
		if (i >= wc_off && i < wc_off + sizeof(wc))
			continue;
		if (i >= hi_off && i < hi_off + sizeof(hi))
			continue;
		ASSERT_EQ(0xa5, page[i])
			TH_LOG("shared_info byte %#x changed (long mode %d)",
			       i, lm);
	}

	/* Setting it again rewrites it; an odd version is made even. */
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	memcpy(&wc, page + wc_off, sizeof(wc));
	ASSERT_EQ(10, wc.version);
	version = 11;
	memcpy(page + wc_off, &version, sizeof(version));
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	memcpy(&wc, page + wc_off, sizeof(wc));
	ASSERT_EQ(14, wc.version);
	kvm_vm_free(b.vm);
}

TEST(shinfo_wallclock_64bit)
{
	if (xen_missing(CAPS_SHINFO))
		return;
	check_wallclock(_metadata, true);
}

TEST(shinfo_wallclock_compat)
{
	if (xen_missing(CAPS_SHINFO))
		return;
	check_wallclock(_metadata, false);
}

/* The attributes do not depend on KVM_XEN_HVM_CONFIG having been done. */
TEST(shinfo_attrs_before_config)
{
	struct kvm_xen_hvm_attr a;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	__bvm_create(_metadata, &b, 1, false);

	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	ASSERT_EQ(SHINFO_GFN, xen_get_shinfo(b.vm));
	ASSERT_EQ(0, xen_set_vector(b.vm, 0x20));
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR;
	ASSERT_EQ(0, xen_get_attr(b.vm, &a));
	ASSERT_EQ(0x20, a.u.vector);
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      SHINFO_GPA));
	kvm_vm_free(b.vm);
}

/* The module's reference count, or -1 if it is not loaded. */
static int persona_refcnt(void)
{
	FILE *f = fopen("/sys/module/kvm_persona/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * Reading the Xen attributes of a VM that never enabled Xen reads a fresh
 * vCPU's values and changes nothing: the VM does not get a personality
 * (which would pin the module and arm the hooks every VM then passes).
 */
TEST(get_attrs_leave_plain_vm_alone)
{
	static const u16 types[] = {
		KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
		KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
		KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
		KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT,
		KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
		KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
		KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
		KVM_XEN_VCPU_ATTR_TYPE_TIMER,
		KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
		0x7777,
	};
	struct kvm_xen_vcpu_attr a;
	int before, r;
	unsigned int i;
	struct bvm b;
	u64 gpa;

	if (xen_missing(CAPS_SHINFO))
		return;
	/* The Xen VMs of earlier tests let go of the module after a grace period. */
	for (i = 0; i < 100 && persona_refcnt() > 0; i++)
		usleep(50000);
	before = persona_refcnt();
	ASSERT_GE(0, before) TH_LOG("another Xen VM is alive");
	__bvm_create(_metadata, &b, 2, false);

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		memset(&a, 0, sizeof(a));
		a.type = types[i];
		r = xen_vcpu_get(b.vcpu[1], &a);
		ASSERT_TRUE(r == 0 || r == -ENOENT || r == -EINVAL ||
			    r == -EOPNOTSUPP) TH_LOG("type %u: %d", types[i], r);
	}
	ASSERT_EQ(0, xen_vcpu_get_gpa(b.vcpu[1],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
	ASSERT_EQ(0, xen_vcpu_get(b.vcpu[1], &a));
	/*
	 * 6.1 starts the Xen vCPU ID at the vCPU's index, upstream 6.12 at
	 * 0 (it reads the index before kvm.ko has assigned it); the module
	 * keeps the index on both (Documentation/abi.rst).
	 */
	ASSERT_EQ(xen_after_6_1() && !persona_loaded() ? 0 : 1, a.u.vcpu_id);
	ASSERT_EQ(0, xen_get_long_mode(b.vm));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));

	ASSERT_EQ(before, persona_refcnt());
	kvm_vm_free(b.vm);
}

/* ---- UPCALL_VECTOR (VM) ------------------------------------------------- */

TEST(vm_upcall_vector)
{
	struct kvm_xen_hvm_attr a;
	unsigned int v, last = 0;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 1);

	for (v = 0; v < 256; v++) {
		int want = (v && v < 0x10) ? -EINVAL : 0;

		ASSERT_EQ(want, xen_set_vector(b.vm, v))
			TH_LOG("vector %#x", v);
		if (!want)
			last = v;
		memset(&a, 0x5a, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR;
		ASSERT_EQ(0, xen_get_attr(b.vm, &a));
		ASSERT_EQ(last, a.u.vector)
			TH_LOG("after setting vector %#x", v);
	}
	kvm_vm_free(b.vm);
}

/* ---- EVTCHN ------------------------------------------------------------- */

TEST(evtchn_assign)
{
	static const u32 bad_types[] = {
		EVTCHNSTAT_closed, EVTCHNSTAT_unbound, EVTCHNSTAT_pirq,
		EVTCHNSTAT_virq, 6, 0x100, 0xffffffff,
	};
	struct bvm b;
	unsigned int i;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));

	/* Port 0 is never valid. */
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 0, EVTCHNSTAT_ipi, 0, 0,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 0, EVTCHNSTAT_interdomain,
					   5, 0, PRIO_2L));

	/* An IPI comes back on the port it was sent on. */
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 10, EVTCHNSTAT_ipi, 11, 0,
					   PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 10, EVTCHNSTAT_ipi, 10, 0,
				     PRIO_2L));
	/* One registration per port. */
	ASSERT_EQ(-EEXIST, xen_evtchn_port(b.vm, 0, 10, EVTCHNSTAT_ipi, 10, 0,
					   PRIO_2L));
	ASSERT_EQ(-EEXIST, xen_evtchn_port(b.vm, 0, 10,
					   EVTCHNSTAT_interdomain, 12, 0,
					   PRIO_2L));

	/* Interdomain loops back to any valid port, on any vCPU id. */
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 11, EVTCHNSTAT_interdomain,
				     XEN_NR_PORTS_64 - 1, 7, PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 12,
					   EVTCHNSTAT_interdomain,
					   XEN_NR_PORTS_64, 0, PRIO_2L));

	/* Only IPI and interdomain channels can be registered. */
	for (i = 0; i < ARRAY_SIZE(bad_types); i++) {
		ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 20, bad_types[i],
						   20, 0, PRIO_2L))
			TH_LOG("type %#x", bad_types[i]);
	}

	/* Only 2-level event channels: FIFO priorities are refused. */
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 21,
					   EVTCHNSTAT_interdomain, 22, 0, 0));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 21,
					   EVTCHNSTAT_interdomain, 22, 0, 15));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 23, EVTCHNSTAT_ipi, 23, 0,
					   7));

	/* Flags other than one of DEASSIGN, UPDATE, RESET. */
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 8, 30, EVTCHNSTAT_ipi, 30, 0,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_DEASSIGN |
					   KVM_XEN_EVTCHN_UPDATE, 30,
					   EVTCHNSTAT_ipi, 30, 0, PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_DEASSIGN |
					   KVM_XEN_EVTCHN_RESET, 30,
					   EVTCHNSTAT_ipi, 30, 0, PRIO_2L));

	/* None of the refused ones was registered after all. */
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 12));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 20));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 21));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 23));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 30));
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 10));
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 11));
	kvm_vm_free(b.vm);
}

/* 1024 ports with LONG_MODE 0, 4096 with LONG_MODE 1. */
TEST(evtchn_port_limits)
{
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 1);

	ASSERT_EQ(0, xen_set_long_mode(b.vm, 0));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, XEN_NR_PORTS_32 - 1,
				     EVTCHNSTAT_ipi, XEN_NR_PORTS_32 - 1, 0,
				     PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, XEN_NR_PORTS_32,
					   EVTCHNSTAT_ipi, XEN_NR_PORTS_32, 0,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 40,
					   EVTCHNSTAT_interdomain,
					   XEN_NR_PORTS_32, 0, PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN,
					    XEN_NR_PORTS_32));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE,
					   XEN_NR_PORTS_32, EVTCHNSTAT_ipi,
					   XEN_NR_PORTS_32, 0, PRIO_2L));

	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, XEN_NR_PORTS_32,
				     EVTCHNSTAT_ipi, XEN_NR_PORTS_32, 0,
				     PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, XEN_NR_PORTS_64 - 1,
				     EVTCHNSTAT_ipi, XEN_NR_PORTS_64 - 1, 0,
				     PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, XEN_NR_PORTS_64,
					   EVTCHNSTAT_ipi, XEN_NR_PORTS_64, 0,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, 0, 0xffffffff,
					   EVTCHNSTAT_ipi, 0xffffffff, 0,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN,
					    XEN_NR_PORTS_64));

	/* RESET takes no port; everything is gone afterwards. */
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_RESET, 0xffffffff));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN,
					    XEN_NR_PORTS_32 - 1));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN,
					    XEN_NR_PORTS_64 - 1));
	kvm_vm_free(b.vm);
}

TEST(evtchn_deassign_update_reset)
{
	struct bvm b;
	int efd;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 2);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);

	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 5, EVTCHNSTAT_ipi, 5, 0,
				     PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 6, EVTCHNSTAT_interdomain, 7, 0,
				     PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 8, efd));

	/* UPDATE: only an existing port-target channel's vCPU/priority. */
	ASSERT_EQ(-ENOENT, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 9,
					   EVTCHNSTAT_interdomain, 7, 1,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 6,
					   EVTCHNSTAT_ipi, 7, 1, PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 6,
					   EVTCHNSTAT_interdomain, 8, 1,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 6,
					   EVTCHNSTAT_interdomain, 7, 1, 0));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 6,
				     EVTCHNSTAT_interdomain, 7, 1, PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 5,
				     EVTCHNSTAT_ipi, 5, 1, PRIO_2L));
	/* An eventfd target cannot be updated. */
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 8,
					   EVTCHNSTAT_interdomain, 0, 1,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 8,
					   EVTCHNSTAT_interdomain, 8, 1,
					   PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 0,
					   EVTCHNSTAT_interdomain, 7, 1,
					   PRIO_2L));

	/* DEASSIGN frees the port for a new registration. */
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 6));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 6));
	ASSERT_EQ(-ENOENT, xen_evtchn_port(b.vm, KVM_XEN_EVTCHN_UPDATE, 6,
					   EVTCHNSTAT_interdomain, 7, 0,
					   PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 6, EVTCHNSTAT_interdomain, 9, 0,
				     PRIO_2L));
	ASSERT_EQ(-EINVAL, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 0));

	/* RESET drops them all, eventfd included; twice is fine. */
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_RESET, 0));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 5));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 6));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 8));
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_RESET, 0));
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 5, EVTCHNSTAT_ipi, 5, 0,
				     PRIO_2L));
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 8, efd));
	close(efd);
	kvm_vm_free(b.vm);
}

TEST(evtchn_eventfd)
{
	struct bvm b;
	int efd, nfd;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));

	ASSERT_EQ(-EBADF, xen_evtchn_eventfd(b.vm, 50, -1));
	nfd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, nfd);
	ASSERT_EQ(-EINVAL, xen_evtchn_eventfd(b.vm, 50, nfd));
	close(nfd);
	ASSERT_EQ(-EBADF, xen_evtchn_eventfd(b.vm, 50, nfd));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 50));

	/* The eventfd closed by userspace, then the channel deleted. */
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 50, efd));
	close(efd);
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 50));
	ASSERT_EQ(-ENOENT, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_DEASSIGN, 50));

	/* Closed, then dropped by RESET. */
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 50, efd));
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 51, efd));
	close(efd);
	ASSERT_EQ(0, xen_evtchn_flags(b.vm, KVM_XEN_EVTCHN_RESET, 0));

	/* Closed, then dropped with the VM. */
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, xen_evtchn_eventfd(b.vm, 52, efd));
	close(efd);
	kvm_vm_free(b.vm);
}

/* EVTCHN can only be set: GET does not know the type. */
TEST(evtchn_not_readable)
{
	struct kvm_xen_hvm_attr a;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_evtchn_port(b.vm, 0, 5, EVTCHNSTAT_ipi, 5, 0,
				     PRIO_2L));
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_EVTCHN;
	a.u.evtchn.send_port = 5;
	ASSERT_EQ(-ENOENT, xen_get_attr(b.vm, &a));
	kvm_vm_free(b.vm);
}

/* ---- VCPU_INFO, VCPU_TIME_INFO ------------------------------------------ */

/*
 * A guest physical address attribute: round trip, the invalid gpa to unset
 * it, -EFAULT outside memslots, -EINVAL when the structure (@size bytes)
 * would cross a page boundary.
 */
static void check_gpa_attr(struct __test_metadata *_metadata,
			   struct kvm_vcpu *vcpu, u16 type, u64 size)
{
	const u64 good[] = {
		SHINFO_GPA, SHINFO_GPA + 0x40, AREA_GPA + 0x100,
		AREA_GPA + 0x1000 - size,
	};
	u64 gpa;
	unsigned int i;

	ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, type, &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ASSERT_EQ(0, xen_vcpu_set_gpa(vcpu, type, good[i]))
			TH_LOG("type %u, gpa %#llx", type,
			       (unsigned long long)good[i]);
		ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, type, &gpa));
		ASSERT_EQ(good[i], gpa);
	}
	ASSERT_EQ(0, xen_vcpu_set_gpa(vcpu, type, XEN_INVALID_GPA));
	ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, type, &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	ASSERT_EQ(0, xen_vcpu_set_gpa(vcpu, type, XEN_INVALID_GPA));

	ASSERT_EQ(-EFAULT, xen_vcpu_set_gpa(vcpu, type, UNBACKED_GPA));
	ASSERT_EQ(-EFAULT, xen_vcpu_set_gpa(vcpu, type,
					    XR_GPA + XR_PAGES * 4096));
	ASSERT_EQ(-EINVAL, xen_vcpu_set_gpa(vcpu, type,
					    AREA_GPA + 0x1000 - size + 8));
	ASSERT_EQ(-EINVAL, xen_vcpu_set_gpa(vcpu, type, AREA_GPA + 0xff8));

	/* And usable again after the failures. */
	ASSERT_EQ(0, xen_vcpu_set_gpa(vcpu, type, XEN_INVALID_GPA));
	ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, type, &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	ASSERT_EQ(0, xen_vcpu_set_gpa(vcpu, type, AREA_GPA + 0x200));
	ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, type, &gpa));
	ASSERT_EQ(AREA_GPA + 0x200, gpa);
}

TEST(vcpu_info_attr)
{
	u64 gpa;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 2);
	check_gpa_attr(_metadata, b.vcpu[0], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
		       sizeof(struct xen_vcpu_info));
	/* Per vCPU. */
	ASSERT_EQ(0, xen_vcpu_get_gpa(b.vcpu[1],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	kvm_vm_free(b.vm);
}

TEST(vcpu_time_info_attr)
{
	u64 gpa;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 2);
	check_gpa_attr(_metadata, b.vcpu[1],
		       KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
		       sizeof(struct xen_pvclock));
	ASSERT_EQ(0, xen_vcpu_get_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				      &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	kvm_vm_free(b.vm);
}

static void check_pvclock(struct __test_metadata *_metadata,
			  const struct xen_pvclock *p, const char *what)
{
	ASSERT_NE(0, p->version) TH_LOG("%s", what);
	ASSERT_EQ(0, p->version & 1) TH_LOG("%s", what);
	ASSERT_NE(0, p->tsc_to_system_mul) TH_LOG("%s", what);
	ASSERT_NE(0, p->tsc_timestamp) TH_LOG("%s", what);
}

/*
 * KVM keeps a pvclock in vcpu_info.time and in the VCPU_TIME_INFO area,
 * both written from the same clock update when the vCPU next enters.
 */
TEST(pvclock_filled_after_run)
{
	struct xen_pvclock a, t;
	struct xvm x;
	u64 now;

	if (xen_missing(CAPS_SHINFO))
		return;
	xvm_create(&x, 1, 0);
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				      AREA_GPA + 0x100));
	ASSERT_EQ(0, ((struct xen_pvclock *)xr(&x, AREA_GPA + 0x100))->version);

	xnop(&x, 0);
	now = kvmclock_ns(x.vm);
	memcpy(&a, &xvi(&x, 0)->time, sizeof(a));
	memcpy(&t, xr(&x, AREA_GPA + 0x100), sizeof(t));
	check_pvclock(_metadata, &a, "vcpu_info.time");
	check_pvclock(_metadata, &t, "VCPU_TIME_INFO");
	ASSERT_EQ(a.tsc_timestamp, t.tsc_timestamp);
	ASSERT_EQ(a.system_time, t.system_time);
	ASSERT_EQ(a.tsc_to_system_mul, t.tsc_to_system_mul);
	ASSERT_EQ(a.tsc_shift, t.tsc_shift);
	ASSERT_GE(now, a.system_time);

	/* A new VCPU_TIME_INFO address is filled in at the next entry. */
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				      AREA_GPA + 0x200));
	xnop(&x, 0);
	memcpy(&t, xr(&x, AREA_GPA + 0x200), sizeof(t));
	check_pvclock(_metadata, &t, "moved VCPU_TIME_INFO");

	/* And vcpu_info moved out of shared_info too. */
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      AREA_GPA + 0x400));
	xnop(&x, 0);
	memcpy(&a, xr(&x, AREA_GPA + 0x400 + XEN_VCPU_INFO_TIME), sizeof(a));
	check_pvclock(_metadata, &a, "moved vcpu_info.time");
	kvm_vm_free(x.vm);
}

/* ---- Runstate ----------------------------------------------------------- */

static void get_runstate(struct __test_metadata *_metadata,
			 struct kvm_vcpu *vcpu, struct kvm_xen_vcpu_attr *a)
{
	memset(a, 0x5a, sizeof(*a));
	a->type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA;
	ASSERT_EQ(0, xen_vcpu_get(vcpu, a));
	ASSERT_EQ(a->u.runstate.state_entry_time,
		  a->u.runstate.time_running + a->u.runstate.time_runnable +
		  a->u.runstate.time_blocked + a->u.runstate.time_offline);
}

static int set_runstate(struct kvm_vcpu *vcpu, u16 type, u64 state, u64 entry,
			u64 running, u64 runnable, u64 blocked, u64 offline)
{
	struct kvm_xen_vcpu_attr a = { .type = type };

	a.u.runstate.state = state;
	a.u.runstate.state_entry_time = entry;
	a.u.runstate.time_running = running;
	a.u.runstate.time_runnable = runnable;
	a.u.runstate.time_blocked = blocked;
	a.u.runstate.time_offline = offline;
	return xen_vcpu_set(vcpu, &a);
}

static int set_current(struct kvm_vcpu *vcpu, u64 state)
{
	return set_runstate(vcpu, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT,
			    state, 0, 0, 0, 0, 0);
}

static void __assert_runstate(struct __test_metadata *_metadata,
			      const struct kvm_xen_vcpu_attr *a, u64 state,
			      u64 entry, u64 running, u64 runnable,
			      u64 blocked, u64 offline)
{
	ASSERT_EQ(state, a->u.runstate.state);
	ASSERT_EQ(entry, a->u.runstate.state_entry_time);
	ASSERT_EQ(running, a->u.runstate.time_running);
	ASSERT_EQ(runnable, a->u.runstate.time_runnable);
	ASSERT_EQ(blocked, a->u.runstate.time_blocked);
	ASSERT_EQ(offline, a->u.runstate.time_offline);
}

#define ASSERT_RUNSTATE(a, st, entry, run, rnbl, blk, off) \
	__assert_runstate(_metadata, a, st, entry, run, rnbl, blk, off)

TEST(runstate_addr_attr)
{
	struct kvm_xen_vcpu_attr a;
	u64 gpa;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));

	/* Unset, RUNSTATE_ADDR has no value to read. */
	ASSERT_EQ(-ENOENT, xen_vcpu_get_gpa(b.vcpu[0],
					    KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					    &gpa));
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      AREA_GPA + 0x300));
	ASSERT_EQ(0, xen_vcpu_get_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      &gpa));
	ASSERT_EQ(AREA_GPA + 0x300, gpa);
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      AREA_GPA + 0x1000 - XEN_RUNSTATE_SIZE));
	ASSERT_EQ(0, xen_vcpu_get_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      &gpa));
	ASSERT_EQ(AREA_GPA + 0x1000 - XEN_RUNSTATE_SIZE, gpa);

	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      XEN_INVALID_GPA));
	ASSERT_EQ(-ENOENT, xen_vcpu_get_gpa(b.vcpu[0],
					    KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					    &gpa));
	ASSERT_EQ(-EFAULT, xen_vcpu_set_gpa(b.vcpu[0],
					    KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					    UNBACKED_GPA));

	/*
	 * A runstate area across a page boundary: -EINVAL in 6.1; later
	 * kernels map both pages.
	 */
	ASSERT_EQ(xen_after_6_1() ? 0 : -EINVAL,
		  xen_vcpu_set_gpa(b.vcpu[0],
				   KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				   AREA_GPA + 0xff0));
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      XEN_INVALID_GPA));

	/* RUNSTATE_ADJUST is write-only. */
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST;
	ASSERT_EQ(-EINVAL, xen_vcpu_get(b.vcpu[0], &a));
	kvm_vm_free(b.vm);
}

/*
 * The kernel makes a vCPU "running" when it enters the guest (KVM_RUN),
 * not whenever the VMM touches it: a VMM that marked the vCPU blocked and
 * then reads its registers, or any other vCPU ioctl that loads it, must
 * find it still blocked, with no time moved between the states.
 */
TEST(runstate_kept_by_other_vcpu_ioctls)
{
	struct kvm_xen_vcpu_attr a, prev;
	struct kvm_mp_state mp;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	bvm_create(&b, 1);

	ASSERT_EQ(0, set_current(b.vcpu[0], RUNSTATE_blocked));
	get_runstate(_metadata, b.vcpu[0], &prev);
	ASSERT_EQ(RUNSTATE_blocked, prev.u.runstate.state);

	usleep(2000);
	vcpu_regs_get(b.vcpu[0], &regs);
	vcpu_sregs_get(b.vcpu[0], &sregs);
	ASSERT_EQ(0, ioctl_err(b.vcpu[0]->fd, KVM_GET_MP_STATE, &mp));
	vcpu_regs_set(b.vcpu[0], &regs);

	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(RUNSTATE_blocked, a.u.runstate.state);
	ASSERT_EQ(prev.u.runstate.state_entry_time,
		  a.u.runstate.state_entry_time);
	ASSERT_EQ(prev.u.runstate.time_running, a.u.runstate.time_running);
	ASSERT_EQ(prev.u.runstate.time_blocked, a.u.runstate.time_blocked);
	kvm_vm_free(b.vm);
}

/*
 * RUNSTATE_CURRENT moves the vCPU to a state, crediting the time since the
 * last change to the state it leaves; before the first change the vCPU
 * counts as offline since kvmclock 0.
 */
TEST(runstate_current)
{
	static const u64 bad[] = { 4, 5, 0x100, 0xffffffff, ~0ull };
	struct kvm_xen_vcpu_attr a, prev;
	unsigned int i;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	bvm_create(&b, 1);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(-EINVAL, set_current(b.vcpu[0], bad[i]))
			TH_LOG("state %#llx", (unsigned long long)bad[i]);
	}

	usleep(2000);
	ASSERT_EQ(0, set_current(b.vcpu[0], RUNSTATE_runnable));
	memset(&a, 0x5a, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT;
	ASSERT_EQ(0, xen_vcpu_get(b.vcpu[0], &a));
	ASSERT_EQ(RUNSTATE_runnable, a.u.runstate.state);
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(RUNSTATE_runnable, a.u.runstate.state);
	ASSERT_EQ(0, a.u.runstate.time_running);
	ASSERT_EQ(0, a.u.runstate.time_runnable);
	ASSERT_EQ(0, a.u.runstate.time_blocked);
	ASSERT_EQ(a.u.runstate.state_entry_time, a.u.runstate.time_offline);
	ASSERT_LE(1 * MS, a.u.runstate.time_offline);
	ASSERT_GE(kvmclock_ns(b.vm), a.u.runstate.state_entry_time);

	usleep(2000);
	prev = a;
	ASSERT_EQ(0, set_current(b.vcpu[0], RUNSTATE_blocked));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(RUNSTATE_blocked, a.u.runstate.state);
	ASSERT_LE(prev.u.runstate.state_entry_time + 1 * MS,
		  a.u.runstate.state_entry_time);
	ASSERT_EQ(a.u.runstate.state_entry_time -
		  prev.u.runstate.state_entry_time,
		  a.u.runstate.time_runnable);
	ASSERT_EQ(prev.u.runstate.time_offline, a.u.runstate.time_offline);
	ASSERT_EQ(0, a.u.runstate.time_blocked);

	usleep(2000);
	prev = a;
	ASSERT_EQ(0, set_current(b.vcpu[0], RUNSTATE_offline));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(RUNSTATE_offline, a.u.runstate.state);
	ASSERT_EQ(a.u.runstate.state_entry_time -
		  prev.u.runstate.state_entry_time,
		  a.u.runstate.time_blocked);
	ASSERT_LE(1 * MS, a.u.runstate.time_blocked);
	ASSERT_EQ(prev.u.runstate.time_runnable, a.u.runstate.time_runnable);

	/* The failed attempts above changed nothing either. */
	ASSERT_EQ(-EINVAL, set_current(b.vcpu[0], 4));
	prev = a;
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(0, memcmp(&prev, &a, sizeof(a)));
	kvm_vm_free(b.vm);
}

TEST(runstate_data)
{
	struct kvm_xen_vcpu_attr a, prev;
	struct bvm b;
	u64 now;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	bvm_create(&b, 1);
	usleep(1000);

	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
				  RUNSTATE_blocked, 0x6b6b + 0x5a + 0x10,
				  0x10, 0, 0x6b6b, 0x5a));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_RUNSTATE(&a, RUNSTATE_blocked, 0x6b6b + 0x5a + 0x10, 0x10, 0,
			0x6b6b, 0x5a);
	prev = a;

	/* A state beyond offline. */
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
					4, 0x10, 0x10, 0, 0, 0));
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
					~0ull, 0x10, 0x10, 0, 0, 0));
	/* Times that do not add up to the entry time. */
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
					RUNSTATE_running, 100, 10, 20, 30,
					39));
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
					RUNSTATE_running, 100, 10, 20, 30,
					41));
	/* An entry time in the future of kvmclock. */
	now = kvmclock_ns(b.vm) + 10000 * MS;
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
					RUNSTATE_running, now, now, 0, 0, 0));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(0, memcmp(&prev, &a, sizeof(a)));

	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
				  RUNSTATE_offline, 0, 0, 0, 0, 0));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_RUNSTATE(&a, RUNSTATE_offline, 0, 0, 0, 0, 0);
	memset(&a, 0x5a, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_CURRENT;
	ASSERT_EQ(0, xen_vcpu_get(b.vcpu[0], &a));
	ASSERT_EQ(RUNSTATE_offline, a.u.runstate.state);
	kvm_vm_free(b.vm);
}

/*
 * RUNSTATE_ADJUST adds (modulo 2^64) to the entry time and the four times;
 * the additions must add up and the result may not be in the future.
 * State (u64)-1 keeps the state, a valid state then switches to it.
 */
TEST(runstate_adjust)
{
	struct kvm_xen_vcpu_attr a, prev;
	struct bvm b;
	u64 big;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	bvm_create(&b, 1);
	usleep(1000);

	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
				  RUNSTATE_blocked, 0xa000, 0x1000, 0x2000,
				  0x3000, 0x4000));
	get_runstate(_metadata, b.vcpu[0], &prev);

	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
					4, 0, 0, 0, 0, 0));
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
					~1ull, 0, 0, 0, 0, 0));
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
					~0ull, 0x10, 0x8, 0, 0, 0));
	big = kvmclock_ns(b.vm) + 10000 * MS;
	ASSERT_EQ(-EINVAL, set_runstate(b.vcpu[0],
					KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
					~0ull, big, 0, 0, big, 0));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(0, memcmp(&prev, &a, sizeof(a)));

	/* Keep the state; negative adjustments wrap. */
	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
				  ~0ull, 0x300, 0x100, -0x100ull, 0x200,
				  0x100));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_RUNSTATE(&a, RUNSTATE_blocked, 0xa300, 0x1100, 0x1f00, 0x3200,
			0x4100);

	/* Switch state: the time since 0xa300 goes to "blocked". */
	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
				  RUNSTATE_runnable, 0, 0, 0, 0, 0));
	get_runstate(_metadata, b.vcpu[0], &a);
	ASSERT_EQ(RUNSTATE_runnable, a.u.runstate.state);
	ASSERT_EQ(0x1100, a.u.runstate.time_running);
	ASSERT_EQ(0x1f00, a.u.runstate.time_runnable);
	ASSERT_EQ(0x4100, a.u.runstate.time_offline);
	ASSERT_LT(0xa300, a.u.runstate.state_entry_time);
	ASSERT_EQ(0x3200 + a.u.runstate.state_entry_time - 0xa300,
		  a.u.runstate.time_blocked);
	ASSERT_GE(kvmclock_ns(b.vm), a.u.runstate.state_entry_time);
	kvm_vm_free(b.vm);
}

/* The runstate area while the vCPU runs: "running", times adding up. */
static void check_runstate_area(struct __test_metadata *_metadata, bool lm)
{
	u64 gpa = AREA_GPA + 0x300, entry, t[4];
	u32 size = lm ? XEN_RUNSTATE_SIZE : XEN_RUNSTATE32_SIZE;
	struct kvm_xen_vcpu_attr a;
	u32 state;
	struct xvm x;
	u8 *area;
	unsigned int i;

	xvm_create(&x, 1, lm ? 0 : XVM_COMPAT);
	area = xr(&x, gpa);
	memset(area, 0xa5, 0x100);
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      gpa));
	xnop(&x, 0);
	ASSERT_EQ(0, set_current(x.vcpu[0], RUNSTATE_runnable));
	usleep(1000);
	xnop(&x, 0);
	xnop(&x, 0);

	memcpy(&state, area, sizeof(state));
	if (lm) {
		struct xen_runstate r;

		memcpy(&r, area, sizeof(r));
		entry = r.state_entry_time;
		memcpy(t, r.time, sizeof(t));
	} else {
		struct xen_runstate32 r;

		memcpy(&r, area, sizeof(r));
		entry = r.state_entry_time;
		memcpy(t, r.time, sizeof(t));
	}
	ASSERT_EQ(RUNSTATE_running, state);
	ASSERT_EQ(entry, t[0] + t[1] + t[2] + t[3]);
	ASSERT_NE(0, t[RUNSTATE_running]);
	ASSERT_NE(0, t[RUNSTATE_runnable]);
	ASSERT_NE(0, t[RUNSTATE_offline]);
	for (i = size; i < 0x100; i++)
		ASSERT_EQ(0xa5, area[i]) TH_LOG("byte %#x past the area", i);

	/* Not running now: the area and RUNSTATE_DATA agree. */
	get_runstate(_metadata, x.vcpu[0], &a);
	ASSERT_RUNSTATE(&a, state, entry, t[0], t[1], t[2], t[3]);
	kvm_vm_free(x.vm);
}

TEST(runstate_area_64bit)
{
	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	check_runstate_area(_metadata, true);
}

TEST(runstate_area_compat)
{
	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	check_runstate_area(_metadata, false);
}

/* ---- VCPU_ID, TIMER, UPCALL_VECTOR (vCPU) ------------------------------- */

static u32 get_vcpu_id(struct __test_metadata *_metadata,
		       struct kvm_vcpu *vcpu)
{
	struct kvm_xen_vcpu_attr a;

	memset(&a, 0x5a, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
	ASSERT_EQ(0, xen_vcpu_get(vcpu, &a));
	return a.u.vcpu_id;
}

TEST(vcpu_id_attr)
{
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID };
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 2);

	/*
	 * Upstream means to default it to the vCPU's index, but copies that
	 * in kvm_arch_vcpu_create(), before KVM assigns vcpu_idx: every vCPU
	 * starts as Xen vCPU 0.  kvm-persona numbers them by index, as Xen
	 * does.
	 */
	ASSERT_EQ(0, get_vcpu_id(_metadata, b.vcpu[0]));
	ASSERT_EQ(persona_loaded() ? 1 : 0, get_vcpu_id(_metadata, b.vcpu[1]));

	a.u.vcpu_id = 5;
	ASSERT_EQ(0, xen_vcpu_set(b.vcpu[1], &a));
	ASSERT_EQ(5, get_vcpu_id(_metadata, b.vcpu[1]));
	ASSERT_EQ(0, get_vcpu_id(_metadata, b.vcpu[0]));
	a.u.vcpu_id = 1023;
	ASSERT_EQ(0, xen_vcpu_set(b.vcpu[1], &a));
	ASSERT_EQ(1023, get_vcpu_id(_metadata, b.vcpu[1]));

	/* Below KVM_MAX_VCPUS: 1024 in 6.1, a config option later. */
	a.u.vcpu_id = 4096;
	ASSERT_EQ(-EINVAL, xen_vcpu_set(b.vcpu[1], &a));
	a.u.vcpu_id = 0xffffffff;
	ASSERT_EQ(-EINVAL, xen_vcpu_set(b.vcpu[1], &a));
	/*
	 * The kernel's KVM_MAX_VCPUS (1024 on 6.1, CONFIG_KVM_MAX_NR_VCPUS
	 * on 6.12), which KVM_CAP_MAX_VCPUS reports on both.
	 */
	a.u.vcpu_id = kvm_check_cap(KVM_CAP_MAX_VCPUS);
	ASSERT_EQ(-EINVAL, xen_vcpu_set(b.vcpu[1], &a));
	a.u.vcpu_id--;
	ASSERT_EQ(0, xen_vcpu_set(b.vcpu[1], &a));
	ASSERT_EQ(a.u.vcpu_id, get_vcpu_id(_metadata, b.vcpu[1]));
	a.u.vcpu_id = 1023;
	ASSERT_EQ(0, xen_vcpu_set(b.vcpu[1], &a));
	ASSERT_EQ(1023, get_vcpu_id(_metadata, b.vcpu[1]));
	kvm_vm_free(b.vm);
}

#define ASSERT_TIMER(vcpu, port_, expires_)				\
do {									\
	struct kvm_xen_vcpu_attr __t;					\
									\
	ASSERT_EQ(0, xen_get_timer(vcpu, &__t));			\
	ASSERT_EQ(port_, __t.u.timer.port);				\
	ASSERT_EQ(PRIO_2L, __t.u.timer.priority);			\
	ASSERT_EQ(expires_, __t.u.timer.expires_ns);			\
} while (0)

TEST(timer_attr)
{
	struct bvm b;
	u64 t;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 1);

	ASSERT_TIMER(b.vcpu[0], 0, 0);

	/* A timer port needs the 2-level priority. */
	ASSERT_EQ(-EINVAL, xen_set_timer(b.vcpu[0], 13, 0, 0));
	ASSERT_EQ(-EINVAL, xen_set_timer(b.vcpu[0], 13, 5, 0));
	ASSERT_TIMER(b.vcpu[0], 0, 0);

	/* Port 0 disables it; the priority and expiry do not matter. */
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 0, 0, 123));
	ASSERT_TIMER(b.vcpu[0], 0, 0);

	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 13, PRIO_2L, 0));
	ASSERT_TIMER(b.vcpu[0], 13, 0);

	t = kvmclock_ns(b.vm) + 10000 * MS;
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 14, PRIO_2L, t));
	ASSERT_TIMER(b.vcpu[0], 14, t);
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 14, PRIO_2L, t + 10000 * MS));
	ASSERT_TIMER(b.vcpu[0], 14, t + 10000 * MS);

	/* Setting it without an expiry stops it. */
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 14, PRIO_2L, 0));
	ASSERT_TIMER(b.vcpu[0], 14, 0);
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 15, PRIO_2L, t));
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 0, PRIO_2L, 0));
	ASSERT_TIMER(b.vcpu[0], 0, 0);

	/* Left armed for the VM's destruction. */
	ASSERT_EQ(0, xen_set_timer(b.vcpu[0], 15, PRIO_2L, t));
	kvm_vm_free(b.vm);
}

TEST(vcpu_upcall_vector_attr)
{
	struct kvm_xen_vcpu_attr a;
	unsigned int v, last = 0;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	bvm_create(&b, 2);

	for (v = 0; v < 256; v++) {
		int want = (v && v < 0x10) ? -EINVAL : 0;

		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR;
		a.u.vector = v;
		ASSERT_EQ(want, xen_vcpu_set(b.vcpu[0], &a))
			TH_LOG("vector %#x", v);
		if (!want)
			last = v;
		memset(&a, 0x5a, sizeof(a));
		a.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR;
		ASSERT_EQ(0, xen_vcpu_get(b.vcpu[0], &a));
		ASSERT_EQ(last, a.u.vector);
	}
	memset(&a, 0x5a, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR;
	ASSERT_EQ(0, xen_vcpu_get(b.vcpu[1], &a));
	ASSERT_EQ(0, a.u.vector);
	kvm_vm_free(b.vm);
}

/* Unknown vCPU attribute types: -ENOENT from GET and SET. */
TEST(vcpu_attr_unknown_types)
{
	u16 types[8];
	unsigned int n = 0, i, v;
	struct kvm_xen_vcpu_attr a;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO))
		return;
	bvm_create(&b, 2);

	/* 9 is VCPU_INFO_HVA, tied to SHARED_INFO_HVA (flag 8) later. */
	if (!(xen_caps() & BIT(8)))
		types[n++] = 9;
	types[n++] = 10;
	types[n++] = 0x100;
	types[n++] = 0x8000;
	types[n++] = 0xffff;

	for (v = 0; v < 2; v++) {
		for (i = 0; i < n; i++) {
			memset(&a, 0, sizeof(a));
			a.type = types[i];
			ASSERT_EQ(-ENOENT, xen_vcpu_get(b.vcpu[v], &a))
				TH_LOG("GET type %#x", types[i]);
			ASSERT_EQ(-ENOENT, xen_vcpu_set(b.vcpu[v], &a))
				TH_LOG("SET type %#x", types[i]);
		}
	}
	kvm_vm_free(b.vm);
}

/* ---- The ABI after 6.1 (KVM_CAP_XEN_HVM flags 6 to 8) ------------------ */

static int set_shinfo_hva(struct kvm_vm *vm, u64 hva)
{
	struct kvm_xen_hvm_attr a = {
		.type = XEN_ATTR_SHARED_INFO_HVA,
		.u.shared_info.gfn = hva,
	};

	return xen_set_attr(vm, &a);
}

static u64 get_shinfo_hva(struct __test_metadata *_metadata, struct kvm_vm *vm)
{
	struct kvm_xen_hvm_attr a;

	memset(&a, 0x5a, sizeof(a));
	a.type = XEN_ATTR_SHARED_INFO_HVA;
	ASSERT_EQ(0, xen_get_attr(vm, &a));
	return a.u.shared_info.gfn;
}

/* RUNSTATE_UPDATE_FLAG reads back as set, normalised to 0 or 1. */
TEST(runstate_update_flag_attr)
{
	struct kvm_xen_hvm_attr a;
	struct bvm b;
	u8 v, want[] = { 1, 0, 1, 0 }, set[] = { 1, 0, 0x80, 0 };
	unsigned int i;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE | CAP_RUNSTATE_FLAG))
		return;
	bvm_create(&b, 1);

	memset(&a, 0x5a, sizeof(a));
	a.type = XEN_ATTR_RUNSTATE_UPDATE_FLAG;
	ASSERT_EQ(0, xen_get_attr(b.vm, &a));
	ASSERT_EQ(0, a.u.long_mode);
	for (i = 0; i < ARRAY_SIZE(set); i++) {
		a.u.long_mode = set[i];
		ASSERT_EQ(0, xen_set_attr(b.vm, &a));
		a.u.long_mode = 0x5a;
		ASSERT_EQ(0, xen_get_attr(b.vm, &a));
		v = a.u.long_mode;
		ASSERT_EQ(want[i], v) TH_LOG("set %#x", set[i]);
	}
	kvm_vm_free(b.vm);
}

/*
 * SHARED_INFO_HVA names the page by the VMM's address: GET of either
 * attribute tells which way it was named, the wallclock is written
 * through it, a misaligned address is -EINVAL, one nothing backs
 * -EFAULT, and 0 unmaps it.
 */
TEST(shinfo_hva_attr)
{
	struct xen_wallclock wc;
	u8 *page, *hole;
	struct bvm b;

	if (xen_missing(CAPS_SHINFO | CAP_SHINFO_HVA))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
	page = bvm_page(&b, SHINFO2_GPA);

	ASSERT_EQ(0, get_shinfo_hva(_metadata, b.vm));
	ASSERT_EQ(-EINVAL, set_shinfo_hva(b.vm, (u64)page + 8));
	ASSERT_EQ(-EINVAL, set_shinfo_hva(b.vm, (u64)page + 0x800));

	ASSERT_EQ(0, set_shinfo_hva(b.vm, (u64)page));
	ASSERT_EQ((u64)page, get_shinfo_hva(_metadata, b.vm));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));
	memcpy(&wc, page + XEN_SHINFO_WC, sizeof(wc));
	ASSERT_NE(0, wc.version);
	ASSERT_EQ(0, wc.version & 1);
	ASSERT_NE(0, wc.sec);

	/* By frame again: the other attribute reads back empty. */
	ASSERT_EQ(0, xen_set_shinfo(b.vm, SHINFO_GFN));
	ASSERT_EQ(0, get_shinfo_hva(_metadata, b.vm));
	ASSERT_EQ(SHINFO_GFN, xen_get_shinfo(b.vm));

	/* An address with no page behind it. */
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	ASSERT_EQ(0, munmap(hole, 4096));
	ASSERT_EQ(-EFAULT, set_shinfo_hva(b.vm, (u64)hole));

	ASSERT_EQ(0, set_shinfo_hva(b.vm, (u64)page));
	ASSERT_EQ(0, set_shinfo_hva(b.vm, 0));
	ASSERT_EQ(0, get_shinfo_hva(_metadata, b.vm));
	ASSERT_EQ(XEN_INVALID_GFN, xen_get_shinfo(b.vm));
	ASSERT_EQ(0, set_shinfo_hva(b.vm, 0));
	kvm_vm_free(b.vm);
}

/*
 * A shared_info named by its VMM address stays there when the memslot
 * holding it moves in guest physical space; one named by frame would
 * lose it.  Events keep landing in the same page.
 */
TEST(shinfo_hva_follows_memslot_move)
{
	struct xen_shared_info *si;
	struct bvm b;

	if (xen_missing(CAPS_EVTCHN | CAP_SHINFO_HVA))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
	si = (void *)bvm_page(&b, SHINFO_GPA);
	ASSERT_EQ(0, set_shinfo_hva(b.vm, (u64)si));
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      SHINFO_GPA));

	ASSERT_EQ(0, xen_send(b.vm, 5, 0, PRIO_2L));
	ASSERT_TRUE(bit_in(si->evtchn_pending, 5));

	vm_mem_region_move(b.vm, XR_SLOT, XR_GPA + 0x10000000ull);
	ASSERT_EQ((u64)si, get_shinfo_hva(_metadata, b.vm));
	ASSERT_EQ(0, xen_send(b.vm, 6, 0, PRIO_2L));
	ASSERT_TRUE(bit_in(si->evtchn_pending, 6));
	kvm_vm_free(b.vm);
}

static u64 get_vcpu_info_hva(struct __test_metadata *_metadata,
			     struct kvm_vcpu *vcpu)
{
	u64 hva;

	ASSERT_EQ(0, xen_vcpu_get_gpa(vcpu, XEN_VCPU_ATTR_VCPU_INFO_HVA, &hva));
	return hva;
}

/* VCPU_INFO_HVA: the same, per vCPU; the pvclock lands there. */
TEST(vcpu_info_hva_attr)
{
	struct xen_pvclock t;
	u64 gpa;
	u8 *vi;
	struct xvm x;

	if (xen_missing(CAPS_SHINFO | CAP_SHINFO_HVA))
		return;
	xvm_create(&x, 2, 0);
	vi = xr(&x, AREA_GPA + 0x400);

	ASSERT_EQ(0, get_vcpu_info_hva(_metadata, x.vcpu[1]));
	ASSERT_EQ(-ENXIO, xen_vcpu_set_gpa(x.vcpu[1], XEN_VCPU_ATTR_VCPU_INFO_HVA,
					   (u64)vi + 2));

	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0], XEN_VCPU_ATTR_VCPU_INFO_HVA,
				      (u64)vi));
	ASSERT_EQ((u64)vi, get_vcpu_info_hva(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, xen_vcpu_get_gpa(x.vcpu[0], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	/* Per vCPU. */
	ASSERT_EQ(0, get_vcpu_info_hva(_metadata, x.vcpu[1]));

	x.gs->vcpu_info[0] = AREA_GPA + 0x400;
	xnop(&x, 0);
	memcpy(&t, vi + XEN_VCPU_INFO_TIME, sizeof(t));
	check_pvclock(_metadata, &t, "vcpu_info.time by HVA");

	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0], XEN_VCPU_ATTR_VCPU_INFO_HVA, 0));
	ASSERT_EQ(0, get_vcpu_info_hva(_metadata, x.vcpu[0]));
	ASSERT_EQ(0, xen_vcpu_get_gpa(x.vcpu[0], KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
				      &gpa));
	ASSERT_EQ(XEN_INVALID_GPA, gpa);
	kvm_vm_free(x.vm);
}

/*
 * The runstate area wherever the guest puts it, across a page boundary at
 * every split of either layout: written when the address is set, equal
 * to RUNSTATE_DATA, nothing past it touched; a compat area that a switch
 * to 64-bit makes longer reaches into the next page.
 */
static void check_runstate_image(struct __test_metadata *_metadata,
				 const u8 *area, bool lm,
				 const struct kvm_xen_vcpu_attr *d)
{
	u32 size = lm ? XEN_RUNSTATE_SIZE : XEN_RUNSTATE32_SIZE;
	u32 toff = lm ? 8 : 4, i;
	u64 v[5];
	u32 state;

	memcpy(&state, area, sizeof(state));
	memcpy(v, area + toff, sizeof(v));
	ASSERT_EQ(d->u.runstate.state, state);
	ASSERT_EQ(d->u.runstate.state_entry_time, v[0]);
	ASSERT_EQ(d->u.runstate.time_running, v[1]);
	ASSERT_EQ(d->u.runstate.time_runnable, v[2]);
	ASSERT_EQ(d->u.runstate.time_blocked, v[3]);
	ASSERT_EQ(d->u.runstate.time_offline, v[4]);
	for (i = size; i < size + 8; i++)
		ASSERT_EQ(0xa5, area[i]) TH_LOG("byte %u past the area", i);
}

TEST(runstate_area_across_pages)
{
	struct kvm_xen_vcpu_attr d;
	u64 gpa, end = SHINFO2_GPA;
	struct bvm b;
	u8 *area;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE))
		return;
	if (!xen_after_6_1())
		SKIP(return, "6.1 refuses a runstate area across a page");
	bvm_create(&b, 1);
	ASSERT_EQ(0, set_runstate(b.vcpu[0],
				  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
				  RUNSTATE_blocked, 0x1111 + 0x2222 + 0x3333 + 0x4444,
				  0x1111, 0x2222, 0x3333, 0x4444));
	get_runstate(_metadata, b.vcpu[0], &d);

	for (gpa = end - XEN_RUNSTATE_SIZE - 4; gpa < end + 4; gpa++) {
		area = bvm_page(&b, gpa);
		memset(area, 0xa5, XEN_RUNSTATE_SIZE + 8);
		ASSERT_EQ(0, xen_set_long_mode(b.vm, 0));
		ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
					      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					      gpa)) TH_LOG("gpa %#llx", (unsigned long long)gpa);
		check_runstate_image(_metadata, area, false, &d);

		/* 64-bit now: longer, perhaps into the next page. */
		ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
		memset(area, 0xa5, XEN_RUNSTATE_SIZE + 8);
		ASSERT_EQ(0, set_runstate(b.vcpu[0],
					  KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADJUST,
					  -1ull, 0, 0, 0, 0, 0));
		check_runstate_image(_metadata, area, true, &d);
	}
	kvm_vm_free(b.vm);
}

/*
 * With RUNSTATE_UPDATE_FLAG the guest's state_entry_time is whole after
 * every write: XEN_RUNSTATE_UPDATE is only there while one is in
 * progress, in whichever page holds its byte.
 */
TEST(runstate_update_flag_clears)
{
	struct kvm_xen_hvm_attr f = { .type = XEN_ATTR_RUNSTATE_UPDATE_FLAG };
	struct kvm_xen_vcpu_attr d;
	u64 entry;
	struct bvm b;
	u8 *area;

	if (xen_missing(CAPS_SHINFO | CAP_RUNSTATE | CAP_RUNSTATE_FLAG))
		return;
	bvm_create(&b, 1);
	ASSERT_EQ(0, xen_set_long_mode(b.vm, 1));
	f.u.long_mode = 1;
	ASSERT_EQ(0, xen_set_attr(b.vm, &f));
	/* The flag's byte is the last of state_entry_time: next page. */
	area = bvm_page(&b, SHINFO2_GPA - 15);
	memset(area, 0xa5, XEN_RUNSTATE_SIZE + 8);
	ASSERT_EQ(0, xen_vcpu_set_gpa(b.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
				      SHINFO2_GPA - 15));
	ASSERT_EQ(0, set_current(b.vcpu[0], RUNSTATE_runnable));
	get_runstate(_metadata, b.vcpu[0], &d);
	memcpy(&entry, area + 8, sizeof(entry));
	ASSERT_EQ(0, entry & XEN_RUNSTATE_UPDATE);
	ASSERT_EQ(d.u.runstate.state_entry_time, entry);
	check_runstate_image(_metadata, area, true, &d);
	kvm_vm_free(b.vm);
}

/*
 * PVCLOCK_TSC_UNSTABLE keeps PVCLOCK_TSC_STABLE_BIT out of Xen's pvclocks
 * (vcpu_info.time, VCPU_TIME_INFO) from the next entry; clearing it again
 * brings back whatever kvm.ko computed.
 */
#define PVCLOCK_TSC_STABLE_BIT	1

TEST(pvclock_tsc_unstable)
{
	u32 base = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
	struct xen_pvclock *ti;
	u8 stable;
	struct xvm x;

	if (xen_missing(CAPS_SHINFO | CAP_TSC_UNSTABLE))
		return;
	xvm_create(&x, 1, 0);
	if (xen_caps() & CAP_SEND)
		base |= KVM_XEN_HVM_CONFIG_EVTCHN_SEND;
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				      AREA_GPA + 0x100));
	ti = xr(&x, AREA_GPA + 0x100);
	xnop(&x, 0);
	stable = ti->flags & PVCLOCK_TSC_STABLE_BIT;
	if (!stable)
		TH_LOG("kvm.ko's clock is not TSC-stable here: %s",
		       "below, the bit can only be seen to stay clear");

	ASSERT_EQ(0, xen_config_simple(x.vm, base | CAP_TSC_UNSTABLE,
				       XEN_HCALL_MSR));
	xnop(&x, 0);
	ASSERT_EQ(0, ti->flags & PVCLOCK_TSC_STABLE_BIT);
	ASSERT_EQ(0, xvi(&x, 0)->time.flags & PVCLOCK_TSC_STABLE_BIT);
	ASSERT_EQ(0, ti->version & 1);

	ASSERT_EQ(0, xen_config_simple(x.vm, base, XEN_HCALL_MSR));
	xnop(&x, 0);
	ASSERT_EQ(stable, ti->flags & PVCLOCK_TSC_STABLE_BIT);
	kvm_vm_free(x.vm);
}

/*
 * Xen's CPUID time leaf (base + 3), where the VMM put one: subleaf 1
 * gets the pvclock's scaling, subleaf 2 the guest TSC's kHz, subleaf 0
 * is left alone.  Here the Xen leaves sit at 0x40000100, behind KVM's.
 */
#define XEN_LEAF	0x40000100u

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c, u32 fn, u32 idx)
{
	u32 i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

TEST(cpuid_xen_time_leaf)
{
	struct kvm_cpuid_entry2 *e;
	struct kvm_cpuid2 *c;
	struct xen_pvclock t;
	u32 n, i, khz;
	struct xvm x;

	if (xen_missing(CAPS_SHINFO))
		return;
	xvm_create(&x, 1, 0);
	n = x.vcpu[0]->cpuid->nent;
	c = allocate_kvm_cpuid2(n + 4);
	memcpy(c->entries, x.vcpu[0]->cpuid->entries, n * sizeof(*e));
	e = &c->entries[n];
	memset(e, 0, 4 * sizeof(*e));
	e[0].function = XEN_LEAF;
	e[0].eax = XEN_LEAF + 3;
	e[0].ebx = 0x566e6558;	/* "XenVMMXenVMM" */
	e[0].ecx = 0x65584d4d;
	e[0].edx = 0x4d4d566e;
	for (i = 1; i < 4; i++) {
		e[i].function = XEN_LEAF + 3;
		e[i].index = i - 1;
		e[i].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e[i].ebx = 0x5a5a;
	}
	c->nent = n + 4;
	ASSERT_EQ(0, ioctl_err(x.vcpu[0]->fd, KVM_SET_CPUID2, c));

	xnop(&x, 0);
	memcpy(&t, &xvi(&x, 0)->time, sizeof(t));
	check_pvclock(_metadata, &t, "vcpu_info.time");
	khz = ioctl(x.vcpu[0]->fd, KVM_GET_TSC_KHZ);
	ASSERT_LT(0, (int)khz);

	c->nent = n + 4;
	ASSERT_EQ(0, ioctl_err(x.vcpu[0]->fd, KVM_GET_CPUID2, c));
	e = find_leaf(c, XEN_LEAF + 3, 1);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(t.tsc_to_system_mul, e->ecx);
	ASSERT_EQ((u32)(s32)t.tsc_shift, e->edx);
	ASSERT_EQ(0x5a5a, e->ebx);
	e = find_leaf(c, XEN_LEAF + 3, 2);
	ASSERT_NE(NULL, e);
	/* kvm.ko's rate for this CPU, the VM's rate to within 0.1%. */
	ASSERT_LE(khz - khz / 1000, e->eax);
	ASSERT_GE(khz + khz / 1000, e->eax);
	e = find_leaf(c, XEN_LEAF + 3, 0);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, e->eax);
	ASSERT_EQ(0, e->ecx);
	ASSERT_EQ(0, e->edx);
	free(c);
	kvm_vm_free(x.vm);
}

/* ---- Save and restore --------------------------------------------------- */

static const u16 vm_attr_types[] = {
	KVM_XEN_ATTR_TYPE_LONG_MODE, KVM_XEN_ATTR_TYPE_SHARED_INFO,
	KVM_XEN_ATTR_TYPE_UPCALL_VECTOR, KVM_XEN_ATTR_TYPE_XEN_VERSION,
};

/* In restore order: addresses, then state, then the timer. */
static const u16 vcpu_attr_types[] = {
	KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO,
	KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
	KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
	KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA,
	KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
	KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
	KVM_XEN_VCPU_ATTR_TYPE_TIMER,
};

#define NR_VM_ATTRS	ARRAY_SIZE(vm_attr_types)
#define NR_VCPU_ATTRS	ARRAY_SIZE(vcpu_attr_types)

static bool vcpu_attr_offered(u16 type)
{
	if (type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR ||
	    type == KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA)
		return xen_caps() & CAP_RUNSTATE;
	return true;
}

static void save_attrs(struct __test_metadata *_metadata, struct kvm_vm *vm,
		       struct kvm_vcpu *vcpu, struct kvm_xen_hvm_attr *va,
		       struct kvm_xen_vcpu_attr *ca)
{
	unsigned int i;

	for (i = 0; i < NR_VM_ATTRS; i++) {
		memset(&va[i], 0, sizeof(va[i]));
		va[i].type = vm_attr_types[i];
		ASSERT_EQ(0, xen_get_attr(vm, &va[i]))
			TH_LOG("VM attribute %u", vm_attr_types[i]);
	}
	for (i = 0; i < NR_VCPU_ATTRS; i++) {
		memset(&ca[i], 0, sizeof(ca[i]));
		ca[i].type = vcpu_attr_types[i];
		if (!vcpu_attr_offered(ca[i].type))
			continue;
		ASSERT_EQ(0, xen_vcpu_get(vcpu, &ca[i]))
			TH_LOG("vCPU attribute %u", vcpu_attr_types[i]);
	}
}

/*
 * Everything one VM's Xen state consists of, read with GET, written into
 * a fresh VM with SET (after KVM_SET_CLOCK, as a migration does), reads
 * back the same.
 */
TEST(save_restore)
{
	struct kvm_xen_hvm_attr va[NR_VM_ATTRS], vb[NR_VM_ATTRS];
	struct kvm_xen_vcpu_attr ca[NR_VCPU_ATTRS], cb[NR_VCPU_ATTRS];
	struct kvm_xen_vcpu_attr a;
	struct kvm_clock_data clk;
	bool runstate = xen_caps() & CAP_RUNSTATE;
	unsigned int i;
	struct xvm x;
	struct bvm b;
	u64 expires;

	if (xen_missing(CAPS_SHINFO | CAP_SEND))
		return;
	xvm_create(&x, 1, 0);
	ASSERT_EQ(0, xen_set_version(x.vm, 0x0004000a));
	ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
				      KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO,
				      AREA_GPA + 0x100));
	if (runstate)
		ASSERT_EQ(0, xen_vcpu_set_gpa(x.vcpu[0],
					      KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR,
					      AREA_GPA + 0x300));
	xnop(&x, 0);
	xnop(&x, 0);
	if (runstate)
		ASSERT_EQ(0, set_current(x.vcpu[0], RUNSTATE_blocked));
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
	a.u.vcpu_id = 7;
	ASSERT_EQ(0, xen_vcpu_set(x.vcpu[0], &a));
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR;
	a.u.vector = 0x41;
	ASSERT_EQ(0, xen_vcpu_set(x.vcpu[0], &a));
	expires = kvmclock_ns(x.vm) + 30000 * MS;
	ASSERT_EQ(0, xen_set_timer(x.vcpu[0], 13, PRIO_2L, expires));

	save_attrs(_metadata, x.vm, x.vcpu[0], va, ca);
	memset(&clk, 0, sizeof(clk));
	vm_ioctl(x.vm, KVM_GET_CLOCK, &clk);

	/* What was saved is what was set. */
	ASSERT_EQ(1, va[0].u.long_mode);
	ASSERT_EQ(SHINFO_GFN, va[1].u.shared_info.gfn);
	ASSERT_EQ(UPCALL_VECTOR, va[2].u.vector);
	ASSERT_EQ(0x0004000a, va[3].u.xen_version);
	ASSERT_EQ(SHINFO_GPA, ca[0].u.gpa);
	ASSERT_EQ(AREA_GPA + 0x100, ca[1].u.gpa);
	if (runstate) {
		ASSERT_EQ(AREA_GPA + 0x300, ca[2].u.gpa);
		ASSERT_EQ(RUNSTATE_blocked, ca[3].u.runstate.state);
		ASSERT_NE(0, ca[3].u.runstate.time_running);
	}
	ASSERT_EQ(7, ca[4].u.vcpu_id);
	ASSERT_EQ(0x41, ca[5].u.vector);
	ASSERT_EQ(13, ca[6].u.timer.port);
	ASSERT_EQ(expires, ca[6].u.timer.expires_ns);

	bvm_create(&b, 1);
	clk.flags = 0;
	vm_ioctl(b.vm, KVM_SET_CLOCK, &clk);
	for (i = 0; i < NR_VM_ATTRS; i++) {
		ASSERT_EQ(0, xen_set_attr(b.vm, &va[i]))
			TH_LOG("VM attribute %u", va[i].type);
	}
	for (i = 0; i < NR_VCPU_ATTRS; i++) {
		if (!vcpu_attr_offered(ca[i].type))
			continue;
		ASSERT_EQ(0, xen_vcpu_set(b.vcpu[0], &ca[i]))
			TH_LOG("vCPU attribute %u", ca[i].type);
	}

	save_attrs(_metadata, b.vm, b.vcpu[0], vb, cb);
	for (i = 0; i < NR_VM_ATTRS; i++) {
		ASSERT_EQ(0, memcmp(&va[i], &vb[i], sizeof(va[i])))
			TH_LOG("VM attribute %u differs", va[i].type);
	}
	for (i = 0; i < NR_VCPU_ATTRS; i++) {
		ASSERT_EQ(0, memcmp(&ca[i], &cb[i], sizeof(ca[i])))
			TH_LOG("vCPU attribute %u differs", ca[i].type);
	}

	/* The restored wallclock and pvclock work in the new VM too. */
	ASSERT_EQ(0, ((struct xen_wallclock *)
		      bvm_page(&b, SHINFO_GPA + XEN_SHINFO_WC))->version & 1);
	ASSERT_NE(0, ((struct xen_wallclock *)
		      bvm_page(&b, SHINFO_GPA + XEN_SHINFO_WC))->version);
	kvm_vm_free(b.vm);
	kvm_vm_free(x.vm);
}

TEST_HARNESS_MAIN
