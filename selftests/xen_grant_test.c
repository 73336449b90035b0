// SPDX-License-Identifier: GPL-2.0
/*
 * Grant tables between two VMs (kvm-persona's extension,
 * Documentation/abi.rst "Domains"): the kernel learns where a guest put
 * its grant frames from XENMEM_add_to_physmap (which the VMM answers),
 * and does GNTTABOP_copy between VMs with Xen's checks and status codes:
 * the grantee's ID, permit and read-only flags, GTF_reading/GTF_writing
 * released afterwards, bounds, unknown domains and references, batches
 * and their restart, the granter's death, and a granter in another
 * process (whose memory the kernel reaches in that process's address
 * space).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "persona_xen.h"

/* The granter's pages: its grant frame 0 and the page it grants. */
#define GRANT_FRAME_GPA		(XR_GPA + 0x6000)
#define DATA_GPA		(XR_GPA + 0x7000)
/* The copier's own page, and where its copy ops go (argument area). */
#define LOCAL_GPA		(XR_GPA + 0x7000)
#define OPS_OFF			0

struct xatp {
	u16 domid;
	u16 size;
	u32 space;
	u64 idx;
	u64 gpfn;
};

static_assert(sizeof(struct xatp) == 24, "xen_add_to_physmap");

static u16 __domid(struct __test_metadata *_metadata, struct kvm_vm *vm)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_PERSONA_DOMID };

	ASSERT_EQ(0, xen_get_attr(vm, &a));
	return a.u.pad[0];
}

#define domid(vm) __domid(_metadata, vm)

static bool __gnt_missing(struct __test_metadata *_metadata)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_PERSONA_DOMID };
	struct kvm_vm *vm;
	int r;

	if (xen_missing(CAPS_EVTCHN))
		return true;
	vm = vm_create_barebones();
	r = xen_get_attr(vm, &a);
	kvm_vm_free(vm);
	if (r == -ENOENT)
		SKIP(return true, "no domain IDs: not kvm-persona");
	ASSERT_EQ(0, r);
	return false;
}

/*
 * The granter places grant frame 0 at GRANT_FRAME_GPA; the call exits to
 * the VMM (us), which answers it as QEMU would.
 */
static void __place_frame(struct __test_metadata *_metadata, struct xvm *x)
{
	struct xatp *p = arg_hva(x, 0);
	struct kvm_xen_exit *e;

	*p = (struct xatp){ .domid = DOMID_SELF,
			    .space = XENMAPSPACE_grant_table,
			    .idx = 0, .gpfn = GRANT_FRAME_GPA >> 12 };
	e = xexit(x, 0, XEN_HC_memory_op, XENMEM_add_to_physmap, arg_gva(0), 0);
	ASSERT_EQ(XENMEM_add_to_physmap, e->u.hcall.params[0]);
	ASSERT_EQ(0, xfinish(x, 0, 0));
}

#define place_frame(x) __place_frame(_metadata, x)

static struct xen_grant_entry *entry(struct xvm *x, u32 ref)
{
	return (struct xen_grant_entry *)xr(x, GRANT_FRAME_GPA) + ref;
}

static void grant(struct xvm *x, u32 ref, u16 grantee, u16 flags)
{
	*entry(x, ref) = (struct xen_grant_entry){
		.flags = GTF_permit_access | flags,
		.domid = grantee,
		.frame = DATA_GPA >> 12,
	};
}

static struct xen_gnttab_copy *op(struct xvm *x, unsigned int i)
{
	return (struct xen_gnttab_copy *)arg_hva(x, OPS_OFF) + i;
}

/* Copy from the granter's @ref into the copier's LOCAL page. */
static void put_read(struct xvm *x, unsigned int i, u16 granter, u32 ref,
		     u16 soff, u16 doff, u16 len)
{
	*op(x, i) = (struct xen_gnttab_copy){
		.source = { .u = ref, .domid = granter, .offset = soff },
		.dest = { .u = LOCAL_GPA >> 12, .domid = DOMID_SELF,
			  .offset = doff },
		.len = len, .flags = GNTCOPY_source_gref, .status = 0x55,
	};
}

/* Copy from the copier's LOCAL page into the granter's @ref. */
static void put_write(struct xvm *x, unsigned int i, u16 granter, u32 ref,
		      u16 soff, u16 doff, u16 len)
{
	*op(x, i) = (struct xen_gnttab_copy){
		.source = { .u = LOCAL_GPA >> 12, .domid = DOMID_SELF,
			    .offset = soff },
		.dest = { .u = ref, .domid = granter, .offset = doff },
		.len = len, .flags = GNTCOPY_dest_gref, .status = 0x55,
	};
}

