#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the same guest microbenchmarks on three test hosts, one
# after the other, then two tables (A against B, C against B).
#
#   A  Debian 12's stock 6.1 kernel with kvm-persona
#   B  the anchor: Debian's 6.12 backports kernel, whose kvm.ko has
#      upstream's in-kernel Xen; kvm-persona (built for it) must refuse to
#      load, and B runs without it
#   C  6.12 of the same version built without CONFIG_KVM_XEN
#      (scripts/kernel-build.sh 612) with kvm-persona: the pair C/B
#      differs in who implements Xen (and in the kernel configuration:
#      C's is the test hosts' minimal one, B's Debian's)
#
# Both hosts run selftests/out/persona_bench (one static binary, see its
# header) and boot the demo guest in QEMU's Xen mode.  Ratios are taken
# within one host boot; A/B comparisons of absolute figures compare two
# boots of an emulated (TCG) machine and are only indicative.
#
# Usage: scripts/bench.sh [options]
#   --reps N          repetitions of the microbenchmarks (default 7)
#   --p4-reps N       rounds of P4, whose goal is the tightest (default 11)
#   --p5-reps N       demo guest boots per host (default 5; 0 skips P5)
#   --p6-reps N       runs of the two-guest exchange per module host
#                     (default 3; 0 skips P6)
#   --spin            also run the IPI ping-pong with spinning waits
#   --target-ms MS    time of one repetition (default 300)
#   --module FILE     the module for host A (default src/kvm-persona.ko)
#   --hosts "A B C"   the hosts to run (default: all three; C needs
#                     make kernel-612 and make module-612)
#   --update-doc      copy the results to Documentation/benchmarks.json
#   --inner A|B|C     (internal) the part that runs inside a test host
#
# Expects what the top Makefile's "bench" target builds first: the module
# for both kernels and the selftests.  Results: .cache/bench/results.json
# (everything), .cache/bench/summary.txt (the table printed at the end),
# .cache/bench/table.rst; each host's raw output in .cache/bench/A, B, C.
# Exit status: 0 when every host ran everything (goals may still be
# missed: the table says which), 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

REPS=7
P4_REPS=11
P5_REPS=5
P6_REPS=3
SPIN=
TARGET_MS=300
UPDATE_DOC=
INNER=
MODULE_A=src/kvm-persona.ko
HOSTS="A B C"

usage()
{
	sed -n '/^# Usage:/,/^#   --inner/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

posint() { [[ $2 =~ ^[0-9]+$ ]] || { echo "bench: $1: not a number: $2" >&2; usage; }; }

while [ $# -gt 0 ]; do
	case $1 in
	--reps|--p4-reps|--p5-reps|--p6-reps|--target-ms|--module|--inner|--hosts)
		[ $# -ge 2 ] || usage
		case $1 in
		--module) MODULE_A=$2 ;;
		--hosts) HOSTS=$2 ;;
		--reps) posint "$1" "$2"; REPS=$2 ;;
		--p4-reps) posint "$1" "$2"; P4_REPS=$2 ;;
		--p5-reps) posint "$1" "$2"; P5_REPS=$2 ;;
		--p6-reps) posint "$1" "$2"; P6_REPS=$2 ;;
		--target-ms) posint "$1" "$2"; TARGET_MS=$2 ;;
		--inner) INNER=$2 ;;
		esac
		shift 2
		;;
	--spin) SPIN=1; shift ;;
	--update-doc) UPDATE_DOC=1; shift ;;
	-h|--help) usage ;;
	*) usage ;;
	esac
done

BIN=selftests/out/persona_bench
MODULE_B=.cache/anchor-build/src/kvm-persona.ko
MODULE_C=.cache/k612-build/src/kvm-persona.ko
GUEST_IMAGE=.cache/bench/guest

# ================================================================ inside L1

abspath() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }

