/*
 * fuzz_scp.c: libFuzzer harness for the legacy scp upload the bastion
 * follows: policy/scpcmd.c (is an exec command an scp sink, and where
 * does it write) and session/scp.c (its records and the target's
 * answers), both directions interleaved as scpgate.c drives them; and
 * the same bytes, as a recording, through the reader behind "bastionctl
 * files" (tools/sftp-files.c, sf_new_scp).
 *
 * Input: an exec command up to the first newline, then pieces, each a tag
 * byte (bit 0: the agent's input or the target's answers; bit 1: a judged
 * record is allowed or refused; the rest: the piece's length) and the
 * piece.
 *
 * Invariants (abort otherwise): an SCP_CMD_SINK has a non-empty path; a
 * step covers at most the bytes it was given and at least one unless it
 * waits or needs more; a judged record has a text, a name and a NUL-free
 * record line; a malformed one says why; the bastion's refusal line is
 * one well-formed \1 line; the reader's files have a path, and as many
 * bytes as their size (scp content comes in order).
 *
 *   make fuzz && ./build-fuzz/fuzz_scp -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cmdparse.h"
#include "policy/scpcmd.h"
#include "session/scp.h"
#include "tools/sftp-files.h"

#define HOLD	(16 * 1024)

/* Runs the follower over what is held; returns the bytes it used. */
static size_t
agent(struct scp_state *st, const uint8_t *hold, size_t len, int allow)
{
	struct scp_rec r;
	uint8_t line[256];
	size_t used = 0, n;

	for (;;) {
		scp_next(st, hold + used, len - used, &r);
		switch (r.in) {
		case SCP_IN_WAIT:
		case SCP_IN_MORE:
			scp_rec_free(&r);
			return used;
		case SCP_IN_BAD:
			if (r.why[0] == '\0')
				abort();
			scp_rec_free(&r);
			return len;	/* the gate ends the channel */
		case SCP_IN_PASS:
			if (r.len == 0 || r.len > len - used)
				abort();
			/* Data may go in parts, as room allows. */
			n = r.type == 'd' && r.len > 1 ? r.len / 2 + 1 : r.len;
			scp_forwarded(st, &r, n);
			used += n;
			break;
		case SCP_IN_JUDGE:
			if (r.len == 0 || r.len > len - used ||
			    r.text == NULL || r.name == NULL ||
			    strlen(r.text) == 0 ||
			    memchr(hold + used, '\0', r.len) != NULL)
				abort();
			if (allow)
				scp_forwarded(st, &r, r.len);
			else {
				n = scp_refusal(line, sizeof(line), "denied");
				if (n == 0 || line[0] != 1 ||
				    line[n - 1] != '\n' ||
				    memchr(line, '\n', n) != line + n - 1)
					abort();
			}
			used += r.len;
			break;
		}
		scp_rec_free(&r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t clen = nl != NULL ? (size_t)(nl - data) : size, off, n;
	static uint8_t hold[HOLD];
	size_t hold_len = 0, used;
	struct pc_result *pr;
	struct scp_sink sink;
	struct scp_state *st;
	struct sf_reader *rd;
	const struct sf_file *f;
	size_t nf, i;
	int broken;
	char *cmd;
	int tag;

	cmd = malloc(clen + 1);
	if (cmd == NULL)
		return 0;
	memcpy(cmd, data, clen);
	cmd[clen] = '\0';
	pr = pc_parse(cmd, strlen(cmd));
	if (scp_cmd_parse(cmd, pr, &sink) == SCP_CMD_SINK) {
		if (sink.path == NULL || sink.path[0] == '\0')
			abort();
	} else if (sink.path != NULL)
		abort();
	else {
		/* Exercise the follower anyway. */
		sink.path = strdup(clen > 0 && data[0] & 1 ? "/srv/x" : "/srv/");
		sink.recursive = 1;
	}
	pc_result_free(pr);
	free(cmd);
	st = scp_state_new(&sink);
	rd = sf_new_scp(&sink, NULL, NULL);
	scp_sink_free(&sink);

	for (off = nl != NULL ? clen + 1 : size; off < size; off += n) {
		tag = data[off++];
		n = 1 + (size_t)(tag >> 2) * 29;
		if (n > size - off)
			n = size - off;
		sf_feed(rd, (tag & 1) ? SF_REQUEST : SF_REPLY, data + off, n);
		if ((tag & 1) == 0) {
			scp_reply(st, data + off, n);
			continue;
		}
		if (n > HOLD - hold_len)
			n = HOLD - hold_len;
		memcpy(hold + hold_len, data + off, n);
		hold_len += n;
		used = agent(st, hold, hold_len, tag & 2);
		if (used > hold_len)
			abort();
		memmove(hold, hold + used, hold_len - used);
		hold_len -= used;
		if (hold_len == HOLD)
			hold_len = 0;	/* a record this long is refused */
	}
	scp_state_free(st);
	f = sf_files(rd, &nf, &broken);
	for (i = 0; i < nf; i++)
		if (f[i].path == NULL || !f[i].upload ||
		    f[i].bytes != f[i].size || !f[i].in_order)
			abort();
	sf_free(rd);
	return 0;
}
