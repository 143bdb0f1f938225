/*
 * scpcmd.h: recognises the legacy scp protocol's sink, "scp -t PATH", in
 * an exec command (what `scp -O` and libraries such as paramiko's scp run
 * on the far side to receive files).
 *
 * The bastion follows such a channel file by file (session/scpgate.h), so
 * it must know the PATH the target's shell will give scp.  It does only
 * for the plain form: "scp", options from -t -d -r -p -v -q, an optional
 * "--", and one literal PATH (unquoted safe characters, '...' and "..."
 * without expansions, backslash escapes; a leading ~ or ~/ is the home
 * folder, where scp starts, so it is dropped).  Any other command that
 * runs an scp sink (in a pipeline, under sudo, through sh -c, with $VARS
 * in the path) cannot be followed, and is reported as such so that the
 * monitor can refuse it.
 *
 * Pure functions over bytes.  Trusts nothing: the command is the agent's.
 */
#ifndef BST_SCPCMD_H
#define BST_SCPCMD_H

struct pc_result;

enum scp_cmd {
	SCP_CMD_NONE = 0,	/* no scp sink in the command */
	SCP_CMD_SINK,		/* the plain form: followed file by file */
	SCP_CMD_UNFOLLOWABLE,	/* an scp sink the bastion cannot follow */
};

struct scp_sink {
	char	*path;		/* PATH after quote removal; "." for ~ */
	int	 dir;		/* -d: PATH must be a folder */
	int	 recursive;	/* -r: folders may come */
};

/*
 * What cmd (already parsed into pr by pc_parse) is.  For SCP_CMD_SINK,
 * *out is filled (free it with scp_sink_free); otherwise it is zeroed.
 */
enum scp_cmd scp_cmd_parse(const char *cmd, const struct pc_result *pr,
    struct scp_sink *out);
void scp_sink_free(struct scp_sink *s);

#endif
