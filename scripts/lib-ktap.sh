# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# KTAP results for the check scripts that are steps of "make check"
# (dkms-check.sh, sign-check.sh, vchan-check.sh).  Source it once NAME
# (the results' prefix), START (the first result's number) and PLAN
# (non-empty: print the KTAP header) are set.  Results are numbered on
# from START, "ok N NAME.TEST[ # REASON]", and counted; the caller's exit
# trap calls ktap_summary, whose "P passed, F failed" line check.sh
# counts from, also after an early exit.

N=$((START - 1))
PASS=0
FAIL=0

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N $NAME.$1${2:+ # $2}"; }
not_ok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N $NAME.$1${2:+ # $2}"; }
# check STATUS TEST [REASON]: ok if STATUS is 0.
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2" "${3:-}"; fi; }
note() { echo "# $*"; }
diag() { sed -u 's/^/# /'; }

# ktap_plan COUNT: the KTAP header, if PLAN asks for it.
ktap_plan()
{
	if [ -n "$PLAN" ]; then
		echo "TAP version 13"
		echo "1..$1"
	fi
}

ktap_summary() { echo "$PASS passed, $FAIL failed"; }
