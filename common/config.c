/*
 * config.c: loads and validates the bastion's JSON configuration.
 *
 * The file is the operator's: trusted not to be hostile, but not to be
 * right.  Every value is checked (type, range, charset; that key files
 * load and that directories exist) and every problem is collected, so one
 * run shows them all; a config with any problem is refused as a whole.
 * json-c parses, in its non-strict mode which accepts // and C comments.
 * json-c silently keeps the last of duplicate object keys, so a small
 * scanner of our own walks the (already valid) text to report them.
 * Values quoted in messages are sanitized and truncated first
 * (common/jcheck.c): one problem is always one line.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libssh/libssh.h>
#include <openssl/evp.h>

#include "config.h"
#include "config-channels.h"
#include "err.h"
#include "jcheck.h"
#include "sealkey.h"
#include "strv.h"
#include "log.h"
#include "util.h"

#define CFG_MAX_SIZE		(4 * 1024 * 1024)	/* config or policy file */
#define CFG_KEYPATH_MAX		512	/* "targets[1] \"web1\".users[0]" */
#define CFG_HOST_MAX		253
#define CFG_ENV_MAX		128
#define CFG_B64_MAX		16384	/* a 16384-bit RSA key is ~2.8k */
#define SCAN_DEPTH		64	/* json-c itself stops at 32 */
#define SCAN_MAX_KEYS		1024	/* per object; beyond, duplicates go unchecked */

static const char *const top_keys[] = {
	"listen", "host_key", "database", "control_socket",
	"keepalive_interval", "keepalive_max", "login_grace_time",
	"max_sessions", "max_auth_tries", "env_allow", "session_binary",
	"sandbox", "identities", "targets", "approvers", "policy",
	"http", "slack", "teams", "webhooks", "seal_key", "seal_public_key",
	NULL
};
static const char *const sandbox_keys[] = {
	"mode", "user", "chroot", NULL
};
static const char *const identity_keys[] = {
	"name", "owner", "groups", "keys", NULL
};
static const char *const target_keys[] = {
	"name", "host", "port", "user", "users", "host_key", "key", "allow",
	"connect_timeout", NULL
};
static const char *const approver_keys[] = {
	"name", "groups", "token_sha256", "slack_user", NULL
};
static const char *const policy_action_keys[] = {
	"default", "opaque", "shell", "redirect", NULL
};
static const char *const policy_actions[] = {
	"allow", "deny", "approve", NULL
};

#define MSG_ACTION	"must be \"allow\", \"deny\" or \"approve\""

/* A public key already seen, for the duplicate check across identities. */
struct seen_key {
	char	*type;
	char	*b64;
	char	*where;		/* its key path */
};

struct ctx {
	struct jc	 jc;		/* its file: control chars removed */
	int		 flags;		/* CFG_* from cfg_load_flags() */
	struct cfg	*cfg;
	struct seen_key	*seen;
	size_t		 nseen;
};

/* Character classes without locale surprises. */
static int
is_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

static int
is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int
is_b64(int ch)
{
	return is_alnum(ch) || ch == '+' || ch == '/';
}

static int
is_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

static int
valid_env(const char *s)
{
	size_t i;

	if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CFG_ENV_MAX)
			return 0;
		if (!is_alnum(s[i]) && s[i] != '_')
			return 0;
	}
	return 1;
}

/* A host name or address as a target or listen host; not resolved here. */
static int
valid_host(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CFG_HOST_MAX)
			return 0;
		if (!is_alnum(s[i]) && strchr(".-_:%", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* Copy of a file name for messages: control characters replaced. */
static char *
vis_file(const char *path)
{
	char *s = xstrdup(path), *p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

static void
path_elem(char *buf, size_t sz, const char *parent, size_t i,
    struct json_object *elem)
{
	const char *name = jc_elem_name(elem);

	if (name != NULL)
		jc_pathf(buf, sz, "%s[%zu] \"%s\"", parent, i, name);
	else
		jc_pathf(buf, sz, "%s[%zu]", parent, i);
}

/* A non-empty string without control characters, copied; else NULL. */
static char *
str_value(struct ctx *c, const char *p, struct json_object *v)
{
	const char *s = jc_str_value(&c->jc, p, v);

	return s != NULL ? xstrdup(s) : NULL;
}

static char *
get_str(struct ctx *c, struct json_object *o, const char *parent,
    const char *key, int required)
{
	struct json_object *v = jc_member(o, key);
	char p[CFG_KEYPATH_MAX];

	jc_path_key(p, sizeof(p), parent, key);
	if (v == NULL) {
		if (required)
			jc_problem(&c->jc, p, NULL, "is required");
		return NULL;
	}
	return str_value(c, p, v);
}

/*
 * An array of strings, each accepted by valid() (if not NULL, else
 * reported with what); duplicates dropped.  Always returns a
 * NULL-terminated list, empty when absent or wrong.
 */
static char **
get_strv(struct ctx *c, struct json_object *o, const char *parent,
    const char *key, int required, int (*valid)(const char *),
    const char *what)
{
	struct json_object *v = jc_member(o, key);
	char p[CFG_KEYPATH_MAX], ep[CFG_KEYPATH_MAX], **out, *s;
	size_t i, n, k = 0;

	jc_path_key(p, sizeof(p), parent, key);
	if (v == NULL) {
		if (required)
			jc_problem(&c->jc, p, NULL, "is required");
		return xcalloc(1, sizeof(*out));
	}
	if (!json_object_is_type(v, json_type_array)) {
		jc_problem(&c->jc, p, jc_jvis(v),
		    "must be an array of strings");
		return xcalloc(1, sizeof(*out));
	}
	n = json_object_array_length(v);
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		jc_pathf(ep, sizeof(ep), "%s[%zu]", p, i);
		if ((s = str_value(c, ep, json_object_array_get_idx(v, i))) ==
		    NULL)
			continue;
		if (valid != NULL && !valid(s)) {
			jc_problem(&c->jc, ep, s, "%s", what);
			free(s);
			continue;
		}
		if (strv_contains(out, s)) {
			free(s);
			continue;
		}
		out[k++] = s;
	}
	return out;
}

/* Absolute path for p: relative paths are taken from the config's folder. */
char *
cfg_resolve_path(const struct cfg *cfg, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	while (p[0] == '.' && p[1] == '/') {
		p += 2;
		while (*p == '/')
			p++;
	}
	if (strcmp(cfg->dir, "/") == 0)
		return xasprintf("/%s", p);
	return xasprintf("%s/%s", cfg->dir, p);
}

static char *
get_path(struct ctx *c, struct json_object *o, const char *parent,
    const char *key, int required)
{
	char p[CFG_KEYPATH_MAX], *s, *abs;

	if ((s = get_str(c, o, parent, key, required)) == NULL)
		return NULL;
	abs = cfg_resolve_path(c->cfg, s);
	free(s);
	if (strlen(abs) >= PATH_MAX) {
		jc_path_key(p, sizeof(p), parent, key);
		jc_problem(&c->jc, p, abs, "path too long");
		free(abs);
		return NULL;
	}
	return abs;
}

/*
 * Standard padded base64 (as in OpenSSH public keys) to bytes.  Returns 0
 * and a malloc'd *out, or -1.
 */
static int
b64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
	size_t i, pad = 0;
	uint8_t *buf;
	int n;

	*out = NULL;
	*outlen = 0;
	if (len == 0 || len % 4 != 0 || len > CFG_B64_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			if (i + 2 < len)
				return -1;
			pad++;
		} else if (pad > 0 || !is_b64(s[i]))
			return -1;
	}
	buf = xmalloc(len / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len)) < 0 ||
	    (size_t)n < pad) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = (size_t)n - pad;
	return 0;
}

