#!/bin/sh
# The ACME CA backend of cloudregd against Pebble (the ACME test server)
# with real http-01 (answered by cloudregd) and real dns-01 (RFC 2136 updates
# to a private BIND 9 through conf/dns01-nsupdate.sh with a TSIG key limited
# to one zone), an EST client (curl + openssl) enrolling through the owner
# registrar end to end:
#   - http-01: 202 + Retry-After, then the certificate; the chain verifies
#     against Pebble's root, the certificate is for the CSR's key and name;
#     Pebble rejects 30% of good nonces (PEBBLE_WFE_NONCEREJECT) and the
#     client retries every badNonce;
#   - the identical CSR returns the cached certificate: no second order;
#   - dns-01: cloudregd is killed (-9) while the order is provably pending
#     (the hook blocks on a FIFO this test holds; the order is in the
#     store), restarted, and the retry gets the certificate from the same
#     order: exactly one order, one finalize and one certificate at Pebble;
#     the TXT record is removed afterwards;
#   - the hook refuses names outside its zone, and BIND refuses the key
#     outside that zone;
#   - a CA that lost its state (Pebble restarted): the account is registered
#     again; a job whose pending order the CA forgot gets a new order;
#   - one account, kept in the store, and one reused connection;
#   - a leaf certificate as [acme] ca_roots stops the start with the reason.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/bind.sh"
. "$top_srcdir/tests/lib/pebble.sh"

on_exit() {
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$PEBBLE_LOG" ] && [ -f "$PEBBLE_LOG" ]; then
		echo "---- pebble log (last 60 lines) ----"
		tail -n 60 "$PEBBLE_LOG"
	fi
	[ -n "${HOOK_FIFO:-}" ] && [ -p "$HOOK_FIFO" ] && (echo go >"$HOOK_FIFO" &) 2>/dev/null
	pebble_stop
	bind_stop
	(exit "$rc")
	daemon_cleanup
}

bind_start || exit 99
trap on_exit EXIT
H01_PORT=$(free_port)
PEBBLE_HTTP_PORT=$H01_PORT
PEBBLE_DNS=127.0.0.1:$BIND_PORT
# Pebble's deliberate bad nonces, raised from 5% so that every enrollment
# meets several.
PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-30}
export PEBBLE_WFE_NONCEREJECT
pebble_start || exit 99
trap on_exit EXIT

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 4 --acme-directory "$PEBBLE_DIRECTORY" --acme-trust "$PEBBLE_CA" \
	--acme-http01-listen "127.0.0.1:$H01_PORT" >"$TEST_TMP/pki.out" || exit 99
CONF=$D/cloudregd-owner.conf
grep -q '^backend = acme' "$CONF" || fail "brski pki init --acme-directory wrote no [ca] backend = acme"
jget() { pki_get "$D" "$1"; }
OWNER_EST=$(jget owner.est.url)
ODCA=$D/owner-domain-ca.crt
DB=$(ini_get "$CONF" daemon database)
pcert() { echo "$D/pledges/$1.chain.pem"; }
pkey() { echo "$D/pledges/$1.key"; }

set_key() { # CONF SECTION KEY VALUE: add or replace a key
	if awk -v s="[$2]" -v k="$3" '$0 == s {in_s = 1; next} /^\[/ {in_s = 0}
		in_s && $1 == k {found = 1} END {exit !found}' "$1"; then
		awk -v s="[$2]" -v k="$3" -v v="$4" '$0 == s {in_s = 1; print; next} /^\[/ {in_s = 0}
			in_s && $1 == k {print k " = " v; next} {print}' "$1" >"$1.new" && mv "$1.new" "$1"
	else
		sed -i "/^\[$2\]\$/a $3 = $4" "$1"
	fi
}
# Every first request gets 202; a job whose worker died is taken up again
# after 3 s; one attempt waits at most 5 s for validation.
set_key "$CONF" est first_wait_ms 0
set_key "$CONF" est retry_after 1
set_key "$CONF" est job_lease 3
set_key "$CONF" acme issue_wait 5
set_key "$CONF" acme poll_interval 1
set_key "$CONF" daemon log_level debug

