#!/bin/sh
# EST on cloudregd (RFC 7030 / RFC 8951) over real TLS on loopback, with
# curl + openssl as an independent client for every operation and
# `brski pledge` for the whole flow in the three modes:
#   cacerts without a client certificate; csrattrs with the SAN template;
#   simpleenroll 202 + Retry-After, then the certificate (issued first,
#   verified by openssl against the owner's domain CA); the identical CSR
#   from the cache (same certificate, no new issuance); bodies unwrapped and
#   with CRLF; wrong proof of possession 403; 401/403 without / with a
#   foreign certificate; a SAN outside the policy 403; simplereenroll with
#   the LDevID (and a changed subject refused); serverkeygen (multipart:
#   PKCS#8 key + certificate for it), 501 where off; fullcmc 501;
#   a pending job across kill -9 and restart; the pledge in est-domain,
#   redirect and enroll-here mode, its LDevID verified against the issuer it
#   should have; the cloud registrar's 404 for devices not in enroll-here;
#   SIGHUP switching to a new CA key and certificate.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 9 >"$TEST_TMP/pki.out" || exit 99

jget() { pki_get "$D" "$1"; }
TOKEN=$(cat "$D/admin-token")
TLS_CA=$(jget tls_ca)
MASA_ADMIN=$(jget admin.masa_url)
CLOUD_EST=$(jget cloud_registrar.est.url)
OWNER_REG=$(jget owner.registrar.url)
OWNER_EST=$(jget owner.est.url)
ODCA=$D/owner-domain-ca.crt
CDCA=$D/cloud-domain-ca.crt
pcert() { echo "$D/pledges/$1.chain.pem"; }
pkey() { echo "$D/pledges/$1.key"; }

# The owner's EST answers every first request with 202 (first_wait_ms = 0)
# and asks for retries after 1 s; the cloud requires proof of possession.
add_est() { # CONF KEY VALUE: a key in the [est] section
	sed -i "/^\[est\]\$/a $2 = $3" "$1"
}
add_est "$D/cloudregd-owner.conf" first_wait_ms 0
add_est "$D/cloudregd-owner.conf" retry_after 1
add_est "$D/cloudregd-owner.conf" serverkeygen true
add_est "$D/cloudregd-cloud.conf" retry_after 1
add_est "$D/cloudregd-cloud.conf" require_pop true
# The same owner registrar with no workers: it only queues jobs.
sed 's/^first_wait_ms = 0$/workers = 0/' "$D/cloudregd-owner.conf" >"$D/cloudregd-owner-queue.conf"

DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$D/cloudregd-cloud.conf" || fail "cloud registrar did not start"
DAEMON_CACERT=$ODCA
start_daemon owner "$CLOUDREGD" "$D/cloudregd-owner.conf" || fail "owner registrar did not start"

# ---- owner and devices at the MASA (shared with the cloud registrar) ----
"$PYTHON3" -c 'import json,sys
ca, reg, est, pin = sys.argv[1:]
print(json.dumps({"name": "acme-owner", "domain_ca": open(ca).read(), "registrar_url": reg,
                  "est_url": est, "est_pin": open(pin).read(), "enroll_here": True}))' \
	"$ODCA" "$OWNER_REG" "$OWNER_EST" "$D/owner-est.crt" >"$TEST_TMP/owner.json"
st=$(curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary "@$TEST_TMP/owner.json" "$MASA_ADMIN/admin/v1/owners")
[ "$st" = 201 ] || fail "owner not created: $st $(cat "$TEST_TMP/admin.out")"
device() { # SERIAL MODE
	printf '{"serial":"%s","owner":"acme-owner","mode":"%s"}' "$1" "$2" >"$TEST_TMP/dev.json"
	st=$(curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$TLS_CA" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$TEST_TMP/dev.json" "$MASA_ADMIN/admin/v1/devices")
	[ "$st" = 201 ] || fail "device $1 not created: $st $(cat "$TEST_TMP/admin.out")"
}
device pledge-0001 redirect
device pledge-0002 est-domain
device pledge-0003 enroll-here
device pledge-0004 est-domain

