/*
 * cms-tool: a thin driver of libvoucher's public CMS and X.509 API for
 * tests/integration/test-cms-openssl.sh, so that OpenSSL can check what we
 * sign and we can check what OpenSSL signs.
 *
 *   cms-tool sign KEY|PKCS11-URI CHAIN IN OUT
 *   cms-tool verify IN ANCHORS|- OUT     (-: no trust list)
 *   cms-tool x509 CERT                   (one line per helper)
 *
 * Exit 0 on success, 1 when the library refused (the code is printed as
 * "err=N"), 2 on usage or I/O problems.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	if (f == NULL || b == NULL) {
		fprintf(stderr, "cms-tool: cannot read %s\n", path);
		free(b);
		if (f)
			fclose(f);
		return -1;
	}
	for (;;) {
		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				fclose(f);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*out = b;
	*len = n;
	return 0;
}

static int write_all(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cms-tool: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int refused(const char *what, voucher_err e)
{
	printf("err=%d\n", e);
	fprintf(stderr, "cms-tool: %s: %s\n", what, voucher_strerror(e));
	return 1;
}

static void hex(const char *label, const uint8_t *p, size_t n)
{
	printf("%s=", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int cmd_sign(char **argv)
{
	struct voucher_signer *s = NULL;
	uint8_t *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	voucher_err e = voucher_signer_load(&s, argv[0], argv[1]);
	if (e != VOUCHER_OK)
		return refused("load signer", e);
	if (read_all(argv[2], &in, &in_len) < 0) {
		voucher_signer_free(s);
		return 2;
	}
	e = voucher_sign(VOUCHER_ENV_CMS, s, in, in_len, &out, &out_len);
	voucher_signer_free(s);
	free(in);
	if (e != VOUCHER_OK)
		return refused("sign", e);
	int rc = write_all(argv[3], out, out_len) < 0 ? 2 : 0;
	free(out);
	return rc;
}

static int cmd_verify(char **argv)
{
	struct voucher_trust *t = NULL;
	struct voucher_verified *v = NULL;
	uint8_t *in = NULL;
	size_t len = 0;
	voucher_err e;

	if (strcmp(argv[1], "-") != 0) {
		if ((e = voucher_trust_new(&t)) != VOUCHER_OK ||
		    (e = voucher_trust_add_file(t, argv[1])) != VOUCHER_OK) {
			voucher_trust_free(t);
			return refused("load trust anchors", e);
		}
	}
	if (read_all(argv[0], &in, &len) < 0) {
		voucher_trust_free(t);
		return 2;
	}
	e = voucher_verify(voucher_envelope_detect(in, len), in, len, t, &v);
	free(in);
	voucher_trust_free(t);
	if (e != VOUCHER_OK)
		return refused("verify", e);
	printf("id_data=%d\nchain=%zu\n", v->cms_id_data, v->chain_len);
	int rc = write_all(argv[2], v->payload, v->payload_len) < 0 ? 2 : 0;
	voucher_verified_free(v);
	return rc;
}

static int cmd_x509(char **argv)
{
	struct voucher_x509_chain *c = NULL;
	voucher_err e = voucher_x509_chain_load_file(argv[0], &c);
	if (e != VOUCHER_OK)
		return refused("load certificate", e);
	const uint8_t *der = c->der[0];
	size_t len = c->der_len[0];
	char *s = NULL;
	uint8_t *b = NULL, h[32];
	size_t n = 0;
	if (voucher_x509_serial_number(der, len, &s) == VOUCHER_OK)
		printf("serial-number=%s\n", s);
	free(s);
	s = NULL;
	if (voucher_x509_masa_url(der, len, &s) == VOUCHER_OK)
		printf("masa-url=%s\n", s);
	free(s);
	if (voucher_x509_idevid_issuer(der, len, &b, &n) == VOUCHER_OK)
		hex("idevid-issuer", b, n);
	free(b);
	b = NULL;
	if (voucher_x509_ski(der, len, &b, &n) == VOUCHER_OK)
		hex("ski", b, n);
	free(b);
	if (voucher_x509_spki_sha256(der, len, h) == VOUCHER_OK)
		hex("spki-sha256", h, sizeof(h));
	printf("cmcra=%s\n", voucher_x509_check_cmcra(der, len) == VOUCHER_OK ? "yes" : "no");
	voucher_x509_chain_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv + 2);
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv + 2);
	if (argc == 3 && strcmp(argv[1], "x509") == 0)
		return cmd_x509(argv + 2);
	fprintf(stderr, "usage: cms-tool sign KEY CHAIN IN OUT | verify IN ANCHORS|- OUT | "
	                "x509 CERT\n");
	return 2;
}
