#!/bin/sh
# `brski pledge` end to end with the owner registrar's ACME CA backend on a
# real Pebble, pledge names resolved by a private BIND 9 (http-01 answered
# by cloudregd, then dns-01 through conf/dns01-nsupdate.sh), masad and the
# cloud registrar in front:
#   - redirect (307 to the owner registrar) and est-domain (the owner's EST
#     server): csrattrs -> CSR -> simpleenroll (202s waited out) -> an LDevID
#     from Pebble -> enrollstatus 200 over TLS with that LDevID, although
#     Pebble's certificate carries no subject serialNumber and no anchor of
#     the listener is Pebble's: the registrar knows its own certificate
#     (the store's record of what it issued);
#   - the enrollstatus rows are in the owner registrar's telemetry, read
#     through its admin API;
#   - simplereenroll with that LDevID (curl + openssl): a new certificate
#     from Pebble, same names; the job records the re-enrollment and the CA
#     backend is told;
#   - a certificate the registrar did not issue and without a serialNumber
#     (signed by the owner's domain CA, which the listener trusts) gets 403
#     on enrollstatus, with a body that says why;
#   - the request log row of an enrollstatus made with Pebble's LDevID
#     carries the device serial (from the issued-certificate record);
#   - EST cacerts (RFC 7030 4.1.3): the owner's domain CA and [acme]
#     ca_roots (Pebble's root) before any issuance, then also Pebble's
#     intermediate once Pebble has returned it, enough for `openssl verify`
#     of the LDevID with nothing but the cacerts contents; after a restart
#     without ca_roots: the domain CA and the intermediate (read back from
#     the store), no root.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/bind.sh"
. "$top_srcdir/tests/lib/pebble.sh"

