# SPDX-License-Identifier: GPL-2.0
#
# kvm-persona: out-of-tree build, tests and demo.
#
#   make                 build src/kvm-persona.ko against KDIR
#   make check           everything the CI runs (see README.md), the
#                        debug test host (KASAN, kmemleak, lockdep, UBSAN)
#                        included; CHECK_DEBUG_HOST=0 skips that host
#   make style           the fast tier, in well under a minute:
#                        checkpatch --strict, the layers and the kvm.ko
#                        boundary, W=1 + sparse build, shellcheck
#   make demo            boot the test host and show a Xen guest at work
#   make fuzz            the fuzzers at full size on the debug test host
#                        (scripts/fuzz.sh; FUZZ_HCALLS=, FUZZ_IOCTLS=,
#                        FUZZ_VMS=, FUZZ_SEED= override)
#   make debug-kernel    build (or find in the cache) the debug test host
#                        kernel; make module-debug builds the module for it
#   make kernel-612      the same for Linux 6.12 without CONFIG_KVM_XEN
#                        (RHEL 10 / SUSE); make module-612
#   make sign            sign src/kvm-persona.ko for Secure Boot:
#                        make sign SIGN_KEY=key.pem SIGN_CERT=cert.der
#                        [SIGN_HASH=sha256] [SIGN_MODULE=path.ko]
#   make dkms-src        copy the sources DKMS builds to
#                        /usr/src/kvm-persona-VERSION (DKMS_SRC_ROOT=)
#   make bench           benchmarks: stock 6.1 + kvm-persona, and 6.12
#                        without CONFIG_KVM_XEN + kvm-persona, against
#                        6.12's in-kernel Xen (Documentation/benchmarks.rst);
#                        BENCH_ARGS= passes options to scripts/bench.sh

-include .cache/env.sh

# The version, in one place: the VERSION file (src/Kbuild makes it the
# module's MODULE_VERSION, dkms.conf its PACKAGE_VERSION).
PERSONA_VERSION := $(strip $(shell cat VERSION 2>/dev/null))

# Default KDIR: the running kernel's build tree, else the stock Debian 6.1
# headers that scripts/deps.sh installs.
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(origin KDIR),undefined)
KDIR := $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR))
endif
export CONFIG_KVM_PERSONA ?= m

PWD := $(shell pwd)

all: module

module:
	@if [ -z "$(KDIR)" ]; then \
		echo "no kernel build tree: run scripts/deps.sh or pass KDIR=" >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(PWD)/src modules

# Build the module against the kernel tree $(1) in a copy of the sources
# at $(2), so that builds for several kernels coexist; $(3) says how to
# get $(1).
define module_copy
	@if [ -z "$(1)" ]; then echo "no kernel tree: $(3)" >&2; exit 1; fi
	rm -rf $(2)
	mkdir -p $(2)
	cp -r VERSION src kbuild $(2)/
	$(MAKE) -C $(1) M=$(2)/src modules
endef

# The same sources built for the anchor kernel (Debian's 6.12, which has
# CONFIG_KVM_XEN).
ANCHOR_BUILD := $(PWD)/.cache/anchor-build
module-anchor:
	$(call module_copy,$(ANCHOR_KDIR),$(ANCHOR_BUILD),run scripts/deps.sh --anchor)

# The debug test host kernel (KASAN, kmemleak, lockdep, UBSAN, ...: see
# scripts/debug-kernel.sh), and the same sources built against it, again
# in a copy of the tree.
-include .cache/debug-env.sh
DEBUG_BUILD := $(PWD)/.cache/debug-build
debug-kernel:
	scripts/debug-kernel.sh

module-debug:
	$(call module_copy,$(DEBUG_KDIR),$(DEBUG_BUILD),run make debug-kernel)

# The 6.12 test host kernel without CONFIG_KVM_XEN (RHEL 10 / SUSE), and
# the module built against it, in a copy of the tree.
-include .cache/k612-env.sh
K612_BUILD := $(PWD)/.cache/k612-build
kernel-612:
	scripts/kernel-build.sh 612

module-612:
	$(call module_copy,$(K612_KDIR),$(K612_BUILD),run make kernel-612)

deps:
	scripts/deps.sh

