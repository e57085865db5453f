# Helpers for tests of masad (sourced after tests/lib/daemon.sh).
#
#   jget FILE EXPR            print a Python expression over d = the JSON in FILE
#   jstr FILE                 the contents of FILE as a JSON string
#   masa_api TOKEN METHOD PATH [JSON]
#                             call the admin API ($MASA_ADMIN); the body goes
#                             to $TEST_TMP/api.out; prints the status
#   mkvr OUT FORMAT KEY CHAIN [brski voucher create options...]
#                             build a voucher-request and sign it
#                             (FORMAT cms|cose|jws) with KEY and CHAIN
#   masa_post ENDPOINT CTYPE FILE [ACCEPT] [CURL-ARGS...]
#                             POST FILE to /.well-known/brski/ENDPOINT on
#                             $MASA_BRSKI; body in $TEST_TMP/resp, headers in
#                             $TEST_TMP/resp.h; prints the status
#   flip_last_byte IN OUT     copy IN with its last byte inverted
#   ctype FMT                 the media type of cms|cose|jws

jget() {
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)' "$1" "$2"
}

jstr() {
	"$PYTHON3" -c 'import json, sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"
}

masa_api() {
	tok=$1 method=$2 path=$3
	set -- -sS -o "$TEST_TMP/api.out" -w '%{http_code}' --cacert "$DAEMON_CACERT" -X "$method"
	[ -n "$tok" ] && set -- "$@" -H "Authorization: Bearer $tok"
	if [ -n "${MASA_API_BODY:-}" ]; then
		set -- "$@" -H 'Content-Type: application/json' --data-binary "@$MASA_API_BODY"
	fi
	curl "$@" "$MASA_ADMIN/admin/v1$path"
}

# masa_api with a JSON body given as text
masa_apij() {
	printf '%s' "$4" >"$TEST_TMP/api.in"
	MASA_API_BODY=$TEST_TMP/api.in masa_api "$1" "$2" "$3"
}

ctype() {
	case $1 in
	cms) echo application/voucher-cms+json ;;
	cose) echo application/voucher+cose ;;
	jws) echo application/voucher-jws+json ;;
	esac
}

mkvr() {
	out=$1 fmt=$2 key=$3 chain=$4
	shift 4
	"$BRSKI" voucher create --kind request "$@" --out "$out.json" || return 1
	"$BRSKI" voucher sign --key "$key" --cert "$chain" --format "$fmt" "$out.json" "$out" \
		2>/dev/null || return 1
}

masa_post() {
	ep=$1 ct=$2 file=$3 accept=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	set -- -sS -o "$TEST_TMP/resp" -D "$TEST_TMP/resp.h" -w '%{http_code}' \
		--cacert "$DAEMON_CACERT" -H "Content-Type: $ct" --data-binary "@$file" "$@"
	[ -n "$accept" ] && set -- "$@" -H "Accept: $accept"
	curl "$@" "$MASA_BRSKI/.well-known/brski/$ep"
}

flip_last_byte() {
	"$PYTHON3" -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-1] ^= 0xff
open(sys.argv[2], "wb").write(b)' "$1" "$2"
}
