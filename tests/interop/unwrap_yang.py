#!/usr/bin/python3
"""Copy a YANG module, replacing its sx:structure / rc:yang-data statement
by its body, so the voucher container becomes a top-level data node that
yanglint 2.1.30 can validate (it cannot parse extension-instance data).
Every other line stays as written. Usage: unwrap_yang.py IN OUT"""
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
lines = open(src).read().split("\n")
out, depth, skip_close = [], 0, None
for line in lines:
    if skip_close is None and re.match(r"^\s*(sx:structure|rc:yang-data)\s+\S+\s*\{\s*$", line):
        skip_close = depth
        depth += 1
        continue
    opens, closes = line.count("{"), line.count("}")
    if skip_close is not None and closes and re.match(r"^\s*\}\s*$", line) and depth - 1 == skip_close:
        depth -= 1
        skip_close = None
        continue
    depth += opens - closes
    out.append(line)
if skip_close is not None:
    sys.exit("unwrap_yang: unbalanced braces in " + src)
open(dst, "w").write("\n".join(out))
