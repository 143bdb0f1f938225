/*
 * sftp-files.c: the files an sftp channel moved, from its recording (see
 * sftp-files.h).  Trusts nothing it reads.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "session/scp.h"
#include "session/sftp.h"
#include "tools/sftp-files.h"

#define SF_MAX_PENDING	1024	/* opens and reads awaiting their reply */
#define SF_MAX_FILES	100000	/* opens followed per channel */

struct sf_handle {
	uint8_t		 h[SFTP_HANDLE_MAX];
	uint32_t	 len;
	size_t		 file;
};

struct sf_pending {
	uint32_t	 id;
	int		 is_read;	/* a READ (else an OPEN) */
	size_t		 file;		/* READ: whose content */
	uint64_t	 offset;	/* READ: where */
	char		*path;		/* OPEN */
	int		 upload;	/* OPEN */
};

struct sf_stream {
	uint8_t		*buf;
	size_t		 len;
	int		 broken;
};

struct sf_reader {
	sf_piece_cb		 cb;
	void			*arg;
	struct sf_stream	 dir[2];
	struct sf_file		*files;
	EVP_MD_CTX		**sha;	/* per file, NULL once out of order */
	size_t			 nfiles, capfiles;
	struct sf_handle	 handles[SFTP_MAX_HANDLES];
	int			 nhandles;
	struct sf_pending	 pend[SF_MAX_PENDING];
	int			 npend;

	/* A legacy scp upload (sf_new_scp). */
	struct scp_state	*scp;
	int			 scp_skip;	/* in a line of the bastion's */
	char			*scp_path;	/* a C record's path, unanswered */
	size_t			 scp_file;	/* the file being received */
};

struct sf_reader *
sf_new(sf_piece_cb cb, void *arg)
{
	struct sf_reader *r = xcalloc(1, sizeof(*r));

	r->cb = cb;
	r->arg = arg;
	return r;
}

struct sf_reader *
sf_new_scp(const struct scp_sink *sink, sf_piece_cb cb, void *arg)
{
	struct sf_reader *r = sf_new(cb, arg);

	r->scp = scp_state_new(sink);
	return r;
}

void
sf_free(struct sf_reader *r)
{
	size_t i;
	int k;

	if (r == NULL)
		return;
	scp_state_free(r->scp);
	free(r->scp_path);
	for (i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		EVP_MD_CTX_free(r->sha[i]);
	}
	for (k = 0; k < r->npend; k++)
		free(r->pend[k].path);
	free(r->files);
	free(r->sha);
	free(r->dir[0].buf);
	free(r->dir[1].buf);
	free(r);
}

static struct sf_handle *
handle_find(struct sf_reader *r, const uint8_t *h, uint32_t len)
{
	int i;

	for (i = 0; i < r->nhandles; i++)
		if (r->handles[i].len == len &&
		    memcmp(r->handles[i].h, h, len) == 0)
			return &r->handles[i];
	return NULL;
}

static int
pend_find(struct sf_reader *r, uint32_t id)
{
	int i;

	for (i = 0; i < r->npend; i++)
		if (r->pend[i].id == id)
			return i;
	return -1;
}

static void
pend_drop(struct sf_reader *r, int i)
{
	free(r->pend[i].path);
	r->pend[i] = r->pend[--r->npend];
	r->pend[r->npend].path = NULL;
}

static struct sf_pending *
pend_add(struct sf_reader *r, uint32_t id)
{
	int i = pend_find(r, id);

	if (i >= 0)
		pend_drop(r, i);	/* an id used again */
	if (r->npend >= SF_MAX_PENDING)
		return NULL;
	memset(&r->pend[r->npend], 0, sizeof(r->pend[0]));
	r->pend[r->npend].id = id;
	return &r->pend[r->npend++];
}

/* Content of file idx at offset: counted, hashed if in order, handed on. */
static void
piece(struct sf_reader *r, size_t idx, uint64_t offset, const uint8_t *d,
    size_t len)
{
	struct sf_file *f = &r->files[idx];

	if (len == 0)
		return;
	if (r->sha[idx] != NULL && offset == f->bytes && f->in_order)
		(void)EVP_DigestUpdate(r->sha[idx], d, len);
	else if (f->in_order) {
		f->in_order = 0;
		EVP_MD_CTX_free(r->sha[idx]);
		r->sha[idx] = NULL;
	}
	f->bytes += len;
	if (offset + len > f->size && offset + len >= offset)
		f->size = offset + len;
	if (r->cb != NULL)
		r->cb(r->arg, idx, offset, d, len);
}

