/*
 * config.h: the bastion's JSON configuration (json-c, comments allowed).
 *
 * Loaded by the monitor (bastion) and by bastionctl.  The file is trusted
 * to be the operator's, but is validated fully: every problem is reported
 * with file, key path and offending value, and a config with any problem
 * is refused as a whole.  Relative paths resolve against the folder of the
 * config file.  The structures below are plain data owned by struct cfg;
 * free them all with cfg_free().
 */
#ifndef BST_CONFIG_H
#define BST_CONFIG_H

#include <stddef.h>

struct json_object;

/* One authorized public key of an identity ("ssh-ed25519 AAAA... comment"). */
struct cfg_key {
	char	*type;		/* "ssh-ed25519" */
	char	*blob_b64;	/* base64 of the public key blob */
	char	*comment;	/* may be "" */
	char	*fingerprint;	/* "SHA256:..." as ssh-keygen -l prints it */
};

struct cfg_identity {
	char		*name;
	char		*owner;		/* the human responsible; never approves this identity */
	char		**groups;	/* NULL-terminated */
	struct cfg_key	*keys;
	size_t		 nkeys;
};

struct cfg_target {
	char	*name;
	char	*host;		/* name or address */
	int	 port;		/* default 22 */
	char	*user;		/* default target user */
	char	**users;	/* NULL-terminated list of users agents may ask for; always contains user */
	char	*host_key_type;	/* pinned host key: "ssh-ed25519" */
	char	*host_key_b64;	/* pinned host key blob, base64 */
	char	*key_path;	/* absolute path of the bastion's private key for this target */
	char	**allow;	/* NULL-terminated identity names or group names */
	int	 connect_timeout; /* seconds, default 10 */
};

struct cfg_approver {
	char	*name;
	char	**groups;	/* NULL-terminated */
	char	*token_sha256;	/* 64 lowercase hex chars, or NULL */
	char	*slack_user;	/* or NULL */
};

/* "slack" (approval/notify.c, approval/http.c). */
struct cfg_slack {
	char	*api_url;	/* "https://slack.com/api", no trailing '/' */
	char	*bot_token;	/* secret; NULL under CFG_PATHS_ONLY with _env */
	char	*signing_secret; /* secret; idem */
	char	*channel;	/* channel id, "C0123456" */
};

/* One of "webhooks". */
struct cfg_webhook {
	char	*url;
	char	*secret;	/* HMAC-SHA256 key; NULL as above */
};

/*
 * What a top-level key held, as a digest (not the value: it may hold
 * secrets), so that a reload can say which keys changed.
 */
struct cfg_keysum {
	char		*key;
	unsigned char	 sha256[32];
};

struct cfg {
	char			*path;		/* absolute path of the config file */
	char			*dir;		/* its folder */
	char			*listen_host;	/* "127.0.0.1" */
	int			 listen_port;	/* 2222 */
	char			*host_key_path;	/* absolute */
	char			*seal_key;	/* absolute, or NULL: seals unsigned */
	char			*seal_public_key; /* absolute, or NULL */
	char			*database_path;	/* absolute */
	char			*control_socket_path; /* absolute */
	char			**env_allow;	/* NULL-terminated extra env names forwarded besides LANG, LC_* */
	int			 keepalive_interval;	/* seconds, 0 = off; default 30 */
	int			 keepalive_max;		/* unanswered keepalives before disconnect; default 3 */
	int			 login_grace_time;	/* seconds to authenticate; default 60 */
	int			 max_sessions;		/* concurrent workers; default 256 */
	int			 max_auth_tries;	/* default 6 */
	char			*session_binary;	/* absolute path of the worker; default: beside bastion */
	int			 sandbox_off;		/* "sandbox": {"mode": "none"}: tests only */
	char			*sandbox_user;		/* user workers run as; default "nobody" */
	unsigned int		 sandbox_uid;		/* resolved from sandbox_user; never 0 */
	unsigned int		 sandbox_gid;
	char			*sandbox_chroot;	/* empty directory workers chroot to */
	struct cfg_identity	*identities;
	size_t			 nidentities;
	struct cfg_target	*targets;
	size_t			 ntargets;
	struct cfg_approver	*approvers;
	size_t			 napprovers;
	/* Approval channels (issue 5, common/config-channels.c). */
	char			*http_host;	/* HTTP listener; NULL = none */
	int			 http_port;
	char			*public_url;	/* base of review links, no trailing '/' */
	char			*http_tls_cert;	/* PEM certificate (chain) for HTTPS, or NULL */
	char			*http_tls_key;	/* its private key (PEM); both or neither */
	struct cfg_slack	*slack;		/* NULL = no Slack */
	char			*teams_url;	/* Teams Workflows webhook (secret); NULL = none */
	struct cfg_webhook	*webhooks;
	size_t			 nwebhooks;
	struct json_object	*policy;	/* the "policy" object (inline or loaded from its file); validated later */
	struct cfg_keysum	*keysums;	/* per top-level key but "policy": SHA-256 of its JSON */
	size_t			 nkeysums;
	char			*policy_path;	/* absolute path of the policy file, or NULL when inline */
};

