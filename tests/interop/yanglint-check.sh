#!/bin/sh
# yanglint (libyang2-tools) as an independent validator of the JSON that
# libvoucher prints, against our own modules in yang/. yanglint 2.1.30
# cannot read data of an sx:structure / rc:yang-data instance, so each
# module is copied with that one statement unwrapped (unwrap_yang.py); the
# container and all leaf statements are unchanged.
: "${top_srcdir:?}" "${top_builddir:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
command -v yanglint >/dev/null || { echo "yanglint-check: yanglint missing (libyang2-tools)"; exit 99; }
conv=$top_builddir/tests/interop/voucher-convert
work=$(mktemp -d) || exit 99
trap 'rm -rf "$work"' EXIT
mkdir "$work/bis" "$work/legacy"
for m in ietf-voucher@2025-12-18 ietf-voucher-request@2025-12-18; do
	"$PYTHON3" "$top_srcdir/tests/interop/unwrap_yang.py" "$top_srcdir/yang/$m.yang" "$work/bis/$m.yang" || exit 99
done
for m in ietf-voucher@2018-05-09 ietf-voucher-request@2021-05-20; do
	"$PYTHON3" "$top_srcdir/tests/interop/unwrap_yang.py" "$top_srcdir/yang/$m.yang" "$work/legacy/$m.yang" || exit 99
done
cp "$top_srcdir/yang/ietf-restconf@2017-01-26.yang" "$work/legacy/"

fail=0
# check SET MODULE NAME JSON-INPUT [--legacy]: print with libvoucher, then
# validate what we printed with yanglint.
check() {
	set=$1 mod=$2 name=$3 input=$4 legacy=$5
	printf '%s' "$input" >"$work/$name.in.json"
	if ! "$conv" json $legacy "$work/$name.in.json" "$work/$name.json"; then
		echo "FAIL $name: libvoucher rejected the fixture"; fail=1; return
	fi
	if yanglint -D -p "$work/$set" "$work/$set/$mod.yang" "$work/$name.json" >"$work/$name.log" 2>&1; then
		echo "ok $name: yanglint accepts $(wc -c <"$work/$name.json") bytes"
	else
		echo "FAIL $name: yanglint rejects what libvoucher printed:"; cat "$work/$name.log"
		cat "$work/$name.json"; echo; fail=1
	fi
}
B='"serial-number":"JADA123456789","idevid-issuer":"BBgwFoAUKf3mEj1IJUvZDGzOtS5gjvD8QHY=","pinned-domain-cert":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==","domain-cert-revocation-checks":true,"nonce":"V+7Xhq1ASQc="'
X='"pinned-domain-pubk":"AAECAwQFBgcICQoLDA0O","pinned-domain-pubk-sha256":"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=","expires-on":"2016-10-21T19:31:42Z","last-renewal-date":"2017-10-07T19:31:42.5+02:00","est-domain":"https://est.example.com/","additional-configuration-url":"https://c.example.com/x","manufacturer-proprietary":"3q2+7wE=","extensions":["2470","example-ext"]'
R='"prior-signed-voucher-request":"mYNdRJSPj7dYX3/5UEO+sKwNF1s=","proximity-registrar-cert":"/u58H6vf05v6lt28A3suK/uosPY=","proximity-registrar-pubk":"++tAuTuf2bf4MA1A/pH6WlBZDnw=","proximity-registrar-pubk-sha256":"a+t/1jhqOQ5HZ+Q+Y/VIwh3+vhk=","agent-signed-data":"xkamrtU7AQ1yrJinW4jgReFBxMA=","agent-provided-proximity-registrar-cert":"hnpzUqyf4L9iUmFu7ErCbCI73w0=","agent-sign-cert":"/I5+IKumUaEnDI8FpPL805VWmr4="'
check bis ietf-voucher@2025-12-18 voucher-all \
	"{\"ietf-voucher:voucher\":{\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"verified\",$B,$X}}"
check bis ietf-voucher-request@2025-12-18 request-all \
	"{\"ietf-voucher-request:voucher\":{\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"agent-proximity\",$B,$X,$R}}"
check bis ietf-voucher@2025-12-18 voucher-minimal '{"ietf-voucher:voucher":{"serial-number":"x"}}'
check legacy ietf-voucher@2018-05-09 legacy-voucher \
	"{\"ietf-voucher:voucher\":{\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"logged\",$B}}" --legacy
check legacy ietf-voucher-request@2021-05-20 legacy-request \
	'{"ietf-voucher-request:voucher":{"assertion":"proximity","serial-number":"x","nonce":"V+7Xhq1ASQc=","proximity-registrar-cert":"AQID","prior-signed-voucher-request":"BAU="}}' --legacy

# The same yanglint setup must reject what the modules forbid, or the
# checks above prove nothing.
printf '{"ietf-voucher:voucher":{"serial-number":"x","nonce":"AAAA"}}' >"$work/neg1.json"
printf '{"ietf-voucher:voucher":{"created-on":"2016-10-07T19:31:42Z","assertion":"logged","serial-number":"x"}}' >"$work/neg2.json"
if yanglint -D -p "$work/bis" "$work/bis/ietf-voucher@2025-12-18.yang" "$work/neg1.json" >/dev/null 2>&1; then
	echo "FAIL yanglint accepted a 3-byte nonce"; fail=1
fi
if yanglint -D -p "$work/legacy" "$work/legacy/ietf-voucher@2018-05-09.yang" "$work/neg2.json" >/dev/null 2>&1; then
	echo "FAIL yanglint accepted an RFC 8366 voucher without pinned-domain-cert"; fail=1
fi
exit $fail
