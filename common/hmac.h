/*
 * hmac.h: HMAC-SHA256 (OpenSSL) and a constant-time comparison, for the
 * signatures of Slack callbacks, outgoing webhooks and review-page links;
 * and plain SHA-256 as hex, for approver tokens and policy versions.
 * Pure: no state, no I/O.  Trusts nothing; every input may be hostile.
 */
#ifndef BST_HMAC_H
#define BST_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_LEN		32
#define HMAC_SHA256_HEXLEN	64

/*
 * out = HMAC-SHA256(key, the concatenation of the n parts).  parts[i] may
 * contain NUL bytes (lens[i] gives the length).  Returns 0, or
 * BST_ERR_INTERNAL if OpenSSL failed (out is then zeroed).
 */
int hmac_sha256_parts(const void *key, size_t keylen, size_t n,
    const void *const *parts, const size_t *lens,
    uint8_t out[HMAC_SHA256_LEN]);
/* Lowercase hex of HMAC-SHA256(key, data) into hex (65 bytes). */
int hmac_sha256_hex(const void *key, size_t keylen, const void *data,
    size_t len, char hex[HMAC_SHA256_HEXLEN + 1]);
/* Lowercase hex of SHA-256(data) into hex (65 bytes).  0, or
 * BST_ERR_INTERNAL if OpenSSL failed (hex is then ""). */
int sha256_hex_of(const void *data, size_t len,
    char hex[HMAC_SHA256_HEXLEN + 1]);
/* 1 if a and b (NUL-terminated) are equal, in time that depends only on
 * their lengths (CRYPTO_memcmp). */
int hmac_str_equal(const char *a, const char *b);

#endif
