#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fast tier: every static check of the tree, in well under a minute
# once scripts/deps.sh has put the headers and the kernel source in place.
# make style runs it; make check runs it first and stops there when it
# fails, so a style break fails a CI run in seconds, before any kernel,
# QEMU or test host.
#
# Its tests:
# - checkpatch_clean: checkpatch --strict on src/, kbuild/ and selftests/
#   (the files split over the CPUs);
# - layers_one_direction: scripts/layers.sh, one dependency direction and
#   the kvm.ko boundary;
# - module_builds_w1_sparse_clean: a clean build of the module against
#   KDIR with W=1 and sparse (C=1) in one pass, with no warning but the
#   missing vmlinux for BTF;
# - shellcheck_clean: shellcheck -x on every shell script in git.
#
# Usage: scripts/style.sh [--start N] [--no-plan]
# Prints KTAP and ends with "N passed, N failed"; exit status 1 on a
# failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

START=1
PLAN=1
while [ $# -gt 0 ]; do
	case $1 in
	--start) START=$2; shift 2 ;;
	--no-plan) PLAN=; shift ;;
	*) echo "usage: $0 [--start N] [--no-plan]" >&2; exit 2 ;;
	esac
done

if [ -e .cache/env.sh ]; then
	# shellcheck disable=SC1091
	. .cache/env.sh
fi
if [ -z "${LINUX_SRC:-}" ] || [ -z "${KDIR:-}" ]; then
	echo "no kernel source or headers: run scripts/deps.sh" >&2
	exit 1
fi

N=$((START - 1))
PASS=0
FAIL=0
TESTS=4
[ -z "$PLAN" ] || echo "1..$TESTS"

# Run check $1 (the function $2...), its output shown on failure.
check()
{
	local name=$1 log t0
	shift
	log=$(mktemp)
	t0=$(date +%s%N)
	N=$((N + 1))
	if "$@" >"$log" 2>&1; then
		PASS=$((PASS + 1))
		echo "# $name: $((($(date +%s%N) - t0) / 1000000)) ms"
		echo "ok $N $name"
	else
		FAIL=$((FAIL + 1))
		echo "not ok $N $name"
		sed 's/^/# /' "$log" | tail -n 60
	fi
	rm -f "$log"
}

checkpatch_clean()
{
	find src kbuild selftests -path 'selftests/out*' -prune -o \
		-name '*.[ch]' ! -name '*.mod.c' -print0 | LC_ALL=C sort -z |
		xargs -0 -P "$(nproc)" -n 4 perl "$LINUX_SRC/scripts/checkpatch.pl" \
			--no-tree --quiet --strict \
			--ignore SPDX_LICENSE_TAG,NEW_TYPEDEFS -f
}

# One compile serves W=1 and sparse: C=1 runs sparse beside the compiler
# on every file it compiles, so the module is cleaned first.
module_builds_w1_sparse_clean()
{
	local out
	make -s KDIR="$KDIR" module-clean >/dev/null 2>&1
	out=$(make W=1 C=1 KDIR="$KDIR" -j "$(nproc)" module 2>&1) ||
		{ echo "$out"; return 1; }
	echo "$out"
	! echo "$out" | grep -v 'Skipping BTF generation' |
		grep -iE 'warning|error' || return 1
	[ -f src/kvm-persona.ko ]
}

shellcheck_clean()
{
	local files=()
	command -v shellcheck >/dev/null || { echo "no shellcheck"; return 1; }
	mapfile -t files < <(git ls-files -z | xargs -0 grep -l -m1 \
		'^#!/bin/\(ba\)\{0,1\}sh' | LC_ALL=C sort)
	[ ${#files[@]} -gt 0 ] || { echo "no scripts found"; return 1; }
	shellcheck -x "${files[@]}"
}

check checkpatch_clean checkpatch_clean
check layers_one_direction scripts/layers.sh
check module_builds_w1_sparse_clean module_builds_w1_sparse_clean
check shellcheck_clean shellcheck_clean

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
