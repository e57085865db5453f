#!/bin/sh
# The example configurations in conf/ are valid: each passes
# `--check-config` once its /etc/brski-cloud and /var/lib/brski-cloud paths
# point at a PKI from `brski pki init` (same file names), and the systemd
# units name the options the daemons have.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" >/dev/null || exit 99
# The ACME example needs its trust bundle only when uncommented; the owner
# example uses the default (system) trust.
for f in masad cloudregd-cloud cloudregd-owner; do
	sed -e "s|/etc/brski-cloud/|$D/|g" -e "s|/var/lib/brski-cloud/|$TEST_TMP/|g" \
		"$top_srcdir/conf/$f.conf.example" >"$TEST_TMP/$f.conf" || exit 99
	prog=$CLOUDREGD
	[ $f = masad ] && prog=$MASAD
	"$prog" --check-config -c "$TEST_TMP/$f.conf" >"$TEST_TMP/$f.out" 2>&1 ||
		fail "conf/$f.conf.example: $(cat "$TEST_TMP/$f.out")"
	grep -q "^role = " "$TEST_TMP/$f.conf" || fail "conf/$f.conf.example sets no role"
done
grep -q '^role = masa$' "$TEST_TMP/masad.conf" || fail "masad example is not role masa"
grep -q '^role = cloud$' "$TEST_TMP/cloudregd-cloud.conf" || fail "cloud example is not role cloud"
grep -q '^role = registrar$' "$TEST_TMP/cloudregd-owner.conf" || fail "owner example is not role registrar"
# [registrar] manufacturers names this file (cloudregd reads it at start).
sed -e "s|/etc/brski-cloud/|$D/|g" "$top_srcdir/conf/manufacturers.conf.example" \
	>"$D/manufacturers.conf" || exit 99
# Every key named in an example, even commented out, is a key of the
# schema: the uncommented variant must also pass.
for f in masad cloudregd-cloud cloudregd-owner; do
	grep -c '^;[a-z_0-9]* = ' "$TEST_TMP/$f.conf" >/dev/null || continue
	sed -e 's/^;\([a-z_0-9]* = \)/\1/' "$TEST_TMP/$f.conf" |
		grep -v -e '^user = ' -e '^database = postgresql' -e '^sign_key = pkcs11' -e '^trust = ' \
			-e '^eab_kid = ' -e '^eab_hmac_key = ' -e '^dns_hook = ' -e '^challenge = dns-01' \
			>"$TEST_TMP/$f-all.conf"
	prog=$CLOUDREGD
	[ $f = masad ] && prog=$MASAD
	"$prog" --check-config -c "$TEST_TMP/$f-all.conf" >"$TEST_TMP/$f-all.out" 2>&1 ||
		fail "conf/$f.conf.example with its optional keys: $(cat "$TEST_TMP/$f-all.out")"
done

# The units: the options they pass exist (--check-config, -c), SIGHUP is the
# reload signal the daemons document.
for u in masad.service.in cloudregd@.service.in; do
	grep -q '^ExecStart=@sbindir@/[a-z]* -c @sysconfdir@/brski-cloud/' "$top_srcdir/conf/$u" || fail "$u: ExecStart"
	grep -q '^ExecStartPre=@sbindir@/[a-z]* --check-config -c ' "$top_srcdir/conf/$u" || fail "$u: ExecStartPre"
	grep -q '^ExecReload=/bin/kill -HUP' "$top_srcdir/conf/$u" || fail "$u: ExecReload"
	for h in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes; do
		grep -q "^$h\$" "$top_srcdir/conf/$u" || fail "$u: no $h"
	done
done
"$MASAD" --help | grep -q -- '--check-config' || fail "masad has no --check-config"
"$MASAD" --help | grep -q 'SIGHUP reloads' || fail "masad does not reload on SIGHUP"
"$CLOUDREGD" --help | grep -q 'SIGHUP reloads' || fail "cloudregd does not reload on SIGHUP"
echo "test-conf-examples: the examples are valid"
exit 0
