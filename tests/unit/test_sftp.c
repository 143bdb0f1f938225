/*
 * test_sftp.c: session/sftp.c, the SFTP requests the bastion judges and
 * the replies it follows: framing, the shell command each request is
 * judged as (quoting included), refusals of what cannot be read or is not
 * known, handles learnt from replies fed in any split, handle access
 * checks, and the STATUS replies the bastion inserts; and the reader of
 * recordings that tells auditors which files moved (tools/sftp-files.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "session/sftp.h"
#include "tools/sftp-files.h"

/* ---- building packets ---- */

struct pk {
	uint8_t	 b[8192];
	size_t	 n;
};

static void
u8(struct pk *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static void
u32(struct pk *p, uint32_t v)
{
	u8(p, (uint8_t)(v >> 24));
	u8(p, (uint8_t)(v >> 16));
	u8(p, (uint8_t)(v >> 8));
	u8(p, (uint8_t)v);
}

static void
u64(struct pk *p, uint64_t v)
{
	u32(p, (uint32_t)(v >> 32));
	u32(p, (uint32_t)v);
}

static void
str(struct pk *p, const void *s, size_t n)
{
	u32(p, (uint32_t)n);
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void
cstr(struct pk *p, const char *s)
{
	str(p, s, strlen(s));
}

/* Starts a packet: length (patched by end()), type, id. */
static void
begin(struct pk *p, uint8_t type, uint32_t id)
{
	p->n = 0;
	u32(p, 0);
	u8(p, type);
	u32(p, id);
}

static void
end(struct pk *p)
{
	uint32_t len = (uint32_t)(p->n - 4);

	p->b[0] = (uint8_t)(len >> 24);
	p->b[1] = (uint8_t)(len >> 16);
	p->b[2] = (uint8_t)(len >> 8);
	p->b[3] = (uint8_t)len;
}

/* Parses p; the caller frees r. */
static void
parse(struct pk *p, struct sftp_req *r)
{
	size_t plen = 0;

	end(p);
	assert_int_equal(sftp_frame(p->b, p->n, &plen), SFTP_FRAME_OK);
	assert_int_equal(plen, p->n);
	sftp_req_parse(p->b, p->n, r);
}

/* The verdict and text of one request. */
static void
expect(struct pk *p, enum sftp_verdict v, const char *text)
{
	struct sftp_req r;

	parse(p, &r);
	assert_int_equal(r.verdict, v);
	if (text != NULL)
		assert_string_equal(r.text, text);
	else
		assert_null(r.text);
	sftp_req_free(&r);
}

static void
open_req(struct pk *p, uint32_t id, const char *path, uint32_t pflags)
{
	begin(p, SSH_FXP_OPEN, id);
	cstr(p, path);
	u32(p, pflags);
	u32(p, 0);	/* attrs: none */
}

/* ---- tests ---- */

static void
test_frame(void **state)
{
	uint8_t b[8] = { 0, 0, 0, 4, 1, 0, 0, 0 };
	size_t plen = 0;

	(void)state;
	assert_int_equal(sftp_frame(b, 3, &plen), SFTP_FRAME_MORE);
	assert_int_equal(sftp_frame(b, 7, &plen), SFTP_FRAME_MORE);
	assert_int_equal(sftp_frame(b, 8, &plen), SFTP_FRAME_OK);
	assert_int_equal(plen, 8);
	memset(b, 0, 4);
	assert_int_equal(sftp_frame(b, 8, &plen), SFTP_FRAME_BAD);
	memset(b, 0xff, 4);
	assert_int_equal(sftp_frame(b, 8, &plen), SFTP_FRAME_BAD);
}

static void
test_opens_judged_as_commands(void **state)
{
	struct pk p;

	(void)state;
	open_req(&p, 1, "/etc/hosts", 0x01);
	expect(&p, SFTP_JUDGE, "cat '/etc/hosts'");
	open_req(&p, 1, "/tmp/x", 0x02 | 0x08 | 0x10);	/* write creat trunc */
	expect(&p, SFTP_JUDGE, "cat > '/tmp/x'");
	open_req(&p, 1, "/tmp/x", 0x02 | 0x04);		/* write append */
	expect(&p, SFTP_JUDGE, "cat >> '/tmp/x'");
	open_req(&p, 1, "/tmp/x", 0x10);		/* trunc alone writes */
	expect(&p, SFTP_JUDGE, "cat > '/tmp/x'");
	open_req(&p, 1, "/tmp/x", 0x01 | 0x02);
	expect(&p, SFTP_JUDGE, "cat '/tmp/x'; cat >> '/tmp/x'");
	open_req(&p, 1, "/tmp/it's $(here)", 0x01);
	expect(&p, SFTP_JUDGE, "cat '/tmp/it'\\''s $(here)'");
	begin(&p, SSH_FXP_OPENDIR, 2);
	cstr(&p, "/var/log");
	expect(&p, SFTP_JUDGE, "ls '/var/log'");
}

static void
test_changes_judged_as_commands(void **state)
{
	struct pk p;

	(void)state;
	begin(&p, SSH_FXP_REMOVE, 3);
	cstr(&p, "/etc/passwd");
	expect(&p, SFTP_JUDGE, "rm '/etc/passwd'");
	begin(&p, SSH_FXP_RMDIR, 3);
	cstr(&p, "/srv/d");
	expect(&p, SFTP_JUDGE, "rmdir '/srv/d'");
	begin(&p, SSH_FXP_MKDIR, 3);
	cstr(&p, "/srv/new");
	u32(&p, SSH_FILEXFER_ATTR_PERMISSIONS);
	u32(&p, 041777);
	expect(&p, SFTP_JUDGE, "mkdir -m 1777 '/srv/new'");
	begin(&p, SSH_FXP_RENAME, 3);
	cstr(&p, "/a");
	cstr(&p, "/b");
	expect(&p, SFTP_JUDGE, "mv '/a' '/b'");
	begin(&p, SSH_FXP_SYMLINK, 3);
	cstr(&p, "/etc/shadow");	/* OpenSSH: the target first */
	cstr(&p, "/tmp/l");
	expect(&p, SFTP_JUDGE, "ln -s '/etc/shadow' '/tmp/l'");
	begin(&p, SSH_FXP_SETSTAT, 3);
	cstr(&p, "/bin/x");
	u32(&p, SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
	    SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME);
	u64(&p, 10);
	u32(&p, 0);
	u32(&p, 0);
	u32(&p, 04755);
	u32(&p, 1);
	u32(&p, 2);
	expect(&p, SFTP_JUDGE, "truncate -s 10 '/bin/x'; chown 0:0 '/bin/x'; "
	    "chmod 4755 '/bin/x'; touch -d @2 '/bin/x'");
	begin(&p, SSH_FXP_SETSTAT, 3);
	cstr(&p, "/bin/x");
	u32(&p, 0);
	expect(&p, SFTP_PASS, NULL);	/* changes nothing */
	begin(&p, SSH_FXP_EXTENDED, 4);
	cstr(&p, "posix-rename@openssh.com");
	cstr(&p, "/a");
	cstr(&p, "/b");
	expect(&p, SFTP_JUDGE, "mv '/a' '/b'");
	begin(&p, SSH_FXP_EXTENDED, 4);
	cstr(&p, "hardlink@openssh.com");
	cstr(&p, "/a");
	cstr(&p, "/b");
	expect(&p, SFTP_JUDGE, "ln '/a' '/b'");
}

static void
test_metadata_passes(void **state)
{
	struct pk p;
	uint8_t init[] = { 0, 0, 0, 5, SSH_FXP_INIT, 0, 0, 0, 3 };
	struct sftp_req r;

	(void)state;
	sftp_req_parse(init, sizeof(init), &r);
	assert_int_equal(r.verdict, SFTP_PASS);
	sftp_req_free(&r);
	begin(&p, SSH_FXP_REALPATH, 1);
	cstr(&p, ".");
	expect(&p, SFTP_PASS, NULL);
	begin(&p, SSH_FXP_STAT, 1);
	cstr(&p, "/etc");
	expect(&p, SFTP_PASS, NULL);
	begin(&p, SSH_FXP_EXTENDED, 1);
	cstr(&p, "limits@openssh.com");
	expect(&p, SFTP_PASS, NULL);
}

static void
test_refusals(void **state)
{
	struct pk p;
	struct sftp_req r;

	(void)state;
	begin(&p, SSH_FXP_REMOVE, 9);
	str(&p, "/etc/x\0y", 8);
	parse(&p, &r);
	assert_int_equal(r.verdict, SFTP_REFUSE);
	assert_int_equal(r.status, SSH_FX_BAD_MESSAGE);
	assert_int_equal(r.id, 9);
	assert_string_equal(r.why, "a path with a NUL byte");
	sftp_req_free(&r);

	begin(&p, SSH_FXP_REMOVE, 9);
	u32(&p, 100);	/* a string longer than the packet */
	parse(&p, &r);
	assert_int_equal(r.verdict, SFTP_REFUSE);
	assert_int_equal(r.status, SSH_FX_BAD_MESSAGE);
	sftp_req_free(&r);

	begin(&p, 99, 9);
	expect(&p, SFTP_REFUSE, NULL);
	begin(&p, SSH_FXP_EXTENDED, 9);
	cstr(&p, "evil@example.com");
	parse(&p, &r);
	assert_int_equal(r.verdict, SFTP_REFUSE);
	assert_int_equal(r.status, SSH_FX_OP_UNSUPPORTED);
	sftp_req_free(&r);
	/* A reply type sent as a request. */
	begin(&p, SSH_FXP_STATUS, 9);
	expect(&p, SFTP_REFUSE, NULL);
}

/* Feeds reply bytes in pieces of `step`, as the target might. */
static void
feed(struct sftp_state *st, const uint8_t *b, size_t n, size_t step)
{
	size_t off = 0, k, used;

	while (off < n) {
		k = n - off < step ? n - off : step;
		while (k > 0) {
			used = sftp_reply(st, b + off, k);
			assert_true(used > 0);
			off += used;
			k -= used;
		}
	}
	assert_true(sftp_at_boundary(st));
}

/* Judged and relayed an open; the target answers with handle h. */
static void
opened(struct sftp_state *st, uint32_t id, const char *path, uint32_t pflags,
    const char *h, size_t step)
{
	struct pk p, rp;
	struct sftp_req r;

	open_req(&p, id, path, pflags);
	parse(&p, &r);
	sftp_check(st, &r);
	assert_int_equal(r.verdict, SFTP_JUDGE);
	sftp_forwarded(st, &r);
	sftp_req_free(&r);
	begin(&rp, SSH_FXP_HANDLE, id);
	cstr(&rp, h);
	end(&rp);
	feed(st, rp.b, rp.n, step);
}

/* r points into the packet: it stays valid until the next use(). */
static enum sftp_verdict
use(struct sftp_state *st, uint8_t type, const char *h, struct sftp_req *r)
{
	static struct pk p;

	begin(&p, type, 50);
	cstr(&p, h);
	if (type == SSH_FXP_READ) {
		u64(&p, 0);
		u32(&p, 10);
	} else if (type == SSH_FXP_WRITE) {
		u64(&p, 0);
		cstr(&p, "data");
	}
	parse(&p, r);
	sftp_check(st, r);
	return r->verdict;
}

static void
test_handles(void **state)
{
	struct sftp_state *st = sftp_state_new();
	struct sftp_req r;
	struct pk p, rp;
	size_t steps[] = { 1, 3, 4096 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		char h[8];

		snprintf(h, sizeof(h), "r%zu", i);
		opened(st, 10 + (uint32_t)i, "/etc/hosts", 0x01, h, steps[i]);
		assert_int_equal(use(st, SSH_FXP_READ, h, &r), SFTP_PASS);
		sftp_req_free(&r);
		assert_int_equal(use(st, SSH_FXP_WRITE, h, &r), SFTP_REFUSE);
		assert_int_equal(r.status, SSH_FX_PERMISSION_DENIED);
		sftp_req_free(&r);
	}
	/* Unknown handles are refused. */
	assert_int_equal(use(st, SSH_FXP_READ, "forged", &r), SFTP_REFUSE);
	assert_int_equal(r.status, SSH_FX_FAILURE);
	sftp_req_free(&r);
	/* After CLOSE, the handle is gone. */
	assert_int_equal(use(st, SSH_FXP_CLOSE, "r0", &r), SFTP_PASS);
	sftp_forwarded(st, &r);
	sftp_req_free(&r);
	assert_int_equal(use(st, SSH_FXP_READ, "r0", &r), SFTP_REFUSE);
	sftp_req_free(&r);

	/* A write handle: size is part of the write, a mode is not. */
	opened(st, 20, "/tmp/up", 0x02 | 0x08, "w", 7);
	assert_int_equal(use(st, SSH_FXP_WRITE, "w", &r), SFTP_PASS);
	sftp_req_free(&r);
	begin(&p, SSH_FXP_FSETSTAT, 21);
	cstr(&p, "w");
	u32(&p, SSH_FILEXFER_ATTR_SIZE);
	u64(&p, 5);
	parse(&p, &r);
	sftp_check(st, &r);
	assert_int_equal(r.verdict, SFTP_PASS);
	sftp_req_free(&r);
	begin(&p, SSH_FXP_FSETSTAT, 22);
	cstr(&p, "w");
	u32(&p, SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_PERMISSIONS);
	u64(&p, 5);
	u32(&p, 0100600);
	parse(&p, &r);
	sftp_check(st, &r);
	assert_int_equal(r.verdict, SFTP_JUDGE);
	assert_string_equal(r.text, "chmod 0600 '/tmp/up'");
	sftp_req_free(&r);
	/* ... but on a read handle, a size is a truncation of its own. */
	begin(&p, SSH_FXP_FSETSTAT, 23);
	cstr(&p, "r1");
	u32(&p, SSH_FILEXFER_ATTR_SIZE);
	u64(&p, 0);
	parse(&p, &r);
	sftp_check(st, &r);
	assert_int_equal(r.verdict, SFTP_JUDGE);
	assert_string_equal(r.text, "truncate -s 0 '/etc/hosts'");
	sftp_req_free(&r);

	/* A failed open (STATUS) leaves no handle behind. */
	open_req(&p, 30, "/nope", 0x01);
	parse(&p, &r);
	sftp_check(st, &r);
	sftp_forwarded(st, &r);
	sftp_req_free(&r);
	begin(&rp, SSH_FXP_STATUS, 30);
	u32(&rp, 2);
	cstr(&rp, "no such file");
	cstr(&rp, "");
	end(&rp);
	feed(st, rp.b, rp.n, 5);
	/* A handle reply to an id never judged is ignored. */
	begin(&rp, SSH_FXP_HANDLE, 31);
	cstr(&rp, "sneaky");
	end(&rp);
	feed(st, rp.b, rp.n, 100);
	assert_int_equal(use(st, SSH_FXP_READ, "sneaky", &r), SFTP_REFUSE);
	sftp_req_free(&r);
	sftp_state_free(st);
}

static void
test_reply_boundaries(void **state)
{
	struct sftp_state *st = sftp_state_new();
	uint8_t big[4 + 1 + 4 + 4 + 3000];
	uint8_t bad[4] = { 0, 0, 0, 0 };
	size_t used;

	(void)state;
	memset(big, 'x', sizeof(big));
	big[0] = 0;
	big[1] = 0;
	big[2] = (uint8_t)((sizeof(big) - 4) >> 8);
	big[3] = (uint8_t)(sizeof(big) - 4);
	big[4] = SSH_FXP_DATA;
	/* Two packets back to back: consumed one at a time. */
	used = sftp_reply(st, big, 100);
	assert_int_equal(used, 100);
	assert_false(sftp_at_boundary(st));
	used = sftp_reply(st, big + 100, sizeof(big) - 100);
	assert_int_equal(used, sizeof(big) - 100);
	assert_true(sftp_at_boundary(st));
	assert_false(sftp_broken(st));
	/* A zero length is not SFTP. */
	used = sftp_reply(st, bad, sizeof(bad));
	assert_int_equal(used, 0);
	assert_true(sftp_broken(st));
	assert_false(sftp_at_boundary(st));
	sftp_state_free(st);
}

static void
test_status(void **state)
{
	uint8_t out[600], small[10];
	char longmsg[700];
	size_t n, plen;

	(void)state;
	n = sftp_status(out, sizeof(out), 77, SSH_FX_PERMISSION_DENIED,
	    "denied by policy: rule \"no-rm\"");
	assert_int_equal(sftp_frame(out, n, &plen), SFTP_FRAME_OK);
	assert_int_equal(plen, n);
	assert_int_equal(out[4], SSH_FXP_STATUS);
	assert_memory_equal(out + 5, "\0\0\0\x4d\0\0\0\x03", 8);
	assert_memory_equal(out + 17, "denied by policy", 16);
	assert_memory_equal(out + n - 2, "en", 2);
	assert_int_equal(sftp_status(small, sizeof(small), 1, 3, "x"), 0);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	n = sftp_status(out, sizeof(out), 1, 3, longmsg);
	assert_int_equal(n, 4 + 1 + 4 + 4 + 4 + 512 + 4 + 2);
}

static void
test_quote(void **state)
{
	char *q;

	(void)state;
	q = shell_quote("");
	assert_string_equal(q, "''");
	free(q);
	q = shell_quote("a'b'");
	assert_string_equal(q, "'a'\\''b'\\'''");
	free(q);
}

/* ---- tools/sftp-files.c: files read back from a recording ---- */

struct got {
	uint8_t	 content[2][64];
	size_t	 pieces;
};

static void
got_piece(void *arg, size_t idx, uint64_t offset, const uint8_t *d,
    size_t len)
{
	struct got *g = arg;

	assert_true(idx < 2 && offset + len <= sizeof(g->content[0]));
	memcpy(g->content[idx] + offset, d, len);
	g->pieces++;
}

/* Feeds p in pieces of step bytes. */
static void
sf_in(struct sf_reader *r, enum sf_dir dir, struct pk *p, size_t step)
{
	size_t off, k;

	end(p);
	for (off = 0; off < p->n; off += k) {
		k = p->n - off < step ? p->n - off : step;
		sf_feed(r, dir, p->b + off, k);
	}
}

static void
transcript(struct sf_reader *r, size_t step, int out_of_order)
{
	struct pk p;

	/* upload: open for writing, handle "w", two writes, close */
	open_req(&p, 1, "/tmp/up", 0x02 | 0x08 | 0x10);
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_HANDLE, 1);
	cstr(&p, "w");
	sf_in(r, SF_REPLY, &p, step);
	begin(&p, SSH_FXP_WRITE, 2);
	cstr(&p, "w");
	u64(&p, out_of_order ? 5 : 0);
	cstr(&p, out_of_order ? "world" : "hello");
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_WRITE, 3);
	cstr(&p, "w");
	u64(&p, out_of_order ? 0 : 5);
	cstr(&p, out_of_order ? "hello" : "world");
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_CLOSE, 4);
	cstr(&p, "w");
	sf_in(r, SF_REQUEST, &p, step);
	/* a write to the closed handle is nobody's */
	begin(&p, SSH_FXP_WRITE, 5);
	cstr(&p, "w");
	u64(&p, 0);
	cstr(&p, "XXXXX");
	sf_in(r, SF_REQUEST, &p, step);
	/* download: open, handle "r", read 3 bytes at 2, DATA "cde" */
	open_req(&p, 6, "/etc/x", 0x01);
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_HANDLE, 6);
	cstr(&p, "r");
	sf_in(r, SF_REPLY, &p, step);
	begin(&p, SSH_FXP_READ, 7);
	cstr(&p, "r");
	u64(&p, 0);
	u32(&p, 3);
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_DATA, 7);
	cstr(&p, "abc");
	sf_in(r, SF_REPLY, &p, step);
	/* a failed open gives no file */
	open_req(&p, 8, "/nope", 0x01);
	sf_in(r, SF_REQUEST, &p, step);
	begin(&p, SSH_FXP_STATUS, 8);
	u32(&p, 2);
	cstr(&p, "no such file");
	cstr(&p, "");
	sf_in(r, SF_REPLY, &p, step);
}

