#!/bin/sh
# `brski voucher` end to end: create -> convert -> sign (cms, cose, jws) ->
# verify with --trust -> show, for a voucher and a voucher-request; a CMS
# made by `openssl cms -sign` (id-data and id-ct-animaJSONVoucher) is
# verified without any leniency option, and our CMS by `openssl cms
# -verify`; wrong trust, tampering, invalid payloads, usage errors and a
# key on a PKCS#11 token (SoftHSM2). Exit: 0 pass, 1 fail, 99 hard error.
# Keeps its directory on failure.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${OPENSSL:=openssl}"
: "${PYTHON3:=/usr/bin/python3}"
: "${BRSKI_YANG_DIR:=$top_srcdir/yang}"
export BRSKI_YANG_DIR
BRSKI="$top_builddir/tools/brski"

[ -x "$BRSKI" ] || { echo "test-brski-voucher: $BRSKI not built"; exit 99; }
work=$(mktemp -d "${TMPDIR:-/tmp}/test-brski-voucher.XXXXXX") || exit 99
ok=no
cleanup() {
	if [ "$ok" = yes ]; then rm -rf "$work"; else echo "test-brski-voucher: kept $work"; fi
}
trap cleanup EXIT
cd "$work" || exit 99

fail() {
	echo "FAIL: $*"
	exit 1
}

# bv RC ARGS...: run brski voucher ARGS, require exit status RC; out, err.
bv() {
	want=$1
	shift
	"$BRSKI" voucher "$@" >out 2>err
	got=$?
	[ "$got" = "$want" ] || { cat out err; fail "brski voucher $* exited $got, want $want"; }
}

# json_get FILE PATH: print a member of the artifact's inner object.
json_get() {
	"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(iter(d.values())).get(sys.argv[2], "<absent>"))' "$1" "$2"
}

"$BRSKI" pki init pki --pledges 1 >/dev/null 2>pki.err || { cat pki.err; exit 99; }
masa_key=pki/masa-sign.key
masa_chain=pki/masa-sign.chain.pem
masa_ca=pki/masa-ca.crt
reg_key=pki/owner-registrar.key
reg_chain=pki/owner-registrar.chain.pem
owner_ca=pki/owner-domain-ca.crt

# ---- help and usage ------------------------------------------------------------
bv 0 --help
grep -q "verify" out || fail "brski voucher --help lists no subcommands"
for sub in create sign verify show convert; do
	bv 0 "$sub" --help
	grep -q "usage: brski voucher $sub" out || fail "$sub --help: $(cat out)"
	grep -q "exit status" out || fail "$sub --help documents no exit status"
done
"$BRSKI" --help | grep -q '^  voucher' || fail "brski --help does not list voucher"
bv 2
bv 2 frobnicate
bv 2 create
grep -q -- "--serial is required" err || fail "create without --serial: $(cat err)"
bv 2 create --serial X --bogus
bv 2 sign --format cms v.json
bv 2 verify
bv 2 verify x.cms
grep -q -- "--trust" err || fail "verify without --trust: $(cat err)"
bv 2 convert onlyone

# ---- create ----------------------------------------------------------------------
bv 0 create --serial JADA-0001 --nonce 0102030405060708090a0b0c0d0e0f10 --assertion proximity \
	--pinned-domain-cert "$owner_ca" --est-domain https://est.owner.example \
	--expires-on 2099-01-01T00:00:00Z --created-on 2026-01-02T03:04:05Z --out v.json
[ "$(json_get v.json serial-number)" = JADA-0001 ] || fail "serial: $(cat v.json)"
[ "$(json_get v.json nonce)" = AQIDBAUGBwgJCgsMDQ4PEA== ] || fail "nonce: $(cat v.json)"
[ "$(json_get v.json assertion)" = proximity ] || fail "assertion: $(cat v.json)"
[ "$(json_get v.json est-domain)" = https://est.owner.example ] || fail "est-domain: $(cat v.json)"
[ "$(json_get v.json created-on)" = 2026-01-02T03:04:05Z ] || fail "created-on: $(cat v.json)"
want_pin=$("$OPENSSL" x509 -in "$owner_ca" -outform DER | base64 -w0)
[ "$(json_get v.json pinned-domain-cert)" = "$want_pin" ] || fail "pinned-domain-cert differs from $owner_ca"
bv 0 create --kind request --serial JADA-0001 --nonce random --assertion proximity \
	--proximity-registrar-cert "$reg_chain" --out vr.json
grep -q '"ietf-voucher-request:voucher"' vr.json || fail "request root: $(cat vr.json)"
[ "$(json_get vr.json proximity-registrar-cert)" = "$("$OPENSSL" x509 -in "$reg_chain" -outform DER | base64 -w0)" ] ||
	fail "proximity-registrar-cert"
# invalid artifacts from options: a nonce too short, a request-only leaf
bv 2 create --serial X --nonce 0102
bv 2 create --serial X --proximity-registrar-cert "$reg_chain"
bv 2 create --serial X --assertion maybe
bv 3 create --serial X --pinned-domain-cert /nonexistent/ca.pem

# ---- convert -----------------------------------------------------------------------
bv 0 convert v.json v.cbor
[ "$(head -c1 v.cbor | od -An -tx1 | tr -d ' ')" = a1 ] || fail "v.cbor is not a CBOR map"
bv 0 convert v.cbor v2.json
"$PYTHON3" -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); sys.exit(a!=b)' v.json v2.json ||
	fail "JSON -> CBOR -> JSON changed the voucher: $(cat v.json) vs $(cat v2.json)"
