# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by scripts/deps.sh, scripts/qemu-l0.sh and scripts/i386-deps.sh:
# where this machine gets its Debian packages, and private apt
# configurations derived from that.  No host name is written anywhere: every
# URI comes from the machine's own apt sources.
#
#   apt_system_source      sets APT_URIS and APT_SIGNED to the URIs and
#                          Signed-By of the entry that carries the plain
#                          "bookworm" suite; false if there is none
#   apt_system_stanzas T A print the machine's "deb" entries (deb822 and
#                          one-line sources.list alike, backports left out)
#                          as deb822 stanzas of type T for architecture A
#   apt_private DIR        set APT_OPTS for an apt configuration of its own
#                          in DIR: sources in DIR/parts (the caller writes
#                          them), lists and caches in DIR.  The machine's
#                          sources, lists and package cache stay untouched.

# The machine's deb822 files and the one-line sources.list.
apt_source_files()
{
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}

apt_system_source()
{
	local src stanza
	APT_URIS=
	APT_SIGNED=
	while IFS= read -r src; do
		stanza=$(awk -v RS= '/Suites:[^\n]* bookworm( |\n|$)/' "$src")
		[ -n "$stanza" ] || continue
		APT_URIS=$(echo "$stanza" | sed -n 's/^URIs:[[:space:]]*//p' | head -n1)
		# shellcheck disable=SC2034 # the caller's
		APT_SIGNED=$(echo "$stanza" | sed -n 's/^Signed-By:[[:space:]]*//p' | head -n1)
		[ -z "$APT_URIS" ] || return 0
	done < <(apt_source_files)
	if [ -e /etc/apt/sources.list ]; then
		APT_URIS=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
			/etc/apt/sources.list)
	fi
	[ -n "$APT_URIS" ]
}

apt_system_stanzas()
{
	local type=$1 arch=$2 src
	while IFS= read -r src; do
		# One stanza per paragraph; fields may repeat values on a line.
		awk -v RS= -v type="$type" -v arch="$arch" '
		{
			n = split($0, line, "\n")
			types = uris = suites = comps = signed = ""
			enabled = "yes"
			for (i = 1; i <= n; i++) {
				if (line[i] ~ /^#/)
					continue
				k = line[i]; sub(/:.*/, "", k)
				v = line[i]; sub(/^[^:]*:[[:space:]]*/, "", v)
				if (k == "Types") types = v
				else if (k == "URIs") uris = v
				else if (k == "Suites") suites = v
				else if (k == "Components") comps = v
				else if (k == "Signed-By") signed = v
				else if (k == "Enabled") enabled = v
			}
			if (enabled == "no" || (" " types " ") !~ / deb /)
				next
			m = split(suites, s, " ")
			keep = ""
			for (i = 1; i <= m; i++)
				if (s[i] !~ /-backports$/)
					keep = keep (keep == "" ? "" : " ") s[i]
			if (keep == "" || uris == "")
				next
			printf "Types: %s\nURIs: %s\nSuites: %s\nComponents: %s\n", \
				type, uris, keep, comps
			if (arch != "")
				printf "Architectures: %s\n", arch
			if (signed != "")
				printf "Signed-By: %s\n", signed
			printf "\n"
		}' "$src"
	done < <(apt_source_files)
	[ -e /etc/apt/sources.list ] || return 0
	# "deb [options] URI SUITE COMPONENT...", options signed-by= kept.
	awk -v type="$type" -v arch="$arch" '
	$1 == "deb" {
		i = 2; signed = ""
		if ($2 ~ /^\[/) {
			for (; i <= NF; i++) {
				o = $i; gsub(/[][]/, "", o)
				if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = o }
				if ($i ~ /\]$/) { i++; break }
			}
		}
		if ($(i + 1) ~ /-backports$/)
			next
		comps = ""
		for (j = i + 2; j <= NF; j++)
			comps = comps (comps == "" ? "" : " ") $j
		printf "Types: %s\nURIs: %s\nSuites: %s\nComponents: %s\n", \
			type, $i, $(i + 1), comps
		if (arch != "")
			printf "Architectures: %s\n", arch
		if (signed != "")
			printf "Signed-By: %s\n", signed
		printf "\n"
	}' /etc/apt/sources.list
}

apt_private()
{
	local dir=$1
	mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial"
	# apt's sandbox user reads the sources and downloads into these.
	chmod -R 755 "$dir"
	# shellcheck disable=SC2034 # the caller's
	APT_OPTS=(-oDir::Etc::SourceList=/dev/null
		"-oDir::Etc::SourceParts=$dir/parts"
		"-oDir::State::Lists=$dir/lists"
		"-oDir::Cache=$dir/cache"
		-oAPT::Sandbox::User=root)
}
