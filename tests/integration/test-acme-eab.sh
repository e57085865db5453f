#!/bin/sh
# External account binding (RFC 8555 7.3.4) against Pebble configured to
# require it, and problem documents surfaced in the job's error:
#   - with a wrong HMAC key, Pebble refuses the account; the enrollment fails
#     and the pledge's EST answer carries Pebble's problem document (type and
#     detail as sent); nothing was registered;
#   - without eab_kid, the directory's externalAccountRequired is a clear
#     error in the job;
#   - with the right key the account is created and the same CSR is then
#     enrolled (http-01 answered by cloudregd).
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/bind.sh"
. "$top_srcdir/tests/lib/pebble.sh"

on_exit() {
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$PEBBLE_LOG" ] && [ -f "$PEBBLE_LOG" ]; then
		echo "---- pebble log (last 40 lines) ----"
		tail -n 40 "$PEBBLE_LOG"
	fi
	pebble_stop
	bind_stop
	(exit "$rc")
	daemon_cleanup
}
bind_start || exit 99
trap on_exit EXIT
b64url_key() { "$OPENSSL" rand 32 | base64 | tr '+/' '-_' | tr -d '=\n'; }
H01_PORT=$(free_port)
PEBBLE_HTTP_PORT=$H01_PORT
PEBBLE_DNS=127.0.0.1:$BIND_PORT
PEBBLE_EAB_KID=kid-brski
PEBBLE_EAB_KEY=$(b64url_key)
PEBBLE_WFE_NONCEREJECT=0
export PEBBLE_WFE_NONCEREJECT
pebble_start || exit 99
trap on_exit EXIT
curl -sf --cacert "$PEBBLE_CA" "$PEBBLE_DIRECTORY" | grep -q '"externalAccountRequired": true' ||
	fail "Pebble does not require external account binding"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 2 --acme-directory "$PEBBLE_DIRECTORY" --acme-trust "$PEBBLE_CA" \
	--acme-http01-listen "127.0.0.1:$H01_PORT" >"$TEST_TMP/pki.out" || exit 99
CONF=$D/cloudregd-owner.conf
ODCA=$D/owner-domain-ca.crt
DB=$(ini_get "$CONF" daemon database)
OWNER_EST=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["owner"]["est"]["url"])' "$D/pki.json")
sed -i "/^\[est\]\$/a first_wait_ms = 0\nretry_after = 1" "$CONF"
sed -i "/^\[acme\]\$/a issue_wait = 5\npoll_interval = 1" "$CONF"
cp "$CONF" "$CONF.noeab"
b64url_key >"$TEST_TMP/wrong.key"
printf '%s\n' "$PEBBLE_EAB_KEY" >"$TEST_TMP/right.key"
sed -i "/^\[acme\]\$/a eab_kid = $PEBBLE_EAB_KID\neab_hmac_key = $TEST_TMP/wrong.key" "$CONF"

printf '[req]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[dn]\nCN = pledge-0001\nserialNumber = pledge-0001\n[ext]\nsubjectAltName = DNS:pledge-0001.%s\n' \
	"$BIND_ZONE" >"$TEST_TMP/c1.cnf"
"$OPENSSL" req -new -config "$TEST_TMP/c1.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TEST_TMP/c1.key" -outform DER -out "$TEST_TMP/c1.der" 2>/dev/null || exit 99
base64 "$TEST_TMP/c1.der" >"$TEST_TMP/c1.b64"
hdr() { tr -d '\r' <"$TEST_TMP/h" | sed -n "s/^$1: *//Ip" | head -1; }
enroll_until() { # until not 202; prints the status
	n=0
	while :; do
		st=$(curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" \
			--cert "$D/pledges/pledge-0001.chain.pem" --key "$D/pledges/pledge-0001.key" \
			-H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c1.b64" \
			"$OWNER_EST/.well-known/est/simpleenroll")
		[ "$st" = 202 ] || break
		n=$((n + 1))
		[ $n -lt 60 ] || fail "still 202 after 60 retries"
		sleep "$(hdr Retry-After)"
	done
	echo "$st"
}

DAEMON_CACERT=$ODCA
# ---- a wrong EAB key: Pebble's problem document reaches the pledge ----
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not start"
st=$(enroll_until)
[ "$st" = 403 ] || fail "wrong EAB key: $st, want 403 ($(cat "$TEST_TMP/b"))"
grep -q "ACME server: [0-9]* urn:ietf:params:acme:error:" "$TEST_TMP/b" ||
	fail "the pledge's answer does not carry the ACME problem: $(cat "$TEST_TMP/b")"
grep -q "failed to create the ACME account" "$TEST_TMP/b" || fail "the answer does not say what failed: $(cat "$TEST_TMP/b")"
echo "wrong EAB key, the pledge was told: $(tr -d '\r\n' <"$TEST_TMP/b" | cut -c1-200)"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM acme_account WHERE kid IS NOT NULL")" = 0 ] ||
	fail "an account URL was stored although Pebble refused the account"
[ "$(pebble_count 'There are now 1 accounts')" = 0 ] || fail "Pebble created an account with a wrong EAB key"
stop_daemon owner || fail "owner registrar did not stop"

# ---- no eab_kid at all: the directory's externalAccountRequired --------
start_daemon owner "$CLOUDREGD" "$CONF.noeab" || fail "owner registrar (no EAB) did not start"
# A failed job answers once with its reason and is then tried again: the
# first answer after the restart may still carry the previous failure.
for i in 1 2 3; do
	st=$(enroll_until)
	grep -q "requires external account binding" "$TEST_TMP/b" && break
done
[ "$st" = 403 ] || fail "no EAB: $st, want 403 ($(cat "$TEST_TMP/b"))"
grep -q "requires external account binding: set \[acme\] eab_kid and eab_hmac_key" "$TEST_TMP/b" ||
	fail "no EAB: the answer does not say why: $(cat "$TEST_TMP/b")"
stop_daemon owner || fail "owner registrar did not stop"

# ---- the right key --------------------------------------------------------
sed -i "s|^eab_hmac_key = .*|eab_hmac_key = $TEST_TMP/right.key|" "$CONF"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
for i in 1 2 3; do
	st=$(enroll_until)
	[ "$st" = 200 ] && break
done
[ "$st" = 200 ] || fail "with the right EAB key: $st $(cat "$TEST_TMP/b")"
[ "$(pebble_count 'There are now 1 accounts')" = 1 ] || fail "Pebble did not create the account"
[ -n "$(sqlite3 "$DB" "SELECT kid FROM acme_account WHERE kid IS NOT NULL")" ] || fail "the account URL is not in the store"
tr -d '\r' <"$TEST_TMP/b" | base64 -d | "$OPENSSL" pkcs7 -inform DER -print_certs |
	pem_certs 1 >"$TEST_TMP/c1.crt"
"$OPENSSL" x509 -in "$TEST_TMP/c1.crt" -noout -ext subjectAltName | grep -q "DNS:pledge-0001.$BIND_ZONE" ||
	fail "the certificate lacks the CSR's name"
exit 0
