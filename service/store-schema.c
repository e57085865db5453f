/*
 * The store's schema, as versioned migrations. Append a migration to change
 * the schema; never edit one that has shipped (a database records which
 * versions it has applied, in schema_version, and applies only newer ones).
 *
 * The SQL runs on SQLite and PostgreSQL alike. The few differences are
 * dialect tokens that each backend expands: {ID} (an auto-assigned 64-bit
 * primary key), {BLOB} (BLOB / BYTEA). Conventions:
 *   - times are BIGINT Unix seconds, UTC, from the database's clock;
 *   - booleans are SMALLINT 0/1;
 *   - hashes are 32-byte SHA-256 blobs; certificates and CRLs DER blobs,
 *     except PEM that operators upload and read back as text;
 *   - "optional" text is NULL when absent, except devices.idevid_issuer,
 *     which is '' for "any issuer" so that the unique key works (NULLs are
 *     distinct in a UNIQUE constraint on both engines);
 *   - owners are referenced by their unique name.
 */
#include <config.h> /* the build's, not service/config.h */

#include "service/store-int.h"

static const char schema_v1[] =
        /* Device owners (customers) and how to reach them. */
        "CREATE TABLE owners ("
        " id {ID},"
        " name TEXT NOT NULL UNIQUE,"
        " domain_ca_pem TEXT NOT NULL,"             /* validates the owner's registrars */
        " registrar_url TEXT,"                      /* redirect target */
        " est_url TEXT,"                            /* owner's EST server (est-domain) */
        " est_pin_pem TEXT,"                        /* pinned in est-domain vouchers */
        " enroll_here SMALLINT NOT NULL DEFAULT 0," /* may use our EST */
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"

        /* Registrar certificates an owner has withdrawn, by SHA-256 of DER. */
        "CREATE TABLE owner_denied_certs ("
        " id {ID},"
        " owner TEXT NOT NULL REFERENCES owners(name) ON DELETE CASCADE,"
        " cert_sha256 {BLOB} NOT NULL,"
        " reason TEXT,"
        " created_at BIGINT NOT NULL,"
        " UNIQUE (owner, cert_sha256));"

        /* CRLs an owner uploaded for its domain CA. */
        "CREATE TABLE owner_crls ("
        " id {ID},"
        " owner TEXT NOT NULL REFERENCES owners(name) ON DELETE CASCADE,"
        " crl_sha256 {BLOB} NOT NULL,"
        " crl_der {BLOB} NOT NULL,"
        " next_update BIGINT,"
        " created_at BIGINT NOT NULL,"
        " UNIQUE (owner, crl_sha256));"

        /* Devices: identified by IDevID serial (+ issuer when set). */
        "CREATE TABLE devices ("
        " id {ID},"
        " serial TEXT NOT NULL,"
        " idevid_issuer TEXT NOT NULL DEFAULT '',"
        " owner TEXT REFERENCES owners(name),"
        " mode TEXT NOT NULL DEFAULT 'redirect'"
        "  CHECK (mode IN ('redirect', 'est-domain', 'enroll-here')),"
        " additional_configuration_url TEXT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " UNIQUE (serial, idevid_issuer));"
        "CREATE INDEX devices_owner ON devices (owner, id);"

        /* Append-only log of voucher-requests and what became of them. */
        "CREATE TABLE voucher_requests ("
        " id {ID},"
        " logged_at BIGINT NOT NULL,"
        " request_id TEXT,"
        " peer TEXT,"
        " signer TEXT,"
        " serial TEXT,"
        " nonce {BLOB},"
        " media_type TEXT,"
        " disposition TEXT NOT NULL," /* "accepted" or the failed check */
        " status BIGINT NOT NULL,"    /* HTTP status answered */
        " detail TEXT);"
        "CREATE INDEX voucher_requests_serial ON voucher_requests (serial, id);"

        /* The MASA audit log (RFC 8995 section 5.8.1), per device. */
        "CREATE TABLE audit_events ("
        " id {ID},"
        " serial TEXT NOT NULL,"
        " owner TEXT,"
        " domain_id TEXT NOT NULL,"
        " nonce {BLOB},"
        " assertion TEXT NOT NULL,"
        " logged_at BIGINT NOT NULL);"
        "CREATE INDEX audit_events_serial ON audit_events (serial, id);"

        /* voucher_status and enrollstatus telemetry from pledges. */
        "CREATE TABLE telemetry ("
        " id {ID},"
        " serial TEXT NOT NULL,"
        " kind TEXT NOT NULL CHECK (kind IN ('voucher_status', 'enrollstatus')),"
        " status SMALLINT NOT NULL,"
        " reason TEXT,"
        " body TEXT," /* the JSON as sent */
        " logged_at BIGINT NOT NULL);"
        "CREATE INDEX telemetry_serial ON telemetry (serial, id);"

        /* Enrollment jobs: one per distinct CSR, leased to one worker. */
        "CREATE TABLE enroll_jobs ("
        " id {ID},"
        " csr_sha256 {BLOB} NOT NULL UNIQUE,"
        " csr {BLOB} NOT NULL,"
        " serial TEXT NOT NULL,"
        " owner TEXT,"
        " state TEXT NOT NULL DEFAULT 'pending'"
        "  CHECK (state IN ('pending', 'running', 'done', 'failed')),"
        " lease_holder TEXT,"
        " lease_expires BIGINT,"
        " run_after BIGINT NOT NULL," /* not claimed before (retry backoff) */
        " attempts BIGINT NOT NULL DEFAULT 0,"
        " error TEXT,"
        " result {BLOB}," /* certs-only PKCS#7 */
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE INDEX enroll_jobs_state ON enroll_jobs (state, id);"

        /* Issued certificates, cached by SHA-256 of the whole CSR. */
        "CREATE TABLE certificates ("
        " id {ID},"
        " csr_sha256 {BLOB} NOT NULL UNIQUE,"
        " serial TEXT,"
        " not_after BIGINT NOT NULL,"
        " cert_der {BLOB},"
        " pkcs7 {BLOB} NOT NULL,"
        " created_at BIGINT NOT NULL);"

        "CREATE TABLE acme_account ("
        " id {ID},"
        " directory TEXT NOT NULL UNIQUE,"
        " key_pem TEXT NOT NULL,"
        " kid TEXT," /* account URL, once registered */
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"

        "CREATE TABLE acme_orders ("
        " id {ID},"
        " job_id BIGINT NOT NULL REFERENCES enroll_jobs(id) ON DELETE CASCADE,"
        " order_url TEXT NOT NULL UNIQUE,"
        " state TEXT NOT NULL,"
        " authz_urls TEXT,"
        " finalize_url TEXT,"
        " cert_url TEXT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE INDEX acme_orders_job ON acme_orders (job_id, id);"

        /* Admin API bearer tokens, stored as SHA-256 of the token. */
        "CREATE TABLE admin_tokens ("
        " id {ID},"
        " name TEXT NOT NULL,"
        " token_sha256 {BLOB} NOT NULL UNIQUE,"
        " scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),"
        " owner TEXT REFERENCES owners(name) ON DELETE CASCADE,"
        " created_at BIGINT NOT NULL,"
        " revoked_at BIGINT);"

        "CREATE TABLE admin_audit ("
        " id {ID},"
        " logged_at BIGINT NOT NULL,"
        " token_id BIGINT,"
        " request_id TEXT,"
        " method TEXT NOT NULL,"
        " route TEXT NOT NULL,"
        " status BIGINT NOT NULL,"
        " before_json TEXT,"
        " after_json TEXT)";

