#!/bin/sh
# The admin API across instances: masad and cloudregd from one
# `brski pki init` DIR share one database (DIR/cloud.db, then a private
# PostgreSQL database) and see each other's writes at once: a token made
# through one works at the other, one revoked through one is refused by the
# other on its next request, and both list the same audit trail. Each
# daemon's OpenAPI document is checked against the routes it serves. The
# framework's unit cases run once more on the PostgreSQL server.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/pg.sh"

pki=$TEST_TMP/pki
"$BRSKI" pki init "$pki" >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; fail "brski pki init"; }
DAEMON_CACERT=$pki/tls-ca.crt
boot=$pki/admin-token

# adm ORIGIN TOKEN-FILE ARGS...: brski admin against one daemon
adm() {
	aorigin=$1 atok=$2
	shift 2
	"$BRSKI" admin "$@" --url "$aorigin" --token-file "$atok" --cacert "$DAEMON_CACERT"
}

# json_get FILE EXPR: print a value of a JSON document (python expression on j)
json_get() {
	"$PYTHON3" -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# The OpenAPI document of a daemon against what it serves: for every
# documented path (parameters filled in), OPTIONS must answer exactly the
# methods documented for the templates that match it, and every documented
# operation must reach a route (401 without a token, not 404/405).
check_openapi() {
	corigin=$1 olabel=$2
	doc=$TEST_TMP/openapi-$olabel.json
	code=$(curl -s -o "$doc" -w '%{http_code}' --cacert "$DAEMON_CACERT" "$corigin/admin/v1/openapi.json")
	[ "$code" = 200 ] || fail "$olabel: GET /admin/v1/openapi.json without a token answered $code"
	"$PYTHON3" - "$doc" "$corigin" "$DAEMON_CACERT" <<'EOF' || fail "$olabel: OpenAPI document and routes differ"
import json, re, subprocess, sys
doc, origin, ca = sys.argv[1:4]
d = json.load(open(doc))
assert d["openapi"].startswith("3."), "not OpenAPI 3"
paths = d["paths"]
assert paths, "no paths documented"
def regex(t):
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(t).replace(r"\{", "{").replace(r"\}", "}")) + "$")
templates = [(regex(t), {m.upper() for m in ops}) for t, ops in paths.items()]
def curl(method, path):
    args = ["curl", "-s", "-o", "/dev/null", "-D", "-", "-X", method, "--cacert", ca, origin + path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    status = int(out.split()[1])
    allow = set()
    for line in out.splitlines():
        if line.lower().startswith("allow:"):
            allow = {m.strip() for m in line.split(":", 1)[1].split(",") if m.strip()}
    return status, allow
bad = []
n_ops = 0
for t, ops in paths.items():
    concrete = re.sub(r"\{[^}]+\}", "1", t)
    expect = set()
    for rx, ms in templates:
        if rx.match(concrete):
            expect |= ms
    status, allow = curl("OPTIONS", concrete)
    if status != 204 or allow != expect:
        bad.append("%s: OPTIONS %s answered %d, Allow %s; documented %s" % (t, concrete, status, sorted(allow), sorted(expect)))
    for m, op in ops.items():
        n_ops += 1
        if "summary" not in op or "responses" not in op:
            bad.append("%s %s: no summary or responses" % (m, t))
        # Routing comes before authentication: without a token a served
        # route answers 401 (200 when public), never the router's 404/405.
        want = 200 if op.get("security") == [] else 401
        status, _ = curl(m.upper(), concrete)
        if status != want:
            bad.append("%s %s: documented, answered %d without a token, not %d" % (m.upper(), concrete, status, want))
for b in bad:
    print("openapi:", b)
print("openapi: %d operations on %d paths checked" % (n_ops, len(paths)))
sys.exit(1 if bad else 0)
EOF
}

