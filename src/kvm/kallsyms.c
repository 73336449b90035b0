// SPDX-License-Identifier: GPL-2.0
/*
 * Finding kvm.ko's non-exported symbols.  kallsyms_lookup_name() has not
 * been exported since 5.7; registering a kprobe on it tells us where it is.
 */
#include <linux/kprobes.h>

#include "kallsyms.h"

static unsigned long (*persona_kallsyms_lookup)(const char *name);

int persona_kallsyms_init(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int r;

	r = register_kprobe(&kp);
	if (r) {
		pr_err("cannot locate kallsyms_lookup_name (%d), not loading\n",
		       r);
		return r;
	}
	persona_kallsyms_lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	return persona_kallsyms_lookup ? 0 : -ENOENT;
}

/* Resolve @name into *@where, or say which symbol is missing. */
int persona_resolve(const char *name, void **where)
{
	*where = (void *)persona_kallsyms_lookup(name);
	if (*where)
		return 0;
	pr_err("kvm.ko has no symbol %s, not loading\n", name);
	return -ENOENT;
}
