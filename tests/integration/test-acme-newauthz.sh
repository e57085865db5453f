#!/bin/sh
# Pre-authorization of the parent domain (RFC 8555 7.4.1 newAuthz, RFC 9444
# subdomain issuance), the one ACME path Pebble does not offer, against the
# small scripted responder tests/lib/acme-newauthz-responder.py (it verifies
# every JWS with jwcrypto and checks dns-01 in a private BIND 9), with real
# dns-01 through conf/dns01-nsupdate.sh and an EST client (curl + openssl)
# enrolling two pledges through the owner registrar:
#   - the parent domain (the owner's subdomain) is authorized once, with
#     one dns-01 challenge, and its record is removed afterwards;
#   - both orders are ready at once (no challenge per pledge name);
#   - the certificate comes as PKCS#7 because we ask for it (no PEM
#     conversion), and verifies against the responder's CA;
#   - the pre-authorization is kept in the store: after a restart the
#     daemon asks the CA once whether it is still valid (POST-as-GET) and
#     orders without authorizing again; once it has expired (the CA's
#     "expires"), the domain is authorized anew;
#   - when the CA refuses the pre-authorization (and reports the earlier
#     one deactivated), the order goes on with one dns-01 authorization per
#     identifier;
#   - Retry-After is honoured: a short rateLimited newOrder is retried after
#     it, a processing order is not polled before it.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/bind.sh"

RESP_PID=
on_exit() {
	rc=$?
	if [ -n "$RESP_PID" ]; then
		kill "$RESP_PID" 2>/dev/null
		wait "$RESP_PID" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ -f "$TEST_TMP/resp/events" ]; then
		echo "---- responder events ----"
		cat "$TEST_TMP/resp/events"
		echo "---- responder log ----"
		cat "$TEST_TMP/resp.log"
	fi
	bind_stop
	(exit "$rc")
	daemon_cleanup
}
bind_start || exit 99
trap on_exit EXIT

mkdir "$TEST_TMP/resp"
"$PYTHON3" "$top_srcdir/tests/lib/acme-newauthz-responder.py" "$TEST_TMP/resp" "$BIND_PORT" \
	>"$TEST_TMP/resp.log" 2>&1 &
RESP_PID=$!
i=0
while [ ! -s "$TEST_TMP/resp/port" ]; do
	kill -0 "$RESP_PID" 2>/dev/null || fail "the responder exited: $(cat "$TEST_TMP/resp.log")"
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the responder did not start"
	sleep 0.1
done
RESP=https://127.0.0.1:$(cat "$TEST_TMP/resp/port")
curl -sf --cacert "$TEST_TMP/resp/tls-ca.pem" "$RESP/dir" | grep -q newAuthz || fail "no newAuthz in the responder's directory"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 4 --acme-directory "$RESP/dir" --acme-trust "$TEST_TMP/resp/tls-ca.pem" \
	--acme-http01-listen "127.0.0.1:$(free_port)" >"$TEST_TMP/pki.out" || exit 99
CONF=$D/cloudregd-owner.conf
ODCA=$D/owner-domain-ca.crt
OWNER_EST=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["owner"]["est"]["url"])' "$D/pki.json")
HOOK=$top_srcdir/conf/dns01-nsupdate.sh
export DNS01_ZONE=$BIND_ZONE DNS01_KEYFILE=$BIND_KEYFILE DNS01_PORT=$BIND_PORT DNS01_SERVER=127.0.0.1
sed -i "/^\[est\]\$/a first_wait_ms = 0\nretry_after = 1" "$CONF"
sed -i "/^\[acme\]\$/a issue_wait = 5\npoll_interval = 1\ndns_hook = $HOOK" "$CONF"
sed -i 's/^challenge = http-01$/challenge = dns-01/' "$CONF"
grep -q '^subdomain = pledges.example.com$' "$CONF" || fail "the owner configuration has no [ca] subdomain"

DAEMON_CACERT=$ODCA
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not start"