bv 0 convert --to cbor v.json - && cmp -s out v.cbor || fail "convert to stdout differs"
bv 0 convert vr.json vr.cbor

# ---- sign and verify, every envelope --------------------------------------------
for fmt in cms cose jws; do
	bv 0 sign --key "$masa_key" --cert "$masa_chain" --format "$fmt" v.json "v.$fmt"
	if [ "$fmt" = cose ]; then
		grep -q "converted to CBOR" err || fail "JSON -> CBOR for cose not said: $(cat err)"
	else
		[ -s err ] && fail "sign $fmt said: $(cat err)"
	fi
	bv 0 verify --trust "$masa_ca" "v.$fmt"
	grep -q "^verified: $fmt voucher" err || fail "verify $fmt summary: $(cat err)"
	grep -q "^signer: .*CN=brski demo MASA voucher signer" err || fail "verify $fmt signer: $(cat err)"
	"$PYTHON3" -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); sys.exit(a!=b)' v.json out ||
		fail "verify $fmt printed another payload: $(cat out)"
	bv 1 verify --trust "$owner_ca" "v.$fmt"
	grep -q "not trusted" err || fail "wrong trust for $fmt: $(cat err)"
	bv 0 verify --no-trust "v.$fmt"
	bv 1 verify --trust "$masa_ca" --kind request "v.$fmt"
	bv 0 show "v.$fmt"
	grep -q "^envelope: $fmt" out || fail "show $fmt: $(cat out)"
	grep -q "^artifact: voucher" out || fail "show $fmt artifact: $(cat out)"
	grep -q "^certificate 0: subject=CN=brski demo MASA voucher signer" out || fail "show $fmt certs: $(cat out)"
	# tampered signed content: refused with a reason. CMS and COSE carry
	# the payload bytes as they are (change the serial); in JWS every
	# byte but the JSON punctuation is signed (flip one in the middle).
	# Certificates carried but not on the path are not signed content.
	"$PYTHON3" -c '
