#!/usr/bin/python3
"""A small scripted ACME responder for one test: the pre-authorization
path (RFC 8555 7.4.1 newAuthz, RFC 9444 subdomain issuance) that Pebble does
not offer. It is not an ACME server; it implements exactly what
tests/integration/test-acme-newauthz.sh drives, strictly:

  - every POST is a flattened JWS, verified with jwcrypto (jwk for
    newAccount, then the account's kid), with a nonce this responder issued
    and never saw before (else badNonce), and the right "url";
  - newAuthz for a dns identifier creates a pending authorization with one
    dns-01 challenge; answering the challenge looks the TXT record up in the
    given DNS server (dig) and compares it with base64url(SHA-256(token "."
    thumbprint)) of the account key;
  - newOrder: when every identifier is below a domain whose authorization is
    valid (subdomain issuance), the order is "ready" at once and lists that
    authorization; otherwise each identifier gets its own pending dns-01
    authorization;
  - finalize checks that the CSR names exactly the order's identifiers and
    issues a certificate for the CSR's key from a throw-away CA;
  - the certificate is served as certs-only PKCS#7 (DER) when Accept asks for
    application/pkcs7-mime, else as a PEM chain.

Every decision is appended to the event log (one line each: newAuthz,
challenge-valid, newOrder-ready, newOrder-pending, finalize, cert-pkcs7,
cert-pem, badNonce, newAuthz-refused), which the test counts. While the
file DIR/refuse-newauthz exists, newAuthz is refused (403
rejectedIdentifier) and earlier parent authorizations no longer cover
subdomains, so the client must fall back to one authorization per
identifier. The file DIR/ratelimit-once makes the next newOrder fail once
with 429 rateLimited and Retry-After: 1 (event "rateLimited 1"), the file
DIR/ratelimit-long the same with Retry-After: 7 ("rateLimited 7"); while
DIR/slow-finalize exists, finalize leaves the order "processing" with
Retry-After: 2 for two seconds, and a poll before then is logged as
early-poll. Every authorization carries "expires": its creation plus the
seconds in DIR/authz-lifetime when that file exists (else 7 days), and is
"expired" from then on. A pre-authorization (made by newAuthz) reads as
"deactivated" while refuse-newauthz exists. Each POST-as-GET of an
authorization is logged as "authz-get VALUE STATUS".

usage: acme-newauthz-responder.py DIR DNS_PORT  (writes DIR/port, DIR/ca.pem,
DIR/tls-ca.pem, DIR/events; serves until killed)
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import secrets
import socketserver
import ssl
import subprocess
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws

DIR, DNS_PORT = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
NONCES = set()
ACCOUNTS = {}  # kid -> JWK
AUTHZ = {}     # id -> dict
ORDERS = {}    # id -> dict
CERTS = {}     # id -> [x509]
BASE = None


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def event(line):
    with open(os.path.join(DIR, "events"), "a") as f:
        f.write(line + "\n")


def make_ca(cn, key):
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA = make_ca("newAuthz responder issuing CA", CA_KEY)
TLS_CA_KEY = ec.generate_private_key(ec.SECP256R1())
TLS_CA = make_ca("newAuthz responder TLS CA", TLS_CA_KEY)
TLS_KEY = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.utcnow()
TLS_CERT = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(TLS_CA.subject).public_key(TLS_KEY.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
            .sign(TLS_CA_KEY, hashes.SHA256()))
pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
with open(os.path.join(DIR, "ca.pem"), "wb") as f:
    f.write(pem(CA))
with open(os.path.join(DIR, "tls-ca.pem"), "wb") as f:
    f.write(pem(TLS_CA))
with open(os.path.join(DIR, "tls.pem"), "wb") as f:
    f.write(pem(TLS_CERT))
with open(os.path.join(DIR, "tls.key"), "wb") as f:
    f.write(TLS_KEY.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def new_nonce():
    n = b64u(secrets.token_bytes(16))
    NONCES.add(n)
    return n


def rfc3339(t):
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def authz_status(a):
    if a["status"] in ("pending", "valid") and time.time() >= a["expires"]:
        return "expired"
    if a.get("pre") and a["status"] == "valid" and \
            os.path.exists(os.path.join(DIR, "refuse-newauthz")):
        return "deactivated"
    return a["status"]


def authz_json(a):
    return {"status": authz_status(a), "identifier": {"type": "dns", "value": a["value"]},
            "expires": rfc3339(a["expires"]),
            "challenges": [{"type": "dns-01", "url": BASE + "/chall/" + a["id"],
                            "token": a["token"], "status": a["chall"]}]}


def order_json(o):
    j = {"status": o["status"], "identifiers": [{"type": "dns", "value": v} for v in o["names"]],
         "authorizations": [BASE + "/authz/" + i for i in o["authz"]],
         "finalize": BASE + "/finalize/" + o["id"]}
    if o.get("cert"):
        j["certificate"] = BASE + "/cert/" + o["id"]
    return j


def new_authz(value):
    i = b64u(secrets.token_bytes(9))
    life = 7 * 86400
    try:
        with open(os.path.join(DIR, "authz-lifetime")) as f:
            life = int(f.read().strip())
    except FileNotFoundError:
        pass
    AUTHZ[i] = {"id": i, "value": value, "status": "pending", "chall": "pending",
                "token": b64u(secrets.token_bytes(16)), "expires": int(time.time()) + life}
    return AUTHZ[i]


def covered(name):
    """A valid authorization of name or one of its ancestors (ancestors
    count only while pre-authorization is allowed: refusing it also expires
    the earlier ones)."""
    refusing = os.path.exists(os.path.join(DIR, "refuse-newauthz"))
    for a in AUTHZ.values():
        if refusing and name != a["value"]:
            continue
        if authz_status(a) == "valid" and (name == a["value"] or name.endswith("." + a["value"])):
            return a
    return None


class Problem(Exception):
    def __init__(self, status, kind, detail, headers=()):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers = status, kind, detail, headers


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        with LOCK:
            self.send_header("Replay-Nonce", new_nonce())
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.send(200, b"", "text/plain", [("Cache-Control", "no-store")])

    def do_GET(self):
        if self.path == "/dir":
            self.send(200, {"newNonce": BASE + "/nonce", "newAccount": BASE + "/acct",
                            "newOrder": BASE + "/order", "newAuthz": BASE + "/authz",
                            "meta": {"subdomainAuthAllowed": True}})
        elif self.path == "/nonce":
            self.send(204, b"", "text/plain")
        else:
            self.send(404, b"not found\n", "text/plain")

    def verify(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.headers.get("Content-Type", "").startswith("application/jose+json"):
            raise Problem(415, "malformed", "Content-Type must be application/jose+json")
        j = json.loads(body)
        if set(j) != {"protected", "payload", "signature"}:
            raise Problem(400, "malformed", "not a flattened JWS")
        prot = json.loads(b64u_dec(j["protected"]))
        with LOCK:
            if prot.get("nonce") not in NONCES:
                event("badNonce")
                raise Problem(400, "badNonce", "unknown or reused nonce")
            NONCES.discard(prot["nonce"])
        if prot.get("url") != BASE + self.path:
            raise Problem(401, "unauthorized", "url %r is not %r" % (prot.get("url"), BASE + self.path))
        if prot.get("alg") != "ES256":
            raise Problem(400, "badSignatureAlgorithm", "ES256 only")
        if "jwk" in prot:
            if "kid" in prot or self.path != "/acct":
                raise Problem(400, "malformed", "jwk only for newAccount, and never with kid")
            key = jwk.JWK(**prot["jwk"])
        else:
            key = ACCOUNTS.get(prot.get("kid"))
            if key is None:
                raise Problem(400, "accountDoesNotExist", "no account %r" % prot.get("kid"))
        s = jws.JWS()
        s.deserialize(body.decode())
        try:
            s.verify(key)
        except Exception as e:
            raise Problem(400, "malformed", "JWS signature does not verify: %s" % e)
        payload = s.payload.decode() if s.payload else ""
        return key, (json.loads(payload) if payload else None)

    def do_POST(self):
        try:
            self.route()
        except Problem as p:
            self.send(p.status, {"type": "urn:ietf:params:acme:error:" + p.kind,
                                 "detail": p.detail}, "application/problem+json", p.headers)

    def route(self):
        key, payload = self.verify()
        path = self.path
        if path == "/acct":
            kid = BASE + "/acct/" + key.thumbprint()
            new = kid not in ACCOUNTS
            ACCOUNTS[kid] = key
            self.send(201 if new else 200, {"status": "valid"}, headers=[("Location", kid)])
        elif path == "/authz" and payload is not None:
            ident = payload["identifier"]
            if ident.get("type") != "dns":
                raise Problem(400, "unsupportedIdentifier", "dns only")
            if os.path.exists(os.path.join(DIR, "refuse-newauthz")):
                event("newAuthz-refused " + ident["value"])
                raise Problem(403, "rejectedIdentifier",
                              "pre-authorization of %s is not allowed" % ident["value"])
            a = new_authz(ident["value"])
            a["pre"] = True
            event("newAuthz " + a["value"])
            self.send(201, authz_json(a), headers=[("Location", BASE + "/authz/" + a["id"])])
        elif path.startswith("/authz/") and payload is None:
            a = AUTHZ.get(path[7:])
            if not a:
                raise Problem(404, "malformed", "no such authorization")
            event("authz-get %s %s" % (a["value"], authz_status(a)))
            self.send(200, authz_json(a))
        elif path.startswith("/chall/"):
            a = AUTHZ.get(path[7:])
            if not a:
                raise Problem(404, "malformed", "no such challenge")
            if a["chall"] == "pending":
                ka = a["token"] + "." + key.thumbprint()
                want = b64u(hashlib.sha256(ka.encode()).digest())
                got = subprocess.run(
                    ["dig", "@127.0.0.1", "-p", DNS_PORT, "+short", "TXT",
                     "_acme-challenge." + a["value"]],
                    capture_output=True, text=True).stdout.replace('"', "").split()
                if want in got:
                    a["chall"] = a["status"] = "valid"
                    event("challenge-valid " + a["value"])
                else:
                    a["chall"] = a["status"] = "invalid"
                    event("challenge-invalid " + a["value"] + " " + " ".join(got))
            self.send(200, {"type": "dns-01", "url": BASE + path, "token": a["token"],
                            "status": a["chall"]})
        elif path == "/order" and payload is not None:
            for name, wait in (("ratelimit-once", 1), ("ratelimit-long", 7)):
                once = os.path.join(DIR, name)
                if os.path.exists(once):
                    os.unlink(once)
                    event("rateLimited %d" % wait)
                    raise Problem(429, "rateLimited", "too many new orders, retry in %d s" % wait,
                                  [("Retry-After", str(wait))])
            names = [i["value"] for i in payload["identifiers"]]
            auth = [covered(n) for n in names]
            i = b64u(secrets.token_bytes(9))
            if all(auth):
                o = {"id": i, "names": names, "status": "ready",
                     "authz": sorted({a["id"] for a in auth})}
                event("newOrder-ready " + " ".join(names))
            else:
                o = {"id": i, "names": names, "status": "pending",
                     "authz": [new_authz(n)["id"] for n in names]}
                event("newOrder-pending " + " ".join(names))
            ORDERS[i] = o
            self.send(201, order_json(o), headers=[("Location", BASE + "/order/" + i)])
        elif path.startswith("/order/") and payload is None:
            o = ORDERS.get(path[7:])
            if not o:
                raise Problem(404, "malformed", "no such order")
            if o["status"] == "pending" and all(AUTHZ[a]["status"] == "valid" for a in o["authz"]):
                o["status"] = "ready"
            headers = []
            if o["status"] == "processing":
                left = o["ready_at"] - time.monotonic()
                if left > 0:
                    event("early-poll")
                    headers = [("Retry-After", "%d" % max(1, round(left)))]
                else:
                    o["status"], o["cert"] = "valid", True
            self.send(200, order_json(o), headers=headers)
        elif path.startswith("/finalize/") and payload is not None:
            o = ORDERS.get(path[10:])
            if not o or o["status"] != "ready":
                raise Problem(403, "orderNotReady", "the order is not ready")
            csr = x509.load_der_x509_csr(b64u_dec(payload["csr"]))
            if not csr.is_signature_valid:
                raise Problem(400, "badCSR", "CSR signature does not verify")
            sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            if sorted(sans.value.get_values_for_type(x509.DNSName)) != sorted(o["names"]):
                raise Problem(400, "badCSR", "CSR names differ from the order")
            now = datetime.datetime.utcnow()
            cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(CA.subject)
                    .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=1))
                    .add_extension(sans.value, critical=False)
                    .sign(CA_KEY, hashes.SHA256()))
            CERTS[o["id"]] = [cert, CA]
            headers = [("Location", BASE + "/order/" + o["id"])]
            if os.path.exists(os.path.join(DIR, "slow-finalize")):
                o["status"], o["ready_at"] = "processing", time.monotonic() + 2
                headers.append(("Retry-After", "2"))
            else:
                o["status"], o["cert"] = "valid", True
            event("finalize " + " ".join(o["names"]))
            self.send(200, order_json(o), headers=headers)
        elif path.startswith("/cert/") and payload is None:
            chain = CERTS.get(path[6:])
            if not chain:
                raise Problem(404, "malformed", "no such certificate")
            if "application/pkcs7-mime" in self.headers.get("Accept", ""):
                event("cert-pkcs7")
                self.send(200, pkcs7.serialize_certificates(chain, serialization.Encoding.DER),
                          "application/pkcs7-mime")
            else:
                event("cert-pem")
                self.send(200, b"".join(pem(c) for c in chain),
                          "application/pem-certificate-chain")
        else:
            raise Problem(404, "malformed", "no such resource %s" % path)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(DIR, "tls.pem"), os.path.join(DIR, "tls.key"))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
BASE = "https://127.0.0.1:%d" % srv.server_address[1]
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
