/*
 * sftp-files.h: the files an sftp channel (or a legacy scp upload) moved,
 * read back from its recording.  Fed the channel's recorded bytes in the order they were
 * recorded (the agent's requests, "in", and the target's replies, "out"),
 * it follows opens, handles, WRITE requests (uploads) and the DATA
 * replies to READ requests (downloads), and hands each piece of file
 * content to a callback with its offset; it also counts each file's
 * bytes and, when the pieces came in order, their SHA-256.
 *
 * Pure over bytes (no I/O; OpenSSL for the hash), fuzzed by
 * tests/fuzz/fuzz_sftpfiles.c.  Trusts nothing: the recording holds what
 * the agent and the target sent.
 */
#ifndef BST_SFTP_FILES_H
#define BST_SFTP_FILES_H

#include <stddef.h>
#include <stdint.h>

enum sf_dir { SF_REQUEST, SF_REPLY };

struct sf_file {
	char		*path;		/* as the agent named it */
	int		 upload;	/* opened for writing (else reading) */
	uint64_t	 bytes;		/* content bytes moved */
	uint64_t	 size;		/* highest offset + length seen */
	int		 in_order;	/* every piece followed the last */
	char		 sha256[65];	/* hex, when in_order; else "" */
};

/* A piece of file number idx's content at offset. */
typedef void (*sf_piece_cb)(void *arg, size_t idx, uint64_t offset,
    const uint8_t *data, size_t len);

struct sf_reader;
struct scp_sink;

struct sf_reader *sf_new(sf_piece_cb cb, void *arg);
/*
 * The same for a legacy scp upload ("scp -t", sink as policy/scpcmd.h
 * found it): "in" holds its records and file data, "out" the target's
 * answers and the bastion's own for refused records.  Paths are where
 * scp puts each file ("PATH/NAME (or PATH)" where PATH may not be a
 * folder); content is always in order.
 */
struct sf_reader *sf_new_scp(const struct scp_sink *sink, sf_piece_cb cb,
    void *arg);
/* Feeds recorded bytes of one direction; they may split packets anywhere. */
void sf_feed(struct sf_reader *r, enum sf_dir dir, const uint8_t *p, size_t n);
/*
 * The files seen so far (hashes final once fed everything).  Valid until
 * the next sf_feed or sf_free.  *broken: a direction stopped being sftp.
 */
const struct sf_file *sf_files(struct sf_reader *r, size_t *n, int *broken);
void sf_free(struct sf_reader *r);

#endif
