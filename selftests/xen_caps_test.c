// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_CAP_XEN_HVM as upstream reports it: on /dev/kvm and on VM file
 * descriptors, the same value, with at least the hypercall MSR and
 * hypercall interception, and nothing 6.12 does not know.
 */
#include "persona_test.h"

static unsigned int system_cap(int cap)
{
	int fd = open(KVM_DEV_PATH, O_RDWR);
	int r;

	TEST_ASSERT(fd >= 0, "open(%s): %s", KVM_DEV_PATH, strerror(errno));
	r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	TEST_ASSERT(r >= 0, "KVM_CHECK_EXTENSION(%d): %s", cap,
		    strerror(errno));
	close(fd);
	return r;
}

static unsigned int vm_cap(struct kvm_vm *vm, int cap)
{
	int r = ioctl(vm->fd, KVM_CHECK_EXTENSION, cap);

	TEST_ASSERT(r >= 0, "KVM_CHECK_EXTENSION(%d) on VM: %s", cap,
		    strerror(errno));
	return r;
}

TEST(system_fd_reports_hypercall_msr_and_intercept)
{
	unsigned int caps;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	caps = system_cap(KVM_CAP_XEN_HVM);
	ASSERT_EQ(XEN_CAPS_BASE, caps & XEN_CAPS_BASE);
	/* The value is a property of the host: asking again changes nothing. */
	ASSERT_EQ(caps, system_cap(KVM_CAP_XEN_HVM));
}

/*
 * Flags 0 to 8: 6.1's six, then RUNSTATE_UPDATE_FLAG, PVCLOCK_TSC_UNSTABLE
 * and SHARED_INFO_HVA.
 */
#define XEN_CAPS_6_12	0x1ffu

TEST(no_flags_beyond_6_12)
{
	unsigned int caps;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	caps = system_cap(KVM_CAP_XEN_HVM);
	ASSERT_EQ(0, caps & ~XEN_CAPS_6_12)
		TH_LOG("KVM_CAP_XEN_HVM %#x has flags unknown to 6.12", caps);
}

/*
 * Upstream only offers runstate and event channels on top of shared_info;
 * a module that advertised them alone would send userspace down paths that
 * need attributes it does not have.
 */
TEST(dependent_flags_come_with_shared_info)
{
	unsigned int dependent = KVM_XEN_HVM_CONFIG_RUNSTATE |
				 KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL |
				 KVM_XEN_HVM_CONFIG_EVTCHN_SEND;
	unsigned int caps;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	caps = system_cap(KVM_CAP_XEN_HVM);
	if (caps & dependent) {
		ASSERT_EQ(KVM_XEN_HVM_CONFIG_SHARED_INFO,
			  caps & KVM_XEN_HVM_CONFIG_SHARED_INFO)
			TH_LOG("KVM_CAP_XEN_HVM %#x", caps);
	}
	/* The update flag is part of the runstate area, HVA of shared_info. */
	if (caps & (1u << 6))
		ASSERT_EQ(KVM_XEN_HVM_CONFIG_RUNSTATE,
			  caps & KVM_XEN_HVM_CONFIG_RUNSTATE);
	if (caps & (1u << 8))
		ASSERT_EQ(KVM_XEN_HVM_CONFIG_SHARED_INFO,
			  caps & KVM_XEN_HVM_CONFIG_SHARED_INFO);
	/* EVTCHN_SEND is the sending half of 2-level event channels. */
	if (caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) {
		ASSERT_EQ(KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL,
			  caps & KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL);
	}
}

TEST(vm_fd_reports_same_value)
{
	struct kvm_vm *vm, *vm2;
	unsigned int caps;

	if (xen_missing(XEN_CAPS_BASE))
		return;

	caps = system_cap(KVM_CAP_XEN_HVM);
	vm = vm_create_barebones();
	ASSERT_EQ(caps, vm_cap(vm, KVM_CAP_XEN_HVM));

	/* Still the same once the VM has Xen enabled... */
	ASSERT_EQ(0, xen_config_simple(vm, KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
				       XEN_HCALL_MSR));
	ASSERT_EQ(caps, vm_cap(vm, KVM_CAP_XEN_HVM));

	/* ...on another VM next to it, and on the system fd. */
	vm2 = vm_create_barebones();
	ASSERT_EQ(caps, vm_cap(vm2, KVM_CAP_XEN_HVM));
	ASSERT_EQ(caps, system_cap(KVM_CAP_XEN_HVM));

	kvm_vm_free(vm2);
	kvm_vm_free(vm);
}

/* Capabilities other than KVM_CAP_XEN_HVM still come from kvm.ko. */
TEST(other_capabilities_unchanged)
{
	struct kvm_vm *vm;

	ASSERT_NE(0, system_cap(KVM_CAP_USER_MEMORY));
	ASSERT_NE(0, system_cap(KVM_CAP_HYPERV));
	ASSERT_NE(0, system_cap(KVM_CAP_HYPERV_CPUID));
	ASSERT_EQ(0, system_cap(0x7fffffff));

	vm = vm_create_barebones();
	ASSERT_EQ(system_cap(KVM_CAP_NR_MEMSLOTS),
		  vm_cap(vm, KVM_CAP_NR_MEMSLOTS));
	ASSERT_NE(0, vm_cap(vm, KVM_CAP_HYPERV));
	ASSERT_EQ(0, vm_cap(vm, 0x7fffffff));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
