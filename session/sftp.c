/*
 * sftp.c: SFTP requests classified, replies followed (see sftp.h).  Pure
 * functions over bytes; trusts neither the agent's requests nor the
 * target's replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "session/sftp.h"

#define SSH_FXF_READ	0x01
#define SSH_FXF_WRITE	0x02
#define SSH_FXF_APPEND	0x04
#define SSH_FXF_CREAT	0x08
#define SSH_FXF_TRUNC	0x10
#define SSH_FXF_EXCL	0x20

/* A reply's first bytes kept: length, type, id, a handle string. */
#define REPLY_HEAD	(4 + 1 + 4 + 4 + SFTP_HANDLE_MAX)

struct sftp_handle {
	uint8_t		 h[SFTP_HANDLE_MAX];
	uint32_t	 len;
	char		*path;
	int		 access;
};

struct sftp_pending {
	uint32_t	 id;
	char		*path;
	int		 access;
};

struct sftp_state {
	struct sftp_handle	 handles[SFTP_MAX_HANDLES];
	int			 nhandles;
	struct sftp_pending	 pend[SFTP_MAX_PENDING];
	int			 npend;
	/* The reply being read. */
	uint8_t			 head[REPLY_HEAD];
	size_t			 hlen;		/* bytes of it seen */
	uint32_t		 left;		/* of its body, not yet seen */
	int			 broken;
};

enum sftp_frame
sftp_frame(const uint8_t *buf, size_t n, size_t *plen)
{
	uint32_t len;

	if (n < 4)
		return SFTP_FRAME_MORE;
	len = get_be32(buf);
	if (len == 0 || len > SFTP_MAX_PACKET)
		return SFTP_FRAME_BAD;
	if (n - 4 < len)
		return SFTP_FRAME_MORE;
	*plen = (size_t)len + 4;
	return SFTP_FRAME_OK;
}

/* ---- reading a request ---- */

uint32_t
sftp_rd_u32(struct sftp_rd *r)
{
	uint32_t v;

	if (r->bad || r->n < 4) {
		r->bad = 1;
		return 0;
	}
	v = get_be32(r->p);
	r->p += 4;
	r->n -= 4;
	return v;
}

uint64_t
sftp_rd_u64(struct sftp_rd *r)
{
	uint64_t hi = sftp_rd_u32(r);

	return hi << 32 | sftp_rd_u32(r);
}

const uint8_t *
sftp_rd_str(struct sftp_rd *r, uint32_t *len)
{
	const uint8_t *s;

	*len = sftp_rd_u32(r);
	if (r->bad || r->n < *len) {
		r->bad = 1;
		*len = 0;
		return NULL;
	}
	s = r->p;
	r->p += *len;
	r->n -= *len;
	return s;
}

/* A path: no NUL byte, not empty, at most SFTP_PATH_MAX bytes. */
static char *
rd_path(struct sftp_rd *r, struct sftp_req *q)
{
	uint32_t len;
	const uint8_t *s = sftp_rd_str(r, &len);

	if (r->bad)
		return NULL;
	if (len == 0 || len > SFTP_PATH_MAX || memchr(s, '\0', len)) {
		r->bad = 1;
		q->why = len == 0 ? "an empty path" : len > SFTP_PATH_MAX ?
		    "a path longer than 4096 bytes" : "a path with a NUL byte";
		return NULL;
	}
	return xstrndup((const char *)s, len);
}

static void
rd_handle(struct sftp_rd *r, struct sftp_req *q, int need)
{
	uint32_t len;
	const uint8_t *h = sftp_rd_str(r, &len);

	if (r->bad || q->nhandles >= 2)
		return;
	if (len == 0 || len > SFTP_HANDLE_MAX) {
		r->bad = 1;
		return;
	}
	q->handle[q->nhandles] = h;
	q->handle_len[q->nhandles] = len;
	q->need[q->nhandles] = need;
	q->nhandles++;
}

static void
rd_attrs(struct sftp_rd *r, struct sftp_attrs *a)
{
	uint32_t i, n, len;

	memset(a, 0, sizeof(*a));
	a->flags = sftp_rd_u32(r);
	if (a->flags & SSH_FILEXFER_ATTR_SIZE)
		a->size = sftp_rd_u64(r);
	if (a->flags & SSH_FILEXFER_ATTR_UIDGID) {
		a->uid = sftp_rd_u32(r);
		a->gid = sftp_rd_u32(r);
	}
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)
		a->perm = sftp_rd_u32(r);
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		a->atime = sftp_rd_u32(r);
		a->mtime = sftp_rd_u32(r);
	}
	if (a->flags & SSH_FILEXFER_ATTR_EXTENDED) {
		n = sftp_rd_u32(r);
		for (i = 0; i < n && !r->bad; i++) {
			(void)sftp_rd_str(r, &len);
			(void)sftp_rd_str(r, &len);
		}
	}
}