# ---- curl as the EST client ----
# est ORIGIN CA OP [curl args...]: headers in $TEST_TMP/h, body in $TEST_TMP/b
est() {
	o=$1 ca=$2 op=$3
	shift 3
	curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$ca" "$@" "$o/.well-known/est/$op"
}
as() { echo "--cert $(pcert "$1") --key $(pkey "$1")"; }
hdr() { tr -d '\r' <"$TEST_TMP/h" | sed -n "s/^$1: *//Ip" | head -1; }
b64d() { tr -d '\r' <"$1" | base64 -d; }
issued() { grep -c "CA issued a certificate" "$TEST_TMP/$1.log"; }
csr() { # SERIAL OUT [SAN] [CHALLENGE]: a fresh key (OUT.key) and CSR (OUT.der, OUT.b64)
	{
		printf '[req]\ndistinguished_name = dn\nprompt = no\n'
		[ -n "${4:-}" ] && printf 'attributes = attrs\n'
		[ -n "${3:-}" ] && printf 'req_extensions = ext\n'
		printf '[dn]\nCN = %s\nserialNumber = %s\n' "$1" "$1"
		[ -n "${4:-}" ] && printf '[attrs]\nchallengePassword = %s\n' "$4"
		[ -n "${3:-}" ] && printf '[ext]\nsubjectAltName = DNS:%s\n' "$3"
	} >"$2.cnf"
	"$OPENSSL" req -new -config "$2.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$2.key" -outform DER -out "$2.der" 2>/dev/null || exit 99
	base64 "$2.der" >"$2.b64"
}
# enroll_until ORIGIN CA OP BODY AUTH...: POST until not 202, honouring
# Retry-After; prints the final status and the number of 202s.
enroll_until() {
	o=$1 ca=$2 op=$3 body=$4
	shift 4
	n202=0
	while :; do
		st=$(est "$o" "$ca" "$op" "$@" -H 'Content-Type: application/pkcs10' --data-binary "@$body")
		[ "$st" = 202 ] || break
		ra=$(hdr Retry-After)
		case "$ra" in '' | *[!0-9]*) fail "202 without a delta-seconds Retry-After: '$ra'" ;; esac
		n202=$((n202 + 1))
		[ "$n202" -lt 30 ] || fail "still 202 after 30 retries"
		sleep "$ra"
	done
	echo "$st $n202"
}
certs_of() { b64d "$TEST_TMP/b" | "$OPENSSL" pkcs7 -inform DER -print_certs; }
first_cert() { certs_of | pem_certs 1; }

# cacerts: no client certificate needed; certs-only PKCS#7, base64 in lines
# of 64 columns, Content-Length.
st=$(est "$OWNER_EST" "$ODCA" cacerts)
[ "$st" = 200 ] || fail "cacerts: $st"
[ "$(hdr Content-Type)" = "application/pkcs7-mime; smime-type=certs-only" ] || fail "cacerts Content-Type: $(hdr Content-Type)"
[ "$(hdr Content-Length)" = "$(wc -c <"$TEST_TMP/b")" ] || fail "cacerts without a matching Content-Length"
awk 'length($0) > 64 { exit 1 }' "$TEST_TMP/b" || fail "cacerts body not wrapped at 64 columns"
certs_of | grep -q "subject=O = acme-owner, CN = acme-owner domain CA" || fail "cacerts does not hold the owner domain CA"

# csrattrs: the SAN template <serial>.pledges.example.com
st=$(est "$OWNER_EST" "$ODCA" csrattrs $(as pledge-0004))
[ "$st" = 200 ] || fail "csrattrs: $st"
[ "$(hdr Content-Type)" = application/csrattrs ] || fail "csrattrs Content-Type: $(hdr Content-Type)"
b64d "$TEST_TMP/b" | "$OPENSSL" asn1parse -inform DER >"$TEST_TMP/attrs.txt" || fail "csrattrs is not DER"
grep -q "Extension Request" "$TEST_TMP/attrs.txt" || fail "csrattrs without extensionRequest"
grep -q "$(printf 'pledge-0004.pledges.example.com' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)" "$TEST_TMP/attrs.txt" ||
	fail "csrattrs does not ask for SAN pledge-0004.pledges.example.com"

# simpleenroll: 202 + Retry-After first, then the certificate.
csr pledge-0004 "$TEST_TMP/c4" pledge-0004.pledges.example.com
before=$(issued owner)
set -- $(enroll_until "$OWNER_EST" "$ODCA" simpleenroll "$TEST_TMP/c4.b64" $(as pledge-0004))
[ "$1" = 200 ] || fail "simpleenroll: $1 $(cat "$TEST_TMP/b")"
[ "$2" -ge 1 ] || fail "simpleenroll answered the first request without 202 (first_wait_ms = 0)"
[ "$(hdr Content-Type)" = "application/pkcs7-mime; smime-type=certs-only" ] || fail "simpleenroll Content-Type"
[ "$(hdr Content-Length)" = "$(wc -c <"$TEST_TMP/b")" ] || fail "simpleenroll without a matching Content-Length"
first_cert >"$TEST_TMP/c4.crt"
"$OPENSSL" x509 -in "$TEST_TMP/c4.crt" -noout -subject | grep -q "serialNumber = pledge-0004" ||
	fail "the first certificate is not the issued one"
