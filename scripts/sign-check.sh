#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make sign", checked on the build machine after the module is built:
#
#   make module && scripts/sign-check.sh
#
# Makes a throwaway signing key the way the kernel's certs/Makefile does
# (a self-signed RSA x509 certificate with its extensions, the key in PEM,
# the certificate also in DER as mokutil --import wants it), signs a copy
# of src/kvm-persona.ko with "make sign SIGN_MODULE=copy", and asserts
# that modinfo shows the signature (PKCS#7, the certificate's CN as
# signer, its serial number as sig_key, the kernel's
# CONFIG_MODULE_SIG_HASH), that the PKCS#7 signature verifies with
# openssl against the certificate over the module's bytes and fails once
# one byte of the module changed, that the unsigned module and a signed
# one with its trailer corrupted show no signature, that "make sign"
# refuses to sign a module twice, and that src/kvm-persona.ko itself was
# not touched.  Prints KTAP ("ok N sign.modinfo_signer") and
# "N passed, N failed".
#
# Usage: scripts/sign-check.sh [--name NAME] [--start N] [--no-plan]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
NAME=sign
START=1
PLAN=1
while [ $# -gt 0 ]; do
	case $1 in
	--name) NAME=$2; shift 2 ;;
	--start) START=$2; shift 2 ;;
	--no-plan) PLAN=; shift ;;
	*) echo "usage: $0 [--name NAME] [--start N] [--no-plan]" >&2
	   exit 2 ;;
	esac
done

# shellcheck source=scripts/lib-ktap.sh
. "$ROOT/scripts/lib-ktap.sh"

KO=src/kvm-persona.ko
CN="kvm-persona sign-check throwaway key"
W=$(mktemp -d "${TMPDIR:-/tmp}/sign-check.XXXXXX")
cleanup()
{
	rm -rf "$W"
	# Also after an early exit: the caller counts from this line.
	ktap_summary
}
trap cleanup EXIT

ktap_plan 12
if [ ! -f "$KO" ]; then
	echo "# $KO: not built (make module)"
	not_ok module_built
	exit 1
fi
before=$(sha256sum <"$KO")
# shellcheck disable=SC1091
[ -e .cache/env.sh ] && . .cache/env.sh
HASH=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$/\1/p' "${KDIR:-}/.config" 2>/dev/null)
HASH=${HASH:-sha256}

# The kernel's certs/default_x509.genkey, with a smaller key.
cat >"$W/x509.genkey" <<EOF
[ req ]
default_bits = 2048
distinguished_name = req_distinguished_name
prompt = no
string_mask = utf8only
x509_extensions = myexts

[ req_distinguished_name ]
CN = $CN

[ myexts ]
basicConstraints=critical,CA:FALSE
keyUsage=digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
if openssl req -new -nodes -utf8 -sha256 -days 1 -batch -x509 \
	-config "$W/x509.genkey" -outform PEM -out "$W/cert.pem" \
	-keyout "$W/key.pem" >"$W/req.log" 2>&1 &&
   openssl x509 -in "$W/cert.pem" -outform DER -out "$W/cert.der"; then
	ok throwaway_key
else
	diag <"$W/req.log"
	not_ok throwaway_key
	exit 1
fi

# Key IDs as modinfo prints them (hex bytes, colons) and openssl's serial.
hexid() { tr -d ':\n' | tr a-f A-F | sed 's/^0*//'; }
field() { modinfo -F "$1" "$2" 2>/dev/null; }

cp "$KO" "$W/signed.ko"
make -s sign SIGN_KEY="$W/key.pem" SIGN_CERT="$W/cert.der" \
	SIGN_MODULE="$W/signed.ko" 2>&1 | diag
check "${PIPESTATUS[0]}" make_sign
modinfo "$W/signed.ko" | grep -E '^(sig_id|signer|sig_key|sig_hashalgo):' | diag

[ "$(field sig_id "$W/signed.ko")" = "PKCS#7" ] &&
	[ "$(field signer "$W/signed.ko")" = "$CN" ]
check $? modinfo_signer "signer: $(field signer "$W/signed.ko")"
sig_key=$(field sig_key "$W/signed.ko" | hexid)
serial=$(openssl x509 -in "$W/cert.pem" -noout -serial | sed 's/^serial=//' | hexid)
[ -n "$sig_key" ] && [ "$sig_key" = "$serial" ]
check $? modinfo_sig_key_is_cert_serial "sig_key $sig_key, serial $serial"
[ "$(field sig_hashalgo "$W/signed.ko")" = "$HASH" ]
check $? modinfo_sig_hashalgo "$(field sig_hashalgo "$W/signed.ko"), kernel's $HASH"

# The signed file: the module, the PKCS#7 signature, struct
# module_signature (12 bytes, the signature's length in the last four,
# big-endian) and the magic string (28 bytes).
size=$(stat -c %s "$W/signed.ko")
siglen=$(tail -c 32 "$W/signed.ko" | head -c 4 | od -An -tu1 |
	awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
head -c $((size - 40 - siglen)) "$W/signed.ko" >"$W/data"
tail -c $((siglen + 40)) "$W/signed.ko" | head -c "$siglen" >"$W/sig.p7"
verify()
{
	openssl cms -verify -binary -inform DER -in "$W/sig.p7" \
		-content "$1" -certfile "$W/cert.pem" -nointern -noverify \
		-out /dev/null 2>&1
}
verify "$W/data" | diag
check "${PIPESTATUS[0]}" signature_verifies
cmp -s "$W/data" "$KO"
check $? signed_data_is_the_module
# One byte of the module changed: the signature no longer holds.
cp "$W/data" "$W/corrupt"
printf '\377' | dd of="$W/corrupt" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
! verify "$W/corrupt" >/dev/null
check $? corrupted_module_fails_verification

[ -z "$(field sig_id "$KO")" ] && [ -z "$(field signer "$KO")" ]
check $? unsigned_module_has_no_signature
cp "$W/signed.ko" "$W/trailer.ko"
printf 'X' | dd of="$W/trailer.ko" bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null
[ -z "$(field sig_id "$W/trailer.ko")" ] && [ -z "$(field signer "$W/trailer.ko")" ]
check $? corrupted_trailer_has_no_signature

cp "$W/signed.ko" "$W/again.ko"
! make -s sign SIGN_KEY="$W/key.pem" SIGN_CERT="$W/cert.der" \
	SIGN_MODULE="$W/again.ko" >/dev/null 2>&1 && cmp -s "$W/again.ko" "$W/signed.ko"
check $? make_sign_refuses_signed_module

[ "$(sha256sum <"$KO")" = "$before" ]
check $? tree_module_untouched
