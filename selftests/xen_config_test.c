// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_XEN_HVM_CONFIG and KVM_XEN_HVM_{GET,SET}_ATTR argument checking and
 * state, with upstream 6.1 semantics (arch/x86/kvm/xen.c:
 * kvm_xen_hvm_config(), kvm_xen_hvm_set_attr(), kvm_xen_hvm_get_attr()).
 */
#include "persona_test.h"

/* The config flags userspace may set in 6.1; the rest are caps only. */
#define SETTABLE_6_1	(KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL | \
			 KVM_XEN_HVM_CONFIG_EVTCHN_SEND)
/* 6.12's KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE, settable when offered. */
#define PVCLOCK_TSC_UNSTABLE_FLAG	BIT(7)

TEST(config_rejects_flags_userspace_cannot_set)
{
	unsigned int caps;
	struct kvm_vm *vm;
	int bit;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	caps = xen_caps();
	vm = vm_create_barebones();

	for (bit = 0; bit < 32; bit++) {
		u32 flag = 1u << bit;

		if (flag & SETTABLE_6_1)
			continue;
		if (flag == PVCLOCK_TSC_UNSTABLE_FLAG && (caps & flag))
			continue;
		ASSERT_EQ(-EINVAL, xen_config_simple(vm, flag, XEN_HCALL_MSR))
			TH_LOG("flags %#x", flag);
		/* A valid flag next to it does not make it acceptable. */
		ASSERT_EQ(-EINVAL,
			  xen_config_simple(vm, flag |
					    KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
					    XEN_HCALL_MSR))
			TH_LOG("flags %#x", flag);
	}
	/* HYPERCALL_MSR is a capability, never a config flag. */
	ASSERT_EQ(-EINVAL,
		  xen_config_simple(vm, KVM_XEN_HVM_CONFIG_HYPERCALL_MSR, 0));

	/* EVTCHN_SEND is settable wherever it is offered. */
	if (caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) {
		ASSERT_EQ(0, xen_config_simple(vm,
					       KVM_XEN_HVM_CONFIG_EVTCHN_SEND |
					       KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
					       XEN_HCALL_MSR));
	}
	kvm_vm_free(vm);
}

TEST(intercept_rejects_blob)
{
	struct kvm_xen_hvm_config c;
	struct kvm_vm *vm;
	int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	for (i = 0; i < 4; i++) {
		memset(&c, 0, sizeof(c));
		c.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
		c.msr = XEN_HCALL_MSR;
		switch (i) {
		case 0:
			c.blob_addr_32 = 0x10000;
			break;
		case 1:
			c.blob_addr_64 = 0x10000;
			break;
		case 2:
			c.blob_size_32 = 1;
			break;
		case 3:
			c.blob_size_64 = 1;
			break;
		}
		ASSERT_EQ(-EINVAL, xen_config(vm, &c))
			TH_LOG("blob field %d set with INTERCEPT_HCALL", i);

		/* Without interception the blob is what userspace offers. */
		c.flags = 0;
		ASSERT_EQ(0, xen_config(vm, &c))
			TH_LOG("blob field %d set without INTERCEPT_HCALL", i);
	}
	kvm_vm_free(vm);
}

