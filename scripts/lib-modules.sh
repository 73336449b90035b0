# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by scripts/mkinitramfs.sh and scripts/guest-image.sh: pick kernel
# modules out of an extracted Debian kernel package, with everything they
# depend on, for a busybox initramfs that loads them in order.
#
# The caller sets MODDIR (the package's lib/modules/KVER), KVER and
# MODSTAGE (where the modules go) and provides log() and die().  Then:
#   modules_index          index the package's modules
#   modules_add NAME WHY   stage NAME after its dependencies; WHY is
#                          "optional" if a kernel without it is fine
# LOAD lists the staged modules in load order.

# Module name -> file in the package (names use '_' where files use '-').
declare -A MODFILE=() BUILTIN=() STATE=()
LOAD=()

modules_index()
{
	local f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		MODFILE[${n//-/_}]=$f
	done < <(find "$MODDIR/kernel" -name '*.ko' -o -name '*.ko.*')
	[ -e "$MODDIR/modules.builtin" ] || return 0
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%.ko}
		BUILTIN[${n//-/_}]=1
	done <"$MODDIR/modules.builtin"
}

# Copy one module uncompressed: busybox's insmod hands the file to
# init_module() as is, and the kernel only accepts compressed modules
# through finit_module() (and only with CONFIG_MODULE_DECOMPRESS).
unpack_module()
{
	case "$1" in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) die "$1: unknown module compression" ;;
	esac
}

# Built-in modules need no loading; modinfo's depends= gives the order.
modules_add()
{
	local name=${1//-/_} why=$2 deps dep
	case "${STATE[$name]:-}" in
	done|skipped) return 0 ;;
	visiting) die "$name: dependency loop" ;;
	esac
	if [ -n "${BUILTIN[$name]:-}" ]; then
		STATE[$name]=skipped
		return 0
	fi
	if [ -z "${MODFILE[$name]:-}" ]; then
		[ "$why" = optional ] || die "$name ($why): neither a module nor built into $KVER"
		log "note: $name is not part of $KVER, skipped"
		STATE[$name]=skipped
		return 0
	fi
	STATE[$name]=visiting
	unpack_module "${MODFILE[$name]}" "$MODSTAGE/$name.ko"
	deps=$(modinfo -F depends "$MODSTAGE/$name.ko")
	for dep in ${deps//,/ }; do
		modules_add "$dep" "needed by $name"
	done
	LOAD+=("$name")
	STATE[$name]="done"
}