static char *
b64_encode(const uint8_t *in, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static char *
fingerprint_blob(const uint8_t *blob, size_t len)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *enc, *fp, *eq;

	if (EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return NULL;
	enc = b64_encode(md, mdlen);
	if ((eq = strchr(enc, '=')) != NULL)
		*eq = '\0';
	fp = xasprintf("SHA256:%s", enc);
	free(enc);
	return fp;
}

char *
cfg_key_fingerprint(const char *blob_b64)
{
	uint8_t *blob;
	size_t len;
	char *fp;

	if (blob_b64 == NULL ||
	    b64_decode(blob_b64, strlen(blob_b64), &blob, &len) != 0)
		return NULL;
	fp = len > 0 ? fingerprint_blob(blob, len) : NULL;
	free(blob);
	return fp;
}

/*
 * 0 if blob starts with the SSH string type (uint32 length + bytes), -1
 * if it starts with another string, -2 if it does not start with one.
 */
static int
blob_type_matches(const uint8_t *blob, size_t len, const char *type)
{
	uint32_t n;

	if (len < 4)
		return -2;
	n = get_be32(blob);
	if (n == 0 || n > len - 4)
		return -2;
	if (n != strlen(type) || memcmp(blob + 4, type, n) != 0)
		return -1;
	return 0;
}

static void
key_clear(struct cfg_key *k)
{
	free(k->type);
	free(k->blob_b64);
	free(k->comment);
	free(k->fingerprint);
	memset(k, 0, sizeof(*k));
}

/*
 * Parses "type base64 [comment]" into k (blob_b64 re-encoded, so it is
 * canonical).  Returns NULL, or why not (static text).
 */
static const char *
parse_pubkey(const char *s, struct cfg_key *k)
{
	const char *t, *b, *e, *why = NULL;
	size_t tlen, blen, bloblen, i;
	uint8_t *blob = NULL;
	ssh_key key = NULL;
	char *cm;

	memset(k, 0, sizeof(*k));
	for (t = s; is_space(*t); t++)
		;
	for (e = t; *e != '\0' && !is_space(*e); e++)
		;
	if ((tlen = (size_t)(e - t)) == 0 || tlen > 64)
		return "must be \"TYPE BASE64 [COMMENT]\"";
	for (i = 0; i < tlen; i++)
		if (!is_alnum(t[i]) && strchr("@.-_", t[i]) == NULL)
			return "invalid key type";
	for (b = e; is_space(*b); b++)
		;
	for (e = b; *e != '\0' && !is_space(*e); e++)
		;
	if ((blen = (size_t)(e - b)) == 0)
		return "must be \"TYPE BASE64 [COMMENT]\"";
	for (; is_space(*e); e++)
		;
	k->type = xstrndup(t, tlen);
	k->comment = xstrdup(e);
	for (cm = k->comment + strlen(k->comment); cm > k->comment &&
	    is_space(cm[-1]); cm--)
		cm[-1] = '\0';
	if (b64_decode(b, blen, &blob, &bloblen) != 0 || bloblen == 0) {
		why = "invalid base64 in key";
		goto out;
	}
	switch (blob_type_matches(blob, bloblen, k->type)) {
	case 0:
		break;
	case -1:
		why = "key type does not match the type inside the key";
		goto out;
	default:
		why = "invalid public key";
		goto out;
	}
	if (ssh_key_type_from_name(k->type) == SSH_KEYTYPE_UNKNOWN) {
		why = "unsupported key type";
		goto out;
	}
	k->blob_b64 = b64_encode(blob, bloblen);
	if (ssh_pki_import_pubkey_base64(k->blob_b64,
	    ssh_key_type_from_name(k->type), &key) != SSH_OK) {
		why = "invalid public key";
		goto out;
	}
	if ((k->fingerprint = fingerprint_blob(blob, bloblen)) == NULL) {
		why = "cannot compute fingerprint";
		goto out;
	}
 out:
	if (why != NULL)
		key_clear(k);
	ssh_key_free(key);
	free(blob);
	return why;
}

/* The file must be readable and hold a private key libssh can load. */
static void
check_privkey(struct ctx *c, const char *p, const char *path)
{
	struct stat st;
	ssh_key key = NULL;
	int fd;

	if (c->flags & CFG_PATHS_ONLY)
		return;	/* bastionctl: the monitor's keys are not its business */
	if (stat(path, &st) == -1) {
		jc_problem(&c->jc, p, path, "cannot read: %s", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		jc_problem(&c->jc, p, path, "not a regular file");
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		jc_problem(&c->jc, p, path, "cannot read: %s", strerror(errno));
		return;
	}
	close(fd);
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) !=
	    SSH_OK || key == NULL) {
		jc_problem(&c->jc, p, path, "cannot load private key");
		return;
	}
	ssh_key_free(key);
}

/*
 * seal_key (private: only the monitor reads it) and seal_public_key
 * (what auditors verify with): Ed25519 keys in PEM form that match.
 */
static void
check_seal_keys(struct ctx *c)
{
	struct sealkey *priv = NULL, *pub = NULL;
	char a[64], b[64];
	const char *why;
	int r;

	if (c->cfg->seal_key != NULL && !(c->flags & CFG_PATHS_ONLY) &&
	    (r = sealkey_load_private(c->cfg->seal_key, &priv, &why)) != 0)
		jc_problem(&c->jc, "seal_key", c->cfg->seal_key, "%s%s",
		    r == BST_ERR_IO ? "cannot read: " : "", why);
	if (c->cfg->seal_public_key != NULL &&
	    (r = sealkey_load_public(c->cfg->seal_public_key, &pub,
	    &why)) != 0)
		jc_problem(&c->jc, "seal_public_key", c->cfg->seal_public_key,
		    "%s%s", r == BST_ERR_IO ? "cannot read: " : "", why);
	if (priv != NULL && pub != NULL) {
		sealkey_fingerprint(priv, a, sizeof(a));
		sealkey_fingerprint(pub, b, sizeof(b));
		if (strcmp(a, b) != 0)
			jc_problem(&c->jc, "seal_public_key",
			    c->cfg->seal_public_key, "is not the public half of "
			    "seal_key (%s, seal_key %s)", b, a);
	}
	sealkey_free(priv);
	sealkey_free(pub);
}

