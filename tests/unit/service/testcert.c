/* Test certificates made in-process: see testcert.h. */
#include <config.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "testcert.h"

static int write_file(const char *path, const void *data, size_t len, const char *mode)
{
	FILE *fp = fopen(path, mode);

	if (!fp)
		return -1;
	if (fwrite(data, 1, len, fp) != len) {
		fclose(fp);
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

static int append_pem(const char *path, gnutls_x509_crt_t crt, const char *mode)
{
	gnutls_datum_t d = {NULL, 0};
	int ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);

	if (ret < 0)
		return -1;
	ret = write_file(path, d.data, d.size, mode);
	gnutls_free(d.data);
	return ret;
}

int testcert_make(struct testcert *tc, const struct testcert *issuer, const char *dir,
                  const char *name, const char *cn, bool ca, unsigned serial)
{
	unsigned char ser[4] = {(unsigned char)(serial >> 24), (unsigned char)(serial >> 16),
	                        (unsigned char)(serial >> 8), (unsigned char)serial};
	unsigned char ip[4] = {127, 0, 0, 1};
	unsigned char keyid[64];
	size_t keyid_len = sizeof(keyid);
	gnutls_datum_t d = {NULL, 0};
	time_t now = time(NULL);

	memset(tc, 0, sizeof(*tc));
	snprintf(tc->cert_path, sizeof(tc->cert_path), "%s/%s.crt", dir, name);
	snprintf(tc->key_path, sizeof(tc->key_path), "%s/%s.key", dir, name);
	if (gnutls_x509_privkey_init(&tc->key) < 0 ||
	    gnutls_x509_privkey_generate(tc->key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&tc->crt) < 0)
		return -1;
	gnutls_x509_crt_set_version(tc->crt, 3);
	gnutls_x509_crt_set_serial(tc->crt, ser, sizeof(ser));
	gnutls_x509_crt_set_activation_time(tc->crt, now - 3600);
	gnutls_x509_crt_set_expiration_time(tc->crt, now + 86400);
	gnutls_x509_crt_set_dn_by_oid(tc->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
	gnutls_x509_crt_set_key(tc->crt, tc->key);
	gnutls_x509_crt_set_basic_constraints(tc->crt, ca ? 1 : 0, -1);
	if (gnutls_x509_crt_get_key_id(tc->crt, 0, keyid, &keyid_len) >= 0)
		gnutls_x509_crt_set_subject_key_id(tc->crt, keyid, keyid_len);
	if (ca) {
		gnutls_x509_crt_set_key_usage(tc->crt,
		                              GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	} else {
		gnutls_x509_crt_set_key_usage(tc->crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
		gnutls_x509_crt_set_key_purpose_oid(tc->crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
		gnutls_x509_crt_set_key_purpose_oid(tc->crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
		gnutls_x509_crt_set_subject_alt_name(tc->crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
		                                     GNUTLS_FSAN_APPEND);
		gnutls_x509_crt_set_subject_alt_name(tc->crt, GNUTLS_SAN_IPADDRESS, ip, 4,
		                                     GNUTLS_FSAN_APPEND);
	}
	if (issuer) {
		keyid_len = sizeof(keyid);
		if (gnutls_x509_crt_get_subject_key_id(issuer->crt, keyid, &keyid_len, NULL) >= 0)
			gnutls_x509_crt_set_authority_key_id(tc->crt, keyid, keyid_len);
		if (gnutls_x509_crt_sign2(tc->crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256, 0) <
		    0)
			return -1;
	} else if (gnutls_x509_crt_sign2(tc->crt, tc->crt, tc->key, GNUTLS_DIG_SHA256, 0) < 0) {
		return -1;
	}
	if (append_pem(tc->cert_path, tc->crt, "w") != 0)
		return -1;
	if (issuer && !ca && append_pem(tc->cert_path, issuer->crt, "a") != 0)
		return -1;
	if (gnutls_x509_privkey_export2(tc->key, GNUTLS_X509_FMT_PEM, &d) < 0)
		return -1;
	int ret = write_file(tc->key_path, d.data, d.size, "w");
	gnutls_free(d.data);
	return ret;
}

void testcert_free(struct testcert *tc)
{
	if (tc->crt)
		gnutls_x509_crt_deinit(tc->crt);
	if (tc->key)
		gnutls_x509_privkey_deinit(tc->key);
	memset(tc, 0, sizeof(*tc));
}

int testcert_tmpdir(char *out, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(out, len, "%s/brski-unit.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(out) ? 0 : -1;
}

void testcert_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int testcert_write(const char *dir, const char *name, const char *text, char *out, size_t len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (out)
		snprintf(out, len, "%s", path);
	return write_file(path, text, strlen(text), "w");
}
