#!/usr/bin/env bash
# The demo: radmfa's main job on the embedded default (./radmfa-data, no
# config file). Installs FreeRADIUS if missing, builds radmfa, enrols a demo
# user (shows its QR code), starts "radmfa serve" and FreeRADIUS on
# 127.0.0.1:18120 wired to it through rlm_rest with the shipped snippets,
# prints the radtest lines to try, and runs in the foreground until Ctrl-C.
#
#   RADMFA_DEMO_PORT  port FreeRADIUS listens on (default 18120)
#   RADMFA_DEMO_USER  demo user name (default demo)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
port=${RADMFA_DEMO_PORT:-18120}
user=${RADMFA_DEMO_USER:-demo}
bin=$root/bin/radmfa
data=$root/radmfa-data
db=$data/radmfa.db

scripts/deps.sh
scripts/build.sh

if "$bin" --db "$db" user show "$user" >/dev/null 2>&1; then
	echo "Demo user \"$user\" already enrolled in radmfa-data/ (start over: rm -r radmfa-data)."
	secret=$(cat "$data/demo.secret" 2>/dev/null || true)
else
	out=$("$bin" --db "$db" user add "$user")
	printf '%s\n' "$out"
	secret=$(printf '%s\n' "$out" | sed -n 's/^Secret: //p')
	(umask 077 && printf '%s\n' "$secret" >"$data/demo.secret")
fi

conf=$(mktemp -d /tmp/radmfa-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$conf"
}
trap cleanup EXIT

# radmfa serve on the embedded default: API on 127.0.0.1:18122 and
# radmfa-data/radmfa.sock, data in radmfa-data/.
"$bin" --db "$db" serve 2>"$data/serve.log" &
pids+=($!)
for _ in $(seq 100); do
	if curl -fsS http://127.0.0.1:18122/healthz >/dev/null 2>&1; then break; fi
	sleep 0.1
done
curl -fsS http://127.0.0.1:18122/healthz >/dev/null || { cat "$data/serve.log"; exit 1; }

fr=testdata/freeradius
mkdir -p "$conf/mods-enabled" "$conf/policy.d" "$conf/sites-enabled"
sed "s#{{DIR}}#$conf#" "$fr/radiusd-minimal.conf" >"$conf/radiusd.conf"
cp "$fr/mods-available/radmfa_rest" "$conf/mods-enabled/radmfa_rest"
cp "$fr/policy.d/radmfa_rest" "$conf/policy.d/radmfa_rest"
sed -e 's/ipaddr = \*/ipaddr = 127.0.0.1/' -e "s/port = 1812/port = $port/" \
	"$fr/sites-available/radmfa_rest" >"$conf/sites-enabled/radmfa_rest"
if ! freeradius -XC -d "$conf" >/dev/null 2>&1; then
	freeradius -XC -d "$conf"
	exit 1
fi

code='<code from the app>'
if [ -n "$secret" ] && command -v oathtool >/dev/null; then
	code="\$(oathtool --totp -b $secret)"
fi
cat <<MSG

radmfa serve is running (API on 127.0.0.1:18122, log in radmfa-data/serve.log).
FreeRADIUS is starting on 127.0.0.1:$port (secret testing123) and asks radmfa
about every Access-Request through rlm_rest. In another terminal, try:

  radtest $user $code 127.0.0.1:$port 0 testing123
        -> Access-Accept; the same code again -> Access-Reject (already used)
  radtest $user '' 127.0.0.1:$port 0 testing123
        -> Access-Challenge "Enter the code from your authenticator app"
  bin/radmfa report activity
        -> every step, newest first (Challenge / Success / Failure)
  curl -s http://127.0.0.1:18122/metrics | grep radmfa_

Press Ctrl-C to stop.

MSG
freeradius -f -l stdout -d "$conf" &
pids+=($!)
wait "${pids[-1]}"