est() {
	curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" "$@"
}
hdr() { tr -d '\r' <"$TEST_TMP/h" | sed -n "s/^$1: *//Ip" | head -1; }
enroll() { # SERIAL: a fresh key and CSR, simpleenroll until not 202; cert in $TEST_TMP/SERIAL.crt
	printf '[req]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[dn]\nCN = %s\nserialNumber = %s\n[ext]\nsubjectAltName = DNS:%s.%s\n' \
		"$1" "$1" "$1" "$BIND_ZONE" >"$TEST_TMP/$1.cnf"
	"$OPENSSL" req -new -config "$TEST_TMP/$1.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TEST_TMP/$1.key" -outform DER -out "$TEST_TMP/$1.der" 2>/dev/null || exit 99
	base64 "$TEST_TMP/$1.der" >"$TEST_TMP/$1.b64"
	n=0
	while :; do
		st=$(est --cert "$D/pledges/$1.chain.pem" --key "$D/pledges/$1.key" \
			-H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/$1.b64" \
			"$OWNER_EST/.well-known/est/simpleenroll")
		[ "$st" = 202 ] || break
		n=$((n + 1))
		[ $n -lt 60 ] || fail "$1: still 202 after 60 retries"
		hdr Retry-After >>"$TEST_TMP/retry-after"
		sleep "$(hdr Retry-After)"
	done
	[ "$st" = 200 ] || fail "$1: simpleenroll $st $(cat "$TEST_TMP/b")"
	tr -d '\r' <"$TEST_TMP/b" | base64 -d | "$OPENSSL" pkcs7 -inform DER -print_certs |
		pem_certs 1 >"$TEST_TMP/$1.crt"
	"$OPENSSL" verify -CAfile "$TEST_TMP/resp/ca.pem" "$TEST_TMP/$1.crt" >/dev/null ||
		fail "$1: the certificate does not verify against the responder's CA"
	"$OPENSSL" x509 -in "$TEST_TMP/$1.crt" -noout -ext subjectAltName | grep -q "DNS:$1.$BIND_ZONE" ||
		fail "$1: the certificate lacks the CSR's name"
}
count() { grep -c -- "^$1" "$TEST_TMP/resp/events"; }

enroll pledge-0001
enroll pledge-0002
[ "$(count "newAuthz $BIND_ZONE\$")" = 1 ] || fail "expected one newAuthz for $BIND_ZONE, got $(count newAuthz)"
[ "$(count "newAuthz")" = 1 ] || fail "newAuthz for something else than the parent domain"
[ "$(count "challenge-valid $BIND_ZONE\$")" = 1 ] || fail "the parent domain's dns-01 challenge was not validated once"
[ "$(count "challenge-")" = 1 ] || fail "challenges other than the parent's were needed"
[ "$(count "newOrder-ready")" = 2 ] || fail "expected two orders ready at once, got $(count newOrder-ready)"
[ "$(count "newOrder-pending")" = 0 ] || fail "an order needed its own authorization"
[ "$(count "finalize")" = 2 ] || fail "expected two finalize requests, got $(count finalize)"
[ "$(count "cert-pkcs7")" = 2 ] || fail "the certificate was not asked for as PKCS#7"
[ "$(count "cert-pem")" = 0 ] || fail "a certificate was fetched as PEM"
! grep -q "converting it to PKCS#7" "$TEST_TMP/owner.log" || fail "a PKCS#7 answer was converted"
grep -q "$BIND_ZONE is pre-authorized" "$TEST_TMP/owner.log" || fail "no pre-authorization logged"
[ -z "$(bind_txt "_acme-challenge.$BIND_ZONE")" ] || fail "the parent domain's dns-01 record is still published"

# The pre-authorization is in the store, with the CA's expiry (7 days).
DB=$(sed -n 's/^database = //p' "$CONF")
row=$(sqlite3 "$DB" "SELECT domain, valid, published, expires - strftime('%s','now') FROM acme_preauth")
echo "stored pre-authorization: $row"
case "$row" in
"$BIND_ZONE|1|0|"6[0-9][0-9][0-9][0-9][0-9]) ;;
*) fail "the pre-authorization is not stored as valid until the CA's expiry: '$row'" ;;
esac

# A restart: the stored authorization is confirmed with the CA once
# (POST-as-GET) and used; no newAuthz, no challenge.
gets=$(count "authz-get $BIND_ZONE valid\$")
stop_daemon owner || fail "owner registrar did not stop"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
enroll pledge-0004
[ "$(count "newAuthz")" = 1 ] || fail "the restarted daemon authorized $BIND_ZONE again"
[ "$(count "authz-get $BIND_ZONE valid\$")" = $((gets + 1)) ] || fail "the stored authorization was not confirmed once with the CA"
[ "$(count "newOrder-ready pledge-0004.$BIND_ZONE\$")" = 1 ] || fail "pledge-0004's order was not ready at once"
[ "$(count "challenge-")" = 1 ] || fail "a challenge was needed after the restart"
grep -q "$BIND_ZONE is pre-authorized (kept in the store" "$TEST_TMP/owner.log" ||
	fail "the use of the stored pre-authorization was not logged"

