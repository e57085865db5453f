#!/bin/sh
# cloudregd end to end over real TLS on loopback, everything from one
# `brski pki init`: masad, cloudregd as the cloud registrar and cloudregd as
# the owner registrar; owners and devices registered through the admin API
# with the bootstrap token; `brski pledge` and plain curl as the pledges.
# Covers the three modes, every status of the cloud registrar's
# requestvoucher, proximity and client-certificate refusals, EST 404,
# telemetry, and MASA failures (wrong TLS certificate, unreachable, 401,
# timeout, overload) with their /metrics counters.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 9 >"$TEST_TMP/pki.out" || exit 99

jget() { pki_get "$D" "$1"; }
TOKEN=$(cat "$D/admin-token")
TLS_CA=$(jget tls_ca)
MASA_ADMIN=$(jget admin.masa_url)
CLOUD_ADMIN=$(jget admin.cloudreg_url)
CLOUD=$(jget cloud_registrar.url)
CLOUD_EST=$(jget cloud_registrar.est.url)
OWNER_REG=$(jget owner.registrar.url)
OWNER_EST=$(jget owner.est.url)
OWNER_ADMIN=https://$(ini_get "$D/cloudregd-owner.conf" admin listen)
pledge_cert() { echo "$D/pledges/$1.chain.pem"; }
pledge_key() { echo "$D/pledges/$1.key"; }

DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$D/cloudregd-cloud.conf" || fail "cloud registrar did not start"
DAEMON_CACERT=$D/owner-domain-ca.crt
start_daemon owner "$CLOUDREGD" "$D/cloudregd-owner.conf" || fail "owner registrar did not start"

# ---- owners and devices, through the admin API (masad and the cloud
# registrar share cloud.db) ----
admin() { # METHOD PATH [JSON-FILE] -> body on stdout, status in $TEST_TMP/status
	if [ -n "${3:-}" ]; then
		curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" \
			-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			-X "$1" --data-binary "@$3" "$MASA_ADMIN/admin/v1$2" >"$TEST_TMP/status"
	else
		curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" \
			-H "Authorization: Bearer $TOKEN" -X "$1" "$MASA_ADMIN/admin/v1$2" >"$TEST_TMP/status"
	fi
	cat "$TEST_TMP/admin.out"
}
owner_json() { # NAME REGISTRAR_URL EST_URL EST_PIN_FILE ENROLL_HERE
	"$PYTHON3" -c 'import json,sys
n, ca, reg, est, pin, eh = sys.argv[1:]
print(json.dumps({"name": n, "domain_ca": open(ca).read(), "registrar_url": reg,
                  "est_url": est, "est_pin": open(pin).read(), "enroll_here": eh == "true"}))' \
		"$1" "$D/owner-domain-ca.crt" "$2" "$3" "$4" "$5" >"$TEST_TMP/owner.json"
}
owner_json acme-owner "$OWNER_REG" "$OWNER_EST" "$D/owner-est.crt" true
admin POST /owners "$TEST_TMP/owner.json" >/dev/null
[ "$(cat "$TEST_TMP/status")" = 201 ] || fail "owner not created: $(cat "$TEST_TMP/admin.out")"
# An owner whose "registrar" is the cloud registrar itself: a redirect loop.
owner_json loop-owner "$CLOUD" "$OWNER_EST" "$D/owner-est.crt" false
admin POST /owners "$TEST_TMP/owner.json" >/dev/null
[ "$(cat "$TEST_TMP/status")" = 201 ] || fail "loop owner not created: $(cat "$TEST_TMP/admin.out")"
device() { # SERIAL OWNER|null MODE
	if [ "$2" = null ]; then o=null; else o="\"$2\""; fi
	printf '{"serial":"%s","owner":%s,"mode":"%s"}' "$1" "$o" "$3" >"$TEST_TMP/dev.json"
	admin POST /devices "$TEST_TMP/dev.json" >/dev/null
	[ "$(cat "$TEST_TMP/status")" = 201 ] || fail "device $1 not created: $(cat "$TEST_TMP/admin.out")"
}
device pledge-0001 acme-owner redirect
device pledge-0002 acme-owner est-domain
device pledge-0003 acme-owner enroll-here
device pledge-0004 null redirect
device pledge-0005 acme-owner redirect
device pledge-0007 loop-owner redirect
device pledge-0008 acme-owner est-domain
# pledge-0006 is never registered: unknown to the cloud registrar.
# The cloud registrar's admin API serves the same owners and devices.
printf '{"serial":"pledge-0009","owner":"acme-owner","mode":"est-domain"}' >"$TEST_TMP/dev.json"
st=$(curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary "@$TEST_TMP/dev.json" "$CLOUD_ADMIN/admin/v1/devices")
[ "$st" = 201 ] || fail "device through the cloud registrar's admin API: $st $(cat "$TEST_TMP/admin.out")"
curl -s --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" "$CLOUD_ADMIN/admin/v1/devices/pledge-0001" |
	grep -q '"mode": *"redirect"' || fail "the cloud registrar's admin API does not show pledge-0001"