/*
 * The commands that would set a: "truncate -s N P; chown U:G P; chmod
 * MODE P; touch -d @T P" (the parts a sets, in the order sftp-server
 * applies them), or NULL when a sets nothing.
 */
static char *
attrs_command(const struct sftp_attrs *a, const char *path)
{
	char *q = shell_quote(path), *part[4], *out, *t;
	int n = 0, i;

	if (a->flags & SSH_FILEXFER_ATTR_SIZE)
		part[n++] = xasprintf("truncate -s %llu %s",
		    (unsigned long long)a->size, q);
	if (a->flags & SSH_FILEXFER_ATTR_UIDGID)
		part[n++] = xasprintf("chown %u:%u %s", a->uid, a->gid, q);
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)
		part[n++] = xasprintf("chmod %04o %s", a->perm & 07777, q);
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME)
		part[n++] = xasprintf("touch -d @%u %s", a->mtime, q);
	free(q);
	if (n == 0)
		return NULL;
	out = part[0];
	for (i = 1; i < n; i++) {
		t = xasprintf("%s; %s", out, part[i]);
		free(out);
		free(part[i]);
		out = t;
	}
	return out;
}

/* "VERB 'A'" or "VERB 'A' 'B'". */
static char *
command2(const char *verb, const char *a, const char *b)
{
	char *qa = shell_quote(a), *qb = b ? shell_quote(b) : NULL;
	char *out = qb ? xasprintf("%s %s %s", verb, qa, qb) :
	    xasprintf("%s %s", verb, qa);

	free(qa);
	free(qb);
	return out;
}

static void
judge(struct sftp_req *q, char *text)
{
	q->verdict = SFTP_JUDGE;
	q->text = text;
}

static void
refuse(struct sftp_req *q, uint32_t status, const char *why)
{
	q->verdict = SFTP_REFUSE;
	q->status = status;
	q->why = why;
	free(q->text);
	q->text = NULL;
}

static void
parse_open(struct sftp_rd *r, struct sftp_req *q)
{
	struct sftp_attrs a;
	uint32_t pflags;
	char *qp;

	q->path = rd_path(r, q);
	pflags = sftp_rd_u32(r);
	rd_attrs(r, &a);	/* the new file's mode: sftp-server masks it */
	if (r->bad)
		return;
	if (pflags & (SSH_FXF_WRITE | SSH_FXF_APPEND | SSH_FXF_CREAT |
	    SSH_FXF_TRUNC | SSH_FXF_EXCL))
		q->access |= SFTP_ACC_WRITE;
	if ((pflags & SSH_FXF_READ) || q->access == 0)
		q->access |= SFTP_ACC_READ;
	qp = shell_quote(q->path);
	if (q->access == SFTP_ACC_READ)
		judge(q, xasprintf("cat %s", qp));
	else if (q->access == SFTP_ACC_WRITE)
		judge(q, xasprintf("cat %s %s", pflags & SSH_FXF_TRUNC ?
		    ">" : ">>", qp));
	else
		judge(q, xasprintf("cat %s; cat %s %s", qp,
		    pflags & SSH_FXF_TRUNC ? ">" : ">>", qp));
	free(qp);
}

/* Two paths, judged as "VERB 'A' 'B'". */
static void
parse_two(struct sftp_rd *r, struct sftp_req *q, const char *verb)
{
	char *a = rd_path(r, q), *b = rd_path(r, q);

	if (!r->bad)
		judge(q, command2(verb, a, b));
	free(a);
	free(b);
}

static void
parse_setstat(struct sftp_rd *r, struct sftp_req *q)
{
	struct sftp_attrs a;
	char *path = rd_path(r, q), *text;

	rd_attrs(r, &a);
	if (!r->bad) {
		if ((text = attrs_command(&a, path)) != NULL)
			judge(q, text);
		else
			q->verdict = SFTP_PASS;	/* changes nothing */
	}
	free(path);
}

