#!/bin/sh
# brski pki init: for every --key-type, check the PKI it makes with two
# independent readers (GnuTLS certtool and OpenSSL, plus python3
# cryptography for exact DER and dates), every chain with `openssl verify`
# and `certtool --verify`, the manifest's exact key set, the token, key
# modes, and that the configs use only docs/CONFIG.md keys with absolute
# paths and distinct ports, and that masad/cloudregd --check-config accept
# them. Then the option errors, the ACME variant, and
# what happens to an existing DIR with and without --force.
# Exit: 0 pass, 1 fail, 99 hard error. Keeps its directory on failure.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${OPENSSL:=openssl}"
: "${PYTHON3:=/usr/bin/python3}"
BRSKI="$top_builddir/tools/brski"
CERTTOOL=certtool
export OPENSSL CERTTOOL top_srcdir

for p in "$BRSKI" "$top_builddir/masa/masad" "$top_builddir/cloudreg/cloudregd"; do
	[ -x "$p" ] || { echo "test-pki: $p not built"; exit 99; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/test-pki.XXXXXX") || exit 99
ok=no
cleanup() {
	if [ "$ok" = yes ]; then rm -rf "$work"; else echo "test-pki: kept $work"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# expect_rc RC ARGS...: run brski with ARGS, require exit status RC.
expect_rc() {
	want=$1
	shift
	"$BRSKI" "$@" >"$work/out" 2>"$work/err"
	got=$?
	[ "$got" = "$want" ] || { cat "$work/out" "$work/err"; fail "brski $* exited $got, want $want"; }
}

# ---- the checker: one PKI directory, its key type and ACME expectation ----
cat >"$work/check.py" <<'EOF'
import configparser, datetime, json, os, re, stat, subprocess, sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

d, kt, acme = sys.argv[1], sys.argv[2], sys.argv[3]  # acme: "-" or "URL|TRUST|LISTEN"
OPENSSL, CERTTOOL = os.environ["OPENSSL"], os.environ["CERTTOOL"]
errors = []

def bad(msg):
    errors.append(msg)

def run(*argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr

# -- manifest: exactly these keys ------------------------------------------
m = json.load(open(os.path.join(d, "pki.json")))
CK = {"cert": str, "key": str}
SVC = {"url": str, "cert": str, "key": str}
SHAPE = {
    "tls_ca": str,
    "manufacturer_ca": CK,
    "pledges": [{"serial": str, "cert": str, "key": str}],
    "masa": {k: str for k in ("url", "sign_cert", "sign_key", "ca_cert", "tls_cert", "tls_key")},
    "cloud_registrar": {"url": str, "cert": str, "key": str, "domain_ca": CK, "est": SVC},
    "owner": {"name": str, "subdomain": str, "domain_ca": CK, "registrar": SVC, "est": SVC},
    "admin": {"token_file": str, "masa_url": str, "cloudreg_url": str},
    "configs": {"masa": str, "cloudreg": str, "owner_registrar": str},
}

def shape(v, s, where):
    if isinstance(s, dict):
        if not isinstance(v, dict):
            return bad(f"{where}: not an object")
        if set(v) != set(s):
            bad(f"{where}: keys {sorted(v)} != {sorted(s)}")
        for k in set(v) & set(s):
            shape(v[k], s[k], f"{where}.{k}")
    elif isinstance(s, list):
        if not isinstance(v, list) or not v:
            return bad(f"{where}: not a non-empty array")
        for i, e in enumerate(v):
            shape(e, s[0], f"{where}[{i}]")
    elif not isinstance(v, s):
        bad(f"{where}: not a {s.__name__}")

shape(m, SHAPE, "pki.json")
if errors:
    print("\n".join(errors)); sys.exit(1)

def path(p):
    return p if os.path.isabs(p) else os.path.join(d, p)

def pem_certs(p):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", open(path(p)).read(), re.S)

if m["owner"]["name"] != "acme-owner" or m["owner"]["subdomain"] != "pledges.example.com":
    bad("owner name/subdomain")
pledges = m["pledges"]
want_pledges = int(os.environ.get("PKI_PLEDGES", "3"))
if len(pledges) != want_pledges:
    bad(f"{len(pledges)} pledges, want {want_pledges}")
serials = [p["serial"] for p in pledges]
if len(set(serials)) != len(serials):
    bad("pledge serials repeat")
for s in serials:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", s):
        bad(f"pledge serial {s!r} is not a DNS label")

# -- URLs and ports --------------------------------------------------------
urls = {
    "masa": m["masa"]["url"], "masa_admin": m["admin"]["masa_url"],
    "cloud": m["cloud_registrar"]["url"], "cloud_est": m["cloud_registrar"]["est"]["url"],
    "cloud_admin": m["admin"]["cloudreg_url"], "owner": m["owner"]["registrar"]["url"],
    "owner_est": m["owner"]["est"]["url"],
}
ports = {}
for k, u in urls.items():
    mm = re.fullmatch(r"https://127\.0\.0\.1:(\d+)", u)
    if not mm or not 0 < int(mm.group(1)) < 65536:
        bad(f"{k} url {u!r} is not a bare https://127.0.0.1:PORT origin")
    else:
        ports[k] = int(mm.group(1))

# -- token -----------------------------------------------------------------
tok = path(m["admin"]["token_file"])
t = open(tok).read()
if not (re.fullmatch(r"[0-9a-f]{64}\n", t) or re.fullmatch(r"[A-Za-z0-9_-]{43}\n", t)):
    bad("admin token is not 256 bits of hex or base64url on one line")
if stat.S_IMODE(os.stat(tok).st_mode) != 0o600:
    bad("admin token mode is not 0600")

# -- configs: sections and keys of docs/CONFIG.md, absolute paths ----------
allowed, section = {}, []
for line in open(os.path.join(os.environ["top_srcdir"], "docs", "CONFIG.md")):
    if line.startswith("## "):
        section = re.findall(r"\[(\w+)\]", line)
        for s in section:
            allowed.setdefault(s, set())
    mm = re.match(r"\|\s*(\w+)\s*\|\s*([^|]*)\|", line)
    if mm and mm.group(2).strip() != "type":  # not the header row
        for s in section:
            allowed[s].add(mm.group(1))
allowed.setdefault("admin", set()).add("bootstrap_token_file")  # prose in CONFIG.md

def load_conf(p):
    c = configparser.ConfigParser(interpolation=None, comment_prefixes=(";",),
                                  inline_comment_prefixes=None, strict=True)
    c.optionxform = str
    c.read_string(open(p).read(), p)
    return c

LISTENER = ["listen", "cert", "key", "client_cert"]
REG = ["cert", "key", "manufacturer_ca", "masa_trust", "domain_ca"]
owner_ca = (["backend", "subdomain"] if acme != "-" else ["backend", "cert", "key", "subdomain"])
EXPECT = {
    "masa": {"daemon": ["role", "database"], "brski": LISTENER,
             "admin": LISTENER + ["bootstrap_token_file"],
             "masa": ["sign_cert", "sign_key", "manufacturer_ca", "cloud_registrar_cert",
                      "enroll_here_ca", "enroll_here_est_url", "pinning"]},
    "cloudreg": {"daemon": ["role", "database"], "brski": LISTENER, "est": LISTENER,
                 "admin": LISTENER + ["bootstrap_token_file"], "registrar": REG,
                 "ca": ["backend", "cert", "key"]},
    "owner_registrar": {"daemon": ["role", "database"], "brski": LISTENER, "est": LISTENER,
                        "admin": LISTENER + ["bootstrap_token_file"], "registrar": REG,
                        "ca": owner_ca},
}
if acme != "-":
    EXPECT["owner_registrar"]["acme"] = ["directory", "trust", "challenge", "http01_listen"]
PATH_KEYS = {"cert", "key", "database", "bootstrap_token_file", "sign_cert", "sign_key",
             "manufacturer_ca", "cloud_registrar_cert", "enroll_here_ca", "masa_trust",
             "domain_ca", "trust"}
conf = {}
for name, want in EXPECT.items():
    p = path(m["configs"][name])
    if not os.path.isabs(m["configs"][name]) and not os.path.isfile(p):
        bad(f"configs.{name} missing")
    c = conf[name] = load_conf(p)
    if set(c.sections()) != set(want):
        bad(f"{name}: sections {c.sections()} != {sorted(want)}")
    for s in c.sections():
        keys = set(c[s])
        if s in want and keys != set(want[s]):
            bad(f"{name} [{s}]: keys {sorted(keys)} != {sorted(want[s])}")
        if not keys <= allowed.get(s, set()):
            bad(f"{name} [{s}]: keys not in docs/CONFIG.md: {sorted(keys - allowed.get(s, set()))}")
        for k in keys & PATH_KEYS:
            v = c[s][k]
            if not os.path.isabs(v):
                bad(f"{name} [{s}] {k} = {v!r} is not absolute")
            elif k == "database":
                if not os.path.isdir(os.path.dirname(v)) or os.path.dirname(v) != os.path.realpath(d):
                    bad(f"{name} [{s}] database {v!r} is not under DIR")
            elif not os.path.isfile(v):
                bad(f"{name} [{s}] {k} = {v!r} does not exist")

def listen_port(name, s):
    v = conf[name][s]["listen"]
    mm = re.fullmatch(r"127\.0\.0\.1:(\d+)", v)
    if not mm:
        bad(f"{name} [{s}] listen {v!r} is not 127.0.0.1:PORT")
        return None
    return int(mm.group(1))

for (name, s), k in {("masa", "brski"): "masa", ("masa", "admin"): "masa_admin",
                     ("cloudreg", "brski"): "cloud", ("cloudreg", "est"): "cloud_est",
                     ("cloudreg", "admin"): "cloud_admin", ("owner_registrar", "brski"): "owner",
                     ("owner_registrar", "est"): "owner_est"}.items():
    if listen_port(name, s) != ports.get(k):
        bad(f"{name} [{s}] listen does not match the manifest's {k} url")
all_ports = list(ports.values()) + [listen_port("owner_registrar", "admin")]
if len(set(all_ports)) != 8:
    bad(f"ports are not 8 distinct ones: {all_ports}")

mc, cc, oc = conf["masa"], conf["cloudreg"], conf["owner_registrar"]
def same(a, b, what):
    if os.path.realpath(a) != os.path.realpath(path(b)):
        bad(f"{what}: {a} != {b}")
if (mc["daemon"]["role"], cc["daemon"]["role"], oc["daemon"]["role"]) != ("masa", "cloud", "registrar"):
    bad("daemon roles")
if mc["daemon"]["database"] != cc["daemon"]["database"] or \
        os.path.basename(mc["daemon"]["database"]) != "cloud.db" or \
        os.path.basename(oc["daemon"]["database"]) != "owner.db":
    bad("databases: masad and the cloud registrar share DIR/cloud.db, the owner has DIR/owner.db")
if (mc["brski"]["client_cert"], cc["brski"]["client_cert"], oc["brski"]["client_cert"]) != \
        ("request", "require", "request"):
    bad("[brski] client_cert")
same(mc["brski"]["cert"], m["masa"]["tls_cert"], "masad [brski] cert")
same(mc["masa"]["sign_cert"], m["masa"]["sign_cert"], "masad sign_cert")
same(mc["masa"]["manufacturer_ca"], m["manufacturer_ca"]["cert"], "masad manufacturer_ca")
same(mc["masa"]["enroll_here_ca"], m["cloud_registrar"]["domain_ca"]["cert"], "enroll_here_ca")
if mc["masa"]["enroll_here_est_url"] != m["cloud_registrar"]["est"]["url"]:
    bad("masad enroll_here_est_url is not the cloud registrar's EST url")
if mc["masa"]["pinning"] != "domain-ca":
    bad("pinning")
same(mc["admin"]["bootstrap_token_file"], m["admin"]["token_file"], "token file")
same(cc["brski"]["cert"], m["cloud_registrar"]["cert"], "cloud [brski] cert")
same(cc["est"]["cert"], m["cloud_registrar"]["est"]["cert"], "cloud [est] cert")
same(cc["registrar"]["masa_trust"], m["tls_ca"], "cloud masa_trust")
same(cc["registrar"]["domain_ca"], m["cloud_registrar"]["domain_ca"]["cert"], "cloud domain_ca")
same(cc["ca"]["cert"], m["cloud_registrar"]["domain_ca"]["cert"], "cloud [ca] cert")
same(oc["brski"]["cert"], m["owner"]["registrar"]["cert"], "owner [brski] cert")
same(oc["est"]["cert"], m["owner"]["est"]["cert"], "owner [est] cert")
same(oc["registrar"]["domain_ca"], m["owner"]["domain_ca"]["cert"], "owner domain_ca")
same(oc["registrar"]["masa_trust"], m["tls_ca"], "owner masa_trust")
if oc["ca"]["subdomain"] != "pledges.example.com":
    bad("owner [ca] subdomain")
if acme == "-":
    if cc["ca"]["backend"] != "local" or oc["ca"]["backend"] != "local":
        bad("[ca] backend is not local")
    same(oc["ca"]["cert"], m["owner"]["domain_ca"]["cert"], "owner [ca] cert")
else:
    url, trust, listen = acme.split("|")
    a = oc["acme"]
    if oc["ca"]["backend"] != "acme" or a["directory"] != url or a["challenge"] != "http-01" \
            or a["http01_listen"] != listen or os.path.realpath(a["trust"]) != os.path.realpath(trust):
        bad(f"owner ACME config: {dict(oc['ca'])} {dict(a)}")
# the cloud registrar bundle the MASA trusts holds that certificate alone
if pem_certs(mc["masa"]["cloud_registrar_cert"]) != pem_certs(m["cloud_registrar"]["cert"])[:1]:
    bad("masad cloud_registrar_cert is not the cloud registrar's certificate alone")

# -- certificates ----------------------------------------------------------
KEYALG = {"p256": ("Curve:\tSECP256R1", "NIST CURVE: P-256"),
          "p384": ("Curve:\tSECP384R1", "NIST CURVE: P-384"),
          "ed25519": ("EdDSA (Ed25519)", "ED25519 Public-Key"),
          "rsa2048": ("Modulus (bits 2048)", "Public-Key: (2048 bit)")}[kt]
masa_authority = "127.0.0.1:%d" % ports.get("masa", 0)
SERVER = {"eku": ["TLS WWW Server."], "san": True}
REGISTRAR = {"eku": ["1.3.6.1.5.5.7.3.28", "TLS WWW Server.", "TLS WWW Client."], "san": True}
tls_ca, mfg = m["tls_ca"], m["manufacturer_ca"]["cert"]
cdca, odca = m["cloud_registrar"]["domain_ca"]["cert"], m["owner"]["domain_ca"]["cert"]
# name: (cert file, key file, issuer cert file or None, kind, extra)
CERTS = {
    "tls_ca": (tls_ca, None, None, "ca", {}),
    "manufacturer_ca": (mfg, m["manufacturer_ca"]["key"], None, "ca", {}),
    "masa_ca": (m["masa"]["ca_cert"], None, None, "ca", {}),
    "cloud_domain_ca": (cdca, m["cloud_registrar"]["domain_ca"]["key"], None, "ca", {}),
    "owner_domain_ca": (odca, m["owner"]["domain_ca"]["key"], None, "ca", {}),
    "masa_sign": (m["masa"]["sign_cert"], m["masa"]["sign_key"], m["masa"]["ca_cert"], "leaf", {"eku": []}),
    "masa_tls": (m["masa"]["tls_cert"], m["masa"]["tls_key"], tls_ca, "leaf", SERVER),
    "cloud_registrar": (m["cloud_registrar"]["cert"], m["cloud_registrar"]["key"], tls_ca, "leaf", REGISTRAR),
    "cloud_est": (m["cloud_registrar"]["est"]["cert"], m["cloud_registrar"]["est"]["key"], cdca, "leaf", SERVER),
    "owner_registrar": (m["owner"]["registrar"]["cert"], m["owner"]["registrar"]["key"], odca, "leaf", REGISTRAR),
    "owner_est": (m["owner"]["est"]["cert"], m["owner"]["est"]["key"], odca, "leaf", SERVER),
}
for p in pledges:
    CERTS[p["serial"]] = (p["cert"], p["key"], mfg, "idevid", {"eku": [], "serial": p["serial"]})

now = datetime.datetime.utcnow()
seen_serials, seen_skis = {}, {}
for name, (cf, kf, issuer, kind, extra) in CERTS.items():
    where = f"{name} ({cf})"
    pems = pem_certs(cf)
    if not pems:
        bad(f"{where}: no certificate"); continue
    # chain files: leaf first, then the issuing CA, and nothing else
    if issuer is not None and (len(pems) != 2 or pems[1] != pem_certs(issuer)[0]):
        bad(f"{where}: not a chain of leaf then issuer")
    single = path(cf).replace(".chain.pem", ".crt")
    if issuer is not None and os.path.exists(single) and pem_certs(single) != pems[:1]:
        bad(f"{where}: {single} is not the chain's leaf alone")
    leaf = os.path.join(os.path.dirname(path(cf)), "leaf-" + name + ".pem")
    with open(leaf, "w") as f:
        f.write(pems[0])
    cert = x509.load_pem_x509_certificate(pems[0].encode())

    # GnuTLS's reading
    rc, gt = run(CERTTOOL, "-i", "--infile", leaf)
    if rc != 0:
        bad(f"{where}: certtool -i failed"); continue
    # OpenSSL's reading
    rc, ot = run(OPENSSL, "x509", "-noout", "-text", "-in", leaf)
    if rc != 0:
        bad(f"{where}: openssl x509 failed"); continue

    def both(g, o, what):
        if g not in gt:
            bad(f"{where}: certtool shows no {what} ({g!r})")
        if o not in ot:
            bad(f"{where}: openssl shows no {what} ({o!r})")

    def neither(g, o, what):
        if g in gt or o in ot:
            bad(f"{where}: has {what}")

    both(KEYALG[0], KEYALG[1], f"{kt} key")
    both("Subject Key Identifier", "X509v3 Subject Key Identifier", "SKI")
    if kind == "ca":
        both("Certificate Authority (CA): TRUE", "CA:TRUE", "CA:TRUE")
        both("Certificate signing.", "Certificate Sign", "keyCertSign")
        both("CRL signing.", "CRL Sign", "cRLSign")
        if cert.issuer != cert.subject:
            bad(f"{where}: a CA here is a self-signed root")
    else:
        both("Authority Key Identifier", "X509v3 Authority Key Identifier", "AKI")
        both("Certificate Authority (CA): FALSE", "CA:FALSE", "CA:FALSE")
        both("Digital signature.", "Digital Signature", "digitalSignature")
        neither("Certificate signing.", "Certificate Sign", "keyCertSign")
    ekus = extra.get("eku", [])
    for e, o in (("1.3.6.1.5.5.7.3.28", "CMC Registration Authority"),
                 ("TLS WWW Server.", "TLS Web Server Authentication"),
                 ("TLS WWW Client.", "TLS Web Client Authentication")):
        if e in ekus:
            both(e, o, "EKU " + o)
        else:
            neither(e, o, "EKU " + o)
    if extra.get("san"):
        both("IPAddress: 127.0.0.1", "IP Address:127.0.0.1", "SAN IP:127.0.0.1")
        both("DNSname: localhost", "DNS:localhost", "SAN DNS:localhost")
    else:
        neither("Subject Alternative Name", "Subject Alternative Name", "SANs")

    # exact values, with a third reader
    sn = cert.serial_number
    if sn <= 0 or sn.bit_length() > 159 or sn.bit_length() < 64:
        bad(f"{where}: serial {sn:x} is not positive with 64..159 bits")
    if sn in seen_serials:
        bad(f"{where}: serial repeats {seen_serials[sn]}")
    seen_serials[sn] = name
    ski = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
    if ski in seen_skis:
        bad(f"{where}: SKI repeats {seen_skis[ski]}")
    seen_skis[ski] = name
    if issuer is not None:
        icert = x509.load_pem_x509_certificate(pem_certs(issuer)[0].encode())
        aki = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
        iski = icert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
        if aki.key_identifier != iski:
            bad(f"{where}: AKI is not the issuer's SKI")
    nb, na = cert.not_valid_before, cert.not_valid_after
    if not (now - datetime.timedelta(days=1) < nb < now - datetime.timedelta(minutes=5)):
        bad(f"{where}: notBefore {nb} is not a little in the past")
    if kind == "idevid":
        if na != datetime.datetime(9999, 12, 31, 23, 59, 59):
            bad(f"{where}: notAfter {na} is not 9999-12-31 23:59:59")
        rc, a1 = run(OPENSSL, "asn1parse", "-in", leaf)
        if "GENERALIZEDTIME   :99991231235959Z" not in a1:
            bad(f"{where}: notAfter is not GeneralizedTime 99991231235959Z")
    else:
        years = (na - now).days / 365.0
        want = (9.9, 10.1) if kind == "ca" else (0.9, 2.1)
        if not want[0] < years < want[1]:
            bad(f"{where}: lifetime {years:.2f} years, want {want}")
    if kind == "idevid":
        serial = extra["serial"]
        both("serialNumber=" + serial, "serialNumber = " + serial, "subject serialNumber")
        attrs = cert.subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.5"))
        if [a.value for a in attrs] != [serial]:
            bad(f"{where}: subject serialNumber is not {serial}")
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.32"))
        der = ext.value.value
        if ext.critical or der != bytes([0x16, len(masa_authority)]) + masa_authority.encode():
            bad(f"{where}: MASA URL extension {der!r} (critical={ext.critical}) is not "
                f"a non-critical IA5String {masa_authority!r}")
        both("1.3.6.1.5.5.7.1.32 (not critical)", "1.3.6.1.5.5.7.1.32:", "MASA URL extension")
        both(masa_authority, masa_authority, "MASA URL value")
    elif "serialNumber" in gt.split("Subject:")[1].split("\n")[0]:
        bad(f"{where}: only IDevIDs carry a subject serialNumber")

    # chains: OpenSSL and GnuTLS must both verify each against its issuer
    anchor = issuer or cf
    vargs = [OPENSSL, "verify", "-CAfile", path(anchor)]
    if extra.get("san"):
        vargs += ["-purpose", "sslserver", "-verify_ip", "127.0.0.1", "-verify_hostname", "localhost"]
    rc, out = run(*vargs, path(cf))
    if rc != 0 or not out.strip().endswith(": OK"):
        bad(f"{where}: openssl verify: {out.strip()}")
    if extra is REGISTRAR:
        rc, out = run(OPENSSL, "verify", "-CAfile", path(anchor), "-purpose", "sslclient", path(cf))
        if rc != 0:
            bad(f"{where}: openssl verify -purpose sslclient: {out.strip()}")
    rc, out = run(CERTTOOL, "--verify", "--load-ca-certificate", path(anchor), "--infile", path(cf))
    if rc != 0 or "Chain verification output: Verified" not in out:
        bad(f"{where}: certtool --verify: {out.strip()}")

    # key: mode 0600, and it belongs to the certificate
    if kf is not None:
        if stat.S_IMODE(os.stat(path(kf)).st_mode) != 0o600:
            bad(f"{where}: key {kf} mode is not 0600")
        rc1, kpub = run(OPENSSL, "pkey", "-in", path(kf), "-pubout")
        rc2, cpub = run(OPENSSL, "x509", "-in", leaf, "-noout", "-pubkey")
        if rc1 or rc2 or kpub != cpub:
            bad(f"{where}: key {kf} does not match the certificate")
        if "BEGIN PRIVATE KEY" not in open(path(kf)).read():
            bad(f"{where}: key {kf} is not PKCS#8 PEM")
    os.unlink(leaf)

# every key file in DIR is 0600, whether or not the manifest names it
for root, _, files in os.walk(d):
    for f in files:
        if f.endswith(".key") and stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) != 0o600:
            bad(f"{os.path.join(root, f)} mode is not 0600")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"{d}: {len(CERTS)} certificates, manifest, token and configs OK")
EOF

# check DIR KEYTYPE ACME: the checker, then the daemons' own loaders, which
# refuse unknown keys and load every certificate and key named.
check() {
	"$PYTHON3" "$work/check.py" "$@" || fail "checks of $1"
	"$top_builddir/masa/masad" -c "$1/masad.conf" --check-config >"$work/cc" 2>&1 ||
		{ cat "$work/cc"; fail "masad --check-config $1/masad.conf"; }
	for c in cloudregd-cloud cloudregd-owner; do
		"$top_builddir/cloudreg/cloudregd" -c "$1/$c.conf" --check-config >"$work/cc" 2>&1 ||
			{ cat "$work/cc"; fail "cloudregd --check-config $1/$c.conf"; }
	done
}

# ---- options --------------------------------------------------------------
expect_rc 0 pki init --help
grep -q -- '--key-type' "$work/out" || fail "--help does not describe --key-type"
grep -q -- '--force' "$work/out" || fail "--help does not describe --force"
expect_rc 0 pki --help
expect_rc 2 pki
expect_rc 2 pki frobnicate
expect_rc 2 pki init
expect_rc 2 pki init "$work/a" "$work/b"
expect_rc 2 pki init "$work/bad" --key-type dsa
expect_rc 2 pki init "$work/bad" --pledges 0
expect_rc 2 pki init "$work/bad" --pledges 10000
expect_rc 2 pki init "$work/bad" --pledges 3x
expect_rc 2 pki init "$work/bad" --pledges
expect_rc 2 pki init "$work/bad" --no-such-option
expect_rc 2 pki init "$work/bad" --acme-directory https://127.0.0.1:14000/dir
expect_rc 2 pki init "$work/bad" --acme-directory http://x/dir --acme-trust /etc/hostname
expect_rc 2 pki init "$work/bad" --acme-directory https://x/dir --acme-trust "$work/none.pem"
expect_rc 2 pki init "$work/bad" --acme-http01-listen 127.0.0.1
expect_rc 2 pki init "$work/bad;x"
[ ! -e "$work/bad/pki.json" ] || fail "a refused run wrote a manifest"
: >"$work/plainfile"
expect_rc 2 pki init "$work/plainfile"

# ---- each key type --------------------------------------------------------
for kt in p256 p384 ed25519 rsa2048; do
	if [ "$kt" = p256 ]; then
		expect_rc 0 pki init "$work/$kt" # the default
		grep -q 'ECDSA P-256' "$work/out" || fail "default key type is not P-256"
	else
		expect_rc 0 pki init "$work/$kt" --key-type "$kt"
	fi
	grep -q 'pledge-0003' "$work/out" || fail "the summary does not list the pledges"
	check "$work/$kt" "$kt" -
done

PKI_PLEDGES=5 && export PKI_PLEDGES
expect_rc 0 pki init "$work/five" --pledges 5
check "$work/five" p256 -
unset PKI_PLEDGES

# ---- ACME backend for the owner registrar ----------------------------------
trust="$work/p256/tls-ca.crt"
expect_rc 0 pki init "$work/acme" --acme-directory https://127.0.0.1:14000/dir --acme-trust "$trust"
check "$work/acme" p256 "https://127.0.0.1:14000/dir|$trust|127.0.0.1:5002"
expect_rc 0 pki init "$work/acme2" --key-type ed25519 --acme-directory https://localhost:14000/dir \
	--acme-trust "$trust" --acme-http01-listen 127.0.0.1:5999
check "$work/acme2" ed25519 "https://localhost:14000/dir|$trust|127.0.0.1:5999"

# ---- an existing DIR ------------------------------------------------------
d="$work/p256"
before=$(cat "$d/pki.json" "$d/tls-ca.crt" "$d/admin-token" | cksum)
expect_rc 2 pki init "$d"
grep -q 'pki.json' "$work/err" || fail "refusal does not name pki.json"
[ "$(cat "$d/pki.json" "$d/tls-ca.crt" "$d/admin-token" | cksum)" = "$before" ] ||
	fail "a refused run changed DIR"
: >"$d/cloud.db"
: >"$d/cloud.db-wal"
: >"$d/owner.db"
expect_rc 0 pki init "$d" --force --key-type p384
[ ! -e "$d/cloud.db" ] && [ ! -e "$d/cloud.db-wal" ] && [ ! -e "$d/owner.db" ] ||
	fail "--force left the old databases"
cmp -s "$work/p256/tls-ca.crt" "$work/p384/tls-ca.crt" && fail "two runs made the same CA"
[ "$(cat "$d/pki.json" "$d/tls-ca.crt" "$d/admin-token" | cksum)" != "$before" ] ||
	fail "--force did not replace the PKI"
check "$d" p384 -
# a DIR without pki.json (an interrupted run, or mktemp -d) is simply used
rm "$d/pki.json"
expect_rc 0 pki init "$d"
check "$d" p256 -

ok=yes
echo "PASS: brski pki init"
exit 0
