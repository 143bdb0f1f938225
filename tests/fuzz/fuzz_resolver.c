/*
 * fuzz_resolver.c: libFuzzer harness for the monitor's parser of the
 * resolver's answers (bastion/resolver.c: resolver_parse): arbitrary
 * bytes either parse into at most RESOLVER_MAX_ADDRS IPv4/IPv6
 * addresses with consistent lengths, or are refused.
 *
 *   make fuzz && ./build-fuzz/fuzz_resolver -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>

#include "bastion/resolver.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolved r;
	size_t i;

	if (resolver_parse(data, size, &r) != 0)
		return 0;
	if (r.n > RESOLVER_MAX_ADDRS || (r.gai_err != 0) != (r.n == 0))
		abort();
	for (i = 0; i < r.n; i++) {
		if (r.addr[i].ss_family == AF_INET &&
		    r.len[i] == sizeof(struct sockaddr_in))
			continue;
		if (r.addr[i].ss_family == AF_INET6 &&
		    r.len[i] == sizeof(struct sockaddr_in6))
			continue;
		abort();
	}
	return 0;
}
