// SPDX-License-Identifier: GPL-2.0
/*
 * Built instead of the personality on kernels configured with
 * CONFIG_KVM_XEN (e.g. Debian's 6.12 backports kernel): their kvm.ko has
 * the Xen ABI already, so the module confirms that and declines to load.
 */
#include <linux/kvm_host.h>

#include "persona.h"

int persona_hooks_init(void)
{
	int (*check_extension)(struct kvm *kvm, long ext);
	int r;

	r = persona_kallsyms_init();
	r = r ?: persona_resolve("kvm_vm_ioctl_check_extension",
				 (void **)&check_extension);
	if (r)
		return r;

	r = check_extension(NULL, KVM_CAP_XEN_HVM);
	pr_err("kvm.ko already implements the Xen ABI (KVM_CAP_XEN_HVM=%#x), not loading\n",
	       r);
	return -EEXIST;
}

void persona_hooks_exit(void)
{
}

int persona_xen_caps(void)
{
	return 0;
}

int persona_vm_init(void)
{
	return 0;
}

void persona_vm_exit(void)
{
}
