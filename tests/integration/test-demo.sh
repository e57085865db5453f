#!/bin/sh
# tools/demo.sh (behind `./quickstart demo`) run non-interactively in a
# temp dir: it must exit 0, enroll the three pledges (redirect, est-domain,
# enroll-here) with LDevIDs that verify against the issuer each must have,
# and print the closing table. The demo also runs with ASan builds; the
# budget is 60 s.
: "${top_builddir:?top_builddir must be set (make check sets it)}"
: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
OPENSSL=${OPENSSL:-openssl}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-demo.XXXXXX") || exit 99
start=$(date +%s)
BRSKI_BUILD=$top_builddir BRSKI_DEMO_DIR=$tmp timeout 120 bash "$top_srcdir/tools/demo.sh" >"$tmp/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
fail() {
	echo "FAIL: $*"
	echo "---- demo output ($tmp/out) ----"
	cat "$tmp/out"
	exit 1
}
[ $rc = 0 ] || fail "the demo exited $rc, want 0"
[ "$took" -le 60 ] || fail "the demo took $took s, more than 60"

# The closing table: one row per pledge with its path and result.
row() { # SERIAL MODE CLOUD-ANSWER EST-SERVER
	grep -E "^ +$1 +$2 +$3 +$4 +.*enrolled, verified\$" "$tmp/out" >/dev/null ||
		fail "no closing-table row '$1 $2 $3 $4 ... enrolled, verified'"
}
row pledge-0001 redirect "307 redirect" "owner registrar"
row pledge-0002 est-domain voucher "owner EST server"
row pledge-0003 enroll-here voucher "cloud registrar EST"
grep -q "^demo: all three pledges enrolled and their LDevIDs verify\$" "$tmp/out" ||
	fail "no closing verdict"
grep -q "owner CA: " "$tmp/out" || fail "the demo does not say which CA the owner registrar used"
for w in "redirect        307 to" "provisional TLS" "est-domain      https://" "; enrolled"; do
	grep -q -- "$w" "$tmp/out" || fail "the per-pledge log lacks '$w'"
done

# Independently of the demo's own check: each LDevID chains to the issuer
# its mode gives (owner domain CA; cloud registrar's domain CA), not to the
# other one.
D=$tmp/pki
for s in pledge-0001 pledge-0002; do
	"$OPENSSL" verify -CAfile "$D/owner-domain-ca.crt" "$D/pledges/$s.ldevid.crt" >/dev/null 2>&1 ||
		fail "$s's LDevID does not verify against the owner domain CA"
	"$OPENSSL" verify -CAfile "$D/cloud-domain-ca.crt" "$D/pledges/$s.ldevid.crt" >/dev/null 2>&1 &&
		fail "$s's LDevID verifies against the cloud domain CA"
done
"$OPENSSL" verify -CAfile "$D/cloud-domain-ca.crt" "$D/pledges/pledge-0003.ldevid.crt" >/dev/null 2>&1 ||
	fail "pledge-0003's LDevID does not verify against the cloud registrar's domain CA"
"$OPENSSL" verify -CAfile "$D/owner-domain-ca.crt" "$D/pledges/pledge-0003.ldevid.crt" >/dev/null 2>&1 &&
	fail "pledge-0003's LDevID verifies against the owner domain CA"

# The demo stopped every daemon it started.
for n in masad cloud-registrar owner-registrar; do
	grep -q "^    $n is up (pid " "$tmp/out" || fail "no start line for $n"
	pid=$(sed -n "s/^    $n is up (pid \([0-9]*\);.*/\1/p" "$tmp/out")
	kill -0 "$pid" 2>/dev/null && fail "$n (pid $pid) is still running after the demo"
done

echo "test-demo: the demo enrolled the three pledges in $took s"
rm -rf "$tmp"
exit 0
