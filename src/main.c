// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-persona: a Xen (and Hyper-V) personality for stock KVM hosts.
 */
#include <linux/module.h>

#include "core/dispatch.h"
#include "xen/xen.h"

static int __init persona_init(void)
{
	int r;

	r = persona_xen_init();
	if (r)
		return r;
	r = persona_dispatch_init();
	if (r) {
		persona_xen_exit();
		return r;
	}
	pr_info("Xen personality available (KVM_CAP_XEN_HVM=%#x)\n",
		persona_xen_caps());
	return 0;
}

static void __exit persona_exit(void)
{
	persona_dispatch_exit();
	persona_xen_exit();
}

module_init(persona_init);
module_exit(persona_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Xen and Hyper-V personalities for stock KVM");
MODULE_AUTHOR("The kvm-persona developers");
MODULE_SOFTDEP("pre: kvm");
MODULE_VERSION(PERSONA_VERSION);