static void
test_files_from_recording(void **state)
{
	size_t steps[] = { 1, 7, 4096 }, i, n;
	const struct sf_file *f;
	struct sf_reader *r;
	struct got g;
	int broken;

	(void)state;
	for (i = 0; i < 3; i++) {
		memset(&g, 0, sizeof(g));
		r = sf_new(got_piece, &g);
		transcript(r, steps[i], 0);
		f = sf_files(r, &n, &broken);
		assert_int_equal(n, 2);
		assert_false(broken);
		assert_string_equal(f[0].path, "/tmp/up");
		assert_true(f[0].upload);
		assert_int_equal(f[0].bytes, 10);
		/* sha256("helloworld") */
		assert_string_equal(f[0].sha256, "936a185caaa266bb9cbe981e9e05cb"
		    "78cd732b0b3280eb944412bb6f8f8f07af");
		assert_memory_equal(g.content[0], "helloworld", 10);
		assert_string_equal(f[1].path, "/etc/x");
		assert_false(f[1].upload);
		assert_int_equal(f[1].bytes, 3);
		assert_memory_equal(g.content[1], "abc", 3);
		assert_int_equal(g.pieces, 3);
		sf_free(r);
	}
	/* Out of order: the content is right, the hash is not claimed. */
	memset(&g, 0, sizeof(g));
	r = sf_new(got_piece, &g);
	transcript(r, 3, 1);
	f = sf_files(r, &n, &broken);
	assert_int_equal(f[0].bytes, 10);
	assert_int_equal(f[0].size, 10);
	assert_string_equal(f[0].sha256, "");
	assert_memory_equal(g.content[0], "helloworld", 10);
	/* Garbage after it: that direction is broken, the rest stays. */
	sf_feed(r, SF_REQUEST, (const uint8_t *)"\0\0\0\0", 4);
	f = sf_files(r, &n, &broken);
	assert_true(broken);
	assert_int_equal(n, 2);
	sf_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_opens_judged_as_commands),
		cmocka_unit_test(test_changes_judged_as_commands),
		cmocka_unit_test(test_metadata_passes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_handles),
		cmocka_unit_test(test_reply_boundaries),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_files_from_recording),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
