#!/bin/sh
# masad end to end on loopback with the PKI of `brski pki init`: the
# voucher-signing key in SoftHSM2, owners and devices through the admin
# API, registrar voucher-requests made with `brski voucher` and with
# `openssl cms -sign`; vouchers checked by `openssl cms -verify` and by
# tests/interop/vouchersig.py; every check of RFC 8995 section 5.5 failing
# alone (status, body, no voucher, the disposition in the request log);
# revocation (deny list, CRL); nonceless vouchers; requestauditlog;
# owner-scoped tokens; bulk import; ownership transfer.
#
# MASA_STORE=pg runs the same on a private PostgreSQL (test-masa-pg.sh).
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/masa.sh"

pki=$TEST_TMP/pki
"$BRSKI" pki init "$pki" >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; fail "brski pki init"; }
DAEMON_CACERT=$pki/tls-ca.crt
conf=$TEST_TMP/masad.conf
cp "$pki/masad.conf" "$conf"

if [ "${MASA_STORE:-sqlite}" = pg ]; then
	. "$top_srcdir/tests/lib/pg.sh"
	pg_start || exit 99
	trap 'rc=$?; pg_stop; (exit $rc); daemon_cleanup' EXIT
	sed -i "s|^database = .*|database = $PG_URI|" "$conf"
	grep -q '^database = postgresql://' "$conf" || fail "fixture: database not replaced"
fi

# ---- the voucher-signing key in a PKCS#11 token (SoftHSM2) ----------------
SOFTHSM2_CONF=$TEST_TMP/softhsm2.conf
export SOFTHSM2_CONF
mkdir "$TEST_TMP/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$TEST_TMP/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label masa-sign --pin 4321 --so-pin 8765 >/dev/null ||
	fail "softhsm2-util --init-token"
"$OPENSSL" pkcs8 -topk8 -nocrypt -in "$pki/masa-sign.key" -out "$TEST_TMP/sign.p8" || fail "pkcs8"
softhsm2-util --import "$TEST_TMP/sign.p8" --token masa-sign --label sign --id 02 --pin 4321 \
	>/dev/null || fail "softhsm2-util --import"
rm -f "$TEST_TMP/sign.p8"
sed -i "s|^sign_key = .*|sign_key = pkcs11:token=masa-sign;object=sign;type=private?pin-value=4321|" "$conf"
grep -q '^sign_key = pkcs11:' "$conf" || fail "fixture: sign_key not replaced"
"$MASAD" -c "$conf" --check-config >/dev/null || fail "masad --check-config"

start_daemon masad "$MASAD" "$conf" || fail "masad did not start"
MASA_ADMIN=$(admin_origin "$conf")
MASA_BRSKI=https://$(ini_get "$conf" brski listen)
ADMIN=$(cat "$pki/admin-token")
est_url=$(jget "$pki/pki.json" 'd["owner"]["est"]["url"]')
reg_url=$(jget "$pki/pki.json" 'd["owner"]["registrar"]["url"]')
enroll_est=$(ini_get "$conf" masa enroll_here_est_url)
[ -n "$enroll_est" ] || fail "brski pki init wrote no [masa] enroll_here_est_url"
P=$pki/pledges

# expect CODE WHAT: the last status was CODE
expect() {
	[ "$code" = "$1" ] || {
		cat "$TEST_TMP/api.out" "$TEST_TMP/resp" 2>/dev/null
		fail "$2: status $code, expected $1"
	}
}

# ---- admin API: owners and devices ----------------------------------------
code=$(masa_apij "" GET /owners "")
expect 401 "GET /owners without a token"
code=$(masa_apij "$ADMIN" POST /owners "{\"name\":\"bad\",\"domain_ca\":$(jstr "$pki/owner-registrar.crt")}")
expect 400 "an owner whose domain_ca is not a CA"
grep -q 'not a CA certificate' "$TEST_TMP/api.out" || fail "domain_ca refusal does not say why"
code=$(masa_apij "$ADMIN" POST /owners "{\"name\":\"acme\",\"domain_ca\":$(jstr "$pki/owner-domain-ca.crt"),\"registrar_url\":\"$reg_url/.well-known/brski/requestvoucher\",\"est_url\":\"$est_url\",\"est_pin\":$(jstr "$pki/owner-est.crt")}")
expect 201 "POST /owners acme"
code=$(masa_apij "$ADMIN" POST /owners "{\"name\":\"other\",\"domain_ca\":$(jstr "$pki/cloud-domain-ca.crt")}")
expect 201 "POST /owners other"
code=$(masa_apij "$ADMIN" POST /owners "{\"name\":\"acme\",\"domain_ca\":$(jstr "$pki/owner-domain-ca.crt")}")
expect 409 "a second owner acme"
code=$(masa_apij "$ADMIN" GET /owners/acme "")
expect 200 "GET /owners/acme"
[ "$(jget "$TEST_TMP/api.out" 'd["est_url"]')" = "$est_url" ] || fail "owner est_url not stored"
code=$(masa_apij "$ADMIN" POST /devices '{"serial":"pledge-0001","owner":"acme"}')
expect 201 "POST /devices pledge-0001"
code=$(masa_apij "$ADMIN" POST /devices '{"serial":"pledge-0002","owner":"other","mode":"redirect"}')
expect 201 "POST /devices pledge-0002"
code=$(masa_apij "$ADMIN" POST /devices '{"serial":"unowned-1"}')
expect 201 "a device without an owner"
code=$(masa_apij "$ADMIN" GET /devices/pledge-0001 "")
expect 200 "GET /devices/pledge-0001"
[ "$(jget "$TEST_TMP/api.out" 'd["owner"] + "/" + d["mode"]')" = acme/redirect ] ||
	fail "device shows $(cat "$TEST_TMP/api.out")"