# ---- EST client: curl + openssl ----
est() {
	curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" "$@"
}
hdr() { tr -d '\r' <"$TEST_TMP/h" | sed -n "s/^$1: *//Ip" | head -1; }
csr() { # SERIAL OUT: a fresh key (OUT.key) and CSR (OUT.der, OUT.b64) with SAN SERIAL.<zone>
	printf '[req]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[dn]\nCN = %s\nserialNumber = %s\n[ext]\nsubjectAltName = DNS:%s.%s\n' \
		"$1" "$1" "$1" "$BIND_ZONE" >"$2.cnf"
	"$OPENSSL" req -new -config "$2.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$2.key" -outform DER -out "$2.der" 2>/dev/null || exit 99
	base64 "$2.der" >"$2.b64"
}
enroll_once() { # SERIAL CSR: one simpleenroll; prints the status
	est --cert "$(pcert "$1")" --key "$(pkey "$1")" -H 'Content-Type: application/pkcs10' \
		--data-binary "@$2" "$OWNER_EST/.well-known/est/simpleenroll"
}
enroll_until() { # SERIAL CSR: until not 202, honouring Retry-After; prints "status n202"
	n202=0
	while :; do
		st=$(enroll_once "$1" "$2")
		[ "$st" = 202 ] || break
		ra=$(hdr Retry-After)
		case "$ra" in '' | *[!0-9]*) fail "202 without a delta-seconds Retry-After: '$ra'" ;; esac
		n202=$((n202 + 1))
		[ "$n202" -lt 60 ] || fail "still 202 after 60 retries"
		sleep "$ra"
	done
	echo "$st $n202"
}
certs_of() { tr -d '\r' <"$TEST_TMP/b" | base64 -d | "$OPENSSL" pkcs7 -inform DER -print_certs; }
first_cert() { certs_of | pem_certs 1; }
pubkey_matches() { # CERT KEY
	[ "$( ("$OPENSSL" x509 -in "$1" -noout -pubkey; "$OPENSSL" pkey -in "$2" -pubout) | sort -u | wc -l)" = 4 ]
}
orders_at_pebble() { pebble_count 'Added order '; }
finalizes_at_pebble() { pebble_count 'Processing finalization'; }
certs_at_pebble() { pebble_count 'Issued certificate serial'; }
store_orders() { sqlite3 "$DB" "SELECT count(*) FROM acme_orders"; }

# [acme] ca_roots (served by EST cacerts; test-acme-pledge.sh checks what
# cacerts holds) must be CA certificates: a leaf there stops the start
# with the reason.
sed -n '1,/END CERTIFICATE/p' "$(pcert pledge-0004)" >"$TEST_TMP/leaf.pem"
cp "$CONF" "$TEST_TMP/badroots.conf"
set_key "$TEST_TMP/badroots.conf" acme ca_roots "$TEST_TMP/leaf.pem"
timeout 120 "$CLOUDREGD" -c "$TEST_TMP/badroots.conf" >"$TEST_TMP/badroots.out" 2>&1
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "cloudregd with a leaf as [acme] ca_roots: exit $rc, want a refusal"
grep -q "ca_roots .* is not a CA certificate" "$TEST_TMP/badroots.out" ||
	fail "the refusal of a leaf as [acme] ca_roots does not say why: $(tail -3 "$TEST_TMP/badroots.out")"

DAEMON_CACERT=$ODCA
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar with the ACME backend did not start"
pebble_root "$TEST_TMP/pebble-root.pem" || fail "no Pebble root"

# ---- the http-01 listener: plain HTTP, key authorizations only ------------
h01=http://127.0.0.1:$H01_PORT
body=$(curl -s --max-time 5 "$h01/.well-known/acme-challenge/abc_DEF-1")
case "$body" in
abc_DEF-1.???????????????????????????????????????????) ;;
*) fail "http-01 listener: '$body' is not a key authorization for abc_DEF-1" ;;
esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "$h01/.well-known/acme-challenge/a.b")" = 404 ] ||
	fail "http-01 listener answers a malformed token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$h01/other")" = 404 ] || fail "http-01 listener serves other paths"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$h01/.well-known/acme-challenge/abc")" = 405 ] ||
	fail "http-01 listener accepts POST"

