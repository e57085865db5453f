# Helpers for integration tests that run the real daemons on loopback.
# Source it from a test script:  . "$top_srcdir/tests/lib/daemon.sh"
#
# Provides:
#   TEST_TMP                    a private temp dir (removed on success)
#   BRSKI MASAD CLOUDREGD       the programs of this build ($top_builddir)
#   DAEMON_CACERT               PEM file curl uses to verify the daemons
#                               (set it before start_daemon)
#   ini_get FILE SECTION KEY    print a key of an INI file
#   free_port                   print a TCP port free on 127.0.0.1 now
#   start_daemon NAME BINARY CONFIG [ARGS...]
#                               start in the background, log in
#                               $TEST_TMP/NAME.log, wait for /healthz on the
#                               [admin] listener; 0 when ready
#   daemon_pid NAME             print the pid
#   stop_daemon NAME            SIGTERM, wait (DAEMON_STOP_TRIES x 0.1 s),
#                               then SIGKILL; returns the daemon's exit status
#   fail MESSAGE                print and exit 1
# On exit every daemon still running is stopped; when the test failed, each
# daemon's log is printed and TEST_TMP is kept.

: "${top_builddir:?top_builddir must be set (make check sets it)}"
: "${top_srcdir:?top_srcdir must be set (make check sets it)}"

BRSKI=$top_builddir/tools/brski
MASAD=$top_builddir/masa/masad
CLOUDREGD=$top_builddir/cloudreg/cloudregd
PYTHON3=${PYTHON3:-python3}
OPENSSL=${OPENSSL:-openssl}
DAEMON_READY_TRIES=${DAEMON_READY_TRIES:-100}
DAEMON_STOP_TRIES=${DAEMON_STOP_TRIES:-150}
DAEMON_CACERT=${DAEMON_CACERT:-}
DAEMONS=

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/brski-test.XXXXXX") || exit 99

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ini_get() {
	awk -v sec="$2" -v key="$3" '
		/^[ \t]*\[/ { s = $0; gsub(/[ \t\[\]]/, "", s); next }
		s == sec {
			line = $0
			sub(/^[ \t]*/, "", line)
			n = index(line, "=")
			if (n == 0) next
			k = substr(line, 1, n - 1); gsub(/[ \t]/, "", k)
			if (k != key) next
			v = substr(line, n + 1); sub(/^[ \t]*/, "", v); sub(/[ \t]*$/, "", v)
			print v; exit
		}' "$1"
}

free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

daemon_pid() {
	eval "echo \${DAEMON_PID_$1:-}"
}

# pem_certs [N]: the certificate blocks of PEM text on stdin (openssl's
# -print_certs output, say), all of them or only the Nth. Anchored on the
# whole marker lines: a base64 line may well contain "END".
pem_certs() {
	awk -v want="${1:-0}" '/^-----BEGIN CERTIFICATE-----$/ { n++; on = (want == 0 || n == want) }
		on { print } /^-----END CERTIFICATE-----$/ { on = 0 }'
}

# pki_get DIR KEY: a value of DIR/pki.json, the manifest of `brski pki
# init` (KEY a dotted path: "owner.est.url", "pledges.0.serial").
pki_get() {
	"$PYTHON3" -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$1/pki.json" "$2"
}

# The admin origin of a configuration: https://host:port
admin_origin() {
	hp=$(ini_get "$1" admin listen)
	[ -n "$hp" ] || return 1
	echo "https://$hp"
}

start_daemon() {
	name=$1 binary=$2 config=$3
	shift 3
	log=$TEST_TMP/$name.log
	origin=$(admin_origin "$config") || fail "start_daemon $name: $config has no [admin] listen"
	[ -n "$DAEMON_CACERT" ] || fail "start_daemon $name: set DAEMON_CACERT first"
	"$binary" -c "$config" "$@" >>"$log" 2>&1 &
	pid=$!
	eval "DAEMON_PID_$name=$pid"
	DAEMONS="$DAEMONS $name"
	tries=0
	while [ "$tries" -lt "$DAEMON_READY_TRIES" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			echo "start_daemon $name: exited with status $? before it was ready" >&2
			eval "DAEMON_PID_$name="
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			--cacert "$DAEMON_CACERT" "$origin/healthz" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		tries=$((tries + 1))
		sleep 0.1
	done
	echo "start_daemon $name: $origin/healthz not ready after $tries tries" >&2
	return 1
}

stop_daemon() {
	name=$1
	pid=$(daemon_pid "$name")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	tries=0
	while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt "$DAEMON_STOP_TRIES" ]; do
		# a zombie still answers kill -0; reap it once it has exited
		if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
			break
		fi
		tries=$((tries + 1))
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && ! [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
		echo "stop_daemon $name: still running after SIGTERM, sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid"
	status=$?
	eval "DAEMON_PID_$name="
	return $status
}

daemon_cleanup() {
	rc=$?
	for n in $DAEMONS; do
		stop_daemon "$n" >/dev/null 2>&1
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for n in $DAEMONS; do
			if [ -f "$TEST_TMP/$n.log" ]; then
				echo "---- log of $n ($TEST_TMP/$n.log) ----"
				cat "$TEST_TMP/$n.log"
			fi
		done
		echo "test files kept in $TEST_TMP"
	else
		rm -rf "$TEST_TMP"
	fi
	exit "$rc"
}
trap daemon_cleanup EXIT
trap 'exit 1' INT TERM HUP
