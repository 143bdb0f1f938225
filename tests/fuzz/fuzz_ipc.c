/*
 * fuzz_ipc.c: libFuzzer harness for the monitor's view of worker input:
 * frame extraction (ipc_next) and field decoding (msg_get_*), with the
 * field layouts of every W_* message in common/proto.h.
 *
 *   make fuzz && ./build-fuzz/fuzz_ipc -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/ipc.h"
#include "common/proto.h"

static void
decode(struct ipc_msg *m)
{
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	char *s1 = NULL, *s2 = NULL, *s3 = NULL;
	const uint8_t *p;
	size_t len;

	switch (m->type) {
	case W_AUTH_PUBKEY:
		msg_get_str(m, &s1);
		msg_get_str(m, &s2);
		msg_get_str(m, &s3);
		msg_get_u8(m, &u8);
		break;
	case W_UPSTREAM:
		msg_get_u8(m, &u8);
		msg_get_str(m, &s1);
		msg_get_str(m, &s2);
		break;
	case W_DATA:
		msg_get_u64(m, &u64);
		msg_get_u32(m, &u32);
		msg_get_u8(m, &u8);
		msg_get_bytes(m, &p, &len);
		break;
	case W_META:
		msg_get_u64(m, &u64);
		msg_get_u32(m, &u32);
		msg_get_str(m, &s1);
		msg_get_str(m, &s2);
		break;
	case W_END:
		msg_get_str(m, &s1);
		msg_get_str(m, &s2);
		break;
	}
	(void)msg_done(m);
	free(s1);
	free(s2);
	free(s3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	struct ipc *ipc;
	int sp[2], r;

	if (size > 256 * 1024)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return 0;
	{
		int sz = 1024 * 1024;

		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (size > 0 && write(sp[0], data, size) != (ssize_t)size) {
		close(sp[0]);
		close(sp[1]);
		return 0;
	}
	close(sp[0]);
	ipc = ipc_new(sp[1]);
	for (;;) {
		r = ipc_next(ipc, &m);
		if (r == BST_ERR_AGAIN) {
			if (ipc_read(ipc) != 0)
				break;
			continue;
		}
		if (r != 0)
			break;
		decode(&m);
		msg_free(&m);
	}
	ipc_free(ipc);
	return 0;
}
