/*
 * sftp.h: the SFTP protocol as the bastion sees it (version 3, the one
 * OpenSSH speaks: draft-ietf-secsh-filexfer-02 plus OpenSSH's extensions).
 *
 * The agent's requests are cut into packets (sftp_frame) and classified
 * (sftp_req_parse, sftp_check): metadata lookups and the reads and writes
 * of handles already judged pass; opening a file or folder and every
 * change (remove, rename, mkdir, chmod, ...) is judged, as the shell
 * command that would do the same ("cat > '/tmp/x'", "rm '/etc/y'"), by the
 * same policy as commands; anything else is refused.  The target's
 * replies are followed (sftp_reply) to learn which handle belongs to which
 * judged open, and to find the packet boundaries where the bastion may
 * insert its own STATUS replies (sftp_status) to refused requests.
 *
 * Pure functions over bytes, no I/O: fuzzed by tests/fuzz/fuzz_sftp.c.
 * Trusts nothing: both peers' bytes are hostile.
 */
#ifndef BST_SFTP_H
#define BST_SFTP_H

#include <stddef.h>
#include <stdint.h>

/* Packet types (filexfer-02 section 3). */
#define SSH_FXP_INIT		1
#define SSH_FXP_VERSION		2
#define SSH_FXP_OPEN		3
#define SSH_FXP_CLOSE		4
#define SSH_FXP_READ		5
#define SSH_FXP_WRITE		6
#define SSH_FXP_LSTAT		7
#define SSH_FXP_FSTAT		8
#define SSH_FXP_SETSTAT		9
#define SSH_FXP_FSETSTAT	10
#define SSH_FXP_OPENDIR		11
#define SSH_FXP_READDIR		12
#define SSH_FXP_REMOVE		13
#define SSH_FXP_MKDIR		14
#define SSH_FXP_RMDIR		15
#define SSH_FXP_REALPATH	16
#define SSH_FXP_STAT		17
#define SSH_FXP_RENAME		18
#define SSH_FXP_READLINK	19
#define SSH_FXP_SYMLINK		20
#define SSH_FXP_STATUS		101
#define SSH_FXP_HANDLE		102
#define SSH_FXP_DATA		103
#define SSH_FXP_EXTENDED	200

/* Status codes. */
#define SSH_FX_OK		0
#define SSH_FX_PERMISSION_DENIED 3
#define SSH_FX_FAILURE		4
#define SSH_FX_BAD_MESSAGE	5
#define SSH_FX_OP_UNSUPPORTED	8

/* The largest packet either way (length field); OpenSSH's is 256 KiB. */
#define SFTP_MAX_PACKET		(256 * 1024 + 1024)
#define SFTP_HANDLE_MAX		256	/* bytes of a handle (the draft's) */
#define SFTP_MAX_HANDLES	256	/* open handles followed per channel */
#define SFTP_MAX_PENDING	256	/* judged opens awaiting their reply */
#define SFTP_PATH_MAX		4096	/* bytes of a path we judge */

/* What a handle was opened for. */
#define SFTP_ACC_READ		1
#define SFTP_ACC_WRITE		2
#define SFTP_ACC_DIR		4

/*
 * Reading the fields of one packet: each call consumes its field, or sets
 * bad (and returns 0 / NULL) when the packet is too short; later calls
 * then return nothing either.
 */
struct sftp_rd {
	const uint8_t	*p;
	size_t		 n;
	int		 bad;
};
uint32_t sftp_rd_u32(struct sftp_rd *r);
uint64_t sftp_rd_u64(struct sftp_rd *r);
/* A string: its bytes (in the packet) and *len. */
const uint8_t *sftp_rd_str(struct sftp_rd *r, uint32_t *len);

enum sftp_frame { SFTP_FRAME_MORE, SFTP_FRAME_OK, SFTP_FRAME_BAD };

