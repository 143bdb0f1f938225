/*
 * hmac.c: HMAC-SHA256 through OpenSSL 3's EVP_MAC, and SHA-256 (see
 * hmac.h).  Keys and data are the caller's; nothing is kept.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/err.h"
#include "common/hmac.h"
#include "common/util.h"

int
hmac_sha256_parts(const void *key, size_t keylen, size_t n,
    const void *const *parts, const size_t *lens,
    uint8_t out[HMAC_SHA256_LEN])
{
	static const unsigned char empty[1];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t i, outlen = 0;
	int r = BST_ERR_INTERNAL;

	memset(out, 0, HMAC_SHA256_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, keylen ? key : empty, keylen, params) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (lens[i] > 0 && EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &outlen, HMAC_SHA256_LEN) != 1 ||
	    outlen != HMAC_SHA256_LEN) {
		memset(out, 0, HMAC_SHA256_LEN);
		goto out;
	}
	r = 0;
 out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int
sha256_hex_of(const void *data, size_t len, char hex[HMAC_SHA256_HEXLEN + 1])
{
	uint8_t md[HMAC_SHA256_LEN];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != HMAC_SHA256_LEN)
		return BST_ERR_INTERNAL;
	hex_encode(md, mdlen, hex);
	return 0;
}

int
hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
    char hex[HMAC_SHA256_HEXLEN + 1])
{
	uint8_t md[HMAC_SHA256_LEN];
	const void *parts[1] = { data };
	size_t lens[1] = { len };
	int r;

	hex[0] = '\0';
	if ((r = hmac_sha256_parts(key, keylen, 1, parts, lens, md)) != 0)
		return r;
	hex_encode(md, HMAC_SHA256_LEN, hex);
	return 0;
}

int
hmac_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}
