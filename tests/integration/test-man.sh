#!/bin/sh
# The man pages describe what exists: every option that `--help` of masad,
# cloudregd and the brski subcommands prints is in the page, every option
# the pages name for those commands is in their --help, and the pages
# render without warnings.
. "$top_srcdir/tests/lib/daemon.sh"
M=$top_srcdir/man

opts_help() { # prints the --long options of a --help text on stdin
	grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
opts_man() { # PAGE: the \-\-long options named in a troff page
	sed 's/\\-/-/g' "$1" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
check_cmd() { # PAGE LABEL COMMAND...: each --help option is in PAGE
	page=$1
	label=$2
	shift 2
	"$@" --help >"$TEST_TMP/help" 2>&1 || fail "$label --help failed"
	opts_help <"$TEST_TMP/help" >"$TEST_TMP/h.opts"
	opts_man "$page" >"$TEST_TMP/m.opts"
	missing=$(comm -23 "$TEST_TMP/h.opts" "$TEST_TMP/m.opts" | tr '\n' ' ')
	[ -z "$missing" ] || fail "$(basename "$page") lacks options of $label: $missing"
}
check_cmd "$M/masad.8" masad "$MASAD"
check_cmd "$M/cloudregd.8" cloudregd "$CLOUDREGD"
check_cmd "$M/brski.1" "brski pki init" "$BRSKI" pki init
check_cmd "$M/brski.1" "brski pledge" "$BRSKI" pledge
check_cmd "$M/brski.1" "brski bench voucher" "$BRSKI" bench voucher
check_cmd "$M/brski.1" "brski bench crypto" "$BRSKI" bench crypto
check_cmd "$M/brski.1" "brski bench masa" "$BRSKI" bench masa
check_cmd "$M/brski.1" "brski bench cloudreg" "$BRSKI" bench cloudreg
check_cmd "$M/brski.1" "brski bench store" "$BRSKI" bench store
check_cmd "$M/brski.1" "brski bench est" "$BRSKI" bench est
for c in "owner create" "device create" "device list" "device import" "token create" "voucher issue"; do
	# shellcheck disable=SC2086
	check_cmd "$M/brski.1" "brski admin $c" "$BRSKI" admin $c
done

# The daemons' pages name no option the daemons lack (lines running brski
# in the examples aside).
for d in masad cloudregd; do
	prog=$MASAD
	[ $d = cloudregd ] && prog=$CLOUDREGD
	"$prog" --help 2>&1 | opts_help >"$TEST_TMP/h.opts"
	grep -v '^brski ' "$M/$d.8" >"$TEST_TMP/page"
	extra=$(opts_man "$TEST_TMP/page" | comm -13 "$TEST_TMP/h.opts" - | tr '\n' ' ')
	[ -z "$extra" ] || fail "$d.8 names options $d does not have: $extra"
done

# Every brski subcommand has its section.
"$BRSKI" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/ {print $1}' >"$TEST_TMP/cmds"
[ -s "$TEST_TMP/cmds" ] || fail "no commands in brski --help"
while read -r c; do
	U=$(echo "$c" | tr 'a-z' 'A-Z')
	grep -q "^\.SH BRSKI $U\$" "$M/brski.1" || fail "brski.1 has no section for brski $c"
done <"$TEST_TMP/cmds"

# The routes the pages list are routes the daemons serve.
for r in /.well-known/brski/requestvoucher /.well-known/brski/requestauditlog; do
	grep -q "\"$r\"" "$top_srcdir/masa/routes.c" || fail "masad.8 lists $r, masa/routes.c does not"
done
for r in requestvoucher voucher_status enrollstatus; do
	grep -q "\"/.well-known/brski/$r\"" "$top_srcdir/cloudreg/routes.c" || fail "cloudregd.8 lists $r"
done

# Rendering: no troff warnings.
for p in masad.8 cloudregd.8 brski.1 brski-cloud.conf.5; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$M/$p" >/dev/null 2>"$TEST_TMP/warn" || fail "$p does not render"
	[ ! -s "$TEST_TMP/warn" ] || fail "$p: $(cat "$TEST_TMP/warn")"
done
echo "test-man: the pages match the programs"
exit 0