/*
 * Is a whole packet at the start of buf?  OK: *plen is its size with the
 * length field.  BAD: its length is 0 or above SFTP_MAX_PACKET.
 */
enum sftp_frame sftp_frame(const uint8_t *buf, size_t n, size_t *plen);

/* File attributes (filexfer-02 section 5) that a request would set. */
#define SSH_FILEXFER_ATTR_SIZE		0x00000001
#define SSH_FILEXFER_ATTR_UIDGID	0x00000002
#define SSH_FILEXFER_ATTR_PERMISSIONS	0x00000004
#define SSH_FILEXFER_ATTR_ACMODTIME	0x00000008
#define SSH_FILEXFER_ATTR_EXTENDED	0x80000000

struct sftp_attrs {
	uint32_t	 flags;
	uint64_t	 size;
	uint32_t	 uid, gid, perm, atime, mtime;
};

enum sftp_verdict {
	SFTP_PASS,	/* relayed as it is */
	SFTP_JUDGE,	/* relayed once the policy allowed r->text */
	SFTP_REFUSE	/* answered by the bastion with STATUS r->status */
};

struct sftp_req {
	uint8_t		 type;
	uint32_t	 id;		/* 0 for INIT (which has none) */
	char		 op[48];	/* "open", "remove", "posix-rename" ... */
	enum sftp_verdict verdict;
	char		*text;		/* JUDGE: the equivalent shell command */
	char		*path;		/* OPEN/OPENDIR: the path judged */
	int		 access;	/* OPEN/OPENDIR: SFTP_ACC_* asked for */
	/* Handles the request uses (into the packet) and what each needs. */
	int		 nhandles;
	const uint8_t	*handle[2];
	uint32_t	 handle_len[2];
	int		 need[2];
	struct sftp_attrs attrs;	/* FSETSTAT: what it would set */
	uint32_t	 status;	/* REFUSE: the status code */
	const char	*why;		/* REFUSE: why, for the agent */
};

/*
 * Classifies one whole packet (as sftp_frame found it).  Never fails: a
 * request it cannot read is refused (BAD_MESSAGE), one it does not know
 * is refused (OP_UNSUPPORTED).  Handle requests are PASS or JUDGE here;
 * sftp_check() then looks their handles up.  Free with sftp_req_free().
 */
void sftp_req_parse(const uint8_t *pkt, size_t len, struct sftp_req *r);
void sftp_req_free(struct sftp_req *r);


/* One channel's SFTP state: open handles, judged opens in flight. */
struct sftp_state;

struct sftp_state *sftp_state_new(void);
void sftp_state_free(struct sftp_state *st);

/*
 * Looks up the handles r uses: one the target did not hand out for a
 * judged open, or one opened for something else (a write to a handle
 * opened for reading), refuses r.  FSETSTAT becomes JUDGE with the path
 * of its handle.  Also refuses an open when too many are in flight.
 */
void sftp_check(struct sftp_state *st, struct sftp_req *r);

/*
 * r (PASS, or JUDGE and allowed) was relayed to the target.  Its packet
 * must still be there: r's handles point into it.
 */
void sftp_forwarded(struct sftp_state *st, const struct sftp_req *r);

/*
 * Follows the target's replies: consumes bytes up to the end of the
 * current packet at most and returns how many; sftp_at_boundary() says
 * whether everything consumed so far ends a packet.  Returns 0 with
 * sftp_broken() true once the replies are not SFTP.
 */
size_t sftp_reply(struct sftp_state *st, const uint8_t *p, size_t n);
int sftp_at_boundary(const struct sftp_state *st);
int sftp_broken(const struct sftp_state *st);

/*
 * Writes an SSH_FXP_STATUS reply (id, code, message, language "en") into
 * out; returns its size, 0 if cap is too small.  The message is cut to
 * 512 bytes.
 */
size_t sftp_status(uint8_t *out, size_t cap, uint32_t id, uint32_t code,
    const char *msg);

#endif