static void
check_parent_dir(struct ctx *c, const char *p, const char *path)
{
	char *dir = xstrdup(path), *slash;
	struct stat st;

	if ((slash = strrchr(dir, '/')) == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			jc_problem(&c->jc, p, dir,
			    "parent directory does not exist");
		else
			jc_problem(&c->jc, p, dir, "parent directory: %s",
			    strerror(errno));
	} else if (!S_ISDIR(st.st_mode))
		jc_problem(&c->jc, p, dir, "parent is not a directory");
	free(dir);
}

/* "host:port" or "[v6]:port".  Returns NULL or why not. */
const char *
cfg_parse_listen(const char *s, char **hostp, int *portp)
{
	const char *colon, *q;
	struct in6_addr a6;
	char *host;
	long port = 0;

	*hostp = NULL;
	*portp = 0;
	if (s[0] == '[') {
		if ((q = strchr(s, ']')) == NULL || q[1] != ':')
			return "must be HOST:PORT or [ADDRESS]:PORT";
		host = xstrndup(s + 1, (size_t)(q - s - 1));
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			free(host);
			return "invalid IPv6 address";
		}
		colon = q + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return "must be HOST:PORT or [ADDRESS]:PORT";
		host = xstrndup(s, (size_t)(colon - s));
		if (strchr(host, ':') != NULL) {
			free(host);
			return "IPv6 addresses need brackets: [ADDRESS]:PORT";
		}
		if (!valid_host(host)) {
			free(host);
			return "invalid host";
		}
	}
	for (q = colon + 1; *q != '\0'; q++) {
		if (*q < '0' || *q > '9' || port > 65535) {
			free(host);
			return "port must be 1..65535";
		}
		port = port * 10 + (*q - '0');
	}
	if (port < 1 || port > 65535) {
		free(host);
		return "port must be 1..65535";
	}
	*hostp = host;
	*portp = (int)port;
	return NULL;
}

/* Records key k (at key path where) and reports it if seen before. */
static void
check_dup_key(struct ctx *c, const struct cfg_key *k, const char *where)
{
	size_t i;

	for (i = 0; i < c->nseen; i++) {
		if (strcmp(c->seen[i].type, k->type) == 0 &&
		    strcmp(c->seen[i].b64, k->blob_b64) == 0) {
			jc_problem(&c->jc, where, k->fingerprint,
			    "key already listed at %s", c->seen[i].where);
			return;
		}
	}
	c->seen = xrealloc(c->seen, (c->nseen + 1) * sizeof(*c->seen));
	c->seen[c->nseen].type = xstrdup(k->type);
	c->seen[c->nseen].b64 = xstrdup(k->blob_b64);
	c->seen[c->nseen].where = xstrdup(where);
	c->nseen++;
}

/* Loads a name and reports if another element of arr[0..i) has it. */
static char *
get_name(struct ctx *c, struct json_object *arr, size_t i, const char *section,
    const char *ep)
{
	char p[CFG_KEYPATH_MAX], q[CFG_KEYPATH_MAX], *name;
	size_t j;

	if ((name = get_str(c, json_object_array_get_idx(arr, i), ep, "name",
	    1)) == NULL)
		return NULL;
	jc_path_key(p, sizeof(p), ep, "name");
	if (strcmp(section, "targets") == 0 && strchr(name, '@') != NULL) {
		jc_problem(&c->jc, p, name, "must not contain '@'");
		goto bad;
	}
	if (!jc_valid_name(name)) {
		jc_problem(&c->jc, p, name, JC_MSG_NAME);
		goto bad;
	}
	for (j = 0; j < i; j++) {
		if (jc_elem_name(json_object_array_get_idx(arr, j)) == NULL ||
		    strcmp(jc_elem_name(json_object_array_get_idx(arr, j)),
		    name) != 0)
			continue;
		path_elem(q, sizeof(q), section, j,
		    json_object_array_get_idx(arr, j));
		jc_problem(&c->jc, p, name, "duplicate name, also %s", q);
		goto bad;
	}
	return name;
 bad:
	free(name);
	return NULL;
}

/*
 * The array member section of root, or NULL (reported if required or of
 * the wrong type).
 */
static struct json_object *
get_array(struct ctx *c, struct json_object *root, const char *section,
    int required)
{
	struct json_object *arr = jc_member(root, section);

	if (arr == NULL) {
		if (required)
			jc_problem(&c->jc, section, NULL, "is required");
		return NULL;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		jc_problem(&c->jc, section, jc_jvis(arr), "must be an array");
		return NULL;
	}
	return arr;
}

static void
load_identity(struct ctx *c, struct json_object *arr, size_t i,
    struct cfg_identity *id)
{
	struct json_object *o = json_object_array_get_idx(arr, i), *keys;
	char ep[CFG_KEYPATH_MAX], kp[CFG_KEYPATH_MAX], *s;
	const char *why;
	size_t k, n;

	path_elem(ep, sizeof(ep), "identities", i, o);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		jc_problem(&c->jc, ep, jc_jvis(o), "must be an object");
		return;
	}
	jc_check_unknown(&c->jc, o, ep, identity_keys);
	id->name = get_name(c, arr, i, "identities", ep);
	id->owner = get_str(c, o, ep, "owner", 1);
	id->groups = get_strv(c, o, ep, "groups", 0, jc_valid_name,
	    JC_MSG_NAME);

	jc_path_key(kp, sizeof(kp), ep, "keys");
	if ((keys = jc_member(o, "keys")) == NULL) {
		jc_problem(&c->jc, kp, NULL, "is required");
		return;
	}
	if (!json_object_is_type(keys, json_type_array)) {
		jc_problem(&c->jc, kp, jc_jvis(keys),
		    "must be an array of strings");
		return;
	}
	if ((n = json_object_array_length(keys)) == 0) {
		jc_problem(&c->jc, kp, NULL, "must not be empty");
		return;
	}
	id->keys = xcalloc(n, sizeof(*id->keys));
	for (k = 0; k < n; k++) {
		jc_pathf(kp, sizeof(kp), "%s.keys[%zu]", ep, k);
		if ((s = str_value(c, kp, json_object_array_get_idx(keys,
		    k))) == NULL)
			continue;
		if ((why = parse_pubkey(s, &id->keys[id->nkeys])) != NULL) {
			jc_problem(&c->jc, kp, s, "%s", why);
			free(s);
			continue;
		}
		free(s);
		check_dup_key(c, &id->keys[id->nkeys], kp);
		id->nkeys++;
	}
}