curl -s --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" "$MASA_ADMIN/admin/v1/devices/pledge-0009" |
	grep -q '"owner": *"acme-owner"' || fail "masad does not see the device made through cloudregd"

pledge() { # SERIAL [ARGS...]: output in $TEST_TMP/pledge.out, returns its status
	s=$1
	shift
	"$BRSKI" pledge --pki "$D" --serial "$s" "$@" >"$TEST_TMP/pledge.out" 2>&1
	rc=$?
	cat "$TEST_TMP/pledge.out" >>"$TEST_TMP/pledges.log"
	return $rc
}
expect_out() { grep -q -- "$1" "$TEST_TMP/pledge.out" || { cat "$TEST_TMP/pledge.out"; fail "$2"; }; }
fp() { "$OPENSSL" x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

# ---- mode redirect: 307, provisional TLS to the owner registrar, voucher
# pinning the owner's domain CA ----
pledge pledge-0001 --voucher-only || { cat "$TEST_TMP/pledge.out"; fail "redirect flow failed"; }
expect_out "redirect  *307 to $OWNER_REG/.well-known/brski/requestvoucher" "no 307 to the owner registrar"
expect_out "provisional TLS" "the owner registrar was not provisional"
expect_out "validated with pinned-domain-cert" "the owner registrar was not validated with the pin"
expect_out "pinned-domain-cert SHA-256 $(fp "$D/owner-domain-ca.crt")" "redirect voucher does not pin the owner domain CA"
expect_out "voucher_status  sent success to $OWNER_REG" "voucher_status not sent to the owner registrar"
# The same pledge in COSE and JWS.
pledge pledge-0001 --voucher-only --format cose || { cat "$TEST_TMP/pledge.out"; fail "redirect flow (COSE) failed"; }
pledge pledge-0001 --voucher-only --format jws || { cat "$TEST_TMP/pledge.out"; fail "redirect flow (JWS) failed"; }
# --registrar skips the cloud (a pledge that found a local registrar).
pledge pledge-0001 --voucher-only --registrar "$OWNER_REG" || { cat "$TEST_TMP/pledge.out"; fail "--registrar failed"; }
grep -q "$CLOUD" "$TEST_TMP/pledge.out" && fail "--registrar still contacted the cloud"

# ---- mode est-domain: the cloud registrar asks the MASA ----
pledge pledge-0009 --voucher-only || { cat "$TEST_TMP/pledge.out"; fail "est-domain flow (device from cloudregd's admin API) failed"; }
pledge pledge-0002 --voucher-only || { cat "$TEST_TMP/pledge.out"; fail "est-domain flow failed"; }
expect_out "est-domain      $OWNER_EST" "no est-domain naming the owner's EST server"
expect_out "pinned-domain-cert SHA-256 $(fp "$D/owner-est.crt")" "est-domain voucher does not pin the owner's EST certificate"
grep -q "^est " "$TEST_TMP/pledge.out" && fail "--voucher-only contacted the EST server"
pledge pledge-0002 --format cose
rc=$?
[ $rc = 0 ] || { cat "$TEST_TMP/pledge.out"; fail "est-domain without --voucher-only: exit $rc, want 0 (enrolled)"; }
expect_out "authenticated by pinned-domain-cert (IP address in its SAN)" "EST server not checked against the pin"
expect_out "; enrolled" "est-domain pledge did not enroll (EST itself: test-est.sh)"

# ---- mode enroll-here: pin = the cloud registrar's domain CA, est-domain =
# the cloud registrar's EST origin ----
pledge pledge-0003 --voucher-only --format jws || { cat "$TEST_TMP/pledge.out"; fail "enroll-here flow failed"; }
expect_out "est-domain      $CLOUD_EST" "enroll-here voucher does not name the cloud EST origin"
expect_out "pinned-domain-cert SHA-256 $(fp "$D/cloud-domain-ca.crt")" "enroll-here voucher does not pin the cloud domain CA"

# ---- EST on the cloud registrar: 404 unless enroll-here (the EST server
# itself: test-est.sh) ----
est_status() { # SERIAL|none PATH
	if [ "$1" = none ]; then
		curl -s -o /dev/null -w '%{http_code}' --cacert "$D/cloud-domain-ca.crt" "$CLOUD_EST$2"
	else
		curl -s -o /dev/null -w '%{http_code}' --cacert "$D/cloud-domain-ca.crt" \
			--cert "$(pledge_cert "$1")" --key "$(pledge_key "$1")" "$CLOUD_EST$2"
	fi
}
[ "$(est_status pledge-0002 /.well-known/est/cacerts)" = 404 ] || fail "EST cacerts for an est-domain device is not 404"
[ "$(est_status pledge-0002 /.well-known/est/csrattrs)" = 404 ] || fail "EST csrattrs for an est-domain device is not 404"
[ "$(est_status none /.well-known/est/csrattrs)" = 404 ] || fail "EST without a certificate is not 404"
[ "$(est_status pledge-0003 /.well-known/est/csrattrs)" = 200 ] || fail "EST csrattrs for an enroll-here device is not 200"

# ---- statuses of requestvoucher ----
pvr() { # SERIAL PROXIMITY-CERT|none OUT: a signed pledge voucher-request
	if [ "$2" = none ]; then set -- "$1" "" "$3"; else set -- "$1" "--assertion proximity --proximity-registrar-cert $2" "$3"; fi
	# shellcheck disable=SC2086
	"$BRSKI" voucher create --kind request --serial "$1" --nonce random $2 >"$TEST_TMP/pvr.json" || exit 99
	"$BRSKI" voucher sign --key "$(pledge_key "$1")" --cert "$(pledge_cert "$1")" --format cms \
		"$TEST_TMP/pvr.json" "$3" || exit 99
}
post() { # ORIGIN SERIAL|none BODY-FILE [CONTENT-TYPE]: headers in $TEST_TMP/h, body in $TEST_TMP/b
	ct=${4:-application/voucher-cms+json}
	ca=$TLS_CA
	[ "$1" = "$OWNER_REG" ] && ca=$D/owner-domain-ca.crt
	if [ "$2" = none ]; then
		curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ca" \
			-H "Content-Type: $ct" --data-binary "@$3" "$1/.well-known/brski/requestvoucher"
	else
		curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ca" \
			--cert "$(pledge_cert "$2")" --key "$(pledge_key "$2")" \
			-H "Content-Type: $ct" --data-binary "@$3" "$1/.well-known/brski/requestvoucher"
	fi
}
CLOUD_CERT=$D/cloud-registrar.crt
pvr pledge-0005 "$CLOUD_CERT" "$TEST_TMP/pvr5.cms"
st=$(post "$CLOUD" pledge-0005 "$TEST_TMP/pvr5.cms")
[ "$st" = 307 ] || fail "plain curl with the IDevID: $st, want 307 ($(cat "$TEST_TMP/b"))"
grep -qi "^Location: $OWNER_REG/.well-known/brski/requestvoucher" "$TEST_TMP/h" || fail "307 without the absolute Location: $(cat "$TEST_TMP/h")"
# 401 without a client certificate; 403 for one from an unknown issuer
# (the handshake completes: curl gets an HTTP status).
st=$(post "$CLOUD" none "$TEST_TMP/pvr5.cms")
[ "$st" = 401 ] || fail "no client certificate: $st, want 401"
st=$(curl -s -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$TLS_CA" --cert "$D/owner-est.chain.pem" \
	--key "$D/owner-est.key" -H 'Content-Type: application/voucher-cms+json' \
	--data-binary "@$TEST_TMP/pvr5.cms" "$CLOUD/.well-known/brski/requestvoucher")
[ "$st" = 403 ] || fail "client certificate of an unknown issuer: $st, want 403"
# 400 malformed, 415 not a voucher-request type.
printf 'not CMS' >"$TEST_TMP/junk"
[ "$(post "$CLOUD" pledge-0005 "$TEST_TMP/junk")" = 400 ] || fail "malformed request is not 400"
[ "$(post "$CLOUD" pledge-0005 "$TEST_TMP/pvr5.cms" text/plain)" = 415 ] || fail "wrong Content-Type is not 415"
# A request signed by another pledge than the TLS client: refused.
pvr pledge-0001 "$CLOUD_CERT" "$TEST_TMP/pvr1.cms"
st=$(post "$CLOUD" pledge-0005 "$TEST_TMP/pvr1.cms")
[ "$st" = 403 ] || fail "request signed by another IDevID: $st, want 403"
# 404 unknown device; 401 + Retry-After when no owner is assigned yet.
pledge pledge-0006 --voucher-only
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "unknown device: exit $rc, want 4"; }
expect_out "refused  *404 from $CLOUD" "unknown device is not 404"
pledge pledge-0004 --voucher-only
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "unassigned device: exit $rc, want 4"; }
expect_out "refused  *401 from $CLOUD, Retry-After 60" "unassigned device is not 401 with Retry-After"
# Loops are detected.
pledge pledge-0007 --voucher-only
rc=$?
[ $rc = 1 ] || { cat "$TEST_TMP/pledge.out"; fail "redirect loop: exit $rc, want 1"; }
grep -q "redirect loop" "$TEST_TMP/pledge.out" || { cat "$TEST_TMP/pledge.out"; fail "loop not reported"; }
# The owner registrar: 401 and close when proximity-registrar-cert is not
# its certificate.
st=$(post "$OWNER_REG" pledge-0001 "$TEST_TMP/pvr1.cms")
[ "$st" = 401 ] || fail "owner registrar, someone else's proximity cert: $st, want 401"
grep -qi '^Connection: close' "$TEST_TMP/h" || fail "401 without Connection: close: $(cat "$TEST_TMP/h")"

