# Bastion: plain GNU Make, explicit object lists per binary.
#
#   make          build build/bastion, build/bastion-session, build/bastionctl
#   make deps     install the Debian packages needed to build and test
#   make test     deps + build + unit + integration tests
#   make asan     the same tests against an ASan+UBSan build (build-asan/)
#   make demo     deps + build + start a demo target sshd and bastion
#   make bench    throughput/latency benchmark against OpenSSH (bench/)
#   make slack-bench  approval latency through a fake Slack (bench/)
#   make install  binaries, docs and a systemd unit under PREFIX (/usr/local)

CC       ?= cc
BUILD    ?= build
PKGS      = libssh json-c sqlite3 libcrypto
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wpointer-arith \
            -Wno-unused-parameter -fno-strict-aliasing -I. $(EXTRA_CFLAGS)
ifeq ($(CI),true)
CFLAGS   += -Werror
endif
LDFLAGS  += $(EXTRA_LDFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Only the monitor speaks HTTP (approval channels): only it links these.
HTTP_PKGS  = libcurl libmicrohttpd
HTTP_LIBS  = $(shell pkg-config --libs $(HTTP_PKGS) 2>/dev/null)

# Shared by every binary: no SQLite, no config.
COMMON_OBJS = common/err.o common/log.o common/util.o common/ipc.o common/strv.o \
              common/proctitle.o

# The recording store (SQLite): opening and writing, the schema and its
# SQL, chain verification, reading, approval request rows.
RECORDER_OBJS = recorder/recorder.o recorder/schema.o recorder/verify.o \
               recorder/read.o recorder/requests.o recorder/checkpoint.o

# The monitor: config, recorder, policy, the privileged side of the IPC.
BASTION_OBJS = bastion/main.o bastion/monitor.o bastion/connect.o bastion/resolver.o \
               bastion/control.o bastion/worker_log.o bastion/kmsg.o bastion/running_policy.o \
               bastion/access.o bastion/cfg_gen.o \
               common/config.o common/jcheck.o \
               common/sealkey.o \
               $(RECORDER_OBJS) approval/broker.o \
               policy/policy.o policy/cmdparse.o policy/script.o policy/scpcmd.o \
               $(CONFIG_CHANNELS_OBJS) \
               $(APPROVAL_CHANNEL_OBJS) $(COMMON_OBJS)

# The approval channels (issue 5): the HTTP listener, Slack/Teams/webhook
# notifications over libcurl multi, and the pure parts they share.
APPROVAL_CHANNEL_OBJS = approval/channels.o approval/http.o \
               approval/httpc.o approval/notify.o approval/render.o \
               approval/slackproto.o common/hmac.o
CONFIG_CHANNELS_OBJS = common/config-channels.o common/tlscert.o

# The per-connection worker: talks SSH to the network.  It links neither
# the config parser nor the recorder: everything privileged is a request
# to the monitor (session/monitor_wrap.c).
# It links the command analyser and the splitter (pure, fuzzed) to find
# where each line of a shell ends (issue 6); the monitor still decides.
SESSION_OBJS = session/main.o session/worker.o session/upstream.o session/lines.o session/relay.o \
               session/monitor_wrap.o session/sandbox.o session/linetrack.o \
               session/shellinit.o session/sftp.o session/sftpgate.o \
               session/scp.o session/scpgate.o \
               policy/script.o policy/cmdparse.o policy/scpcmd.o $(COMMON_OBJS)
SECCOMP_LIBS = $(shell pkg-config --libs libseccomp 2>/dev/null)

# The same worker with test hooks (sandbox probes, BASTION_TEST_HOOKS):
# only the integration tests run it; release builds have no hooks at all.
HOOK_OBJS = session/worker.o session/sandbox.o

# The operator/auditor CLI: reads the database, talks to the control socket.
CTL_OBJS = tools/bastionctl.o tools/ctl-sessions.o tools/ctl-show.o \
           tools/ctl-replay.o tools/ctl-export.o tools/asciicast.o tools/ctl-verify.o tools/ctl-status.o \
           tools/ctl-pending.o tools/ctl-approve.o tools/ctl-watch.o \
           tools/ctl-files.o tools/ctl-policies.o tools/sftp-files.o session/sftp.o session/scp.o \
           policy/cmdparse.o policy/scpcmd.o \
           common/config.o $(CONFIG_CHANNELS_OBJS) common/jcheck.o common/sealkey.o \
           $(RECORDER_OBJS) $(COMMON_OBJS)

UNIT_TESTS = config recorder ipc relay policy cmdparse approval sandbox script resolver sftp scp asciicast

# The command policy (pure library), its JSON diagnostics and the command
# analyser it reads.
POLICY_OBJS = policy/policy.o common/jcheck.o policy/cmdparse.o

BINS = $(BUILD)/bastion $(BUILD)/bastion-session $(BUILD)/bastionctl

all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/bastion: $(addprefix $(BUILD)/obj/,$(BASTION_OBJS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(HTTP_LIBS) $(SECCOMP_LIBS)

$(BUILD)/bastion-session: $(addprefix $(BUILD)/obj/,$(SESSION_OBJS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(SECCOMP_LIBS)

$(BUILD)/obj-hooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DBASTION_TEST_HOOKS $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/bastion-session-hooks: $(addprefix $(BUILD)/obj-hooks/,$(HOOK_OBJS)) $(addprefix $(BUILD)/obj/,$(filter-out $(HOOK_OBJS),$(SESSION_OBJS)))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(SECCOMP_LIBS)

# A slow DNS stand-in (LD_PRELOAD) for the resolver tests; never sanitized:
# it is preloaded into sanitized binaries too.
$(BUILD)/tests/slowdns.so: tests/integration/slowdns.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -shared -fPIC -o $@ $< -ldl

$(BUILD)/bastionctl: $(addprefix $(BUILD)/obj/,$(CTL_OBJS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(addprefix $(BUILD)/obj/,bastion/access.o common/config.o $(CONFIG_CHANNELS_OBJS) common/jcheck.o common/sealkey.o $(RECORDER_OBJS) session/relay.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_policy and test_cmdparse link only the policy library, the analyser
# (for the corpora in tests/data) and the common objects.
$(BUILD)/tests/unit/test_policy: tests/unit/test_policy.c $(addprefix $(BUILD)/obj/,$(POLICY_OBJS) $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

$(BUILD)/tests/unit/test_cmdparse: tests/unit/test_cmdparse.c $(addprefix $(BUILD)/obj/,policy/cmdparse.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_asciicast: the asciicast encoder of bastionctl export.
$(BUILD)/tests/unit/test_asciicast: tests/unit/test_asciicast.c $(addprefix $(BUILD)/obj/,tools/asciicast.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_script: the splitter, the shell classifications and the line tracker.
$(BUILD)/tests/unit/test_script: tests/unit/test_script.c $(addprefix $(BUILD)/obj/,policy/script.o policy/cmdparse.o session/linetrack.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_sftp: the SFTP requests judged and the replies followed, and the
# files read back from a recording.
$(BUILD)/tests/unit/test_sftp: tests/unit/test_sftp.c $(addprefix $(BUILD)/obj/,session/sftp.o session/scp.o tools/sftp-files.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_scp: the legacy scp sink recognised, its records followed, and
# the files of a recorded upload read back.
$(BUILD)/tests/unit/test_scp: tests/unit/test_scp.c $(addprefix $(BUILD)/obj/,session/scp.o session/sftp.o tools/sftp-files.o policy/scpcmd.o policy/cmdparse.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_sandbox: the worker sandbox, the kernel-log parser, worker stderr.
$(BUILD)/tests/unit/test_sandbox: tests/unit/test_sandbox.c $(addprefix $(BUILD)/obj/,session/sandbox.o bastion/kmsg.o bastion/worker_log.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(SECCOMP_LIBS) -lcmocka

# test_resolver: the resolver process and its answers' parser.
$(BUILD)/tests/unit/test_resolver: tests/unit/test_resolver.c $(addprefix $(BUILD)/obj/,bastion/resolver.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

# test_approval: the pure parts of the approval channels.
$(BUILD)/tests/unit/test_approval: tests/unit/test_approval.c $(addprefix $(BUILD)/obj/,approval/slackproto.o approval/render.o common/hmac.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lcmocka

$(BUILD)/bench/policy_bench: bench/policy_bench.c $(addprefix $(BUILD)/obj/,policy/policy.o common/jcheck.o $(COMMON_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

policy-bench: $(BUILD)/bench/policy_bench
	$(BUILD)/bench/policy_bench

# Approval latency through Slack (fake Slack on loopback): held -> posted,
# click -> command start.
slack-bench: all
	BASTION_BUILD=$(abspath $(BUILD)) /usr/bin/python3 bench/slack_bench.py

unit: $(addprefix $(BUILD)/tests/unit/test_,$(UNIT_TESTS))
	@set -e; for t in $^; do echo "== $$t"; REC_BENCH_MB=64 $$t; done

# libFuzzer harnesses (clang): one per parser of untrusted input.
FUZZ_CC = clang
# UBSan findings stop the run like ASan's (they only print by default)
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             -std=c11 -D_GNU_SOURCE -I.
fuzz: deps
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_ipc.c common/ipc.c common/err.c common/log.c common/util.c \
		-o build-fuzz/fuzz_ipc
	./build-fuzz/fuzz_ipc -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_cmdparse.c policy/cmdparse.c common/err.c common/log.c common/util.c \
		-o build-fuzz/fuzz_cmdparse
	./build-fuzz/fuzz_cmdparse -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=2048
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_script.c policy/script.c policy/cmdparse.c session/linetrack.c \
		common/err.c common/log.c common/util.c -o build-fuzz/fuzz_script
	./build-fuzz/fuzz_script -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=2048
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_slack.c approval/slackproto.c approval/render.c common/hmac.c \
		common/err.c common/log.c common/util.c -ljson-c -lcrypto \
		-o build-fuzz/fuzz_slack
	./build-fuzz/fuzz_slack -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_wlog.c bastion/worker_log.c -o build-fuzz/fuzz_wlog
	./build-fuzz/fuzz_wlog -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_asciicast.c tools/asciicast.c common/err.c common/log.c \
		common/util.c -ljson-c -o build-fuzz/fuzz_asciicast
	./build-fuzz/fuzz_asciicast -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_resolver.c bastion/resolver.c common/err.c common/log.c \
		common/util.c common/proctitle.c -o build-fuzz/fuzz_resolver
	./build-fuzz/fuzz_resolver -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_sftp.c session/sftp.c common/err.c common/log.c common/util.c \
		-o build-fuzz/fuzz_sftp
	mkdir -p build-fuzz/corpus_sftp && cp tests/fuzz/seeds/sftp/* build-fuzz/corpus_sftp/
	./build-fuzz/fuzz_sftp -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024 \
		build-fuzz/corpus_sftp
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_sftpfiles.c tools/sftp-files.c session/sftp.c session/scp.c common/err.c \
		common/log.c common/util.c -lcrypto -o build-fuzz/fuzz_sftpfiles
	mkdir -p build-fuzz/corpus_sftpfiles && cp tests/fuzz/seeds/sftp/* build-fuzz/corpus_sftpfiles/
	./build-fuzz/fuzz_sftpfiles -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024 \
		build-fuzz/corpus_sftpfiles
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		tests/fuzz/fuzz_scp.c session/scp.c policy/scpcmd.c policy/cmdparse.c \
		tools/sftp-files.c session/sftp.c common/err.c common/log.c common/util.c \
		-lcrypto -o build-fuzz/fuzz_scp
	mkdir -p build-fuzz/corpus_scp && cp tests/fuzz/seeds/scp/* build-fuzz/corpus_scp/
	./build-fuzz/fuzz_scp -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024 \
		build-fuzz/corpus_scp
	$(FUZZ_CC) $(FUZZ_FLAGS) \
		$(PKG_CFLAGS) tests/fuzz/fuzz_config.c common/config.c common/config-channels.c common/tlscert.c \
		common/jcheck.c common/strv.c common/sealkey.c policy/policy.c policy/cmdparse.c \
		common/err.c common/log.c common/util.c $(PKG_LIBS) -o build-fuzz/fuzz_config
	@# the seeds are copied: libFuzzer adds what it finds to its first corpus folder
	mkdir -p build-fuzz/corpus_config && cp tests/fuzz/seeds/config/* build-fuzz/corpus_config/
	./build-fuzz/fuzz_config -max_total_time=$${FUZZ_SECONDS:-30} -rss_limit_mb=1024 \
		-timeout=10 build-fuzz/corpus_config

DEB_PKGS = build-essential pkg-config libssh-dev libjson-c-dev libssl-dev \
           libsqlite3-dev sqlite3 libcurl4-openssl-dev libseccomp-dev \
           libmicrohttpd-dev libcmocka-dev openssh-server openssh-client \
           python3-pytest asciinema tmux clang openssl
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

integration: all $(BUILD)/tests/bastion-session-hooks $(BUILD)/tests/slowdns.so
	BASTION_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration $(PYTEST_ARGS)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: deps
	$(MAKE) BUILD=build-asan EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="-fsanitize=address,undefined" all unit build-asan/tests/bastion-session-hooks build-asan/tests/slowdns.so
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	BASTION_MAKE_ARGS="EXTRA_CFLAGS='$(ASAN_FLAGS)' EXTRA_LDFLAGS=-fsanitize=address,undefined" \
	BASTION_BUILD=$(abspath build-asan) /usr/bin/python3 -m pytest -q tests/integration $(PYTEST_ARGS)

# valgrind (memcheck) over the unit tests and the integration suite's
# monitors (BASTION_WRAPPER: the monitor and the helpers it forks run
# under valgrind; workers are exec'd, run natively, and are covered by
# `make asan`).  test_sandbox is left out: valgrind's own system calls
# break the seccomp filter it installs.  Any valgrind report fails.
VG = valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=97
VG_TESTS ?= tests/integration
valgrind: deps
	@command -v valgrind >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
	$(MAKE) all unit $(BUILD)/tests/bastion-session-hooks $(BUILD)/tests/slowdns.so
	@set -e; for t in $(filter-out %/test_sandbox,$(addprefix $(BUILD)/tests/unit/test_,$(UNIT_TESTS))); do \
		echo "== valgrind $$t"; REC_BENCH_MB=16 $(VG) $$t >/dev/null; done
	@# 1777: the helpers that drop to the sandbox user log here too
	@rm -rf $(BUILD)/valgrind && mkdir -p -m 1777 $(BUILD)/valgrind
	BASTION_WRAPPER="$(VG) --log-file=$(abspath $(BUILD))/valgrind/%p.log" \
	BASTION_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q $(VG_TESTS) $(PYTEST_ARGS)
	@bad=$$(find $(BUILD)/valgrind -name '*.log' -size +0); \
	if [ -n "$$bad" ]; then cat $$bad; echo "valgrind: reports in $$bad"; exit 1; fi; \
	echo "valgrind: no reports ($$(ls $(BUILD)/valgrind | wc -l) monitor processes)"

# make install [PREFIX=/usr/local] [DESTDIR=]: the monitor and its worker
# side by side in sbin (the monitor finds bastion-session beside itself),
# bastionctl in bin, the docs, and a systemd unit with these paths.
PREFIX  ?= /usr/local
SBINDIR  = $(PREFIX)/sbin
BINDIR   = $(PREFIX)/bin
DOCDIR   = $(PREFIX)/share/doc/bastion
UNITDIR  = $(PREFIX)/lib/systemd/system
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/bastion $(BUILD)/bastion-session $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/bastionctl $(DESTDIR)$(BINDIR)/
	install -m 0644 README.md docs/ARCHITECTURE.md docs/PROTOCOL.md docs/SECURITY.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' docs/bastion.service > $(DESTDIR)$(UNITDIR)/bastion.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/bastion.service

demo: deps
	$(MAKE) all
	./tests/demo.sh

demo-stop:
	./tests/demo.sh stop

bench: deps
	$(MAKE) all
	./bench/relay.sh

clean:
	rm -rf build build-asan build-fuzz

.PHONY: valgrind all deps unit integration test asan demo demo-stop bench policy-bench slack-bench fuzz clean install
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
