/*
 * tlscert.c: the HTTP listener's certificate and key, checked with
 * OpenSSL (see tlscert.h).  Trusts the files' paths; their contents are
 * parsed by OpenSSL and never echoed.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/tlscert.h"
#include "common/util.h"

/* Never ask for a passphrase (OpenSSL's default reads the terminal). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* 1 when the queue's last error is the end of the PEM blocks. */
static int
pem_ended(void)
{
	unsigned long e = ERR_peek_last_error();

	return e != 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int
tls_pem_check(const char *cert, size_t certlen, const char *key,
    size_t keylen, int64_t *not_after, int *ncerts, const char **why)
{
	BIO *b = NULL;
	X509 *leaf = NULL, *x;
	EVP_PKEY *pk = NULL;
	int r = TLS_PEM_CERT, n = 0;

	*why = NULL;
	if (certlen > TLS_PEM_MAX || keylen > TLS_PEM_MAX ||
	    certlen > INT32_MAX || keylen > INT32_MAX) {
		*why = "too large for a PEM file";
		r = certlen > TLS_PEM_MAX ? TLS_PEM_CERT : TLS_PEM_KEY;
		goto out;
	}
	if ((b = BIO_new_mem_buf(cert, (int)certlen)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	if ((leaf = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL) {
		*why = pem_ended() ? "holds no PEM certificate "
		    "(\"-----BEGIN CERTIFICATE-----\")" :
		    "the certificate does not parse";
		goto out;
	}
	n = 1;
	/* The rest of the chain, if any, must parse too. */
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	if (!pem_ended()) {
		*why = "a certificate after the first does not parse";
		goto out;
	}
	ERR_clear_error();
	BIO_free(b);
	r = TLS_PEM_KEY;
	if ((b = BIO_new_mem_buf(key, (int)keylen)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	if ((pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase,
	    NULL)) == NULL) {
		if (memmem(key, keylen, "ENCRYPTED", 9) != NULL)
			*why = "the key is encrypted: give the listener an "
			    "unencrypted key (file mode 0600)";
		else if (memmem(key, keylen, "OPENSSH PRIVATE KEY", 19) != NULL)
			*why = "an OpenSSH key, not a PEM private key for TLS";
		else if (memmem(key, keylen, "PRIVATE KEY-----", 16) == NULL)
			*why = "holds no PEM private key "
			    "(\"-----BEGIN PRIVATE KEY-----\")";
		else
			*why = "the private key does not parse";
		goto out;
	}
	if (X509_check_private_key(leaf, pk) != 1) {
		*why = "is not the key of the certificate in http.tls_cert";
		goto out;
	}
	if (not_after != NULL)
		*not_after = asn1_time_unix(X509_get0_notAfter(leaf));
	if (ncerts != NULL)
		*ncerts = n;
	r = 0;
 out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(leaf);
	EVP_PKEY_free(pk);
	return r;
}

/* read_file() of a PEM file: 0, or *why (malloc'd). */
static int
read_pem(const char *path, char **text, size_t *len, char **why)
{
	int r;

	if ((r = read_file(path, TLS_PEM_MAX, text, len)) == 0)
		return 0;
	*why = r == BST_ERR_TOOBIG ? xstrdup("too large for a PEM file") :
	    xasprintf("cannot read: %s", strerror(errno));
	return -1;
}

int
tls_pem_load(const char *cert_path, const char *key_path,
    struct tls_pem *out, char **why)
{
	const char *w;
	size_t certlen, keylen;
	int r;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (read_pem(cert_path, &out->cert, &certlen, why) != 0) {
		tls_pem_free(out);
		return TLS_PEM_CERT;
	}
	if (read_pem(key_path, &out->key, &keylen, why) != 0) {
		tls_pem_free(out);
		return TLS_PEM_KEY;
	}
	out->keylen = keylen;
	if ((r = tls_pem_check(out->cert, certlen, out->key, keylen,
	    &out->not_after, &out->ncerts, &w)) != 0) {
		*why = xstrdup(w);
		tls_pem_free(out);
		return r;
	}
	return 0;
}

void
tls_pem_free(struct tls_pem *p)
{
	if (p == NULL)
		return;
	free(p->cert);
	if (p->key != NULL)
		freezero(p->key, p->keylen + 1);
	memset(p, 0, sizeof(*p));
}
