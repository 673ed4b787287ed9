#!/usr/bin/env bash
# Installs the system packages radmfa's demo and tests need, when missing:
# FreeRADIUS (server, radclient/radtest), oathtool, and gcc for cgo (SQLite).
# Runs apt-get as root (or through sudo). Does nothing when all are present.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have freeradius || missing+=(freeradius)
have radclient || missing+=(freeradius-utils)
have oathtool || missing+=(oathtool)
have gcc || missing+=(gcc libc6-dev)

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
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}" >&2