"$OPENSSL" verify -CAfile "$ODCA" "$TEST_TMP/c4.crt" >/dev/null || fail "issued certificate does not verify against the owner domain CA"
"$OPENSSL" x509 -in "$TEST_TMP/c4.crt" -noout -ext subjectAltName | grep -q "DNS:pledge-0004.pledges.example.com" ||
	fail "issued certificate lacks the SAN"
[ "$(("$OPENSSL" x509 -in "$TEST_TMP/c4.crt" -noout -pubkey; "$OPENSSL" pkey -in "$TEST_TMP/c4.key" -pubout) | sort -u | wc -l)" = 4 ] ||
	fail "issued certificate is not for the CSR's key"
serial4=$("$OPENSSL" x509 -in "$TEST_TMP/c4.crt" -noout -serial)
[ "$(issued owner)" = $((before + 1)) ] || fail "expected one issuance, log shows $(($(issued owner) - before))"

# The identical CSR: the cached certificate, at once, no new issuance; the
# body unwrapped and with CRLF line ends is the same CSR.
base64 -w0 "$TEST_TMP/c4.der" >"$TEST_TMP/c4.flat"
sed 's/$/\r/' "$TEST_TMP/c4.b64" >"$TEST_TMP/c4.crlf"
for body in c4.b64 c4.flat c4.crlf; do
	st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/$body")
	[ "$st" = 200 ] || fail "identical CSR ($body): $st, want 200 from the cache"
	[ "$(first_cert | "$OPENSSL" x509 -noout -serial)" = "$serial4" ] || fail "identical CSR ($body) got another certificate"
done
[ "$(issued owner)" = $((before + 1)) ] || fail "the cache did not prevent a new issuance"
grep -q "certificate from the cache" "$TEST_TMP/owner.log" || fail "no cache hit logged"

# Refusals.
st=$(est "$OWNER_EST" "$ODCA" simpleenroll -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c4.b64")
[ "$st" = 401 ] || fail "simpleenroll without credentials: $st, want 401"
st=$(est "$OWNER_EST" "$ODCA" simpleenroll --cert "$D/cloud-est.chain.pem" --key "$D/cloud-est.key" \
	-H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c4.b64")
[ "$st" = 403 ] || fail "simpleenroll with a foreign certificate: $st, want 403"
st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: text/plain' --data-binary "@$TEST_TMP/c4.b64")
[ "$st" = 415 ] || fail "simpleenroll with text/plain: $st, want 415"
printf 'not base64!' >"$TEST_TMP/junk"
st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/junk")
[ "$st" = 400 ] || fail "simpleenroll with a non-base64 body: $st, want 400"
csr pledge-0004 "$TEST_TMP/cpop" pledge-0004.pledges.example.com "d3JvbmcgY2hhbm5lbCBiaW5kaW5nIQ=="
st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/cpop.b64")
[ "$st" = 403 ] || fail "wrong proof of possession: $st, want 403"
grep -q "proof of possession failed" "$TEST_TMP/b" || fail "wrong proof of possession: no reason ($(cat "$TEST_TMP/b"))"
csr pledge-0004 "$TEST_TMP/csan" www.example.com
st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/csan.b64")
[ "$st" = 403 ] || fail "SAN outside the policy: $st, want 403"
st=$(est "$OWNER_EST" "$ODCA" fullcmc $(as pledge-0004) -H 'Content-Type: application/pkcs7-mime' --data-binary "@$TEST_TMP/c4.b64")
[ "$st" = 501 ] || fail "fullcmc: $st, want 501"
# serverkeygen: a multipart/mixed answer with a PKCS#8 key and a certs-only
# part whose first certificate is for that key, subject and SAN of the CSR.
csr pledge-0004 "$TEST_TMP/ckg" pledge-0004.pledges.example.com
st=$(est "$OWNER_EST" "$ODCA" serverkeygen $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/ckg.b64")
[ "$st" = 200 ] || fail "serverkeygen: $st $(cat "$TEST_TMP/b")"
case "$(hdr Content-Type)" in "multipart/mixed; boundary="*) ;; *) fail "serverkeygen Content-Type: $(hdr Content-Type)" ;; esac
"$PYTHON3" - "$TEST_TMP/b" "$(hdr Content-Type)" "$TEST_TMP/kg" <<'PY' || fail "serverkeygen body is not the two expected parts"
import base64, sys
body, ctype, out = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
parts = body.split(b"--" + boundary)
assert parts[0] == b"" and parts[-1].strip() == b"--", parts
parts = parts[1:-1]
assert len(parts) == 2
types = []
for i, p in enumerate(parts):
    head, data = p.split(b"\r\n\r\n", 1)
    types.append([l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"content-type:")][0])
    open(out + (".key.der", ".p7.der")[i], "wb").write(base64.b64decode(data))