# ---- http-01 ------------------------------------------------------------
csr pledge-0001 "$TEST_TMP/c1"
set -- $(enroll_until pledge-0001 "$TEST_TMP/c1.b64")
[ "$1" = 200 ] || fail "http-01 enrollment: $1 $(cat "$TEST_TMP/b")"
[ "$2" -ge 1 ] || fail "the first request was not answered with 202"
[ "$(hdr Content-Type)" = "application/pkcs7-mime; smime-type=certs-only" ] || fail "Content-Type: $(hdr Content-Type)"
first_cert >"$TEST_TMP/c1.crt"
certs_of >"$TEST_TMP/c1.chain"
"$OPENSSL" verify -CAfile "$TEST_TMP/pebble-root.pem" -untrusted "$TEST_TMP/c1.chain" "$TEST_TMP/c1.crt" >/dev/null ||
	fail "the ACME certificate does not verify against Pebble's root with the served chain"
"$OPENSSL" x509 -in "$TEST_TMP/c1.crt" -noout -ext subjectAltName | grep -q "DNS:pledge-0001.$BIND_ZONE" ||
	fail "the ACME certificate lacks the CSR's name"
pubkey_matches "$TEST_TMP/c1.crt" "$TEST_TMP/c1.key" || fail "the ACME certificate is not for the CSR's key"
grep -q "pem-certificate-chain.*converting it to PKCS#7" "$TEST_TMP/owner.log" ||
	fail "no PEM->PKCS#7 conversion logged (Pebble answers PEM)"
grep -q "http-01 challenge for pledge-0001.$BIND_ZONE started" "$TEST_TMP/owner.log" ||
	fail "no http-01 challenge was answered (Pebble reused an authorization?)"
[ "$(orders_at_pebble)" = 1 ] || fail "Pebble saw $(orders_at_pebble) orders, want 1"
[ "$(store_orders)" = 1 ] || fail "the store holds $(store_orders) orders, want 1"
retried=$(grep -c "badNonce from" "$TEST_TMP/owner.log")
echo "http-01: $retried badNonce answers retried"
# One reused HTTPS connection to the ACME server for everything so far.
conns=$(grep -c "acme: opened a new connection" "$TEST_TMP/owner.log")
reqs=$(grep -c "HEAD /nonce-plz\|POST /\|GET /dir" "$PEBBLE_LOG")
echo "http-01: $reqs requests at Pebble over $conns connection(s)"
[ "$conns" = 1 ] || fail "the ACME client opened $conns connections for $reqs requests, want 1"

# ---- the identical CSR: the cache, no second order ----------------------
st=$(enroll_once pledge-0001 "$TEST_TMP/c1.b64")
[ "$st" = 200 ] || fail "identical CSR: $st, want 200 from the cache"
[ "$(first_cert | "$OPENSSL" x509 -noout -serial)" = "$("$OPENSSL" x509 -in "$TEST_TMP/c1.crt" -noout -serial)" ] ||
	fail "identical CSR got another certificate"
[ "$(orders_at_pebble)" = 1 ] || fail "identical CSR: Pebble saw $(orders_at_pebble) orders, want 1"
[ "$(store_orders)" = 1 ] || fail "identical CSR: the store holds $(store_orders) orders, want 1"

# ---- the hook and the zone ----------------------------------------------
HOOK=$top_srcdir/conf/dns01-nsupdate.sh
export DNS01_ZONE=$BIND_ZONE DNS01_KEYFILE=$BIND_KEYFILE DNS01_PORT=$BIND_PORT DNS01_SERVER=127.0.0.1
v=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
"$HOOK" add x.$BIND_OTHER_ZONE "_acme-challenge.x.$BIND_OTHER_ZONE." "$v" 2>"$TEST_TMP/hook.err"
[ $? = 1 ] || fail "the hook did not refuse a name outside its zone"
DNS01_ZONE=$BIND_OTHER_ZONE "$HOOK" add x.$BIND_OTHER_ZONE "_acme-challenge.x.$BIND_OTHER_ZONE." "$v" 2>"$TEST_TMP/hook.err"
[ $? = 1 ] || fail "BIND did not refuse the key outside its zone ($(cat "$TEST_TMP/hook.err"))"
grep -q REFUSED "$TEST_TMP/hook.err" || fail "no REFUSED from BIND: $(cat "$TEST_TMP/hook.err")"
"$HOOK" add x.$BIND_ZONE "_acme-challenge.x.$BIND_ZONE." "$v" || fail "the hook cannot update its own zone"
[ "$(bind_txt "_acme-challenge.x.$BIND_ZONE")" = "$v" ] || fail "the TXT record is not in BIND"
"$HOOK" del x.$BIND_ZONE "_acme-challenge.x.$BIND_ZONE." "$v" || fail "the hook cannot remove its record"
[ -z "$(bind_txt "_acme-challenge.x.$BIND_ZONE")" ] || fail "the TXT record is still in BIND"

