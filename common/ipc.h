/*
 * ipc.h: framed messages between the monitor and a session worker over a
 * SOCK_STREAM socketpair, with file descriptor passing (SCM_RIGHTS).
 *
 * Frame: be32 length (of what follows) | be16 type | payload.  A frame
 * longer than IPC_MAX_FRAME is a protocol error and ends the peer's
 * session.  Payload fields are built and read with msg_put_* / msg_get_*:
 * integers big-endian, strings and byte strings as be32 length + bytes.
 * Readers never trust the peer: every msg_get_* checks the remaining
 * length and a failed get poisons the message (msg->err), so a handler may
 * read all fields and check once.
 *
 * Sending is queued and nonblocking (ipc_flush); a passed fd is owned by
 * the ipc layer once queued and closed after it has been sent.  Received
 * fds queue in arrival order; the handler of a message documented to carry
 * one takes it with ipc_take_fd().
 */
#ifndef BST_IPC_H
#define BST_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_MAX_FRAME	(1024 * 1024 + 1024)	/* 1 MiB of data plus headers */
#define IPC_MAX_DATA	(1024 * 1024)		/* largest data chunk in one message */

struct ipc;

struct ipc_msg {
	uint16_t	 type;
	uint8_t		*buf;	/* payload */
	size_t		 len;	/* payload length */
	size_t		 cap;
	size_t		 rpos;	/* read position for msg_get_* */
	int		 err;	/* set by a failed get or put */
	int		 borrowed; /* buf points into the ipc input buffer */
};

/* Message building.  msg_init allocates nothing until the first put. */
void msg_init(struct ipc_msg *m, uint16_t type);
void msg_free(struct ipc_msg *m);
void msg_put_u8(struct ipc_msg *m, uint8_t v);
void msg_put_u32(struct ipc_msg *m, uint32_t v);
void msg_put_u64(struct ipc_msg *m, uint64_t v);
void msg_put_bytes(struct ipc_msg *m, const void *p, size_t len);
void msg_put_str(struct ipc_msg *m, const char *s);	/* NULL sends "" */

/* Message reading.  Strings are returned malloc'd and NUL-terminated;
 * a string containing a NUL byte is an error.  msg_get_bytes returns a
 * pointer into the message (valid until msg_free). */
int msg_get_u8(struct ipc_msg *m, uint8_t *v);
int msg_get_u32(struct ipc_msg *m, uint32_t *v);
int msg_get_u64(struct ipc_msg *m, uint64_t *v);
int msg_get_bytes(struct ipc_msg *m, const uint8_t **p, size_t *len);
int msg_get_str(struct ipc_msg *m, char **s);
/* 0 if every get succeeded and the whole payload was consumed. */
int msg_done(const struct ipc_msg *m);

/* Wraps fd (nonblocking is set).  ipc_free closes it and queued fds. */
struct ipc *ipc_new(int fd);
void ipc_free(struct ipc *ipc);
int ipc_fd(const struct ipc *ipc);

/*
 * Queues m (the message itself is not consumed) and, if pass_fd >= 0,
 * that fd with it (ownership transferred even on failure).  Tries one
 * nonblocking flush.  Returns 0, BST_ERR_TOOBIG, or an I/O error.
 */
int ipc_send(struct ipc *ipc, const struct ipc_msg *m, int pass_fd);
/*
 * Like ipc_send without fd, with data appended to m as one more "bytes"
 * field, copied once straight into the output queue.
 */
int ipc_send_with_data(struct ipc *ipc, const struct ipc_msg *m,
    const void *data, size_t len);
/* Writes what it can without blocking: 0 when the queue is empty,
 * BST_ERR_AGAIN when bytes remain, BST_ERR_EOF/IO on failure. */
int ipc_flush(struct ipc *ipc);
/* Blocks (poll) until the queue is empty or timeout_ms (-1 = forever). */
int ipc_flush_blocking(struct ipc *ipc, int timeout_ms);
size_t ipc_queued(const struct ipc *ipc);

/* Reads what is available without blocking: 0 if something was read or
 * nothing was available, BST_ERR_EOF when the peer closed, BST_ERR_IO. */
int ipc_read(struct ipc *ipc);
/*
 * Extracts the next complete message into *m (msg_free it after use).
 * The payload is not copied: it stays valid until the next ipc_read().
 * 0 when one was extracted, BST_ERR_AGAIN when none is complete,
 * BST_ERR_PROTO / BST_ERR_TOOBIG on a malformed frame (fatal for the peer).
 */
int ipc_next(struct ipc *ipc, struct ipc_msg *m);
/* Pops the oldest received fd, or -1. */
int ipc_take_fd(struct ipc *ipc);
/* Bytes received but not yet extracted as messages. */
size_t ipc_buffered(const struct ipc *ipc);

#endif