code=$(masa_apij "$ADMIN" POST /devices '{"serial":"x","mode":"teleport"}')
expect 400 "an unknown mode"
code=$(masa_apij "$ADMIN" GET "/devices?owner=acme" "")
expect 200 "GET /devices?owner=acme"
[ "$(jget "$TEST_TMP/api.out" '[i["serial"] for i in d["items"]]')" = '["pledge-0001"]' ] ||
	fail "owner filter: $(cat "$TEST_TMP/api.out")"

# ---- requests -----------------------------------------------------------------
# pvr OUT FMT SERIAL-IN-PVR PROXIMITY-CERT NONCE [KEY CHAIN]: a pledge request
pvr() {
	mkvr "$1" "$2" "${6:-$P/pledge-0001.key}" "${7:-$P/pledge-0001.chain.pem}" \
		--serial "$3" --assertion proximity --proximity-registrar-cert "$4" --nonce "$5" ||
		fail "building a pledge voucher-request"
}
# rvr OUT FMT SERIAL NONCE ISSUER-CERT PVR [KEY CHAIN]: a registrar request
rvr() {
	out=$1 fmt=$2 serial=$3 nonce=$4 iss=$5 prior=$6 key=${7:-$pki/owner-registrar.key}
	chain=${8:-$pki/owner-registrar.chain.pem}
	set -- --serial "$serial" --idevid-issuer "$iss" --prior-signed-voucher-request "$prior"
	[ -n "$nonce" ] && set -- "$@" --nonce "$nonce"
	mkvr "$out" "$fmt" "$key" "$chain" "$@" || fail "building a registrar voucher-request"
}
N=$(openssl rand -hex 16)
R=$TEST_TMP/r
mkdir "$R"
pvr "$R/pvr.cms" cms pledge-0001 "$pki/owner-registrar.crt" "$N"
rvr "$R/rvr.cms" cms pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr.cms"

# last_disposition: the disposition of the newest request-log row
last_disposition() {
	masa_apij "$ADMIN" GET "/requests?limit=1000" "" >/dev/null
	jget "$TEST_TMP/api.out" 'd["items"][-1]["disposition"]'
}

# refused NAME STATUS CHECK ENDPOINT CTYPE FILE [ACCEPT] [CURL...]: the
# request is refused with STATUS, a text/plain body starting "CHECK:", no
# voucher, and the request log says CHECK
refused() {
	name=$1 want=$2 check=$3
	shift 3
	code=$(masa_post "$@")
	[ "$code" = "$want" ] || { cat "$TEST_TMP/resp"; fail "$name: status $code, expected $want"; }
	grep -qi '^content-type: text/plain' "$TEST_TMP/resp.h" || fail "$name: the answer is not text/plain"
	grep -q "^$check: " "$TEST_TMP/resp" || { cat "$TEST_TMP/resp"; fail "$name: body does not name check '$check'"; }
	d=$(last_disposition)
	[ "$d" = "$check" ] || fail "$name: request log says '$d', not '$check'"
}

# ---- positive: CMS, checked by OpenSSL ------------------------------------
code=$(masa_post requestvoucher "$(ctype cms)" "$R/rvr.cms")
expect 200 "CMS voucher-request"
grep -qi '^content-type: application/voucher-cms+json' "$TEST_TMP/resp.h" || fail "CMS voucher media type"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" \
	-out "$TEST_TMP/v.json" 2>"$TEST_TMP/verify.err" || { cat "$TEST_TMP/verify.err"; fail "openssl cms -verify refused the voucher"; }
n64=$("$PYTHON3" -c "import base64,sys; print(base64.b64encode(bytes.fromhex('$N')).decode())")
ca64=$("$OPENSSL" x509 -in "$pki/owner-domain-ca.crt" -outform DER | base64 -w0)
[ "$(jget "$TEST_TMP/v.json" 'd["ietf-voucher:voucher"]["nonce"]')" = "$n64" ] || fail "voucher nonce"
[ "$(jget "$TEST_TMP/v.json" 'd["ietf-voucher:voucher"]["assertion"]')" = proximity ] || fail "voucher assertion"
[ "$(jget "$TEST_TMP/v.json" 'd["ietf-voucher:voucher"]["serial-number"]')" = pledge-0001 ] || fail "voucher serial"
[ "$(jget "$TEST_TMP/v.json" 'd["ietf-voucher:voucher"]["pinned-domain-cert"]')" = "$ca64" ] ||
	fail "pinned-domain-cert is not the owner's domain CA"
