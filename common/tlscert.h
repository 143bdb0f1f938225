/*
 * tlscert.h: the HTTP listener's TLS certificate and private key, read
 * from their PEM files and checked with OpenSSL before libmicrohttpd
 * (GnuTLS) is given them: the certificate (chain) parses, the key parses
 * without a passphrase, and the key is the certificate's.  So a bad file
 * is one clear line from `bastion -t` naming the key and the file,
 * instead of a TLS listener that refuses every handshake.
 *
 * Trusts: the files to be the operator's (they are named by the config).
 * Their contents are checked, never quoted: the key is a secret.
 */
#ifndef BST_TLSCERT_H
#define BST_TLSCERT_H

#include <stddef.h>
#include <stdint.h>

struct tls_pem {
	char	*cert;		/* PEM text, NUL-terminated: leaf first */
	char	*key;		/* PEM text, NUL-terminated; zeroed on free */
	size_t	 keylen;
	int64_t	 not_after;	/* the leaf's expiry, Unix seconds */
	int	 ncerts;	/* certificates in the chain, leaf included */
};

/* Which file a failure is about. */
enum { TLS_PEM_CERT = 1, TLS_PEM_KEY = 2 };

#define TLS_PEM_MAX	(1024 * 1024)	/* a file this large is not a PEM */

/*
 * Checks PEM text (pure apart from OpenSSL's error queue, which it
 * leaves empty).  Returns 0 (filling not_after and ncerts when not
 * NULL), or TLS_PEM_CERT / TLS_PEM_KEY with *why (static text) saying
 * what is wrong with that one.
 */
int tls_pem_check(const char *cert, size_t certlen, const char *key,
    size_t keylen, int64_t *not_after, int *ncerts, const char **why);

/*
 * Reads both files and checks them.  Returns 0 and fills *out, or
 * TLS_PEM_CERT / TLS_PEM_KEY with *why (malloc'd) for that file.
 */
int tls_pem_load(const char *cert_path, const char *key_path,
    struct tls_pem *out, char **why);
void tls_pem_free(struct tls_pem *p);

#endif
