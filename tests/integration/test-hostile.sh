#!/bin/sh
# The hostile-input matrix (issue 9 item 1): every row of
# tests/hostile/cases.tsv sent by tests/hostile/driver.py to masad and the
# cloud registrar (cloudregd) sharing one SQLite store: the exact status,
# a body that says why, the disposition row of the request log (masad's
# voucher_requests, cloudregd's pledge_requests) for every answer of a
# voucher, status or EST endpoint, no 5xx, the daemons alive after every
# row (slow, truncated and half-open clients included), and every table but
# the append-only request logs unchanged from before the first row to after
# the last. Then cloudregd's log read back through its admin API.
# Then: the daemons' logs of the whole run hold neither the admin tokens
# nor any private key.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 3 >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; exit 99; }
jget() { pki_get "$D" "$1"; }
TOKEN=$(cat "$D/admin-token")
DAEMON_CACERT=$(jget tls_ca)
MASA_ADMIN=$(admin_origin "$D/masad.conf")
CLOUD_ADMIN=$(admin_origin "$D/cloudregd-cloud.conf")
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$D/cloudregd-cloud.conf" || fail "cloudregd did not start"

# admin METHOD PATH JSON [TOKEN]: the body in $TEST_TMP/admin.out, prints the status
admin() {
	printf '%s' "$3" >"$TEST_TMP/admin.in"
	curl -s -o "$TEST_TMP/admin.out" -w '%{http_code}' --cacert "$DAEMON_CACERT" \
		-H "Authorization: Bearer ${4:-$TOKEN}" -H 'Content-Type: application/json' \
		-X "$1" --data-binary "@$TEST_TMP/admin.in" "$MASA_ADMIN/admin/v1$2"
}
jfile() { "$PYTHON3" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; }
want() { # STATUS CODE WHAT
	[ "$2" = "$1" ] || { cat "$TEST_TMP/admin.out"; fail "$3: status $2, want $1"; }
}

# ---- the world the matrix runs against ------------------------------------
ca=$(jfile "$D/owner-domain-ca.crt")
want 201 "$(admin POST /owners "{\"name\":\"acme-owner\",\"domain_ca\":$ca,\"registrar_url\":\"$(jget owner.registrar.url)/.well-known/brski/requestvoucher\",\"enroll_here\":true}")" "owner acme-owner"
want 201 "$(admin POST /owners "{\"name\":\"other\",\"domain_ca\":$(jfile "$D/cloud-domain-ca.crt")}")" "owner other"
want 201 "$(admin POST /devices '{"serial":"pledge-0001","owner":"acme-owner","mode":"redirect"}')" "device pledge-0001"
want 201 "$(admin POST /devices '{"serial":"pledge-0002","owner":"acme-owner","mode":"enroll-here"}')" "device pledge-0002"
want 201 "$(admin POST /devices '{"serial":"pledge-0003"}')" "device pledge-0003 (no owner)"
tok() { # SCOPE [OWNER]: a new token's text
	if [ -n "${2:-}" ]; then o=",\"owner\":\"$2\""; else o=; fi
	want 201 "$(admin POST /tokens "{\"name\":\"t-$1\",\"scope\":\"$1\"$o}")" "token $1"
	"$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$TEST_TMP/admin.out"
}
T_READ=$(tok read)
T_WRITE=$(tok write)
T_OWNER=$(tok write acme-owner)

set -- --pki "$D" --work "$TEST_TMP" --db "$D/cloud.db" --brski "$BRSKI" \
	--url "masa=https://$(ini_get "$D/masad.conf" brski listen)" --url "masa-admin=$MASA_ADMIN" \
	--url "cloud=$(jget cloud_registrar.url)" --url "cloud-admin=$CLOUD_ADMIN" \
	--url "cloud-est=$(jget cloud_registrar.est.url)" \
	--token "read=$T_READ" --token "write=$T_WRITE" --token "owner=$T_OWNER"

