#!/bin/sh
# The protections of issue 9 item 5 on a running masad:
#   rate limits: with low [limits], a source address past its burst gets 429
#   with Retry-After (other addresses and listeners keep theirs), a client
#   certificate past its burst gets 429 (another certificate does not), and
#   the defaults never limit a busy client;
#   TLS: 1.1, CBC and RSA-key-exchange suites refused, 1.2 AEAD and 1.3
#   served (openssl s_client);
#   privilege drop: run as root with [daemon] user = nobody, the process's
#   real, effective, saved and filesystem uids are nobody's after binding,
#   and it still serves and writes its store;
#   cloudregd: a client certificate past its burst gets 429, and each
#   request up to it has its row in cloudregd's request log.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" --pledges 1 >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; exit 99; }
DAEMON_CACERT=$D/tls-ca.crt
TOKEN=$(cat "$D/admin-token")
conf=$TEST_TMP/masad.conf
cp "$D/masad.conf" "$conf"
cat >>"$conf" <<'EOF'

[limits]
address_rate = 1
address_burst = 6
cert_rate = 1
cert_burst = 3
EOF
start_daemon masa "$MASAD" "$conf" || fail "masad did not start"
ADMIN=$(admin_origin "$conf")
BRSKI_URL=https://$(ini_get "$conf" brski listen)

# get URL [CURL-ARGS...]: status; headers in $TEST_TMP/h, body in $TEST_TMP/b
get() {
	u=$1
	shift
	curl -s -o "$TEST_TMP/b" -D "$TEST_TMP/h" -w '%{http_code}' --cacert "$DAEMON_CACERT" "$@" "$u"
}

# ---- per source address ------------------------------------------------------
# The bucket holds 6 and gains 1 a second: 12 requests in a row cannot all
# pass, and the first refusal comes with Retry-After and says why.
n=0 limited=
while [ $n -lt 12 ]; do
	code=$(get "$ADMIN/healthz")
	n=$((n + 1))
	if [ "$code" = 429 ]; then
		limited=$n
		break
	fi
	[ "$code" = 200 ] || fail "healthz $n: $code"
done
[ -n "$limited" ] || fail "12 requests from one address at 1/s with a burst of 6: none refused"
[ "$limited" -ge 6 ] || fail "refused after $limited requests, before the burst of 6 was used"
ra=$(tr -d '\r' <"$TEST_TMP/h" | awk -F': ' 'tolower($1) == "retry-after" {print $2}')
[ -n "$ra" ] && [ "$ra" -ge 1 ] || fail "429 without a Retry-After of at least 1 s: $(cat "$TEST_TMP/h")"
grep -q 'too many requests from address 127.0.0.1' "$TEST_TMP/b" || fail "429 body: $(cat "$TEST_TMP/b")"
# another address is not limited by it, nor is another listener
code=$(get "$ADMIN/healthz" --interface 127.0.0.2)
[ "$code" = 200 ] || fail "127.0.0.2 after 127.0.0.1 was limited: $code"
code=$(get "$BRSKI_URL/.well-known/brski/requestvoucher" -X POST -H 'Content-Type: text/plain' --data x)
[ "$code" = 415 ] || fail "the brski listener shares the admin listener's bucket: $code"
# and the bucket refills: wait what Retry-After said (polling, bounded)
tries=0
while [ "$(get "$ADMIN/healthz")" != 200 ]; do
	tries=$((tries + 1))
	[ $tries -lt 50 ] || fail "127.0.0.1 still limited after 5 s"
	sleep 0.1
done

# ---- per client certificate ------------------------------------------------------
# cert_burst 3 < address_burst 6: the certificate's bucket empties first,
# even though each request comes from a new source port.
cert() { echo --cert "$D/$1.chain.pem" --key "$D/$1.key"; }
# The bucket refills at cert_rate (1/s) while the requests go out, so on a
# slow machine a little more than the burst may pass: allow one more success
# for each started second, never fewer than the burst.
n=0 limited=
t0=$(date +%s%N)
while [ $n -lt 12 ]; do
	# shellcheck disable=SC2046
	code=$(get "$BRSKI_URL/.well-known/brski/requestvoucher" -X POST \
		-H 'Content-Type: text/plain' --data x $(cert owner-registrar) --interface 127.0.0.3)
	n=$((n + 1))
	[ "$code" = 429 ] && { limited=$n; break; }
	[ "$code" = 415 ] || fail "request $n with the registrar certificate: $code"
