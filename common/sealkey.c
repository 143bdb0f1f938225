/*
 * sealkey.c: Ed25519 signatures over session seals (see sealkey.h),
 * through OpenSSL 3's EVP interface.  Trusts nothing it reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/sealkey.h"
#include "common/util.h"

#define SEAL_KEY_FILE_MAX	(64 * 1024)

struct sealkey {
	EVP_PKEY	*pkey;
	int		 private;
};

static int
load(const char *path, int want_private, struct sealkey **out,
    const char **why)
{
	EVP_PKEY *k = NULL;
	struct stat st;
	FILE *f;
	int fd, private = 0;

	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		*why = strerror(errno);
		return BST_ERR_IO;
	}
	/* Not a FIFO or a device that never ends: a small regular file. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SEAL_KEY_FILE_MAX || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		*why = "not a key file (a regular file of at most 64 KiB)";
		return BST_ERR_CONFIG;
	}
	if (!want_private)
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (k == NULL) {
		rewind(f);
		/* No passphrase callback: an encrypted key is refused. */
		k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
		private = k != NULL;
	}
	fclose(f);
	if (k == NULL || !EVP_PKEY_is_a(k, "ED25519")) {
		EVP_PKEY_free(k);
		*why = want_private ? "not an Ed25519 private key in PEM form "
		    "(openssl genpkey -algorithm ed25519)" : "not an Ed25519 "
		    "key in PEM form";
		return BST_ERR_CONFIG;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->pkey = k;
	(*out)->private = private;
	return 0;
}

int
sealkey_load_private(const char *path, struct sealkey **out, const char **why)
{
	return load(path, 1, out, why);
}

int
sealkey_load_public(const char *path, struct sealkey **out, const char **why)
{
	return load(path, 0, out, why);
}

void
sealkey_free(struct sealkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void
sealkey_fingerprint(const struct sealkey *k, char *out, size_t outsz)
{
	uint8_t raw[32], md[32];
	size_t rawlen = sizeof(raw);
	unsigned int mdlen = 0;
	EVP_ENCODE_CTX *e;
	unsigned char b64[64];
	int n = 0, m = 0;

	snprintf(out, outsz, "?");
	if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1 ||
	    EVP_Digest(raw, rawlen, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (e = EVP_ENCODE_CTX_new()) == NULL)
		return;
	EVP_EncodeInit(e);
	if (EVP_EncodeUpdate(e, b64, &n, md, (int)mdlen) == 1) {
		EVP_EncodeFinal(e, b64 + n, &m);
		n += m;
		/* OpenSSH style: no padding, no newline. */
		while (n > 0 && (b64[n - 1] == '\n' || b64[n - 1] == '='))
			n--;
		snprintf(out, outsz, "SHA256:%.*s", n, (const char *)b64);
	}
	EVP_ENCODE_CTX_free(e);
}

/* snprintf's count, clamped to what buf holds. */
static size_t
text_len(int n, size_t sz)
{
	return n < 0 ? 0 : (size_t)n >= sz ? sz - 1 : (size_t)n;
}

size_t
seal_text(char *buf, size_t sz, int64_t sid, int64_t nevents,
    const char *final_hex)
{
	return text_len(snprintf(buf, sz, "bastion-seal-v1 session=%" PRId64
	    " events=%" PRId64 " final_hash=%s", sid, nevents,
	    final_hex ? final_hex : ""), sz);
}

size_t
seal_key_text(char *buf, size_t sz, int64_t first, const char *fp)
{
	return text_len(snprintf(buf, sz, "bastion-seal-key-v1 "
	    "first_session=%" PRId64 " fingerprint=%s", first, fp), sz);
}

int
sealkey_sign(const struct sealkey *k, const char *text, size_t len,
    char hex[SEAL_SIG_HEXLEN + 1])
{
	uint8_t sig[SEAL_SIG_LEN];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx;
	int ok;

	hex[0] = '\0';
	if (k == NULL || !k->private || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)text,
	    len) == 1 && siglen == SEAL_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	hex_encode(sig, SEAL_SIG_LEN, hex);
	return 0;
}

static int
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
sealkey_verify(const struct sealkey *k, const char *text, size_t len,
    const char *hex)
{
	uint8_t sig[SEAL_SIG_LEN];
	EVP_MD_CTX *ctx;
	int ok;

	if (k == NULL || unhex(hex, sig, sizeof(sig)) != 0 ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, sizeof(sig), (const uint8_t *)text,
	    len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}
