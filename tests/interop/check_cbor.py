#!/usr/bin/python3
"""Independent check of libvoucher's CBOR (RFC 9254 with SIDs) using cbor2.

The SID numbers below are typed in from the rfc8366bis tables (FACTS.md
sections 2.2, 2.3 and 3), not read from yang/*.sid, so a wrong SID file or a
wrong delta computation in the C code shows up here.

Usage: check_cbor.py CONVERTER WORKDIR
  CONVERTER: tests/interop/voucher-convert
Exit 0 pass, 1 fail, 99 hard error.
"""
import base64
import json
import os
import subprocess
import sys

import cbor2

VOUCHER = 2451
VOUCHER_LEAVES = {
    "assertion": 2452, "created-on": 2453, "domain-cert-revocation-checks": 2454,
    "expires-on": 2455, "idevid-issuer": 2456, "last-renewal-date": 2457,
    "nonce": 2458, "pinned-domain-cert": 2459, "pinned-domain-pubk": 2460,
    "pinned-domain-pubk-sha256": 2461, "serial-number": 2462,
    "additional-configuration-url": 2463, "est-domain": 2464,
    "manufacturer-proprietary": 2465, "extensions": 2466,
}
REQUEST = 2501
REQUEST_LEAVES = {
    "assertion": 2502, "created-on": 2503, "domain-cert-revocation-checks": 2504,
    "expires-on": 2505, "idevid-issuer": 2506, "last-renewal-date": 2507,
    "nonce": 2508, "pinned-domain-cert": 2509, "prior-signed-voucher-request": 2510,
    "proximity-registrar-cert": 2511, "proximity-registrar-pubk-sha256": 2512,
    "proximity-registrar-pubk": 2513, "serial-number": 2514,
    "agent-provided-proximity-registrar-cert": 2515, "agent-sign-cert": 2516,
    "agent-signed-data": 2517, "pinned-domain-pubk": 2518,
    "pinned-domain-pubk-sha256": 2519, "additional-configuration-url": 2520,
    "est-domain": 2521, "extensions": 2522, "manufacturer-proprietary": 2523,
}
ASSERTION = {"verified": 0, "logged": 1, "proximity": 2, "agent-proximity": 3}
BINARY = {"idevid-issuer", "nonce", "pinned-domain-cert", "pinned-domain-pubk",
          "pinned-domain-pubk-sha256", "manufacturer-proprietary",
          "prior-signed-voucher-request", "proximity-registrar-cert",
          "proximity-registrar-pubk", "proximity-registrar-pubk-sha256",
          "agent-signed-data", "agent-provided-proximity-registrar-cert",
          "agent-sign-cert"}


def b64(data):
    return base64.b64encode(data).decode()


def fixtures():
    common = {
        "created-on": "2016-10-07T19:31:42Z", "expires-on": "2016-10-21T19:31:42.25-04:00",
        "serial-number": "JADA123456789", "idevid-issuer": b64(bytes.fromhex(
            "04183016801429fde6123d48254bd90c6cceb52e608ef0fc4076")),
        "pinned-domain-cert": b64(bytes(range(200))), "pinned-domain-pubk": b64(b"\x30" * 91),
        "pinned-domain-pubk-sha256": b64(bytes(range(32))),
        "domain-cert-revocation-checks": False, "nonce": b64(bytes.fromhex("57eed786ad404907")),
        "last-renewal-date": "2017-10-07T19:31:42Z",
        "est-domain": "https://est.example.com/.well-known/est",
        "additional-configuration-url": "https://config.example.com/pbx",
        "manufacturer-proprietary": b64(cbor2.dumps({"vendor": 1})),
        "extensions": ["2470", "example-extension"],
    }
    v = dict(common, assertion="verified")
    r = dict(common, assertion="agent-proximity")
    for i, leaf in enumerate(sorted(BINARY - set(common))):
        r[leaf] = b64(bytes([i + 1]) * (i + 3))
    small = {"assertion": "proximity", "serial-number": "00-D0-E5-F2-00-02",
             "nonce": b64(bytes(range(32)))}
    return [
        ("voucher-all", {"ietf-voucher:voucher": v}),
        ("request-all", {"ietf-voucher-request:voucher": r}),
        ("pvr", {"ietf-voucher-request:voucher": dict(small, **{
            "proximity-registrar-cert": b64(b"\x30\x82\x01\x00")})}),
        ("voucher-small", {"ietf-voucher:voucher": dict(small, **{
            "domain-cert-revocation-checks": True})}),
    ]