# Runs in the test host's chroot; everything goes to $TESTHOST_OUT.
inner()
{
	local host=$1 out=${TESTHOST_OUT:?not inside a test host}
	local jsonl=$out/$host.jsonl log=$out/$host.log
	local common=(--host "$host" --reps "$REPS" --target-ms "$TARGET_MS")
	: >"$jsonl"

	note() { echo "bench[$host]: [$(cut -d' ' -f1 /proc/uptime)s] $*" | tee -a "$log" >&2; }
	# One JSON line written by the script itself.
	emit() { printf '{"host":"%s",%s}\n' "$host" "$1" >>"$jsonl"; }
	# persona_bench SUBCOMMAND ARGS...: its JSON lines are kept, a
	# failure is recorded as an "error" line and does not stop the run.
	bench()
	{
		local what=$1 rc=0 t0=$SECONDS
		shift
		note "persona_bench $what $*"
		# The caller's options come last and win.
		"$ROOT/$BIN" "$what" "${common[@]}" "$@" >>"$jsonl" 2>>"$log" || rc=$?
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
			note "persona_bench $what failed with status $rc (see $host.log)"
			emit "\"kind\":\"error\",\"bench\":\"$what\",\"status\":$rc"
		fi
		note "  ... $((SECONDS - t0))s"
	}

	# kvm-persona's last kernel log line, fit for a JSON string.
	klog_line() { dmesg | grep 'kvm_persona:' | tail -n1 | sed 's/^\[[^]]*\] //; s/["\\]/ /g'; }

	# The memory benchmark uses a cgroup v2 memory controller.
	if ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
		mount -t cgroup2 none /sys/fs/cgroup 2>>"$log" ||
			note "no cgroup v2: memory falls back to /proc/slabinfo"
	fi

	bench info

	if [ "$host" != B ]; then
		local module=$MODULE_A
		[ "$host" = A ] || module=$MODULE_C
		# P4 loads and unloads the module itself, round after round,
		# and leaves it unloaded.
		bench p4 --module "$(abspath "$module")" --reps "$P4_REPS"
		note "insmod $module"
		if ! insmod "$(abspath "$module")" 2>>"$log"; then
			note "insmod failed: nothing else can run"
			emit '"kind":"error","bench":"insmod","status":1'
			return 1
		fi
		emit "\"kind\":\"module\",\"bench\":\"module\",\"loaded\":true,\"line\":\"$(klog_line)\""
		bench info
	else
		# The anchor: the module built for this kernel must refuse.
		local rc=0 loaded=false
		note "insmod $MODULE_B (must be refused)"
		insmod "$ROOT/$MODULE_B" 2>>"$log" || rc=$?
		grep -q '^kvm_persona ' /proc/modules && loaded=true
		emit "\"kind\":\"module\",\"bench\":\"module\",\"loaded\":$loaded,\"insmod_status\":$rc,\"line\":\"$(klog_line)\""
		if $loaded; then
			note "the module loaded on the anchor kernel: unloading it"
			rmmod kvm_persona || true
		fi
		bench info
	fi

	bench p1
	bench p2
	bench p3 --wait halt
	[ -z "$SPIN" ] || bench p3 --wait spin
	bench mem

	if [ "$P5_REPS" -gt 0 ]; then
		p5 "$host" "$out"
	fi
	if [ "$P6_REPS" -gt 0 ]; then
		p6 "$host" "$out"
	fi
	note "done"
	# A benchmark that failed (not a missed goal) fails the run.
	! grep -q '"kind":"error"' "$jsonl"
}

