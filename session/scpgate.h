/*
 * scpgate.h: a legacy scp upload ("scp -t PATH", LM_SCP) judged file by
 * file (docs/ARCHITECTURE.md, "File transfers").
 *
 * The agent's input is held and cut into scp records (session/scp.h).
 * Each file or folder a record would create is asked of the monitor as
 * the shell command that does the same ("cat > '/p'", "mkdir -m 0755
 * '/d'"); its record reaches the target only once allowed.  A refused
 * record is answered by the bastion itself with scp's warning line
 * ("\1bastion: ..."), which makes the client skip that file or folder
 * and go on.  File contents and the other records go through once the
 * target has answered what came before (the protocol is lock-step).
 *
 * Trusts: the monitor's verdicts.  Does not trust: the agent's records,
 * the target's answers.
 */
#ifndef BST_SCPGATE_H
#define BST_SCPGATE_H

#include <stddef.h>
#include <stdint.h>

struct chan;
struct scp_sink;

/* Makes c an scp upload channel receiving into sink's PATH. */
void scp_gate_start(struct chan *c, const struct scp_sink *sink);
/* Frees what scp_gate_start() set up. */
void scp_gate_free(struct chan *c);
/* The target's stdout for c: appends what fits; returns the bytes taken. */
size_t scp_gate_out(struct chan *c, const uint8_t *p, size_t n);
/* One step of an LM_SCP channel; sets *progress. */
void scp_step(struct chan *c, int *progress);

#endif
