# SPDX-License-Identifier: GPL-2.0
#
# kvm-persona: out-of-tree build, tests and demo.
#
#   make                 build src/kvm-persona.ko against KDIR
#   make check           everything the CI runs (see README.md)
#   make demo            boot the test host and show a Xen guest at work
#   make bench           benchmarks: stock 6.1 + kvm-persona against 6.12's
#                        in-kernel Xen (Documentation/benchmarks.rst);
#                        BENCH_ARGS= passes options to scripts/bench.sh

-include .cache/env.sh

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

# The same sources built for the anchor kernel (Debian's 6.12, which has
# CONFIG_KVM_XEN), in a copy of the tree so both builds can coexist.
ANCHOR_BUILD := $(PWD)/.cache/anchor-build
module-anchor:
	@if [ -z "$(ANCHOR_KDIR)" ]; then \
		echo "no anchor kernel: run scripts/deps.sh --anchor" >&2; \
		exit 1; \
	fi
	rm -rf $(ANCHOR_BUILD)
	mkdir -p $(ANCHOR_BUILD)
	cp -r src include kbuild $(ANCHOR_BUILD)/
	$(MAKE) -C $(ANCHOR_KDIR) M=$(ANCHOR_BUILD)/src modules

deps:
	scripts/deps.sh

selftests: deps
	$(MAKE) -C selftests

check: deps
	scripts/check.sh

demo: deps
	scripts/demo.sh

# Sub-makes, so that each reads the .cache/env.sh the step before wrote.
bench: deps
	scripts/deps.sh --anchor
	$(MAKE) module
	$(MAKE) module-anchor
	$(MAKE) -C selftests
	scripts/bench.sh $(BENCH_ARGS)

module-clean:
	$(MAKE) -C $(KDIR) M=$(PWD)/src clean 2>/dev/null || true

clean: module-clean
	$(MAKE) -C selftests clean 2>/dev/null || true

.PHONY: all module module-anchor deps selftests check demo bench clean \
	module-clean