# A CA that refuses the pre-authorization and now reports the stored one
# deactivated (after a restart, so the daemon asks it): the refusal is
# logged with the CA's problem, and the order goes on with its own dns-01
# authorization.
stop_daemon owner || fail "owner registrar did not stop"
touch "$TEST_TMP/resp/refuse-newauthz"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
enroll pledge-0003
[ "$(count "authz-get $BIND_ZONE deactivated\$")" = 1 ] || fail "the stored authorization was not asked for again after the restart"
grep -q "the stored pre-authorization of $BIND_ZONE is deactivated at the CA" "$TEST_TMP/owner.log" ||
	fail "the deactivated pre-authorization was not logged"
[ "$(count "newAuthz-refused $BIND_ZONE\$")" = 1 ] || fail "the refused newAuthz was not asked exactly once"
grep -q "pre-authorization of $BIND_ZONE failed, ordering each name (.*urn:ietf:params:acme:error:rejectedIdentifier" \
	"$TEST_TMP/owner.log" || fail "the refusal was not logged with the CA's problem"
[ "$(count "newOrder-pending pledge-0003.$BIND_ZONE\$")" = 1 ] || fail "pledge-0003's order did not get its own authorization"
[ "$(count "challenge-valid pledge-0003.$BIND_ZONE\$")" = 1 ] || fail "pledge-0003's own dns-01 challenge was not validated"
[ -z "$(bind_txt "_acme-challenge.pledge-0003.$BIND_ZONE")" ] || fail "pledge-0003's dns-01 record is still published"
[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM acme_preauth")" = 0 ] || fail "the refused pre-authorization is still stored"

# Expiry honoured: an authorization the CA gives 6 s is used while it
# holds, then (after a restart, which clears the refusal's back-off) the
# stored one has expired and the domain is authorized again.
stop_daemon owner || fail "owner registrar did not stop"
rm -f "$TEST_TMP/resp/refuse-newauthz"
echo 6 >"$TEST_TMP/resp/authz-lifetime"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
enroll pledge-0004
[ "$(count "newAuthz $BIND_ZONE\$")" = 2 ] || fail "no new pre-authorization after the refusal"
exp=$(sqlite3 "$DB" "SELECT expires FROM acme_preauth WHERE domain = '$BIND_ZONE'")
[ -n "$exp" ] && [ "$exp" -le $(($(date +%s) + 6)) ] || fail "the stored expiry is not the CA's (6 s): '$exp'"
while [ "$(date +%s)" -le "$exp" ]; do sleep 0.2; done
enroll pledge-0004
[ "$(count "newAuthz $BIND_ZONE\$")" = 3 ] || fail "the expired pre-authorization was relied on"
grep -q "the stored pre-authorization of $BIND_ZONE has expired" "$TEST_TMP/owner.log" ||
	fail "the expiry was not logged"
rm -f "$TEST_TMP/resp/authz-lifetime"

# Retry-After honoured: a short rateLimited on newOrder is sat out and
# retried once; a processing order is polled no sooner than its
# Retry-After says.
touch "$TEST_TMP/resp/ratelimit-once" "$TEST_TMP/resp/slow-finalize"
enroll pledge-0001
[ "$(count "rateLimited 1")" = 1 ] || fail "no rateLimited answer was given"
grep -q "failed to create the ACME order: urn:ietf:params:acme:error:rateLimited; retrying in 1 s" \
	"$TEST_TMP/owner.log" || fail "the rateLimited newOrder was not retried after its Retry-After"
[ "$(count "finalize pledge-0001")" = 2 ] || fail "the second pledge-0001 order was not finalized"
[ "$(count "early-poll")" = 0 ] || fail "the processing order was polled before its Retry-After ($(count early-poll) times)"
[ "$(count "cert-pkcs7")" = 7 ] || fail "the slow order's certificate was not downloaded"
# A longer rate limit is not sat out by a worker: the job waits as long as
# the CA said (Retry-After 7 > 5 s, plus the one second the whole-second job
# clock needs), and the pledge's next 202 tells it the time that is left
# (well above [est] retry_after = 1).
rm -f "$TEST_TMP/resp/slow-finalize" "$TEST_TMP/retry-after"
touch "$TEST_TMP/resp/ratelimit-long"
enroll pledge-0002
[ "$(count "rateLimited 7")" = 1 ] || fail "no long rateLimited answer was given"
grep -q "rateLimited: too many new orders, retry in 7 s; next attempt in 8 s" "$TEST_TMP/owner.log" ||
	fail "the job was not put off by the CA's Retry-After"
[ "$(sort -n "$TEST_TMP/retry-after" | tail -1)" -ge 5 ] ||
	fail "the pledge was not told to wait as long as the CA asked: $(tr '\n' ' ' <"$TEST_TMP/retry-after")"
echo "responder events: $(tr "\n" ";" <"$TEST_TMP/resp/events")"
exit 0
