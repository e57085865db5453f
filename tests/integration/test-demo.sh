#!/bin/sh
# tools/demo.sh (behind `./quickstart demo`) run non-interactively in a
# temp dir, twice: as `./quickstart demo` runs it (the owner registrar's CA
# is a private Pebble with BIND 9, which are installed wherever the project
# builds: quickstart deps installs them) and with --local-ca (the owner's
# local CA). Each run must exit 0, enroll the three pledges (redirect,
# est-domain, enroll-here) with LDevIDs that verify against the issuer each
# must have, and print the closing table. The demo also runs with ASan
# builds; the budget is 90 s a run. Then the demo with Pebble made to
# fail after BIND 9 started (it falls back to the local CA and leaves no
# process behind), and --serve stopped with SIGINT (exit 130, nothing left).
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

# leftovers DIR: the processes whose command line names DIR (the demo's
# daemons read their configuration from it; BIND's and Pebble's
# directories are made under TMPDIR, set to DIR below).
leftovers() {
	ps -eo pid=,args= | LEFT_DIR=$1 awk 'index($0, ENVIRON["LEFT_DIR"]) { print }'
}

# Pebble made to fail after BIND 9 started: the demo falls back to the
# local CA, says why, and still stops every daemon and BIND at exit.
fallback() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-demo.XXXXXX") || exit 99
	PEBBLE_BIN=/nonexistent TMPDIR=$tmp BRSKI_BUILD=$top_builddir BRSKI_DEMO_DIR=$tmp \
		timeout 180 bash "$top_srcdir/tools/demo.sh" >"$tmp/out" 2>&1
	rc=$?
	[ $rc = 0 ] || fail "the demo with Pebble failing exited $rc, want 0 (local CA)"
	grep -q "owner CA: local CA, not ACME (Pebble did not start" "$tmp/out" ||
		fail "the demo does not say it fell back to the local CA because Pebble did not start"
	grep -q "named did not\|BIND 9 did not start" "$tmp/out" &&
		fail "BIND 9 did not start either: this run does not test the fallback after BIND"
	left=$(leftovers "$tmp")
	[ -z "$left" ] || fail "processes left after the demo (Pebble failing): $left"
	echo "test-demo: Pebble failing: local CA, nothing left running"
	rm -rf "$tmp"
}

# --serve ended by Ctrl-C (SIGINT to the demo): exit 130 once everything
# is stopped. Background jobs of a script ignore SIGINT, which bash then
# cannot trap: python puts the default action back before running it.
serve_interrupted() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-demo.XXXXXX") || exit 99
	TMPDIR=$tmp BRSKI_BUILD=$top_builddir BRSKI_DEMO_DIR=$tmp "${PYTHON3:-python3}" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' bash "$top_srcdir/tools/demo.sh" --serve >"$tmp/out" 2>&1 &
	pid=$!
	i=0
	until grep -q "^Serving until Ctrl-C" "$tmp/out"; do
		kill -0 $pid 2>/dev/null || { wait $pid; fail "the demo --serve exited $? before serving"; }
		i=$((i + 1))
		[ $i -lt 1800 ] || { kill -TERM $pid; wait $pid; fail "the demo --serve did not serve within 180 s"; }
		sleep 0.1
	done
	[ -n "$(leftovers "$tmp")" ] || fail "nothing runs while the demo serves"
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc = 130 ] || fail "the demo --serve stopped by SIGINT exited $rc, want 130"
	left=$(leftovers "$tmp")
	[ -z "$left" ] || fail "processes left after Ctrl-C on the demo --serve: $left"
	echo "test-demo: --serve stopped by Ctrl-C: exit 130, nothing left running"
	rm -rf "$tmp"
}

run_demo acme
run_demo local --local-ca
fallback
serve_interrupted
exit 0
