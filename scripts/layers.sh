#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the module's architecture (Documentation/design.rst, "Layout"):
#
# 1. one direction: src/ files depend on each other through the headers
#    they include; a header and the .c beside it are one unit.  Units are
#    ranked by folder, kvm/ (the kvm.ko boundary) lowest, then core/ (hook
#    engine and dispatch), hyperv/, xen/, and main.c / native.c on top; a
#    unit may depend only on its own rank or lower, and the graph must have
#    no cycle (tsort).
# 2. the kvm.ko boundary: outside src/kvm/, no file may name kvm.ko-private
#    state or series-specific API (vcpu->arch / kvm->arch, kvm.ko's
#    struct kvm_vcpu_xen and its fields, the pfn-cache API and fields,
#    GPA_INVALID, eventfd_signal(), kallsyms lookups); BOUNDARY_LEFT below
#    is how many such lines may remain (none).
#
# Prints what it finds; exit status 1 on a violation.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/src"

# Lines outside src/kvm/ allowed to reach past the boundary: none since
# 2026-12-06 (189 before the pfn caches moved behind it, 124 before the
# per-vCPU state became the module's own).  Never raise it.
BOUNDARY_LEFT=${BOUNDARY_LEFT:-0}

rank()
{
	case $1 in
	kvm/*) echo 0 ;;
	core/*) echo 1 ;;
	hyperv/*) echo 2 ;;
	xen/*) echo 3 ;;
	*) echo 4 ;;
	esac
}

unit() { echo "${1%.[ch]}"; }

bad=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

while IFS= read -r f; do
	dir=$(dirname "$f")
	from=$(unit "$f")
	echo "$from $from" >>"$edges"
	while IFS= read -r inc; do
		target=$(realpath -m --relative-to=. "$dir/$inc")
		case $target in
		../*) continue ;;	# kbuild/compat.h and the like
		esac
		to=$(unit "$target")
		[ "$to" = "$from" ] && continue
		echo "$from $to" >>"$edges"
		if [ "$(rank "$to")" -gt "$(rank "$from")" ]; then
			echo "layers: $f includes $inc: $to is above $from"
			bad=1
		fi
	done < <(sed -n 's/^#include "\(.*\)"/\1/p' "$f")
done < <(find . -name '*.[ch]' ! -name '*.mod.c' | sed 's|^\./||' | LC_ALL=C sort)

if ! order=$(tsort "$edges" 2>&1); then
	echo "layers: the dependency graph has a cycle:"
	echo "$order" | grep '^tsort: ' | sed 's/^/  /'
	bad=1
fi
units=$(cut -d' ' -f1 "$edges" | sort -u | wc -l)
deps=$(awk '$1 != $2' "$edges" | sort -u | wc -l)
echo "layers: $units units, $deps dependencies, one direction: $([ "$bad" = 0 ] && echo yes || echo NO)"

# The boundary.
pattern='\bstruct kvm_vcpu_xen\b|\bgpc->|->arch\b|\bkvm_gpc_|\bkvm_gfn_to_pfn_cache|\bGPA_INVALID\b|\beventfd_signal\(|\bkallsyms_lookup'
left=$(grep -rnE "$pattern" --include='*.[ch]' --exclude='*.mod.c' . | grep -v '^\./kvm/' |
	grep -vE '^[^:]*:[0-9]+:\s*(\*|/\*)' || true)
n=$(echo -n "$left" | grep -c . || true)
echo "boundary: $n lines outside src/kvm/ reach kvm.ko's private state or series-specific API (at most $BOUNDARY_LEFT)"
echo "$left" | awk -F: 'NF { n[$1]++ } END { for (f in n) printf "  %s: %d\n", f, n[f] }' | sort
if [ "$n" -gt "$BOUNDARY_LEFT" ]; then
	echo "boundary: more than $BOUNDARY_LEFT: something new reaches past src/kvm/"
	bad=1
fi
exit "$bad"
