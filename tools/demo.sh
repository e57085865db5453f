#!/usr/bin/env bash
# The demo behind `./quickstart demo`: makes a PKI with `brski pki init`,
# starts the daemons that are built, and runs what the build can do so far.
# It says plainly what is not built yet rather than pretending.
#
#   tools/demo.sh [--serve]     (BRSKI_BUILD names the build directory)
set -euo pipefail

build=${BRSKI_BUILD:?BRSKI_BUILD must name the build directory}
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${BRSKI_DEMO_DIR:-$top/demo}
serve=0
[ "${1:-}" = "--serve" ] && serve=1

brski=$build/tools/brski
masad=$build/masa/masad
cloudregd=$build/cloudreg/cloudregd

step() { printf '\n\033[1m--- %s\033[0m\n' "$*"; }
missing=()

has_cmd() { "$brski" --help 2>/dev/null | grep -q "^  $1 "; }

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

[ -x "$brski" ] || { echo "demo: $brski is not built"; exit 1; }

step "1. A demo PKI with brski pki init ($demo/pki)"
if [ -f "$demo/pki/pki.json" ]; then
	echo "(reusing the PKI made by an earlier run; delete $demo to start over)"
	/usr/bin/python3 -m json.tool "$demo/pki/pki.json" | head -60
else
	mkdir -p "$demo"
	"$brski" pki init "$demo/pki"
fi
manifest=$demo/pki/pki.json
mf() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d:=d[k] for k in sys.argv[2].split(".")]; print(d)' "$manifest" "$1"; }
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$demo/pki/$1" ;; esac; }

step "2. The manufacturer's view of one pledge IDevID"
pledge_cert=$(abspath "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pledges"][0]["cert"])' "$manifest")")
openssl x509 -in "$pledge_cert" -noout -subject -issuer -ext subjectKeyIdentifier,authorityKeyIdentifier 2>/dev/null || true
openssl x509 -in "$pledge_cert" -noout -text | grep -A1 '1.3.6.1.5.5.7.1.32' || true

wait_healthz() { # url cafile
	for _ in $(seq 1 100); do
		curl -fsS --max-time 1 --cacert "$2" "$1/healthz" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

step "3. The daemons"
if [ -x "$masad" ] && [ -x "$cloudregd" ]; then
	tls_ca=$(abspath "$(mf tls_ca)")
	"$masad" -c "$(abspath "$(mf configs.masa)")" 2>"$demo/masad.log" &
	pids+=($!)
	wait_healthz "$(mf admin.masa_url)" "$tls_ca" || { cat "$demo/masad.log"; exit 1; }
	echo "masad is up: $(mf masa.url) (admin $(mf admin.masa_url))"
	"$cloudregd" -c "$(abspath "$(mf configs.cloudreg)")" 2>"$demo/cloudregd.log" &
	pids+=($!)
	wait_healthz "$(mf admin.cloudreg_url)" "$tls_ca" || { cat "$demo/cloudregd.log"; exit 1; }
	echo "cloudregd (cloud role) is up: $(mf cloud_registrar.url) (admin $(mf admin.cloudreg_url))"
	curl -sS --cacert "$tls_ca" "$(mf admin.masa_url)/healthz"; echo
else
	missing+=("masad and cloudregd (the daemons)")
fi

if has_cmd pledge; then
	step "4. Pledges"
	for i in 0 1 2; do
		serial=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pledges"][int(sys.argv[2])]["serial"])' "$manifest" "$i")
		"$brski" pledge --pki "$demo/pki" --serial "$serial"
	done
else
	missing+=("the pledge flows (brski pledge: redirect, est-domain, enroll-here)")
fi

step "Summary"
echo "Made: a demo PKI and daemon configurations under $demo/pki (manifest: $manifest)."
if [ ${#missing[@]} -gt 0 ]; then
	echo "Not built yet, so not shown:"
	for m in "${missing[@]}"; do echo "  - $m"; done
fi
if [ $serve -eq 1 ] && [ ${#pids[@]} -gt 0 ]; then
	echo "Serving until Ctrl-C (logs: $demo/*.log)."
	wait
fi