[ "$(jget "$TEST_TMP/v.json" '"expires-on" in d["ietf-voucher:voucher"] or "idevid-issuer" in d["ietf-voucher:voucher"]')" = False ] ||
	fail "a nonced voucher for a unique serial has expires-on or idevid-issuer"
"$OPENSSL" cms -cmsout -print -inform DER -in "$TEST_TMP/resp" | grep -q 'id-smime-ct-animaJSONVoucher\|1.2.840.113549.1.9.16.1.40' ||
	fail "voucher eContentType is not id-ct-animaJSONVoucher"
[ "$(last_disposition)" = accepted ] || fail "request log: accepted request not recorded"

# ---- positive: COSE and JWS, checked by vouchersig.py ---------------------
for fmt in cose jws; do
	pvr "$R/pvr.$fmt" $fmt pledge-0001 "$pki/owner-registrar.crt" "$N"
	rvr "$R/rvr.$fmt" $fmt pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr.$fmt"
	code=$(masa_post requestvoucher "$(ctype $fmt)" "$R/rvr.$fmt")
	expect 200 "$fmt voucher-request"
	grep -qi "^content-type: $(ctype $fmt)" "$TEST_TMP/resp.h" || fail "$fmt voucher media type"
	"$PYTHON3" "$top_srcdir/tests/interop/vouchersig.py" $fmt-verify "$TEST_TMP/resp" \
		"$pki/masa-ca.crt" >"$TEST_TMP/v.$fmt" || fail "vouchersig.py refused the $fmt voucher"
done
grep -q 'pledge-0001' "$TEST_TMP/v.jws" || fail "JWS voucher payload lacks the serial"
# a registrar may wrap the pledge's CMS request in JWS: the voucher is CMS
rvr "$R/mixed.jws" jws pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr.cms"
code=$(masa_post requestvoucher "$(ctype jws)" "$R/mixed.jws")
expect 200 "a CMS pledge request inside a JWS registrar request"
grep -qi "^content-type: $(ctype cms)" "$TEST_TMP/resp.h" || fail "mixed: the voucher is not in the pledge's format"
# Accept asks for what the pledge processes; a cms pledge gets no COSE
refused "Accept for another format" 406 accept requestvoucher "$(ctype cms)" "$R/rvr.cms" "$(ctype cose)"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/rvr.cms" "text/plain, $(ctype cms);q=0.9")
expect 200 "Accept listing the pledge's format"

# ---- a request made entirely with openssl cms -sign --------------------------
pj=$TEST_TMP/o-pvr.json
printf '{"ietf-voucher-request:voucher":{"assertion":"proximity","nonce":"%s","serial-number":"pledge-0001","created-on":"2026-01-01T00:00:00Z","proximity-registrar-cert":"%s"}}' \
	"$n64" "$("$OPENSSL" x509 -in "$pki/owner-registrar.crt" -outform DER | base64 -w0)" >"$pj"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -econtent_type 1.2.840.113549.1.9.16.1.40 -md sha256 \
	-in "$pj" -signer "$P/pledge-0001.crt" -inkey "$P/pledge-0001.key" -out "$R/o-pvr.cms" || fail "openssl pledge request"
