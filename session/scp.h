/*
 * scp.h: follows the legacy scp protocol of an "scp -t PATH" channel (the
 * sink runs on the target, the agent sends), record by record, so that
 * each file and folder it would create is judged before the target sees
 * its record (docs/ARCHITECTURE.md, "File transfers").
 *
 * The protocol is lock-step: the agent sends one record ("C0644 12 name",
 * "D0755 0 dir", "E", "T...", or an error line starting with \1 or \2)
 * and waits for the sink's one-byte \0, or a \1 / \2 line; after a C
 * record's \0 come the file's bytes and the agent's own status byte, then
 * the sink's answer.  scp_next() cuts the agent's input; scp_reply()
 * follows the sink's answers; while an answer is due nothing of the
 * agent's passes.
 *
 * Pure functions over bytes, fuzzed (tests/fuzz/fuzz_scp.c).  Trusts
 * nothing: records are the agent's, answers the target's.
 */
#ifndef BST_SCP_H
#define BST_SCP_H

#include <stddef.h>
#include <stdint.h>

#include "policy/scpcmd.h"

#define SCP_MAX_RECORD	2048	/* scp's own buffer for one record line */
#define SCP_MAX_DEPTH	64	/* folders inside folders */

enum scp_in {
	SCP_IN_WAIT,	/* an answer of the target's is due: hold the input */
	SCP_IN_MORE,	/* the record is not complete yet */
	SCP_IN_PASS,	/* len bytes go to the target as they are */
	SCP_IN_JUDGE,	/* a record creating text's path: ask first */
	SCP_IN_BAD,	/* malformed: why says what; end the channel */
};

struct scp_rec {
	enum scp_in	 in;
	size_t		 len;		/* bytes of the input it covers */
	char		 type;		/* 'C', 'D', 'E', 'T', 1, 2, 0 (status), 'd' (data) */
	char		*text;		/* SCP_IN_JUDGE: the shell command that
					   does the same ("cat > '/p'"), malloc'd */
	char		*name;		/* C and D: the record's name */
	uint64_t	 size;		/* C: the file's size */
	char		 why[160];	/* SCP_IN_BAD */
};

struct scp_state;

struct scp_state *scp_state_new(const struct scp_sink *sink);
void scp_state_free(struct scp_state *st);

/*
 * Looks at the agent's input buf (n bytes, not yet passed) and says what
 * to do with its start.  After SCP_IN_PASS, and after an SCP_IN_JUDGE the
 * monitor allowed, call scp_forwarded() with the bytes passed (for data,
 * a prefix of r->len may be passed).  A refused SCP_IN_JUDGE changes
 * nothing: the bastion answers it itself and the next record is read.
 * Free r with scp_rec_free().
 */
void scp_next(struct scp_state *st, const uint8_t *buf, size_t n,
    struct scp_rec *r);
void scp_forwarded(struct scp_state *st, const struct scp_rec *r,
    size_t passed);
void scp_rec_free(struct scp_rec *r);

/*
 * The target's stdout, all of which is relayed.  Bytes when no answer is
 * due, or a malformed answer, make the state broken: the channel should
 * end.
 */
void scp_reply(struct scp_state *st, const uint8_t *p, size_t n);
int scp_broken(const struct scp_state *st);
/* No answer due and none in progress: the bastion may answer itself. */
int scp_quiet(const struct scp_state *st);
/* A file's content (or the status byte after it) is coming. */
int scp_in_file(const struct scp_state *st);
/*
 * Where an entry named name at the current level goes, for people:
 * "PATH/name", or "PATH/name (or PATH)" where PATH may not be a folder.
 * malloc'd.
 */
char *scp_entry_path(const struct scp_state *st, const char *name);
/*
 * The bastion's own answer to a refused record (a \1 line, which makes
 * scp skip that file or folder and go on): into out, returns its length
 * (0 if cap is too small).  msg must not contain a newline.
 */
size_t scp_refusal(uint8_t *out, size_t cap, const char *msg);

#endif