import sys
d = open(sys.argv[1], "rb").read()
if sys.argv[3] == "jws":
    b = bytearray(d); b[len(b) // 2] ^= 1; d = bytes(b)
else:
    d = d.replace(b"JADA-0001", b"JADA-0002")
open(sys.argv[2], "wb").write(d)' "v.$fmt" "t.$fmt" "$fmt"
	cmp -s "v.$fmt" "t.$fmt" && fail "tamper of v.$fmt ($size bytes) changed nothing"
	bv 1 verify --trust "$masa_ca" "t.$fmt"
	grep -q "brski voucher: t.$fmt: " err || fail "no reason for t.$fmt: $(cat err)"
done
# COSE straight from CBOR signs the bytes as they are
bv 0 sign --key "$masa_key" --cert "$masa_chain" --format cose v.cbor v2.cose
[ -s err ] && fail "sign cose from CBOR said: $(cat err)"
bv 0 verify --trust "$masa_ca" --out payload.cbor v2.cose
cmp -s payload.cbor v.cbor || fail "COSE payload is not the input bytes"
bv 0 verify --trust "$masa_ca" --out payload.json v.jws
cmp -s payload.json v.json || fail "JWS payload is not the input bytes"
bv 0 verify --trust "$masa_ca" --out payload.json v.cms
cmp -s payload.json v.json || fail "CMS payload is not the input bytes"
# --cert and --chain apart
bv 0 sign --key "$masa_key" --cert pki/masa-sign.crt --chain "$masa_ca" --format jws v.json split.jws
bv 0 verify --trust "$masa_ca" split.jws
bv 0 show split.jws
grep -q "^certificate 1: subject=CN=brski demo MASA CA" out || fail "--chain not carried: $(cat out)"
# show of unsigned artifacts
bv 0 show v.cbor
grep -q "^envelope: none" out && grep -q "^artifact: voucher (CBOR" out || fail "show v.cbor: $(cat out)"

# ---- a voucher-request signed by the registrar --------------------------------------
for fmt in cms cose jws; do
	bv 0 sign --key "$reg_key" --cert "$reg_chain" --format "$fmt" vr.json "vr.$fmt"
	bv 0 verify --trust "$owner_ca" --kind request "vr.$fmt"
	grep -q "^verified: $fmt voucher-request" err || fail "vr $fmt: $(cat err)"
	bv 1 verify --trust "$owner_ca" --kind voucher "vr.$fmt"
done

# ---- refusing to sign invalid payloads ------------------------------------------------
printf '{"ietf-voucher:voucher":{"assertion":"logged"}}' >nosn.json
printf '{"ietf-voucher:voucher":{"serial-number":"A","colour":"red"}}' >unknown.json
printf '{"ietf-voucher:voucher":{"serial-number":"A","serial-number":"B"}}' >dup.json
printf 'not json' >junk.json
for f in nosn unknown dup junk; do
	for fmt in cms cose jws; do
		rm -f "$f.$fmt"
		bv 1 sign --key "$masa_key" --cert "$masa_chain" --format "$fmt" "$f.json" "$f.$fmt"
		grep -q "refusing to sign" err || fail "sign $f.json as $fmt: $(cat err)"
		[ -e "$f.$fmt" ] && fail "sign $f.json as $fmt left an output file"
	done
done
bv 2 sign --key "$masa_key" --cert "$masa_chain" --format pkcs7 v.json x
bv 3 sign --key /nonexistent.key --cert "$masa_chain" --format jws v.json x
bv 3 sign --key "$masa_key" --cert "$masa_chain" --format jws /nonexistent.json x
bv 1 verify --trust "$masa_ca" v.json
grep -q "not a CMS, COSE or JWS envelope" err || fail "verify of a bare artifact: $(cat err)"
bv 3 verify --trust "$masa_ca" /nonexistent.cms

# ---- OpenSSL CMS both ways -----------------------------------------------------------
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -in v.json -signer pki/masa-sign.crt \
	-inkey "$masa_key" -certfile "$masa_ca" -out idata.cms 2>ossl.err || { cat ossl.err; exit 99; }
bv 0 verify --trust "$masa_ca" idata.cms
grep -q "id-data" err || fail "id-data CMS not noted: $(cat err)"
"$OPENSSL" cms -sign -binary -nodetach -outform DER -md sha256 -in v.json -signer pki/masa-sign.crt \
	-inkey "$masa_key" -certfile "$masa_ca" -econtent_type 1.2.840.113549.1.9.16.1.40 \
	-out anima.cms 2>ossl.err || { cat ossl.err; exit 99; }
bv 0 verify --trust "$masa_ca" anima.cms
grep -q "id-data" err && fail "id-ct-animaJSONVoucher CMS reported as id-data"
bv 1 verify --trust "$owner_ca" idata.cms
"$OPENSSL" cms -verify -binary -inform DER -in v.cms -CAfile "$masa_ca" -purpose any \
	-out ossl-payload.json 2>ossl.err || fail "openssl cms -verify refused our CMS: $(cat ossl.err)"
cmp -s ossl-payload.json v.json || fail "openssl extracted another payload"

# ---- a key on a PKCS#11 token (SoftHSM2) ----------------------------------------------
mkdir tokens || exit 99
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$work" >softhsm2.conf
SOFTHSM2_CONF=$work/softhsm2.conf
export SOFTHSM2_CONF
softhsm2-util --init-token --free --label brski-voucher --pin 1234 --so-pin 5678 >/dev/null ||
	{ echo "softhsm2-util --init-token failed"; exit 99; }
module=$(find /usr/lib /usr/lib64 -name libsofthsm2.so 2>/dev/null | head -1)
[ -n "$module" ] || { echo "libsofthsm2.so not found"; exit 99; }
GNUTLS_PIN=1234 p11tool --provider "$module" --login --write --load-privkey "$masa_key" \
	--label masakey "pkcs11:token=brski-voucher" >/dev/null 2>p11.err || { cat p11.err; exit 99; }
uri="pkcs11:token=brski-voucher;object=masakey;type=private?pin-value=1234"
for fmt in cms cose jws; do
	bv 0 sign --key "$uri" --cert "$masa_chain" --format "$fmt" v.json "hsm.$fmt"
	bv 0 verify --trust "$masa_ca" "hsm.$fmt"
done

ok=yes
echo "test-brski-voucher: ok"
exit 0
