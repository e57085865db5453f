#!/bin/sh
# tests/integration/test-masa.sh with the store on a private PostgreSQL.
MASA_STORE=pg
export MASA_STORE
. "$top_srcdir/tests/integration/test-masa.sh"