# ---- telemetry: stored per device, queryable through the admin API ----
tele() { # ADMIN-ORIGIN CA SERIAL
	curl -s --cacert "$2" -H "Authorization: Bearer $TOKEN" "$1/admin/v1/devices/$3/telemetry"
}
tele "$CLOUD_ADMIN" "$TLS_CA" pledge-0002 >"$TEST_TMP/tele.json"
"$PYTHON3" - "$TEST_TMP/tele.json" <<'EOF' || fail "telemetry of pledge-0002: $(cat "$TEST_TMP/tele.json")"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
assert any(i["kind"] == "voucher_status" and i["status"] is True for i in items), items
EOF
tele "$OWNER_ADMIN" "$D/owner-domain-ca.crt" pledge-0001 | grep -q '"voucher_status"' || fail "owner registrar has no telemetry of pledge-0001"
status_post() { # BODY -> status
	printf '%s' "$1" >"$TEST_TMP/st.json"
	curl -s -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$TLS_CA" --cert "$(pledge_cert pledge-0002)" \
		--key "$(pledge_key pledge-0002)" -H 'Content-Type: application/json' \
		--data-binary "@$TEST_TMP/st.json" "$CLOUD/.well-known/brski/enrollstatus"
}
[ "$(status_post '{"version":1,"status":false,"reason":"disk full","reason-context":{"a":1}}')" = 200 ] || fail "good enrollstatus refused"
for bad in '{"version":1}' '{"status":true}' '{"version":1,"status":"yes"}' '{"version":1,"status":true,"x":1}' \
	'{"version":1,"status":true,"reason-context":3}' '{"version":1,"version":1,"status":true}' 'nope'; do
	[ "$(status_post "$bad")" = 400 ] || fail "bad telemetry '$bad' not 400"
