#!/bin/sh
# cloudregd toward the MASA, over real TLS on loopback:
#  1. per-manufacturer MASA settings ([registrar] manufacturers): two
#     manufacturers (two `brski pki init`, so two IDevID CAs, two MASAs with
#     their own TLS CAs); a pledge of manufacturer A reaches the MASA its
#     section names (not the one of its IDevID's extension), a pledge of B
#     reaches the MASA of its extension, verified with B's masa_trust;
#  2. MASA calls that outlive their 202 ([registrar] masa_pending): behind a
#     slow TCP proxy (tests/lib/slow-proxy.py) the pledge gets 202 +
#     Retry-After, its retries of the same voucher-request get 202 while the
#     call runs and then 200 with a voucher that verifies and carries its
#     nonce; the MASA logged exactly one voucher-request with that nonce. A
#     request with another nonce is another call and never gets the voucher
#     of an older nonce.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
D2=$TEST_TMP/pki2
"$BRSKI" pki init "$D" --pledges 4 >"$TEST_TMP/pki.out" || exit 99
# Manufacturer B. Both PKIs chose free ports when made; made one after the
# other they could pick the same one: then B is made again.
tries=0
while :; do
	"$BRSKI" pki init "$D2" --pledges 2 --force >"$TEST_TMP/pki2.out" || exit 99
	clash=
	for p in $(grep -ho '127\.0\.0\.1:[0-9]*' "$D2"/*.conf | sort -u); do
		grep -q "$p\$" "$D"/*.conf && clash=$p
	done
	[ -z "$clash" ] && break
	tries=$((tries + 1))
	[ $tries -lt 5 ] || exit 99
done

jget() { pki_get "$@"; }
TOKEN=$(cat "$D/admin-token")
TOKEN2=$(cat "$D2/admin-token")
TLS_CA=$(jget "$D" tls_ca)
TLS_CA2=$(jget "$D2" tls_ca)
MASA_ADMIN=$(jget "$D" admin.masa_url)
MASA2_ADMIN=$(jget "$D2" admin.masa_url)
OWNER_EST=$(jget "$D" owner.est.url)

# A variant of a configuration on fresh ports: KEY=VALUE lines are added at
# the top of [SECTION] (a key set twice is an error, so callers only add
# keys the file does not have, or name them in DROP, a |-separated list).
variant() { # SRC DST SECTION DROP KEY=VALUE...
	"$PYTHON3" - "$@" <<'EOF'
import socket, sys
src, dst, section, drop, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
drop = set(d for d in drop.split("|") if d)
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
out, sec = [], None
for line in open(src):
    t = line.strip()
    if t.startswith("["):
        sec = t
    key = t.split("=")[0].strip() if "=" in t and not t.startswith(";") else None
    if sec == "[%s]" % section and key in drop:
        continue
    if key == "listen" and sec in ("[brski]", "[est]", "[admin]"):
        line = "listen = 127.0.0.1:%d\n" % port()
    out.append(line)
    if t == "[%s]" % section:
        out.extend(e + "\n" for e in extra)
open(dst, "w").writelines(out)
EOF
}

DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad A did not start"
# A second masad of manufacturer A on other ports, same store: the MASA the
# manufacturers file names for A, so that reaching it proves the override.
variant "$D/masad.conf" "$TEST_TMP/masa-a2.conf" daemon ""
start_daemon masaa2 "$MASAD" "$TEST_TMP/masa-a2.conf" || fail "masad A2 did not start"
MASA_A2=https://$(ini_get "$TEST_TMP/masa-a2.conf" brski listen)
MASA_A2_ADMIN=https://$(ini_get "$TEST_TMP/masa-a2.conf" admin listen)
# Manufacturer B's MASA accepts voucher-requests from A's cloud registrar.
variant "$D2/masad.conf" "$TEST_TMP/masa-b.conf" masa "cloud_registrar_cert" \
	"cloud_registrar_cert = $D/cloud-registrar.crt"
# Keep B's ports: its pledges' MASA URL extension names them.
"$PYTHON3" - "$TEST_TMP/masa-b.conf" "$D2/masad.conf" <<'EOF' || exit 99
import sys
dst, orig = sys.argv[1], sys.argv[2]
listens = [l for l in open(orig) if l.strip().startswith("listen")]
out, i = [], 0
for line in open(dst):
    if line.strip().startswith("listen"):
        line = listens[i]; i += 1
    out.append(line)
open(dst, "w").writelines(out)
EOF
DAEMON_CACERT=$TLS_CA2
start_daemon masab "$MASAD" "$TEST_TMP/masa-b.conf" || fail "masad B did not start"
DAEMON_CACERT=$TLS_CA

# ---- owners and devices ----
admin() { # ORIGIN CA TOKEN METHOD PATH JSON -> status
	printf '%s' "$6" >"$TEST_TMP/admin.json"
	curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$2" -H "Authorization: Bearer $3" \
		-H 'Content-Type: application/json' -X "$4" --data-binary "@$TEST_TMP/admin.json" \
		"$1/admin/v1$5"
}
owner_json() { # NAME
	"$PYTHON3" -c 'import json,sys
d = sys.argv[2]
print(json.dumps({"name": sys.argv[1], "domain_ca": open(d + "/owner-domain-ca.crt").read(),
                  "registrar_url": "https://127.0.0.1:1", "est_url": sys.argv[3],
                  "est_pin": open(d + "/owner-est.crt").read(), "enroll_here": False}))' \
		"$1" "$D" "$OWNER_EST"
}
st=$(admin "$MASA_ADMIN" "$TLS_CA" "$TOKEN" POST /owners "$(owner_json a-owner)")
[ "$st" = 201 ] || fail "owner on A: $st $(cat "$TEST_TMP/admin.out")"
st=$(admin "$MASA2_ADMIN" "$TLS_CA2" "$TOKEN2" POST /owners "$(owner_json b-owner)")
[ "$st" = 201 ] || fail "owner on B: $st $(cat "$TEST_TMP/admin.out")"
# The cloud registrar shares A's store: A's pledges and B's pledge-0002 are
# devices there; B's MASA knows B's pledge-0002 in its own store.
for s in pledge-0001 pledge-0003 pledge-0004; do
	st=$(admin "$MASA_ADMIN" "$TLS_CA" "$TOKEN" POST /devices \
		"{\"serial\":\"$s\",\"owner\":\"a-owner\",\"mode\":\"est-domain\"}")
	[ "$st" = 201 ] || fail "device $s: $st $(cat "$TEST_TMP/admin.out")"
done
# (A's pledge-0002 is not registered: this record is B's.)
st=$(admin "$MASA_ADMIN" "$TLS_CA" "$TOKEN" POST /devices \
	"{\"serial\":\"pledge-0002\",\"owner\":\"a-owner\",\"mode\":\"est-domain\"}")
[ "$st" = 201 ] || fail "device B pledge-0002 at the cloud: $st $(cat "$TEST_TMP/admin.out")"
st=$(admin "$MASA2_ADMIN" "$TLS_CA2" "$TOKEN2" POST /devices \
	"{\"serial\":\"pledge-0002\",\"owner\":\"b-owner\",\"mode\":\"est-domain\"}")
[ "$st" = 201 ] || fail "device pledge-0002 at MASA B: $st $(cat "$TEST_TMP/admin.out")"

# ---- helpers: a pledge voucher-request, a POST, a voucher check ----
CLOUD_CERT=$D/cloud-registrar.crt
pvr() { # DIR SERIAL OUT: signed with proximity to the cloud registrar; nonce in OUT.nonce
	"$BRSKI" voucher create --kind request --serial "$2" --nonce random --assertion proximity \
		--proximity-registrar-cert "$CLOUD_CERT" >"$3.json" || exit 99
	"$PYTHON3" -c 'import json,sys
print(json.load(open(sys.argv[1]))["ietf-voucher-request:voucher"]["nonce"])' "$3.json" >"$3.nonce" ||
		exit 99
	"$BRSKI" voucher sign --key "$1/pledges/$2.key" --cert "$1/pledges/$2.chain.pem" --format cms \
		"$3.json" "$3" || exit 99
}
post() { # ORIGIN DIR SERIAL BODY: headers in $TEST_TMP/h, body in $TEST_TMP/b, status on stdout
	curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --max-time 60 --cacert "$TLS_CA" \
		--cert "$2/pledges/$3.chain.pem" --key "$2/pledges/$3.key" \
		-H 'Content-Type: application/voucher-cms+json' --data-binary "@$4" \
		"$1/.well-known/brski/requestvoucher"
}
voucher_ok() { # MASA-CA SERIAL NONCE-FILE: $TEST_TMP/b verifies and is for SERIAL and that nonce
	"$BRSKI" voucher verify --trust "$1" "$TEST_TMP/b" >"$TEST_TMP/v.json" 2>"$TEST_TMP/v.err" || {
		cat "$TEST_TMP/v.err"
		return 1
	}
	"$PYTHON3" - "$TEST_TMP/v.json" "$2" "$3" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))["ietf-voucher:voucher"]
want = open(sys.argv[3]).read().strip()
assert v["serial-number"] == sys.argv[2], v
assert v["nonce"] == want, (v["nonce"], want)
EOF
}
metric_masa() { # ADMIN-ORIGIN CA -> requestvoucher answers 200 of that masad
	curl -s --cacert "$2" "$1/metrics" |
		awk '/^brski_http_requests_total\{listener="brski",method="POST",route="\/.well-known\/brski\/requestvoucher",code="200"\}/ {print $NF}' |
		head -1
}

# ---- 1. per-manufacturer MASA settings ----
cat "$D/manufacturer-ca.crt" "$D2/manufacturer-ca.crt" >"$TEST_TMP/manufacturers-ca.pem"
cat >"$TEST_TMP/manufacturers.conf" <<EOF
; manufacturer A: its own MASA URL, whatever its IDevIDs' extension says
[vendor-a]
ca = $D/manufacturer-ca.crt
masa_url = $MASA_A2

; manufacturer B: the MASA of its IDevIDs' extension, with B's TLS anchors
[vendor-b]
ca = pki2/manufacturer-ca.crt
masa_trust = pki2/tls-ca.crt
EOF
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/mfr.conf" registrar "manufacturer_ca" \
	"manufacturer_ca = $TEST_TMP/manufacturers-ca.pem" "manufacturers = $TEST_TMP/manufacturers.conf"
start_daemon mfr "$CLOUDREGD" "$TEST_TMP/mfr.conf" || fail "cloudregd with manufacturers did not start"
MFR=https://$(ini_get "$TEST_TMP/mfr.conf" brski listen)

a1=$(metric_masa "$MASA_ADMIN" "$TLS_CA")
a2=$(metric_masa "$MASA_A2_ADMIN" "$TLS_CA")
pvr "$D" pledge-0001 "$TEST_TMP/a.cms"
st=$(post "$MFR" "$D" pledge-0001 "$TEST_TMP/a.cms")
[ "$st" = 200 ] || fail "manufacturer A: $st, want 200 ($(cat "$TEST_TMP/b"))"
voucher_ok "$D/masa-ca.crt" pledge-0001 "$TEST_TMP/a.cms.nonce" || fail "manufacturer A: the voucher does not verify"
[ "$(metric_masa "$MASA_A2_ADMIN" "$TLS_CA")" = "$((${a2:-0} + 1))" ] ||
	fail "manufacturer A's voucher-request did not reach the MASA of its section"
[ "$(metric_masa "$MASA_ADMIN" "$TLS_CA")" = "${a1:-}" ] ||
	fail "manufacturer A's voucher-request went to the MASA of its extension"

pvr "$D2" pledge-0002 "$TEST_TMP/b.cms"
st=$(post "$MFR" "$D2" pledge-0002 "$TEST_TMP/b.cms")
[ "$st" = 200 ] || fail "manufacturer B: $st, want 200 ($(cat "$TEST_TMP/b"))"
voucher_ok "$D2/masa-ca.crt" pledge-0002 "$TEST_TMP/b.cms.nonce" ||
	fail "manufacturer B: the voucher does not verify with B's MASA anchor"
# SIGHUP re-reads the file: without its masa_url, manufacturer A's pledges
# go to the MASA of their IDevID's extension.
grep -v "^masa_url = $MASA_A2" "$TEST_TMP/manufacturers.conf" >"$TEST_TMP/m.tmp"
mv "$TEST_TMP/m.tmp" "$TEST_TMP/manufacturers.conf"
a1=$(metric_masa "$MASA_ADMIN" "$TLS_CA")
kill -HUP "$(daemon_pid mfr)"
tries=0
until grep -q 'reloaded the registrar key' "$TEST_TMP/mfr.log"; do
	tries=$((tries + 1))
	[ $tries -lt 100 ] || fail "cloudregd did not reload on SIGHUP"
	sleep 0.1
done
pvr "$D" pledge-0001 "$TEST_TMP/a2.cms"
st=$(post "$MFR" "$D" pledge-0001 "$TEST_TMP/a2.cms")
[ "$st" = 200 ] || fail "manufacturer A after SIGHUP: $st, want 200 ($(cat "$TEST_TMP/b"))"
[ "$(metric_masa "$MASA_ADMIN" "$TLS_CA")" = "$((${a1:-0} + 1))" ] ||
	fail "after SIGHUP manufacturer A's voucher-request did not go to the MASA of its extension"
# Without B's masa_trust the MASA of B is not trusted: never skipped.
grep -v '^masa_trust = pki2' "$TEST_TMP/manufacturers.conf" >"$TEST_TMP/manufacturers-nob.conf"
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/mfr-nob.conf" registrar "manufacturer_ca" \
	"manufacturer_ca = $TEST_TMP/manufacturers-ca.pem" "manufacturers = $TEST_TMP/manufacturers-nob.conf"
start_daemon mfrnob "$CLOUDREGD" "$TEST_TMP/mfr-nob.conf" || fail "cloudregd mfr-nob did not start"
pvr "$D2" pledge-0002 "$TEST_TMP/b2.cms"
st=$(post "https://$(ini_get "$TEST_TMP/mfr-nob.conf" brski listen)" "$D2" pledge-0002 "$TEST_TMP/b2.cms")
[ "$st" = 502 ] || fail "manufacturer B without its masa_trust: $st, want 502"
stop_daemon mfrnob

# A manufacturer whose CA is not among [registrar] manufacturer_ca: refused
# at start, naming the file.
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/mfr-bad.conf" registrar "" \
	"manufacturers = $TEST_TMP/manufacturers.conf"
"$CLOUDREGD" -c "$TEST_TMP/mfr-bad.conf" >"$TEST_TMP/mfr-bad.out" 2>&1 &
BAD=$!
tries=0
while kill -0 $BAD 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -lt 300 ] || { kill $BAD; fail "cloudregd started with a manufacturer CA it does not authenticate"; }
	sleep 0.1
done
wait $BAD && fail "cloudregd exited 0 with a bad manufacturers file"
grep -q "manufacturer \[vendor-b\] ca .*is not in \[registrar\] manufacturer_ca" "$TEST_TMP/mfr-bad.out" ||
	fail "bad manufacturers file: $(cat "$TEST_TMP/mfr-bad.out")"
# Syntax errors name the line.
printf '[vendor-a]\nca = %s\ncolour = blue\n' "$D/manufacturer-ca.crt" >"$TEST_TMP/manufacturers-syn.conf"
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/mfr-syn.conf" registrar "" \
	"manufacturers = $TEST_TMP/manufacturers-syn.conf"
"$CLOUDREGD" -c "$TEST_TMP/mfr-syn.conf" >"$TEST_TMP/mfr-syn.out" 2>&1 && fail "cloudregd accepted an unknown key"
grep -q "manufacturers-syn.conf:3: unknown key 'colour' in \[vendor-a\]" "$TEST_TMP/mfr-syn.out" ||
	fail "unknown key: $(cat "$TEST_TMP/mfr-syn.out")"
# The example file, pointed at this PKI, loads.
sed -e "s|/etc/brski-cloud/|$D/|g" "$top_srcdir/conf/manufacturers.conf.example" >"$TEST_TMP/manufacturers-ex.conf"
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/mfr-ex.conf" registrar "" \
	"manufacturers = $TEST_TMP/manufacturers-ex.conf"
start_daemon mfrex "$CLOUDREGD" "$TEST_TMP/mfr-ex.conf" || fail "cloudregd with conf/manufacturers.conf.example did not start"
stop_daemon mfrex

# ---- 2. a slow MASA: 202, then the answer of the same call ----
PROXY_PORT=$(free_port)
MASA_PORT=$(ini_get "$D/masad.conf" brski listen | sed 's/.*://')
"$PYTHON3" "$top_srcdir/tests/lib/slow-proxy.py" "$PROXY_PORT" 127.0.0.1 "$MASA_PORT" 3 \
	"$TEST_TMP/proxy.log" >"$TEST_TMP/proxy.out" 2>&1 &
PROXY=$!
trap 'rc=$?; kill $PROXY 2>/dev/null; (exit $rc); daemon_cleanup' EXIT
tries=0
until grep -q ready "$TEST_TMP/proxy.out" 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -lt 100 ] || fail "the slow proxy did not start"
	sleep 0.1
done
variant "$D/cloudregd-cloud.conf" "$TEST_TMP/slow.conf" registrar "masa_timeout|retry_after|masa_pending" \
	"masa_url = https://127.0.0.1:$PROXY_PORT" "masa_timeout = 2" "retry_after = 1" "masa_pending = 90"
start_daemon slow "$CLOUDREGD" "$TEST_TMP/slow.conf" || fail "cloudregd behind the slow proxy did not start"
SLOW=https://$(ini_get "$TEST_TMP/slow.conf" brski listen)

masa_count() { # SERIAL NONCE-FILE -> how many voucher-requests masad A logged with that nonce
	curl -s --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
		"$MASA_ADMIN/admin/v1/devices/$1/requests?limit=1000" >"$TEST_TMP/reqs.json"
	"$PYTHON3" - "$TEST_TMP/reqs.json" "$2" <<'EOF'
import base64, json, sys
items = json.load(open(sys.argv[1]))["items"]
want = base64.b64decode(open(sys.argv[2]).read().strip())
print(sum(1 for i in items if i["nonce"] and base64.b64decode(i["nonce"]) == want))
EOF
}

pvr "$D" pledge-0003 "$TEST_TMP/s.cms"
st=$(post "$SLOW" "$D" pledge-0003 "$TEST_TMP/s.cms")
[ "$st" = 202 ] || fail "slow MASA, first request: $st, want 202 ($(cat "$TEST_TMP/b"))"
grep -qi '^Retry-After: 1' "$TEST_TMP/h" || fail "202 without Retry-After: $(cat "$TEST_TMP/h")"
# The retry while the call runs: 202 again (the proxy holds each piece the
# registrar sends 3 s: the TLS handshake and the request take 6 s or more).
st=$(post "$SLOW" "$D" pledge-0003 "$TEST_TMP/s.cms")
[ "$st" = 202 ] || fail "slow MASA, retry while pending: $st, want 202"
# Retries of the same request until the answer (each waits up to 2 s).
tries=0
while [ "$st" = 202 ]; do
	tries=$((tries + 1))
	[ $tries -lt 40 ] || fail "the slow MASA's answer never came to the pledge"
	sleep 1
	st=$(post "$SLOW" "$D" pledge-0003 "$TEST_TMP/s.cms")
done
[ "$st" = 200 ] || fail "slow MASA, retry: $st, want 200 ($(cat "$TEST_TMP/b"))"
voucher_ok "$D/masa-ca.crt" pledge-0003 "$TEST_TMP/s.cms.nonce" || fail "the voucher of the retry does not verify"
[ "$(masa_count pledge-0003 "$TEST_TMP/s.cms.nonce")" = 1 ] ||
	fail "the MASA logged $(masa_count pledge-0003 "$TEST_TMP/s.cms.nonce") voucher-requests for one pledge request, want 1"
[ "$(grep -c conn "$TEST_TMP/proxy.log")" = 1 ] || fail "the registrar opened $(grep -c conn "$TEST_TMP/proxy.log") connections to the MASA, want 1"

# Another nonce is another call: the pledge's new request (nonce N2)
# replaces its pending one (N1), and N2's answer carries N2.
pvr "$D" pledge-0004 "$TEST_TMP/n1.cms"
pvr "$D" pledge-0004 "$TEST_TMP/n2.cms"
st=$(post "$SLOW" "$D" pledge-0004 "$TEST_TMP/n1.cms")
[ "$st" = 202 ] || fail "nonce N1: $st, want 202"
st=$(post "$SLOW" "$D" pledge-0004 "$TEST_TMP/n2.cms")
[ "$st" = 202 ] || fail "nonce N2 while N1 is pending: $st, want 202 (a new call, not N1's answer)"
tries=0
while [ "$st" = 202 ]; do
	tries=$((tries + 1))
	[ $tries -lt 40 ] || fail "N2's answer never came"
	sleep 1
	st=$(post "$SLOW" "$D" pledge-0004 "$TEST_TMP/n2.cms")
done
[ "$st" = 200 ] || fail "nonce N2: $st, want 200 ($(cat "$TEST_TMP/b"))"
voucher_ok "$D/masa-ca.crt" pledge-0004 "$TEST_TMP/n2.cms.nonce" || fail "N2's voucher is not for N2"
[ "$(masa_count pledge-0004 "$TEST_TMP/n2.cms.nonce")" = 1 ] || fail "N2 was asked of the MASA more than once"
# N1 was replaced: asking with it again is a new call, never N2's voucher.
st=$(post "$SLOW" "$D" pledge-0004 "$TEST_TMP/n1.cms")
[ "$st" = 202 ] || fail "N1 after N2 was answered: $st, want 202 (a new call)"

# The daemon stops promptly with a call still running in a worker.
stop_daemon slow || fail "cloudregd did not stop cleanly with a MASA call in progress"

echo "test-cloudreg-masa: all checks passed"
exit 0