static void
request(struct sf_reader *r, const uint8_t *pkt, size_t len)
{
	struct sftp_rd d = { pkt + 5, len - 5, 0 };
	struct sf_handle *h;
	struct sf_pending *q;
	const uint8_t *s, *data;
	uint32_t id, n, pflags, dlen;
	uint64_t off;

	if (pkt[4] == SSH_FXP_INIT)
		return;
	id = sftp_rd_u32(&d);
	switch (pkt[4]) {
	case SSH_FXP_OPEN:
		s = sftp_rd_str(&d, &n);
		pflags = sftp_rd_u32(&d);
		if (d.bad || n == 0 || memchr(s, '\0', n) != NULL ||
		    (q = pend_add(r, id)) == NULL)
			return;
		q->path = xstrndup((const char *)s, n);
		q->upload = (pflags & 0x3e) != 0;	/* write, append, ... */
		break;
	case SSH_FXP_READ:
		s = sftp_rd_str(&d, &n);
		off = sftp_rd_u64(&d);
		if (d.bad || (h = handle_find(r, s, n)) == NULL ||
		    (q = pend_add(r, id)) == NULL)
			return;
		q->is_read = 1;
		q->file = h->file;
		q->offset = off;
		break;
	case SSH_FXP_WRITE:
		s = sftp_rd_str(&d, &n);
		off = sftp_rd_u64(&d);
		data = sftp_rd_str(&d, &dlen);
		if (!d.bad && (h = handle_find(r, s, n)) != NULL &&
		    r->files[h->file].upload)
			piece(r, h->file, off, data, dlen);
		break;
	case SSH_FXP_CLOSE:
		s = sftp_rd_str(&d, &n);
		if (!d.bad && (h = handle_find(r, s, n)) != NULL)
			*h = r->handles[--r->nhandles];
		break;
	}
}

/* A new file (path is taken over); returns its number. */
static size_t
file_add(struct sf_reader *r, char *path, int upload)
{
	if (r->nfiles == r->capfiles) {
		r->capfiles = r->capfiles ? r->capfiles * 2 : 8;
		r->files = xrealloc(r->files, r->capfiles * sizeof(*r->files));
		r->sha = xrealloc(r->sha, r->capfiles * sizeof(*r->sha));
	}
	memset(&r->files[r->nfiles], 0, sizeof(r->files[0]));
	r->files[r->nfiles].path = path;
	r->files[r->nfiles].upload = upload;
	r->files[r->nfiles].in_order = 1;
	r->sha[r->nfiles] = EVP_MD_CTX_new();
	if (r->sha[r->nfiles] == NULL ||
	    EVP_DigestInit_ex(r->sha[r->nfiles], EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(r->sha[r->nfiles]);
		r->sha[r->nfiles] = NULL;
		r->files[r->nfiles].in_order = 0;
	}
	return r->nfiles++;
}

static void
reply(struct sf_reader *r, const uint8_t *pkt, size_t len)
{
	struct sftp_rd d = { pkt + 5, len - 5, 0 };
	struct sf_pending *q;
	struct sf_handle *h;
	const uint8_t *s;
	uint32_t id, n;
	int i;

	if (pkt[4] == SSH_FXP_VERSION)
		return;
	id = sftp_rd_u32(&d);
	if (d.bad || (i = pend_find(r, id)) < 0)
		return;
	q = &r->pend[i];
	if (pkt[4] == SSH_FXP_HANDLE && !q->is_read) {
		s = sftp_rd_str(&d, &n);
		if (!d.bad && n > 0 && n <= SFTP_HANDLE_MAX &&
		    r->nfiles < SF_MAX_FILES) {
			if ((h = handle_find(r, s, n)) == NULL) {
				if (r->nhandles >= SFTP_MAX_HANDLES) {
					pend_drop(r, i);
					return;
				}
				h = &r->handles[r->nhandles++];
			}
			memcpy(h->h, s, n);
			h->len = n;
			h->file = file_add(r, q->path, q->upload);
			q->path = NULL;
		}
	} else if (pkt[4] == SSH_FXP_DATA && q->is_read) {
		s = sftp_rd_str(&d, &n);
		if (!d.bad && !r->files[q->file].upload)
			piece(r, q->file, q->offset, s, n);
	}
	pend_drop(r, i);	/* answered: STATUS, HANDLE or DATA */
}

/* scp: the agent's records and file data held so far, as far as they go. */
static void
scp_pump(struct sf_reader *r)
{
	struct sf_stream *st = &r->dir[0];
	struct scp_rec q;
	size_t off = 0;
	int more = st->buf != NULL;	/* nothing held yet */

	while (more && !st->broken) {
		scp_next(r->scp, st->buf + off, st->len - off, &q);
		switch (q.in) {
		case SCP_IN_WAIT:
		case SCP_IN_MORE:
			more = 0;
			break;
		case SCP_IN_BAD:
			st->broken = 1;
			break;
		case SCP_IN_PASS:
		case SCP_IN_JUDGE:
			/* Recorded as relayed: what was judged was allowed. */
			if (q.type == 'd' && r->scp_file < r->nfiles)
				piece(r, r->scp_file, r->files[r->scp_file].bytes,
				    st->buf + off, q.len);
			if (q.in == SCP_IN_JUDGE && q.type == 'C') {
				free(r->scp_path);
				r->scp_path = scp_entry_path(r->scp, q.name);
			}
			scp_forwarded(r->scp, &q, q.len);
			off += q.len;
			break;
		}
		scp_rec_free(&q);
	}
	if (off > 0) {
		memmove(st->buf, st->buf + off, st->len - off);
		st->len -= off;
	}
}

/* scp: the target's answers, and the bastion's own for refused records. */
static void
scp_answers(struct sf_reader *r, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !r->dir[1].broken; i++) {
		if (r->scp_skip) {
			r->scp_skip = p[i] != '\n';
			continue;
		}
		if (scp_quiet(r->scp) && p[i] == 1) {
			r->scp_skip = 1;	/* "\1bastion: ...": not the target's */
			continue;
		}
		scp_reply(r->scp, p + i, 1);
		r->dir[1].broken = scp_broken(r->scp);
		if (r->scp_path != NULL && scp_quiet(r->scp)) {
			/* The C record answered: a file comes, or not. */
			if (scp_in_file(r->scp))
				r->scp_file = file_add(r, r->scp_path, 1);
			else
				free(r->scp_path);
			r->scp_path = NULL;
		}
		scp_pump(r);
	}
}