static s64 __copy(struct __test_metadata *_metadata, struct xvm *x, u32 count)
{
	return (s64)__xdo(_metadata, x, 0, GOP_HCALL, XEN_HC_grant_table_op,
			  GNTTABOP_copy, arg_gva(OPS_OFF), count, 0);
}

#define copy(x, count) __copy(_metadata, x, count)

/* Run one prepared op; its status (the call itself must succeed). */
static s16 __copy1(struct __test_metadata *_metadata, struct xvm *x)
{
	EXPECT_EQ(0, copy(x, 1));
	return op(x, 0)->status;
}

#define copy1(x) __copy1(_metadata, x)

static void fill(u8 *p, u8 seed, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = seed + i * 7;
}

FIXTURE(gnt) {
	struct xvm a, b;	/* a grants, b copies */
	u16 ida, idb;
	u8 *data;		/* a's granted page */
	u8 *local;		/* b's own page */
};

FIXTURE_SETUP(gnt)
{
	if (__gnt_missing(_metadata))
		return;
	xvm_create(&self->a, 1, 0);
	xvm_create(&self->b, 1, 0);
	self->ida = domid(self->a.vm);
	self->idb = domid(self->b.vm);
	self->data = xr(&self->a, DATA_GPA);
	self->local = xr(&self->b, LOCAL_GPA);
	fill(self->data, 1, 4096);
	memset(self->local, 0, 4096);
	place_frame(&self->a);
}

FIXTURE_TEARDOWN(gnt)
{
	if (self->a.vm)
		kvm_vm_free(self->a.vm);
	if (self->b.vm)
		kvm_vm_free(self->b.vm);
}

TEST_F(gnt, copy_from_grant)
{
	if (!self->b.vm)
		return;
	grant(&self->a, 3, self->idb, GTF_readonly);
	put_read(&self->b, 0, self->ida, 3, 16, 32, 100);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));
	ASSERT_EQ(0, memcmp(self->local + 32, self->data + 16, 100));
	ASSERT_EQ(0, self->local[31]);
	ASSERT_EQ(0, self->local[132]);
	/* Released: the granter may end the grant. */
	ASSERT_EQ(GTF_permit_access | GTF_readonly, entry(&self->a, 3)->flags);
	ASSERT_EQ(self->idb, entry(&self->a, 3)->domid);

	/* The whole page; a zero length is fine too. */
	put_read(&self->b, 0, self->ida, 3, 0, 0, 4096);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));
	ASSERT_EQ(0, memcmp(self->local, self->data, 4096));
	put_read(&self->b, 0, self->ida, 3, 4096, 4096, 0);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));
}

TEST_F(gnt, copy_to_grant)
{
	if (!self->b.vm)
		return;
	fill(self->local, 99, 4096);
	grant(&self->a, 7, self->idb, 0);
	put_write(&self->b, 0, self->ida, 7, 8, 4000, 96);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));
	ASSERT_EQ(0, memcmp(self->data + 4000, self->local + 8, 96));
	ASSERT_EQ(GTF_permit_access, entry(&self->a, 7)->flags);

	/* Read-only: refused, nothing written. */
	fill(self->data, 1, 4096);
	grant(&self->a, 7, self->idb, GTF_readonly);
	put_write(&self->b, 0, self->ida, 7, 0, 0, 64);
	ASSERT_EQ(GNTST_general_error, copy1(&self->b));
	ASSERT_EQ(1, self->data[0]);
	ASSERT_EQ(GTF_permit_access | GTF_readonly, entry(&self->a, 7)->flags);
}