TEST(config_enable_change_disable)
{
	struct kvm_vm *vm, *vm2;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	/* Reconfiguring is allowed: another MSR, same flags. */
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR_LOW));
	/* Disable; twice, which must be harmless. */
	ASSERT_EQ(0, xen_config_simple(vm, 0, 0));
	ASSERT_EQ(0, xen_config_simple(vm, 0, 0));
	/* And enable again. */
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	/* Disabling what was never enabled is fine too. */
	vm2 = vm_create_barebones();
	ASSERT_EQ(0, xen_config_simple(vm2, 0, 0));

	/* Configuration works after vCPUs exist as well as before. */
	__vm_vcpu_add(vm2, 0);
	ASSERT_EQ(0, xen_config_simple(vm2, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	kvm_vm_free(vm2);
	kvm_vm_free(vm);
}

/*
 * The hypercall-page MSR must be in the synthetic range, as later upstream
 * kernels require: anything else would shadow an MSR the guest really
 * has (6.1 itself accepts any index).
 */
TEST(config_msr_in_synthetic_range)
{
	static const u32 bad[] = {
		0x10 /* TSC */, 0xc0000080 /* EFER */, 0x3fffffff, 0x50000000,
		0xffffffff,
	};
	static const u32 good[] = { 0x40000000, 0x40000200, 0x4fffffff };
	struct kvm_vm *vm;
	unsigned int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(-EINVAL,
			  xen_config_simple(vm,
					    KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
					    bad[i]))
			TH_LOG("msr %#x", bad[i]);
	for (i = 0; i < ARRAY_SIZE(good); i++)
		ASSERT_EQ(0, xen_config_simple(vm,
					       KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
					       good[i]))
			TH_LOG("msr %#x", good[i]);
	kvm_vm_free(vm);
}

/* 6.1 neither checks nor uses pad2[]: nonzero padding is accepted. */
TEST(config_ignores_padding)
{
	struct kvm_xen_hvm_config c = {
		.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
		.msr = XEN_HCALL_MSR,
	};
	struct kvm_vm *vm;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	memset(c.pad2, 0xff, sizeof(c.pad2));
	ASSERT_EQ(0, xen_config(vm, &c));
	kvm_vm_free(vm);
}

/* A VM that never configured Xen reads upstream's defaults. */
TEST(attr_defaults)
{
	struct kvm_xen_hvm_attr a;
	unsigned int caps;
	struct kvm_vm *vm;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	caps = xen_caps();
	vm = vm_create_barebones();

	ASSERT_EQ(0, xen_get_long_mode(vm));

	memset(&a, 0xa5, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	ASSERT_EQ(0, xen_get_attr(vm, &a));
	ASSERT_EQ(0, a.u.xen_version);

	/* Configuring Xen does not change them. */
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_get_long_mode(vm));
	memset(&a, 0xa5, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	ASSERT_EQ(0, xen_get_attr(vm, &a));
	ASSERT_EQ(0, a.u.xen_version);

	/* The shared_info attributes, where they are offered. */
	if (caps & KVM_XEN_HVM_CONFIG_SHARED_INFO) {
		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_SHARED_INFO;
		ASSERT_EQ(0, xen_get_attr(vm, &a));
		ASSERT_EQ(~0ull, a.u.shared_info.gfn);

		memset(&a, 0xa5, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR;
		ASSERT_EQ(0, xen_get_attr(vm, &a));
		ASSERT_EQ(0, a.u.vector);

		/* Vectors below 0x10 are reserved for exceptions. */
		a.u.vector = 0x0f;
		ASSERT_EQ(-EINVAL, xen_set_attr(vm, &a));
		a.u.vector = 0xf3;
		ASSERT_EQ(0, xen_set_attr(vm, &a));
		a.u.vector = 0;
		ASSERT_EQ(0, xen_get_attr(vm, &a));
		ASSERT_EQ(0xf3, a.u.vector);
		a.u.vector = 0;
		ASSERT_EQ(0, xen_set_attr(vm, &a));
	}
	kvm_vm_free(vm);
}

TEST(attr_xen_version_round_trip)
{
	static const u32 values[] = {
		0x0004000a, 0x8004000a, 0xffffffff, 0x00010002, 0,
	};
	struct kvm_xen_hvm_attr a;
	struct kvm_vm *vm;
	unsigned int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		ASSERT_EQ(0, xen_set_version(vm, values[i]));
		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
		ASSERT_EQ(0, xen_get_attr(vm, &a));
		ASSERT_EQ(values[i], a.u.xen_version);
	}
	kvm_vm_free(vm);
}

/* 6.1 stores !!u.long_mode: any nonzero byte reads back as 1. */
TEST(attr_long_mode_round_trip)
{
	static const struct {
		u8 set, get;
	} values[] = {
		{ 1, 1 }, { 0, 0 }, { 2, 1 }, { 0xff, 1 }, { 0x80, 1 }, { 0, 0 },
	};
	struct kvm_vm *vm;
	unsigned int i;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		ASSERT_EQ(0, xen_set_long_mode(vm, values[i].set));
		ASSERT_EQ(values[i].get, xen_get_long_mode(vm))
			TH_LOG("LONG_MODE set to %#x", values[i].set);
	}
	kvm_vm_free(vm);
}

/* Unknown attribute types: -ENOENT from both GET and SET (xen.c). */
TEST(attr_unknown_type)
{
	u16 types[8];
	struct kvm_xen_hvm_attr a;
	unsigned int caps, n = 0, i;
	struct kvm_vm *vm;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	caps = xen_caps();
	vm = vm_create_barebones();

	/* 5 and 6 are types of later kernels, tied to their cap flags. */
	if (!(caps & (1u << 6)))
		types[n++] = 5;		/* RUNSTATE_UPDATE_FLAG */
	if (!(caps & (1u << 8)))
		types[n++] = 6;		/* SHARED_INFO_HVA */
	types[n++] = 7;
	types[n++] = 0x100;
	types[n++] = 0x8000;
	types[n++] = 0xffff;

	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.type = types[i];
		ASSERT_EQ(-ENOENT, xen_get_attr(vm, &a))
			TH_LOG("GET_ATTR type %#x", types[i]);
		ASSERT_EQ(-ENOENT, xen_set_attr(vm, &a))
			TH_LOG("SET_ATTR type %#x", types[i]);
	}

	/* Still -ENOENT once Xen is enabled. */
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	memset(&a, 0, sizeof(a));
	a.type = 0xffff;
	ASSERT_EQ(-ENOENT, xen_get_attr(vm, &a));
	ASSERT_EQ(-ENOENT, xen_set_attr(vm, &a));
	kvm_vm_free(vm);
}