done
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
max_ok=$((3 + (elapsed_ms + 999) / 1000))
[ -n "$limited" ] && [ $((limited - 1)) -ge 3 ] && [ $((limited - 1)) -le $max_ok ] ||
	fail "the certificate limit (burst 3, 1/s) refused request ${limited:-none} after ${elapsed_ms} ms, want 4..$((max_ok + 1))"
grep -q 'too many requests with this client certificate' "$TEST_TMP/b" || fail "429 body: $(cat "$TEST_TMP/b")"
grep -qi '^retry-after: [1-9]' "$TEST_TMP/h" || fail "certificate 429 without Retry-After"
# the refusal is in the MASA's request log, under its request id
rid=$(tr -d '\r' <"$TEST_TMP/h" | awk -F': ' 'tolower($1) == "x-request-id" {print $2}')
disp=$("$PYTHON3" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("SELECT disposition, status FROM voucher_requests WHERE request_id = ?",
                (sys.argv[2],)).fetchall())' "$(ini_get "$conf" daemon database)" "$rid")
[ "$disp" = "[('rate-limited', 429)]" ] || fail "request log for the 429 ($rid): $disp"
# shellcheck disable=SC2046
code=$(get "$BRSKI_URL/.well-known/brski/requestvoucher" -X POST -H 'Content-Type: text/plain' \
	--data x $(cert cloud-registrar) --interface 127.0.0.3)
[ "$code" = 415 ] || fail "another certificate from the same address was limited: $code"
stop_daemon masa

# ---- cloudregd: the 429 and every refusal before it have their request-log rows ----
cconf=$TEST_TMP/cloudregd.conf
cp "$D/cloudregd-cloud.conf" "$cconf"
cat >>"$cconf" <<'EOF'

[limits]
cert_rate = 1
cert_burst = 3
EOF
start_daemon cloud "$CLOUDREGD" "$cconf" || fail "cloudregd did not start"
CLOUD_URL=https://$(ini_get "$cconf" brski listen)
pledge="--cert $D/pledges/pledge-0001.chain.pem --key $D/pledges/pledge-0001.key"
n=0 limited= rids=
while [ $n -lt 12 ]; do
	# shellcheck disable=SC2086
	code=$(get "$CLOUD_URL/.well-known/brski/requestvoucher" -X POST \
		-H 'Content-Type: text/plain' --data x $pledge)
	n=$((n + 1))
	rids="$rids $(tr -d '\r' <"$TEST_TMP/h" | awk -F': ' 'tolower($1) == "x-request-id" {print $2}')"
	[ "$code" = 429 ] && { limited=$n; break; }
	[ "$code" = 415 ] || fail "cloudregd request $n with pledge-0001's certificate: $code"
