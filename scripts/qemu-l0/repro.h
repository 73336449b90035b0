/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the reproducers in this directory share.  They run in a test
 * host (L1) and need its two CPUs apart: the vCPU thread on one, the
 * thread that provokes the flaw on the other.
 */
#ifndef QEMU_L0_REPRO_H
#define QEMU_L0_REPRO_H

#include <sched.h>

/* Keep the calling thread on one L1 CPU. */
static inline void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

#endif