static void
parse_extended(struct sftp_rd *r, struct sftp_req *q)
{
	uint32_t len, i;
	const uint8_t *name = sftp_rd_str(r, &len);
	char *path;

	if (r->bad)
		return;
	/* The name, for messages: printable ASCII, at most 40 bytes. */
	for (i = 0; i < len && i < 40; i++)
		q->op[i] = name[i] > 0x20 && name[i] < 0x7f ? (char)name[i] :
		    '?';
	q->op[i] = '\0';
	if (i == 0)
		snprintf(q->op, sizeof(q->op), "extension");
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
	if (IS("posix-rename@openssh.com"))
		parse_two(r, q, "mv");
	else if (IS("hardlink@openssh.com"))
		parse_two(r, q, "ln");
	else if (IS("lsetstat@openssh.com"))
		parse_setstat(r, q);
	else if (IS("statvfs@openssh.com") || IS("expand-path@openssh.com")) {
		path = rd_path(r, q);
		free(path);
	} else if (IS("fstatvfs@openssh.com") || IS("fsync@openssh.com"))
		rd_handle(r, q, 0);
	else if (IS("copy-data")) {
		rd_handle(r, q, SFTP_ACC_READ);
		(void)sftp_rd_u64(r);
		(void)sftp_rd_u64(r);
		rd_handle(r, q, SFTP_ACC_WRITE);
	} else if (IS("limits@openssh.com") || IS("home-directory") ||
	    IS("users-groups-by-id@openssh.com"))
		;	/* answers about the system, change nothing */
	else
		refuse(q, SSH_FX_OP_UNSUPPORTED, "an sftp extension the "
		    "bastion does not know");
#undef IS
}

static const char *const op_names[] = {
	[SSH_FXP_INIT] = "init", [SSH_FXP_OPEN] = "open",
	[SSH_FXP_CLOSE] = "close", [SSH_FXP_READ] = "read",
	[SSH_FXP_WRITE] = "write", [SSH_FXP_LSTAT] = "lstat",
	[SSH_FXP_FSTAT] = "fstat", [SSH_FXP_SETSTAT] = "setstat",
	[SSH_FXP_FSETSTAT] = "fsetstat", [SSH_FXP_OPENDIR] = "opendir",
	[SSH_FXP_READDIR] = "readdir", [SSH_FXP_REMOVE] = "remove",
	[SSH_FXP_MKDIR] = "mkdir", [SSH_FXP_RMDIR] = "rmdir",
	[SSH_FXP_REALPATH] = "realpath", [SSH_FXP_STAT] = "stat",
	[SSH_FXP_RENAME] = "rename", [SSH_FXP_READLINK] = "readlink",
	[SSH_FXP_SYMLINK] = "symlink",
};

void
sftp_req_parse(const uint8_t *pkt, size_t len, struct sftp_req *q)
{
	struct sftp_rd r = { pkt + 4, len > 4 ? len - 4 : 0, len < 5 };
	struct sftp_attrs a;
	char *path, *qp;

	memset(q, 0, sizeof(*q));
	q->verdict = SFTP_PASS;
	if (r.bad) {
		refuse(q, SSH_FX_BAD_MESSAGE, "an empty sftp packet");
		return;
	}
	q->type = *r.p++;
	r.n--;
	if (q->type < sizeof(op_names) / sizeof(op_names[0]) &&
	    op_names[q->type] != NULL)
		snprintf(q->op, sizeof(q->op), "%s", op_names[q->type]);
	else if (q->type != SSH_FXP_EXTENDED)
		snprintf(q->op, sizeof(q->op), "type %u", q->type);
	if (q->type == SSH_FXP_INIT)
		return;	/* a version and extensions: nothing to judge */
	q->id = sftp_rd_u32(&r);
	switch (q->type) {
	case SSH_FXP_OPEN:
		parse_open(&r, q);
		break;
	case SSH_FXP_OPENDIR:
		q->path = rd_path(&r, q);
		q->access = SFTP_ACC_DIR;
		if (!r.bad) {
			qp = shell_quote(q->path);
			judge(q, xasprintf("ls %s", qp));
			free(qp);
		}
		break;
	case SSH_FXP_CLOSE:
	case SSH_FXP_FSTAT:
		rd_handle(&r, q, 0);
		break;
	case SSH_FXP_READ:
		rd_handle(&r, q, SFTP_ACC_READ);
		(void)sftp_rd_u64(&r);
		(void)sftp_rd_u32(&r);
		break;
	case SSH_FXP_WRITE:
		rd_handle(&r, q, SFTP_ACC_WRITE);
		(void)sftp_rd_u64(&r);
		(void)sftp_rd_str(&r, &a.flags);
		break;
	case SSH_FXP_READDIR:
		rd_handle(&r, q, SFTP_ACC_DIR);
		break;
	case SSH_FXP_FSETSTAT:
		rd_handle(&r, q, 0);
		rd_attrs(&r, &q->attrs);
		break;	/* judged in sftp_check(), with the handle's path */
	case SSH_FXP_LSTAT:
	case SSH_FXP_STAT:
	case SSH_FXP_REALPATH:
	case SSH_FXP_READLINK:
		/* Metadata: relayed and recorded, not judged. */
		path = rd_path(&r, q);
		free(path);
		break;
	case SSH_FXP_SETSTAT:
		parse_setstat(&r, q);
		break;
	case SSH_FXP_REMOVE:
	case SSH_FXP_RMDIR:
		path = rd_path(&r, q);
		if (!r.bad)
			judge(q, command2(q->type == SSH_FXP_REMOVE ? "rm" :
			    "rmdir", path, NULL));
		free(path);
		break;
	case SSH_FXP_MKDIR:
		path = rd_path(&r, q);
		rd_attrs(&r, &a);
		if (!r.bad) {
			qp = shell_quote(path);
			judge(q, a.flags & SSH_FILEXFER_ATTR_PERMISSIONS ?
			    xasprintf("mkdir -m %04o %s", a.perm & 07777, qp) :
			    xasprintf("mkdir %s", qp));
			free(qp);
		}
		free(path);
		break;
	case SSH_FXP_RENAME:
		parse_two(&r, q, "mv");
		break;
	case SSH_FXP_SYMLINK:
		/* OpenSSH's order: the link's target, then the link. */
		parse_two(&r, q, "ln -s");
		break;
	case SSH_FXP_EXTENDED:
		parse_extended(&r, q);
		break;
	default:
		refuse(q, SSH_FX_OP_UNSUPPORTED, "an sftp request the bastion "
		    "does not know");
		return;
	}
	if (r.bad)
		refuse(q, SSH_FX_BAD_MESSAGE, q->why != NULL ? q->why :
		    "a malformed sftp request");
}