done
[ -n "$limited" ] || fail "cloudregd: 12 requests at cert_burst 3: none refused"
grep -qi '^retry-after: [1-9]' "$TEST_TMP/h" || fail "cloudregd 429 without Retry-After"
# one row per request, under its id: media-type 415 until the last, then
# rate-limited 429, each with the pledge's serialNumber and certificate hash
# shellcheck disable=SC2086
rows=$("$PYTHON3" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for rid in sys.argv[2:]:
    r = c.execute("SELECT disposition, status, serial, endpoint, length(client_cert)"
                  " FROM pledge_requests WHERE request_id = ?", (rid,)).fetchall()
    print(" ".join(map(str, r[0])) if len(r) == 1 else "rows=%d" % len(r))' \
	"$(ini_get "$cconf" daemon database)" $rids)
want=$(
	i=1
	while [ $i -lt "$limited" ]; do
		echo "media-type 415 pledge-0001 brski/requestvoucher 64"
		i=$((i + 1))
	done
	echo "rate-limited 429 pledge-0001 brski/requestvoucher 64"
)
[ "$rows" = "$want" ] || fail "cloudregd request log: got
$rows
want
$want"
stop_daemon cloud

# ---- the defaults do not limit a busy client ---------------------------------------
conf2=$TEST_TMP/masad-defaults.conf
cp "$D/masad.conf" "$conf2"
start_daemon masa2 "$MASAD" "$conf2" || fail "masad (default limits) did not start"
ADMIN2=$(admin_origin "$conf2")
# 300 requests as fast as one client can send them, on one connection each
seq 300 | sed "s|.*|url = \"$ADMIN2/healthz\"|" >"$TEST_TMP/urls"
curl -s --cacert "$DAEMON_CACERT" -K "$TEST_TMP/urls" -o /dev/null -w '%{http_code}\n' \
	>"$TEST_TMP/codes"
[ "$(grep -c '^200$' "$TEST_TMP/codes")" = 300 ] ||
	fail "default limits refused a busy client: $(sort "$TEST_TMP/codes" | uniq -c)"

# ---- TLS versions and ciphers ----------------------------------------------------------
BRSKI2=$(ini_get "$conf2" brski listen)
# s_client ARGS...: the cipher negotiated, "(NONE)" when refused
s_client() {
	echo | timeout 10 "$OPENSSL" s_client -connect "$BRSKI2" "$@" 2>&1 |
		sed -n 's/.*Cipher is \(.*\)/\1/p' | head -1
}
# The client is told to allow what the server must refuse (SECLEVEL=0), so
# a refusal is the server's.
[ "$(s_client -tls1_1 -cipher 'DEFAULT@SECLEVEL=0')" = "(NONE)" ] || fail "TLS 1.1 accepted"
[ "$(s_client -tls1_2 -cipher 'AES128-SHA@SECLEVEL=0')" = "(NONE)" ] ||
	fail "a CBC suite with RSA key exchange accepted"
[ "$(s_client -tls1_2 -cipher 'AES128-GCM-SHA256@SECLEVEL=0')" = "(NONE)" ] ||
	fail "RSA key exchange (no forward secrecy) accepted"
[ "$(s_client -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0')" = "(NONE)" ] ||
	fail "a CBC suite with ECDHE accepted"
c=$(s_client -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
[ "$c" = ECDHE-ECDSA-AES128-GCM-SHA256 ] || fail "TLS 1.2 ECDHE AEAD refused ($c)"
c=$(s_client -tls1_3)
case $c in TLS_AES_*_GCM_* | TLS_CHACHA20_*) ;; *) fail "TLS 1.3 refused ($c)" ;; esac
stop_daemon masa2

# ---- privilege drop after binding -------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "not root: the privilege drop is tested where the suite runs as root"
	exit 0
fi
id nobody >/dev/null 2>&1 || fail "no user nobody"
priv=$TEST_TMP/priv
mkdir "$priv"
cp -r "$D/." "$priv/"
rm -f "$priv"/*.db*
sed "s|$D|$priv|g" "$D/masad.conf" >"$priv/masad.conf"
# user = nobody in [daemon]: the key goes right after the section header
sed -i 's|^\[daemon\]$|[daemon]\nuser = nobody|' "$priv/masad.conf"
grep -q '^user = nobody' "$priv/masad.conf" || fail "fixture: user not set"
# nobody must reach its store after the drop (the keys were read as root)
chmod 755 "$TEST_TMP"
chown nobody "$priv"
start_daemon masa3 "$MASAD" "$priv/masad.conf" || fail "masad with user = nobody did not start"
pid=$(daemon_pid masa3)
uid=$(id -u nobody)
awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status" >"$TEST_TMP/uid"
[ "$(cat "$TEST_TMP/uid")" = "$uid $uid $uid $uid" ] ||
	fail "masad uids after the drop: $(cat "$TEST_TMP/uid"), want $uid (nobody) four times"
gid=$(id -g nobody)
[ "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" = "$gid $gid $gid $gid" ] ||
	fail "masad gids after the drop: $(grep ^Gid: "/proc/$pid/status")"
grep -q '^Groups:.*\b0\b' "/proc/$pid/status" && fail "masad kept the root group"
grep -q 'running as user nobody' "$TEST_TMP/masa3.log" || fail "the drop is not logged"
# still serving, and writing its store
ADMIN3=$(admin_origin "$priv/masad.conf")
code=$(curl -s -o "$TEST_TMP/b" -w '%{http_code}' --cacert "$DAEMON_CACERT" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data '{"serial":"after-drop"}' "$ADMIN3/admin/v1/devices")
[ "$code" = 201 ] || fail "a write after the drop: $code $(cat "$TEST_TMP/b")"
stop_daemon masa3 || fail "masad (nobody) did not stop cleanly"
echo "PASS: rate limits, TLS versions and ciphers, privilege drop"
exit 0
