#!/bin/sh
# COSE_Sign1 and JWS interop with independent Python implementations
# (tests/interop/vouchersig.py: python3-jwcrypto for JWS, python3-cbor2 +
# python3-cryptography for a Sig_structure check written from RFC 9052).
# For ES256 and EdDSA: what brski signs, Python verifies; what Python signs
# (x5chain, x5bag, untagged, a second JWS signature), brski verifies;
# tampered payload, protected header, signature and certificate are
# refused by both sides; a wrong signer and the wrong trust anchor are
# refused. Exit: 0 pass, 1 fail, 99 hard error. Keeps its directory on
# failure.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
: "${BRSKI_YANG_DIR:=$top_srcdir/yang}"
export BRSKI_YANG_DIR
BRSKI="$top_builddir/tools/brski"
PY="$top_srcdir/tests/interop/vouchersig.py"

[ -x "$BRSKI" ] || { echo "test-cose-jws-python: $BRSKI not built"; exit 99; }
"$PYTHON3" -c 'import cbor2, jwcrypto, cryptography' || {
	echo "test-cose-jws-python: python3-cbor2/jwcrypto/cryptography missing"
	exit 99
}
work=$(mktemp -d "${TMPDIR:-/tmp}/test-cose-jws.XXXXXX") || exit 99
ok=no
cleanup() {
	if [ "$ok" = yes ]; then rm -rf "$work"; else echo "test-cose-jws-python: kept $work"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# must RC CMD...: run CMD, require exit status RC; output in $work/out, err.
must() {
	want=$1
	shift
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	[ "$got" = "$want" ] || { cat "$work/out" "$work/err"; fail "$* exited $got, want $want"; }
}

for kt in p256 ed25519; do
	d="$work/$kt"
	mkdir -p "$d" || exit 99
	must 0 "$BRSKI" pki init "$d/pki" --key-type "$kt" --pledges 1
	must 0 "$BRSKI" pki init "$d/other" --key-type "$kt" --pledges 1
	key="$d/pki/masa-sign.key"
	chain="$d/pki/masa-sign.chain.pem"
	ca="$d/pki/masa-ca.crt"
	okey="$d/other/masa-sign.key"
	ochain="$d/other/masa-sign.chain.pem"
	oca="$d/other/masa-ca.crt"

	must 0 "$BRSKI" voucher create --serial "SN-$kt" --nonce random --assertion logged \
		--pinned-domain-cert "$d/pki/owner-domain-ca.crt" --out "$d/v.json"
	must 0 "$BRSKI" voucher convert "$d/v.json" "$d/v.cbor"

	# ---- ours -> Python ----------------------------------------------------
	must 0 "$BRSKI" voucher sign --key "$key" --cert "$chain" --format jws "$d/v.json" "$d/ours.jws"
	must 0 "$PYTHON3" "$PY" jws-verify "$d/ours.jws" "$ca"
	cmp -s "$work/out" "$d/v.json" || fail "$kt: jwcrypto payload differs from what was signed"
	must 1 "$PYTHON3" "$PY" jws-verify "$d/ours.jws" "$oca"

	must 0 "$BRSKI" voucher sign --key "$key" --cert "$chain" --format cose "$d/v.cbor" "$d/ours.cose"
	must 0 "$PYTHON3" "$PY" cose-verify "$d/ours.cose" "$ca"
	cmp -s "$work/out" "$d/v.cbor" || fail "$kt: COSE payload differs from what was signed"
	must 1 "$PYTHON3" "$PY" cose-verify "$d/ours.cose" "$oca"

	# ---- Python -> ours ----------------------------------------------------
	must 0 "$PYTHON3" "$PY" jws-sign "$d/v.json" "$key" "$chain" "$d/py.jws"
	must 0 "$BRSKI" voucher verify --trust "$ca" "$d/py.jws"
	grep -q "signatures: 1" "$work/err" || fail "$kt: signature count not reported"
	must 1 "$BRSKI" voucher verify --trust "$oca" "$d/py.jws"
	# a second signature (BRSKI-PRM registrar): the first is verified, two counted
	must 0 "$PYTHON3" "$PY" jws-sign "$d/v.json" "$key" "$chain" "$d/py2.jws" --second "$okey" "$ochain"
	must 0 "$BRSKI" voucher verify --trust "$ca" "$d/py2.jws"
	grep -q "signatures: 2" "$work/err" || fail "$kt: second signature not counted"
	# the other order: the first signer is not trusted
	must 0 "$PYTHON3" "$PY" jws-sign "$d/v.json" "$okey" "$ochain" "$d/py3.jws" --second "$key" "$chain"
	must 1 "$BRSKI" voucher verify --trust "$ca" "$d/py3.jws"

	for variant in "" --x5bag --untagged; do
		must 0 "$PYTHON3" "$PY" cose-sign "$d/v.cbor" "$key" "$chain" "$d/py.cose" $variant
		must 0 "$BRSKI" voucher verify --trust "$ca" "$d/py.cose"
		must 1 "$BRSKI" voucher verify --trust "$oca" "$d/py.cose"
	done
	must 0 "$BRSKI" voucher verify --trust "$ca" --out "$d/payload.cbor" "$d/py.cose"
	cmp -s "$d/payload.cbor" "$d/v.cbor" || fail "$kt: --out payload differs"

	# ---- the registrar strips the MASA chain; the pledge knows the signer ------
	must 0 "$PYTHON3" "$PY" cose-strip "$d/ours.cose" "$d/stripped.cose"
	must 1 "$BRSKI" voucher verify --trust "$ca" "$d/stripped.cose"
	must 0 "$BRSKI" voucher verify --trust "$ca" --signer-cert "$d/pki/masa-sign.crt" "$d/stripped.cose"
	cmp -s "$work/out" "$d/v.json" 2>/dev/null || "$PYTHON3" -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); sys.exit(a!=b)' "$work/out" "$d/v.json" ||
		fail "$kt: stripped COSE printed another payload"
	must 1 "$BRSKI" voucher verify --trust "$ca" --signer-cert "$d/other/masa-sign.crt" "$d/stripped.cose"
	must 2 "$BRSKI" voucher verify --trust "$ca" --signer-cert "$d/pki/masa-sign.crt" "$d/ours.jws"

	# ---- wrong signer: our certificate, their key ----------------------------
	cat "$chain" >"$d/mixed.pem"
	must 0 "$PYTHON3" "$PY" cose-sign "$d/v.cbor" "$okey" "$d/mixed.pem" "$d/wrong.cose"
	must 1 "$BRSKI" voucher verify --trust "$ca" "$d/wrong.cose"
	grep -q "signature does not verify" "$work/err" || fail "$kt: wrong COSE signer: $(cat "$work/err")"
	must 1 "$PYTHON3" "$PY" cose-verify "$d/wrong.cose" "$ca"
	must 0 "$PYTHON3" "$PY" jws-sign "$d/v.json" "$okey" "$d/mixed.pem" "$d/wrong.jws"
	must 1 "$BRSKI" voucher verify --trust "$ca" "$d/wrong.jws"
	grep -q "signature does not verify" "$work/err" || fail "$kt: wrong JWS signer: $(cat "$work/err")"
	must 1 "$PYTHON3" "$PY" jws-verify "$d/wrong.jws" "$ca"

	# ---- tampering: refused by brski and by the Python checkers --------------
	for env in jws cose; do
		for what in payload protected signature cert; do
			for src in ours py; do
				must 0 "$PYTHON3" "$PY" tamper "$what" "$d/$src.$env" "$d/t.$env" "$ochain"
				must 1 "$BRSKI" voucher verify --trust "$ca" "$d/t.$env"
				must 1 "$PYTHON3" "$PY" "$env-verify" "$d/t.$env" "$ca"
			done
		done
	done
done

ok=yes
echo "test-cose-jws-python: ok"
exit 0