# run_pair LABEL MASA-CONF CLOUDREGD-CONF: the whole cross-instance check
run_pair() {
	label=$1 mconf=$2 cconf=$3
	start_daemon "masad_$label" "$MASAD" "$mconf" || fail "$label: masad did not start"
	start_daemon "creg_$label" "$CLOUDREGD" "$cconf" || fail "$label: cloudregd did not start"
	M=$(admin_origin "$mconf")
	C=$(admin_origin "$cconf")

	# Both inserted the same bootstrap token at start: one row, both accept it.
	adm "$M" "$boot" whoami | grep -q '"bootstrap", scope admin' || fail "$label: masad does not take the bootstrap token"
	adm "$C" "$boot" whoami | grep -q '"bootstrap", scope admin' || fail "$label: cloudregd does not take the bootstrap token"
	adm "$C" "$boot" token list --json >"$TEST_TMP/$label-list0.json" || fail "$label: token list"
	[ "$(json_get "$TEST_TMP/$label-list0.json" 'sum(1 for t in j if t["name"] == "bootstrap")')" = 1 ] ||
		fail "$label: the bootstrap token is not stored exactly once"

	# A token made through masad works at cloudregd at once.
	adm "$M" "$boot" token create --name "$label-reader" --scope read >"$TEST_TMP/$label-new.json" ||
		fail "$label: token create through masad"
	json_get "$TEST_TMP/$label-new.json" 'j["token"]' >"$TEST_TMP/$label.tok"
	id=$(json_get "$TEST_TMP/$label-new.json" 'j["id"]')
	adm "$C" "$TEST_TMP/$label.tok" whoami | grep -q "\"$label-reader\", scope read" ||
		fail "$label: cloudregd does not take the token made through masad"
	adm "$C" "$boot" token list --json >"$TEST_TMP/$label-list.json" || fail "$label: token list through cloudregd"
	[ "$(json_get "$TEST_TMP/$label-list.json" "[t['id'] for t in j if t['name'] == '$label-reader']")" = "[$id]" ] ||
		fail "$label: cloudregd does not list token $id"

	# A read token is refused a write at either daemon, as problem+json.
	adm "$C" "$TEST_TMP/$label.tok" token create --name x --scope read 2>"$TEST_TMP/$label-403.err" &&
		fail "$label: a read token created a token"
	grep -q "HTTP 403 Forbidden: .*needs a token with scope 'admin'" "$TEST_TMP/$label-403.err" ||
		{ cat "$TEST_TMP/$label-403.err"; fail "$label: read token on a write route is not a 403 problem"; }

	# Revoked through cloudregd: masad refuses it on the next request.
	adm "$M" "$TEST_TMP/$label.tok" whoami >/dev/null || fail "$label: masad does not take the token before revocation"
	adm "$C" "$boot" token revoke "$id" >/dev/null || fail "$label: revoke through cloudregd"
	adm "$M" "$TEST_TMP/$label.tok" whoami 2>"$TEST_TMP/$label-401.err" &&
		fail "$label: masad still takes token $id after cloudregd revoked it"
	grep -q "HTTP 401 Unauthorized: unknown or revoked token" "$TEST_TMP/$label-401.err" ||
		{ cat "$TEST_TMP/$label-401.err"; fail "$label: revoked token is not a 401 problem"; }
	hdr=$(curl -s -D - -o /dev/null --cacert "$DAEMON_CACERT" -H "Authorization: Bearer $(cat "$TEST_TMP/$label.tok")" "$M/admin/v1/whoami")
	echo "$hdr" | grep -qi '^WWW-Authenticate: Bearer' || fail "$label: 401 without WWW-Authenticate: Bearer"

	# The audit trail is one: both daemons list the same rows, in order,
	# the write through masad and the revocation through cloudregd.
	adm "$M" "$boot" audit list --json >"$TEST_TMP/$label-audit-m.json" || fail "$label: audit list through masad"
	adm "$C" "$boot" audit list --json >"$TEST_TMP/$label-audit-c.json" || fail "$label: audit list through cloudregd"
	cmp -s "$TEST_TMP/$label-audit-m.json" "$TEST_TMP/$label-audit-c.json" || fail "$label: the daemons list different audit trails"
	[ "$(json_get "$TEST_TMP/$label-audit-m.json" '[(a["method"], a["route"], a["status"]) for a in j]')" = \
		"[('POST', '/admin/v1/tokens', 201), ('DELETE', '/admin/v1/tokens/$id', 200)]" ] ||
		{ cat "$TEST_TMP/$label-audit-m.json"; fail "$label: audit rows"; }
	[ "$(json_get "$TEST_TMP/$label-audit-m.json" '(j[1]["before"]["revoked"], j[1]["after"]["revoked"] > 0)')" = "(None, True)" ] ||
		fail "$label: the revocation's audit row lacks before/after"
	adm "$C" "$boot" audit export --format csv --output "$TEST_TMP/$label-audit.csv" || fail "$label: audit export csv"
	[ "$(wc -l <"$TEST_TMP/$label-audit.csv")" -eq 3 ] || { cat "$TEST_TMP/$label-audit.csv"; fail "$label: CSV export is not a header and 2 rows"; }
	adm "$M" "$boot" audit export --method DELETE >"$TEST_TMP/$label-audit.jsonl" || fail "$label: audit export jsonl"
	[ "$(wc -l <"$TEST_TMP/$label-audit.jsonl")" -eq 1 ] || fail "$label: filtered JSON lines export"
	# since/until take the RFC 3339 times the rows show, or Unix seconds.
	adm "$M" "$boot" audit list --json --since 2000-01-01T00:00:00Z >"$TEST_TMP/$label-since.json" ||
		fail "$label: audit list --since RFC 3339"
	[ "$(json_get "$TEST_TMP/$label-since.json" 'len(j)')" = 2 ] || fail "$label: --since 2000 does not list both rows"
	adm "$M" "$boot" audit list --json --until 946684800 >"$TEST_TMP/$label-until.json" ||
		fail "$label: audit list --until Unix seconds"
	[ "$(json_get "$TEST_TMP/$label-until.json" 'len(j)')" = 0 ] || fail "$label: --until 2000 lists rows"
	adm "$M" "$boot" audit list --since yesterday 2>"$TEST_TMP/$label-since.err" && fail "$label: --since yesterday accepted"
	grep -q "RFC 3339" "$TEST_TMP/$label-since.err" || { cat "$TEST_TMP/$label-since.err"; fail "$label: bad --since without a reason"; }

	check_openapi "$M" "masad-$label"
	check_openapi "$C" "cloudregd-$label"

	# A revoked bootstrap token stays revoked when the daemon starts again
	# with the same token file, and the daemon says so.
	adm "$M" "$boot" token create --name "$label-admin" --scope admin >"$TEST_TMP/$label-adm.json" ||
		fail "$label: admin token create"
	json_get "$TEST_TMP/$label-adm.json" 'j["token"]' >"$TEST_TMP/$label-adm.tok"
	bid=$(json_get "$TEST_TMP/$label-list0.json" "[t['id'] for t in j if t['name'] == 'bootstrap'][0]")
	adm "$M" "$TEST_TMP/$label-adm.tok" token revoke "$bid" >/dev/null || fail "$label: revoke the bootstrap token"
	stop_daemon "masad_$label" || fail "$label: masad did not stop cleanly"
	start_daemon "masad_$label" "$MASAD" "$mconf" || fail "$label: masad did not start again"
	grep -q "bootstrap token from .* was revoked and stays revoked" "$TEST_TMP/masad_$label.log" ||
		fail "$label: the restart does not say the bootstrap token is revoked"
	adm "$M" "$boot" whoami >/dev/null 2>&1 && fail "$label: the revoked bootstrap token works again after a restart"

	stop_daemon "masad_$label" || fail "$label: masad did not stop cleanly"
	stop_daemon "creg_$label" || fail "$label: cloudregd did not stop cleanly"
}

