/*
 * chan.h: the state of one worker (one agent connection) and of its
 * channels, shared by session/worker.c (the SSH relay) and
 * session/lines.c (judging shell lines).  Private to the worker binary.
 *
 * Trusts: its users (both files of the same process).
 */
#ifndef BST_CHAN_H
#define BST_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "session/linetrack.h"
#include "session/monitor_wrap.h"
#include "session/relay.h"
#include "session/scp.h"
#include "session/sftp.h"

#define MAX_CHANNELS	64
#define HOLD_CAP	(256 * 1024)	/* agent input awaiting judgement */
#define HOLD_CAP_SFTP	(SFTP_MAX_PACKET + 4)	/* one whole sftp request */
#define INJECT_CAP	(64 * 1024)	/* the bastion's own sftp/scp replies */
#define FIRST_PROMPT_US	(8 * 1000000)	/* shell integration: first prompt */
#define QUERY_US	(5 * 1000000)	/* shell integration: line report */

enum up_state { UP_NONE, UP_READY, UP_FAILED, UP_LOST };

enum chan_state {
	CH_WAIT_UP,	/* upstream session not ready yet */
	CH_OPENING,	/* upstream channel open in progress */
	CH_OPEN,	/* upstream channel open */
	CH_FAILED,	/* answered by the bastion itself (error text + exit) */
	CH_DONE
};

enum req_type { RQ_PTY, RQ_ENV, RQ_EXEC, RQ_SHELL, RQ_SUBSYSTEM, RQ_WINCH,
    RQ_SIGNAL };

/* How the agent's input reaches a shell (docs/ARCHITECTURE.md). */
enum line_mode {
	LM_NONE,	/* relayed as it comes (exec of a command) */
	LM_SCRIPT,	/* stdin is a script: judged command by command */
	LM_PTY,		/* typed into a pty shell: judged at each Enter */
	LM_SFTP,	/* the sftp subsystem: judged request by request */
	LM_SCP,		/* scp -t (legacy scp upload): judged file by file */
};

/* LM_PTY: what the bastion believes is in the foreground. */
enum fg_state {
	FG_WAIT,	/* shell integration starting: input held */
	FG_PROMPT,	/* the integrated bash is at its prompt */
	FG_PROGRAM,	/* a program the policy let start reads the input */
	FG_SHELL,	/* maybe a shell without integration: judge each line */
};

/* LM_PTY: an Enter in progress. */
enum pend_state { P_NONE, P_QUERY, P_DECIDE };

struct req {
	enum req_type	 type;
	char		*a, *b;
	int		 x, y;
	struct req	*next;
};

struct worker;

struct chan {
	struct worker	*w;
	uint32_t	 id;
	ssh_channel	 down, up;
	struct ssh_channel_callbacks_struct down_cb, up_cb;
	enum chan_state	 state;
	struct req	*reqs, **reqs_tail;
	int		 kind_set;	/* exec/shell/subsystem requested */
	int		 started;	/* upstream accepted exec/shell */
	int		 pty;
	struct stream	 in, out, err;
	int		 down_eof, down_closed;
	int		 up_eof, up_closed;
	int		 eof_sent_up, eof_sent_down, closed_down, closed_up;
	int		 have_status, status;
	char		*exit_signal;
	int		 exit_core;
	int		 fail_exit;
	int		 discard_in;
	int		 up_opening;	/* open in progress when the channel failed */
	int		 deciding;	/* waiting for the monitor's decision */
	int		 no_wait;	/* BASTION_WAIT=0: do not wait for approvers */
	enum req_type	 start_type;	/* RQ_EXEC or RQ_SHELL once decided */
	char		*start_cmd;

