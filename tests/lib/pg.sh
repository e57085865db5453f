# tests/lib/pg.sh: a private PostgreSQL 15 cluster for one test (sourced).
#
#   . "$top_srcdir/tests/lib/pg.sh"
#   pg_start || exit 99      # sets PG_URI, PG_URI_BASE, PG_PORT, PG_DIR
#   ... run things against "$PG_URI" ...
#   pg_restart               # pg_ctl restart, waits until ready again
#
# The cluster lives in a temp dir owned by the postgres system user (the
# server refuses to run as root, and tests run as root), listens on
# 127.0.0.1 on a free port and on a unix socket in that dir, and is stopped
# and removed when the shell exits (pg_start sets an EXIT trap; a script
# with its own EXIT trap must call pg_stop from it). Readiness is polled
# with pg_isready, never waited for with a fixed sleep. When the cluster
# cannot start, pg_start says so loudly and returns 1: a test that needs
# PostgreSQL then fails (exit 99), it does not skip.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-postgres}
PG_DIR=
PG_PORT=
PG_URI=
PG_URI_BASE=

pg__as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

pg__fail() {
	echo "pg.sh: FAILED: $*" >&2
	if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/log" ]; then
		echo "pg.sh: ---- server log ($PG_DIR/log) ----" >&2
		tail -n 40 "$PG_DIR/log" >&2
	fi
	return 1
}

pg__free_port() {
	"${PYTHON3:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Poll until the server accepts connections (at most about 30 s).
pg_wait_ready() {
	pg__i=0
	while [ $pg__i -lt 300 ]; do
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1; then
			return 0
		fi
		if [ -f "$PG_DIR/pid" ] && ! kill -0 "$(cat "$PG_DIR/pid")" 2>/dev/null; then
			return 1
		fi
		pg__i=$((pg__i + 1))
		sleep 0.1
	done
	return 1
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pg__as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}

pg_start() {
	[ -x "$PG_BIN/initdb" ] || { pg__fail "no $PG_BIN/initdb (Debian package postgresql-15)"; return 1; }
	if [ "$(id -u)" = 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
		pg__fail "no system user $PG_USER to run the server as"
		return 1
	fi
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brski-pg.XXXXXX") || { pg__fail "mktemp"; return 1; }
	trap pg_stop EXIT
	trap 'pg_stop; exit 99' INT TERM
	chmod 700 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown "$PG_USER" "$PG_DIR"
	if ! pg__as_user "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 \
		--locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		cat "$PG_DIR/initdb.log" >&2
		pg__fail "initdb"
		return 1
	fi
	# A port taken between choosing and binding makes the start fail:
	# choose again, a few times.
	for pg__attempt in 1 2 3; do
		PG_PORT=$(pg__free_port) || { pg__fail "no free port"; return 1; }
		pg__as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -W \
			-o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" \
			start >/dev/null 2>&1
		if pg_wait_ready; then
			break
		fi
		pg__as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { pg__fail "postgres did not become ready"; return 1; }
	PG_URI_BASE="postgresql://postgres@127.0.0.1:$PG_PORT/"
	PG_URI="${PG_URI_BASE}postgres"
	# A command a test program can run to restart the server under it.
	cat >"$PG_DIR/restart.sh" <<EOT
#!/bin/sh
# Restart the test cluster and wait until it answers again.
if [ "\$(id -u)" = 0 ]; then run="runuser -u $PG_USER --"; else run=; fi
\$run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -m fast -w restart >/dev/null || exit 1
i=0
while [ \$i -lt 300 ]; do
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PG_PORT -t 1 && exit 0
	i=\$((i + 1))
	sleep 0.1
done
exit 1
EOT
	chmod 755 "$PG_DIR/restart.sh"
	export PG_URI PG_URI_BASE PG_PORT PG_DIR
	return 0
}

pg_restart() {
	"$PG_DIR/restart.sh" || { pg__fail "restart"; return 1; }
}