/* Every refusal, with Xen's status, and nothing copied. */
TEST_F(gnt, errors)
{
	struct xen_gnttab_copy *o = op(&self->b, 0);

	if (!self->b.vm)
		return;
	grant(&self->a, 1, self->idb, 0);

	/* Granted to someone else; not a permit; out of the known frames. */
	grant(&self->a, 2, self->idb + 1, 0);
	put_read(&self->b, 0, self->ida, 2, 0, 0, 8);
	ASSERT_EQ(GNTST_general_error, copy1(&self->b));
	entry(&self->a, 2)->domid = self->idb;
	entry(&self->a, 2)->flags = 0;
	ASSERT_EQ(GNTST_general_error, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 512, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_gntref, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 0xffffffff, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_gntref, copy1(&self->b));

	/* No such domain; a frame number of another domain. */
	put_read(&self->b, 0, 0x7000, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_domain, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	o->dest.domid = self->ida;
	ASSERT_EQ(GNTST_permission_denied, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	o->dest.domid = self->idb;	/* its own ID is not DOMID_SELF */
	ASSERT_EQ(GNTST_permission_denied, copy1(&self->b));

	/* Bounds, after the claims. */
	put_read(&self->b, 0, self->ida, 1, 4000, 0, 97);
	ASSERT_EQ(GNTST_bad_copy_arg, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 1, 0, 4095, 2);
	ASSERT_EQ(GNTST_bad_copy_arg, copy1(&self->b));
	put_read(&self->b, 0, self->ida, 512, 4000, 0, 97);
	ASSERT_EQ(GNTST_bad_gntref, copy1(&self->b));

	/* A local frame or a granted frame that is not memory. */
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	o->dest.u = 0xfff00000ull;
	ASSERT_EQ(GNTST_bad_page, copy1(&self->b));
	entry(&self->a, 1)->frame = 0xfff00000u;
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_page, copy1(&self->b));
	ASSERT_EQ(GTF_permit_access, entry(&self->a, 1)->flags);

	ASSERT_EQ(0, self->local[0]);
	ASSERT_EQ(0, copy(&self->b, 0));	/* nothing to do */

	/* The ops cannot be read; a negative count. */
	ASSERT_EQ(-14, (s64)__xdo(_metadata, &self->b, 0, GOP_HCALL,
				  XEN_HC_grant_table_op, GNTTABOP_copy,
				  UNMAPPED_GVA, 1, 0));
	ASSERT_EQ(-22, copy(&self->b, 0x80000000u));
}

/* A batch: each op its own status, the call 0; long ones restart. */
TEST_F(gnt, batches)
{
	unsigned int i, n = 300;

	if (!self->b.vm)
		return;
	grant(&self->a, 1, self->idb, 0);
	put_read(&self->b, 0, self->ida, 1, 0, 0, 16);
	put_read(&self->b, 1, self->ida, 9, 0, 16, 16);
	put_read(&self->b, 2, self->ida, 1, 16, 32, 16);
	ASSERT_EQ(0, copy(&self->b, 3));
	ASSERT_EQ(GNTST_okay, op(&self->b, 0)->status);
	ASSERT_EQ(GNTST_general_error, op(&self->b, 1)->status);
	ASSERT_EQ(GNTST_okay, op(&self->b, 2)->status);
	ASSERT_EQ(0, memcmp(self->local, self->data, 16));
	ASSERT_EQ(0, self->local[16]);
	ASSERT_EQ(0, memcmp(self->local + 32, self->data + 16, 16));

	/* More than one round (256 ops): the guest makes the call again. */
	memset(self->local, 0, 4096);
	for (i = 0; i < n; i++)
		put_read(&self->b, i, self->ida, 1, (i * 8) % 4096,
			 (i * 8) % 4096, 8);
	ASSERT_EQ(0, copy(&self->b, n));
	for (i = 0; i < n && op(&self->b, i)->status == GNTST_okay; i++)
		;
	ASSERT_EQ(n, i);
	ASSERT_EQ(0, memcmp(self->local, self->data, n * 8));
}

/* The granter is gone: its grants are. */
TEST_F(gnt, granter_dies)
{
	if (!self->b.vm)
		return;
	grant(&self->a, 1, self->idb, 0);
	kvm_vm_free(self->a.vm);
	self->a.vm = NULL;
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_domain, copy1(&self->b));
}

/*
 * A frame placed anew moves the table, a failed placement does not;
 * removing the page or a soft reset forgets it.
 */
