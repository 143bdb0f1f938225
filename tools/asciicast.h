/*
 * asciicast.h: asciicast v2 (asciinema's format) from recorded terminal
 * bytes: the header line and one line per event.
 *
 * Pure (no I/O), so it can be fuzzed.  Trusts nothing in the bytes (what
 * a target wrote): asciicast data must be UTF-8, so a sequence split
 * between two events is joined, and bytes that are not UTF-8 become
 * U+FFFD, one per maximal invalid subpart as Unicode recommends; json-c
 * escapes the rest.
 */
#ifndef BST_ASCIICAST_H
#define BST_ASCIICAST_H

#include <stddef.h>

struct json_object;

/* An incomplete UTF-8 sequence carried to the next call. */
struct cast_utf8 {
	unsigned char	pend[4];
	size_t		npend;
};

/* Room cast_utf8() needs in out for len input bytes. */
#define CAST_UTF8_ROOM(len)	(3 * ((len) + 4) + 1)

/*
 * Writes the valid UTF-8 for st's pending bytes followed by in (len
 * bytes) to out (CAST_UTF8_ROOM(len) bytes); returns its length.  A
 * trailing sequence that may still complete waits in st, unless final
 * (the stream ends): then it becomes U+FFFD.
 */
size_t cast_utf8(struct cast_utf8 *st, const unsigned char *in, size_t len,
    char *out, int final);

/* 1 if p (len bytes) is valid UTF-8 (RFC 3629), else 0. */
int cast_utf8_valid(const char *p, size_t len);

/*
 * One event line, "[T, "TYPE", "DATA"]\n" (T in seconds, microsecond
 * precision; data UTF-8, as cast_utf8() makes it), malloc'd.
 */
char *cast_event(double t, const char *type, const char *data, size_t len);

/* The header line for header (an object with "version": 2...), malloc'd. */
char *cast_header(struct json_object *header);

#endif
