/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness side of the kvm-persona selftests: TEST() bodies
 * use these to skip without Xen support and to run guests with ASSERT_*()
 * checks.  See persona_util.h for the rest.
 */
#ifndef PERSONA_TEST_H
#define PERSONA_TEST_H

#include "persona_util.h"

/*
 * libkvm's test_util.h and the kselftest harness both define ASSERT_EQ();
 * the tests use the harness's.
 */
#undef ASSERT_EQ
#include "kselftest_harness.h"

/*
 * Guests of the test host are nested and emulated (TCG): give every test
 * far more than the harness's default 30 seconds.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

/* ucall-like value run_vcpu() returns for KVM_EXIT_XEN. */
#define EXIT_XEN	0x1000

/*
 * Whether a TEST() must stop for lack of KVM_CAP_XEN_HVM @need bits: the
 * test is then marked skipped, or failed if KVM_PERSONA_REQUIRE is set.
 * Use as "if (xen_missing(bits)) return;".
 */
static inline bool __xen_missing(struct __test_metadata *_metadata,
				 unsigned int need)
{
	unsigned int caps = xen_caps();

	if ((caps & need) == need)
		return false;
	if (!persona_required())
		SKIP(return true, "KVM_CAP_XEN_HVM is %#x, need %#x", caps, need);
	ASSERT_EQ(need, caps & need)
		TH_LOG("KVM_CAP_XEN_HVM is %#x, need %#x and %s is set",
		       caps, need, PERSONA_REQUIRE_ENV);
	return true;
}

#define xen_missing(need) __xen_missing(_metadata, need)

/*
 * Run @vcpu once.  Returns EXIT_XEN for KVM_EXIT_XEN, otherwise the ucall
 * the guest made (UCALL_SYNC, UCALL_DONE); a guest assertion or any other
 * exit fails the test.
 */
static inline u64 __run_vcpu(struct __test_metadata *_metadata,
			     struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_run *run = vcpu->run;
	u64 cmd;

	memset(uc, 0, sizeof(*uc));
	vcpu_run(vcpu);
	if (run->exit_reason == KVM_EXIT_XEN)
		return EXIT_XEN;

	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason)
		TH_LOG("unexpected exit %u (%s)", run->exit_reason,
		       exit_reason_str(run->exit_reason));

	cmd = get_ucall(vcpu, uc);
	if (cmd == UCALL_ABORT) {
		TH_LOG("guest: %s at %s:%lu [%#lx, %#lx]",
		       (const char *)uc->args[GUEST_ERROR_STRING],
		       (const char *)uc->args[GUEST_FILE],
		       (unsigned long)uc->args[GUEST_LINE],
		       (unsigned long)GUEST_ASSERT_ARG(*uc, 0),
		       (unsigned long)GUEST_ASSERT_ARG(*uc, 1));
		ASSERT_NE(UCALL_ABORT, cmd);
	}
	ASSERT_TRUE(cmd == UCALL_SYNC || cmd == UCALL_DONE)
		TH_LOG("unexpected ucall %lu", (unsigned long)cmd);
	return cmd;
}

#define run_vcpu(vcpu, uc) __run_vcpu(_metadata, vcpu, uc)

/* Run until the guest's GUEST_SYNC(@stage); no KVM_EXIT_XEN allowed. */
static inline void __run_to_sync(struct __test_metadata *_metadata,
				 struct kvm_vcpu *vcpu, struct ucall *uc,
				 u64 stage)
{
	u64 cmd = __run_vcpu(_metadata, vcpu, uc);

	ASSERT_NE(EXIT_XEN, cmd)
		TH_LOG("unexpected KVM_EXIT_XEN before stage %lu: input %#llx",
		       (unsigned long)stage,
		       vcpu->run->xen.u.hcall.input);
	ASSERT_EQ(UCALL_SYNC, cmd);
	ASSERT_EQ(stage, uc->args[1]);
}

#define run_to_sync(vcpu, uc, stage) __run_to_sync(_metadata, vcpu, uc, stage)

/* Run until KVM_EXIT_XEN (a hypercall exit); returns it. */
static inline struct kvm_xen_exit *
__run_to_xen(struct __test_metadata *_metadata, struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	u64 cmd = __run_vcpu(_metadata, vcpu, &uc);

	ASSERT_EQ(EXIT_XEN, cmd)
		TH_LOG("expected KVM_EXIT_XEN, guest made ucall %lu (stage %lu)",
		       (unsigned long)cmd, (unsigned long)uc.args[1]);
	ASSERT_EQ(KVM_EXIT_XEN_HCALL, vcpu->run->xen.type);
	return &vcpu->run->xen;
}

#define run_to_xen(vcpu) __run_to_xen(_metadata, vcpu)

/* Host: check a 64-bit KVM_EXIT_XEN against hcall_regs_fill(nr, seed). */
static inline void __assert_xen_hcall64(struct __test_metadata *_metadata,
					const struct kvm_xen_exit *xe,
					u64 nr, u32 seed)
{
	int i;

	ASSERT_EQ(1, xe->u.hcall.longmode);
	ASSERT_EQ(0, xe->u.hcall.cpl);
	ASSERT_EQ(nr, xe->u.hcall.input);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(ARGVAL(seed, i + 1), xe->u.hcall.params[i])
			TH_LOG("hypercall %#lx, param %d",
			       (unsigned long)nr, i);
	}
}

#define ASSERT_XEN_HCALL64(xe, nr, seed) \
	__assert_xen_hcall64(_metadata, xe, nr, seed)

#define VM32_EXIT_DONE	1
#define VM32_EXIT_XEN	2

/* Run the 32-bit guest; returns VM32_EXIT_DONE or VM32_EXIT_XEN. */
static inline int __vm32_run(struct __test_metadata *_metadata,
			     struct vm32 *g)
{
	struct kvm_run *run = g->vcpu->run;

	vcpu_run(g->vcpu);
	if (run->exit_reason == KVM_EXIT_XEN) {
		ASSERT_EQ(KVM_EXIT_XEN_HCALL, run->xen.type);
		return VM32_EXIT_XEN;
	}
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason)
		TH_LOG("unexpected exit %u (%s)", run->exit_reason,
		       exit_reason_str(run->exit_reason));
	ASSERT_EQ(VM32_DONE_PORT, run->io.port);
	ASSERT_EQ(KVM_EXIT_IO_OUT, run->io.direction);
	return VM32_EXIT_DONE;
}

#define vm32_run(g) __vm32_run(_metadata, g)

#endif /* PERSONA_TEST_H */