static void
load_target(struct ctx *c, struct json_object *arr, size_t i,
    struct cfg_target *t)
{
	struct json_object *o = json_object_array_get_idx(arr, i);
	char ep[CFG_KEYPATH_MAX], p[CFG_KEYPATH_MAX], **users, *s;
	struct cfg_key k;
	const char *why;
	size_t n, j;

	t->port = 22;
	t->connect_timeout = 10;
	path_elem(ep, sizeof(ep), "targets", i, o);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		jc_problem(&c->jc, ep, jc_jvis(o), "must be an object");
		return;
	}
	jc_check_unknown(&c->jc, o, ep, target_keys);
	t->name = get_name(c, arr, i, "targets", ep);
	if ((t->host = get_str(c, o, ep, "host", 1)) != NULL &&
	    !valid_host(t->host)) {
		jc_path_key(p, sizeof(p), ep, "host");
		jc_problem(&c->jc, p, t->host,
		    "must be a host name or address");
	}
	t->port = jc_get_int(&c->jc, o, ep, "port", 22, 1, 65535);
	if ((t->user = get_str(c, o, ep, "user", 1)) != NULL &&
	    !jc_valid_name(t->user)) {
		jc_path_key(p, sizeof(p), ep, "user");
		jc_problem(&c->jc, p, t->user, JC_MSG_NAME);
	}
	users = get_strv(c, o, ep, "users", 0, jc_valid_name, JC_MSG_NAME);
	/* The default user first, then the others. */
	for (n = 0; users[n] != NULL; n++)
		;
	t->users = xcalloc(n + 2, sizeof(*t->users));
	n = 0;
	if (t->user != NULL)
		t->users[n++] = xstrdup(t->user);
	for (j = 0; users[j] != NULL; j++) {
		if (t->user != NULL && strcmp(users[j], t->user) == 0)
			free(users[j]);
		else
			t->users[n++] = users[j];
	}
	free(users);

	if ((s = get_str(c, o, ep, "host_key", 1)) != NULL) {
		if ((why = parse_pubkey(s, &k)) != NULL) {
			jc_path_key(p, sizeof(p), ep, "host_key");
			jc_problem(&c->jc, p, s, "%s", why);
		} else {
			t->host_key_type = k.type;
			t->host_key_b64 = k.blob_b64;
			k.type = k.blob_b64 = NULL; /* transferred */
			key_clear(&k);
		}
		free(s);
	}
	if ((t->key_path = get_path(c, o, ep, "key", 1)) != NULL) {
		jc_path_key(p, sizeof(p), ep, "key");
		check_privkey(c, p, t->key_path);
	}
	t->allow = get_strv(c, o, ep, "allow", 1, jc_valid_name, JC_MSG_NAME);
	t->connect_timeout = jc_get_int(&c->jc, o, ep, "connect_timeout",
	    10, 1, 600);
}

static void
load_approver(struct ctx *c, struct json_object *arr, size_t i,
    struct cfg_approver *a)
{
	struct json_object *o = json_object_array_get_idx(arr, i);
	char ep[CFG_KEYPATH_MAX], p[CFG_KEYPATH_MAX], *s;
	size_t j;

	path_elem(ep, sizeof(ep), "approvers", i, o);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		jc_problem(&c->jc, ep, jc_jvis(o), "must be an object");
		return;
	}
	jc_check_unknown(&c->jc, o, ep, approver_keys);
	a->name = get_name(c, arr, i, "approvers", ep);
	a->groups = get_strv(c, o, ep, "groups", 0, jc_valid_name, JC_MSG_NAME);
	if ((s = get_str(c, o, ep, "token_sha256", 0)) != NULL) {
		for (j = 0; is_hex(s[j]); j++)
			if (s[j] >= 'A' && s[j] <= 'F')
				s[j] += 'a' - 'A';
		if (j != 64 || s[j] != '\0') {
			/* Not quoted: it might be the token itself. */
			jc_path_key(p, sizeof(p), ep, "token_sha256");
			jc_problem(&c->jc, p, NULL,
			    "must be 64 hex characters, the "
			    "SHA-256 of the token");
			freezero(s, strlen(s));
			s = NULL;
		}
		a->token_sha256 = s;
	}
	a->slack_user = get_str(c, o, ep, "slack_user", 0);
}

static void
load_identities(struct ctx *c, struct json_object *root)
{
	struct json_object *arr;
	size_t i;

	if ((arr = get_array(c, root, "identities", 1)) == NULL)
		return;
	c->cfg->nidentities = json_object_array_length(arr);
	c->cfg->identities = xcalloc(c->cfg->nidentities,
	    sizeof(*c->cfg->identities));
	for (i = 0; i < c->cfg->nidentities; i++)
		load_identity(c, arr, i, &c->cfg->identities[i]);
}

static void
load_targets(struct ctx *c, struct json_object *root)
{
	struct json_object *arr;
	size_t i;

	if ((arr = get_array(c, root, "targets", 1)) == NULL)
		return;
	c->cfg->ntargets = json_object_array_length(arr);
	c->cfg->targets = xcalloc(c->cfg->ntargets, sizeof(*c->cfg->targets));
	for (i = 0; i < c->cfg->ntargets; i++)
		load_target(c, arr, i, &c->cfg->targets[i]);
}

static void
load_approvers(struct ctx *c, struct json_object *root)
{
	struct json_object *arr;
	size_t i;

	if ((arr = get_array(c, root, "approvers", 0)) == NULL)
		return;
	c->cfg->napprovers = json_object_array_length(arr);
	c->cfg->approvers = xcalloc(c->cfg->napprovers,
	    sizeof(*c->cfg->approvers));
	for (i = 0; i < c->cfg->napprovers; i++)
		load_approver(c, arr, i, &c->cfg->approvers[i]);
}

/* Line and column (from 1) of offset off in text. */
static void
text_pos(const char *text, size_t off, unsigned int *line, unsigned int *col)
{
	size_t i, bol = 0;

	*line = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	}
	*col = (unsigned int)(off - bol + 1);
}

static void
syntax_problem(struct ctx *c, const char *text, size_t len, size_t off,
    const char *what)
{
	char where[64], near[24];
	unsigned int line, col;
	size_t n;

	if (off > len)
		off = len;
	text_pos(text, off, &line, &col);
	jc_pathf(where, sizeof(where), "line %u, column %u", line, col);
	for (n = 0; off + n < len && n < sizeof(near) - 1 &&
	    text[off + n] != '\n'; n++)
		;
	log_sanitize(near, sizeof(near), text + off, n);
	jc_problem(&c->jc, where, n > 0 ? near : NULL, "syntax error: %s",
	    what);
}