done
tele "$CLOUD_ADMIN" "$TLS_CA" pledge-0002 | grep -q '"disk full"' || fail "enrollstatus reason not stored"
# The same through brski admin: telemetry is cloudregd's (--pki takes
# admin.cloudreg_url by itself), the request log with --cloudreg; the owner
# registrar with its URL and CA given.
"$BRSKI" admin device telemetry pledge-0002 --pki "$D" >"$TEST_TMP/bt.out" 2>&1 ||
	fail "brski admin device telemetry: $(cat "$TEST_TMP/bt.out")"
grep -q '"disk full"' "$TEST_TMP/bt.out" || fail "brski admin device telemetry lacks the reason: $(cat "$TEST_TMP/bt.out")"
"$BRSKI" admin device requests pledge-0002 --pki "$D" --cloudreg >"$TEST_TMP/br.out" 2>&1 ||
	fail "brski admin device requests --cloudreg: $(cat "$TEST_TMP/br.out")"
"$PYTHON3" - "$TEST_TMP/br.out" <<'EOF' || fail "brski admin device requests --cloudreg: $(cat "$TEST_TMP/br.out")"
import json, sys
items = json.load(open(sys.argv[1]))
assert any(i["endpoint"] == "brski/requestvoucher" and i["serial"] == "pledge-0002" for i in items), items
assert all(i["serial"] == "pledge-0002" for i in items), items
EOF
"$BRSKI" admin device telemetry pledge-0001 --url "$OWNER_ADMIN" --cacert "$D/owner-domain-ca.crt" \
	--token-file "$D/admin-token" >"$TEST_TMP/bt.out" 2>&1 ||
	fail "brski admin device telemetry at the owner registrar: $(cat "$TEST_TMP/bt.out")"
