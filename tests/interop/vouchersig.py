#!/usr/bin/python3
"""Independent COSE_Sign1 and JWS checks for brski-cloud's envelopes.

Written against the specifications only (RFC 9052/9053/9360 for COSE with
python3-cbor2 and python3-cryptography; RFC 7515 for JWS with
python3-jwcrypto), sharing no code with libvoucher. Used by
tests/integration/test-cose-jws-python.sh.

  vouchersig.py jws-verify IN CA                verify; payload to stdout
  vouchersig.py jws-sign PAYLOAD KEY CHAIN OUT [--second KEY2 CHAIN2]
  vouchersig.py cose-verify IN CA               verify; payload to stdout
  vouchersig.py cose-sign PAYLOAD KEY CHAIN OUT [--x5bag] [--untagged]
  vouchersig.py cose-strip IN OUT               drop x5bag/x5chain (unprotected)
  vouchersig.py tamper KIND IN OUT OTHER_CHAIN  KIND: payload, protected,
                                                signature, cert

Exit status: 0 ok, 1 verification refused, 2 usage error, 3 anything else
(an exception is never mistaken for a refusal).
"""

import base64
import json
import sys

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from jwcrypto import jwk, jws

ES256, EDDSA = -7, -8
X5BAG, X5CHAIN = 32, 33