/* 6.1 ignores the pad[] words of struct kvm_xen_hvm_attr. */
TEST(attr_ignores_padding)
{
	struct kvm_xen_hvm_attr a;
	struct kvm_vm *vm;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	a.pad[0] = 0x1234;
	a.pad[1] = 0xffff;
	a.pad[2] = 0x8000;
	a.u.xen_version = 0x0004000b;
	ASSERT_EQ(0, xen_set_attr(vm, &a));

	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	a.pad[1] = 0x5a5a;
	ASSERT_EQ(0, xen_get_attr(vm, &a));
	ASSERT_EQ(0x0004000b, a.u.xen_version);
	kvm_vm_free(vm);
}

/* Attributes are per VM. */
TEST(attrs_are_per_vm)
{
	struct kvm_xen_hvm_attr a;
	struct kvm_vm *vm1, *vm2;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm1 = vm_create_barebones();
	vm2 = vm_create_barebones();

	ASSERT_EQ(0, xen_config_simple(vm1, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(0, xen_set_version(vm1, 0x0004000a));
	ASSERT_EQ(0, xen_set_long_mode(vm1, 1));

	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	ASSERT_EQ(0, xen_get_attr(vm2, &a));
	ASSERT_EQ(0, a.u.xen_version);
	ASSERT_EQ(0, xen_get_long_mode(vm2));

	ASSERT_EQ(0, xen_set_version(vm2, 0x00030001));
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;
	ASSERT_EQ(0, xen_get_attr(vm1, &a));
	ASSERT_EQ(0x0004000a, a.u.xen_version);
	ASSERT_EQ(1, xen_get_long_mode(vm1));

	kvm_vm_free(vm2);
	kvm_vm_free(vm1);
}

/*
 * The Xen ioctls belong to VM file descriptors.  kvm.ko answers them with
 * -EINVAL on /dev/kvm and on vCPU fds (the default case of
 * kvm_arch_dev_ioctl() and kvm_arch_vcpu_ioctl()), and the vCPU ones with
 * -ENOTTY on a VM fd (kvm_arch_vm_ioctl()).
 */
TEST(ioctls_only_on_their_fd)
{
	struct kvm_xen_hvm_config c = {
		.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
		.msr = XEN_HCALL_MSR,
	};
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_LONG_MODE };
	struct kvm_xen_vcpu_attr va = { .type = 0 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int kvm_fd;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();
	vcpu = __vm_vcpu_add(vm, 0);
	kvm_fd = open(KVM_DEV_PATH, O_RDWR);
	ASSERT_LE(0, kvm_fd);

	ASSERT_EQ(-EINVAL, ioctl_err(kvm_fd, KVM_XEN_HVM_CONFIG, &c));
	ASSERT_EQ(-EINVAL, ioctl_err(kvm_fd, KVM_XEN_HVM_GET_ATTR, &a));
	ASSERT_EQ(-EINVAL, ioctl_err(kvm_fd, KVM_XEN_HVM_SET_ATTR, &a));

	ASSERT_EQ(-EINVAL, ioctl_err(vcpu->fd, KVM_XEN_HVM_CONFIG, &c));
	ASSERT_EQ(-EINVAL, ioctl_err(vcpu->fd, KVM_XEN_HVM_GET_ATTR, &a));
	ASSERT_EQ(-EINVAL, ioctl_err(vcpu->fd, KVM_XEN_HVM_SET_ATTR, &a));

	ASSERT_EQ(-ENOTTY, ioctl_err(vm->fd, KVM_XEN_VCPU_GET_ATTR, &va));
	ASSERT_EQ(-ENOTTY, ioctl_err(vm->fd, KVM_XEN_VCPU_SET_ATTR, &va));

	/* None of that enabled anything on the VM. */
	ASSERT_EQ(0, xen_get_long_mode(vm));

	close(kvm_fd);
	kvm_vm_free(vm);
}

/* A bad argument pointer is -EFAULT, as for every copy_from_user(). */
TEST(ioctls_fault_on_bad_pointer)
{
	struct kvm_vm *vm;

	if (xen_missing(XEN_CAPS_BASE))
		return;
	vm = vm_create_barebones();

	ASSERT_EQ(-EFAULT, ioctl_err(vm->fd, KVM_XEN_HVM_CONFIG, (void *)8));
	ASSERT_EQ(-EFAULT, ioctl_err(vm->fd, KVM_XEN_HVM_GET_ATTR, (void *)8));
	ASSERT_EQ(-EFAULT, ioctl_err(vm->fd, KVM_XEN_HVM_SET_ATTR, (void *)8));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