grep -q '"voucher_status"' "$TEST_TMP/bt.out" || fail "owner registrar telemetry through brski admin: $(cat "$TEST_TMP/bt.out")"
# A serial that is no device (and has no rows) is 404 for every token,
# through the API and brski admin (exit 1, the problem printed).
for kind in telemetry requests; do
	st=$(curl -s -o "$TEST_TMP/nodev.out" -w '%{http_code}' --cacert "$TLS_CA" \
		-H "Authorization: Bearer $TOKEN" "$CLOUD_ADMIN/admin/v1/devices/no-such-device/$kind")
	[ "$st" = 404 ] || fail "$kind of a serial that is no device: $st, want 404 ($(cat "$TEST_TMP/nodev.out"))"
	grep -q "no device 'no-such-device'" "$TEST_TMP/nodev.out" || fail "404 body: $(cat "$TEST_TMP/nodev.out")"
	"$BRSKI" admin device $kind no-such-device --pki "$D" --cloudreg >"$TEST_TMP/nodev.out" 2>&1
	rc=$?
	[ $rc = 1 ] || fail "brski admin device $kind of no device: exit $rc, want 1 ($(cat "$TEST_TMP/nodev.out"))"
	grep -q "no device 'no-such-device'" "$TEST_TMP/nodev.out" || fail "brski admin device $kind: $(cat "$TEST_TMP/nodev.out")"