assert types == [b"application/pkcs8", b"application/pkcs7-mime; smime-type=certs-only"], types
PY
"$OPENSSL" pkcs7 -inform DER -in "$TEST_TMP/kg.p7.der" -print_certs | sed -n '1,/END CERTIFICATE/p' >"$TEST_TMP/kg.crt"
"$OPENSSL" verify -CAfile "$ODCA" "$TEST_TMP/kg.crt" >/dev/null || fail "serverkeygen certificate does not verify"
[ "$("$OPENSSL" pkey -inform DER -in "$TEST_TMP/kg.key.der" -pubout)" = "$("$OPENSSL" x509 -in "$TEST_TMP/kg.crt" -noout -pubkey)" ] ||
	fail "serverkeygen certificate is not for the key sent"
[ "$("$OPENSSL" x509 -in "$TEST_TMP/kg.crt" -noout -pubkey)" != "$("$OPENSSL" pkey -in "$TEST_TMP/ckg.key" -pubout)" ] ||
	fail "serverkeygen certified the CSR's own key"
"$OPENSSL" x509 -in "$TEST_TMP/kg.crt" -noout -subject -ext subjectAltName | tr '\n' ' ' |
	grep -q "serialNumber = pledge-0004.*DNS:pledge-0004.pledges.example.com" || fail "serverkeygen certificate lost subject or SAN"
[ "$(est "$OWNER_EST" "$ODCA" nosuchop)" = 404 ] || fail "unknown EST operation is not 404"
[ "$(est "$OWNER_EST" "$ODCA" simpleenroll -X GET)" = 405 ] || fail "GET simpleenroll is not 405"

