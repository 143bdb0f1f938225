/*
 * fuzz_script.c: libFuzzer harness for what judges shells line by line:
 * policy/script.c (the script splitter, the shell-exec test, hooks) and
 * session/linetrack.c (the keystroke tracker, the mark scanner).  Any
 * byte string is valid input; checked: the splitter always makes progress
 * and cuts inside the input, the tracker never forwards ^_ nor more than
 * it consumed, and the scanner consumes everything.
 *
 *   make fuzz   (builds build-fuzz/fuzz_script and runs it)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cmdparse.h"
#include "policy/script.h"
#include "session/linetrack.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct lt_input t;
	struct lt_marks m;
	struct pc_result *r;
	enum script_next sn;
	enum lt_event ev;
	uint8_t *fwd;
	size_t pos = 0, n, used, nf, i;
	char *s;
	int en, eof;

	/* The splitter, with and without eof. */
	for (eof = 0; eof <= 1; eof++) {
		pos = 0;
		while (pos < size) {
			sn = script_next(text + pos, size - pos, eof, &n);
			if (sn != SCRIPT_COMMAND)
				break;
			if (n == 0 || n > size - pos)
				abort();
			r = pc_parse(text + pos, n);
			(void)script_line_shellish(r);
			(void)script_mark_hooks(r, text + pos, n);
			(void)script_empty(r);
			pc_result_free(r);
			pos += n;
		}
		if (eof && sn == SCRIPT_MORE && pos < size)
			abort();	/* at eof the rest is always a command */
	}

	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	(void)script_shell_exec(s);
	free(s);

	/* The tracker. */
	fwd = malloc(size + 1);
	lt_init(&t);
	pos = 0;
	while (pos < size) {
		used = lt_feed(&t, data + pos, size - pos, fwd, &nf, &en);
		if (used == 0 || used > size - pos || nf > used)
			abort();
		for (i = 0; i < nf; i++)
			if (fwd[i] == LT_BASTION_BYTE)
				abort();
		if (t.len > LT_MAX_LINE)
			abort();
		pos += used;
		if (en)
			lt_reset(&t);
	}
	lt_free(&t);
	free(fwd);

	/* The mark scanner. */
	lt_marks_init(&m, "0123456789abcdef");
	pos = 0;
	while (pos < size) {
		used = lt_marks_feed(&m, data + pos, size - pos, &ev);
		if (used == 0 || used > size - pos)
			abort();
		if (ev == LT_EV_REPORT && (m.line == NULL ||
		    strlen(m.chal) != LT_CHAL_LEN))
			abort();
		pos += used;
	}
	lt_marks_free(&m);
	return 0;
}