done
# A token limited to an owner reads its own devices' telemetry and request
# log only; another owner's device is 404 (not 403: its existence is not
# told).
scoped_token() { # OWNER -> token text
	printf '{"name":"scoped-%s","scope":"read","owner":"%s"}' "$1" "$1" >"$TEST_TMP/tok.json"
	admin POST /tokens "$TEST_TMP/tok.json" >/dev/null
	[ "$(cat "$TEST_TMP/status")" = 201 ] || fail "token for $1: $(cat "$TEST_TMP/admin.out")"
	jfield "$TEST_TMP/admin.out" token
}
jfield() { "$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
scoped_get() { # TOKEN PATH -> status
	curl -s -o "$TEST_TMP/scoped.out" -w '%{http_code}' --cacert "$TLS_CA" \
		-H "Authorization: Bearer $1" "$CLOUD_ADMIN/admin/v1$2"
}
ACME_TOKEN=$(scoped_token acme-owner)
LOOP_TOKEN=$(scoped_token loop-owner)
for path in /devices/pledge-0002/telemetry /devices/pledge-0002/requests; do
	st=$(scoped_get "$ACME_TOKEN" "$path")
	[ "$st" = 200 ] || fail "acme-owner's token on $path: $st $(cat "$TEST_TMP/scoped.out")"
	st=$(scoped_get "$LOOP_TOKEN" "$path")
	[ "$st" = 404 ] || fail "loop-owner's token on $path: $st, want 404"
	grep -q "has no device 'pledge-0002'" "$TEST_TMP/scoped.out" || fail "404 body: $(cat "$TEST_TMP/scoped.out")"
done

# ---- MASA failures, each a cloud registrar with its own [registrar]
# masa_url; counted in /metrics ----
cat >"$TEST_TMP/fake.py" <<'EOF'
# A fake HTTPS peer: /unauth/* answers 401, /hang/* never answers in time,
# anything else is a 307 (an owner registrar that redirects).
import http.server, ssl, sys, time
cert, key, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        with open(log, "a") as f:
            f.write(self.path + "\n")
        if self.path.startswith("/unauth/"):
            body = b"registrar not authorised here"
            self.send_response(401)
        elif self.path.startswith("/hang/"):
            time.sleep(30)
            return
        else:
            body = b"go elsewhere"
            self.send_response(307)
            self.send_header("Location", "https://127.0.0.1:1/.well-known/brski/requestvoucher")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
s.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("ready", flush=True)
s.serve_forever()
EOF
FAKES=
start_fake() { # NAME CERT KEY -> port in $FAKE_PORT
	FAKE_PORT=$(free_port)
	"$PYTHON3" "$TEST_TMP/fake.py" "$2" "$3" "$FAKE_PORT" "$TEST_TMP/$1.log" >"$TEST_TMP/$1.out" 2>&1 &
	FAKES="$FAKES $!"
	tries=0
	until grep -q ready "$TEST_TMP/$1.out" 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -lt 100 ] || fail "fake $1 did not start"
		sleep 0.1
	done
}
trap 'rc=$?; for p in $FAKES; do kill "$p" 2>/dev/null; done; (exit $rc); daemon_cleanup' EXIT
start_fake masa-fake "$D/masa-tls.chain.pem" "$D/masa-tls.key"
FAKE_MASA=https://127.0.0.1:$FAKE_PORT
start_fake owner-fake "$D/owner-est.chain.pem" "$D/owner-est.key"
FAKE_OWNER=https://127.0.0.1:$FAKE_PORT

# A copy of the cloud configuration on fresh ports with [registrar] extras.
cloud_variant() { # NAME KEY=VALUE... -> config path
	name=$1
	shift
	"$PYTHON3" - "$D/cloudregd-cloud.conf" "$TEST_TMP/$name.conf" "$@" <<'EOF'
import socket, sys
src, dst, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
out, sec = [], None
for line in open(src):
    t = line.strip()
    if t.startswith("["):
        sec = t
    if t.startswith("listen") and sec in ("[brski]", "[est]", "[admin]"):
        line = "listen = 127.0.0.1:%d\n" % port()
    out.append(line)
    if t == "[registrar]":
        out.extend(e + "\n" for e in extra)
open(dst, "w").writelines(out)
EOF
	echo "$TEST_TMP/$name.conf"
}
metric() { # ADMIN-ORIGIN ROUTE CODE -> value (0 if absent)
	v=$(curl -s --cacert "$TLS_CA" "$1/metrics" |
		grep "^brski_http_requests_total{listener=\"masa-client\",method=\"POST\",route=\"$2\",code=\"$3\"}" |
		awk '{print $NF}')
	echo "${v:-0}"
}
DAEMON_CACERT=$TLS_CA

# The MASA's TLS certificate is not from masa_trust: refused, never skipped.
C=$(cloud_variant tlsbad "masa_url = $OWNER_REG")
start_daemon tlsbad "$CLOUDREGD" "$C" || fail "tlsbad did not start"
URL=https://$(ini_get "$C" brski listen)
pledge pledge-0002 --voucher-only --cloud "$URL"
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "wrong MASA certificate: exit $rc, want 4"; }
expect_out "refused  *502" "wrong MASA certificate is not 502"
[ "$(metric "https://$(ini_get "$C" admin listen)" "requestvoucher tls-failed" 502)" = 1 ] || {
	curl -s --cacert "$TLS_CA" "https://$(ini_get "$C" admin listen)/metrics" | grep masa-client
	fail "TLS failure not counted"
}

