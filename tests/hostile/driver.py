#!/usr/bin/python3
"""The hostile-input matrix of tests/hostile/cases.tsv, sent to running
daemons over raw TLS sockets (so that slow, truncated and half-open clients
can be played, which curl cannot).

    driver.py --pki DIR --work DIR --db FILE --brski PROGRAM --cases FILE
              [--controls FILE] --url NAME=URL ... [--token SCOPE=TOKEN ...]
              [--only ID] [--show]

Each row names a listener, a method and path, the TLS client identity, a
request builder, the Content-Type, how the bytes are sent, the status
expected, a substring the body must contain and the disposition the request
log must show for that request (matched by X-Request-Id): masad's
voucher_requests for the masa target, cloudregd's pledge_requests for the
cloud and cloud-est targets. Every row of those targets declares one, except
a client that never finished its request (status 0) and a 405 (no endpoint
has the method): a refusal without its row is a failure of the row.

The controls (--controls) run first: requests the daemons accept, made by
the same builders, so that a refusal in the matrix is the condition of its
row and not a broken fixture. Then, before the first row of the matrix and
after the last, every table of the store except the append-only request logs
is dumped; the two dumps must be equal. Every answer
must be below 500. Prints one line per row and a closing "N passed, N failed"
line; exits 0 only when every row passed.
"""
import argparse
import base64
import datetime
import json
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import time

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

TIMEOUT = 20


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Env:
    def __init__(self, args):
        self.pki = args.pki
        self.work = args.work
        self.db = args.db
        self.urls = dict(u.split("=", 1) for u in args.url)
        self.token = open(os.path.join(self.pki, "admin-token")).read().strip()
        self.brski = args.brski
        self.openssl = os.environ.get("OPENSSL", "openssl")
        self.cache = {}
        self.tokens = {}

    def p(self, *parts):
        return os.path.join(self.pki, *parts)

    def w(self, name):
        return os.path.join(self.work, name)


# ---- identities -------------------------------------------------------------


def load_key(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), None)


def load_cert(path):
    return x509.load_pem_x509_certificate(open(path, "rb").read())


