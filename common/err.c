/*
 * err.c: text for BST_ERR_* codes.  Pure table lookup.
 */
#include <stddef.h>

#include "err.h"

static const struct {
	int code;
	const char *text;
} err_table[] = {
	{ BST_OK,		"success" },
	{ BST_ERR_INTERNAL,	"internal error" },
	{ BST_ERR_NOMEM,	"out of memory" },
	{ BST_ERR_IO,		"I/O error" },
	{ BST_ERR_EOF,		"connection closed by peer" },
	{ BST_ERR_PROTO,	"protocol error" },
	{ BST_ERR_TOOBIG,	"size limit exceeded" },
	{ BST_ERR_CONFIG,	"invalid configuration" },
	{ BST_ERR_DB,		"database error" },
	{ BST_ERR_NOTFOUND,	"not found" },
	{ BST_ERR_AGAIN,	"try again" },
	{ BST_ERR_DENIED,	"permission denied" },
	{ BST_ERR_TAMPERED,	"hash chain does not verify" },
	{ BST_ERR_TIMEOUT,	"timed out" },
	{ BST_ERR_SSH,		"SSH error" },
};

const char *
bst_strerror(int code)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].text;
	return "unknown error";
}