# One boot of the demo guest with scripts/guest-boot.sh, followed live and
# stopped once the guest's userspace has said which hypervisor it found
# (the rest of its checks are not what P5 times).  Prints "HOST_S GUEST_S
# HYPERVISOR": guest-boot.sh's seconds from QEMU's start to the guest's
# first userspace line, and the guest's own uptime then.
p5_boot()
{
	local log=$1 fifo line pid hb='' gb='' hv=''
	fifo=$(mktemp -u "${TMPDIR:-/tmp}/bench-p5.XXXXXX")
	mkfifo "$fifo"
	# Boots take 20-70 s to userspace here; three minutes is a hang.
	scripts/guest-boot.sh xen --timeout 180 --image "$ROOT/$GUEST_IMAGE" \
		>"$fifo" 2>&1 &
	pid=$!
	# Live console lines look like "  xen      46.7s | PERSONA-BEGIN".
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		*"s | PERSONA-BEGIN"*)
			hb=$(awk '{ sub(/s$/, "", $2); print $2 }' <<<"$line") ;;
		*"s | PERSONA-FACT boot_s="*)
			gb=${line##*boot_s=} ;;
		*"s | PERSONA-FACT hypervisor="*)
			hv=${line##*hypervisor=}
			# guest-boot.sh stops QEMU on SIGTERM.
			kill -TERM "$pid" 2>/dev/null || true
			;;
		esac
	done <"$fifo"
	wait "$pid" 2>/dev/null || true
	rm -f "$fifo"
	# Let the killed QEMU go before the next boot starts.
	sleep 2
	echo "${hb:-none} ${gb:-none} ${hv:-none}"
}

