// SPDX-License-Identifier: GPL-2.0
/*
 * Built instead of the personalities on kernels configured with
 * CONFIG_KVM_XEN (e.g. Debian's 6.12 backports kernel): their kvm.ko has
 * the Xen ABI already, so the module confirms that and declines to load.
 */
#include <linux/kvm_host.h>
#include <linux/module.h>

#include "kvm/kallsyms.h"

static int __init persona_native_init(void)
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

module_init(persona_native_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Xen and Hyper-V personalities for stock KVM");
MODULE_AUTHOR("The kvm-persona developers");
MODULE_SOFTDEP("pre: kvm");