void
sf_feed(struct sf_reader *r, enum sf_dir dir, const uint8_t *p, size_t n)
{
	struct sf_stream *st = &r->dir[dir == SF_REPLY];
	size_t plen, off = 0;

	if (st->broken || n == 0)
		return;
	if (r->scp != NULL && dir == SF_REPLY) {
		scp_answers(r, p, n);
		return;
	}
	st->buf = xrealloc(st->buf, st->len + n);
	memcpy(st->buf + st->len, p, n);
	st->len += n;
	if (r->scp != NULL) {
		scp_pump(r);
		return;
	}
	for (;;) {
		switch (sftp_frame(st->buf + off, st->len - off, &plen)) {
		case SFTP_FRAME_BAD:
			st->broken = 1;
			free(st->buf);
			st->buf = NULL;
			st->len = 0;
			return;
		case SFTP_FRAME_MORE:
			memmove(st->buf, st->buf + off, st->len - off);
			st->len -= off;
			return;
		case SFTP_FRAME_OK:
			if (plen >= 9) {	/* length, type, id */
				if (dir == SF_REQUEST)
					request(r, st->buf + off, plen);
				else
					reply(r, st->buf + off, plen);
			}
			off += plen;
			break;
		}
	}
}

const struct sf_file *
sf_files(struct sf_reader *r, size_t *n, int *broken)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *c;
	size_t i;

	for (i = 0; i < r->nfiles; i++) {
		r->files[i].sha256[0] = '\0';
		if (r->sha[i] == NULL || !r->files[i].in_order)
			continue;
		/* A copy: more content may follow. */
		if ((c = EVP_MD_CTX_new()) == NULL)
			continue;
		if (EVP_MD_CTX_copy_ex(c, r->sha[i]) == 1 &&
		    EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32)
			hex_encode(md, 32, r->files[i].sha256);
		EVP_MD_CTX_free(c);
	}
	*n = r->nfiles;
	if (broken != NULL)
		*broken = r->dir[0].broken || r->dir[1].broken;
	return r->files;
}
