#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The <emulator> of a libvirt domain in QEMU's Xen HVM mode
# (Documentation/libvirt/persona-xen.xml): the machine's QEMU, with the
# accelerator properties the domain asks for in its QEMU namespace.
#
# libvirt (9.0, Debian 12) starts QEMU with "-accel kvm" and has no element
# for QEMU's xen-version, which is a property of that accelerator.  An
# "-accel kvm,xen-version=..." passed through <qemu:commandline> comes after
# libvirt's and is never used (QEMU takes the first accelerator that
# initialises), "-global kvm-accel.xen-version=..." is refused (the
# accelerator is not a device) and <qemu:override> reaches devices only.
# So the domain names the properties in an environment variable of its
# QEMU namespace,
#
#   <qemu:env name='PERSONA_ACCEL_PROPS' value='xen-version=0x4000a'/>
#
# and this script appends them to libvirt's own "-accel kvm" and runs QEMU
# with every other argument untouched.  Without PERSONA_ACCEL_PROPS (libvirt
# probing the emulator's capabilities, or any other domain) it only runs
# QEMU.  PERSONA_QEMU names the QEMU (default /usr/bin/qemu-system-x86_64).
set -eu

QEMU=${PERSONA_QEMU:-/usr/bin/qemu-system-x86_64}

if [ -n "${PERSONA_ACCEL_PROPS:-}" ]; then
	prev=
	added=
	# Rebuild the argument list in place: "for" walks the original.
	for arg; do
		shift
		if [ -z "$added" ] && [ "$prev" = -accel ]; then
			case $arg in
			kvm|kvm,*)
				arg=$arg,$PERSONA_ACCEL_PROPS
				added=1
				;;
			esac
		fi
		set -- "$@" "$arg"
		prev=$arg
	done
	if [ -z "$added" ]; then
		echo "libvirt-qemu.sh: no '-accel kvm' to add $PERSONA_ACCEL_PROPS to" >&2
		exit 1
	fi
fi
exec "$QEMU" "$@"