/* Version 2: cloudregd's append-only log of the pledge-facing requests it
 * answered (requestvoucher, voucher_status, enrollstatus, EST) and what
 * became of each, as voucher_requests is masad's. A table of its own, so
 * that a database shared by both daemons keeps their logs apart. */
static const char schema_v2[] =
        "CREATE TABLE pledge_requests ("
        " id {ID},"
        " logged_at BIGINT NOT NULL,"
        " request_id TEXT,"
        " peer TEXT,"        /* addr:port of the TCP peer */
        " client_cert TEXT," /* hex SHA-256 of the TLS client certificate */
        " serial TEXT,"      /* that certificate's subject serialNumber */
        " endpoint TEXT NOT NULL,"
        " media_type TEXT,"
        " disposition TEXT NOT NULL," /* "accepted" or the failed check */
        " status BIGINT NOT NULL,"    /* HTTP status answered */
        " detail TEXT);"
        "CREATE INDEX pledge_requests_serial ON pledge_requests (serial, id)";

/* Version 3: what cloudregd's EST server and ACME backend must not keep
 * in memory only. A simplereenroll job says so (the CA backend is told,
 * whichever worker runs it); an issued certificate is found again by the
 * SHA-256 of its DER when it comes back as a TLS client certificate (an
 * LDevID from an ACME CA carries no serialNumber: the registrar knows the
 * device from its own record); a parent domain's pre-authorization (RFC
 * 8555 7.4.1) outlives a restart until the authorization expires. */
static const char schema_v3[] =
        "ALTER TABLE enroll_jobs ADD COLUMN reenroll SMALLINT NOT NULL DEFAULT 0;"
        "ALTER TABLE certificates ADD COLUMN cert_sha256 {BLOB};"
        "CREATE INDEX certificates_cert ON certificates (cert_sha256);"
        "CREATE TABLE acme_preauth ("
        " id {ID},"
        " directory TEXT NOT NULL,"
        " domain TEXT NOT NULL,"
        " authz_url TEXT NOT NULL,"
        " valid SMALLINT NOT NULL DEFAULT 0,"
        " published SMALLINT NOT NULL DEFAULT 0," /* a dns-01 record may be up */
        " expires BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " UNIQUE (directory, domain))";

const struct store_migration store_migrations[] = {
        {1, schema_v1},
        {2, schema_v2},
        {3, schema_v3},
};
const size_t store_migrations_count = sizeof(store_migrations) / sizeof(store_migrations[0]);