/*
 * Loads and validates path.  On success *out is the config and 0 is
 * returned.  On failure returns BST_ERR_CONFIG (or BST_ERR_IO) and, if
 * cause is not NULL, sets *cause to a malloc'd text with one problem per
 * line, each "FILE: KEY: problem (value)", e.g.
 *   "/etc/bastion.json: targets[1] \"web1\".port: must be 1..65535 (70000)"
 * (array elements show their "name" when it is valid; syntax errors put
 * "line L, column C" where the key goes; "(value)" is sanitized, cut to
 * 60 characters, and left out when there is nothing to quote).
 * Files referred to (host_key, target keys, policy file) must exist and be
 * readable; the key files must be OpenSSH private keys.
 */
int cfg_load(const char *path, struct cfg **out, char **cause);
/*
 * cfg_load with flags.  CFG_PATHS_ONLY skips opening the private key
 * files, for tools (bastionctl) that only need paths and names and may
 * run as a user who cannot read the monitor's keys.
 */
#define CFG_PATHS_ONLY	0x1
int cfg_load_flags(const char *path, int flags, struct cfg **out, char **cause);
void cfg_free(struct cfg *cfg);

/*
 * The top-level keys, other than "policy", whose values differ between two
 * loads of a config (present in one only, or another JSON text: a change
 * of key order counts): what a reload cannot apply.  A NULL-terminated
 * vector (strv_free), maybe empty.
 */
char **cfg_changed_keys(const struct cfg *a, const struct cfg *b);

/* Lookups; NULL when not found. */
const struct cfg_target *cfg_find_target(const struct cfg *cfg, const char *name);
const struct cfg_identity *cfg_find_identity(const struct cfg *cfg, const char *name);
/* Finds the identity owning the public key (type, base64 blob). */
const struct cfg_identity *cfg_find_identity_by_key(const struct cfg *cfg,
    const char *type, const char *blob_b64, const struct cfg_key **keyp);
const struct cfg_approver *cfg_find_approver(const struct cfg *cfg, const char *name);
/* The approver whose slack_user this is. */
const struct cfg_approver *cfg_find_approver_by_slack(const struct cfg *cfg,
    const char *slack_user);

/* 1 if the identity's name or one of its groups is in target->allow. */
int cfg_target_allows(const struct cfg_target *t, const struct cfg_identity *id);
/* 1 if user is one of the target's users. */
int cfg_target_has_user(const struct cfg_target *t, const char *user);
/* 1 if env var name may be forwarded (LANG, LC_*, or in env_allow). */
int cfg_env_allowed(const struct cfg *cfg, const char *name);
/*
 * Why path cannot be the workers' chroot folder (a root-owned folder,
 * not a symbolic link, not writable by group or others), or NULL when it
 * can.  A missing folder is fine when may_be_missing (the monitor
 * creates it).  The text is static (or strerror's).
 */
const char *cfg_chroot_problem(const char *path, int may_be_missing);

/*
 * "SHA256:<unpadded base64 of sha256(blob)>" for a base64 key blob, as
 * ssh-keygen -l prints it.  Returns malloc'd string or NULL if the
 * base64 is invalid.
 */
char *cfg_key_fingerprint(const char *blob_b64);

#endif