# P5: boots of the demo guest in QEMU's Xen mode.
p5()
{
	local host=$1 out=$2 i hb gb hv fails=0
	local hosts=() guests=()
	if [ ! -x scripts/guest-boot.sh ] || [ ! -s "$GUEST_IMAGE/vmlinuz" ]; then
		emit '"kind":"pending","bench":"p5","reason":"no demo guest image (scripts/guest-image.sh did not build one)"'
		return 0
	fi
	for i in $(seq 1 "$P5_REPS"); do
		note "P5 boot $i/$P5_REPS"
		# (No process substitution: the test host has no /dev/fd.)
		read -r hb gb hv <<<"$(p5_boot "$out/p5.$i.log")"
		if [[ ! $hb =~ ^[0-9.]+$ ]] || [[ ! $gb =~ ^[0-9.]+$ ]] ||
		   [[ $hv != *Xen* ]]; then
			fails=$((fails + 1))
			note "  boot $i: no usable figure (to userspace '$hb', guest '$gb', hypervisor '$hv'; see p5.$i.log)"
			continue
		fi
		note "  boot $i: ${hb}s to userspace (guest uptime ${gb}s), $hv"
		hosts+=("$hb")
		guests+=("$gb")
	done
	if [ ${#hosts[@]} -eq 0 ]; then
		emit "\"kind\":\"pending\",\"bench\":\"p5\",\"reason\":\"no Xen-mode guest boot succeeded on host $host (see p5.*.log)\""
		return 0
	fi
	emit "$(series_json p5 boot_host_s s "${hosts[@]}"),\"failed\":$fails"
	emit "$(series_json p5 boot_guest_s s "${guests[@]}"),\"failed\":$fails"
}

# P6: two guests talking (scripts/vchan-check.sh): notification round
# trips and grant copy through kvm-persona, beside the same guests over
# TCP through a virtio-net pair, measured in the same run.  Only where the
# module runs: upstream KVM and QEMU serve one domain per VM (B).
p6()
{
	local host=$1 out=$2 i line
	local vr=() tr=() vc=() tc=()
	if [ "$host" = B ]; then
		emit '"kind":"pending","bench":"p6","reason":"upstream KVM with QEMU serves one domain per VM: no event channels or grants between VMs"'
		return 0
	fi
	for i in $(seq 1 "$P6_REPS"); do
		note "P6 run $i/$P6_REPS"
		scripts/vchan-check.sh --image "$ROOT/$GUEST_IMAGE" \
			>"$out/p6.$i.log" 2>&1 || true
		line=$(grep -a '^# PERSONA-BENCH ' "$out/p6.$i.log" | tail -n 1) || true
		v() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
		if [ -z "$(v vchan_rtt_us)" ] || [ -z "$(v tcp_rtt_us)" ] ||
		   [ -z "$(v vchan_copy_mbps)" ] || [ -z "$(v tcp_mbps)" ]; then
			note "  run $i: no usable figure (see p6.$i.log)"
			continue
		fi
		vr+=("$(v vchan_rtt_us)"); tr+=("$(v tcp_rtt_us)")
		vc+=("$(v vchan_copy_mbps)"); tc+=("$(v tcp_mbps)")
		note "  run $i: $line"
	done
	if [ ${#vr[@]} -eq 0 ]; then
		emit "\"kind\":\"pending\",\"bench\":\"p6\",\"reason\":\"no two-guest run completed on host $host (see p6.*.log)\""
		return 0
	fi
	emit "$(series_json p6 vchan_rtt_us us "${vr[@]}")"
	emit "$(series_json p6 tcp_rtt_us us "${tr[@]}")"
	emit "$(series_json p6 vchan_copy_mbps MB/s "${vc[@]}")"
	emit "$(series_json p6 tcp_mbps MB/s "${tc[@]}")"
}

# The JSON body of a series line: bench, variant, unit, values.
series_json()
{
	local bench=$1 variant=$2 unit=$3
	shift 3
	printf '"kind":"series","bench":"%s","variant":"%s","unit":"%s","median":%s,"reps":[%s]' \
		"$bench" "$variant" "$unit" "$(printf '%s\n' "$@" | median)" \
		"$(IFS=,; echo "$*")"
}

median()
{
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "null"; exit }
		if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

if [ -n "$INNER" ]; then
	case $INNER in
	A|B|C) inner "$INNER" ;;
	*) usage ;;
	esac
	exit $?
fi

# ================================================================ outside

T0=$SECONDS
say() { echo "bench: [$((SECONDS - T0))s] $*" >&2; }

# shellcheck disable=SC1091
. .cache/env.sh
for f in "$BIN" "$MODULE_A" "$MODULE_B"; do
	[ -e "$f" ] || { say "error: $f missing (run make bench)"; exit 1; }
done
if [[ $HOSTS == *C* ]]; then
	# shellcheck disable=SC1091
	. .cache/k612-env.sh 2>/dev/null || true
	if [ -z "${K612_KERNEL:-}" ] || [ ! -e "$MODULE_C" ]; then
		say "error: no 6.12 kernel or module for host C (make kernel-612 module-612)"
		exit 1
	fi
	C_KVER=$(sed -n 's/^release=//p' "$K612_KERNEL/info")
fi
if [ -z "${ANCHOR_KERNEL:-}" ] || [ ! -e "$ANCHOR_KERNEL/vmlinuz" ]; then
	say "error: no anchor kernel (scripts/deps.sh --anchor)"
	exit 1
fi

RES=.cache/bench
mkdir -p "$RES"
rm -rf "$RES/A" "$RES/B" "$RES/C"

# The demo guest for P5 and P6, built into a directory of our own so that
# other users of .cache/guest do not rebuild it under us.
if [ "$P5_REPS" -gt 0 ] || [ "$P6_REPS" -gt 0 ]; then
	if [ -x scripts/guest-image.sh ] &&
	   scripts/guest-image.sh --out "$ROOT/$GUEST_IMAGE" >/dev/null 2>"$RES/guest-image.log"; then
		say "demo guest image in $GUEST_IMAGE"
	else
		say "no demo guest image (see $RES/guest-image.log): P5 and P6 will be pending"
		rm -f "$GUEST_IMAGE/vmlinuz"
	fi
fi

ARGS=(--reps "$REPS" --p4-reps "$P4_REPS" --p5-reps "$P5_REPS"
	--p6-reps "$P6_REPS"
	--target-ms "$TARGET_MS"
	--module "$MODULE_A")
[ -z "$SPIN" ] || ARGS+=(--spin)

# One test host: boots, runs the inner part, copies its results to
# $RES/$1.  The harness prints its run directory on stderr.
run_host()
{
	local host=$1 rc=0 dir
	shift
	say "host $host: booting $*"
	scripts/testhost.sh --timeout 1500 "$@" -- \
		scripts/bench.sh --inner "$host" "${ARGS[@]}" \
		>"$RES/$host.console" 2>"$RES/$host.testhost" || rc=$?
	dir=$(sed -n 's/^testhost: results in //p' "$RES/$host.testhost" | tail -n1)
	if [ -n "$dir" ] && [ -d "$dir" ]; then
		mkdir -p "$RES/$host"
		cp -r "$dir"/. "$RES/$host/"
	fi
	say "host $host: finished with status $rc ($(grep -c . "$RES/$host/$host.jsonl" 2>/dev/null || echo 0) result lines)"
	if [ "$rc" -ne 0 ]; then
		sed 's/^/    /' "$RES/$host.testhost" | tail -n 20 >&2
	fi
	return "$rc"
}

STATUS=0
for h in $HOSTS; do
	case $h in
	A) run_host A || STATUS=1 ;;
	B) run_host B --kernel-dir "$ANCHOR_KERNEL" || STATUS=1 ;;
	C) run_host C --kernel-dir "$K612_KERNEL" || STATUS=1 ;;
	esac