# ---- SQLite: both configurations name DIR/cloud.db ------------------------------
[ "$(ini_get "$pki/masad.conf" daemon database)" = "$(ini_get "$pki/cloudregd-cloud.conf" daemon database)" ] ||
	fail "brski pki init gave masad and cloudregd different databases"
run_pair sqlite "$pki/masad.conf" "$pki/cloudregd-cloud.conf"

# ---- PostgreSQL: the same with the database set to one private database --------
pg_start || exit 99
# pg_start replaced the EXIT trap: stop the daemons first, then the
# cluster, then report as daemon.sh does.
trap 'rc=$?; for n in $DAEMONS; do stop_daemon "$n" >/dev/null 2>&1; done; pg_stop; (exit $rc); daemon_cleanup' EXIT
for c in masad cloudregd-cloud; do
	awk -v db="$PG_URI" '
		/^\[/ { sec = $0 }
		sec == "[daemon]" && /^database[ \t]*=/ { print "database = " db; next }
		{ print }' "$pki/$c.conf" >"$TEST_TMP/$c-pg.conf"
	grep -q "^database = postgresql://" "$TEST_TMP/$c-pg.conf" || fail "could not set the database of $c.conf"
done
run_pair pg "$TEST_TMP/masad-pg.conf" "$TEST_TMP/cloudregd-cloud-pg.conf"

# The framework's unit cases again, each on a new database of this server
# (concurrent bootstrap, pagination, audit in the write's transaction).
unit=$top_builddir/tests/unit/service/test_admin
if [ -x "$unit" ]; then
	BRSKI_TEST_PG_URI=$PG_URI BRSKI_TEST_PG_URI_BASE=$PG_URI_BASE "$unit" >"$TEST_TMP/unit-pg.log" 2>&1 ||
		{ cat "$TEST_TMP/unit-pg.log"; fail "test_admin on PostgreSQL"; }
	grep -q 'backend: postgresql' "$TEST_TMP/unit-pg.log" || fail "test_admin did not run on PostgreSQL"
fi
echo "test-admin: SQLite and PostgreSQL pairs passed"
exit 0
