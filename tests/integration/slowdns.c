/*
 * slowdns.c: a test stand-in for a slow DNS server, loaded with
 * LD_PRELOAD into a bastion under test.  getaddrinfo() of a name that
 * starts with "slow-" waits SLOWDNS_SECONDS (default 5), then resolves
 * the rest of the name ("slow-127.0.0.1" -> 127.0.0.1).  Numeric-only
 * lookups (AI_NUMERICHOST) and every other name go straight through.
 * Only the integration tests build and load it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
    struct addrinfo **);

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static gai_fn real;
	const char *e;

	if (real == NULL)
		real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	if (node != NULL && strncmp(node, "slow-", 5) == 0 &&
	    (hints == NULL || !(hints->ai_flags & AI_NUMERICHOST))) {
		e = getenv("SLOWDNS_SECONDS");
		sleep(e != NULL ? (unsigned)atoi(e) : 5);
		node += 5;
	}
	return real(node, service, hints, res);
}