/* End of the comment starting at text[i] ('/'), or 0 if unterminated. */
static size_t
skip_comment(const char *text, size_t len, size_t i)
{
	const char *e;

	if (i + 1 < len && text[i + 1] == '/') {
		for (i += 2; i < len && text[i] != '\n'; i++)
			;
		return i;
	}
	if (i + 1 < len && text[i + 1] == '*' &&
	    (e = memmem(text + i + 2, len - i - 2, "*/", 2)) != NULL)
		return (size_t)(e - text) + 2;
	return 0;
}

struct scan_frame {
	int			 obj;		/* an object, else an array */
	int			 want_key;	/* object: the next string is a key */
	size_t			 index;		/* array: the current element */
	const char		*key;		/* object: current key, raw, in the text */
	size_t			 keylen;
	struct json_object	*node;		/* the parsed value, when known */
	const char		**keys;		/* object: keys seen */
	size_t			*keylens;
	size_t			 nkeys;
};

/* Key path of frames f[0..depth), then key. */
static void
scan_path(char *buf, size_t sz, const struct scan_frame *f, int depth,
    const char *key, size_t keylen)
{
	char k[JC_VALUE_MAX + 1], comp[CFG_KEYPATH_MAX];
	const char *name;
	int i;

	buf[0] = '\0';
	for (i = 0; i < depth; i++) {
		if (f[i].obj) {
			log_sanitize(k, sizeof(k), i + 1 < depth ? f[i].key :
			    key, i + 1 < depth ? f[i].keylen : keylen);
			jc_pathf(comp, sizeof(comp), "%s%s", i > 0 ? "." : "",
			    k);
		} else if (i + 1 < depth &&
		    (name = jc_elem_name(f[i + 1].node)) != NULL)
			jc_pathf(comp, sizeof(comp), "[%zu] \"%s\"", f[i].index,
			    name);
		else
			jc_pathf(comp, sizeof(comp), "[%zu]", f[i].index);
		if (strlen(buf) + strlen(comp) < sz)
			strcat(buf, comp);
	}
}

/* The parsed value a new frame stands for, if it can be followed. */
static struct json_object *
scan_node(const struct scan_frame *parent)
{
	struct json_object *v = NULL;
	char k[256];

	if (parent->node == NULL)
		return NULL;
	if (!parent->obj)
		return json_object_array_get_idx(parent->node, parent->index);
	if (parent->key == NULL || parent->keylen >= sizeof(k) ||
	    memchr(parent->key, '\\', parent->keylen) != NULL)
		return NULL;
	memcpy(k, parent->key, parent->keylen);
	k[parent->keylen] = '\0';
	if (!json_object_object_get_ex(parent->node, k, &v))
		return NULL;
	return v;
}

/*
 * Walks text that json-c accepted and reports duplicate object keys (and
 * an unterminated comment after the value, which json-c lets pass).
 * Keys are compared as written: "a" and "\u0061" are not caught.
 */
static void
scan_dups(struct ctx *c, struct json_object *root, const char *text,
    size_t len)
{
	struct scan_frame f[SCAN_DEPTH], *top;
	char p[CFG_KEYPATH_MAX];
	unsigned int line, col;
	size_t i = 0, j, k, e;
	int depth = 0;
	char q;

	while (i < len) {
		top = depth > 0 ? &f[depth - 1] : NULL;
		switch (text[i]) {
		case '/':
			if ((e = skip_comment(text, len, i)) == 0) {
				syntax_problem(c, text, len, i,
				    "unterminated comment");
				goto out;
			}
			i = e;
			break;
		case '"':
		case '\'':
			q = text[i];
			for (j = i + 1; j < len && text[j] != q; j++)
				if (text[j] == '\\')
					j++;
			if (top != NULL && top->obj && top->want_key) {
				top->want_key = 0;
				top->key = text + i + 1;
				top->keylen = j - i - 1;
				for (k = 0; k < top->nkeys; k++) {
					if (top->keylens[k] != top->keylen ||
					    memcmp(top->keys[k], top->key,
					    top->keylen) != 0)
						continue;
					scan_path(p, sizeof(p), f, depth,
					    top->key, top->keylen);
					text_pos(text, i, &line, &col);
					jc_problem(&c->jc, p, NULL,
					    "duplicate key on line %u", line);
					break;
				}
				if (top->nkeys < SCAN_MAX_KEYS) {
					top->keys = xrealloc(top->keys,
					    (top->nkeys + 1) * sizeof(*top->keys));
					top->keylens = xrealloc(top->keylens,
					    (top->nkeys + 1) *
					    sizeof(*top->keylens));
					top->keys[top->nkeys] = top->key;
					top->keylens[top->nkeys++] = top->keylen;
				}
			}
			i = j + 1;
			break;
		case '{':
		case '[':
			if (depth == SCAN_DEPTH)
				goto out;
			memset(&f[depth], 0, sizeof(f[depth]));
			f[depth].obj = text[i] == '{';
			f[depth].want_key = f[depth].obj;
			f[depth].node = top == NULL ? root : scan_node(top);
			/*
			 * Where this walk and json-c read the text apart (json-c
			 * is lenient in places), follow nothing below.
			 */
			if (f[depth].node != NULL &&
			    !json_object_is_type(f[depth].node, f[depth].obj ?
			    json_type_object : json_type_array))
				f[depth].node = NULL;
			depth++;
			i++;
			break;
		case '}':
		case ']':
			if (top != NULL) {
				free(top->keys);
				free(top->keylens);
				depth--;
			}
			i++;
			break;
		case ',':
			if (top != NULL && top->obj) {
				top->want_key = 1;
				top->key = NULL;
			} else if (top != NULL)
				top->index++;
			i++;
			break;
		default:
			i++;
			break;
		}
	}
 out:
	while (depth > 0) {
		depth--;
		free(f[depth].keys);
		free(f[depth].keylens);
	}
}

/*
 * Parses text (len bytes, NUL-terminated) as the JSON of the file in
 * c->jc.file.  Returns the value, or NULL with the problem recorded.
 */
static struct json_object *
parse_json(struct ctx *c, const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *root = NULL;
	enum json_tokener_error jerr;
	size_t off, e;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;	/* UTF-8 byte order mark */
		len -= 3;
	}
	if (memchr(text, '\0', len) != NULL) {
		syntax_problem(c, text, len, (size_t)
		    ((const char *)memchr(text, '\0', len) - text),
		    "NUL byte in file");
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL)
		fatal("%s: json_tokener_new failed", __func__);
	/* Include the NUL: it ends a top-level value for the tokener. */
	root = json_tokener_parse_ex(tok, text, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (root == NULL || jerr != json_tokener_success) {
		json_object_put(root);
		if (jerr == json_tokener_success ||
		    jerr == json_tokener_continue)
			jerr = json_tokener_error_parse_eof;
		syntax_problem(c, text, len, off, json_tokener_error_desc(jerr));
		return NULL;
	}
	/* json-c stops after the value; only blanks and comments may follow. */
	while (off < len) {
		if (is_space(text[off]))
			off++;
		else if (text[off] == '/' &&
		    (e = skip_comment(text, len, off)) != 0)
			off = e;
		else {
			syntax_problem(c, text, len, off,
			    "unexpected text after the end");
			json_object_put(root);
			return NULL;
		}
	}
	scan_dups(c, root, text, len);
	return root;
}

