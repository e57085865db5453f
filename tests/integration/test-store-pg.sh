#!/bin/sh
# The store's unit cases (tests/unit/service/test_store) on PostgreSQL:
# start a private PostgreSQL 15 cluster, run the same binary against it.
# Exit 0 pass, 1 fail, 99 when the cluster cannot start.
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/pg.sh"
pg_start || exit 99
BRSKI_TEST_PG_URI=$PG_URI
BRSKI_TEST_PG_URI_BASE=$PG_URI_BASE
BRSKI_TEST_PG_RESTART=$PG_DIR/restart.sh
export BRSKI_TEST_PG_URI BRSKI_TEST_PG_URI_BASE BRSKI_TEST_PG_RESTART
bin=$top_builddir/tests/unit/service/test_store
[ -x "$bin" ] || { echo "test-store-pg: $bin is not built"; exit 99; }
if "$bin"; then
	exit 0
fi
echo "test-store-pg: failed; server log:"
tail -n 30 "$PG_DIR/log"
exit 1
