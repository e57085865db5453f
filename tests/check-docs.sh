#!/bin/sh
# The configuration man page is rendered from docs/CONFIG.md: fail when stale.
top=${top_srcdir:-.}
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT
"${PYTHON3:-/usr/bin/python3}" "$top/man/conf-from-md.py" "$top/docs/CONFIG.md" >"$tmp" || exit 99
if ! cmp -s "$tmp" "$top/man/brski-cloud.conf.5"; then
	echo "man/brski-cloud.conf.5 is stale: run man/conf-from-md.py docs/CONFIG.md > man/brski-cloud.conf.5"
	diff -u "$top/man/brski-cloud.conf.5" "$tmp" | head -40
	exit 1
fi
echo "check-docs: brski-cloud.conf.5 matches docs/CONFIG.md"