iss64=$("$PYTHON3" -c "
from cryptography import x509
import base64
c = x509.load_pem_x509_certificate(open('$P/pledge-0001.crt','rb').read())
aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.public_bytes()
print(base64.b64encode(bytes([4, len(aki)]) + aki).decode())")
printf '{"ietf-voucher-request:voucher":{"assertion":"proximity","nonce":"%s","serial-number":"pledge-0001","created-on":"2026-01-01T00:00:00Z","idevid-issuer":"%s","prior-signed-voucher-request":"%s"}}' \
	"$n64" "$iss64" "$(base64 -w0 "$R/o-pvr.cms")" >"$TEST_TMP/o-rvr.json"
"$OPENSSL" x509 -in "$pki/owner-domain-ca.crt" >"$TEST_TMP/o-chain.pem"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -econtent_type 1.2.840.113549.1.9.16.1.40 -md sha256 \
	-in "$TEST_TMP/o-rvr.json" -signer "$pki/owner-registrar.crt" -inkey "$pki/owner-registrar.key" \
	-certfile "$TEST_TMP/o-chain.pem" -out "$R/o-rvr.cms" || fail "openssl registrar request"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/o-rvr.cms")
expect 200 "a request made with openssl cms -sign"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out /dev/null 2>/dev/null ||
	fail "voucher for the OpenSSL request"

# ---- the negative matrix: each check failing alone -------------------------
printf 'not a CMS object' >"$R/garbage"
refused "malformed body" 400 malformed requestvoucher "$(ctype cms)" "$R/garbage"
refused "unknown Content-Type" 415 media-type requestvoucher text/plain "$R/rvr.cms"
refused "unknown Accept" 415 accept requestvoucher "$(ctype cms)" "$R/rvr.cms" text/html
flip_last_byte "$R/rvr.cms" "$R/badsig.cms"
refused "registrar signature" 403 signature requestvoucher "$(ctype cms)" "$R/badsig.cms"

rvr "$R/noeku.cms" cms pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr.cms" "$pki/owner-est.key" "$pki/owner-est.chain.pem"
refused "signer without cmcRA" 403 registrar-eku requestvoucher "$(ctype cms)" "$R/noeku.cms"

"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/serialNumber=pledge-0001/CN=not from the manufacturer" \
	-keyout "$R/fake.key" -out "$R/fake.crt" 2>/dev/null || fail "fake IDevID"
pvr "$R/fakepvr.cms" cms pledge-0001 "$pki/owner-registrar.crt" "$N" "$R/fake.key" "$R/fake.crt"
rvr "$R/fake.cms" cms pledge-0001 "$N" "$R/fake.crt" "$R/fakepvr.cms"
refused "pledge not from the manufacturer" 403 pledge-signature requestvoucher "$(ctype cms)" "$R/fake.cms"

rvr "$R/serial.cms" cms pledge-0002 "$N" "$P/pledge-0001.crt" "$R/pvr.cms"
refused "registrar serial != IDevID" 403 serial-number requestvoucher "$(ctype cms)" "$R/serial.cms"
pvr "$R/pvr-serial.cms" cms pledge-9999 "$pki/owner-registrar.crt" "$N"
rvr "$R/pserial.cms" cms pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr-serial.cms"
refused "pledge serial != IDevID" 403 serial-number requestvoucher "$(ctype cms)" "$R/pserial.cms"

rvr "$R/issuer.cms" cms pledge-0001 "$N" "$pki/owner-registrar.crt" "$R/pvr.cms"
refused "idevid-issuer" 403 idevid-issuer requestvoucher "$(ctype cms)" "$R/issuer.cms"

pvr "$R/pvr-prox.cms" cms pledge-0001 "$pki/cloud-registrar.crt" "$N"
rvr "$R/prox.cms" cms pledge-0001 "$N" "$P/pledge-0001.crt" "$R/pvr-prox.cms"
refused "proximity-registrar-cert not in the chain" 403 proximity requestvoucher "$(ctype cms)" "$R/prox.cms"

rvr "$R/nonce.cms" cms pledge-0001 "$(openssl rand -hex 16)" "$P/pledge-0001.crt" "$R/pvr.cms"
refused "nonces differ" 403 nonce requestvoucher "$(ctype cms)" "$R/nonce.cms"

mkvr "$R/pvr3.cms" cms "$P/pledge-0003.key" "$P/pledge-0003.chain.pem" --serial pledge-0003 \
	--assertion proximity --proximity-registrar-cert "$pki/owner-registrar.crt" --nonce "$N" || fail pvr3
rvr "$R/unknown.cms" cms pledge-0003 "$N" "$P/pledge-0003.crt" "$R/pvr3.cms"
refused "unknown device" 404 unknown-device requestvoucher "$(ctype cms)" "$R/unknown.cms"

mkvr "$R/pvr2.cms" cms "$P/pledge-0002.key" "$P/pledge-0002.chain.pem" --serial pledge-0002 \
	--assertion proximity --proximity-registrar-cert "$pki/owner-registrar.crt" --nonce "$N" || fail pvr2
rvr "$R/notowner.cms" cms pledge-0002 "$N" "$P/pledge-0002.crt" "$R/pvr2.cms"
refused "registrar of another owner" 403 ownership requestvoucher "$(ctype cms)" "$R/notowner.cms"

# revoked registrars: the owner's deny list, then a CRL from the owner
code=$(masa_apij "$ADMIN" POST /owners/acme/denied "{\"cert\":$(jstr "$pki/owner-registrar.crt"),\"reason\":\"key lost\"}")
expect 201 "deny a registrar certificate"
sha=$(jget "$TEST_TMP/api.out" 'd["sha256"]')
refused "denied registrar" 403 revoked requestvoucher "$(ctype cms)" "$R/rvr.cms"
code=$(masa_apij "$ADMIN" DELETE "/owners/acme/denied/$sha" "")
expect 200 "lift the denial"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/rvr.cms")
expect 200 "after lifting the denial"

"$PYTHON3" - "$pki" "$TEST_TMP/owner.crl" <<'EOF' || fail "making a CRL"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
d = sys.argv[1]
ca = x509.load_pem_x509_certificate(open(d + "/owner-domain-ca.crt", "rb").read())
key = serialization.load_pem_private_key(open(d + "/owner-domain-ca.key", "rb").read(), None)
reg = x509.load_pem_x509_certificate(open(d + "/owner-registrar.crt", "rb").read())
now = datetime.datetime.now(datetime.timezone.utc)
rev = x509.RevokedCertificateBuilder().serial_number(reg.serial_number).revocation_date(now).build()
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
       .next_update(now + datetime.timedelta(days=1)).add_revoked_certificate(rev)
       .sign(key, hashes.SHA256()))
