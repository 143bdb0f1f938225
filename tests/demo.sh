#!/bin/bash
# Demo: a target sshd and the bastion on loopback, ready to try by hand.
#
#   tests/demo.sh          (re)start everything, run one smoke command, print
#                          what to try
#   tests/demo.sh stop     stop the bastion and the demo sshd
#   tests/demo.sh status   show whether they run
#
# Run from anywhere, as root, after `make` (make demo does both).  Everything
# lives in ./demo/ at the repository root: keys, configs, the database, logs
# and pid files.  Keys are reused if present.  The bastion listens on
# 127.0.0.1:2222; the demo target sshd on 127.0.0.1:2022 (or a free port if
# 2022 is taken by something else).  Creates the system user "deploy" if it
# does not exist, so that deploy@web1 works.
#
# Environment (the test of this script uses them; the defaults are the demo):
#   DEMO_DIR          the folder instead of ./demo
#   DEMO_PORT         the bastion's port instead of 2222
#   DEMO_TARGET_PORT  the target sshd's port instead of 2022
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
D=${DEMO_DIR:-$ROOT/demo}
BUILD=${BASTION_BUILD:-$ROOT/build}
BASTION_PORT=${DEMO_PORT:-2222}
TARGET_PORT=${DEMO_TARGET_PORT:-2022}
# how the printed commands name the folder
DN=demo
[ "$D" = "$ROOT/demo" ] || DN=$D

say()  { printf '%s\n' "$*"; }
die()  { printf 'demo: %s\n' "$*" >&2; exit 1; }

port_busy() {   # 0 if something accepts connections on 127.0.0.1:$1
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pid_of() {      # pid from a pid file, if that process is alive
	local f=$1 pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

stop_pidfile() {
	local f=$1 what=$2 pid i
	if pid=$(pid_of "$f"); then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "$what (pid $pid) did not stop on SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "stopped $what (pid $pid)"
	fi
	rm -f "$f"
}

do_stop() {
	stop_pidfile "$D/bastion.pid" "bastion"
	stop_pidfile "$D/target/sshd.pid" "demo target sshd"
}

do_status() {
	local pid rc=0
	if pid=$(pid_of "$D/bastion.pid"); then say "bastion running (pid $pid)"; else say "bastion not running"; rc=1; fi
	if pid=$(pid_of "$D/target/sshd.pid"); then say "demo target sshd running (pid $pid)"; else say "demo target sshd not running"; rc=1; fi
	return $rc
}

case "${1:-start}" in
stop)   do_stop; exit 0 ;;
status) do_status; exit $? ;;
start)  ;;
*)      die "usage: $0 [start|stop|status]" ;;
esac

[ "$(id -u)" = 0 ] || die "run as root (it starts an sshd and may create the user deploy)"
for b in bastion bastion-session bastionctl; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: run make first"
done
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing: apt-get install openssh-server"

# Idempotent: stop whatever a previous run left.
do_stop >/dev/null

mkdir -p "$D/target"
# the target sshd reads demo/target/authorized_keys as the target user
chmod 755 "$D" "$D/target"

key() {         # key FILE COMMENT: ed25519 key pair, kept if present
	[ -s "$D/$1" ] && [ -s "$D/$1.pub" ] && return 0
	rm -f "$D/$1" "$D/$1.pub"
	ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$D/$1"
}
key agent_ed25519        "demo agent-ci"
key bastion_host_ed25519 "demo bastion host key"
key upstream_ed25519     "demo bastion upstream key"
key target_host_ed25519  "demo target host key"
# the key that signs session seals, and its public half for auditors
if [ ! -s "$D/seal.pem" ] || [ ! -s "$D/seal.pub.pem" ]; then
	openssl genpkey -algorithm ed25519 -out "$D/seal.pem" 2>/dev/null
	openssl pkey -in "$D/seal.pem" -pubout -out "$D/seal.pub.pem"
	chmod 600 "$D/seal.pem"
fi

ME=$(id -un)
if ! id deploy >/dev/null 2>&1; then
	# '*' as password: no password login, but not "locked" (sshd with
	# UsePAM no refuses even key logins to accounts locked with '!')
	useradd -m -s /bin/bash -p '*' deploy
	say "created system user deploy"
elif [ "$(getent shadow deploy | cut -d: -f2)" = "!" ]; then
	usermod -p '*' deploy
	say "user deploy had a locked password ('!'): set to '*' so key logins work"
fi

