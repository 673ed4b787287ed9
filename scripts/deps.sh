#!/usr/bin/env bash
# Installs the system packages radmfa's demo and tests need, when missing:
# FreeRADIUS (server, rlm_rest, radclient/radtest), oathtool, gcc for cgo (SQLite), and
# OpenLDAP's slapd and ldap-utils (the LDAP tests start their own throwaway
# slapd on loopback; the system one is never used), and Chromium (the admin
# page's browser test drives it headless).
# Runs apt-get as root (or through sudo). Does nothing when all are present.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have freeradius || missing+=(freeradius)
have radclient || missing+=(freeradius-utils)
# rlm_rest, for radmfa serve behind FreeRADIUS.
[ -e /usr/lib/freeradius/rlm_rest.so ] || missing+=(freeradius-rest)
have oathtool || missing+=(oathtool)
have curl || missing+=(curl)
have gcc || missing+=(gcc libc6-dev)
# slapd lives in /usr/sbin, which is not on every user's PATH.
[ -x /usr/sbin/slapd ] || have slapd || missing+=(slapd)
have ldapsearch || missing+=(ldap-utils)
have chromium || have chromium-browser || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if ! have apt-get; then
	echo "deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if have sudo; then
		sudo="sudo"
	else
		echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
for p in "${missing[@]}"; do
	if [ "$p" = slapd ] && have debconf-set-selections; then
		# Install slapd without creating a system directory (no prompts for
		# a domain or admin password), so its service has nothing to serve:
		# the tests run their own slapd with a config in a temp dir.
		echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
	fi
done
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for p in "${missing[@]}"; do
	if [ "$p" = slapd ] && have systemctl && [ -d /run/systemd/system ]; then
		# Keep a system slapd from holding port 389 or starting at boot.
		$sudo systemctl disable --now slapd >/dev/null 2>&1 || true
	fi
done
echo "deps: installed ${missing[*]}" >&2
