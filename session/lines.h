/*
 * lines.h: shells judged line by line (docs/ARCHITECTURE.md, "Shells").
 *
 * LM_SCRIPT: the agent's stdin to a shell without a pty is held, cut into
 * complete commands (policy/script.h) and each is sent to the target only
 * after the monitor allowed it.  LM_PTY: keystrokes go through, the Enter
 * is held, the line is judged (from the shell integration's report, or
 * from the keys) and then accepted, held for approval or cancelled.
 *
 * Trusts: the monitor's verdicts.  Does not trust: the agent's input, the
 * target's output (prompt marks and line reports must carry the
 * channel's random nonce and the question's challenge).
 */
#ifndef BST_LINES_H
#define BST_LINES_H

#include <stddef.h>
#include <stdint.h>

struct chan;

/* From the agent's data callback: keeps what fits, returns bytes taken. */
int hold_take(struct chan *c, const void *data, uint32_t len);
/* Pulls the agent's input libssh still holds, when it fits. */
void hold_pull(struct chan *c, int *progress);
/* Drops the first n bytes held. */
void hold_drop(struct chan *c, size_t n);
/* Appends (and records) bytes for the target; -1 if they do not fit yet. */
int in_append(struct chan *c, const void *p, size_t n);
/* The same, recorded with what follows (the loop records in batches). */
int in_queue(struct chan *c, const void *p, size_t n);
/*
 * An sftp or scp gate's step must stop: the target's answers are broken
 * (proto: "sftp", "scp"), or the agent left a held request.  Ends the
 * channel then, and returns 1.
 */
int gate_stopped(struct chan *c, int broken, const char *proto,
    int *progress);
/* Asks the monitor about text (kind: "line", "sftp", "scp", ...). */
void line_decide(struct chan *c, const char *kind, const char *text);
/* From the target's data callback: watches output for the marks. */
void out_observe(struct chan *c, const uint8_t *p, size_t n);
/* 1 if no line of c is being judged or waiting to be. */
int line_idle(const struct chan *c);
/* One step of a channel in LM_SCRIPT / LM_PTY; sets *progress. */
void script_step(struct chan *c, int *progress);
void pty_step(struct chan *c, int *progress);

#endif
