/*
 * ctl-files.c: "bastionctl files ID": the files a session moved over
 * sftp (and scp, which speaks sftp) and legacy scp uploads (scp -O), read
 * back from its recording by
 * tools/sftp-files.c: per file the channel, direction, path, bytes and
 * SHA-256; --extract DIR writes each file's recorded content into DIR.
 * Reads the database read-only.  Trusts nothing it reads: paths are
 * printed through ctl_safe(), and extracted files are named by channel,
 * number and a cleaned last path component, created new in DIR only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "policy/scpcmd.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"
#include "tools/sftp-files.h"

#define SAFE_MAX	4096

static const struct ctl_opt files_opts[] = {
	{ "--extract", 1 },
	{ NULL, 0 }
};

struct chan_files {
	int32_t		 channel;
	struct sf_reader *reader;
	int		*fds;		/* --extract: per file, -1 before */
	char		**names;	/* ... and the name it got */
	size_t		 nfds;
	struct files	*f;
};

struct files {
	struct ctl_xfer	 xfer;
	struct chan_files chans[CTL_XFER_MAX];	/* as xfer.chan[] */
	const char	*extract;	/* --extract DIR, or NULL */
	int		 err;		/* errno of a failed write */
	char		*err_what;
};

/* "3-1-app.conf": channel, file number, the path's last part, cleaned. */
static char *
extract_name(int32_t channel, size_t idx, const char *path)
{
	const char *base = strrchr(path, '/');
	char clean[64];
	size_t i, n = 0;

	base = base != NULL ? base + 1 : path;
	for (i = 0; base[i] != '\0' && n < sizeof(clean) - 1; i++) {
		unsigned char ch = (unsigned char)base[i];

		clean[n++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' &&
		    ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		    ch == '-' || ch == '_' ? (char)ch : '_';
	}
	clean[n] = '\0';
	if (n == 0 || strspn(clean, ".") == n)
		snprintf(clean, sizeof(clean), "file");
	return xasprintf("%d-%zu-%s", (int)channel, idx + 1, clean);
}

static void
piece_cb(void *arg, size_t idx, uint64_t offset, const uint8_t *data,
    size_t len)
{
	struct chan_files *cf = arg;
	struct files *f = cf->f;
	const struct sf_file *sf;
	size_t n, done = 0;
	ssize_t w;
	char *path;

	if (f->extract == NULL || f->err != 0)
		return;
	if (idx >= cf->nfds) {
		cf->fds = xrealloc(cf->fds, (idx + 1) * sizeof(*cf->fds));
		cf->names = xrealloc(cf->names, (idx + 1) * sizeof(*cf->names));
		for (; cf->nfds <= idx; cf->nfds++) {
			cf->fds[cf->nfds] = -1;
			cf->names[cf->nfds] = NULL;
		}
	}
	if (cf->fds[idx] < 0) {
		sf = sf_files(cf->reader, &n, NULL);
		cf->names[idx] = extract_name(cf->channel, idx, sf[idx].path);
		path = xasprintf("%s/%s", f->extract, cf->names[idx]);
		cf->fds[idx] = open(path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (cf->fds[idx] < 0) {
			f->err = errno;
			f->err_what = path;
			return;
		}
		free(path);
	}
	while (done < len) {
		w = pwrite(cf->fds[idx], data + done, len - done,
		    (off_t)(offset + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->err = w < 0 ? errno : EIO;
			f->err_what = xasprintf("%s/%s", f->extract,
			    cf->names[idx]);
			return;
		}
		done += (size_t)w;
	}
}

static int
files_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct files *f = arg;
	struct chan_files *cf;
	int i;

	(void)seq;
	(void)t_us;
	if (strcmp(kind, "request") == 0) {
		struct scp_sink sink;
		int x = ctl_xfer_note(&f->xfer, channel, data, len, &sink);

		if (x == CTL_XFER_NONE)
			return 0;
		cf = &f->chans[f->xfer.n - 1];
		cf->channel = channel;
		cf->f = f;
		if (x == CTL_XFER_SFTP)
			cf->reader = sf_new(piece_cb, cf);
		else {
			cf->reader = sf_new_scp(&sink, piece_cb, cf);
			scp_sink_free(&sink);
		}
		return 0;
	}
	if (strcmp(kind, "in") != 0 && strcmp(kind, "out") != 0)
		return 0;
	for (i = 0; i < f->xfer.n; i++)
		if (f->chans[i].channel == channel)
			break;
	if (i == f->xfer.n)
		return 0;
	sf_feed(f->chans[i].reader, strcmp(kind, "in") == 0 ? SF_REQUEST :
	    SF_REPLY, data, len);
	return f->err != 0;
}

static void
report(struct ctl_ctx *ctx, struct files *f)
{
	static const char *const heads[] = {
		"CH", "DIRECTION", ">BYTES", "SHA256", "PATH", "EXTRACTED"
	};
	struct ctl_table *t = ctx->json ? NULL : ctl_table_new(6, heads);
	json_object *arr = json_object_new_array(), *o;
	const struct sf_file *sf;
	char ch[16], bytes[32], safe[SAFE_MAX];
	const char *cells[6];
	size_t n, k;
	int i, broken;

	for (i = 0; i < f->xfer.n; i++) {
		struct chan_files *cf = &f->chans[i];

		sf = sf_files(cf->reader, &n, &broken);
		if (broken)
			fprintf(stderr, "bastionctl: channel %d: the recording "
			    "stops following the sftp or scp protocol; files "
			    "after that point are missing\n", (int)cf->channel);
		for (k = 0; k < n; k++) {
			const char *name = k < cf->nfds ? cf->names[k] : NULL;

			if (ctx->json) {
				o = json_object_new_object();
				json_object_object_add(o, "channel",
				    json_object_new_int(cf->channel));
				json_object_object_add(o, "direction",
				    json_object_new_string(sf[k].upload ?
				    "upload" : "download"));
				json_object_object_add(o, "path",
				    json_object_new_string(sf[k].path));
				json_object_object_add(o, "bytes",
				    json_object_new_int64((int64_t)sf[k].bytes));
				json_object_object_add(o, "size",
				    json_object_new_int64((int64_t)sf[k].size));
				json_object_object_add(o, "sha256",
				    sf[k].sha256[0] ? json_object_new_string(
				    sf[k].sha256) : NULL);
				json_object_object_add(o, "extracted", name ?
				    json_object_new_string(name) : NULL);
				json_object_array_add(arr, o);
				continue;
			}
			snprintf(ch, sizeof(ch), "%d", (int)cf->channel);
			ctl_fmt_bytes((int64_t)sf[k].bytes, bytes,
			    sizeof(bytes));
			cells[0] = ch;
			cells[1] = sf[k].upload ? "upload" : "download";
			cells[2] = bytes;
			cells[3] = sf[k].sha256[0] ? sf[k].sha256 :
			    "(pieces out of order)";
			cells[4] = ctl_safe(sf[k].path, safe, sizeof(safe));
			cells[5] = name;
			ctl_table_add(t, cells);
		}
	}
	if (ctx->json)
		ctl_print_json(arr);
	else {
		ctl_table_print(t);
		ctl_table_free(t);
	}
	json_object_put(arr);
}

static int
files_fn(struct ctl_ctx *ctx)
{
	struct files f;
	struct rec *rec;
	int64_t sid;
	int r, i;
	size_t k;

	if ((r = ctl_one_sid(ctx, &sid)) != 0)
		return r;
	memset(&f, 0, sizeof(f));
	f.extract = ctl_opt_value(ctx, "--extract");
	if (f.extract != NULL && access(f.extract, W_OK | X_OK) != 0)
		return ctl_error("--extract %s: %s", f.extract,
		    strerror(errno));
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	r = rec_foreach_event(rec, sid, files_cb, &f);
	for (i = 0; r == 0 && f.extract != NULL && i < f.xfer.n; i++) {
		/* Empty files have no pieces: created here. */
		size_t n;

		(void)sf_files(f.chans[i].reader, &n, NULL);
		for (k = 0; k < n && f.err == 0; k++)
			piece_cb(&f.chans[i], k, 0, (const uint8_t *)"", 0);
	}
	if (r == BST_ERR_NOTFOUND)
		r = ctl_error("no session %lld", (long long)sid);
	else if (f.err != 0)
		r = ctl_error("extracting into %s: %s", f.err_what,
		    strerror(f.err));
	else if (r != 0)
		r = ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
	else {
		report(ctx, &f);
		r = CTL_EXIT_OK;
	}
	for (i = 0; i < f.xfer.n; i++) {
		for (k = 0; k < f.chans[i].nfds; k++) {
			if (f.chans[i].fds[k] >= 0 &&
			    close(f.chans[i].fds[k]) != 0 && r == CTL_EXIT_OK)
				r = ctl_error("extracting %s: %s",
				    f.chans[i].names[k], strerror(errno));
			free(f.chans[i].names[k]);
		}
		free(f.chans[i].fds);
		free(f.chans[i].names);
		sf_free(f.chans[i].reader);
	}
	free(f.err_what);
	return r;
}

const struct ctl_cmd ctl_files_entry = {
	"files",
	"ID [--extract DIR]",
	"Lists the files the session moved over sftp (and scp, which speaks\n"
	"sftp) and uploaded with legacy scp (scp -O), read back from its\n"
	"recorded bytes: channel, upload or\n"
	"download, bytes, SHA-256 (when the pieces were recorded in order),\n"
	"path as the agent named it.\n"
	"\n"
	"  --extract DIR      write each file's recorded content into DIR, as\n"
	"                     new files named CHANNEL-N-NAME\n",
	files_opts,
	files_fn,
};