void
sftp_req_free(struct sftp_req *q)
{
	free(q->text);
	free(q->path);
	q->text = q->path = NULL;
}

/* ---- the channel's handles ---- */

struct sftp_state *
sftp_state_new(void)
{
	return xcalloc(1, sizeof(struct sftp_state));
}

void
sftp_state_free(struct sftp_state *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nhandles; i++)
		free(st->handles[i].path);
	for (i = 0; i < st->npend; i++)
		free(st->pend[i].path);
	free(st);
}

static struct sftp_handle *
handle_find(struct sftp_state *st, const uint8_t *h, uint32_t len)
{
	int i;

	for (i = 0; i < st->nhandles; i++)
		if (st->handles[i].len == len &&
		    memcmp(st->handles[i].h, h, len) == 0)
			return &st->handles[i];
	return NULL;
}

static void
handle_drop(struct sftp_state *st, struct sftp_handle *h)
{
	free(h->path);
	*h = st->handles[--st->nhandles];
	st->handles[st->nhandles].path = NULL;
}

static int
pend_find(struct sftp_state *st, uint32_t id)
{
	int i;

	for (i = 0; i < st->npend; i++)
		if (st->pend[i].id == id)
			return i;
	return -1;
}

static void
pend_drop(struct sftp_state *st, int i)
{
	free(st->pend[i].path);
	st->pend[i] = st->pend[--st->npend];
	st->pend[st->npend].path = NULL;
}

void
sftp_check(struct sftp_state *st, struct sftp_req *q)
{
	struct sftp_handle *h = NULL;
	int i;

	if (q->verdict == SFTP_REFUSE)
		return;
	for (i = 0; i < q->nhandles; i++) {
		h = handle_find(st, q->handle[i], q->handle_len[i]);
		if (h == NULL) {
			refuse(q, SSH_FX_FAILURE, "a handle the target did not "
			    "give for an open the bastion judged");
			return;
		}
		if ((h->access & q->need[i]) != q->need[i]) {
			refuse(q, SSH_FX_PERMISSION_DENIED, q->need[i] ==
			    SFTP_ACC_WRITE ? "a write to a handle opened for "
			    "reading only" : q->need[i] == SFTP_ACC_READ ?
			    "a read from a handle opened for writing only" :
			    "a folder listing of a handle that is no folder");
			return;
		}
	}
	if (q->type == SSH_FXP_FSETSTAT && h != NULL) {
		struct sftp_attrs a = q->attrs;
		char *text;

		/*
		 * Setting the size of a file open for writing is writing it
		 * (scp opens without truncating, then sets the size): the
		 * open was judged as that write.  Mode, owner and times are
		 * changes of their own.
		 */
		if (h->access & SFTP_ACC_WRITE)
			a.flags &= ~(uint32_t)SSH_FILEXFER_ATTR_SIZE;
		text = attrs_command(&a, h->path);

		if (text != NULL)
			judge(q, text);
	}
	if ((q->type == SSH_FXP_OPEN || q->type == SSH_FXP_OPENDIR) &&
	    st->nhandles + st->npend >= SFTP_MAX_HANDLES &&
	    pend_find(st, q->id) < 0)
		refuse(q, SSH_FX_FAILURE, "too many open files and folders "
		    "on this channel");
}

