# Helpers of the crash and soak tests (sourced after tests/lib/daemon.sh).
#
#   robust_pki N                `brski pki init --pledges N` into $D; sets
#                               TOKEN TLS_CA MASA_ADMIN OWNER_REG OWNER_EST CLOUD
#   robust_owner_devices MODE N owner acme-owner and devices pledge-0001..N
#                               in MODE, through masad's admin API
#   robust_rvr SERIAL OUT       a registrar voucher-request (CMS, fresh
#                               nonce) for SERIAL, with the pledge's request
#                               inside, signed by the owner registrar
#   robust_pvr SERIAL OUT       a pledge voucher-request (CMS, fresh nonce)
#                               naming the cloud registrar as proximity
#   robust_kill NAME            kill -9 a daemon started by start_daemon, reap it
#   robust_rand_ms MIN MAX      a random number of milliseconds in MIN..MAX
#   robust_sleep_ms MS          sleep that long (the random kill point, not
#                               a wait for readiness)
#   robust_admin_get URL-PATH OUT
#                               every page of a paged masad admin listing,
#                               items concatenated into the JSON array OUT
#   robust_load ARGS...         tests/lib/load.py with $PYTHON3
#   ROBUST_SANITIZED            1 in the ASan/UBSan build (the tests run
#                               fewer rounds there: every request is slower)
D=$TEST_TMP/pki
ROBUST_SANITIZED=0
grep -q '^SAN_FLAGS = .*address' "$top_builddir/Makefile" 2>/dev/null && ROBUST_SANITIZED=1

robust_jget() { pki_get "$D" "$1"; }

robust_pki() {
	"$BRSKI" pki init "$D" --pledges "$1" >"$TEST_TMP/pki.out" 2>&1 || {
		cat "$TEST_TMP/pki.out"
		fail "brski pki init"
	}
	TOKEN=$(cat "$D/admin-token")
	TLS_CA=$(robust_jget tls_ca)
	MASA_ADMIN=$(robust_jget admin.masa_url)
	CLOUD=$(robust_jget cloud_registrar.url)
	OWNER_REG=$(robust_jget owner.registrar.url)
	OWNER_EST=$(robust_jget owner.est.url)
	MASA_BRSKI=$(robust_jget masa.url)
}

robust_api() { # METHOD PATH [JSON-FILE]: status on stdout, body in $TEST_TMP/api.out
	if [ -n "${3:-}" ]; then
		set -- -H 'Content-Type: application/json' --data-binary "@$3" -X "$1" "$MASA_ADMIN/admin/v1$2"
	else
		set -- -X "$1" "$MASA_ADMIN/admin/v1$2"
	fi
	curl -s -o "$TEST_TMP/api.out" -w '%{http_code}' --cacert "$TLS_CA" \
		-H "Authorization: Bearer $TOKEN" "$@"
}

robust_owner_devices() {
	"$PYTHON3" -c 'import json,sys
ca, reg, est, pin = sys.argv[1:]
print(json.dumps({"name": "acme-owner", "domain_ca": open(ca).read(), "registrar_url": reg,
                  "est_url": est, "est_pin": open(pin).read()}))' \
		"$D/owner-domain-ca.crt" "$OWNER_REG/.well-known/brski/requestvoucher" "$OWNER_EST" \
		"$D/owner-est.crt" >"$TEST_TMP/owner.json"
	st=$(robust_api POST /owners "$TEST_TMP/owner.json")
	[ "$st" = 201 ] || fail "owner not created: $st $(cat "$TEST_TMP/api.out")"
	"$PYTHON3" -c 'import json,sys
mode, n = sys.argv[1], int(sys.argv[2])
print(json.dumps({"devices": [{"serial": "pledge-%04d" % i, "owner": "acme-owner", "mode": mode}
                              for i in range(1, n + 1)]}))' "$1" "$2" >"$TEST_TMP/devices.json"
	st=$(robust_api POST /devices/import "$TEST_TMP/devices.json")
	[ "$st" = 201 ] || fail "devices not imported: $st $(cat "$TEST_TMP/api.out")"
}

robust_pvr() {
	"$BRSKI" voucher create --kind request --serial "$1" --nonce random --assertion proximity \
		--proximity-registrar-cert "$D/cloud-registrar.crt" --out "$2.json" || return 1
	"$BRSKI" voucher sign --key "$D/pledges/$1.key" --cert "$D/pledges/$1.chain.pem" \
		--format cms "$2.json" "$2" 2>/dev/null
}

robust_rvr() {
	n=$("$OPENSSL" rand -hex 16)
	"$BRSKI" voucher create --kind request --serial "$1" --nonce "$n" --assertion proximity \
		--proximity-registrar-cert "$D/owner-registrar.crt" --out "$2.p.json" || return 1
	"$BRSKI" voucher sign --key "$D/pledges/$1.key" --cert "$D/pledges/$1.chain.pem" \
		--format cms "$2.p.json" "$2.p" 2>/dev/null || return 1
	"$BRSKI" voucher create --kind request --serial "$1" --nonce "$n" \
		--idevid-issuer "$D/pledges/$1.crt" --prior-signed-voucher-request "$2.p" \
		--out "$2.json" || return 1
	"$BRSKI" voucher sign --key "$D/owner-registrar.key" --cert "$D/owner-registrar.chain.pem" \
		--format cms "$2.json" "$2" 2>/dev/null
}

robust_kill() {
	pid=$(daemon_pid "$1")
	[ -n "$pid" ] || fail "robust_kill $1: not running"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	eval "DAEMON_PID_$1="
}

robust_rand_ms() {
	"$PYTHON3" -c 'import random,sys; print(random.randint(int(sys.argv[1]), int(sys.argv[2])))' "$1" "$2"
}

robust_sleep_ms() {
	sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"
}

robust_admin_get() {
	"$PYTHON3" - "$MASA_ADMIN/admin/v1$1" "$TOKEN" "$TLS_CA" "$2" <<'PY'
import json, ssl, sys, urllib.request
url, token, ca, out = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
items, sep = [], "&" if "?" in url else "?"
nxt = None
while True:
    u = url + (sep + "cursor=" + nxt if nxt else "")
    req = urllib.request.Request(u, headers={"Authorization": "Bearer " + token})
    d = json.load(urllib.request.urlopen(req, context=ctx))
    items += d["items"]
    nxt = d.get("next")
    if not nxt:
        break
json.dump(items, open(out, "w"))
PY
}

robust_load() {
	"$PYTHON3" "$top_srcdir/tests/lib/load.py" "$@"
}
