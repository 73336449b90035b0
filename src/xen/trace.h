/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the Xen personality, in tracefs as events/kvm_persona/
 * (perf and trace-cmd: kvm_persona:*).  kvm_xen_hypercall has the name
 * and fields of upstream KVM's event of that name, so what reads one
 * reads the other; upstream has no event for the rest.  The Hyper-V
 * personality is kvm.ko's own and traces as kvm:kvm_hv_*.
 *
 * Documentation/abi.rst, "Tracepoints", lists the fields.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvm_persona

#if !defined(_PERSONA_XEN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PERSONA_XEN_TRACE_H

#include <linux/tracepoint.h>

/* Who answered a hypercall (kvm_xen_hypercall_done's path). */
#define PERSONA_TRACE_HCALL_KERNEL	0
#define PERSONA_TRACE_HCALL_VMM		1
#define PERSONA_TRACE_HCALL_ABANDONED	2
#define PERSONA_TRACE_HCALL_RESTART	3

/* What raising a port did (kvm_xen_evtchn_set's path). */
#define PERSONA_TRACE_EVTCHN_FAST	0
#define PERSONA_TRACE_EVTCHN_DEFERRED	1
#define PERSONA_TRACE_EVTCHN_PENDING	2
#define PERSONA_TRACE_EVTCHN_MASKED	3
#define PERSONA_TRACE_EVTCHN_UNMAPPED	4

TRACE_EVENT(kvm_xen_hypercall,
	    TP_PROTO(u8 cpl, unsigned long nr, unsigned long a0,
		     unsigned long a1, unsigned long a2, unsigned long a3,
		     unsigned long a4, unsigned long a5),
	    TP_ARGS(cpl, nr, a0, a1, a2, a3, a4, a5),
	    TP_STRUCT__entry(__field(u8, cpl)
			     __field(unsigned long, nr)
			     __field(unsigned long, a0)
			     __field(unsigned long, a1)
			     __field(unsigned long, a2)
			     __field(unsigned long, a3)
			     __field(unsigned long, a4)
			     __field(unsigned long, a5)),
	    TP_fast_assign(__entry->cpl = cpl;
			   __entry->nr = nr;
			   __entry->a0 = a0;
			   __entry->a1 = a1;
			   __entry->a2 = a2;
			   __entry->a3 = a3;
			   __entry->a4 = a4;
			   __entry->a5 = a5;),
	    TP_printk("cpl %d nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx a4 0x%lx a5 0x%lx",
		      __entry->cpl, __entry->nr, __entry->a0, __entry->a1,
		      __entry->a2, __entry->a3, __entry->a4, __entry->a5)
);

TRACE_EVENT(kvm_xen_hypercall_done,
	    TP_PROTO(u32 vcpu_id, unsigned long nr, u64 result, int path),
	    TP_ARGS(vcpu_id, nr, result, path),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(unsigned long, nr)
			     __field(u64, result)
			     __field(int, path)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->nr = nr;
			   __entry->result = result;
			   __entry->path = path;),
	    TP_printk("vcpu %u nr 0x%lx result %lld by %s",
		      __entry->vcpu_id, __entry->nr, (s64)__entry->result,
		      __print_symbolic(__entry->path,
				       { PERSONA_TRACE_HCALL_KERNEL, "kernel" },
				       { PERSONA_TRACE_HCALL_VMM, "vmm" },
				       { PERSONA_TRACE_HCALL_ABANDONED, "abandoned" },
				       { PERSONA_TRACE_HCALL_RESTART, "restart" }))
);

TRACE_EVENT(kvm_xen_hypercall_page,
	    TP_PROTO(u32 vcpu_id, u64 gpa, u32 page_num, bool long_mode,
		     bool intercept, int r),
	    TP_ARGS(vcpu_id, gpa, page_num, long_mode, intercept, r),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(u64, gpa)
			     __field(u32, page_num)
			     __field(bool, long_mode)
			     __field(bool, intercept)
			     __field(int, r)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->gpa = gpa;
			   __entry->page_num = page_num;
			   __entry->long_mode = long_mode;
			   __entry->intercept = intercept;
			   __entry->r = r;),
	    TP_printk("vcpu %u gpa 0x%llx page %u %s-bit from %s r %d",
		      __entry->vcpu_id, __entry->gpa, __entry->page_num,
		      __entry->long_mode ? "64" : "32",
		      __entry->intercept ? "kernel" : "vmm_blob", __entry->r)
);