# ---- dns-01 with kill -9 while the order is pending ----------------------
stop_daemon owner || fail "owner registrar did not stop cleanly"
HOOK_FIFO=$TEST_TMP/hook.fifo
mkfifo "$HOOK_FIFO"
cat >"$TEST_TMP/hook.sh" <<EOF
#!/bin/sh
# Records each call; while $TEST_TMP/hook.block exists, an "add" says so and
# waits for a line on the FIFO the test holds.
echo "\$*" >>"$TEST_TMP/hook.calls"
if [ "\$1" = add ] && [ -e "$TEST_TMP/hook.block" ]; then
	echo \$\$ >"$TEST_TMP/hook.blocked"
	read line <"$HOOK_FIFO"
fi
exec "$HOOK" "\$@"
EOF
chmod +x "$TEST_TMP/hook.sh"
set_key "$CONF" acme challenge dns-01
set_key "$CONF" acme dns_hook "$TEST_TMP/hook.sh"
touch "$TEST_TMP/hook.block"
orders0=$(orders_at_pebble)
fin0=$(finalizes_at_pebble)
certs0=$(certs_at_pebble)
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar (dns-01) did not start"

csr pledge-0002 "$TEST_TMP/c2"
st=$(enroll_once pledge-0002 "$TEST_TMP/c2.b64")
[ "$st" = 202 ] || fail "dns-01 first request: $st, want 202"
i=0
while [ ! -s "$TEST_TMP/hook.blocked" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the dns-01 hook was not called"
	sleep 0.1
done
# Provably pending: the order is in the store for the job, pending at Pebble.
[ "$(sqlite3 "$DB" "SELECT o.state FROM acme_orders o JOIN enroll_jobs j ON j.id = o.job_id WHERE j.serial = 'pledge-0002'")" = pending ] ||
	fail "no pending order in the store for pledge-0002"
order_url=$(sqlite3 "$DB" "SELECT o.order_url FROM acme_orders o JOIN enroll_jobs j ON j.id = o.job_id WHERE j.serial = 'pledge-0002'")
[ "$(orders_at_pebble)" = $((orders0 + 1)) ] || fail "dns-01: expected one new order at Pebble"
kill -9 "$(daemon_pid owner)"
wait "$(daemon_pid owner)" 2>/dev/null
eval "DAEMON_PID_owner="
# Release the orphaned hook (it publishes its record and exits) and let the
# next one through.
rm -f "$TEST_TMP/hook.block"
echo go >"$HOOK_FIFO"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
set -- $(enroll_until pledge-0002 "$TEST_TMP/c2.b64")
[ "$1" = 200 ] || fail "dns-01 enrollment after kill -9: $1 $(cat "$TEST_TMP/b")"
first_cert >"$TEST_TMP/c2.crt"
certs_of >"$TEST_TMP/c2.chain"
"$OPENSSL" verify -CAfile "$TEST_TMP/pebble-root.pem" -untrusted "$TEST_TMP/c2.chain" "$TEST_TMP/c2.crt" >/dev/null ||
	fail "the dns-01 certificate does not verify against Pebble's root"
pubkey_matches "$TEST_TMP/c2.crt" "$TEST_TMP/c2.key" || fail "the dns-01 certificate is not for the CSR's key"
grep -q "resuming order $order_url" "$TEST_TMP/owner.log" || fail "the restarted daemon did not resume the stored order"
[ "$(orders_at_pebble)" = $((orders0 + 1)) ] || fail "dns-01: Pebble saw $(($(orders_at_pebble) - orders0)) orders, want exactly 1"
[ "$(finalizes_at_pebble)" = $((fin0 + 1)) ] || fail "dns-01: $(($(finalizes_at_pebble) - fin0)) finalize requests, want exactly 1"
[ "$(certs_at_pebble)" = $((certs0 + 1)) ] || fail "dns-01: Pebble issued $(($(certs_at_pebble) - certs0)) certificates, want exactly 1"
[ "$(sqlite3 "$DB" "SELECT state FROM acme_orders WHERE order_url = '$order_url'")" = valid ] || fail "the stored order is not valid"
grep -q "^add pledge-0002.$BIND_ZONE " "$TEST_TMP/hook.calls" || fail "the hook was not asked to add the record"
grep -q "^del pledge-0002.$BIND_ZONE " "$TEST_TMP/hook.calls" || fail "the hook was not asked to remove the record"
[ -z "$(bind_txt "_acme-challenge.pledge-0002.$BIND_ZONE")" ] || fail "the dns-01 record is still published"
echo "dns-01 after kill -9: 1 order, 1 finalize, 1 certificate; $(grep -c . "$TEST_TMP/hook.calls") hook calls"
# One account for the whole run: its ES256 key and URL are in the store, and
# the restarted daemons signed with them instead of registering again.
[ "$(sqlite3 "$DB" "SELECT count(*) FROM acme_account WHERE key_pem LIKE '-----BEGIN PRIVATE KEY-----%' AND kid LIKE 'https://127.0.0.1:$PEBBLE_PORT/%'")" = 1 ] ||
	fail "the store does not hold the ACME account key and URL"
[ "$(pebble_count 'There are now 1 accounts')" = 1 ] && [ "$(pebble_count 'There are now 2 accounts')" = 0 ] ||
	fail "Pebble saw more than one account"
[ "$(stat -c %a "$DB")" = 600 ] || fail "the store holding the account key is not 0600"
# ---- a CA that forgot our account (Pebble restarted) -------------------
# The stored account URL is refused (accountDoesNotExist); the key is
# registered again, the new URL stored, and the enrollment succeeds.
pebble_restart || fail "Pebble did not restart"
csr pledge-0003 "$TEST_TMP/c3"
set -- $(enroll_until pledge-0003 "$TEST_TMP/c3.b64")
[ "$1" = 200 ] || fail "enrollment after Pebble forgot the account: $1 $(cat "$TEST_TMP/b")"
grep -q "is unknown to $PEBBLE_DIRECTORY; registering again" "$TEST_TMP/owner.log" ||
	fail "the lost account was not noticed"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM acme_account WHERE kid LIKE 'https://127.0.0.1:$PEBBLE_PORT/%'")" = 1 ] ||
	fail "the new account URL is not in the store"

