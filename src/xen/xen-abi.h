/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-visible Xen structures for 32-bit guests, which Linux's
 * <xen/interface/...> headers describe only for the kernel's own word
 * size.  Offsets are Xen's ABI; static_assert()s below pin them.
 */
#ifndef _KVM_PERSONA_XEN_H
#define _KVM_PERSONA_XEN_H

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <asm/pvclock-abi.h>
#include <xen/interface/xen.h>
#include <xen/interface/vcpu.h>

/* "No shared_info page", as KVM_XEN_ATTR_TYPE_SHARED_INFO reports it. */
#define PERSONA_XEN_INVALID_GFN	(~0ULL)

/* Ports the 2-level ABI can name: bits in evtchn_pending[]. */
#define PERSONA_EVTCHN_2L_PORTS_64	4096
#define PERSONA_EVTCHN_2L_PORTS_32	1024

struct persona_compat_vcpu_info {
	u8 evtchn_upcall_pending;
	u8 evtchn_upcall_mask;
	u16 pad;
	u32 evtchn_pending_sel;
	u32 cr2;
	u32 pad2[5];
	struct pvclock_vcpu_time_info time;
};

struct persona_compat_shared_info {
	struct persona_compat_vcpu_info vcpu_info[32];
	u32 evtchn_pending[32];
	u32 evtchn_mask[32];
	struct pvclock_wall_clock wc;
	u32 max_pfn;
	u32 pfn_to_mfn_frame_list_list;
	u32 nmi_reason;
	u32 p2m_cr3;
	u32 p2m_vaddr;
	u32 p2m_generation;
	u32 wc_sec_hi;
};

struct persona_compat_runstate_info {
	int state;
	u64 state_entry_time;
	u64 time[4];
} __packed;

struct persona_compat_singleshot_timer {
	u64 timeout_abs_ns;
	u32 flags;
} __packed;

static_assert(sizeof(struct persona_compat_vcpu_info) == 0x40);
static_assert(offsetof(struct persona_compat_vcpu_info, time) == 0x20);
static_assert(sizeof(struct vcpu_info) == 0x40);
static_assert(offsetof(struct vcpu_info, time) == 0x20);
static_assert(offsetof(struct persona_compat_shared_info, evtchn_pending) ==
	      0x800);
static_assert(offsetof(struct persona_compat_shared_info, wc) == 0x900);
static_assert(offsetof(struct persona_compat_shared_info, wc_sec_hi) == 0x924);
static_assert(offsetof(struct shared_info, evtchn_pending) == 0x800);
static_assert(offsetof(struct shared_info, evtchn_mask) == 0xa00);
static_assert(offsetof(struct shared_info, wc) == 0xc00);
static_assert(offsetof(struct shared_info, wc_sec_hi) == 0xc0c);
static_assert(sizeof(struct persona_compat_runstate_info) == 0x2c);
static_assert(sizeof(struct vcpu_runstate_info) == 0x30);
static_assert(offsetof(struct vcpu_runstate_info, state_entry_time) == 8);
static_assert(offsetof(struct vcpu_runstate_info, time) == 0x10);
static_assert(sizeof(struct persona_compat_singleshot_timer) == 12);

#endif /* _KVM_PERSONA_XEN_H */