# simplereenroll with the LDevID: same subject and SAN, new key.
csr pledge-0004 "$TEST_TMP/c4r" pledge-0004.pledges.example.com
set -- $(enroll_until "$OWNER_EST" "$ODCA" simplereenroll "$TEST_TMP/c4r.b64" --cert "$TEST_TMP/c4.crt" --key "$TEST_TMP/c4.key")
[ "$1" = 200 ] || fail "simplereenroll: $1 $(cat "$TEST_TMP/b")"
first_cert >"$TEST_TMP/c4r.crt"
"$OPENSSL" verify -CAfile "$ODCA" "$TEST_TMP/c4r.crt" >/dev/null || fail "re-enrolled certificate does not verify"
[ "$("$OPENSSL" x509 -in "$TEST_TMP/c4r.crt" -noout -serial)" != "$serial4" ] || fail "re-enrollment returned the old certificate"
csr pledge-0004 "$TEST_TMP/c4x"
st=$(est "$OWNER_EST" "$ODCA" simplereenroll --cert "$TEST_TMP/c4.crt" --key "$TEST_TMP/c4.key" \
	-H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c4x.b64")
[ "$st" = 400 ] || fail "re-enrollment dropping the SAN: $st, want 400"
st=$(est "$OWNER_EST" "$ODCA" simplereenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c4r.b64")
[ "$st" = 403 ] || fail "simplereenroll with the IDevID: $st, want 403"

# ---- a pending job survives kill -9 ----
stop_daemon owner || fail "owner registrar did not stop cleanly"
start_daemon owner "$CLOUDREGD" "$D/cloudregd-owner-queue.conf" || fail "queue-only owner registrar did not start"
csr pledge-0004 "$TEST_TMP/ck" pledge-0004.pledges.example.com
st=$(est "$OWNER_EST" "$ODCA" simpleenroll $(as pledge-0004) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/ck.b64")
[ "$st" = 202 ] || fail "queue-only instance: $st, want 202"
kill -KILL "$(daemon_pid owner)"
wait "$(daemon_pid owner)" 2>/dev/null
eval "DAEMON_PID_owner="
mv "$TEST_TMP/owner.log" "$TEST_TMP/owner-killed.log"
start_daemon owner "$CLOUDREGD" "$D/cloudregd-owner.conf" || fail "owner registrar did not restart"
set -- $(enroll_until "$OWNER_EST" "$ODCA" simpleenroll "$TEST_TMP/ck.b64" $(as pledge-0004))
[ "$1" = 200 ] || fail "after kill -9 and restart: $1 $(cat "$TEST_TMP/b")"
grep -q "created for serial" "$TEST_TMP/owner.log" && fail "the restarted daemon made a new job instead of running the pending one"
[ "$(issued owner)" = 1 ] || fail "the pending job was not issued exactly once after the restart"
first_cert | "$OPENSSL" verify -CAfile "$ODCA" >/dev/null || fail "certificate after restart does not verify"

# ---- the cloud registrar: 404 for devices not in enroll-here ----
[ "$(est "$CLOUD_EST" "$CDCA" cacerts $(as pledge-0002))" = 404 ] || fail "cloud EST cacerts for an est-domain device is not 404"
[ "$(est "$CLOUD_EST" "$CDCA" csrattrs $(as pledge-0002))" = 404 ] || fail "cloud EST csrattrs for an est-domain device is not 404"
[ "$(est "$CLOUD_EST" "$CDCA" csrattrs)" = 404 ] || fail "cloud EST without a certificate is not 404"
st=$(est "$CLOUD_EST" "$CDCA" serverkeygen $(as pledge-0003) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c4.b64")
[ "$st" = 501 ] || fail "serverkeygen where it is off: $st, want 501"
st=$(est "$CLOUD_EST" "$CDCA" csrattrs $(as pledge-0003))
[ "$st" = 200 ] || fail "cloud EST csrattrs for the enroll-here device: $st"
b64d "$TEST_TMP/b" | "$OPENSSL" asn1parse -inform DER | grep -q challengePassword ||
	fail "csrattrs of a require_pop server does not ask for challengePassword"
csr pledge-0003 "$TEST_TMP/c3"
st=$(est "$CLOUD_EST" "$CDCA" simpleenroll $(as pledge-0003) -H 'Content-Type: application/pkcs10' --data-binary "@$TEST_TMP/c3.b64")
[ "$st" = 403 ] || fail "require_pop: a CSR without the channel binding got $st, want 403"

# ---- brski pledge, the whole flow ----
pledge() { # SERIAL [ARGS...]
	s=$1
	shift
	"$BRSKI" pledge --pki "$D" --serial "$s" --tries 20 "$@" >"$TEST_TMP/pledge.out" 2>&1
	rc=$?
	cat "$TEST_TMP/pledge.out" >>"$TEST_TMP/pledges.log"
	return $rc
}
expect_out() { grep -q -- "$1" "$TEST_TMP/pledge.out" || { cat "$TEST_TMP/pledge.out"; fail "$2"; }; }
ldevid_ok() { # SERIAL CA
	crt=$D/pledges/$1.ldevid.crt
	[ -s "$crt" ] && [ -s "$D/pledges/$1.ldevid.key" ] || fail "$1: no LDevID files"
	[ "$(stat -c %a "$D/pledges/$1.ldevid.key")" = 600 ] || fail "$1: LDevID key is not 0600"
	"$OPENSSL" verify -CAfile "$2" "$crt" >/dev/null || fail "$1: LDevID does not verify against $2"
}

pledge pledge-0002 || { cat "$TEST_TMP/pledge.out"; fail "est-domain: pledge failed"; }
expect_out "csrattrs .*SAN pledge-0002.pledges.example.com" "est-domain: no SAN from csrattrs"
expect_out "wait .*202 from $OWNER_EST" "est-domain: the 202 was not waited out"
expect_out "enrolled .*subject .*pledge-0002.*issuer .*acme-owner domain CA" "est-domain: no enrolled line"
expect_out "enrollstatus .*sent success to $OWNER_EST over TLS with the LDevID (answer 200)" "est-domain: enrollstatus"
expect_out "; enrolled" "est-domain: no summary"
# The log names each TLS peer, every request's status and the voucher's fields.
expect_out "connect .*(cloud registrar, validated by the implicit trust anchors); peer subject .*, issuer " "est-domain: connect line without the peer's names"
expect_out "requestvoucher .*POST .*: 200\$" "est-domain: requestvoucher without its status"
expect_out "voucher .*created-on 20[0-9-]*T[0-9:]*Z" "est-domain: voucher line without created-on"
expect_out "est .*authenticated by pinned-domain-cert.*; peer subject .*EST server.*, issuer .*domain CA" "est-domain: est line without the peer's names"
expect_out "cacerts .*GET $OWNER_EST/.well-known/est/cacerts: 200, " "est-domain: cacerts without its status"
expect_out "csrattrs .*GET $OWNER_EST/.well-known/est/csrattrs: 200, " "est-domain: csrattrs without its status"
expect_out "simpleenroll .*POST $OWNER_EST/.well-known/est/simpleenroll .*: 202\$" "est-domain: the 202 of simpleenroll not logged"
expect_out "simpleenroll .*POST $OWNER_EST/.well-known/est/simpleenroll .*: 200\$" "est-domain: the 200 of simpleenroll not logged"
ldevid_ok pledge-0002 "$ODCA"
"$OPENSSL" x509 -in "$D/pledges/pledge-0002.ldevid.crt" -noout -ext subjectAltName | grep -q "DNS:pledge-0002.pledges.example.com" ||
	fail "est-domain: LDevID lacks the SAN"

pledge pledge-0001 || { cat "$TEST_TMP/pledge.out"; fail "redirect: pledge failed"; }
expect_out "redirect  *307 to $OWNER_REG" "redirect: no 307"
expect_out "simpleenroll .*POST $OWNER_REG/.well-known/est/simpleenroll" "redirect: EST not at the owner registrar"
expect_out "enrolled .*issuer .*acme-owner domain CA" "redirect: no enrolled line"
ldevid_ok pledge-0001 "$ODCA"

pledge pledge-0003 || { cat "$TEST_TMP/pledge.out"; fail "enroll-here: pledge failed"; }
expect_out "challengePassword = tls-" "enroll-here: no channel binding in the CSR"
expect_out "enrolled .*issuer .*" "enroll-here: no enrolled line"
ldevid_ok pledge-0003 "$CDCA"
"$OPENSSL" verify -CAfile "$ODCA" "$D/pledges/pledge-0003.ldevid.crt" >/dev/null 2>&1 &&
	fail "enroll-here: the LDevID verifies against the owner's CA"

# ---- SIGHUP: a new CA key and certificate at the configured paths are
# used for cacerts and new certificates, without a restart ----
"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/O=acme-owner/CN=acme-owner domain CA 2" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign -keyout "$TEST_TMP/ca2.key" \
	-out "$TEST_TMP/ca2.crt" 2>/dev/null || exit 99
cp "$ODCA" "$TEST_TMP/ca1.crt"
cat "$TEST_TMP/ca2.key" >"$D/owner-domain-ca.key"
cp "$TEST_TMP/ca2.crt" "$ODCA"
kill -HUP "$(daemon_pid owner)"
tries=0
until est "$OWNER_EST" "$TEST_TMP/ca1.crt" cacerts >/dev/null && certs_of | grep -q "domain CA 2"; do
	tries=$((tries + 1))
	[ "$tries" -lt 100 ] || fail "cacerts still the old CA after SIGHUP"
	sleep 0.1
done
grep -q "est: reloaded the CA backend" "$TEST_TMP/owner.log" || fail "no EST reload logged"
csr pledge-0004 "$TEST_TMP/chup" pledge-0004.pledges.example.com
set -- $(enroll_until "$OWNER_EST" "$TEST_TMP/ca1.crt" simpleenroll "$TEST_TMP/chup.b64" $(as pledge-0004))
[ "$1" = 200 ] || fail "simpleenroll after SIGHUP: $1 $(cat "$TEST_TMP/b")"
first_cert >"$TEST_TMP/chup.crt"
"$OPENSSL" verify -CAfile "$TEST_TMP/ca2.crt" "$TEST_TMP/chup.crt" >/dev/null || fail "after SIGHUP the certificate is not from the new CA"

# enrollstatus reached the telemetry store of each EST server.
grep -q "pledge pledge-0002: enrollstatus success" "$TEST_TMP/owner.log" || fail "owner did not log the enrollstatus"
grep -q "pledge pledge-0003: enrollstatus success" "$TEST_TMP/cloud.log" || fail "cloud did not log the enrollstatus"
exit 0