/*
 * Reads a JSON file's text.  A file that cannot be read is a problem of
 * key (quoting path) in the file being checked, or of the file itself
 * when key is NULL.  Returns 0, BST_ERR_CONFIG or BST_ERR_IO.
 */
static int
read_json_text(struct ctx *c, const char *path, const char *key,
    char **text, size_t *len)
{
	const char *v = key != NULL ? path : NULL;
	int r;

	if ((r = read_file(path, CFG_MAX_SIZE, text, len)) == 0)
		return 0;
	if (r == BST_ERR_TOOBIG) {
		jc_problem(&c->jc, key, v, "larger than %d bytes",
		    CFG_MAX_SIZE);
		return BST_ERR_CONFIG;
	}
	jc_problem(&c->jc, key, v, "cannot read: %s", strerror(errno));
	return BST_ERR_IO;
}

/* Reads and parses a JSON file; problems are reported against path. */
static struct json_object *
load_json_file(struct ctx *c, const char *path, int *rp)
{
	struct json_object *root;
	char *text = NULL;
	size_t len;

	if ((*rp = read_json_text(c, path, NULL, &text, &len)) != 0)
		return NULL;
	if ((root = parse_json(c, text, len)) == NULL)
		*rp = BST_ERR_CONFIG;
	free(text);
	return root;
}

static void
check_policy(struct ctx *c, struct json_object *pol, const char *prefix)
{
	struct json_object *v, *rules, *rule;
	char p[CFG_KEYPATH_MAX], rp[CFG_KEYPATH_MAX], ep[CFG_KEYPATH_MAX];
	size_t i, n;
	char *s;

	for (i = 0; policy_action_keys[i] != NULL; i++) {
		if ((v = jc_member(pol, policy_action_keys[i])) == NULL)
			continue;
		if (!json_object_is_type(v, json_type_string) ||
		    !jc_list_contains(policy_actions,
		    json_object_get_string(v))) {
			jc_path_key(p, sizeof(p), prefix,
			    policy_action_keys[i]);
			jc_problem(&c->jc, p, jc_jvis(v), MSG_ACTION);
		}
	}
	if ((rules = jc_member(pol, "rules")) == NULL)
		return;
	jc_path_key(rp, sizeof(rp), prefix, "rules");
	if (!json_object_is_type(rules, json_type_array)) {
		jc_problem(&c->jc, rp, jc_jvis(rules), "must be an array");
		return;
	}
	n = json_object_array_length(rules);
	for (i = 0; i < n; i++) {
		rule = json_object_array_get_idx(rules, i);
		path_elem(ep, sizeof(ep), rp, i, rule);
		if (rule == NULL || !json_object_is_type(rule, json_type_object)) {
			jc_problem(&c->jc, ep, jc_jvis(rule),
			    "must be an object");
			continue;
		}
		free(get_str(c, rule, ep, "name", 1));
		if ((s = get_str(c, rule, ep, "action", 1)) != NULL) {
			if (!jc_list_contains(policy_actions, s)) {
				jc_path_key(p, sizeof(p), ep, "action");
				jc_problem(&c->jc, p, s, MSG_ACTION);
			}
			free(s);
		}
	}
}

static void
load_policy(struct ctx *c, struct json_object *root)
{
	struct json_object *v = jc_member(root, "policy"), *pol;
	char *path, *saved, *text = NULL;
	size_t len;

	if (v == NULL) {
		c->cfg->policy = json_object_new_object();
		return;
	}
	if (json_object_is_type(v, json_type_object)) {
		c->cfg->policy = json_object_get(v);
		check_policy(c, v, "policy");
		return;
	}
	if (!json_object_is_type(v, json_type_string)) {
		jc_problem(&c->jc, "policy", jc_jvis(v),
		    "must be an object or the name of a policy file");
		return;
	}
	if ((path = get_path(c, root, "", "policy", 1)) == NULL)
		return;
	/* Unreadable: a problem of this file's "policy" key. */
	if (read_json_text(c, path, "policy", &text, &len) != 0) {
		free(path);
		return;
	}
	/* What is wrong inside the policy file names the policy file. */
	saved = c->jc.file;
	c->jc.file = vis_file(path);
	pol = parse_json(c, text, len);
	free(text);
	if (pol != NULL) {
		if (!json_object_is_type(pol, json_type_object)) {
			jc_problem(&c->jc, "top level", NULL,
			    "must be an object");
			json_object_put(pol);
		} else {
			check_policy(c, pol, "");
			c->cfg->policy = pol;
			c->cfg->policy_path = path;
			path = NULL;	/* transferred */
		}
	}
	free(c->jc.file);
	c->jc.file = saved;
	free(path);
}

/* Allow entries that name nobody are likely typos: say so, but load. */
static void
warn_unmatched_allow(const struct cfg *cfg)
{
	const struct cfg_target *t;
	const struct cfg_identity *id;
	size_t i, j, k;
	int found;
	char v[JC_VALUE_MAX + 1];

	for (i = 0; i < cfg->ntargets; i++) {
		t = &cfg->targets[i];
		for (j = 0; t->allow != NULL && t->allow[j] != NULL; j++) {
			found = 0;
			for (k = 0; k < cfg->nidentities && !found; k++) {
				id = &cfg->identities[k];
				found = (id->name != NULL &&
				    strcmp(id->name, t->allow[j]) == 0) ||
				    strv_contains(id->groups, t->allow[j]);
			}
			if (!found)
				log_warn("%s: targets[%zu] \"%s\".allow: "
				    "\"%s\" names no identity or group",
				    cfg->path, i, t->name,
				    jc_vis(v, sizeof(v), t->allow[j]));
		}
	}
}

/*
 * "sandbox": {"mode": "seccomp" | "none", "user": "nobody",
 * "chroot": "/run/bastion/empty"}.  The user is resolved here (workers
 * cannot read /etc/passwd); the default "nobody" falls back to uid/gid
 * 65534 where no such entry exists, so nothing has to be created first.
 * The chroot folder is checked if it exists; the monitor creates it
 * otherwise (prepare_chroot() in bastion/main.c).
 */