TEST_F(gnt, frame_placement)
{
	struct xatp *xatp = arg_hva(&self->a, 0);
	u64 *p = arg_hva(&self->a, 0);
	struct kvm_xen_exit *e;

	if (!self->b.vm)
		return;
	grant(&self->a, 1, self->idb, 0);
	*xatp = (struct xatp){ .domid = DOMID_SELF,
			    .space = XENMAPSPACE_grant_table,
			    .idx = 0, .gpfn = (XR_GPA + 0x5000) >> 12 };
	e = xexit(&self->a, 0, XEN_HC_memory_op, XENMEM_add_to_physmap,
		  arg_gva(0), 0);
	ASSERT_EQ(-22, (s64)xfinish(&self->a, 0, -22));
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));

	e = xexit(&self->a, 0, XEN_HC_memory_op, XENMEM_add_to_physmap,
		  arg_gva(0), 0);
	ASSERT_EQ(0, e->u.hcall.result);
	ASSERT_EQ(0, xfinish(&self->a, 0, 0));
	/* Page 5 of a holds zeros: no valid entry there. */
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_general_error, copy1(&self->b));

	/* Taken out of the guest's address space: forgotten, at once. */
	p[0] = DOMID_SELF;
	p[1] = (XR_GPA + 0x5000) >> 12;
	e = xexit(&self->a, 0, XEN_HC_memory_op, XENMEM_remove_from_physmap,
		  arg_gva(0), 0);
	ASSERT_EQ(0, xfinish(&self->a, 0, 0));
	put_read(&self->b, 0, self->ida, 1, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_gntref, copy1(&self->b));

	/* Placed again, then a soft reset forgets it too. */
	place_frame(&self->a);
	ASSERT_EQ(GNTST_okay, copy1(&self->b));
	*(u32 *)arg_hva(&self->a, 0) = SHUTDOWN_soft_reset;
	xexit(&self->a, 0, XEN_HC_sched_op, SCHEDOP_shutdown, arg_gva(0), 0);
	ASSERT_EQ(0, xfinish(&self->a, 0, 0));
	ASSERT_EQ(GNTST_bad_gntref, copy1(&self->b));
}

/*
 * The granter in another process: the kernel reaches its grant table and
 * page in that process's address space, from a worker.
 */
struct shared {
	u16 ida, idb;
	int ok;
};

static void granter_child(struct __test_metadata *_metadata,
			  struct shared *sh, int go, int done)
{
	struct xvm a;
	char c;

	xvm_create(&a, 1, 0);
	place_frame(&a);
	fill(xr(&a, DATA_GPA), 3, 4096);
	sh->ida = domid(a.vm);
	ASSERT_EQ(1, write(done, "r", 1));
	/* The parent tells us b's ID, then copies. */
	ASSERT_EQ(1, read(go, &c, 1));
	grant(&a, 4, sh->idb, 0);
	ASSERT_EQ(1, write(done, "g", 1));
	ASSERT_EQ(1, read(go, &c, 1));
	/* b wrote its page's bytes 0..63 to ours at 100. */
	sh->ok = !memcmp((u8 *)xr(&a, DATA_GPA) + 100, "persona", 8) &&
		 entry(&a, 4)->flags == GTF_permit_access;
	kvm_vm_free(a.vm);
	_exit(0);
}

TEST(granter_in_other_process)
{
	struct shared *sh;
	int to_child[2], to_parent[2], status;
	static u8 want[4096];
	struct xvm b;
	pid_t pid;
	char c;

	if (__gnt_missing(_metadata))
		return;
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		granter_child(_metadata, sh, to_child[0], to_parent[1]);

	xvm_create(&b, 1, 0);
	sh->idb = domid(b.vm);
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	ASSERT_EQ(1, write(to_child[1], "b", 1));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));

	memset(xr(&b, LOCAL_GPA), 0, 4096);
	put_read(&b, 0, sh->ida, 4, 0, 0, 4096);
	ASSERT_EQ(GNTST_okay, __copy1(_metadata, &b));
	fill(want, 3, sizeof(want));
	ASSERT_EQ(0, memcmp(xr(&b, LOCAL_GPA), want, sizeof(want)));
	memcpy(xr(&b, LOCAL_GPA), "persona", 8);
	put_write(&b, 0, sh->ida, 4, 0, 100, 8);
	ASSERT_EQ(GNTST_okay, __copy1(_metadata, &b));
	/* Another domain's grant, from here too: refused. */
	put_read(&b, 0, sh->ida, 5, 0, 0, 8);
	ASSERT_EQ(GNTST_general_error, __copy1(_metadata, &b));

	ASSERT_EQ(1, write(to_child[1], "c", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(1, sh->ok);

	/* The granter's process is gone with its VM. */
	put_read(&b, 0, sh->ida, 4, 0, 0, 8);
	ASSERT_EQ(GNTST_bad_domain, __copy1(_metadata, &b));
	kvm_vm_free(b.vm);
}

TEST_HARNESS_MAIN
