#!/bin/sh
# CMS interop with OpenSSL, both ways, and the refusals; the X.509 helpers
# on certificates OpenSSL makes; a signer whose key is on a PKCS#11 token
# (SoftHSM2). Exit 0 pass, 1 fail, 99 hard error.
set -u
: "${top_builddir:?}" "${OPENSSL:=openssl}"
tool="$top_builddir/tests/integration/cms-tool"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cms-openssl.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $*"; }
bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
hard() { echo "ERROR: $*"; exit 99; }

# ---- a PKI made by OpenSSL --------------------------------------------------
cat > ext.cnf <<'CNF'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[registrar]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,1.3.6.1.5.5.7.3.28,serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[idevid]
basicConstraints = CA:FALSE
1.3.6.1.5.5.7.1.32 = ASN1:IA5STRING:masa.example:9443
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[idevid_noaki]
basicConstraints = CA:FALSE
subjectKeyIdentifier = none
authorityKeyIdentifier = none
1.3.6.1.5.5.7.1.32 = ASN1:IA5STRING:https://masa.example/custom
[ca_default]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CNF
: > index.txt
echo 1000 > serial

newkey() { "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null || hard "genpkey $1"; }
newkey root.key
"$OPENSSL" req -x509 -new -key root.key -subj "/CN=Test Root" -days 365 -sha256 \
	-extensions ca -config ext.cnf -out root.pem 2>/dev/null || hard "root"
newkey other.key
"$OPENSSL" req -x509 -new -key other.key -subj "/CN=Other Root" -days 365 -sha256 \
	-extensions ca -config ext.cnf -out other.pem 2>/dev/null || hard "other root"
# issue NAME SUBJECT EXTSECTION [ISSUER]
issue() {
	newkey "$1.key"
	"$OPENSSL" req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null || hard "csr $1"
	"$OPENSSL" x509 -req -in "$1.csr" -CA "${4:-root}.pem" -CAkey "${4:-root}.key" \
		-CAcreateserial -days 30 -sha256 -extfile ext.cnf -extensions "$3" \
		-out "$1.pem" 2>/dev/null || hard "cert $1"
}
issue reg "/CN=registrar" registrar
issue idevid "/CN=pledge/serialNumber=00-D0-E5-F2-00-02" idevid
issue noaki "/CN=pledge2/serialNumber=SN-2" idevid_noaki
issue stranger "/CN=stranger" registrar other
# An expired registrar: openssl ca is the tool that takes explicit dates.
newkey old.key
"$OPENSSL" req -new -key old.key -subj "/CN=expired registrar" -out old.csr 2>/dev/null || hard "old csr"
"$OPENSSL" ca -batch -config ext.cnf -name ca_default -cert root.pem -keyfile root.key \
	-startdate 20200101000000Z -enddate 20200201000000Z -extfile ext.cnf -extensions registrar \
	-in old.csr -out old.pem 2>/dev/null || hard "expired cert"

printf '{"ietf-voucher-request:voucher":{"serial-number":"00-D0-E5-F2-00-02","nonce":"abc"}}' > payload.json

# verify_expect NAME FILE ANCHORS WANT(ok|err=N) [id_data]
verify_expect() {
	out=$("$tool" verify "$2" "$3" got.json 2>verify.err)
	case "$4" in
	ok)
		if [ $? -ne 0 ] && ! echo "$out" | grep -q '^id_data'; then
			bad "$1: refused: $out $(cat verify.err)"; return
		fi
		if ! cmp -s got.json payload.json; then bad "$1: payload differs"; return; fi
		if [ -n "${5:-}" ] && ! echo "$out" | grep -q "^id_data=$5\$"; then
			bad "$1: expected id_data=$5, got: $out"; return
		fi
		ok "$1" ;;
	*)
		if echo "$out" | grep -q "^$4\$"; then ok "$1"; else bad "$1: expected $4, got: $out $(cat verify.err)"; fi ;;
	esac
}

# ---- we sign, OpenSSL verifies ------------------------------------------------
if "$tool" sign reg.key reg.pem payload.json ours.cms; then
	if "$OPENSSL" cms -verify -binary -inform DER -in ours.cms -CAfile root.pem -purpose any \
		-out ossl-out.json 2>ossl.err && cmp -s ossl-out.json payload.json; then
		ok "openssl cms -verify accepts our CMS"
	else
		bad "openssl cms -verify refused our CMS: $(cat ossl.err)"
	fi
	"$OPENSSL" cms -cmsout -print -inform DER -in ours.cms > ours.txt 2>&1 || hard "cmsout -print"
	if grep -Eq 'eContentType: .*(1\.2\.840\.113549\.1\.9\.16\.1\.40|id-ct-animaJSONVoucher)' ours.txt; then
		ok "eContentType is id-ct-animaJSONVoucher"
	else
		bad "eContentType: $(grep eContentType ours.txt)"
	fi
	grep -q 'version: 3' ours.txt && ok "SignedData v3" || bad "SignedData version: $(grep -m1 version ours.txt)"
	for a in contentType messageDigest signingTime; do
		grep -q "object: $a" ours.txt && ok "signed attribute $a" || bad "no signed attribute $a"
	done
	verify_expect "we verify our own CMS" ours.cms root.pem ok 0
	verify_expect "our CMS against another root" ours.cms other.pem "err=-1011"
