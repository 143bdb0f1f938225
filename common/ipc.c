/*
 * ipc.c: message framing and fd passing over a socketpair.
 *
 * Trusts nothing it receives: frame lengths are bounded, every field read
 * is bounds-checked.  Both ends use this file (monitor and worker).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define IPC_HDR		6	/* be32 length + be16 type */
#define IPC_MAX_FDS	8	/* fds queued in either direction */
#define IPC_READ_CHUNK	(256 * 1024)

struct pending_fd {
	size_t	off;	/* absolute output offset of its frame */
	int	fd;
};

struct ipc {
	int			fd;
	/* output: bytes [out_start, out_len) are unsent */
	uint8_t			*out;
	size_t			 out_start, out_len, out_cap;
	uint64_t		 out_base;	/* absolute offset of out[0] */
	struct pending_fd	 send_fds[IPC_MAX_FDS];
	int			 nsend_fds;
	/* input: bytes [in_start, in_len) are unparsed */
	uint8_t			*in;
	size_t			 in_start, in_len, in_cap;
	int			 recv_fds[IPC_MAX_FDS];
	int			 nrecv_fds;
};

/* ---- messages ---- */

void
msg_init(struct ipc_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void
msg_free(struct ipc_msg *m)
{
	if (m == NULL)
		return;
	if (!m->borrowed)
		free(m->buf);
	memset(m, 0, sizeof(*m));
}

static void
msg_reserve(struct ipc_msg *m, size_t n)
{
	size_t cap;

	if (m->err)
		return;
	if (m->len + n > IPC_MAX_FRAME - IPC_HDR) {
		m->err = BST_ERR_TOOBIG;
		return;
	}
	if (m->len + n <= m->cap)
		return;
	cap = m->cap ? m->cap : 256;
	while (cap < m->len + n)
		cap *= 2;
	m->buf = xrealloc(m->buf, cap);
	m->cap = cap;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void
msg_put_u8(struct ipc_msg *m, uint8_t v)
{
	msg_reserve(m, 1);
	if (m->err)
		return;
	m->buf[m->len++] = v;
}

void
msg_put_u32(struct ipc_msg *m, uint32_t v)
{
	msg_reserve(m, 4);
	if (m->err)
		return;
	put_be(m->buf + m->len, v, 4);
	m->len += 4;
}

void
msg_put_u64(struct ipc_msg *m, uint64_t v)
{
	msg_reserve(m, 8);
	if (m->err)
		return;
	put_be(m->buf + m->len, v, 8);
	m->len += 8;
}

void
msg_put_bytes(struct ipc_msg *m, const void *p, size_t len)
{
	if (len > IPC_MAX_FRAME) {
		m->err = BST_ERR_TOOBIG;
		return;
	}
	msg_put_u32(m, (uint32_t)len);
	msg_reserve(m, len);
	if (m->err)
		return;
	if (len > 0)
		memcpy(m->buf + m->len, p, len);
	m->len += len;
}

void
msg_put_str(struct ipc_msg *m, const char *s)
{
	if (s == NULL)
		s = "";
	msg_put_bytes(m, s, strlen(s));
}

static int
msg_need(struct ipc_msg *m, size_t n)
{
	if (m->err)
		return m->err;
	if (m->len - m->rpos < n) {
		m->err = BST_ERR_PROTO;
		return m->err;
	}
	return 0;
}

int
msg_get_u8(struct ipc_msg *m, uint8_t *v)
{
	*v = 0;
	if (msg_need(m, 1) != 0)
		return m->err;
	*v = m->buf[m->rpos++];
	return 0;
}

int
msg_get_u32(struct ipc_msg *m, uint32_t *v)
{
	*v = 0;
	if (msg_need(m, 4) != 0)
		return m->err;
	*v = (uint32_t)get_be(m->buf + m->rpos, 4);
	m->rpos += 4;
	return 0;
}

int
msg_get_u64(struct ipc_msg *m, uint64_t *v)
{
	*v = 0;
	if (msg_need(m, 8) != 0)
		return m->err;
	*v = get_be(m->buf + m->rpos, 8);
	m->rpos += 8;
	return 0;
}

int
msg_get_bytes(struct ipc_msg *m, const uint8_t **p, size_t *len)
{
	uint32_t n;

	*p = NULL;
	*len = 0;
	if (msg_get_u32(m, &n) != 0 || msg_need(m, n) != 0)
		return m->err;
	*p = m->buf + m->rpos;
	*len = n;
	m->rpos += n;
	return 0;
}

int
msg_get_str(struct ipc_msg *m, char **s)
{
	const uint8_t *p;
	size_t len;

	*s = NULL;
	if (msg_get_bytes(m, &p, &len) != 0)
		return m->err;
	if (len > 0 && memchr(p, '\0', len) != NULL) {
		m->err = BST_ERR_PROTO;
		return m->err;
	}
	*s = xstrndup(len ? (const char *)p : "", len);
	return 0;
}

int
msg_done(const struct ipc_msg *m)
{
	if (m->err)
		return m->err;
	return m->rpos == m->len ? 0 : BST_ERR_PROTO;
}

/* ---- connection ---- */

struct ipc *
ipc_new(int fd)
{
	struct ipc *ipc = xcalloc(1, sizeof(*ipc));
	int sz = 4 * 1024 * 1024;

	ipc->fd = fd;
	(void)set_nonblock(fd, 1);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	int i;

	if (ipc == NULL)
		return;
	for (i = 0; i < ipc->nsend_fds; i++)
		close(ipc->send_fds[i].fd);
	for (i = 0; i < ipc->nrecv_fds; i++)
		close(ipc->recv_fds[i]);
	if (ipc->fd >= 0)
		close(ipc->fd);
	free(ipc->out);
	free(ipc->in);
	free(ipc);
}

int
ipc_fd(const struct ipc *ipc)
{
	return ipc->fd;
}

size_t
ipc_queued(const struct ipc *ipc)
{
	return ipc->out_len - ipc->out_start;
}

size_t
ipc_buffered(const struct ipc *ipc)
{
	return ipc->in_len - ipc->in_start;
}

static void
out_reserve(struct ipc *ipc, size_t n)
{
	size_t cap;

	if (ipc->out_start > 0 && ipc->out_start == ipc->out_len) {
		ipc->out_base += ipc->out_start;
		ipc->out_start = ipc->out_len = 0;
	}
	if (ipc->out_len + n <= ipc->out_cap)
		return;
	if (ipc->out_start > 0) {
		memmove(ipc->out, ipc->out + ipc->out_start,
		    ipc->out_len - ipc->out_start);
		ipc->out_base += ipc->out_start;
		ipc->out_len -= ipc->out_start;
		ipc->out_start = 0;
		if (ipc->out_len + n <= ipc->out_cap)
			return;
	}
	cap = ipc->out_cap ? ipc->out_cap : 64 * 1024;
	while (cap < ipc->out_len + n)
		cap *= 2;
	ipc->out = xrealloc(ipc->out, cap);
	ipc->out_cap = cap;
}

/*
 * Frames m, followed by data as one more "bytes" field when with_data,
 * straight into the output queue (fd attached to the frame if >= 0;
 * owned from here on), then tries one flush.
 */
static int
queue_frame(struct ipc *ipc, const struct ipc_msg *m, int with_data,
    const void *data, size_t len, int pass_fd)
{
	size_t flen, extra = with_data ? 4 + len : 0;
	uint8_t *p;
	int r;

	if (m->err || m->len + 2 + extra + 4 > IPC_MAX_FRAME ||
	    (pass_fd >= 0 && ipc->nsend_fds >= IPC_MAX_FDS)) {
		if (pass_fd >= 0)
			close(pass_fd);
		return m->err ? m->err : BST_ERR_TOOBIG;
	}
	flen = m->len + 2 + extra;
	out_reserve(ipc, flen + 4);
	p = ipc->out + ipc->out_len;
	put_be(p, flen, 4);
	put_be(p + 4, m->type, 2);
	if (m->len > 0)
		memcpy(p + IPC_HDR, m->buf, m->len);
	if (with_data) {
		put_be(p + IPC_HDR + m->len, len, 4);
		if (len > 0)
			memcpy(p + IPC_HDR + m->len + 4, data, len);
	}
	if (pass_fd >= 0) {
		ipc->send_fds[ipc->nsend_fds].off = ipc->out_base + ipc->out_len;
		ipc->send_fds[ipc->nsend_fds].fd = pass_fd;
		ipc->nsend_fds++;
	}
	ipc->out_len += flen + 4;
	r = ipc_flush(ipc);
	return r == BST_ERR_AGAIN ? 0 : r;
}

int
ipc_send(struct ipc *ipc, const struct ipc_msg *m, int pass_fd)
{
	return queue_frame(ipc, m, 0, NULL, 0, pass_fd);
}

int
ipc_send_with_data(struct ipc *ipc, const struct ipc_msg *m,
    const void *data, size_t len)
{
	return queue_frame(ipc, m, 1, data, len, -1);
}

int
ipc_flush(struct ipc *ipc)
{
	while (ipc->out_start < ipc->out_len) {
		uint64_t pos = ipc->out_base + ipc->out_start;
		size_t len = ipc->out_len - ipc->out_start;
		struct msghdr mh;
		struct iovec iov;
		union {
			struct cmsghdr hdr;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		int with_fd = 0;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		if (ipc->nsend_fds > 0) {
			uint64_t foff = ipc->send_fds[0].off;

			if (foff == pos) {
				/* Send the fd with the first byte(s) of its frame. */
				struct cmsghdr *c;

				memset(&cm, 0, sizeof(cm));
				mh.msg_control = cm.buf;
				mh.msg_controllen = sizeof(cm.buf);
				c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(sizeof(int));
				memcpy(CMSG_DATA(c), &ipc->send_fds[0].fd,
				    sizeof(int));
				with_fd = 1;
			} else if (foff > pos && foff - pos < len) {
				/* Stop before the fd's frame. */
				len = (size_t)(foff - pos);
			}
		}
		iov.iov_base = ipc->out + ipc->out_start;
		iov.iov_len = len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = sendmsg(ipc->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return BST_ERR_AGAIN;
			if (errno == EPIPE || errno == ECONNRESET)
				return BST_ERR_EOF;
			return BST_ERR_IO;
		}
		if (with_fd) {
			close(ipc->send_fds[0].fd);
			memmove(&ipc->send_fds[0], &ipc->send_fds[1],
			    (ipc->nsend_fds - 1) * sizeof(ipc->send_fds[0]));
			ipc->nsend_fds--;
		}
		ipc->out_start += (size_t)n;
	}
	ipc->out_base += ipc->out_start;
	ipc->out_start = ipc->out_len = 0;
	return 0;
}

int
ipc_flush_blocking(struct ipc *ipc, int timeout_ms)
{
	int64_t deadline = now_mono_us() + (int64_t)timeout_ms * 1000;
	struct pollfd pfd;
	int r, wait;

	for (;;) {
		r = ipc_flush(ipc);
		if (r != BST_ERR_AGAIN)
			return r;
		wait = -1;
		if (timeout_ms >= 0) {
			int64_t left = deadline - now_mono_us();

			if (left <= 0)
				return BST_ERR_TIMEOUT;
			wait = (int)(left / 1000) + 1;
		}
		pfd.fd = ipc->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
			return BST_ERR_IO;
	}
}

int
ipc_read(struct ipc *ipc)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cm;
	struct cmsghdr *c;
	ssize_t n;

	/* Compact, then make room for one chunk. */
	if (ipc->in_start > 0) {
		memmove(ipc->in, ipc->in + ipc->in_start,
		    ipc->in_len - ipc->in_start);
		ipc->in_len -= ipc->in_start;
		ipc->in_start = 0;
	}
	if (ipc->in_len >= IPC_MAX_FRAME + IPC_READ_CHUNK)
		return 0;	/* caller must drain with ipc_next first */
	if (ipc->in_cap - ipc->in_len < IPC_READ_CHUNK) {
		ipc->in_cap = ipc->in_len + IPC_READ_CHUNK;
		ipc->in = xrealloc(ipc->in, ipc->in_cap);
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = ipc->in + ipc->in_len;
	iov.iov_len = ipc->in_cap - ipc->in_len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	for (;;) {
		n = recvmsg(ipc->fd, &mh, MSG_CMSG_CLOEXEC);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ECONNRESET)
			return BST_ERR_EOF;
		return BST_ERR_IO;
	}
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t i, nfd;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ipc->nrecv_fds < IPC_MAX_FDS)
				ipc->recv_fds[ipc->nrecv_fds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0)
		return BST_ERR_EOF;
	ipc->in_len += (size_t)n;
	return 0;
}

int
ipc_next(struct ipc *ipc, struct ipc_msg *m)
{
	size_t avail = ipc->in_len - ipc->in_start;
	const uint8_t *p;
	uint32_t flen;

	msg_init(m, 0);
	if (avail < 4)
		return BST_ERR_AGAIN;	/* (ipc->in may still be NULL) */
	p = ipc->in + ipc->in_start;
	flen = (uint32_t)get_be(p, 4);
	if (flen < 2)
		return BST_ERR_PROTO;
	if (flen > IPC_MAX_FRAME - 4)
		return BST_ERR_TOOBIG;
	if (avail < IPC_HDR)
		return BST_ERR_AGAIN;
	if (avail < 4 + (size_t)flen)
		return BST_ERR_AGAIN;
	m->type = (uint16_t)get_be(p + 4, 2);
	m->len = flen - 2;
	m->cap = m->len;
	m->buf = (uint8_t *)p + IPC_HDR;
	m->borrowed = 1;
	ipc->in_start += 4 + (size_t)flen;
	return 0;
}

int
ipc_take_fd(struct ipc *ipc)
{
	int fd;

	if (ipc->nrecv_fds == 0)
		return -1;
	fd = ipc->recv_fds[0];
	memmove(&ipc->recv_fds[0], &ipc->recv_fds[1],
	    (ipc->nrecv_fds - 1) * sizeof(int));
	ipc->nrecv_fds--;
	return fd;
}
