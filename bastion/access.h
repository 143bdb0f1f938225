/*
 * access.h: whether a live session may go on under a reloaded
 * configuration (SIGHUP).
 *
 * A session authenticated as an identity with one of its keys and, once
 * it chose a target, was allowed there as a user.  After a reload the same
 * facts are looked up again, by name, in the new configuration: the
 * identity must still exist and still hold that key; the target must
 * still exist, still allow the identity, and still allow the user.
 * Connection settings of a target (host, port, pinned host key, the
 * bastion's key) are not facts of the grant: a live session keeps the
 * connection it made; new sessions use the new settings.
 *
 * Pure: no I/O.  Trusts the configurations it is given (both checked by
 * cfg_load); the grant comes from the monitor's own records.
 */
#ifndef BST_ACCESS_H
#define BST_ACCESS_H

#include <stddef.h>

struct cfg;
struct cfg_identity;
struct cfg_target;

struct access_grant {
	const char	*identity;	/* the identity's name */
	const char	*key_type;	/* the key it authenticated with */
	const char	*key_b64;
	const char	*target;	/* NULL: no target chosen yet */
	const char	*target_user;	/* with target */
};

/*
 * 0 when g still holds under cfg: *id and *t (NULL without a target) are
 * the identity and target there.  -1 when it does not: why gets one line
 * saying what changed ("identity \"ci\" was removed from the
 * configuration").
 */
int access_recheck(const struct cfg *cfg, const struct access_grant *g,
    const struct cfg_identity **id, const struct cfg_target **t,
    char *why, size_t len);

#endif
