/*
 * monitor_wrap.h: the session worker's side of the monitor protocol.
 *
 * The worker asks, the monitor decides (OpenSSH monitor_wrap.c).  Every
 * privileged thing (which identity a key belongs to, the socket to the
 * target, the keys, recording) is a request here.  One monitor connection
 * per worker process, so the state is module-static.  If the monitor goes
 * away, every call fails and the worker must end the session (fail closed).
 */
#ifndef BST_MONITOR_WRAP_H
#define BST_MONITOR_WRAP_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

struct mm_init {
	uint64_t	 sid;
	char		*host_key;		/* OpenSSH private key text; zero and free when loaded */
	uint32_t	 keepalive_interval;
	uint32_t	 keepalive_max;
	uint32_t	 login_grace_time;
	uint32_t	 max_auth_tries;
	char		*client;		/* "addr:port" */
	char		*env_allow;		/* space separated names forwarded besides LANG, LC_* */
	uint8_t		 sandbox_off;		/* null sandbox (tests only) */
	uint32_t	 sandbox_uid;
	uint32_t	 sandbox_gid;
	char		*sandbox_chroot;
};

struct mm_target {
	int	 fd;		/* connected socket to the target, or -1 when refused */
	char	*target;
	char	*user;
	char	*host_key_type;
	char	*host_key_b64;
	char	*key;		/* upstream private key text; zero and free when loaded */
	char	*where;		/* "host:port" */
	int	 exit_code;	/* when refused */
	char	*reason;	/* when refused: end reason word */
	char	*message;	/* when refused: text for the agent */
};

/* Takes the monitor socket and waits for MON_INIT.  0 or an error. */
int mm_open(int fd, struct mm_init *init);
void mm_init_free(struct mm_init *init);
int mm_fd(void);

/* Blocking requests. */
int mm_auth_pubkey(const char *login, const char *type, const char *b64,
    int is_signed, int *accepted, char **identity, char **message);
int mm_connect(struct mm_target *t);
void mm_target_free(struct mm_target *t);
int mm_upstream(int ok, const char *reason, const char *message);
/* Sends W_END and waits until it has been written. */
int mm_end(const char *reason, const char *detail);

/*
 * Recording.  Queue an event and return its sequence number (0 on
 * failure: the monitor is gone).  Data longer than IPC_MAX_DATA is split
 * into several messages; the last one's seq is returned.
 */
uint64_t mm_data(uint32_t channel, int stream, const void *p, size_t len);
uint64_t mm_meta(uint32_t channel, const char *kind, struct json_object *detail);

/*
 * Nonblocking service from the loop: flushes queued events and reads
 * ACKs/SHUTDOWN.  Returns 0, or an error once the monitor is gone or
 * misbehaves.  *shutdown is set (and stays set) if the monitor asked the
 * session to end.  readable: poll() said the monitor socket has input
 * (otherwise only queued events are flushed: no read syscall per loop
 * turn).
 */
int mm_service(int *shutdown, int readable);
/*
 * Once the monitor asked the session to end (MON_SHUTDOWN): the end
 * reason for W_END, the exit status and the line each open channel gets.
 */
const char *mm_shutdown_reason(void);
int mm_shutdown_code(void);
const char *mm_shutdown_message(void);
/*
 * Asks the monitor whether channel may run kind ("exec"/"shell") with
 * command.  Asynchronous: the answer (MON_DECISION) and, for a held
 * request, the later outcome (MON_VERDICT) are delivered to the verdict
 * handler from mm_service().  wait=0: the agent will not wait.
 */
int mm_decide(uint32_t channel, const char *kind, const char *command,
    int wait);
struct mm_verdict {
	int		 final;		/* 0: MON_DECISION, 1: MON_VERDICT */
	uint32_t	 channel;
	int		 verdict;	/* enum proto_verdict */
	int		 exit_status;
	uint64_t	 request;
	const char	*message;
};
typedef void (*mm_verdict_fn)(void *arg, const struct mm_verdict *v);
void mm_set_verdict_handler(mm_verdict_fn fn, void *arg);

/* Highest sequence number the monitor has committed. */
uint64_t mm_acked(void);
/* Bytes queued towards the monitor. */
size_t mm_queued(void);
/* 1 while the worker must stop reading from peers because the monitor lags. */
int mm_congested(void);

#endif