# Controls first (they change the store: a voucher is an audit event): the
# builders make requests the daemons accept, so a refusal in the matrix is
# the condition of its row and not a broken fixture.
"$PYTHON3" "$top_srcdir/tests/hostile/driver.py" "$@" \
	--controls "$top_srcdir/tests/hostile/controls.tsv" \
	--cases "$top_srcdir/tests/hostile/cases.tsv" >"$TEST_TMP/matrix.out" 2>&1
rc=$?
cat "$TEST_TMP/matrix.out"
[ $rc = 0 ] || fail "the hostile-input matrix"

# ---- cloudregd's request log through its admin API --------------------------
# Every row the matrix checked by request id is also what an operator reads:
# the device's rows (an owner's token sees its own device only) and all.
cadmin() { # PATH [TOKEN]: the body in $TEST_TMP/cadmin.out, prints the status
	curl -s -o "$TEST_TMP/cadmin.out" -w '%{http_code}' --cacert "$DAEMON_CACERT" \
		-H "Authorization: Bearer ${2:-$TOKEN}" "$CLOUD_ADMIN/admin/v1$1"
}
# count DISPOSITION [SERIAL]: rows in the store
count() {
	"$PYTHON3" -c 'import sqlite3,sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
q, a = "SELECT COUNT(*) FROM pledge_requests WHERE disposition = ?", [sys.argv[2]]
if len(sys.argv) > 3:
    q += " AND serial = ?"
    a.append(sys.argv[3])
print(con.execute(q, a).fetchone()[0])' "$D/cloud.db" "$@"
}
# items FILE DISPOSITION: the items of an admin answer with that disposition
items() {
	"$PYTHON3" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(sum(1 for i in d["items"] if i["disposition"] == sys.argv[2]))' "$TEST_TMP/cadmin.out" "$1"
}
st=$(cadmin "/devices/pledge-0001/requests?limit=1000" "$T_READ")
[ "$st" = 200 ] || { cat "$TEST_TMP/cadmin.out"; fail "GET /devices/pledge-0001/requests: $st"; }
n=$(count malformed pledge-0001)
[ "$n" -gt 0 ] && [ "$(items malformed)" = "$n" ] ||
	fail "the admin API lists $(items malformed) malformed rows of pledge-0001, the store holds $n"
[ "$(items redirected)" = "$(count redirected pledge-0001)" ] || fail "redirected rows differ"
grep -q '"endpoint":"brski/voucher_status"' "$TEST_TMP/cadmin.out" || fail "no voucher_status row"
grep -q '"client_cert":"[0-9a-f]\{64\}"' "$TEST_TMP/cadmin.out" || fail "no client certificate hash"
st=$(cadmin "/requests?limit=1000")
[ "$st" = 200 ] || fail "GET /requests: $st"
[ "$(items no-client-cert)" = "$(count no-client-cert)" ] || fail "no-client-cert rows differ"
[ "$(cadmin /devices/pledge-0003/requests "$T_OWNER")" = 404 ] ||
	fail "an owner's token reads the request log of another owner's device"
[ "$(cadmin /requests "$T_OWNER")" = 403 ] || fail "an owner's token reads the whole request log"

# ---- no secrets in the logs of the whole run --------------------------------
stop_daemon masa
stop_daemon cloud
for f in "$TEST_TMP/masa.log" "$TEST_TMP/cloud.log"; do
	[ -s "$f" ] || fail "$f is empty: the log check would prove nothing"
	for secret in "$TOKEN" "$T_READ" "$T_WRITE" "$T_OWNER"; do
		grep -qF -- "$secret" "$f" && fail "$f holds an admin token"
	done
	grep -q 'PRIVATE KEY' "$f" && fail "$f holds a private key"
	# the keys' base64 bodies, in case they were logged without markers
	for k in "$D/masa-sign.key" "$D/masa-tls.key" "$D/cloud-registrar.key"; do
		line=$(sed -n 2p "$k")
		grep -qF -- "$line" "$f" && fail "$f holds part of $k"
	done
done
echo "PASS: $(grep -c '^ok' "$TEST_TMP/matrix.out") rows; no token or key in the logs"
exit 0
