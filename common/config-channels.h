/*
 * config-channels.h: the part of the configuration loader for the
 * approval channels ("http", "slack", "teams", "webhooks" and the
 * approvers' "slack_user"), internal to common/config.c.  Kept apart so
 * that the core loader stays about identities, targets and files.
 */
#ifndef BST_CONFIG_CHANNELS_H
#define BST_CONFIG_CHANNELS_H

struct jc;
struct cfg;
struct json_object;

/*
 * Loads and checks the channel keys of root into cfg, reporting every
 * problem through jc.  flags as for cfg_load_flags(): with
 * CFG_PATHS_ONLY the secrets named by *_env are not looked up (bastionctl
 * does not need them).  Secret values are never quoted in messages.
 */
void cfg_load_channels(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg);
/* Frees what cfg_load_channels() set (secrets zeroed). */
void cfg_free_channels(struct cfg *cfg);

/* Absolute path for p, relative ones from the config's folder (config.c). */
char *cfg_resolve_path(const struct cfg *cfg, const char *p);

/* "host:port" or "[v6]:port" (config.c).  NULL, or why not (static). */
const char *cfg_parse_listen(const char *s, char **hostp, int *portp);

#endif