TRACE_EVENT(kvm_xen_evtchn_set,
	    TP_PROTO(u32 vcpu_id, u32 port, int path),
	    TP_ARGS(vcpu_id, port, path),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(u32, port)
			     __field(int, path)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->port = port;
			   __entry->path = path;),
	    TP_printk("vcpu %u port %u %s", __entry->vcpu_id, __entry->port,
		      __print_symbolic(__entry->path,
				       { PERSONA_TRACE_EVTCHN_FAST, "fast" },
				       { PERSONA_TRACE_EVTCHN_DEFERRED, "deferred" },
				       { PERSONA_TRACE_EVTCHN_PENDING, "already_pending" },
				       { PERSONA_TRACE_EVTCHN_MASKED, "masked" },
				       { PERSONA_TRACE_EVTCHN_UNMAPPED, "shinfo_unmapped" }))
);

TRACE_EVENT(kvm_xen_evtchn_deferred,
	    TP_PROTO(u32 vcpu_id, unsigned long sel),
	    TP_ARGS(vcpu_id, sel),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(unsigned long, sel)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->sel = sel;),
	    TP_printk("vcpu %u selector 0x%lx", __entry->vcpu_id, __entry->sel)
);

TRACE_EVENT(kvm_xen_timer_arm,
	    TP_PROTO(u32 vcpu_id, u64 expires, s64 delta_ns),
	    TP_ARGS(vcpu_id, expires, delta_ns),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(u64, expires)
			     __field(s64, delta_ns)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->expires = expires;
			   __entry->delta_ns = delta_ns;),
	    TP_printk("vcpu %u expires %llu (guest ns) in %lld ns",
		      __entry->vcpu_id, __entry->expires, __entry->delta_ns)
);

TRACE_EVENT(kvm_xen_timer_fire,
	    TP_PROTO(u32 vcpu_id, u32 port, bool deferred),
	    TP_ARGS(vcpu_id, port, deferred),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(u32, port)
			     __field(bool, deferred)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->port = port;
			   __entry->deferred = deferred;),
	    TP_printk("vcpu %u port %u%s", __entry->vcpu_id, __entry->port,
		      __entry->deferred ? " deferred to the vCPU" : "")
);

TRACE_EVENT(kvm_xen_timer_stop,
	    TP_PROTO(u32 vcpu_id),
	    TP_ARGS(vcpu_id),
	    TP_STRUCT__entry(__field(u32, vcpu_id)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;),
	    TP_printk("vcpu %u", __entry->vcpu_id)
);

TRACE_EVENT(kvm_xen_poll_block,
	    TP_PROTO(u32 vcpu_id, u32 nr_ports, int port, u64 timeout_ns),
	    TP_ARGS(vcpu_id, nr_ports, port, timeout_ns),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(u32, nr_ports)
			     __field(int, port)
			     __field(u64, timeout_ns)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->nr_ports = nr_ports;
			   __entry->port = port;
			   __entry->timeout_ns = timeout_ns;),
	    TP_printk("vcpu %u ports %u (port %d) timeout %llu ns",
		      __entry->vcpu_id, __entry->nr_ports, __entry->port,
		      __entry->timeout_ns)
);

TRACE_EVENT(kvm_xen_poll_wake,
	    TP_PROTO(u32 vcpu_id, bool timed_out),
	    TP_ARGS(vcpu_id, timed_out),
	    TP_STRUCT__entry(__field(u32, vcpu_id)
			     __field(bool, timed_out)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->timed_out = timed_out;),
	    TP_printk("vcpu %u %s", __entry->vcpu_id,
		      __entry->timed_out ? "timed out" : "woken")
);

#endif /* _PERSONA_XEN_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace

#include <trace/define_trace.h>