def expected_cbor(doc):
    """The RFC 9254 structure of a JSON artifact, computed here."""
    (root, body), = doc.items()
    if root == "ietf-voucher:voucher":
        parent, table = VOUCHER, VOUCHER_LEAVES
    else:
        parent, table = REQUEST, REQUEST_LEAVES
    inner = {}
    for name, value in body.items():
        key = table[name] - parent
        if name == "assertion":
            value = ASSERTION[value]
        elif name in BINARY:
            value = base64.b64decode(value, validate=True)
        elif name == "extensions":
            value = [int(x) if x.isdigit() else x for x in value]
        inner[key] = value
    return {parent: inner}


def run(conv, fmt, src, dst):
    p = subprocess.run([conv, fmt, src, dst], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s %s %s: exit %d: %s" % (conv, fmt, src, p.returncode, p.stderr))


def main():
    conv, work = sys.argv[1], sys.argv[2]
    failures = 0
    for name, doc in fixtures():
        src = os.path.join(work, name + ".json")
        with open(src, "w") as f:
            json.dump(doc, f)
        # JSON -> our CBOR, decoded by cbor2
        out = os.path.join(work, name + ".cbor")
        run(conv, "cbor", src, out)
        with open(out, "rb") as f:
            raw = f.read()
        got = cbor2.loads(raw)
        want = expected_cbor(doc)
        if got != want:
            print("FAIL %s: our CBOR decodes to\n  %r\nexpected\n  %r" % (name, got, want))
            failures += 1
        # canonical form: keys ascending, shortest integers (cbor2 canonical)
        (parent, inner), = want.items()
        ordered = {parent: dict(sorted(inner.items()))}
        if raw != cbor2.dumps(ordered, canonical=True):
            print("FAIL %s: not in ascending-SID shortest form: %s" % (name, raw.hex()))
            failures += 1
        # cbor2-made CBOR, keys mixed (names, deltas, tag 47 SIDs) -> our JSON
        mixed = {}
        table = VOUCHER_LEAVES if parent == VOUCHER else REQUEST_LEAVES
        names = {table[n] - parent: n for n in table}
        for i, (k, v) in enumerate(sorted(inner.items())):
            if i % 3 == 0:
                mixed[names[k]] = v
            elif i % 3 == 1:
                mixed[cbor2.CBORTag(47, parent + k)] = v
            else:
                mixed[k] = v
        theirs = os.path.join(work, name + ".theirs.cbor")
        with open(theirs, "wb") as f:
            f.write(cbor2.dumps({parent: mixed}))
        back = os.path.join(work, name + ".back.json")
        run(conv, "json", theirs, back)
        with open(back) as f:
            if json.load(f) != doc:
                print("FAIL %s: mixed-key CBOR from cbor2 did not give the original JSON" % name)
                failures += 1
        print("ok %s (%d bytes CBOR)" % (name, len(raw)))
    # the published example shape (FACTS 3): voucher {2451: {1: 2, 2: .., 3: false, 7: .., 8: .., 11: ..}}
    ex = {VOUCHER: {1: 2, 2: "2022-12-06T20:23:30.708Z", 3: False,
                    7: bytes.fromhex("57eed786ad404907"), 8: bytes(range(100)), 11: "JADA123456789"}}
    src = os.path.join(work, "example.cbor")
    with open(src, "wb") as f:
        f.write(cbor2.dumps(ex))
    out = os.path.join(work, "example.out.cbor")
    run(conv, "cbor", src, out)
    with open(out, "rb") as f:
        if cbor2.loads(f.read()) != ex:
            print("FAIL example: re-encoding changed the cBRSKI example voucher")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("error:", e)
        sys.exit(1)