# Sign a built module with the kernel's own sign-file (from KDIR's
# scripts/, or SIGN_FILE=), for a kernel that enforces signatures (Secure
# Boot: enrol SIGN_CERT with mokutil --import first).  The module is
# signed in place; an already signed module is refused (make module-clean
# module rebuilds it).  SIGN_HASH defaults to the kernel's
# CONFIG_MODULE_SIG_HASH.
SIGN_MODULE ?= src/kvm-persona.ko
SIGN_FILE ?= $(KDIR)/scripts/sign-file
SIGN_HASH ?= $(or $(shell sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$$/\1/p' \
	$(KDIR)/.config 2>/dev/null),sha256)
SIG_MAGIC := ~Module signature appended~
sign:
	@if [ -z "$(SIGN_KEY)" ] || [ -z "$(SIGN_CERT)" ]; then \
		echo "usage: make sign SIGN_KEY=key.pem SIGN_CERT=cert.der [SIGN_HASH=sha256] [SIGN_MODULE=$(SIGN_MODULE)]" >&2; \
		exit 1; \
	fi
	@if [ ! -x "$(SIGN_FILE)" ]; then \
		echo "no sign-file at $(SIGN_FILE): pass KDIR= or SIGN_FILE=" >&2; \
		exit 1; \
	fi
	@if [ ! -f "$(SIGN_MODULE)" ]; then \
		echo "$(SIGN_MODULE): no such module: make module first" >&2; \
		exit 1; \
	fi
	@if [ "$$(tail -c 28 "$(SIGN_MODULE)" | head -c 27)" = "$(SIG_MAGIC)" ]; then \
		echo "$(SIGN_MODULE) is signed already: make module-clean module to rebuild it" >&2; \
		exit 1; \
	fi
	"$(SIGN_FILE)" "$(SIGN_HASH)" "$(SIGN_KEY)" "$(SIGN_CERT)" "$(SIGN_MODULE)"

# The sources DKMS builds (dkms.conf, VERSION, src/, kbuild/), without
# build products, in DKMS_SRC_ROOT/kvm-persona-VERSION; then
# "dkms install kvm-persona/VERSION".  See README.md.
DKMS_SRC_ROOT ?= /usr/src
DKMS_SRC := $(DKMS_SRC_ROOT)/kvm-persona-$(PERSONA_VERSION)
dkms-src:
	@[ -n "$(PERSONA_VERSION)" ] || { echo "no VERSION file" >&2; exit 1; }
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r dkms.conf VERSION src kbuild $(DKMS_SRC)/
	find $(DKMS_SRC) \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name '*.o.d' \
		-o -name modules.order -o -name Module.symvers \) -delete

# The fast tier (scripts/style.sh; make check runs it first): checkpatch
# --strict, the layers and the kvm.ko boundary, a W=1 + sparse build of
# the module, shellcheck.  Needs scripts/deps.sh's headers and source.
style:
	scripts/style.sh

# Sub-makes, so that each reads the env files the step before wrote.
fuzz: deps
	scripts/debug-kernel.sh
	$(MAKE) module-debug
	$(MAKE) -C selftests
	scripts/fuzz.sh

selftests: deps
	$(MAKE) -C selftests

check: deps
	scripts/check.sh

# Boot reliability: the demo guest BOOTS times per mode (default 20) on
# stock 6.1 with the module and on the 6.12 anchor, with no retry.
boots: deps
	scripts/deps.sh --anchor
	scripts/guest-image.sh >/dev/null
	scripts/boots.sh

demo: deps
	scripts/demo.sh

# Sub-makes, so that each reads the .cache/env.sh the step before wrote.
bench: deps
	scripts/deps.sh --anchor
	scripts/kernel-build.sh 612
	$(MAKE) module
	$(MAKE) module-anchor
	$(MAKE) module-612
	$(MAKE) -C selftests
	scripts/bench.sh $(BENCH_ARGS)

module-clean:
	$(MAKE) -C $(KDIR) M=$(PWD)/src clean 2>/dev/null || true

clean: module-clean
	$(MAKE) -C selftests clean 2>/dev/null || true

.PHONY: all module module-anchor debug-kernel module-debug kernel-612 \
	module-612 deps fuzz boots sign dkms-src \
	selftests \
	check demo bench clean module-clean style
