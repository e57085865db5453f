#!/bin/sh
# tests/unit/cloudreg/test_enroll_store on PostgreSQL: the schema-3 records
# of cloudregd's enrollment and ACME backend (the re-enrollment flag of a
# job, issued certificates by their hash, pre-authorizations) on a private
# PostgreSQL 15 cluster. Exit 0 pass, 1 fail, 99 when the cluster cannot
# start.
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/pg.sh"
pg_start || exit 99
bin=$top_builddir/tests/unit/cloudreg/test_enroll_store
[ -x "$bin" ] || { echo "test-enroll-store-pg: $bin is not built"; exit 99; }
if BRSKI_TEST_ENROLL_PG=$PG_URI "$bin"; then
	exit 0
fi
echo "test-enroll-store-pg: failed; server log:"
tail -n 30 "$PG_DIR/log"
exit 1