else
	bad "signing with reg.key failed"
fi

# ---- OpenSSL signs, we verify -----------------------------------------------
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-in payload.json -out iddata.cms 2>/dev/null || hard "openssl cms -sign"
verify_expect "openssl id-data CMS" iddata.cms root.pem ok 1
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-econtent_type 1.2.840.113549.1.9.16.1.40 -in payload.json -out voucher.cms 2>/dev/null ||
	hard "openssl cms -sign -econtent_type"
verify_expect "openssl id-ct-animaJSONVoucher CMS" voucher.cms root.pem ok 0
verify_expect "openssl CMS without a trust list" voucher.cms - ok 0

# tampered payload: the JSON sits verbatim in the DER; change one letter
"$PYTHON3" - <<'PY' || hard "tamper"
d = open("voucher.cms", "rb").read()
i = d.index(b"00-D0-E5-F2-00-02")
open("tampered.cms", "wb").write(d[:i] + b"1" + d[i + 1:])
open("trailing.cms", "wb").write(d + b"\0")
PY
verify_expect "tampered payload" tampered.cms root.pem "err=-1010"
verify_expect "trailing byte" trailing.cms root.pem "err=-1001"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer stranger.pem \
	-inkey stranger.key -econtent_type 1.2.840.113549.1.9.16.1.40 -in payload.json \
	-out stranger.cms 2>/dev/null || hard "stranger sign"
verify_expect "signer from another PKI" stranger.cms root.pem "err=-1011"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer old.pem -inkey old.key \
	-econtent_type 1.2.840.113549.1.9.16.1.40 -in payload.json -out old.cms 2>/dev/null ||
	hard "expired sign"
verify_expect "expired signer" old.cms root.pem "err=-1012"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-noattr -in payload.json -out noattr.cms 2>/dev/null || hard "noattr sign"
verify_expect "no signed attributes" noattr.cms root.pem "err=-1020"

# other shapes OpenSSL can make: SKI as signer identifier, two signers,
# detached content
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-keyid -econtent_type 1.2.840.113549.1.9.16.1.40 -in payload.json -out keyid.cms 2>/dev/null ||
	hard "keyid sign"
verify_expect "signer identified by SKI" keyid.cms root.pem ok 0
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-signer stranger.pem -inkey stranger.key -in payload.json -out two.cms 2>/dev/null ||
	hard "two signers"
verify_expect "two signers" two.cms root.pem "err=-1000"
"$OPENSSL" cms -sign -binary -outform DER -md sha256 -signer reg.pem -inkey reg.key \
	-in payload.json -out detached.cms 2>/dev/null || hard "detached sign"
verify_expect "detached content" detached.cms root.pem "err=-1008"

# every key type we sign with, both ways. Not Ed25519: OpenSSL 3.0's CMS
# refuses to sign or verify it ("eddsa_digest_signverify_init: invalid
# digest"); tests/unit/voucher-lib/test_cms.c covers our Ed25519 CMS.
for kt in p384 rsa; do
	case $kt in
	p384) "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$kt.key" 2>/dev/null ;;
	rsa) "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$kt.key" 2>/dev/null ;;
	esac || hard "genpkey $kt"
	"$OPENSSL" req -new -key "$kt.key" -subj "/CN=registrar $kt" -out "$kt.csr" 2>/dev/null || hard "csr $kt"
	"$OPENSSL" x509 -req -in "$kt.csr" -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
		-sha256 -extfile ext.cnf -extensions registrar -out "$kt.pem" 2>/dev/null || hard "cert $kt"
	if "$tool" sign "$kt.key" "$kt.pem" payload.json "ours-$kt.cms" 2>sign.err; then
		"$OPENSSL" cms -verify -binary -inform DER -in "ours-$kt.cms" -CAfile root.pem \
			-purpose any -out ossl-$kt.json 2>ossl.err && cmp -s "ossl-$kt.json" payload.json &&
			ok "openssl verifies our $kt CMS" || bad "openssl refused our $kt CMS: $(cat ossl.err)"
	else
		bad "signing with $kt: $(cat sign.err)"
	fi
	"$OPENSSL" cms -sign -binary -nodetach -outform DER -signer "$kt.pem" -inkey "$kt.key" \
		-econtent_type 1.2.840.113549.1.9.16.1.40 -in payload.json -out "ossl-$kt.cms" \
		2>/dev/null || hard "openssl sign $kt"
	verify_expect "openssl $kt CMS" "ossl-$kt.cms" root.pem ok 0
