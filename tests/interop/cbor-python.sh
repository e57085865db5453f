#!/bin/sh
# Our CBOR, decoded by an independent implementation (python3-cbor2), must
# be the SID-keyed structure of RFC 9254 / rfc8366bis; and CBOR made by
# cbor2 with mixed keys must decode to the original JSON.
: "${top_srcdir:?}" "${top_builddir:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
"$PYTHON3" -c 'import cbor2' || { echo "cbor-python: python3-cbor2 missing"; exit 99; }
work=$(mktemp -d) || exit 99
trap 'rm -rf "$work"' EXIT
"$PYTHON3" "$top_srcdir/tests/interop/check_cbor.py" \
	"$top_builddir/tests/interop/voucher-convert" "$work"