	/* Shells judged line by line (LM_SCRIPT, LM_PTY). */
	enum line_mode	 lmode;
	uint8_t		*hold;		/* agent input not yet judged */
	size_t		 hold_cap;	/* its size: HOLD_CAP or HOLD_CAP_SFTP */
	size_t		 hold_len, hold_pending;	/* pending: libssh has it */
	int		 line_deciding;	/* a W_DECIDE for a line is out */
	int		 line_verdict;	/* its answer, -1 while none */
	int		 line_held;	/* ... and it is held for approvers */
	int		 line_exit;
	char		*line_msg;
	size_t		 line_len;	/* LM_SCRIPT: bytes of hold judged */
	int		 script_stop;	/* refused: nothing more is sent */
	int		 script_exit;	/* ... and the agent gets this status */
	size_t		 scanned;	/* hold_len when script_next said MORE */
	int		 scanned_eof;
	int		 integrated;	/* LM_PTY: shell integration requested */
	char		 nonce[LT_NONCE_LEN + 1];
	struct lt_input	 lt;
	struct lt_marks	 mk;
	enum fg_state	 fg;
	enum pend_state	 pend;
	int64_t		 deadline;
	char		 chal[LT_CHAL_LEN + 1];
	int		 ev_prompt;	/* prompt marks seen, not yet handled */
	int		 report_ready;	/* a line report for chal arrived */
	char		*report;
	size_t		 report_len;
	char		*judged;	/* LM_PTY: the line under decision */
	int		 judged_shellish;
	int		 judged_incomplete; /* FG_SHELL: a line the parser
					   thinks the shell continues */
	int		 judged_report;	/* it came from the shell's report */
	char		*acc;		/* FG_SHELL: incomplete lines so far */
	int		 typed_ahead;	/* input went to a program since the
					   last prompt: readline may hold it */
	int		 ahead_enter;	/* ... and the last of it was Enter */
	int		 auto_query;	/* the query was the bastion's own */

	/* LM_SFTP (session/sftpgate.c). */
	struct sftp_state *sftp;
	struct sftp_req	 sreq;		/* the request under decision */
	uint8_t		*inject;	/* replies to refused requests, */
	size_t		 inject_len;	/* waiting for a reply boundary */

	/* LM_SCP (session/scpgate.c); shares hold and inject. */
	struct scp_state *scp;
	struct scp_rec	 srec;		/* the record under decision */
};

struct worker {
	struct mm_init	*init;
	ssh_bind	 bind;
	ssh_session	 down, up;
	ssh_event	 event;
	struct ssh_server_callbacks_struct srv_cb;
	int		 authenticated;
	int		 ending;	/* past the loop: no new logins or channels */
	int		 muted;		/* disconnecting: requests unanswered */
	int		 auth_attempts;
	int		 auth_failures;
	int		 banner_sent;
	char		*login;
	char		*identity;
	enum up_state	 up_state;
	int		 up_exit;
	char		*up_reason;
	char		*up_message;
	char		*target;
	struct chan	*chans[MAX_CHANNELS];
	int		 nchans;
	uint32_t	 next_chan_id;
	int		 monitor_lost;
	int		 monitor_polled;	/* mm_fd() is in the event */
	int		 monitor_readable;	/* poll saw input from it */
	int64_t		 last_keepalive_us;
	struct ssh_counter_struct down_ctr, up_ctr;	/* packets received */
	struct ssh_counter_struct down_sock;	/* bytes on the agent's socket */
	struct peer_alive { uint64_t seen; int missed; } down_alive, up_alive;
	uint8_t		*scratch;
	char		**env_allow;
};


/* worker.c helpers that lines.c uses too. */
void jadd_str(json_object *o, const char *k, const char *v);
void jadd_int(json_object *o, const char *k, int v);
/* n random bytes as 2n hex digits in out (2n + 1 bytes). */
void random_hex(uint8_t *buf, size_t n, char *out);
/* Sends what was appended to s for recording (force: even if small). */
void stream_record(struct chan *c, struct stream *s, int kind, int force);
/* Records a channel event after the data before it. */
void chan_meta(struct chan *c, const char *kind, json_object *o);
/* The bastion answers the channel itself: a notice, then exit status code. */
void chan_fail(struct chan *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes one recorded "bastion: ..." line to the agent's stderr. */
void chan_notice(struct chan *c, const char *msg);

#endif