static void
load_sandbox(struct ctx *c, struct json_object *root)
{
	struct cfg *cfg = c->cfg;
	struct json_object *o = jc_member(root, "sandbox");
	struct passwd *pw;
	const char *why;
	char *mode = NULL;

	cfg->sandbox_uid = cfg->sandbox_gid = 65534;
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		jc_problem(&c->jc, "sandbox", jc_jvis(o), "must be an object");
		o = NULL;
	}
	if (o != NULL) {
		jc_check_unknown(&c->jc, o, "sandbox", sandbox_keys);
		mode = get_str(c, o, "sandbox", "mode", 0);
		cfg->sandbox_user = get_str(c, o, "sandbox", "user", 0);
		cfg->sandbox_chroot = get_path(c, o, "sandbox", "chroot", 0);
	}
	if (mode != NULL && strcmp(mode, "none") == 0)
		cfg->sandbox_off = 1;
	else if (mode != NULL && strcmp(mode, "seccomp") != 0)
		jc_problem(&c->jc, "sandbox.mode", mode,
		    "must be \"seccomp\" (the default) or \"none\" (tests only)");
	free(mode);
	if (cfg->sandbox_user == NULL)
		cfg->sandbox_user = xstrdup("nobody");
	if (cfg->sandbox_chroot == NULL)
		cfg->sandbox_chroot = xstrdup("/run/bastion/empty");
	if ((pw = getpwnam(cfg->sandbox_user)) != NULL) {
		cfg->sandbox_uid = pw->pw_uid;
		cfg->sandbox_gid = pw->pw_gid;
	} else if (strcmp(cfg->sandbox_user, "nobody") != 0)
		jc_problem(&c->jc, "sandbox.user", cfg->sandbox_user,
		    "no such user");
	if (cfg->sandbox_uid == 0 || cfg->sandbox_gid == 0)
		jc_problem(&c->jc, "sandbox.user", cfg->sandbox_user,
		    "must not be root (uid %u, gid %u)", cfg->sandbox_uid,
		    cfg->sandbox_gid);
	if ((why = cfg_chroot_problem(cfg->sandbox_chroot, 1)) != NULL)
		jc_problem(&c->jc, "sandbox.chroot", cfg->sandbox_chroot,
		    "%s", why);
}

const char *
cfg_chroot_problem(const char *path, int may_be_missing)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return may_be_missing && errno == ENOENT ? NULL :
		    strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "not a folder (a symbolic link is not accepted)";
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		return "must be owned by root and not writable by group or "
		    "others";
	return NULL;
}

static void
load_top(struct ctx *c, struct json_object *root)
{
	struct cfg *cfg = c->cfg;
	struct sockaddr_un sa;
	struct stat st;
	const char *why;
	char *s;

	jc_check_unknown(&c->jc, root, "", top_keys);
	if ((s = get_str(c, root, "", "listen", 1)) != NULL) {
		if ((why = cfg_parse_listen(s, &cfg->listen_host,
		    &cfg->listen_port)) != NULL)
			jc_problem(&c->jc, "listen", s, "%s", why);
		free(s);
	}
	if ((cfg->host_key_path = get_path(c, root, "", "host_key", 1)) != NULL)
		check_privkey(c, "host_key", cfg->host_key_path);
	cfg->seal_key = get_path(c, root, "", "seal_key", 0);
	cfg->seal_public_key = get_path(c, root, "", "seal_public_key", 0);
	check_seal_keys(c);
	if ((cfg->database_path = get_path(c, root, "", "database", 1)) != NULL)
		check_parent_dir(c, "database", cfg->database_path);
	if ((cfg->control_socket_path = get_path(c, root, "", "control_socket",
	    1)) != NULL) {
		if (strlen(cfg->control_socket_path) >= sizeof(sa.sun_path))
			jc_problem(&c->jc, "control_socket",
			    cfg->control_socket_path,
			    "too long for a unix socket (max %zu bytes)",
			    sizeof(sa.sun_path) - 1);
		check_parent_dir(c, "control_socket",
		    cfg->control_socket_path);
	}
	cfg->keepalive_interval = jc_get_int(&c->jc, root, "",
	    "keepalive_interval", 30, 0, 3600);
	cfg->keepalive_max = jc_get_int(&c->jc, root, "", "keepalive_max",
	    3, 1, 100);
	cfg->login_grace_time = jc_get_int(&c->jc, root, "", "login_grace_time",
	    60, 1, 3600);
	cfg->max_sessions = jc_get_int(&c->jc, root, "", "max_sessions",
	    256, 1, 100000);
	cfg->max_auth_tries = jc_get_int(&c->jc, root, "", "max_auth_tries",
	    6, 1, 100);
	cfg->env_allow = get_strv(c, root, "", "env_allow", 0, valid_env,
	    "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
	if ((cfg->session_binary = get_path(c, root, "", "session_binary",
	    0)) != NULL) {
		if (stat(cfg->session_binary, &st) == -1)
			jc_problem(&c->jc, "session_binary",
			    cfg->session_binary, "%s", strerror(errno));
		else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
			jc_problem(&c->jc, "session_binary",
			    cfg->session_binary, "not an executable file");
	}
	load_sandbox(c, root);
	load_identities(c, root);
	load_targets(c, root);
	load_approvers(c, root);
	load_policy(c, root);
	cfg_load_channels(&c->jc, root, c->flags, cfg);
}

int
cfg_load(const char *path, struct cfg **out, char **cause)
{
	return cfg_load_flags(path, 0, out, cause);
}

/* Each top-level key but "policy", with the SHA-256 of its JSON text. */
static void
keep_keysums(struct cfg *cfg, struct json_object *root)
{
	const char *text;
	unsigned int len;

	json_object_object_foreach(root, key, v) {
		struct cfg_keysum *k;

		if (strcmp(key, "policy") == 0)
			continue;
		cfg->keysums = xrealloc(cfg->keysums, (cfg->nkeysums + 1) *
		    sizeof(*cfg->keysums));
		k = &cfg->keysums[cfg->nkeysums++];
		k->key = xstrdup(key);
		text = json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN);
		if (text == NULL)
			text = "";
		len = 0;
		if (EVP_Digest(text, strlen(text), k->sha256, &len,
		    EVP_sha256(), NULL) != 1 || len != sizeof(k->sha256))
			memset(k->sha256, 0, sizeof(k->sha256));
	}
}