done

# ---- X.509 helpers on OpenSSL certificates ----------------------------------
"$tool" x509 idevid.pem > idevid.txt || bad "x509 idevid"
grep -qx 'serial-number=00-D0-E5-F2-00-02' idevid.txt && ok "serial number" || bad "serial: $(cat idevid.txt)"
grep -qx 'masa-url=https://masa.example:9443/.well-known/brski' idevid.txt && ok "bare MASA authority" ||
	bad "masa url: $(cat idevid.txt)"
grep -qx 'cmcra=no' idevid.txt && ok "IDevID is no registrar" || bad "idevid cmcra"
# idevid-issuer = 04 18 30 16 80 14 <the root's SKI>
rootski=$("$OPENSSL" x509 -in root.pem -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :' | tr 'A-F' 'a-f')
grep -qx "idevid-issuer=041830168014$rootski" idevid.txt && ok "idevid-issuer from the AKI" ||
	bad "idevid-issuer: $(grep idevid-issuer idevid.txt) want 041830168014$rootski"
ownski=$("$OPENSSL" x509 -in idevid.pem -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :' | tr 'A-F' 'a-f')
grep -qx "ski=$ownski" idevid.txt && ok "SKI" || bad "ski: $(grep ski= idevid.txt) want $ownski"
spki=$("$OPENSSL" x509 -in idevid.pem -noout -pubkey | "$OPENSSL" pkey -pubin -outform DER |
	"$OPENSSL" dgst -sha256 -r | cut -d' ' -f1)
grep -qx "spki-sha256=$spki" idevid.txt && ok "SPKI SHA-256" || bad "spki: $(grep spki idevid.txt) want $spki"
"$tool" x509 noaki.pem > noaki.txt || bad "x509 noaki"
grep -qx 'masa-url=https://masa.example/custom' noaki.txt && ok "full MASA URL kept" || bad "masa url 2: $(cat noaki.txt)"
# Without AKI: SHA-1 of the subjectPublicKey (what OpenSSL's "hash" SKI is).
"$OPENSSL" x509 -in noaki.pem -noout -pubkey > noaki.pub
keysha1=$("$PYTHON3" - <<'PY'
import hashlib
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_public_key(open("noaki.pub", "rb").read())
pt = k.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
print(hashlib.sha1(pt).hexdigest())
PY
)
grep -qx "idevid-issuer=041830168014$keysha1" noaki.txt && ok "idevid-issuer synthesized" ||
	bad "idevid-issuer (no AKI): $(grep idevid-issuer noaki.txt) want 041830168014$keysha1"
"$tool" x509 reg.pem > reg.txt || bad "x509 reg"
grep -qx 'cmcra=yes' reg.txt && ok "registrar has id-kp-cmcRA" || bad "registrar cmcra: $(cat reg.txt)"

# ---- a signer on a PKCS#11 token (SoftHSM2) ----------------------------------
mkdir tokens || hard "mkdir"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$tmp" > softhsm2.conf
SOFTHSM2_CONF=$tmp/softhsm2.conf
export SOFTHSM2_CONF
softhsm2-util --init-token --free --label brski-test --pin 1234 --so-pin 5678 >/dev/null ||
	hard "softhsm2-util --init-token"
module=$(find /usr/lib /usr/lib64 -name libsofthsm2.so 2>/dev/null | head -1)
[ -n "$module" ] || hard "libsofthsm2.so not found"
GNUTLS_PIN=1234 p11tool --provider "$module" --login --write --load-privkey reg.key \
	--label regkey "pkcs11:token=brski-test" >/dev/null 2>p11.err || hard "p11tool import: $(cat p11.err)"
uri="pkcs11:token=brski-test;object=regkey;type=private?pin-value=1234"
if "$tool" sign "$uri" reg.pem payload.json token.cms 2>token.err; then
	verify_expect "CMS signed on the token" token.cms root.pem ok 0
	"$OPENSSL" cms -verify -binary -inform DER -in token.cms -CAfile root.pem -purpose any \
		-out /dev/null 2>/dev/null && ok "openssl verifies the token's CMS" ||
		bad "openssl refused the token's CMS"
else
	bad "signing with $uri: $(cat token.err)"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
