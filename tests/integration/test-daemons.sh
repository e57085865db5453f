#!/bin/sh
# masad and cloudregd on loopback with the PKI and configurations of
# `brski pki init`: configuration checks, health and metrics, routing,
# TLS versions, client-certificate policy, body limits, SIGHUP reload and
# SIGTERM drain.
. "$top_srcdir/tests/lib/daemon.sh"

pki=$TEST_TMP/pki
"$BRSKI" pki init "$pki" >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; fail "brski pki init"; }
DAEMON_CACERT=$pki/tls-ca.crt

# ---- command line -----------------------------------------------------------
for prog in "$MASAD" "$CLOUDREGD"; do
	name=${prog##*/}
	"$prog" --version | grep -q "^$name (brski-cloud) " || fail "$name --version"
	"$prog" --help | grep -q -- '--check-config' || fail "$name --help"
	"$prog" --no-such-option 2>/dev/null
	rc=$?
	[ "$rc" -eq 2 ] || fail "$name with an unknown option exited $rc, not 2"
	"$prog" -c "$TEST_TMP/missing.conf" --check-config 2>"$TEST_TMP/missing.err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$name on a missing file exited $rc, not 2"
	grep -q 'missing.conf: cannot open' "$TEST_TMP/missing.err" || fail "$name: missing file not named"
done

# ---- --check-config ------------------------------------------------------
"$MASAD" -c "$pki/masad.conf" --check-config || fail "masad --check-config on masad.conf"
for c in cloudregd-cloud cloudregd-owner; do
	"$CLOUDREGD" -c "$pki/$c.conf" --check-config || fail "cloudregd --check-config on $c.conf"
done
# The wrong program for a role is a configuration error.
"$CLOUDREGD" -c "$pki/masad.conf" --check-config 2>"$TEST_TMP/role.err" && fail "cloudregd accepted role masa"
grep -q "role 'masa' is not served by cloudregd" "$TEST_TMP/role.err" || { cat "$TEST_TMP/role.err"; fail "role error text"; }

# An unknown key is named with file and line; exit status 2.
bad=$TEST_TMP/bad.conf
awk '{ print } /^\[daemon\]/ { print "bogus_key = 1" }' "$pki/masad.conf" >"$bad"
line=$(grep -n '^bogus_key' "$bad" | cut -d: -f1)
"$MASAD" -c "$bad" --check-config 2>"$TEST_TMP/bad.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--check-config on an unknown key exited $rc, not 2"
grep -qF "$bad:$line: unknown key 'bogus_key' in [daemon]" "$TEST_TMP/bad.err" ||
	{ cat "$TEST_TMP/bad.err"; fail "unknown key not reported as $bad:$line"; }

# ---- start the three daemons --------------------------------------------
# masad runs on copies of its admin certificate and key so that the reload
# test can replace them, and with a short drain timeout.
cp "$pki/masa-tls.chain.pem" "$TEST_TMP/admin.crt"
cp "$pki/masa-tls.key" "$TEST_TMP/admin.key"
masa_conf=$TEST_TMP/masad.conf
awk -v crt="$TEST_TMP/admin.crt" -v key="$TEST_TMP/admin.key" '
	/^\[/ { sec = $0 }
	sec == "[admin]" && /^cert[ \t]*=/ { print "cert = " crt; next }
	sec == "[admin]" && /^key[ \t]*=/ { print "key = " key; next }
	{ print }
	/^\[daemon\]/ { print "drain_timeout = 3" }' "$pki/masad.conf" >"$masa_conf"
"$MASAD" -c "$masa_conf" --check-config >/dev/null || fail "masad --check-config on the test copy"

start_daemon masad "$MASAD" "$masa_conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$pki/cloudregd-cloud.conf" || fail "cloudregd (cloud) did not start"
# The owner's registrar serves a certificate from the owner's domain CA.
DAEMON_CACERT=$pki/owner-domain-ca.crt
start_daemon owner "$CLOUDREGD" "$pki/cloudregd-owner.conf" || fail "cloudregd (registrar) did not start"
DAEMON_CACERT=$pki/tls-ca.crt

masa_admin=$(admin_origin "$masa_conf")
masa_brski=https://$(ini_get "$masa_conf" brski listen)
cloud_brski=https://$(ini_get "$pki/cloudregd-cloud.conf" brski listen)
ca=$DAEMON_CACERT

# healthz_ok CA ORIGIN [CURL-ARGS...]: GET /healthz answers 200 "ok"
healthz_ok() {
	hca=$1 horigin=$2
	shift 2
	hcode=$(curl -sS -o "$TEST_TMP/healthz.body" -w '%{http_code}' --cacert "$hca" "$@" "$horigin/healthz") ||
		fail "curl $horigin/healthz $*"
	[ "$hcode" = 200 ] && [ "$(cat "$TEST_TMP/healthz.body")" = ok ] ||
		fail "$horigin/healthz $* answered $hcode: $(cat "$TEST_TMP/healthz.body")"
}

# ---- health, metrics, routing -------------------------------------------
for d in "$masa_conf:$ca" "$pki/cloudregd-cloud.conf:$ca" "$pki/cloudregd-owner.conf:$pki/owner-domain-ca.crt"; do
	healthz_ok "${d#*:}" "$(admin_origin "${d%%:*}")"
done

healthz_count() {
	curl -sS --cacert "$ca" "$masa_admin/metrics" |
		awk -F'} ' '/^brski_http_requests_total\{listener="admin",method="GET",route="\/healthz",code="200"\}/ { print $2 }'
}
before=$(healthz_count)
[ -n "$before" ] || fail "/metrics has no healthz series"
for i in 1 2 3; do
	curl -sS -o /dev/null --cacert "$ca" "$masa_admin/healthz" || fail "healthz $i"
done
after=$(healthz_count)
[ "$after" -eq $((before + 3)) ] || fail "/metrics counted $before then $after healthz requests, not +3"
curl -sS --cacert "$ca" "$masa_admin/metrics" | grep -q '^brski_http_request_duration_seconds_bucket{listener="admin",method="GET",route="/healthz",le="+Inf"}' ||
	fail "/metrics has no latency histogram"

code=$(curl -sS -o "$TEST_TMP/404" -w '%{http_code}' --cacert "$ca" "$masa_admin/no/such/path")
[ "$code" = 404 ] || fail "unknown path answered $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" "$masa_brski/.well-known/brski/no-such-endpoint")
[ "$code" = 404 ] || fail "an unknown BRSKI path answered $code, not 404"
code=$(curl -sS -o /dev/null -D "$TEST_TMP/405.h" -w '%{http_code}' --cacert "$ca" -X DELETE "$masa_admin/healthz")
[ "$code" = 405 ] || fail "DELETE /healthz answered $code"
grep -qi '^Allow: GET' "$TEST_TMP/405.h" || fail "405 without Allow: GET"

# ---- TLS versions --------------------------------------------------------
hp=$(ini_get "$masa_conf" admin listen)
host=${hp%:*} port=${hp##*:}
handshake_failures() {
	curl -sS --cacert "$ca" "$masa_admin/metrics" | awk '/^brski_tls_handshake_failures_total/ { print $2 }'
}
fails_before=$(handshake_failures)
# Handshakes that complete are not failures, even without a request.
for v in -tls1_2 -tls1_3; do
	"$OPENSSL" s_client -connect "$hp" $v -CAfile "$ca" </dev/null >"$TEST_TMP/ok.out" 2>&1 ||
		{ cat "$TEST_TMP/ok.out"; fail "openssl s_client $v failed"; }
done
[ "$(handshake_failures)" -eq "$fails_before" ] || fail "completed handshakes counted as failures"
gnutls-cli --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.1' --x509cafile "$ca" -p "$port" "$host" \
	</dev/null >"$TEST_TMP/tls11.out" 2>&1 && { cat "$TEST_TMP/tls11.out"; fail "a TLS 1.1 handshake succeeded"; }
"$OPENSSL" s_client -connect "$hp" -tls1_1 -CAfile "$ca" </dev/null >"$TEST_TMP/tls11o.out" 2>&1 &&
	fail "openssl s_client -tls1_1 succeeded"
grep -q 'Cipher is (NONE)' "$TEST_TMP/tls11o.out" || { cat "$TEST_TMP/tls11o.out"; fail "openssl negotiated a cipher over TLS 1.1"; }
for v in 1.2 1.3; do
	healthz_ok "$ca" "$masa_admin" --tlsv$v --tls-max $v
done
fails_after=$(handshake_failures)
[ "$fails_after" -gt "$fails_before" ] || fail "TLS handshake failures not counted ($fails_before -> $fails_after)"

# ---- client certificates: [brski] client_cert = require on cloudregd -----
[ "$(ini_get "$pki/cloudregd-cloud.conf" brski client_cert)" = require ] || fail "fixture: cloud brski is not require"
for v in 1.2 1.3; do
	code=$(curl -sS -o "$TEST_TMP/401" -w '%{http_code}' --cacert "$ca" --tlsv$v --tls-max $v "$cloud_brski/.well-known/brski/requestvoucher") ||
		fail "TLS $v without a client certificate: the handshake failed"
	[ "$code" = 401 ] || fail "TLS $v: no client certificate answered $code, not 401"
	grep -q 'client certificate is required' "$TEST_TMP/401" || fail "401 without a reason"
	code=$(curl -sS -o "$TEST_TMP/403" -w '%{http_code}' --cacert "$ca" --tlsv$v --tls-max $v \
		--cert "$pki/owner-registrar.chain.pem" --key "$pki/owner-registrar.key" \
		"$cloud_brski/.well-known/brski/requestvoucher") ||
		fail "TLS $v with an unknown issuer: the handshake failed"
	[ "$code" = 403 ] || fail "TLS $v: unknown issuer answered $code, not 403"
	grep -qi 'issuer is unknown' "$TEST_TMP/403" || { cat "$TEST_TMP/403"; fail "403 without the reason"; }
	pledge=$(ls "$pki"/pledges/*.chain.pem | head -n 1)
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" --tlsv$v --tls-max $v \
		--cert "$pledge" --key "${pledge%.chain.pem}.key" "$cloud_brski/no-such-route")
	[ "$code" = 404 ] || fail "TLS $v: a trusted IDevID on an unknown path answered $code, not 404"
done
grep -q 'subject="serialNumber=' "$TEST_TMP/cloud.log" || fail "request log lacks the client certificate subject"

# ---- body limit ------------------------------------------------------------
max=$(ini_get "$masa_conf" brski max_body)
max=${max:-65536}
"$PYTHON3" -c "import sys; sys.stdout.write('a' * ($max + 1))" >"$TEST_TMP/big"
code=$(curl -sS -o "$TEST_TMP/413" -w '%{http_code}' --cacert "$ca" --data-binary @"$TEST_TMP/big" \
	-H 'Content-Type: application/voucher-cms+json' "$masa_brski/.well-known/brski/requestvoucher")
[ "$code" = 413 ] || fail "a body of $((max + 1)) bytes answered $code, not 413"

# ---- SIGHUP reloads the certificate --------------------------------------
serial_served() {
	"$OPENSSL" s_client -connect "$hp" -CAfile "$ca" </dev/null 2>/dev/null |
		"$OPENSSL" x509 -noout -serial 2>/dev/null | cut -d= -f2
}
old=$(serial_served)
want_old=$("$OPENSSL" x509 -in "$pki/masa-tls.chain.pem" -noout -serial | cut -d= -f2)
[ "$old" = "$want_old" ] || fail "served serial '$old', expected '$want_old'"
want_new=$("$OPENSSL" x509 -in "$pki/cloud-registrar.chain.pem" -noout -serial | cut -d= -f2)
cp "$pki/cloud-registrar.chain.pem" "$TEST_TMP/admin.crt.new"
cp "$pki/cloud-registrar.key" "$TEST_TMP/admin.key.new"
mv "$TEST_TMP/admin.crt.new" "$TEST_TMP/admin.crt"
mv "$TEST_TMP/admin.key.new" "$TEST_TMP/admin.key"
kill -HUP "$(daemon_pid masad)"
tries=0
new=$old
while [ "$new" != "$want_new" ] && [ "$tries" -lt 50 ]; do
	tries=$((tries + 1))
	sleep 0.1
	new=$(serial_served)
done
[ "$new" = "$want_new" ] || fail "after SIGHUP the admin listener serves '$new', not '$want_new'"
healthz_ok "$ca" "$masa_admin"
# A reload with a key that does not match keeps the old certificate.
cp "$pki/masa-tls.key" "$TEST_TMP/admin.key"
kill -HUP "$(daemon_pid masad)"
tries=0
while ! grep -q 'reload failed' "$TEST_TMP/masad.log" && [ "$tries" -lt 50 ]; do
	tries=$((tries + 1))
	sleep 0.1
done
grep -q 'reload failed' "$TEST_TMP/masad.log" || fail "a bad reload was not reported"
[ "$(serial_served)" = "$want_new" ] || fail "a failed reload changed the served certificate"

# ---- SIGTERM drains and exits 0 within drain_timeout ----------------------
start=$(date +%s)
stop_daemon masad
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 0 ] || fail "masad exited $rc after SIGTERM"
[ "$elapsed" -le 4 ] || fail "masad took ${elapsed}s to stop (drain_timeout 3)"
grep -q 'masad stopped' "$TEST_TMP/masad.log" || fail "masad did not log its stop"
for n in cloud owner; do
	stop_daemon "$n" || fail "cloudregd ($n) exited $? after SIGTERM"
done

# ---- a TLS key in a PKCS#11 token (SoftHSM through p11-kit) -------------
SOFTHSM2_CONF=$TEST_TMP/softhsm2.conf
export SOFTHSM2_CONF
mkdir "$TEST_TMP/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$TEST_TMP/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label brski-test --pin 1234 --so-pin 5678 >/dev/null ||
	fail "softhsm2-util --init-token"
"$OPENSSL" pkcs8 -topk8 -nocrypt -in "$pki/masa-tls.key" -out "$TEST_TMP/tls.p8" ||
	fail "openssl pkcs8"
softhsm2-util --import "$TEST_TMP/tls.p8" --token brski-test --label tls --id 01 --pin 1234 \
	>/dev/null || fail "softhsm2-util --import"
uri='pkcs11:token=brski-test;object=tls;type=private?pin-value=1234'
hsm_conf=$TEST_TMP/masad-hsm.conf
sed "s|^key = .*masa-tls.key\$|key = $uri|" "$pki/masad.conf" >"$hsm_conf"
grep -q '^key = pkcs11:' "$hsm_conf" || fail "fixture: masad.conf has no masa-tls.key to replace"
sed "s|pin-value=1234|pin-value=9999|" "$hsm_conf" >"$TEST_TMP/masad-badpin.conf"
"$MASAD" -c "$TEST_TMP/masad-badpin.conf" --check-config 2>"$TEST_TMP/badpin.err" &&
	fail "--check-config accepted a PKCS#11 key with a wrong PIN"
grep -q 'cannot use the PKCS#11 key' "$TEST_TMP/badpin.err" || { cat "$TEST_TMP/badpin.err"; fail "PKCS#11 error text"; }
grep -q '9999' "$TEST_TMP/badpin.err" && fail "the PIN was printed"
"$MASAD" -c "$hsm_conf" --check-config >/dev/null || fail "--check-config with a PKCS#11 key"
start_daemon masahsm "$MASAD" "$hsm_conf" || fail "masad with a PKCS#11 TLS key did not start"
hp=$(ini_get "$hsm_conf" admin listen)
[ "$(serial_served)" = "$want_old" ] || fail "the PKCS#11-backed listener serves another certificate"
stop_daemon masahsm || fail "masad (PKCS#11) exited $? after SIGTERM"
echo "test-daemons: all checks passed"
exit 0