# A pending order the CA then forgets (kill -9 while the hook blocks, Pebble
# restarted): the resumed job finds its order gone (404) and orders again.
rm -f "$TEST_TMP/hook.blocked"
touch "$TEST_TMP/hook.block"
csr pledge-0004 "$TEST_TMP/c4"
st=$(enroll_once pledge-0004 "$TEST_TMP/c4.b64")
[ "$st" = 202 ] || fail "pledge-0004 first request: $st, want 202"
i=0
while [ ! -s "$TEST_TMP/hook.blocked" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the dns-01 hook was not called for pledge-0004"
	sleep 0.1
done
lost=$(sqlite3 "$DB" "SELECT o.order_url FROM acme_orders o JOIN enroll_jobs j ON j.id = o.job_id WHERE j.serial = 'pledge-0004'")
[ -n "$lost" ] || fail "no stored order for pledge-0004"
kill -9 "$(daemon_pid owner)"
wait "$(daemon_pid owner)" 2>/dev/null
eval "DAEMON_PID_owner="
rm -f "$TEST_TMP/hook.block"
echo go >"$HOOK_FIFO"
pebble_restart || fail "Pebble did not restart"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart"
set -- $(enroll_until pledge-0004 "$TEST_TMP/c4.b64")
[ "$1" = 200 ] || fail "enrollment after the CA lost the order: $1 $(cat "$TEST_TMP/b")"
grep -q "order $lost is gone at the CA" "$TEST_TMP/owner.log" || fail "the lost order was not noticed"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM acme_orders o JOIN enroll_jobs j ON j.id = o.job_id WHERE j.serial = 'pledge-0004'")" = 2 ] ||
	fail "the job does not have exactly its lost and its new order"

# Pebble's deliberate bad nonces met on the way (over 20 signed requests
# at 30%: the chance of meeting none is below 1e-3) were all retried.
retried=$(grep -c "badNonce from" "$TEST_TMP/owner.log")
echo "badNonce answers retried in the whole run: $retried"
[ "$retried" -ge 1 ] || [ "$PEBBLE_WFE_NONCEREJECT" = 0 ] ||
	fail "no badNonce retry seen with PEBBLE_WFE_NONCEREJECT=$PEBBLE_WFE_NONCEREJECT"
exit 0