open(sys.argv[2], "wb").write(crl.public_bytes(serialization.Encoding.PEM))
EOF
code=$(masa_apij "$ADMIN" POST /owners/other/crls "{\"crl\":$(jstr "$TEST_TMP/owner.crl")}")
expect 400 "a CRL not signed by the owner's CA"
code=$(masa_apij "$ADMIN" POST /owners/acme/crls "{\"crl\":$(jstr "$TEST_TMP/owner.crl")}")
expect 201 "upload a CRL"
crl_id=$(jget "$TEST_TMP/api.out" 'd["id"]')
refused "registrar revoked by CRL" 403 revoked requestvoucher "$(ctype cms)" "$R/rvr.cms"
code=$(masa_apij "$ADMIN" DELETE "/owners/acme/crls/$crl_id" "")
expect 200 "remove the CRL"

# ---- nonceless: only with the registrar's TLS client certificate ----------
mkvr "$R/nl.cms" cms "$pki/owner-registrar.key" "$pki/owner-registrar.chain.pem" --serial pledge-0001 || fail nonceless
refused "nonceless without a client certificate" 401 nonceless requestvoucher "$(ctype cms)" "$R/nl.cms"
refused "nonceless with another client certificate" 403 nonceless requestvoucher "$(ctype cms)" "$R/nl.cms" "" \
	--cert "$pki/cloud-registrar.chain.pem" --key "$pki/cloud-registrar.key"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/nl.cms" "" --cert "$pki/owner-registrar.chain.pem" --key "$pki/owner-registrar.key")
expect 200 "nonceless with the registrar's client certificate"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/nl.json" 2>/dev/null ||
	fail "nonceless voucher does not verify"
[ "$(jget "$TEST_TMP/nl.json" '"expires-on" in d["ietf-voucher:voucher"] and "nonce" not in d["ietf-voucher:voucher"]')" = True ] ||
	fail "nonceless voucher: $(cat "$TEST_TMP/nl.json")"
# through the admin API
code=$(masa_apij "$ADMIN" POST /vouchers '{"serial":"pledge-0001","format":"cms"}')
expect 201 "nonceless voucher through the admin API"
jget "$TEST_TMP/api.out" 'd["voucher"]' | base64 -d >"$TEST_TMP/admin-v.cms"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/admin-v.cms" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/av.json" 2>/dev/null ||
	fail "admin nonceless voucher does not verify"
[ "$(jget "$TEST_TMP/av.json" 'd["ietf-voucher:voucher"]["assertion"]')" = verified ] || fail "admin voucher assertion"