done

QEMU_VERSION=$(qemu-system-x86_64 --version | head -n1)
BUILD_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cat "$RES/A/A.jsonl" "$RES/B/B.jsonl" "$RES/C/C.jsonl" 2>/dev/null \
	>"$RES/records.jsonl" || true

# ---------------------------------------------------------------- verdicts

# Reads every result line, prints the summary table (summary.txt), an RST
# version (table.rst) and the JSON summary entries (summary.jsonl).
awk -v res="$RES" '
function str(line, key,    m) {
	if (!match(line, "\"" key "\":\"[^\"]*\"")) return ""
	m = substr(line, RSTART, RLENGTH)
	sub("^\"" key "\":\"", "", m); sub("\"$", "", m)
	return m
}
function num(line, key,    m) {
	if (!match(line, "\"" key "\":-?[0-9][0-9.eE+-]*")) return ""
	m = substr(line, RSTART, RLENGTH)
	sub("^\"" key "\":", "", m)
	return m + 0
}
{
	h = str($0, "host"); k = str($0, "kind"); b = str($0, "bench")
	if (k == "series") {
		key = h "|" b "|" str($0, "variant") "|" str($0, "state")
		med[key] = num($0, "median"); spread[key] = num($0, "spread_pct")
		if (b == "p5") failed[h] = num($0, "failed")
	} else if (k == "ratio") {
		key = h "|" b "|" str($0, "ratio")
		ratio[key] = num($0, "value"); ci[key] = num($0, "ci95")
		rmin[key] = num($0, "ratio_of_minima")
	} else if (k == "mem_summary") {
		mem_vm[h] = num($0, "per_vm_bytes"); mem_vcpu[h] = num($0, "per_vcpu_bytes")
	} else if (k == "module") {
		loaded[h] = $0 ~ /"loaded":true/
	} else if (k == "pending") {
		pending[h "|" b] = str($0, "reason")
	} else if (k == "error") {
		errors = errors " " h ":" b
	}
}
function abs(x) { return x < 0 ? -x : x }
function fmt(v) { return v == "" ? "n/a" : sprintf("%.3f", v) }
# A ratio of host h with its 95% interval, e.g. "0.987+-0.031".
function rfmt(h, key) {
	key = h "|" key
	if (!(key in ratio)) return "n/a"
	return sprintf("%.3f+-%.3f", ratio[key], ci[key])
}
function have(h, key) { return (h "|" key) in ratio }
# Verdicts: "met" or "MISSED", and "(within noise)" when the goal lies in
# the 95% interval, i.e. this run does not really decide.
function vle(v, c, goal,    s) {
	if (v == "") return "not measured"
	s = v <= goal ? "met" : "MISSED"
	if (c != "" && abs(v - goal) <= c) s = s " (within noise)"
	return s
}
function vge(v, c, goal,    s) {
	if (v == "") return "not measured"
	s = v >= goal ? "met" : "MISSED"
	if (c != "" && abs(v - goal) <= c) s = s " (within noise)"
	return s
}
# X <= B (X: A or C) for one ratio measured on both hosts.
function vab(X, key,    a, bb, c) {
	if (!have(X, key) || !have("B", key)) return X "<=B not measured"
	a = ratio[X "|" key]; bb = ratio["B|" key]
	c = sqrt(ci[X "|" key] ^ 2 + ci["B|" key] ^ 2)
	return X "<=B " vle(a - bb, c, 0)
}
function row(id, what, a, b, goal, verdict,    line) {
	id = pfx id
	line = sprintf("%-4s %-42s %15s %15s  %-14s %s", id, what, a, b, goal, verdict)
	print line > (res "/summary.txt")
	nrows++
	rid[nrows] = id; rwhat[nrows] = what; ra[nrows] = a; rb[nrows] = b
	rgoal[nrows] = goal; rverdict[nrows] = verdict
	printf("{\"metric\":\"%s\",\"what\":\"%s\",\"%s\":\"%s\",\"B\":\"%s\",\"goal\":\"%s\",\"verdict\":\"%s\"}\n",
	       id, what, (pfx == "" ? "A" : "C"), a, b, goal, verdict) > (res "/summary.jsonl")
}
function rep(c, n,    s) { s = ""; while (n-- > 0) s = s c; return s }
# One table: host X (A, or C with ids prefixed "C.") against the anchor.
function table(X, title,    key, a, bb, r, f, n4, lp, lv, i, why, states) {
	pfx = X == "A" ? "" : X "."
	print title > (res "/summary.txt")
	printf("%-4s %-42s %15s %15s  %-14s %s\n", "", "metric (ratios: median +- 95%)", X, "B", "goal", "verdict") > (res "/summary.txt")
	print rep("-", 112) > (res "/summary.txt")

	# P1
	key = "p1|xen/native"
	row("P1", "Xen null hcall / KVM null hcall", rfmt(X, key), rfmt("B", key), X "<=1.05, " X "<=B",
	    vle(ratio[X "|" key], ci[X "|" key], 1.05) "; " vab(X, key))
	key = "p1|xen_events/native"
	row("P1e", "  same, Xen VM with shared_info + vector", rfmt(X, key), rfmt("B", key), "(info)", "")

	# P2
	a = med[X "|p2|xen_exit|"]; bb = med["B|p2|xen_exit|"]
	r = (a != "" && bb != "") ? a / bb : ""
	row("P2", "KVM_EXIT_XEN round trip, " X "/B", fmt(r), "", "<=1.0", vle(r, "", 1.0) " (two boots)")
	row("P2a", "  TSC ticks per round trip", (a == "" ? "n/a" : sprintf("%.0f", a)),
	    (bb == "" ? "n/a" : sprintf("%.0f", bb)), "(info)", "")
	key = "p2|xen_exit/io_exit"
	row("P2n", "  / port I/O exit round trip, same boot", rfmt(X, key), rfmt("B", key), "(info)",
	    (have(X, key) && have("B", key)) ? sprintf("%s/B %.3f", X, ratio[X "|" key] / ratio["B|" key]) : "")

	# P3
	key = "p3|xen_vm_vector/lapic:halt"
	row("P3", "evtchn IPI / x2APIC IPI, VM-wide vector", rfmt(X, key), rfmt("B", key), X "<=1.1, " X "<=B",
	    vle(ratio[X "|" key], ci[X "|" key], 1.1) "; " vab(X, key))
	key = "p3|xen_vcpu_vector/lapic:halt"
	row("P3v", "  same, per-vCPU vector", rfmt(X, key), rfmt("B", key), X "<=1.1, " X "<=B",
	    vle(ratio[X "|" key], ci[X "|" key], 1.1) "; " vab(X, key))
	if (have(X, "p3|xen_vm_vector/lapic:spin")) {
		key = "p3|xen_vm_vector/lapic:spin"
		row("P3s", "  VM-wide vector, spinning waits", rfmt(X, key), rfmt("B", key), "(info)", "")
		key = "p3|xen_vcpu_vector/lapic:spin"
		row("P3t", "  per-vCPU vector, spinning waits", rfmt(X, key), rfmt("B", key), "(info)", "")
	}

	# P4: throughput with the module / without, paired by round.
	n4 = split("loaded xen_alive xen_gone xen_gone_3s", states, " ")
	for (lp = 1; lp <= 2; lp++) {
		lv = lp == 1 ? "mix" : "io"
		for (i = 1; i <= n4; i++) {
			key = "p4|" lv ":" states[i]
			row("P4", sprintf("  %s loop: %s / no module", lv, states[i]), rfmt(X, key), "",
			    ">=0.99", vge(ratio[X "|" key], ci[X "|" key], 0.99) \
			    (have(X, key) ? sprintf("; minima %.3f", rmin[X "|" key]) : ""))
		}
	}

	# P5
	a = med[X "|p5|boot_host_s|"]; bb = med["B|p5|boot_host_s|"]
	if (a != "" && bb != "") {
		r = a / bb
		f = ""
		if (failed[X] > 0 || failed["B"] > 0)
			f = sprintf("; boots that did not reach userspace: %s %d, B %d", X, failed[X], failed["B"])
		row("P5", "Xen guest boot to userspace, " X "/B", fmt(r), "", "<=1.0", vle(r, "", 1.0) " (two boots)" f)
		row("P5a", "  seconds, QEMU start to userspace", sprintf("%.1f", a), sprintf("%.1f", bb), "(info)", "")
		a = med[X "|p5|boot_guest_s|"]; bb = med["B|p5|boot_guest_s|"]
		row("P5g", "  guest uptime at userspace, " X "/B", fmt(a / bb), "", "(info)",
		    sprintf("%.1fs vs %.1fs", a, bb))
	} else {
		why = pending[X "|p5"] != "" ? pending[X "|p5"] : pending["B|p5"]
		if (why == "") why = "not run"
		row("P5", "Xen guest boot to userspace, " X "/B", "pending", "", "<=1.0", "pending: " why)
	}

	# P6: same run, same guests; B cannot do it at all.
	a = med[X "|p6|vchan_rtt_us|"]; bb = med[X "|p6|tcp_rtt_us|"]
	if (a != "" && bb != "") {
		row("P6", "evtchn notify RTT / TCP RTT, two guests", fmt(a / bb), "-", "<=1.0",
		    vle(a / bb, "", 1.0) sprintf(" (%.0f us vs %.0f us; B: one domain per VM)", a, bb))
		a = med[X "|p6|tcp_mbps|"]; bb = med[X "|p6|vchan_copy_mbps|"]
		row("P6c", "TCP MB/s / grant copy MB/s, two guests", fmt(bb ? a / bb : ""), "-", "<=1.0",
		    vle(bb ? a / bb : "", "", 1.0) sprintf(" (%.1f vs %.1f MB/s)", a, bb))
	} else {
		why = pending[X "|p6"] != "" ? pending[X "|p6"] : "not run"
		row("P6", "evtchn notify RTT / TCP RTT, two guests", "pending", "-", "<=1.0", "pending: " why)
	}

	# Memory
	if (mem_vm[X] != "") {
		row("MEM", "kernel memory per Xen VM, bytes", sprintf("%.0f", mem_vm[X]),
		    (mem_vm["B"] == "" ? "n/a" : sprintf("%.0f", mem_vm["B"])), "<=16384",
		    vle(mem_vm[X], "", 16384))
		row("MEM", "kernel memory per Xen vCPU, bytes", sprintf("%.0f", mem_vcpu[X]),
		    (mem_vcpu["B"] == "" ? "n/a" : sprintf("%.0f", mem_vcpu["B"])), "<=4096",
		    vle(mem_vcpu[X], "", 4096))
	} else {
		row("MEM", "kernel memory per Xen VM / vCPU", "n/a", "", "<=16K+4K/vCPU", "not measured")
	}

}
END {
	if ("A|p1|xen/native" in ratio || !("C|p1|xen/native" in ratio))
		table("A", "A: stock 6.1 + kvm-persona  against  B: 6.12 with in-kernel Xen")
	if (("C|p1|xen/native" in ratio) || ("C" in loaded)) {
		print "" > (res "/summary.txt")
		table("C", "C: 6.12 without CONFIG_KVM_XEN + kvm-persona  against  B: the same 6.12 with in-kernel Xen")
	}
	pfx = ""
	# The anchor must refuse the module.
	row("B", "kvm-persona refused on the anchor kernel", "",
	    (("B" in loaded) ? (loaded["B"] ? "loaded" : "refused") : "n/a"),
	    "refused", (("B" in loaded) && !loaded["B"]) ? "met" : "MISSED")
	if (errors != "")
		row("ERR", "benchmarks that failed:" errors, "", "", "", "see .cache/bench/*/*.log")

	# The same table in reStructuredText.
	out = res "/table.rst"
	w[1] = 5; w[2] = 44; w[3] = 15; w[4] = 15; w[5] = 14; w[6] = 40
	sep = ""
	for (i = 1; i <= 6; i++) sep = sep (i > 1 ? " " : "") rep("=", w[i])
	print sep > out
	printf("%-5s %-44s %-15s %-15s %-14s %s\n", "id", "metric", "A, C", "B", "goal", "verdict") > out
	print sep > out
	for (i = 1; i <= nrows; i++) {
		# No empty cells (an empty first cell continues the row
		# above) and no leading "- " (a list).
		wt = rwhat[i]; sub(/^  /, "", wt)
		printf("%-5s %-44s %-15s %-15s %-14s %s\n", rid[i], wt,
		       (ra[i] == "" ? "-" : ra[i]), (rb[i] == "" ? "-" : rb[i]),
		       (rgoal[i] == "" ? "-" : rgoal[i]), (rverdict[i] == "" ? "-" : rverdict[i])) > out
	}
	print sep > out
}
' "$RES/records.jsonl"

