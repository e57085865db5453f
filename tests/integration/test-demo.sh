#!/bin/sh
# tools/demo.sh (behind `./quickstart demo`) run non-interactively in a
# temp dir, twice: as `./quickstart demo` runs it (the owner registrar's CA
# is a private Pebble with BIND 9, which are installed wherever the project
# builds: quickstart deps installs them) and with --local-ca (the owner's
# local CA). Each run must exit 0, enroll the three pledges (redirect,
# est-domain, enroll-here) with LDevIDs that verify against the issuer each
# must have, and print the closing table. The demo also runs with ASan
# builds; the budget is 90 s a run.
: "${top_builddir:?top_builddir must be set (make check sets it)}"
: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
OPENSSL=${OPENSSL:-openssl}

[ -x /usr/bin/pebble ] && [ -x /usr/sbin/named ] ||
	{ echo "FAIL: Pebble and BIND 9 are not installed (./quickstart deps installs them)"; exit 99; }
tmp=
fail() {
	echo "FAIL: $*"
	echo "---- demo output ($tmp/out) ----"
	cat "$tmp/out"
	exit 1
}
run_demo() { # CA [demo options]: CA is acme or local
	ca=$1
	shift
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-demo.XXXXXX") || exit 99
	start=$(date +%s)
	BRSKI_BUILD=$top_builddir BRSKI_DEMO_DIR=$tmp timeout 180 bash "$top_srcdir/tools/demo.sh" "$@" >"$tmp/out" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	[ $rc = 0 ] || fail "the demo ($ca) exited $rc, want 0"
	[ "$took" -le 90 ] || fail "the demo ($ca) took $took s, more than 90"
	check_demo "$ca"
	echo "test-demo: the demo ($ca CA) enrolled the three pledges in $took s"
	rm -rf "$tmp"
}

check_demo() {
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
	if [ "$1" = acme ]; then
		grep -q "owner CA: ACME (Pebble + BIND 9)\$" "$tmp/out" ||
			fail "the demo did not use Pebble + BIND 9 although both are installed"
	else
		grep -q "owner CA: local CA, not ACME (--local-ca was given)\$" "$tmp/out" ||
			fail "the demo with --local-ca does not say it used the local CA"
	fi
	for w in "redirect        307 to" "provisional TLS" "est-domain      https://" "; enrolled"; do
		grep -q -- "$w" "$tmp/out" || fail "the per-pledge log lacks '$w'"
	done

	# Independently of the demo's own check: each LDevID chains to the issuer
	# its mode gives (the owner's CA: Pebble's root through Pebble's
	# intermediate, both as Pebble's management interface gave them to the
	# demo, or the owner domain CA; the cloud registrar's domain CA), not to
	# another one.
	D=$tmp/pki
	for s in pledge-0001 pledge-0002; do
		"$OPENSSL" x509 -in "$D/pledges/$s.ldevid.crt" -out "$tmp/$s.leaf.pem" 2>/dev/null ||
			fail "$s has no LDevID"
		if [ "$1" = acme ]; then
			[ -s "$tmp/pebble-root.pem" ] && [ -s "$tmp/pebble-intermediate.pem" ] ||
				fail "the demo kept no Pebble root and intermediate"
			"$OPENSSL" verify -CAfile "$tmp/pebble-root.pem" -untrusted "$tmp/pebble-intermediate.pem" \
				"$tmp/$s.leaf.pem" >/dev/null 2>&1 || fail "$s's LDevID does not verify against Pebble's root"
			"$OPENSSL" verify -CAfile "$D/owner-domain-ca.crt" "$tmp/$s.leaf.pem" >/dev/null 2>&1 &&
				fail "$s's LDevID verifies against the owner domain CA"
			"$OPENSSL" x509 -in "$tmp/$s.leaf.pem" -noout -ext subjectAltName | grep -q "DNS:$s.pledges.example.com" ||
				fail "$s's LDevID lacks its SAN"
			grep -q "^    | enrollstatus .*over TLS with the LDevID (answer 200)" "$tmp/out" ||
				fail "no enrollstatus with an LDevID was accepted"
		else
			"$OPENSSL" verify -CAfile "$D/owner-domain-ca.crt" "$tmp/$s.leaf.pem" >/dev/null 2>&1 ||
				fail "$s's LDevID does not verify against the owner domain CA"
		fi
		"$OPENSSL" verify -CAfile "$D/cloud-domain-ca.crt" "$tmp/$s.leaf.pem" >/dev/null 2>&1 &&
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
	return 0
}

run_demo acme
run_demo local --local-ca
exit 0