def make_cert(env, name, issuer_cert, issuer_key, cn, days_from, days_to, eku=None, ca=False):
    """A P-256 certificate for cn, written as work/name.{key,crt,chain.pem}."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, cn)])
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer_cert.subject if issuer_cert else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=days_from))
         .not_valid_after(now + datetime.timedelta(days=days_to))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = b.sign(issuer_key or key, hashes.SHA256())
    kp, cp, chp = env.w(name + ".key"), env.w(name + ".crt"), env.w(name + ".chain.pem")
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    open(cp, "wb").write(pem)
    open(chp, "wb").write(pem + (issuer_cert.public_bytes(serialization.Encoding.PEM)
                                 if issuer_cert else b""))
    return chp, kp


def identities(env):
    """name -> (chain, key) of TLS client certificates and signers."""
    ids = {
        "none": None,
        "registrar": (env.p("owner-registrar.chain.pem"), env.p("owner-registrar.key")),
        "cloudreg": (env.p("cloud-registrar.chain.pem"), env.p("cloud-registrar.key")),
        "pledge1": (env.p("pledges", "pledge-0001.chain.pem"),
                    env.p("pledges", "pledge-0001.key")),
        "pledge2": (env.p("pledges", "pledge-0002.chain.pem"),
                    env.p("pledges", "pledge-0002.key")),
        "pledge3": (env.p("pledges", "pledge-0003.chain.pem"),
                    env.p("pledges", "pledge-0003.key")),
    }
    ids["untrusted"] = make_cert(env, "untrusted", None, None, "untrusted", -1, 30,
                                 eku=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH])
    dca, dkey = load_cert(env.p("owner-domain-ca.crt")), load_key(env.p("owner-domain-ca.key"))
    cmc_ra = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.28")
    ids["expired-registrar"] = make_cert(
        env, "expired-registrar", dca, dkey, "expired-registrar", -30, -1,
        eku=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH, cmc_ra])
    mca, mkey = load_cert(env.p("manufacturer-ca.crt")), load_key(env.p("manufacturer-ca.key"))
    ids["expired-pledge"] = make_cert(env, "expired-pledge", mca, mkey, "pledge-0001", -30, -1)
    return ids


# ---- request builders ---------------------------------------------------------


def run(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r.stdout


def brski_vr(env, name, fmt, signer, opts):
    """brski voucher create + sign; the bytes of the signed request."""
    js, out = env.w(name + ".json"), env.w(name + "." + fmt)
    run([env.brski, "voucher", "create", "--kind", "request", "--out", js] + opts)
    run([env.brski, "voucher", "sign", "--key", signer[1], "--cert", signer[0], "--format",
         fmt, js, out])
    return open(out, "rb").read()


NONCE = "00112233445566778899aabbccddeeff"
OTHER_NONCE = "ffeeddccbbaa99887766554433221100"


def pvr(env, ids, fmt, pledge="pledge1", serial="pledge-0001", prox="owner-registrar.crt",
        nonce=NONCE):
    key = "pvr-%s-%s-%s-%s-%s" % (fmt, pledge, serial, prox, nonce)
    if key not in env.cache:
        env.cache[key] = brski_vr(env, key, fmt, ids[pledge], [
            "--serial", serial, "--assertion", "proximity", "--proximity-registrar-cert",
            env.p(prox), "--nonce", nonce])
    return env.cache[key]


def rvr(env, ids, fmt, serial="pledge-0001", nonce=NONCE, pledge="pledge1", pnonce=NONCE,
        signer="registrar", pserial=None):
    key = "rvr-%s-%s-%s-%s-%s-%s-%s" % (fmt, serial, nonce, pledge, pnonce, signer, pserial)
    if key not in env.cache:
        prior = pvr(env, ids, fmt, pledge=pledge, serial=pserial or serial, nonce=pnonce)
        pf = env.w(key + ".prior")
        open(pf, "wb").write(prior)
        pcert = ids[pledge][0]
        env.cache[key] = brski_vr(env, key, fmt, ids[signer], [
            "--serial", serial, "--nonce", nonce, "--idevid-issuer", pcert,
            "--prior-signed-voucher-request", pf])
    return env.cache[key]


def es256(keypath, data):
    der = load_key(keypath).sign(data, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def x5c(chainpath):
    out, cur = [], []
    for line in open(chainpath).read().splitlines():
        if "BEGIN CERT" in line:
            cur = []
        elif "END CERT" in line:
            out.append("".join(cur))
        else:
            cur.append(line.strip())
    return out


def jws_raw(env, ids, signer, payload):
    """A JWS (general JSON serialization) over payload bytes exactly as given."""
    hdr = json.dumps({"alg": "ES256", "typ": "voucher-jws+json",
                      "x5c": x5c(ids[signer][0])}).encode()
    prot = b64u(hdr)
    pl = b64u(payload)
    sig = es256(ids[signer][1], (prot + "." + pl).encode())
    return json.dumps({"payload": pl, "signatures": [{"protected": prot,
                                                      "signature": b64u(sig)}]}).encode()


def jws_payload_of(signed):
    """The JSON payload of a JWS, as text."""
    raw = json.loads(signed)
    p = raw["payload"] + "=" * (-len(raw["payload"]) % 4)
    return base64.urlsafe_b64decode(p).decode()


def jws_dup_members(env, ids, signed, signer):
    # The same member twice: the first names pledge-0001 (owned), the
    # second another serial. A parser that keeps the last and a check
    # that reads the first would disagree: refuse outright.
    text = jws_payload_of(signed)
    text = text.replace('"serial-number":"pledge-0001"',
                        '"serial-number":"pledge-0001","serial-number":"pledge-0002"', 1)
    assert '"serial-number":"pledge-0002"' in text
    return jws_raw(env, ids, signer, text.encode())


# Nesting as deep as fits under the 64 KiB body limit (deeper is a 413,
# which is its own row): the parsers must stop it, not recurse into it.
DEPTH = 20000


def jws_deep_payload(env, ids, signed, signer):
    text = jws_payload_of(signed)
    deep = "[" * DEPTH + "]" * DEPTH
    text = text[:-2] + ',"ietf-voucher-request:extensions":' + deep + "}}"
    return jws_raw(env, ids, signer, text.encode())


def cose_sign1(keypath, payload, chain):
    prot = cbor2.dumps({1: -7})  # alg ES256
    unprot = {33: [base64.b64decode(c) for c in x5c(chain)]}  # x5chain
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    return cbor2.dumps(cbor2.CBORTag(18, [prot, unprot, payload, es256(keypath, tbs)]))


def cose_dup_keys(env, ids, signed, signer):
    # Decode a valid COSE request, repeat the first key of the voucher-request
    # map (definite-length map header patched by one).
    tag = cbor2.loads(signed)
    payload = tag.value[2]
    outer = cbor2.loads(payload)
    (k, inner), = outer.items()
    items = list(inner.items())
    body = b"".join(cbor2.dumps(a) + cbor2.dumps(b) for a, b in items + items[:1])
    n = len(items) + 1
    hdr = bytes([0xa0 + n]) if n < 24 else bytes([0xb8, n])
    dup = bytes([0xa1]) + cbor2.dumps(k) + hdr + body
    return cose_sign1(ids[signer][1], dup, ids[signer][0])


def cose_deep_payload(env, ids, signer):
    deep = b"\x81" * (3 * DEPTH) + b"\x00"
    return cose_sign1(ids[signer][1], deep, ids[signer][0])


def owner_json(env, name, extra=None):
    d = {"name": name, "domain_ca": open(env.p("owner-domain-ca.crt")).read()}
    d.update(extra or {})
    return json.dumps(d).encode()


def builders(env, ids):
    big = b"A" * 70000
    return {
        "empty": lambda: b"",
        "garbage": lambda: bytes(range(256)) * 4,
        "big": lambda: big,
        "rvr-cms": lambda: rvr(env, ids, "cms"),
        "rvr-jws": lambda: rvr(env, ids, "jws"),
        "rvr-cose": lambda: rvr(env, ids, "cose"),
        "rvr-cms-half": lambda: rvr(env, ids, "cms")[: len(rvr(env, ids, "cms")) // 2],
        "rvr-jws-half": lambda: rvr(env, ids, "jws")[: len(rvr(env, ids, "jws")) // 2],
        "rvr-cose-half": lambda: rvr(env, ids, "cose")[: len(rvr(env, ids, "cose")) // 2],
        "rvr-wrong-nonce": lambda: rvr(env, ids, "cms", nonce=OTHER_NONCE),
        "rvr-unowned": lambda: rvr(env, ids, "cms", serial="pledge-0003", pledge="pledge3"),
        "rvr-wrong-serial": lambda: rvr(env, ids, "cms", serial="pledge-0002",
                                        pledge="pledge1", pserial="pledge-0001"),
        "rvr-untrusted-signer": lambda: rvr(env, ids, "cms", signer="untrusted"),
        "rvr-pledge-signer": lambda: rvr(env, ids, "cms", signer="pledge1"),
        "rvr-expired-signer": lambda: rvr(env, ids, "cms", signer="expired-registrar"),
        "rvr-expired-pledge": lambda: rvr(env, ids, "cms", pledge="expired-pledge"),
        "rvr-pledge-wrong-signer": lambda: rvr(env, ids, "cms", pledge="pledge2",
                                               pserial="pledge-0001"),
        "rvr-jws-dup": lambda: jws_dup_members(env, ids, rvr(env, ids, "jws"), "registrar"),
        "rvr-jws-deep": lambda: jws_deep_payload(env, ids, rvr(env, ids, "jws"), "registrar"),
        "pvr-jws-dup": lambda: jws_dup_members(
            env, ids, pvr(env, ids, "jws", prox="cloud-registrar.crt"), "pledge1"),
        "pvr-jws-deep": lambda: jws_deep_payload(
            env, ids, pvr(env, ids, "jws", prox="cloud-registrar.crt"), "pledge1"),
        "json-deep": lambda: b"[" * (2 * DEPTH) + b"]" * 100,
        "json-deep-obj": lambda: b'{"a":' * (DEPTH // 2) + b"1" + b"}" * (DEPTH // 2),
        "json-deep-huge": lambda: b"[" * 100000 + b"]" * 100000,
        "rvr-cose-dup": lambda: cose_dup_keys(env, ids, rvr(env, ids, "cose"), "registrar"),
        "rvr-cose-deep": lambda: cose_deep_payload(env, ids, "registrar"),
        "pvr-cose-dup": lambda: cose_dup_keys(
            env, ids, pvr(env, ids, "cose", prox="cloud-registrar.crt"), "pledge1"),
        "pvr-cose-deep": lambda: cose_deep_payload(env, ids, "pledge1"),
        "cbor-deep": lambda: b"\xd2\x84" + b"\x81" * (3 * DEPTH) + b"\x00",
        "cbor-indef": lambda: b"\xd2\x9f" * (3 * DEPTH // 2),
        "pvr-cms": lambda: pvr(env, ids, "cms", prox="cloud-registrar.crt"),
        "pvr-jws": lambda: pvr(env, ids, "jws", prox="cloud-registrar.crt"),
        "pvr3-cms": lambda: pvr(env, ids, "cms", pledge="pledge3", serial="pledge-0003",
                                prox="cloud-registrar.crt"),
        "pvr-other-pledge": lambda: pvr(env, ids, "cms", pledge="pledge2", serial="pledge-0002",
                                        prox="cloud-registrar.crt"),
        "pvr-wrong-prox": lambda: pvr(env, ids, "cms", prox="owner-registrar.crt"),
        "pvr-expired": lambda: pvr(env, ids, "cms", pledge="expired-pledge",
                                   prox="cloud-registrar.crt"),
        "status-ok": lambda: b'{"version":1,"status":true}',
        "status-dup": lambda: b'{"version":1,"status":true,"status":false}',
        "status-deep": lambda: b'{"version":1,"status":true,"reason-context":{"a":' +
        b"[" * DEPTH + b"]" * DEPTH + b"}}",
        "status-bad": lambda: b'{"version":"1","status":"yes"}',
        "audit-cms": lambda: rvr(env, ids, "cms"),
        # admin bodies
        "owner-sqli": lambda: owner_json(env, "x'); DROP TABLE owners;--"),
        "owner-crlf": lambda: owner_json(env, "evil\r\nX-Injected: 1"),
        "owner-nul": lambda: owner_json(env, "evil\u0000owner"),
        "owner-path": lambda: owner_json(env, "../../etc/passwd"),
        "owner-long": lambda: owner_json(env, "o" * 5000),
        "owner-html": lambda: owner_json(env, "<script>alert(1)</script>"),
        "owner-badca": lambda: owner_json(env, "badca", {"domain_ca": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
        "owner-url": lambda: owner_json(env, "badurl", {"registrar_url": "javascript:alert(1)"}),
        "owner-dup": lambda: b'{"name":"dup1","name":"dup2","domain_ca":' +
        json.dumps(open(env.p("owner-domain-ca.crt")).read()).encode() + b"}",
        "owner-type": lambda: b'{"name":["a"],"domain_ca":7}',
        "owner-json-bad": lambda: b'{"name":"x",',
        "owner-utf8": lambda: b'{"name":"\xff\xfe","domain_ca":"x"}',
        "device-sqli": lambda: b'{"serial":"s\' OR \'1\'=\'1","owner":"nobody\' OR 1=1--"}',
        "device-mode": lambda: b'{"serial":"x1","mode":"redirect\'; --"}',
        "device-unknown-member": lambda: b'{"serial":"x2","is_admin":true}',
        "token-admin": lambda: b'{"name":"evil","scope":"admin"}',
        "import-deep": lambda: b'{"devices":' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    }


# ---- the wire -----------------------------------------------------------------


CONTEXTS = {}


def connect(url, client, ids):
    assert url.startswith("https://")
    hostport = url[len("https://"):].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    ctx = CONTEXTS.get(client)
    if not ctx:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the server's identity is not what is tested here
        if client and client != "none":
            ctx.load_cert_chain(ids[client][0], ids[client][1])
        CONTEXTS[client] = ctx
    raw = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname=host), host


def read_response(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLError, ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def request(url, method, path, client, ids, body, ctype, mode, token=None, extra=None):
    s, host = connect(url, client, ids)
    hdrs = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host, "Connection: close"]
    if ctype != "-":
        hdrs.append("Content-Type: %s" % ctype)
    if token:
        hdrs.append("Authorization: Bearer %s" % token)
    for h in extra or []:
        hdrs.append(h)
    if mode == "chunked":
        hdrs.append("Transfer-Encoding: chunked")
        msg = ("\r\n".join(hdrs) + "\r\n\r\n").encode()
        for i in range(0, len(body), 4096):
            part = body[i:i + 4096]
            msg += b"%x\r\n" % len(part) + part + b"\r\n"
        msg += b"0\r\n\r\n"
    else:
        if method in ("POST", "PUT", "PATCH") or body:
            hdrs.append("Content-Length: %d" % len(body))
        msg = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body
    try:
        if mode == "slow":
            # a slow but honest client: the request in 8 pieces, 0.1 s apart
            step = max(1, len(msg) // 8)
            for i in range(0, len(msg), step):
                s.sendall(msg[i:i + step])
                time.sleep(0.1)
        elif mode == "truncated":
            # the body stops half way and the client goes away
            s.sendall(msg[: len(msg) - max(1, len(body) // 2)])
            s.close()
            return 0, {}, b""
        elif mode == "headers-only":
            # headers never finished, then the client goes away
            s.sendall(msg[: len(msg) // 3 if len(msg) < 200 else 60])
            s.close()
            return 0, {}, b""
        else:
            s.sendall(msg)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server may answer (413) before it has read everything
    st = read_response(s)
    s.close()
    return st


# ---- the store ------------------------------------------------------------------

LOG_TABLES = {"voucher_requests", "pledge_requests", "sqlite_sequence"}
# target -> the request log of the daemon behind it
REQUEST_LOGS = {"masa": "voucher_requests", "cloud": "pledge_requests",
                "cloud-est": "pledge_requests"}


def dump_store(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    out = {}
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        if t in LOG_TABLES:
            continue
        out[t] = [tuple(r) for r in con.execute('SELECT * FROM "%s" ORDER BY 1' % t)]
    con.close()
    return out


def disposition(db, table, request_id):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    rows = con.execute("SELECT disposition, status FROM %s WHERE request_id = ?" % table,
                       (request_id,)).fetchall()
    con.close()
    return rows


# ---- the matrix --------------------------------------------------------------------


def read_cases(path):
    cases = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 11:
            sys.exit("%s:%d: %d fields, want 11" % (path, n, len(f)))
        c = dict(zip(["id", "target", "method", "path", "client", "auth", "builder",
                      "ctype", "mode", "status", "expect"], f), line=n)
        if (c["target"] in REQUEST_LOGS and c["status"] not in ("0", "405")
                and "|" not in c["expect"]):
            sys.exit("%s:%d: row %s of a logged endpoint declares no disposition"
                     % (path, n, c["id"]))
        cases.append(c)
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pki", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--brski", required=True)
    ap.add_argument("--url", action="append", default=[])
    ap.add_argument("--token", action="append", default=[], help="SCOPE=TOKEN")
    ap.add_argument("--only")
    ap.add_argument("--show", action="store_true", help="print what each row got")
    ap.add_argument("--controls",
                    help="rows run first, before the store is dumped (they may change it)")
    args = ap.parse_args()
    env = Env(args)
    env.tokens = dict(t.split("=", 1) for t in args.token)
    env.tokens["admin"] = env.token
    env.tokens["wrong"] = "brski_" + "0" * 40
    ids = identities(env)
    build = builders(env, ids)
    cases = read_cases(args.cases)
    controls = read_cases(args.controls) if args.controls else []
    if args.only:
        cases = [c for c in cases if c["id"] == args.only]
        controls = []
    # build every body first: the store is compared around the requests only
    bodies = {}
    t_build = time.monotonic()
    for c in controls + cases:
        if c["builder"] not in build:
            sys.exit("line %d: no builder '%s'" % (c["line"], c["builder"]))
        if c["builder"] not in bodies:
            bodies[c["builder"]] = build[c["builder"]]()
    print("built %d request bodies in %.1f s" % (len(bodies), time.monotonic() - t_build))
    passed = failed = 0
    before = None
    for c in controls + [None] + cases:
        if c is None:
            # the controls are done: from here on the store must not change
            before = dump_store(args.db)
            continue
        want_status = c["status"]
        expect = c["expect"]
        disp = None
        if "|" in expect:
            expect, disp = expect.rsplit("|", 1)
        token = env.tokens.get(c["auth"]) if c["auth"] != "-" else None
        t0 = time.monotonic()
        try:
            status, hdrs, body = request(env.urls[c["target"]], c["method"], c["path"],
                                         c["client"], ids, bodies[c["builder"]], c["ctype"],
                                         c["mode"], token)
            err = None
        except (OSError, ssl.SSLError) as e:
            status, hdrs, body, err = -1, {}, b"", "%s: %s" % (type(e).__name__, e)
        ms = int((time.monotonic() - t0) * 1000)
        text = body.decode("utf-8", errors="replace")
        problems = []
        if err:
            problems.append("no answer (%s)" % err)
        if status >= 500:
            problems.append("a 5xx for something a client can send")
        if str(status) != want_status:
            problems.append("status %d, want %s" % (status, want_status))
        if expect not in ("", "-") and expect not in text:
            problems.append("body lacks %r" % expect)
        rid = hdrs.get("x-request-id")
        if disp is not None:
            rows = disposition(args.db, REQUEST_LOGS[c["target"]], rid) if rid else []
            got = [r[0] for r in rows]
            if got != [disp]:
                problems.append("request log has %r for %s, want [%r]" % (got, rid, disp))
            elif rows[0][1] != status:
                problems.append("request log has status %d for %s, the answer was %d"
                                % (rows[0][1], rid, status))
        if status in (401, 403, 429, 413) and status >= 400 and not text.strip():
            problems.append("an empty body does not say why")
        if status == 429 and "retry-after" not in hdrs:
            problems.append("429 without Retry-After")
        # the daemon is still there after a slow, truncated or half-open
        # client and after the last row (a daemon gone after any other row
        # fails the rows that follow: they get no answer)
        if c["mode"] != "normal" or c is cases[-1]:
            try:
                hs = request(env.urls[c["target"].split("-")[0] + "-admin"], "GET",
                             "/healthz", "none", ids, b"", "-", "normal")[0]
            except (OSError, ssl.SSLError) as e:
                hs = "%s" % e
            if hs != 200:
                problems.append("/healthz afterwards: %s" % hs)
        line = "%s %s %s [%s %s] %d %dms" % (c["id"], c["method"], c["path"], c["client"],
                                             c["builder"], status, ms)
        if args.show:
            line += " :: " + text.strip().replace("\n", " ")[:200]
        if problems:
            failed += 1
            print("FAIL " + line + ": " + "; ".join(problems))
            if text:
                print("     body: " + text.strip().replace("\n", " ")[:400])
        else:
            passed += 1
            print("ok   " + line)
    after = dump_store(args.db)
    if before != after:
        failed += 1
        for t in sorted(set(before) | set(after)):
            if before.get(t) != after.get(t):
                b, a = set(before.get(t, [])), set(after.get(t, []))
                print("FAIL store table %s changed: +%r -%r" % (t, sorted(a - b)[:3],
                                                             sorted(b - a)[:3]))
    else:
        passed += 1
        print("ok   the store is unchanged but for the request log (%d tables)" % len(after))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