void
sftp_forwarded(struct sftp_state *st, const struct sftp_req *q)
{
	struct sftp_handle *h;
	int i;

	if (q->type == SSH_FXP_OPEN || q->type == SSH_FXP_OPENDIR) {
		if ((i = pend_find(st, q->id)) >= 0)
			pend_drop(st, i);	/* an id used again */
		if (st->npend >= SFTP_MAX_PENDING)
			return;	/* sftp_check() refuses this; not reached */
		st->pend[st->npend].id = q->id;
		st->pend[st->npend].path = xstrdup(q->path);
		st->pend[st->npend].access = q->access;
		st->npend++;
	} else if (q->type == SSH_FXP_CLOSE && q->nhandles == 1 &&
	    (h = handle_find(st, q->handle[0], q->handle_len[0])) != NULL)
		handle_drop(st, h);
}

/* A whole reply was read (its first bytes in st->head). */
static void
reply_done(struct sftp_state *st)
{
	struct sftp_handle *h;
	uint32_t id, hl;
	int i;

	if (st->hlen < 9 || st->head[4] == SSH_FXP_VERSION)
		return;
	id = get_be32(st->head + 5);
	if ((i = pend_find(st, id)) < 0)
		return;
	if (st->head[4] == SSH_FXP_HANDLE && st->hlen >= 13 &&
	    (hl = get_be32(st->head + 9)) > 0 && hl <= SFTP_HANDLE_MAX &&
	    st->hlen >= 13 + hl && get_be32(st->head) == 9 + hl) {
		if ((h = handle_find(st, st->head + 13, hl)) != NULL)
			handle_drop(st, h);	/* reused by the target */
		if (st->nhandles < SFTP_MAX_HANDLES) {
			h = &st->handles[st->nhandles++];
			memcpy(h->h, st->head + 13, hl);
			h->len = hl;
			h->path = st->pend[i].path;
			h->access = st->pend[i].access;
			st->pend[i].path = NULL;
		}
	}
	pend_drop(st, i);	/* a STATUS: the open failed */
}

size_t
sftp_reply(struct sftp_state *st, const uint8_t *p, size_t n)
{
	size_t used = 0, k, keep;

	while (!st->broken && used < n) {
		if (st->hlen < 4) {
			k = 4 - st->hlen;
			if (k > n - used)
				k = n - used;
			memcpy(st->head + st->hlen, p + used, k);
			st->hlen += k;
			used += k;
			if (st->hlen == 4) {
				st->left = get_be32(st->head);
				if (st->left == 0 || st->left > SFTP_MAX_PACKET)
					st->broken = 1;
			}
			continue;
		}
		k = st->left;
		if (k > n - used)
			k = n - used;
		keep = sizeof(st->head) - st->hlen;
		if (keep > k)
			keep = k;
		memcpy(st->head + st->hlen, p + used, keep);
		st->hlen += keep;
		st->left -= (uint32_t)k;
		used += k;
		if (st->left == 0) {
			reply_done(st);
			st->hlen = 0;
			break;	/* one packet at a time */
		}
	}
	return st->broken ? 0 : used;
}

int
sftp_at_boundary(const struct sftp_state *st)
{
	return !st->broken && st->hlen == 0;
}

int
sftp_broken(const struct sftp_state *st)
{
	return st->broken;
}

size_t
sftp_status(uint8_t *out, size_t cap, uint32_t id, uint32_t code,
    const char *msg)
{
	size_t mlen = strlen(msg), len;

	if (mlen > 512)
		mlen = 512;
	len = 4 + 1 + 4 + 4 + 4 + mlen + 4 + 2;
	if (cap < len)
		return 0;
	put_be32(out, (uint32_t)(len - 4));
	out[4] = SSH_FXP_STATUS;
	put_be32(out + 5, id);
	put_be32(out + 9, code);
	put_be32(out + 13, (uint32_t)mlen);
	memcpy(out + 17, msg, mlen);
	put_be32(out + 17 + mlen, 2);
	memcpy(out + 21 + mlen, "en", 2);
	return len;
}