on_exit() {
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$PEBBLE_LOG" ] && [ -f "$PEBBLE_LOG" ]; then
		echo "---- pebble log (last 40 lines) ----"
		tail -n 40 "$PEBBLE_LOG"
		for f in "$TEST_TMP"/pledge-*.out; do
			[ -f "$f" ] && { echo "---- $f ----"; cat "$f"; }
		done
	fi
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
pebble_start || exit 99
trap on_exit EXIT

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 3 --acme-directory "$PEBBLE_DIRECTORY" --acme-trust "$PEBBLE_CA" \
	--acme-http01-listen "127.0.0.1:$H01_PORT" >"$TEST_TMP/pki.out" || exit 99
CONF=$D/cloudregd-owner.conf
grep -q '^backend = acme' "$CONF" || fail "brski pki init --acme-directory wrote no [ca] backend = acme"
jget() { pki_get "$D" "$1"; }
TOKEN=$(cat "$D/admin-token")
TLS_CA=$(jget tls_ca)
MASA_ADMIN=$(jget admin.masa_url)
OWNER_REG=$(jget owner.registrar.url)
OWNER_EST=$(jget owner.est.url)
OWNER_ADMIN=https://$(ini_get "$CONF" admin listen)
ODCA=$D/owner-domain-ca.crt
DB=$(ini_get "$CONF" daemon database)
[ -n "$DB" ] || DB=$(sed -n 's/^database = //p' "$CONF" | head -1)
# Every first enrollment request is answered 202 (the pledge waits it out).
sed -i "/^\[est\]\$/a first_wait_ms = 0\nretry_after = 1" "$CONF"
sed -i "/^\[acme\]\$/a poll_interval = 1" "$CONF"
# Pebble's root, which ACME does not deliver, served by cacerts.
pebble_root "$TEST_TMP/pebble-root.pem" || fail "Pebble gave no root"
pebble_intermediate "$TEST_TMP/pebble-int.pem" || fail "Pebble gave no intermediate"
sed -i "/^\[acme\]\$/a ca_roots = $TEST_TMP/pebble-root.pem" "$CONF"

DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$D/cloudregd-cloud.conf" || fail "cloud registrar did not start"
DAEMON_CACERT=$ODCA
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not start"

"$PYTHON3" -c 'import json,sys
ca, reg, est, pin = sys.argv[1:]
print(json.dumps({"name": "acme-owner", "domain_ca": open(ca).read(), "registrar_url": reg,
                  "est_url": est, "est_pin": open(pin).read(), "enroll_here": True}))' \
	"$ODCA" "$OWNER_REG" "$OWNER_EST" "$D/owner-est.crt" >"$TEST_TMP/owner.json"
st=$(curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary "@$TEST_TMP/owner.json" "$MASA_ADMIN/admin/v1/owners")
[ "$st" = 201 ] || fail "owner not created: $st $(cat "$TEST_TMP/admin.out")"
for d in pledge-0001:redirect pledge-0002:est-domain; do
	printf '{"serial":"%s","owner":"acme-owner","mode":"%s"}' "${d%%:*}" "${d#*:}" >"$TEST_TMP/dev.json"
	st=$(curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$TEST_TMP/dev.json" "$MASA_ADMIN/admin/v1/devices")
	[ "$st" = 201 ] || fail "device ${d%%:*} not created: $st $(cat "$TEST_TMP/admin.out")"
done

# pledge SERIAL EST-ORIGIN: the whole flow; checks the pledge's own account
# of it and the LDevID.
pledge() {
	s=$1 where=$2
	out=$TEST_TMP/pledge-$s.out
	"$BRSKI" pledge --pki "$D" --serial "$s" --tries 60 >"$out" 2>&1 ||
		fail "$s: brski pledge exited $? ($(tail -1 "$out"))"
	grep -q "^est  *$where " "$out" || fail "$s: did not enroll at $where"
	grep -q "^csrattrs .*SAN $s.$BIND_ZONE" "$out" || fail "$s: csrattrs did not ask for $s.$BIND_ZONE"
	grep -q "^wait .*202 from $where" "$out" || fail "$s: no 202 waited out"
	grep -q "^enrollstatus .*over TLS with the LDevID (answer 200)" "$out" ||
		fail "$s: enrollstatus was not accepted: $(grep -i enrollstatus "$out")"
	grep -q "^enrolled .*issuer CN=Pebble Intermediate CA" "$out" || fail "$s: the LDevID is not Pebble's"
	crt=$D/pledges/$s.ldevid.crt
	# What makes this test: Pebble's LDevID has no serialNumber.
	"$OPENSSL" x509 -in "$crt" -noout -subject -nameopt RFC2253 | grep -q serialNumber &&
		fail "$s: the LDevID has a subject serialNumber; this test proves nothing"
	"$OPENSSL" verify -CAfile "$TEST_TMP/pebble-root.pem" -untrusted "$crt" "$crt" >/dev/null ||
		fail "$s: the LDevID does not verify against Pebble's root"
	"$OPENSSL" x509 -in "$crt" -noout -ext subjectAltName | grep -q "DNS:$s.$BIND_ZONE" ||
		fail "$s: the LDevID lacks its SAN"
	grep -q "pledge $s: enrollstatus success" "$TEST_TMP/owner.log" ||
		fail "$s: the owner registrar did not record the enrollstatus"
}

# cacerts NAME: GET the owner's EST cacerts (no client certificate) into
# $TEST_TMP/NAME.pem, one PEM certificate after another, in order.
cacerts() {
	st=$(curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/$1.b64" -w '%{http_code}' --cacert "$ODCA" \
		"$OWNER_REG/.well-known/est/cacerts")
	[ "$st" = 200 ] || fail "cacerts ($1): $st $(cat "$TEST_TMP/$1.b64")"
	tr -d '\r' <"$TEST_TMP/h" | grep -qi '^content-type: application/pkcs7-mime; smime-type=certs-only$' ||
		fail "cacerts ($1): not certs-only PKCS#7: $(cat "$TEST_TMP/h")"
	tr -d '\r' <"$TEST_TMP/$1.b64" | base64 -d | "$OPENSSL" pkcs7 -inform DER -print_certs |
		pem_certs >"$TEST_TMP/$1.pem" || fail "cacerts ($1) is not a certs-only PKCS#7"
}
# fps FILE: the SHA-256 of each certificate of a PEM bundle, one a line.
fps() {
	"$PYTHON3" -c 'import base64, hashlib, re, sys
for b in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", open(sys.argv[1]).read(), re.S):
    print(hashlib.sha256(base64.b64decode("".join(b.split()))).hexdigest())' "$1"
}
# want NAME FILE...: cacerts NAME holds exactly the certificates of FILEs
# (each once), in that order.
want() {
	n=$1
	shift
	cat "$@" >"$TEST_TMP/$n.want"
	[ "$(fps "$TEST_TMP/$n.pem")" = "$(fps "$TEST_TMP/$n.want")" ] ||
		fail "cacerts ($n) holds $(grep -c BEGIN "$TEST_TMP/$n.pem") certificate(s) other than expected: $("$OPENSSL" crl2pkcs7 -nocrl -certfile "$TEST_TMP/$n.pem" | "$OPENSSL" pkcs7 -print_certs -noout)"
}
# Before any issuance: the domain CA and the configured root; no
# intermediate, which only the CA's answer tells.
cacerts before
want before "$ODCA" "$TEST_TMP/pebble-root.pem"

# ---- http-01: redirect to the owner registrar ----
pledge pledge-0001 "$OWNER_REG"

# After the issuance: the domain CA, Pebble's intermediate (as Pebble
# returned it with the certificate) and the configured root; the LDevID
# verifies with nothing but those.
cacerts after
want after "$ODCA" "$TEST_TMP/pebble-int.pem" "$TEST_TMP/pebble-root.pem"
sed -n '1,/END CERTIFICATE/p' "$D/pledges/pledge-0001.ldevid.crt" >"$TEST_TMP/leaf1.pem"
"$OPENSSL" verify -CAfile "$TEST_TMP/after.pem" -untrusted "$TEST_TMP/after.pem" "$TEST_TMP/leaf1.pem" >/dev/null ||
	fail "the LDevID does not verify with the cacerts contents as CA file and untrusted chain"
# ... and not without the intermediate, or the check above proves nothing.
"$OPENSSL" verify -CAfile "$TEST_TMP/before.pem" "$TEST_TMP/leaf1.pem" >/dev/null 2>&1 &&
	fail "the LDevID verifies without Pebble's intermediate"
grep -q "http-01 challenge for pledge-0001.$BIND_ZONE started" "$TEST_TMP/owner.log" ||
	fail "pledge-0001 was not validated with http-01"

# The telemetry row, through the owner registrar's admin API.
st=$(curl -s -o "$TEST_TMP/tele.json" -w '%{http_code}' --cacert "$ODCA" -H "Authorization: Bearer $TOKEN" \
	"$OWNER_ADMIN/admin/v1/devices/pledge-0001/telemetry")
[ "$st" = 200 ] || fail "telemetry query: $st $(cat "$TEST_TMP/tele.json")"
"$PYTHON3" -c 'import json,sys
rows = [r for r in json.load(open(sys.argv[1]))["items"]
        if r["kind"] == "enrollstatus" and r["serial"] == "pledge-0001" and r["status"] is True]
sys.exit(0 if len(rows) == 1 else 1)' "$TEST_TMP/tele.json" ||
	fail "no enrollstatus success row for pledge-0001 in the admin API: $(cat "$TEST_TMP/tele.json")"

# The request log names the device although Pebble's LDevID carries no
# serialNumber: the serial comes from the registrar's record of what it
# issued (the row of the enrollstatus made with that LDevID).
st=$(curl -s -o "$TEST_TMP/reqs.json" -w '%{http_code}' --cacert "$ODCA" -H "Authorization: Bearer $TOKEN" \
	"$OWNER_ADMIN/admin/v1/devices/pledge-0001/requests")
[ "$st" = 200 ] || fail "request log query: $st $(cat "$TEST_TMP/reqs.json")"
ldevid_sha=$("$OPENSSL" x509 -in "$D/pledges/pledge-0001.ldevid.crt" -outform DER | "$OPENSSL" dgst -sha256 -r | cut -d' ' -f1)
"$PYTHON3" -c 'import json,sys
rows = [r for r in json.load(open(sys.argv[1]))["items"]
        if r["endpoint"] == "brski/enrollstatus" and r["serial"] == "pledge-0001"
        and r["client_cert"] == sys.argv[2] and r["status"] == 200]
sys.exit(0 if len(rows) == 1 else 1)' "$TEST_TMP/reqs.json" "$ldevid_sha" ||
	fail "no request log row with serial pledge-0001 for the enrollstatus made with its Pebble LDevID: $(cat "$TEST_TMP/reqs.json")"

# ---- simplereenroll with the LDevID (curl + openssl) ----
L=$D/pledges/pledge-0001.ldevid
subj=$("$OPENSSL" x509 -in "$L.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
printf '[req]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[dn]\n%s\n[ext]\nsubjectAltName = DNS:pledge-0001.%s\n' \
	"$(echo "$subj" | tr ',' '\n')" "$BIND_ZONE" >"$TEST_TMP/re.cnf"
"$OPENSSL" req -new -config "$TEST_TMP/re.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TEST_TMP/re.key" -outform DER -out "$TEST_TMP/re.der" 2>/dev/null || exit 99
base64 "$TEST_TMP/re.der" >"$TEST_TMP/re.b64"
n=0
while :; do
	st=$(curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" \
		--cert "$L.crt" --key "$L.key" -H 'Content-Type: application/pkcs10' \
		--data-binary "@$TEST_TMP/re.b64" "$OWNER_REG/.well-known/est/simplereenroll")
	[ "$st" = 202 ] || break
	n=$((n + 1))
	[ $n -lt 60 ] || fail "simplereenroll: still 202 after 60 tries"
	sleep "$(tr -d '\r' <"$TEST_TMP/h" | sed -n 's/^retry-after: *//Ip' | head -1)"
done
[ "$st" = 200 ] || fail "simplereenroll with the LDevID: $st $(cat "$TEST_TMP/b")"
[ $n -ge 1 ] || fail "simplereenroll was not a job (no 202)"
tr -d '\r' <"$TEST_TMP/b" | base64 -d | "$OPENSSL" pkcs7 -inform DER -print_certs |
	pem_certs 1 >"$TEST_TMP/re.crt"
"$OPENSSL" verify -CAfile "$TEST_TMP/pebble-root.pem" -untrusted "$L.crt" "$TEST_TMP/re.crt" >/dev/null ||
	fail "the re-enrolled certificate does not verify against Pebble's root"
"$OPENSSL" x509 -in "$TEST_TMP/re.crt" -noout -ext subjectAltName | grep -q "DNS:pledge-0001.$BIND_ZONE" ||
	fail "the re-enrolled certificate lost the SAN"
[ "$("$OPENSSL" x509 -in "$TEST_TMP/re.crt" -noout -pubkey)" = "$("$OPENSSL" pkey -in "$TEST_TMP/re.key" -pubout)" ] ||
	fail "the re-enrolled certificate is not for the new key"
[ "$(sqlite3 "$DB" "SELECT serial, reenroll FROM enroll_jobs ORDER BY id DESC LIMIT 1")" = "pledge-0001|1" ] ||
	fail "the re-enrollment job does not say so: $(sqlite3 "$DB" "SELECT serial, reenroll FROM enroll_jobs")"
grep -q "enroll: job [0-9]*: acme CA issued a certificate for serial pledge-0001 (re-enrollment" "$TEST_TMP/owner.log" ||
	fail "the CA backend was not told it was a re-enrollment"
# (ready at once when Pebble reuses the valid authorization of the first order)
grep -Eq "order .* for pledge-0001.$BIND_ZONE \((pending|ready), re-enrollment\)" "$TEST_TMP/owner.log" ||
	fail "the ACME order of the re-enrollment was not logged as one"

# The re-enrolled certificate is the device's too: enrollstatus with it.
st=$(curl -s -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" --cert "$TEST_TMP/re.crt" --key "$TEST_TMP/re.key" \
	-H 'Content-Type: application/json' --data '{"version":1,"status":true}' "$OWNER_REG/.well-known/brski/enrollstatus")
[ "$st" = 200 ] || fail "enrollstatus with the re-enrolled certificate: $st $(cat "$TEST_TMP/b")"
[ "$(grep -c "pledge pledge-0001: enrollstatus success" "$TEST_TMP/owner.log")" = 2 ] ||
	fail "the second enrollstatus was not recorded for pledge-0001"

# ---- a certificate the registrar did not issue, without serialNumber ----
"$OPENSSL" req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=stranger.$BIND_ZONE" \
	-keyout "$TEST_TMP/x.key" -out "$TEST_TMP/x.csr" 2>/dev/null || exit 99
"$OPENSSL" x509 -req -in "$TEST_TMP/x.csr" -CA "$ODCA" -CAkey "$D/owner-domain-ca.key" -CAcreateserial \
	-days 1 -out "$TEST_TMP/x.crt" 2>/dev/null || exit 99
st=$(curl -s -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ODCA" --cert "$TEST_TMP/x.crt" --key "$TEST_TMP/x.key" \
	-H 'Content-Type: application/json' --data '{"version":1,"status":true}' "$OWNER_REG/.well-known/brski/enrollstatus")
[ "$st" = 403 ] || fail "enrollstatus with a certificate not issued here: $st, want 403"
grep -q "not one this registrar issued" "$TEST_TMP/b" || fail "the 403 does not say why: $(cat "$TEST_TMP/b")"

# ---- dns-01 (RFC 2136 through BIND): est-domain at the owner's EST server ----
stop_daemon owner || fail "owner registrar did not stop"
export DNS01_ZONE=$BIND_ZONE DNS01_KEYFILE=$BIND_KEYFILE DNS01_PORT=$BIND_PORT DNS01_SERVER=127.0.0.1
sed -i "s/^challenge = http-01\$/challenge = dns-01/; /^\[acme\]\$/a dns_hook = $top_srcdir/conf/dns01-nsupdate.sh" "$CONF"
sed -i '/^ca_roots = /d' "$CONF"
start_daemon owner "$CLOUDREGD" "$CONF" || fail "owner registrar did not restart with dns-01"
# A new process without ca_roots: the intermediate from the store, no root.
cacerts restarted
want restarted "$ODCA" "$TEST_TMP/pebble-int.pem"
pledge pledge-0002 "$OWNER_EST"
grep -q "dns-01 challenge for pledge-0002.$BIND_ZONE started" "$TEST_TMP/owner.log" ||
	fail "pledge-0002 was not validated with dns-01"
[ -z "$(bind_txt "_acme-challenge.pledge-0002.$BIND_ZONE")" ] || fail "pledge-0002's dns-01 record is still published"
echo "test-acme-pledge: two pledges enrolled through Pebble (http-01, dns-01), enrollstatus accepted, one re-enrollment"
exit 0
