/*
 * err.h: error codes shared by every module.
 *
 * Functions return int: 0 on success, a negative BST_ERR_* on failure.
 * bst_strerror() turns a code into text.  Trusts nothing; pure.
 */
#ifndef BST_ERR_H
#define BST_ERR_H

#define BST_OK			0
#define BST_ERR_INTERNAL	-1	/* broken invariant */
#define BST_ERR_NOMEM		-2
#define BST_ERR_IO		-3	/* read/write/syscall failed, see errno */
#define BST_ERR_EOF		-4	/* peer closed */
#define BST_ERR_PROTO		-5	/* malformed or unexpected message */
#define BST_ERR_TOOBIG		-6	/* exceeds a size limit */
#define BST_ERR_CONFIG		-7	/* bad configuration */
#define BST_ERR_DB		-8	/* SQLite error */
#define BST_ERR_NOTFOUND	-9
#define BST_ERR_AGAIN		-10	/* would block; try later */
#define BST_ERR_DENIED		-11	/* not permitted */
#define BST_ERR_TAMPERED	-12	/* hash chain does not verify */
#define BST_ERR_TIMEOUT		-13
#define BST_ERR_SSH		-14	/* libssh reported an error */

const char *bst_strerror(int code);

#endif
