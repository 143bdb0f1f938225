/*
 * sftpgate.h: the sftp subsystem judged request by request (LM_SFTP;
 * docs/ARCHITECTURE.md, "File transfers").
 *
 * The agent's input is held and cut into SFTP requests (session/sftp.h).
 * Metadata lookups and the reads and writes of handles already judged go
 * through; opening a file or folder and every change are asked of the
 * monitor as the shell command that would do the same, and go through
 * only once allowed; refused requests are answered by the bastion with
 * an SFTP STATUS reply (and a "bastion: ..." line on stderr), inserted
 * between two of the target's replies.
 *
 * Trusts: the monitor's verdicts.  Does not trust: the agent's requests,
 * the target's replies.
 */
#ifndef BST_SFTPGATE_H
#define BST_SFTPGATE_H

#include <stddef.h>
#include <stdint.h>

struct chan;

/* Makes c an sftp channel (the subsystem was asked for). */
void sftp_gate_start(struct chan *c);
/* Frees what sftp_gate_start() set up. */
void sftp_gate_free(struct chan *c);
/*
 * The target's stdout for c: appends to c->out what fits, following the
 * replies and inserting the bastion's own at packet boundaries.  Returns
 * the bytes of p appended.
 */
size_t sftp_gate_out(struct chan *c, const uint8_t *p, size_t n);
/* One step of an LM_SFTP channel; sets *progress. */
void sftp_step(struct chan *c, int *progress);

#endif