int
cfg_load_flags(const char *path, int flags, struct cfg **out, char **cause)
{
	struct ctx c;
	struct cfg *cfg = NULL;
	struct json_object *root = NULL;
	char *slash;
	size_t i;
	int r = BST_ERR_INTERNAL;

	*out = NULL;
	if (cause != NULL)
		*cause = NULL;
	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.jc.file = vis_file(path);
	cfg = c.cfg = xcalloc(1, sizeof(*cfg));

	if ((cfg->path = realpath(path, NULL)) == NULL) {
		jc_problem(&c.jc, NULL, NULL, "cannot open: %s",
		    strerror(errno));
		r = BST_ERR_IO;
		goto out;
	}
	cfg->dir = xstrdup(cfg->path);
	if ((slash = strrchr(cfg->dir, '/')) == cfg->dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	free(c.jc.file);
	c.jc.file = vis_file(cfg->path);

	if ((root = load_json_file(&c, cfg->path, &r)) == NULL)
		goto out;
	if (!json_object_is_type(root, json_type_object)) {
		jc_problem(&c.jc, "top level", NULL, "must be an object");
		r = BST_ERR_CONFIG;
		goto out;
	}
	load_top(&c, root);
	if (c.jc.nproblems > 0) {
		r = BST_ERR_CONFIG;
		goto out;
	}
	warn_unmatched_allow(cfg);
	keep_keysums(cfg, root);
	*out = cfg;
	cfg = NULL; /* transferred */
	r = 0;
 out:
	if (r != 0)
		jc_add_more(&c.jc);
	if (r != 0 && cause != NULL) {
		*cause = c.jc.msgs != NULL ? c.jc.msgs :
		    xasprintf("%s: %s", c.jc.file, bst_strerror(r));
		c.jc.msgs = NULL; /* transferred */
	}
	for (i = 0; i < c.nseen; i++) {
		free(c.seen[i].type);
		free(c.seen[i].b64);
		free(c.seen[i].where);
	}
	free(c.seen);
	free(c.jc.msgs);
	free(c.jc.file);
	json_object_put(root);
	cfg_free(cfg);
	return r;
}

static const struct cfg_keysum *
find_keysum(const struct cfg *cfg, const char *key)
{
	size_t i;

	for (i = 0; i < cfg->nkeysums; i++)
		if (strcmp(cfg->keysums[i].key, key) == 0)
			return &cfg->keysums[i];
	return NULL;
}

/* Adds to *v each key of a that b lacks or holds otherwise. */
static void
changed_from(const struct cfg *a, const struct cfg *b, char ***v)
{
	const struct cfg_keysum *o;
	size_t i;

	for (i = 0; i < a->nkeysums; i++) {
		const struct cfg_keysum *k = &a->keysums[i];

		if (strv_contains(*v, k->key))
			continue;
		if ((o = find_keysum(b, k->key)) == NULL ||
		    memcmp(o->sha256, k->sha256, sizeof(k->sha256)) != 0)
			strv_add(v, k->key);
	}
}

char **
cfg_changed_keys(const struct cfg *a, const struct cfg *b)
{
	char **v = xcalloc(1, sizeof(*v));

	changed_from(a, b, &v);
	changed_from(b, a, &v);
	return v;
}

void
cfg_free(struct cfg *cfg)
{
	size_t i, j;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->listen_host);
	free(cfg->host_key_path);
	free(cfg->seal_key);
	free(cfg->seal_public_key);
	free(cfg->database_path);
	free(cfg->control_socket_path);
	strv_free(cfg->env_allow);
	free(cfg->session_binary);
	free(cfg->sandbox_user);
	free(cfg->sandbox_chroot);
	for (i = 0; i < cfg->nidentities; i++) {
		free(cfg->identities[i].name);
		free(cfg->identities[i].owner);
		strv_free(cfg->identities[i].groups);
		for (j = 0; j < cfg->identities[i].nkeys; j++)
			key_clear(&cfg->identities[i].keys[j]);
		free(cfg->identities[i].keys);
	}
	free(cfg->identities);
	for (i = 0; i < cfg->ntargets; i++) {
		free(cfg->targets[i].name);
		free(cfg->targets[i].host);
		free(cfg->targets[i].user);
		strv_free(cfg->targets[i].users);
		free(cfg->targets[i].host_key_type);
		free(cfg->targets[i].host_key_b64);
		free(cfg->targets[i].key_path);
		strv_free(cfg->targets[i].allow);
	}
	free(cfg->targets);
	for (i = 0; i < cfg->napprovers; i++) {
		free(cfg->approvers[i].name);
		strv_free(cfg->approvers[i].groups);
		free(cfg->approvers[i].token_sha256);
		free(cfg->approvers[i].slack_user);
	}
	free(cfg->approvers);
	cfg_free_channels(cfg);
	json_object_put(cfg->policy);
	for (i = 0; i < cfg->nkeysums; i++)
		free(cfg->keysums[i].key);
	free(cfg->keysums);
	free(cfg->policy_path);
	free(cfg);
}

const struct cfg_target *
cfg_find_target(const struct cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->ntargets; i++)
		if (cfg->targets[i].name != NULL &&
		    strcmp(cfg->targets[i].name, name) == 0)
			return &cfg->targets[i];
	return NULL;
}

const struct cfg_identity *
cfg_find_identity(const struct cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nidentities; i++)
		if (cfg->identities[i].name != NULL &&
		    strcmp(cfg->identities[i].name, name) == 0)
			return &cfg->identities[i];
	return NULL;
}

const struct cfg_identity *
cfg_find_identity_by_key(const struct cfg *cfg, const char *type,
    const char *blob_b64, const struct cfg_key **keyp)
{
	const struct cfg_identity *id;
	uint8_t *blob;
	size_t i, j, len;
	char *canon;

	if (keyp != NULL)
		*keyp = NULL;
	if (cfg == NULL || type == NULL || blob_b64 == NULL ||
	    b64_decode(blob_b64, strlen(blob_b64), &blob, &len) != 0)
		return NULL;
	/* Compare canonical encodings: our copies were re-encoded too. */
	canon = b64_encode(blob, len);
	free(blob);
	for (i = 0; i < cfg->nidentities; i++) {
		id = &cfg->identities[i];
		for (j = 0; j < id->nkeys; j++) {
			if (strcmp(id->keys[j].type, type) != 0 ||
			    strcmp(id->keys[j].blob_b64, canon) != 0)
				continue;
			free(canon);
			if (keyp != NULL)
				*keyp = &id->keys[j];
			return id;
		}
	}
	free(canon);
	return NULL;
}

const struct cfg_approver *
cfg_find_approver(const struct cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->napprovers; i++)
		if (cfg->approvers[i].name != NULL &&
		    strcmp(cfg->approvers[i].name, name) == 0)
			return &cfg->approvers[i];
	return NULL;
}

int
cfg_target_allows(const struct cfg_target *t, const struct cfg_identity *id)
{
	size_t i;

	if (t == NULL || id == NULL || t->allow == NULL)
		return 0;
	if (strv_contains(t->allow, id->name))
		return 1;
	for (i = 0; id->groups != NULL && id->groups[i] != NULL; i++)
		if (strv_contains(t->allow, id->groups[i]))
			return 1;
	return 0;
}

int
cfg_target_has_user(const struct cfg_target *t, const char *user)
{
	if (t == NULL || user == NULL)
		return 0;
	return strv_contains(t->users, user);
}

int
cfg_env_allowed(const struct cfg *cfg, const char *name)
{
	if (name == NULL || !valid_env(name))
		return 0;
	if (strcmp(name, "LANG") == 0 ||
	    (strncmp(name, "LC_", 3) == 0 && name[3] != '\0'))
		return 1;
	return cfg != NULL && strv_contains(cfg->env_allow, name);
}
