/*
 * sealkey.h: Ed25519 signatures over session seals (OpenSSL).
 *
 * When a session ends the recorder stores its seal: the event count and
 * the final hash of its chain.  With a seal key ("seal_key" in the
 * config) the monitor also signs the seal text
 *
 *   bastion-seal-v1 session=ID events=N final_hash=HEX
 *
 * so that a database rewritten consistently by someone without the key
 * (events, chain hashes and final hash recomputed) no longer verifies.
 * Keys are PEM files as OpenSSL writes them:
 *   openssl genpkey -algorithm ed25519 -out seal.pem
 *   openssl pkey -in seal.pem -pubout -out seal.pub.pem
 * Trusts nothing it reads: files, signatures and hashes may be hostile.
 */
#ifndef BST_SEALKEY_H
#define BST_SEALKEY_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_SIG_LEN		64	/* Ed25519 */
#define SEAL_SIG_HEXLEN		(2 * SEAL_SIG_LEN)
#define SEAL_TEXT_MAX		160

struct sealkey;

/*
 * Loads the Ed25519 private key (PEM, unencrypted) at path.  Returns 0
 * and *out, or BST_ERR_IO / BST_ERR_CONFIG with *why set to a static or
 * strerror text ("not an Ed25519 private key in PEM form").
 */
int sealkey_load_private(const char *path, struct sealkey **out,
    const char **why);
/*
 * Loads a key to verify with: an Ed25519 public key in PEM form, or a
 * private one (its public half is used).
 */
int sealkey_load_public(const char *path, struct sealkey **out,
    const char **why);
void sealkey_free(struct sealkey *k);
/* SHA-256 of the raw public key, as OpenSSH prints fingerprints ("SHA256:..."). */
void sealkey_fingerprint(const struct sealkey *k, char *out, size_t outsz);

/* The text a seal signature covers; returns its length. */
size_t seal_text(char *buf, size_t sz, int64_t sid, int64_t nevents,
    const char *final_hex);
/*
 * The text a key's start record covers (the recorder's seal_keys row:
 * from which session on the key with fingerprint fp signs).
 */
size_t seal_key_text(char *buf, size_t sz, int64_t first, const char *fp);
/* Signs text: hex gets SEAL_SIG_HEXLEN + 1 bytes.  -1 without a private key. */
int sealkey_sign(const struct sealkey *k, const char *text, size_t len,
    char hex[SEAL_SIG_HEXLEN + 1]);
/* 1 if hex is a valid signature of text by k, else 0. */
int sealkey_verify(const struct sealkey *k, const char *text, size_t len,
    const char *hex);

#endif