# ---------------------------------------------------------------- results

DURATION=$((SECONDS - T0))
{
	printf '{\n'
	printf '  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "duration_s": %d,\n' "$DURATION"
	printf '  "qemu": "%s",\n' "$QEMU_VERSION"
	printf '  "build_machine_cpu": "%s",\n' "$BUILD_CPU"
	printf '  "tree": "%s",\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
	printf '  "reps": %d,\n' "$REPS"
	printf '  "p4_reps": %d,\n' "$P4_REPS"
	printf '  "p5_reps": %d,\n' "$P5_REPS"
	printf '  "p6_reps": %d,\n' "$P6_REPS"
	printf '  "hosts": {"A": "%s + kvm-persona", "B": "%s, upstream in-kernel Xen", "C": "%s without CONFIG_KVM_XEN + kvm-persona"},\n' \
		"${KVER:-?}" "${ANCHOR_KVER:-?}" "${C_KVER:-not run}"
	printf '  "caveat": "L1 test hosts run under QEMU TCG (-cpu max, emulated AMD SVM with nested paging); the guests run on that nested KVM. Only ratios within one host boot are meaningful; A/B comparisons of absolute figures compare two boots.",\n'
	printf '  "summary": [\n'
	sed '$!s/$/,/; s/^/    /' "$RES/summary.jsonl"
	printf '  ],\n'
	printf '  "records": [\n'
	sed '$!s/$/,/; s/^/    /' "$RES/records.jsonl"
	printf '  ]\n'
	printf '}\n'
} >"$RES/results.json"

if [ -n "$UPDATE_DOC" ]; then
	cp "$RES/results.json" Documentation/benchmarks.json
	say "copied to Documentation/benchmarks.json"
fi

echo
echo "kvm-persona benchmarks ($(date -u +%Y-%m-%d), ${REPS} repetitions, medians)"
echo "  A: ${KVER:-?} + kvm-persona    B: ${ANCHOR_KVER:-?} (in-kernel Xen)"
echo "  C: ${C_KVER:-not run} without CONFIG_KVM_XEN + kvm-persona"
echo "  test hosts under TCG: only ratios within one boot mean much"
echo
cat "$RES/summary.txt"
echo
say "results in $RES/results.json; total ${DURATION}s"
exit "$STATUS"