# ---------------------------------------------------------------- target sshd
if port_busy "$TARGET_PORT"; then
	TARGET_PORT=$(free_port)
	say "the target's port is busy: the demo target sshd uses $TARGET_PORT"
fi
cp "$D/upstream_ed25519.pub" "$D/target/authorized_keys"
chmod 644 "$D/target/authorized_keys"
cat > "$D/target/sshd_config" <<EOF
# demo target: accepts only the bastion's upstream key
Port $TARGET_PORT
ListenAddress 127.0.0.1
HostKey $D/target_host_ed25519
PidFile $D/target/sshd.pid
AuthorizedKeysFile $D/target/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $ME deploy
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
PrintMotd no
LogLevel VERBOSE
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$D/target/sshd_config" || die "demo sshd config rejected"
/usr/sbin/sshd -f "$D/target/sshd_config" -E "$D/target/sshd.log"
for i in $(seq 50); do
	pid_of "$D/target/sshd.pid" >/dev/null && port_busy "$TARGET_PORT" && break
	sleep 0.1
done
pid_of "$D/target/sshd.pid" >/dev/null || { tail -5 "$D/target/sshd.log" >&2; die "demo sshd did not start"; }

# ---------------------------------------------------------------- bastion
TARGET_HOST_KEY=$(cut -d' ' -f1,2 "$D/target_host_ed25519.pub")
[ -s "$D/bob.token" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$D/bob.token"
chmod 600 "$D/bob.token"
BOB_SHA=$(tr -d '\n' < "$D/bob.token" | sha256sum | cut -d' ' -f1)
AGENT_KEY=$(cat "$D/agent_ed25519.pub")
cat > "$D/bastion.json" <<EOF
// Demo bastion configuration (written by tests/demo.sh; rewritten on each run).
// Relative paths are relative to this file's folder.
{
  "listen": "127.0.0.1:$BASTION_PORT",
  "host_key": "bastion_host_ed25519",
  "seal_key": "seal.pem",               // signs each session's seal
  "seal_public_key": "seal.pub.pem",    // what auditors verify seals with
  "database": "bastion.db",
  "control_socket": "bastion.sock",
  "keepalive_interval": 30,
  "env_allow": [],
  "identities": [
    { "name": "agent-ci", "owner": "$ME", "groups": ["agents"],
      "keys": ["$AGENT_KEY"] }
  ],
  "targets": [
    { "name": "web1", "host": "127.0.0.1", "port": $TARGET_PORT,
      "user": "$ME", "users": ["$ME", "deploy"],
      "host_key": "$TARGET_HOST_KEY",   // pinned: the demo sshd's host key
      "key": "upstream_ed25519",        // the bastion's key for this target
      "allow": ["agents"] }
  ],
  // bob approves with the token in demo/bob.token (bastionctl reads BASTION_TOKEN)
  "approvers": [
    { "name": "bob", "groups": ["oncall"], "token_sha256": "$BOB_SHA" }
  ],
  "policy": {
    "default": "approve", "opaque": "approve", "shell": "approve", "redirect": "approve",
    "approvers": "oncall", "count": 1, "timeout": 300,
    "rules": [
      { "name": "read-only", "action": "allow",
        "match": { "commands": ["ls", "cat", "echo", "id", "uptime", "uname", "hostname", "true", "date", "whoami", "df", "free", "ps"] } },
      { "name": "privilege", "action": "approve", "approvers": "oncall", "count": 1, "timeout": 300,
        "match": { "commands": ["sudo", "su", "doas", "pkexec"] } },
      { "name": "wipe", "action": "deny",
        "match": { "commands": ["mkfs", "mkfs.*", "wipefs", "shred"] } },
      { "name": "tmp-writes", "action": "allow", "match": { "writes": ["/tmp/*"] } }
    ]
  }
}
EOF
"$BUILD/bastion" -t -f "$D/bastion.json" >/dev/null || die "bastion -t rejected demo/bastion.json"

if port_busy "$BASTION_PORT"; then
	die "127.0.0.1:$BASTION_PORT is in use by another program (ss -ltnp 'sport = :$BASTION_PORT')"
fi
touch "$D/bastion.log"
LOGSTART=$(( $(stat -c %s "$D/bastion.log") + 1 ))
setsid nohup "$BUILD/bastion" -f "$D/bastion.json" </dev/null >>"$D/bastion.log" 2>&1 &
echo $! > "$D/bastion.pid"
ok=
for i in $(seq 100); do
	if tail -c +"$LOGSTART" "$D/bastion.log" | grep -q "listening on 127.0.0.1:$BASTION_PORT"; then ok=1; break; fi
	pid_of "$D/bastion.pid" >/dev/null || break
	sleep 0.1
done
if [ -z "$ok" ]; then
	tail -c +"$LOGSTART" "$D/bastion.log" | tail -20 >&2
	do_stop >/dev/null
	die "the bastion did not start (log above, full log in $DN/bastion.log)"
fi

printf '[127.0.0.1]:%s %s\n' "$BASTION_PORT" "$(cut -d' ' -f1,2 "$D/bastion_host_ed25519.pub")" > "$D/known_hosts"

# ---------------------------------------------------------------- smoke test
SSH=(ssh -p "$BASTION_PORT" -i "$D/agent_ed25519" -o UserKnownHostsFile="$D/known_hosts"
     -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR)
if ! out=$("${SSH[@]}" deploy@web1@127.0.0.1 'echo "smoke test: $(id -un)@$(hostname) via the bastion"' 2>&1); then
	say "$out" >&2
	tail -20 "$D/bastion.log" >&2
	die "smoke test through the bastion failed (bastion still running: tests/demo.sh stop)"
fi
say "$out"
SID=$(sqlite3 "$D/bastion.db" 'SELECT max(id) FROM sessions' 2>/dev/null || true)
SID=${SID:-1}

P=build/
[ "$BUILD" = "$ROOT/build" ] || P="$BUILD/"
cat <<EOF

The demo is running (commands below are relative to $ROOT):
  bastion   127.0.0.1:$BASTION_PORT  pid $(cat "$D/bastion.pid"), log $DN/bastion.log
  target    127.0.0.1:$TARGET_PORT  pid $(cat "$D/target/sshd.pid") (target "web1", users $ME and deploy)

Run a command through the bastion (agent key $DN/agent_ed25519, identity agent-ci):
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts deploy@web1@127.0.0.1 'uname -a'

Default target user ($ME):
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts -l web1 127.0.0.1 id

An interactive shell with a pty:
  ssh -t -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts deploy@web1@127.0.0.1

What was recorded (session $SID is the smoke test above):
  ${P}bastionctl -c $DN/bastion.json sessions
  ${P}bastionctl -c $DN/bastion.json show $SID
  ${P}bastionctl -c $DN/bastion.json replay $SID
  ${P}bastionctl -c $DN/bastion.json verify $SID
  ${P}bastionctl -c $DN/bastion.json status

Policy and approvals ($DN/bastion.json "policy"): read-only commands run,
sudo waits for an approver, mkfs is denied, everything else waits too:
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts web1@127.0.0.1 'sudo id'   # held
  ${P}bastionctl -c $DN/bastion.json pending                                              # in another terminal
  BASTION_TOKEN=\$(cat $DN/bob.token) ${P}bastionctl -c $DN/bastion.json approve ID --reason "ok"
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts web1@127.0.0.1 'mkfs /dev/x' # denied, exit 77
  ${P}bastion -t -f $DN/bastion.json --explain 'sudo systemctl restart nginx' --as agent-ci --target web1
Change the configuration while sessions run: edit $DN/bastion.json (add "git" to the
policy's read-only rule, or remove the agent's key to cut its sessions off), check it,
then reload; every decision names the policy version:
  ${P}bastion -t -f $DN/bastion.json && kill -HUP \$(cat $DN/bastion.pid)
  ${P}bastionctl -c $DN/bastion.json status; ${P}bastionctl -c $DN/bastion.json policies

File transfers (each open and change judged like a command: /tmp writes run,
anything else waits for an approver):
  scp -P $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts README.md deploy@web1@127.0.0.1:/tmp/
  sftp -P $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts deploy@web1@127.0.0.1
  scp -O -P $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts README.md deploy@web1@127.0.0.1:/tmp/
      # the legacy protocol: its "scp -t /tmp/" waits for an approver (no rule allows scp), then each file is judged

Errors to try:
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts web9@127.0.0.1 true        # unknown target, exit 68
  ssh -p $BASTION_PORT -i $DN/agent_ed25519 -o UserKnownHostsFile=$DN/known_hosts nobody@web1@127.0.0.1 true # not permitted, exit 77

Stop it:  make demo-stop   (or: tests/demo.sh stop)
EOF