# The hop cap: from this instance to the main cloud registrar (hop 1), which
# redirects the loop owner's device to itself (hop 2).
pledge pledge-0007 --voucher-only --cloud "$URL" --max-hops 1
rc=$?
[ $rc = 1 ] || { cat "$TEST_TMP/pledge.out"; fail "hop cap: exit $rc, want 1"; }
grep -q "more than 1 redirects" "$TEST_TMP/pledge.out" || { cat "$TEST_TMP/pledge.out"; fail "hop cap not reported"; }

# Unreachable MASA (retried, then 502).
C=$(cloud_variant unreach "masa_url = https://127.0.0.1:$(free_port)" "masa_retries = 1")
start_daemon unreach "$CLOUDREGD" "$C" || fail "unreach did not start"
pledge pledge-0002 --voucher-only --cloud "https://$(ini_get "$C" brski listen)"
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "unreachable MASA: exit $rc, want 4"; }
expect_out "refused  *502" "unreachable MASA is not 502"
[ "$(metric "https://$(ini_get "$C" admin listen)" "requestvoucher unreachable" 502)" = 1 ] || fail "unreachable MASA not counted"

# A MASA answering 401: the registrar's failure toward the pledge (502), the
# MASA's text shown as sent.
C=$(cloud_variant unauth "masa_url = $FAKE_MASA/unauth")
start_daemon unauth "$CLOUDREGD" "$C" || fail "unauth did not start"
pledge pledge-0002 --voucher-only --cloud "https://$(ini_get "$C" brski listen)"
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "MASA 401: exit $rc, want 4"; }
expect_out "masa reported 401: registrar not authorised here" "MASA 401 text not shown as sent"
[ "$(metric "https://$(ini_get "$C" admin listen)" requestvoucher 401)" = 1 ] || fail "MASA 401 not counted"

# A MASA that does not answer in time: 202 + Retry-After; and overload: a
# second request while the only MASA slot is busy gets 503 + Retry-After.
# masa_pending = 0: the call ends with the 202 (the calls that go on after
# it: test-cloudreg-masa.sh).
C=$(cloud_variant hang "masa_url = $FAKE_MASA/hang" "masa_timeout = 3" "masa_retries = 0" \
	"retry_after = 1" "masa_max_inflight = 1" "masa_pending = 0")
start_daemon hang "$CLOUDREGD" "$C" || fail "hang did not start"
HANG=https://$(ini_get "$C" brski listen)
"$BRSKI" pledge --pki "$D" --serial pledge-0002 --voucher-only --cloud "$HANG" --tries 1 \
	>"$TEST_TMP/slow.out" 2>&1 &
SLOW=$!
tries=0
until grep -q /hang/requestvoucher "$TEST_TMP/masa-fake.log" 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -lt 100 ] || fail "the slow request never reached the MASA"
	sleep 0.1
done
pledge pledge-0008 --voucher-only --cloud "$HANG"
rc=$?
[ $rc = 4 ] || { cat "$TEST_TMP/pledge.out"; fail "overload: exit $rc, want 4"; }
expect_out "refused  *503 from $HANG, Retry-After 1" "overload is not 503 with Retry-After"
wait $SLOW
rc=$?
cat "$TEST_TMP/slow.out" >>"$TEST_TMP/pledges.log"
[ $rc = 4 ] || { cat "$TEST_TMP/slow.out"; fail "MASA timeout: exit $rc, want 4"; }
grep -q "202 from $HANG: retry in 1 s" "$TEST_TMP/slow.out" || { cat "$TEST_TMP/slow.out"; fail "no 202 + Retry-After on a MASA timeout"; }
[ "$(metric "https://$(ini_get "$C" admin listen)" "requestvoucher timeout" 504)" -ge 1 ] || fail "MASA timeout not counted"

# A 307 from an owner registrar (provisional TLS) is refused.
pledge pledge-0001 --voucher-only --registrar "$FAKE_OWNER"
rc=$?
[ $rc = 1 ] || { cat "$TEST_TMP/pledge.out"; fail "307 from an owner registrar: exit $rc, want 1"; }
expect_out "is an owner registrar (provisional TLS) and answered 307: refused" "307 from an owner registrar not refused"

echo "test-cloudreg: all checks passed"
exit 0