# ---- the cloud registrar: est-domain and enroll-here -----------------------
pvr "$R/cpvr.cms" cms pledge-0001 "$pki/cloud-registrar.crt" "$N"
rvr "$R/cloud.cms" cms pledge-0001 "$N" "$P/pledge-0001.crt" "$R/cpvr.cms" "$pki/cloud-registrar.key" "$pki/cloud-registrar.chain.pem"
refused "cloud registrar for a redirect device" 403 mode requestvoucher "$(ctype cms)" "$R/cloud.cms"
code=$(masa_apij "$ADMIN" PATCH /devices/pledge-0001 '{"mode":"est-domain","additional_configuration_url":"https://config.example.com/x"}')
expect 200 "PATCH mode est-domain"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/cloud.cms")
expect 200 "est-domain voucher"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/ed.json" 2>/dev/null || fail "est-domain voucher"
pin64=$("$OPENSSL" x509 -in "$pki/owner-est.crt" -outform DER | base64 -w0)
[ "$(jget "$TEST_TMP/ed.json" 'd["ietf-voucher:voucher"]["pinned-domain-cert"]')" = "$pin64" ] || fail "est-domain pin"
[ "$(jget "$TEST_TMP/ed.json" 'd["ietf-voucher:voucher"]["est-domain"]')" = "$est_url" ] || fail "est-domain"
[ "$(jget "$TEST_TMP/ed.json" 'd["ietf-voucher:voucher"]["additional-configuration-url"]')" = https://config.example.com/x ] ||
	fail "additional-configuration-url"
code=$(masa_apij "$ADMIN" PATCH /owners/acme '{"est_pin":null}')
expect 200 "clear est_pin"
refused "est-domain without an EST pin" 403 mode requestvoucher "$(ctype cms)" "$R/cloud.cms"
grep -q 'est_pin' "$TEST_TMP/resp" || fail "the mode error does not name est_pin"
code=$(masa_apij "$ADMIN" PATCH /devices/pledge-0001 '{"mode":"enroll-here","additional_configuration_url":null}')
expect 200 "PATCH mode enroll-here"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/cloud.cms")
expect 200 "enroll-here voucher"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/eh.json" 2>/dev/null || fail "enroll-here voucher"
cdca64=$("$OPENSSL" x509 -in "$pki/cloud-domain-ca.crt" -outform DER | base64 -w0)
[ "$(jget "$TEST_TMP/eh.json" 'd["ietf-voucher:voucher"]["pinned-domain-cert"]')" = "$cdca64" ] || fail "enroll-here pin"
[ "$(jget "$TEST_TMP/eh.json" 'd["ietf-voucher:voucher"]["est-domain"]')" = "$enroll_est" ] || fail "enroll-here est-domain"
code=$(masa_apij "$ADMIN" PATCH /devices/pledge-0001 '{"mode":"redirect"}')
expect 200 "back to redirect"

# ---- requestauditlog -----------------------------------------------------------
code=$(masa_post requestauditlog "$(ctype cms)" "$R/rvr.cms" "$(ctype cose)")
expect 200 "requestauditlog (whatever Accept says)"
grep -qi '^content-type: application/json' "$TEST_TMP/resp.h" || fail "audit log media type"
cp "$TEST_TMP/resp" "$TEST_TMP/audit.json"
[ "$(jget "$TEST_TMP/audit.json" 'd["version"]')" = 1 ] || fail "audit log version"
[ "$(jget "$TEST_TMP/audit.json" 'sorted(d["truncation"].keys())')" = '["nonced duplicates", "nonceless duplicates"]' ] ||
	fail "audit log truncation: $(cat "$TEST_TMP/audit.json")"
[ "$(jget "$TEST_TMP/audit.json" 'all(sorted(e.keys()) == ["assertion","date","domainID","nonce","truncated"] for e in d["events"])')" = True ] ||
	fail "audit log event members: $(cat "$TEST_TMP/audit.json")"
ski64=$("$PYTHON3" -c "
from cryptography import x509
import base64
c = x509.load_pem_x509_certificate(open('$pki/owner-domain-ca.crt','rb').read())
print(base64.b64encode(c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest).decode())")
[ "$(jget "$TEST_TMP/audit.json" '[e for e in d["events"] if e["domainID"] == "'"$ski64"'" and e["nonce"] is None][0]["assertion"]')" = verified ] ||
	fail "no nonceless event for the owner's domainID: $(cat "$TEST_TMP/audit.json")"
[ "$(jget "$TEST_TMP/audit.json" '[e for e in d["events"] if e["domainID"] == "'"$ski64"'" and e["nonce"] is not None][0]["truncated"] > 0')" = True ] ||
	fail "repeated nonced vouchers were not abridged"
refused "audit log for a device of another owner" 404 ownership requestauditlog "$(ctype cms)" "$R/notowner.cms"
refused "audit log of an unknown device" 404 unknown-device requestauditlog "$(ctype cms)" "$R/unknown.cms"

# ---- a serial that is not unique: the record is keyed by idevid-issuer too -----
iss3=$("$PYTHON3" -c "
from cryptography import x509
import base64
c = x509.load_pem_x509_certificate(open('$P/pledge-0003.crt','rb').read())
aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.public_bytes()
print(base64.b64encode(bytes([4, len(aki)]) + aki).decode())")
code=$(masa_apij "$ADMIN" POST /devices "{\"serial\":\"pledge-0003\",\"owner\":\"acme\",\"idevid_issuer\":\"$iss3\"}")
expect 201 "a device keyed by serial and idevid-issuer"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/unknown.cms")
expect 200 "voucher for an issuer-keyed device"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/iss.json" 2>/dev/null ||
	fail "issuer-keyed voucher"
[ "$(jget "$TEST_TMP/iss.json" 'd["ietf-voucher:voucher"]["idevid-issuer"]')" = "$iss3" ] ||
	fail "voucher for an issuer-keyed device lacks idevid-issuer: $(cat "$TEST_TMP/iss.json")"

# ---- tokens: 401, 403, owner-scoped ---------------------------------------
code=$(masa_apij "$ADMIN" POST /tokens '{"name":"reader","scope":"read"}')
expect 201 "read token"
READ=$(jget "$TEST_TMP/api.out" 'd["token"]')
code=$(masa_apij "$READ" POST /devices '{"serial":"nope"}')
expect 403 "a read token writing"
code=$(masa_apij "$ADMIN" POST /tokens '{"name":"acme-var","scope":"write","owner":"acme"}')
expect 201 "owner-scoped token"
OWN=$(jget "$TEST_TMP/api.out" 'd["token"]')
code=$(masa_apij "$OWN" GET /devices "")
expect 200 "owner lists devices"
[ "$(jget "$TEST_TMP/api.out" 'sorted(i["serial"] for i in d["items"])')" = '["pledge-0001", "pledge-0003"]' ] ||
	fail "an owner sees other devices: $(cat "$TEST_TMP/api.out")"
code=$(masa_apij "$OWN" GET /devices/pledge-0002 "")
expect 404 "an owner reading another owner's device"
code=$(masa_apij "$OWN" GET /owners/other "")
expect 404 "an owner reading another owner"
code=$(masa_apij "$OWN" GET /owners "")
expect 403 "an owner listing owners"
code=$(masa_apij "$OWN" PATCH /devices/pledge-0001 '{"mode":"est-domain"}')
expect 200 "an owner sets its device's mode"
code=$(masa_apij "$OWN" PATCH /devices/pledge-0002 '{"mode":"est-domain"}')
expect 404 "an owner sets another owner's device's mode"
code=$(masa_apij "$OWN" PATCH /owners/acme "{\"est_pin\":$(jstr "$pki/owner-domain-ca.crt"),\"registrar_url\":\"https://new.example.com/.well-known/brski/requestvoucher\"}")
expect 200 "an owner rolls its EST pin over"
code=$(masa_apij "$OWN" PATCH /owners/acme "{\"domain_ca\":$(jstr "$pki/cloud-domain-ca.crt")}")
expect 403 "an owner changing its domain CA"
code=$(masa_apij "$OWN" POST /devices/pledge-0001/transfer '{"owner":"other"}')
expect 403 "an owner transferring a device"
code=$(masa_apij "$OWN" GET /devices/pledge-0001/audit "")
expect 200 "an owner reads its audit log"
[ "$(jget "$TEST_TMP/api.out" 'len(d["items"]) > 0 and all(i["owner"] == "acme" for i in d["items"])')" = True ] ||
	fail "owner audit log: $(cat "$TEST_TMP/api.out")"
code=$(masa_apij "$OWN" GET /devices/pledge-0001/requests "")
expect 403 "an owner reading the request log"
code=$(masa_apij "$ADMIN" GET /devices/pledge-0001/requests "")
expect 200 "the request log of a device"
[ "$(jget "$TEST_TMP/api.out" 'sorted(set(i["disposition"] for i in d["items"]))' | grep -c nonce)" = 1 ] ||
	fail "device request log lacks the nonce refusal"

# ---- transfer keeps the history; the past owner still reads the log ----------
code=$(masa_apij "$ADMIN" POST /devices/pledge-0001/transfer '{"owner":"other"}')
expect 200 "transfer pledge-0001 to other"
refused "the previous owner asks for a voucher" 403 ownership requestvoucher "$(ctype cms)" "$R/rvr.cms"
code=$(masa_post requestauditlog "$(ctype cms)" "$R/rvr.cms")
expect 200 "the previous owner reads the audit log"
[ "$(jget "$TEST_TMP/resp" 'len(d["events"]) >= 2')" = True ] || fail "history lost in the transfer"
code=$(masa_apij "$ADMIN" POST /devices/pledge-0001/transfer '{"owner":"acme"}')
expect 200 "transfer back"

# ---- bulk import: all or nothing, per-row errors -------------------------------
code=$(masa_apij "$ADMIN" POST /devices/import '{"devices":[{"serial":"bulk-1","owner":"acme"},{"serial":"bulk-2","owner":"nobody"},{"serial":"bulk-3","mode":"bogus"}]}')
expect 400 "an import with bad rows"
[ "$(jget "$TEST_TMP/api.out" '[e["row"] for e in d["errors"]]')" = '[2, 3]' ] ||
	fail "import errors: $(cat "$TEST_TMP/api.out")"
code=$(masa_apij "$ADMIN" GET /devices/bulk-1 "")
expect 404 "a refused import stored a row"
code=$(masa_apij "$ADMIN" POST /devices/import '{"devices":[{"serial":"bulk-1","owner":"acme"},{"serial":"bulk-2"}]}')
expect 201 "a JSON import"
[ "$(jget "$TEST_TMP/api.out" 'd["imported"]')" = 2 ] || fail "JSON import count"
code=$(masa_apij "$ADMIN" POST /devices/import '{"csv":"serial,owner,mode\ncsv-1,acme,est-domain\n\"csv-2\",other,\n"}')
expect 201 "a CSV import"
code=$(masa_apij "$ADMIN" GET /devices/csv-1 "")
expect 200 "GET an imported device"
[ "$(jget "$TEST_TMP/api.out" 'd["mode"]')" = est-domain ] || fail "CSV mode"
code=$(masa_apij "$ADMIN" POST /devices/import '{"csv":"serial,owner\ncsv-3,acme\ncsv-1,acme\n"}')
expect 400 "a CSV import with a duplicate"
[ "$(jget "$TEST_TMP/api.out" 'd["errors"][0]["row"]')" = 2 ] || fail "CSV error row"
code=$(masa_apij "$ADMIN" GET /devices/csv-3 "")
expect 404 "a refused CSV import stored a row"

# ---- owners: delete ------------------------------------------------------------
code=$(masa_apij "$ADMIN" DELETE /owners/acme "")
expect 409 "deleting an owner with devices"
code=$(masa_apij "$ADMIN" GET /openapi.json "")
expect 200 "OpenAPI document"
grep -q '/admin/v1/devices/import' "$TEST_TMP/api.out" || fail "OpenAPI lacks the MASA routes"

# ---- brski admin covers the MASA's routes -----------------------------------
adm() {
	"$BRSKI" admin "$@" --pki "$pki" >"$TEST_TMP/adm.out" 2>"$TEST_TMP/adm.err"
}
adm owner create cli-owner --domain-ca "$pki/owner-domain-ca.crt" --est-url https://est.example.com ||
	{ cat "$TEST_TMP/adm.err"; fail "brski admin owner create"; }
adm owner update cli-owner --registrar-url https://reg.example.com/.well-known/brski/requestvoucher \
	--est-pin "$pki/owner-est.crt" || fail "brski admin owner update"
adm owner get cli-owner || fail "brski admin owner get"
[ "$(jget "$TEST_TMP/adm.out" 'd["registrar_url"]')" = https://reg.example.com/.well-known/brski/requestvoucher ] ||
	fail "owner update did not stick"
adm owner list || fail "brski admin owner list"
[ "$(jget "$TEST_TMP/adm.out" 'len(d)')" = 3 ] || fail "owner list: $(cat "$TEST_TMP/adm.out")"
adm device create cli-dev --owner cli-owner --mode est-domain || fail "brski admin device create"
adm device update cli-dev --mode enroll-here --additional-configuration-url https://c.example.com/ ||
	fail "brski admin device update"
adm device get cli-dev || fail "brski admin device get"
[ "$(jget "$TEST_TMP/adm.out" 'd["mode"]')" = enroll-here ] || fail "device update did not stick"
printf 'serial,owner,mode\ncli-2,cli-owner,redirect\n' >"$TEST_TMP/devs.csv"
adm device import "$TEST_TMP/devs.csv" || { cat "$TEST_TMP/adm.err"; fail "brski admin device import (CSV)"; }
printf '[{"serial":"cli-3","owner":"cli-owner"}]' >"$TEST_TMP/devs.json"
adm device import "$TEST_TMP/devs.json" || { cat "$TEST_TMP/adm.err"; fail "brski admin device import (JSON)"; }
adm device list --owner cli-owner || fail "brski admin device list"
[ "$(jget "$TEST_TMP/adm.out" 'sorted(i["serial"] for i in d)')" = '["cli-2", "cli-3", "cli-dev"]' ] ||
	fail "device list: $(cat "$TEST_TMP/adm.out")"
adm device list --mode enroll-here || fail "brski admin device list --mode"
[ "$(jget "$TEST_TMP/adm.out" '[i["serial"] for i in d]')" = '["cli-dev"]' ] || fail "device list --mode"
adm device create bad-one --mode teleport && fail "brski admin accepted a bad mode"
grep -q 'HTTP 400' "$TEST_TMP/adm.err" || fail "a refusal does not show the status"
adm device transfer cli-dev --owner none || fail "brski admin device transfer"
adm owner deny cli-owner --cert "$pki/owner-registrar.crt" --reason test || fail "brski admin owner deny"
adm owner undeny cli-owner "$(jget "$TEST_TMP/adm.out" 'd["sha256"]')" || fail "brski admin owner undeny"
adm owner crl-add acme --crl "$TEST_TMP/owner.crl" || fail "brski admin owner crl-add"
id=$(jget "$TEST_TMP/adm.out" 'd["id"]')
adm owner crl-list acme || fail "brski admin owner crl-list"
[ "$(jget "$TEST_TMP/adm.out" '[c["id"] for c in d]')" = "[$id]" ] || fail "crl-list: $(cat "$TEST_TMP/adm.out")"
adm owner crl-delete acme "$id" || fail "brski admin owner crl-delete"
adm voucher issue pledge-0001 --format cms --out "$TEST_TMP/cli-v.cms" || fail "brski admin voucher issue"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/cli-v.cms" -CAfile "$pki/masa-ca.crt" -out /dev/null 2>/dev/null ||
	fail "the voucher of brski admin voucher issue"
adm device audit pledge-0001 || fail "brski admin device audit"
[ "$(jget "$TEST_TMP/adm.out" 'len(d) > 3')" = True ] || fail "device audit"
adm device requests pledge-0001 || fail "brski admin device requests"
adm requests || fail "brski admin requests"
adm owner delete cli-owner && fail "deleted an owner with devices"
for d in cli-dev cli-2 cli-3; do
	adm device delete "$d" || fail "brski admin device delete $d"
done
adm owner delete cli-owner || fail "brski admin owner delete"

# ---- SIGHUP reloads the signing key ----------------------------------------------
kill -HUP "$(daemon_pid masad)"
tries=0
until grep -q 'reloaded the voucher-signing key' "$TEST_TMP/masad.log"; do
	tries=$((tries + 1))
	[ "$tries" -lt 100 ] || fail "no reload after SIGHUP"
	sleep 0.1
done
code=$(masa_post requestvoucher "$(ctype cms)" "$R/rvr.cms")
expect 200 "a voucher after SIGHUP"

stop_daemon masad || fail "masad exited $? after SIGTERM"

# ---- [masa] pinning = registrar: the registrar's own certificate -------------
sed -i 's/^pinning = .*/pinning = registrar/' "$conf"
start_daemon masad2 "$MASAD" "$conf" || fail "masad (pinning = registrar) did not start"
code=$(masa_post requestvoucher "$(ctype cms)" "$R/rvr.cms")
expect 200 "voucher with pinning = registrar"
"$OPENSSL" cms -verify -binary -inform DER -in "$TEST_TMP/resp" -CAfile "$pki/masa-ca.crt" -out "$TEST_TMP/pr.json" 2>/dev/null ||
	fail "pinning = registrar voucher"
reg64=$("$OPENSSL" x509 -in "$pki/owner-registrar.crt" -outform DER | base64 -w0)
[ "$(jget "$TEST_TMP/pr.json" 'd["ietf-voucher:voucher"]["pinned-domain-cert"]')" = "$reg64" ] ||
	fail "pinning = registrar did not pin the registrar certificate"
stop_daemon masad2 || fail "masad (pinning = registrar) exited $? after SIGTERM"
exit 0