class Refused(Exception):
    pass


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_dec(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_chain(path):
    with open(path, "rb") as f:
        data = f.read()
    certs = x509.load_pem_x509_certificates(data) if hasattr(
        x509, "load_pem_x509_certificates") else _split_pem(data)
    return certs


def _split_pem(data):
    out, cur = [], []
    for line in data.splitlines(keepends=True):
        cur.append(line)
        if line.startswith(b"-----END CERTIFICATE-----"):
            out.append(x509.load_pem_x509_certificate(b"".join(cur)))
            cur = []
    return out


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def check_issued(cert, ca):
    """The CA's key signed cert (the one chain step our tests use)."""
    pub = ca.public_key()
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            raise Refused("unexpected CA key type")
    except InvalidSignature:
        raise Refused("signer certificate not issued by the CA")
    if cert.issuer != ca.subject:
        raise Refused("issuer name differs from the CA subject")


# ---- JWS ------------------------------------------------------------------


def jws_verify(path, ca_path):
    with open(path, "rb") as f:
        text = f.read().decode()
    obj = json.loads(text)
    if set(obj) != {"payload", "signatures"}:
        raise Refused("not the general JSON serialization: %s" % sorted(obj))
    first = obj["signatures"][0]
    header = json.loads(b64url_dec(first["protected"]))
    if header.get("alg") not in ("ES256", "EdDSA"):
        raise Refused("alg %r" % header.get("alg"))
    if "typ" in header and header["typ"] != "voucher-jws+json":
        raise Refused("typ %r" % header["typ"])
    # x5c is standard base64 (RFC 7515 4.1.6): strict decode.
    chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
             for c in header["x5c"]]
    ca = load_chain(ca_path)[0]
    check_issued(chain[0], ca)
    key = jwk.JWK.from_pem(chain[0].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    # Verify the first signature alone, as the envelope's rule says.
    single = {"payload": obj["payload"], "protected": first["protected"],
              "signature": first["signature"]}
    token = jws.JWS()
    try:
        token.deserialize(json.dumps(single), key=key)
    except Exception as e:  # jwcrypto raises InvalidJWSSignature and friends
        raise Refused("jwcrypto: %s" % e)
    sys.stdout.buffer.write(token.payload)
    return 0


def jws_sign(payload_path, key_path, chain_path, out_path, second=None):
    with open(payload_path, "rb") as f:
        payload = f.read()
    token = jws.JWS(payload)
    for kp, cp in [(key_path, chain_path)] + ([second] if second else []):
        with open(kp, "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        chain = load_chain(cp)
        alg = "EdDSA" if key.get("kty") == "OKP" else "ES256"
        header = {"alg": alg, "typ": "voucher-jws+json",
                  "x5c": [base64.b64encode(der(c)).decode() for c in chain]}
        token.add_signature(key, None, protected=json.dumps(header))
    out = json.loads(token.serialize(compact=False))
    if "signatures" not in out:
        # jwcrypto flattens a single signature; jws-voucher wants general.
        out = {"payload": out["payload"],
               "signatures": [{"protected": out["protected"],
                               "signature": out["signature"]}]}
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


# ---- COSE -----------------------------------------------------------------


def sig_structure(protected, payload):
    return cbor2.dumps(["Signature1", protected, b"", payload])


def cose_verify(path, ca_path):
    with open(path, "rb") as f:
        data = f.read()
    msg = cbor2.loads(data)
    if isinstance(msg, cbor2.CBORTag):
        if msg.tag != 18:
            raise Refused("tag %d" % msg.tag)
        msg = msg.value
    if not isinstance(msg, list) or len(msg) != 4:
        raise Refused("not a 4-element array")
    protected, unprotected, payload, sig = msg
    # Definite, shortest-form encoding throughout (what cbor2 writes too).
    if cbor2.dumps(cbor2.loads(data)) != data:
        raise Refused("not a preferred-serialization CBOR encoding")
    prot = cbor2.loads(protected)
    alg = prot.get(1)
    if alg not in (ES256, EDDSA) or set(prot) - {1}:
        raise Refused("protected header %r" % prot)
    certs = unprotected.get(X5BAG, unprotected.get(X5CHAIN))
    if certs is None:
        raise Refused("no x5bag/x5chain")
    if isinstance(certs, bytes):
        certs = [certs]
    chain = [x509.load_der_x509_certificate(c) for c in certs]
    ca = load_chain(ca_path)[0]
    check_issued(chain[0], ca)
    pub = chain[0].public_key()
    tbs = sig_structure(protected, payload)
    if len(sig) != 64:
        raise Refused("signature of %d bytes" % len(sig))
    try:
        if alg == ES256:
            if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
                raise Refused("ES256 needs a P-256 key")
            r = int.from_bytes(sig[:32], "big")
            s = int.from_bytes(sig[32:], "big")
            pub.verify(encode_dss_signature(r, s), tbs, ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(pub, ed25519.Ed25519PublicKey):
                raise Refused("EdDSA needs an Ed25519 key")
            pub.verify(sig, tbs)
    except InvalidSignature:
        raise Refused("signature does not verify")
    sys.stdout.buffer.write(payload)
    return 0


def cose_sign(payload_path, key_path, chain_path, out_path, x5bag=False, tagged=True):
    with open(payload_path, "rb") as f:
        payload = f.read()
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    chain = [der(c) for c in load_chain(chain_path)]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        protected = cbor2.dumps({1: EDDSA})
        sig = key.sign(sig_structure(protected, payload))
    else:
        protected = cbor2.dumps({1: ES256})
        r, s = decode_dss_signature(key.sign(sig_structure(protected, payload),
                                             ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    certs = chain if len(chain) > 1 else chain[0]
    unprotected = {X5BAG: certs} if x5bag else {X5CHAIN: certs}
    msg = [protected, unprotected, payload, sig]
    with open(out_path, "wb") as f:
        f.write(cbor2.dumps(cbor2.CBORTag(18, msg) if tagged else msg))
    return 0


def cose_strip(in_path, out_path):
    """What a cBRSKI registrar does before forwarding a MASA voucher."""
    with open(in_path, "rb") as f:
        msg = cbor2.loads(f.read())
    m = msg.value if isinstance(msg, cbor2.CBORTag) else msg
    m[1] = {k: v for k, v in m[1].items() if k not in (X5BAG, X5CHAIN)}
    with open(out_path, "wb") as f:
        f.write(cbor2.dumps(msg))
    return 0


# ---- tampering ------------------------------------------------------------


def tamper(kind, in_path, out_path, other_chain_path):
    """One targeted change to a signed envelope; the result must not verify."""
    with open(in_path, "rb") as f:
        data = f.read()
    other = der(load_chain(other_chain_path)[0])
    if data[:1] == b"{":
        obj = json.loads(data)
        first = obj["signatures"][0]
        if kind == "payload":
            body = json.loads(b64url_dec(obj["payload"]))
            inner = next(iter(body.values()))
            inner["serial-number"] = inner["serial-number"] + "X"
            obj["payload"] = b64url(json.dumps(body).encode())
        elif kind == "protected":
            h = json.loads(b64url_dec(first["protected"]))
            h["kid"] = "tampered"
            first["protected"] = b64url(json.dumps(h).encode())
        elif kind == "signature":
            s = bytearray(b64url_dec(first["signature"]))
            s[10] ^= 1
            first["signature"] = b64url(bytes(s))
        elif kind == "cert":
            h = json.loads(b64url_dec(first["protected"]))
            h["x5c"][0] = base64.b64encode(other).decode()
            first["protected"] = b64url(json.dumps(h).encode())
        else:
            return usage()
        out = json.dumps(obj).encode()
    else:
        msg = cbor2.loads(data)
        tag = isinstance(msg, cbor2.CBORTag)
        m = msg.value if tag else msg
        if kind == "payload":
            p = bytearray(m[2])
            p[-1] ^= 1
            m[2] = bytes(p)
        elif kind == "protected":
            prot = cbor2.loads(m[0])
            prot[3] = 836  # content type: still valid, but not what was signed
            m[0] = cbor2.dumps(prot)
        elif kind == "signature":
            s = bytearray(m[3])
            s[10] ^= 1
            m[3] = bytes(s)
        elif kind == "cert":
            label = X5BAG if X5BAG in m[1] else X5CHAIN
            certs = m[1][label]
            if isinstance(certs, list):
                certs[0] = other
            else:
                m[1][label] = other
        else:
            return usage()
        out = cbor2.dumps(cbor2.CBORTag(18, m) if tag else m)
    if out == data:
        print("tamper: nothing changed", file=sys.stderr)
        return 2
    with open(out_path, "wb") as f:
        f.write(out)
    return 0


def usage():
    print(__doc__, file=sys.stderr)
    return 2


def main(argv):
    if len(argv) < 2:
        return usage()
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "jws-verify" and len(args) == 2:
            return jws_verify(*args)
        if cmd == "jws-sign" and len(args) == 4:
            return jws_sign(*args)
        if cmd == "jws-sign" and len(args) == 7 and args[4] == "--second":
            return jws_sign(*args[:4], second=(args[5], args[6]))
        if cmd == "cose-verify" and len(args) == 2:
            return cose_verify(*args)
        if cmd == "cose-sign" and len(args) >= 4:
            return cose_sign(*args[:4], x5bag="--x5bag" in args[4:],
                             tagged="--untagged" not in args[4:])
        if cmd == "cose-strip" and len(args) == 2:
            return cose_strip(*args)
        if cmd == "tamper" and len(args) == 4:
            return tamper(*args)
    except Refused as e:
        print("refused: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # a bug or bad input here, not a verdict
        print("error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 3
    return usage()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
