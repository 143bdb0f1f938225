#!/bin/bash
# Relay benchmark: the bastion against direct OpenSSH and OpenSSH ProxyJump.
#
# One run on loopback, everything in its own temp dir on free ports:
#   target   /usr/sbin/sshd (the machine we want to reach)
#   jump     a second /usr/sbin/sshd, used as `ssh -J` jump host
#   bastion  build/bastion with recording on (database in the temp dir)
#   nosandbox the same bastion with "sandbox": {"mode": "none"} (the seccomp cost)
# For each path: a download (ssh 'head -c N /dev/zero' > /dev/null), an upload
# (head -c N /dev/zero | ssh 'cat > /dev/null') and `ssh true` wall time
# (median of 10).  Rounds are interleaved (direct, jump, bastion, direct, ...)
# and medians reported.  While the bastion relays, the RSS of the monitor and
# of its bastion-session workers is sampled (peak VmHWM); a slow-reader
# download (10 MB/s) shows whether the worker buffers what the reader does
# not take.
#
# SSH compression is off (the ssh default; set explicitly), so /dev/zero is
# as good as random data on the wire: the ciphers see the same bytes count.
#
# Environment:
#   BENCH_SIZE_MB   transfer size in MB (default 1024)
#   BENCH_ROUNDS    rounds (default 3)
#   BENCH_TRUE_N    `ssh true` runs per path and round (default 10)
#   BENCH_SLOW_MB   size of the slow-reader download (default 100 = 10 s)
#   BENCH_SCP_MB    size of the scp transfers, direct and via the bastion (default 512)
#   BASTION_BUILD   folder with bastion, bastion-session (default ./build)
#   BENCH_KEEP=1    keep the temp dir
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BASTION_BUILD:-$ROOT/build}
SIZE_MB=${BENCH_SIZE_MB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
TRUE_N=${BENCH_TRUE_N:-10}
SLOW_MB=${BENCH_SLOW_MB:-100}
SCP_MB=${BENCH_SCP_MB:-512}
PY=/usr/bin/python3

for b in bastion bastion-session; do
	[ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b missing: run make" >&2; exit 1; }
done

T=$(mktemp -d /tmp/bastion-bench.XXXXXX)
PIDS=()
tree() {         # pid and all its descendants
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do tree "$c"; done
}
cleanup() {
	local rc=$? p all=()
	set +e
	if [ "$rc" != 0 ] && [ -s "$T/bastion.log" ]; then
		echo "bench: failed (exit $rc); last lines of the bastion's log:" >&2
		tail -20 "$T/bastion.log" >&2
	fi
	for p in "${PIDS[@]}"; do all+=($(tree "$p")); done
	for p in "${all[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: nothing listens on port $1" >&2
	return 1
}

# ---------------------------------------------------------------- machine
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "         $(ssh -V 2>&1), libssh $(pkg-config --modversion libssh 2>/dev/null || echo '?')"
echo "size ${SIZE_MB} MB, ${ROUNDS} rounds, ssh true x${TRUE_N}; temp dir $T"
echo

# ---------------------------------------------------------------- keys, servers
for k in client bastion_host upstream target_host jump_host; do
	ssh-keygen -q -t ed25519 -N '' -C "bench $k" -f "$T/${k}_ed25519"
done
mkdir -p /run/sshd

start_sshd() {   # name port hostkey authorized_keys...
	local name=$1 port=$2 hk=$3; shift 3
	cat "$@" > "$T/$name.authorized_keys"
	cat > "$T/$name.sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $hk
PidFile $T/$name.pid
AuthorizedKeysFile $T/$name.authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
PrintMotd no
Subsystem sftp internal-sftp
MaxStartups 100:30:200
LogLevel ERROR
EOF
	/usr/sbin/sshd -D -e -f "$T/$name.sshd_config" 2>>"$T/$name.log" &
	PIDS+=($!)
	wait_port "$port"
}

TPORT=$(free_port); JPORT=$(free_port); BPORT=$(free_port)
start_sshd target "$TPORT" "$T/target_host_ed25519" "$T/client_ed25519.pub" "$T/upstream_ed25519.pub"
start_sshd jump   "$JPORT" "$T/jump_host_ed25519"   "$T/client_ed25519.pub"

cat > "$T/bastion.json" <<EOF
{
  "listen": "127.0.0.1:$BPORT",
  "host_key": "bastion_host_ed25519",
  "database": "bastion.db",
  "control_socket": "bastion.sock",
  "keepalive_interval": 30,
  "env_allow": [],
  "identities": [ { "name": "bench", "owner": "bench", "groups": ["agents"],
                    "keys": ["$(cat "$T/client_ed25519.pub")"] } ],
  "targets": [ { "name": "web1", "host": "127.0.0.1", "port": $TPORT, "user": "root",
                 "users": ["root"], "host_key": "$(cut -d' ' -f1,2 "$T/target_host_ed25519.pub")",
                 "key": "upstream_ed25519", "allow": ["agents"] } ],
  "approvers": [], "policy": {"default": "allow", "opaque": "allow", "shell": "allow", "redirect": "allow"}
}
EOF
# private copies: a rebuild or someone's `pkill -f build/bastion` during
# the run must not change what is measured
mkdir "$T/bin"
cp "$BUILD/bastion" "$BUILD/bastion-session" "$T/bin/"
"$T/bin/bastion" -f "$T/bastion.json" 2>>"$T/bastion.log" &
MONITOR=$!
PIDS+=("$MONITOR")
for i in $(seq 100); do
	grep -q "listening on" "$T/bastion.log" && break
	kill -0 "$MONITOR" 2>/dev/null || { cat "$T/bastion.log" >&2; exit 1; }
	sleep 0.1
done
grep -q "listening on" "$T/bastion.log" || { echo "bench: bastion did not start" >&2; cat "$T/bastion.log" >&2; exit 1; }

# The same bastion with the null sandbox (no chroot, uid, seccomp): the
# sandbox's cost is the ratio of the two.
NPORT=$(free_port)
$PY - "$T/bastion.json" "$T/bastion-nosb.json" "$NPORT" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(listen=f"127.0.0.1:{sys.argv[3]}", database="bastion-nosb.db",
         control_socket="bastion-nosb.sock", sandbox={"mode": "none"})
json.dump(c, open(sys.argv[2], "w"), indent=2)
PYEOF
"$T/bin/bastion" -f "$T/bastion-nosb.json" 2>>"$T/bastion-nosb.log" &
PIDS+=("$!")
wait_port "$NPORT"

cat > "$T/ssh_config" <<EOF
Host *
  IdentityFile $T/client_ed25519
  IdentitiesOnly yes
  IdentityAgent none
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  BatchMode yes
  LogLevel ERROR
  Compression no
  GSSAPIAuthentication no
  ControlMaster no
  ControlPath none
EOF
# (-F: the system ssh_config is not read at all)
SSHC="ssh -F $T/ssh_config"
path_cmd() {     # path -> ssh command prefix (the remote command is appended)
	case $1 in
	direct)  echo "$SSHC -p $TPORT root@127.0.0.1" ;;
	jump)    echo "$SSHC -J root@127.0.0.1:$JPORT -p $TPORT root@127.0.0.1" ;;
	bastion) echo "$SSHC -p $BPORT root@web1@127.0.0.1" ;;
	nosandbox) echo "$SSHC -p $NPORT root@web1@127.0.0.1" ;;
	esac
}

# sanity: every path works
for p in direct jump bastion nosandbox; do
	out=$($(path_cmd $p) 'echo ok' 2>&1) || { echo "bench: $p path fails: $out" >&2; tail -20 "$T/bastion.log" >&2; exit 1; }
	[ "$out" = ok ] || { echo "bench: $p path printed: $out" >&2; exit 1; }
done

# what each client hop negotiated (libssh and OpenSSH may not pick the same
# key exchange: OpenSSH 9.x prefers sntrup761x25519, which costs CPU per
# connection; that shows in `ssh true` times)
echo "negotiated by the client (kex / cipher, per hop):"
for p in direct jump bastion; do
	printf '  %-8s %s\n' "$p" "$($(path_cmd $p) -v true 2>&1 | sed -n 's/^debug1: kex: algorithm: \(.*\)/kex \1/p; s/^debug1: kex: server->client cipher: \([^ ]*\).*/cipher \1;/p' | paste -sd' ')"
done
echo

# ---------------------------------------------------------------- RSS sampler
cat > "$T/sampler.py" <<'EOF'
import os, sys, time, signal
monitor, out = int(sys.argv[1]), sys.argv[2]
peak = {"monitor": 0, "worker": 0, "worker_rss": 0}
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
def status(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                k, _, v = ln.partition(":")
                if k in ("VmHWM", "VmRSS", "PPid"):
                    d[k] = int(v.split()[0])
    except OSError:
        pass
    return d
def kids():
    m = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            s = status(p)
            if "PPid" in s:
                m.setdefault(s["PPid"], []).append(int(p))
    return m
while not stop:
    s = status(monitor)
    peak["monitor"] = max(peak["monitor"], s.get("VmHWM", 0))
    km = kids()
    todo, seen = list(km.get(monitor, [])), []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += km.get(p, [])
    for p in seen:
        try:
            exe = os.readlink(f"/proc/{p}/exe")
        except OSError:
            continue
        if "bastion-session" in exe:
            s = status(p)
            peak["worker"] = max(peak["worker"], s.get("VmHWM", 0))
            peak["worker_rss"] = max(peak["worker_rss"], s.get("VmRSS", 0))
    with open(out + ".tmp", "w") as f:
        f.write(" ".join(str(peak[k]) for k in ("monitor", "worker", "worker_rss")) + "\n")
    os.replace(out + ".tmp", out)
    time.sleep(0.1)
EOF
$PY "$T/sampler.py" "$MONITOR" "$T/rss" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")

cat > "$T/slowread.py" <<'EOF'
import os, sys, time
rate = int(sys.argv[1]) * 1000 * 1000   # bytes/s
t0, n = time.monotonic(), 0
while True:
    d = os.read(0, 65536)
    if not d:
        break
    n += len(d)
    ahead = n / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(n)
EOF

now() { date +%s.%N; }
SIZE_B=$((SIZE_MB * 1024 * 1024))

# The whole machine's busy CPU time in jiffies (all processes, kernel
# included; idle and iowait left out): CPU-seconds per GiB is a steadier
# measure of cost than MB/s on a shared VM whose speed moves.
busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
HZ=$(getconf CLK_TCK)
rate_and_cpu() {  # t0 t1 busy0 busy1 -> "MB/s CPU-s/GiB"
	echo "$1 $2 $3 $4" | awk -v mb="$SIZE_MB" -v hz="$HZ" \
	    '{ printf "%.3f %.3f\n", mb / ($2 - $1), ($4 - $3) / hz / (mb / 1024) }'
}
measure_dl() {
	local t0 t1 b0 b1 n
	b0=$(busy); t0=$(now)
	n=$($(path_cmd "$1") "head -c $SIZE_B /dev/zero" | wc -c)
	t1=$(now); b1=$(busy)
	[ "$n" = "$SIZE_B" ] || { echo "bench: $1 download got $n bytes, expected $SIZE_B" >&2; return 1; }
	rate_and_cpu "$t0" "$t1" "$b0" "$b1"
}
measure_ul() {
	local t0 t1 b0 b1 n
	b0=$(busy); t0=$(now)
	n=$(head -c "$SIZE_B" /dev/zero | $(path_cmd "$1") 'wc -c')
	t1=$(now); b1=$(busy)
	[ "$n" = "$SIZE_B" ] || { echo "bench: $1 upload delivered $n bytes, expected $SIZE_B" >&2; return 1; }
	rate_and_cpu "$t0" "$t1" "$b0" "$b1"
}
measure_true() {
	local i t0 t1 ts=()
	for i in $(seq "$TRUE_N"); do
		t0=$(now)
		$(path_cmd "$1") true
		t1=$(now)
		ts+=("$(echo "$t0 $t1" | awk '{ printf "%.4f", $2 - $1 }')")
	done
	printf '%s\n' "${ts[@]}" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

RES=$T/results   # lines: path metric value
: > "$RES"
for r in $(seq "$ROUNDS"); do
	for p in direct jump bastion nosandbox; do
		out=$(measure_dl "$p"); read -r dl dlcpu <<< "$out"
		out=$(measure_ul "$p"); read -r ul ulcpu <<< "$out"
		tt=$(measure_true "$p")
		printf '%s dl %s\n%s ul %s\n%s true %s\n%s dlcpu %s\n%s ulcpu %s\n' \
			"$p" "$dl" "$p" "$ul" "$p" "$tt" "$p" "$dlcpu" "$p" "$ulcpu" >> "$RES"
		printf 'round %d %-9s download %8.1f MB/s (%4.1f CPU-s/GiB)  upload %8.1f MB/s (%4.1f CPU-s/GiB)  ssh true %6.1f ms\n' \
			"$r" "$p" "$dl" "$dlcpu" "$ul" "$ulcpu" "$(awk -v t="$tt" 'BEGIN { print t * 1000 }')"
	done
done
read -r MON_FAST WORK_FAST WORK_RSS_FAST < "$T/rss"

# File transfers: scp (OpenSSH 9's scp speaks sftp; through the bastion
# every request is parsed and the opens are judged), direct and through the
# bastion: a file in the page cache to another file, and to /dev/null.
SCP_B=$((SCP_MB * 1024 * 1024))
head -c "$SCP_B" /dev/zero > "$T/scp-src"
measure_scp() {  # direct|bastion up|down -> "MB/s CPU-s/GiB"
	local port login t0 t1 b0 b1
	if [ "$1" = direct ]; then port=$TPORT login=root@127.0.0.1
	else port=$BPORT login=root@web1@127.0.0.1; fi
	b0=$(busy); t0=$(now)
	if [ "$2" = up ]; then
		rm -f "$T/scp-dst"
		scp -q -F "$T/ssh_config" -P "$port" "$T/scp-src" "$login:$T/scp-dst" ||
		    { echo "bench: scp upload via $1 failed" >&2; return 1; }
	else
		# (scp then warns that it cannot truncate /dev/null)
		scp -q -F "$T/ssh_config" -P "$port" "$login:$T/scp-src" /dev/null 2>/dev/null ||
		    { echo "bench: scp download via $1 failed" >&2; return 1; }
	fi
	t1=$(now); b1=$(busy)
	if [ "$2" = up ] && [ "$(stat -c %s "$T/scp-dst")" != "$SCP_B" ]; then
		echo "bench: scp upload via $1 delivered $(stat -c %s "$T/scp-dst") bytes" >&2
		return 1
	fi
	echo "$t0 $t1 $b0 $b1" | awk -v mb="$SCP_MB" -v hz="$HZ" \
	    '{ printf "%.3f %.3f\n", mb / ($2 - $1), ($4 - $3) / hz / (mb / 1024) }'
}
SCPRES=$T/scp-results
: > "$SCPRES"
for r in $(seq "$ROUNDS"); do
	for p in direct bastion; do
		out=$(measure_scp "$p" up); read -r up upcpu <<< "$out"
		out=$(measure_scp "$p" down); read -r dn dncpu <<< "$out"
		printf '%s up %s\n%s down %s\n' "$p" "$up" "$p" "$dn" >> "$SCPRES"
		printf 'round %d scp %-8s download %8.1f MB/s (%4.1f CPU-s/GiB)  upload %8.1f MB/s (%4.1f CPU-s/GiB)\n' \
			"$r" "$p" "$dn" "$dncpu" "$up" "$upcpu"
	done
done
rm -f "$T/scp-src" "$T/scp-dst"

# slow reader: the worker must not buffer what the reader does not take
SLOW_B=$((SLOW_MB * 1024 * 1024))
if command -v pv >/dev/null; then
	READER="pv -q -L 10m"
	SLOW_DESC="pv -L 10m"
else
	READER="$PY $T/slowread.py 10"
	SLOW_DESC="python reader at 10 MB/s"
fi
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true
$PY "$T/sampler.py" "$MONITOR" "$T/rss-slow" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
t0=$(now)
$(path_cmd bastion) "head -c $SLOW_B /dev/zero" | $READER > /dev/null
t1=$(now)
sleep 0.3
read -r MON_SLOW WORK_SLOW WORK_RSS_SLOW < "$T/rss-slow"
SLOW_RATE=$(echo "$t0 $t1" | awk -v mb="$SLOW_MB" '{ printf "%.1f", mb / ($2 - $1) }')

DBSIZE=$( (du -smc "$T"/bastion.db* 2>/dev/null || true) | awk 'END { print $1 + 0 }')

# ---------------------------------------------------------------- report
$PY - "$RES" <<EOF
import statistics, sys
res = {}
for ln in open(sys.argv[1]):
    p, m, v = ln.split()
    res.setdefault((p, m), []).append(float(v))
med = {k: statistics.median(v) for k, v in res.items()}
def g(p, m): return med.get((p, m), float("nan"))
print()
print(f"medians of $ROUNDS rounds, $SIZE_MB MB each way, loopback")
print(f"{'path':<10}{'download MB/s':>15}{'upload MB/s':>14}{'ssh true ms':>14}")
for p in ("direct", "jump", "bastion", "nosandbox"):
    print(f"{p:<10}{g(p,'dl'):>15.1f}{g(p,'ul'):>14.1f}{g(p,'true')*1000:>14.1f}")
print()
print(f"{'ratio':<26}{'download':>10}{'upload':>10}{'true time':>11}")
for a, b in (("bastion", "jump"), ("bastion", "direct"), ("jump", "direct"),
             ("bastion", "nosandbox")):
    print(f"{a + '/' + b:<26}{g(a,'dl')/g(b,'dl'):>10.2f}{g(a,'ul')/g(b,'ul'):>10.2f}"
          f"{g(a,'true')/g(b,'true'):>11.2f}")
print("(throughput ratios > 1 mean faster; true-time ratio > 1 means slower;")
print(" bastion/nosandbox is the cost of the seccomp sandbox, goal >= 0.98)")
print()
print("CPU cost: busy CPU-seconds of the whole machine per GiB moved (all")
print("processes: clients, servers, bastion; steadier than MB/s on a shared VM)")
print(f"{'path':<10}{'download':>10}{'upload':>10}")
for p in ("direct", "jump", "bastion", "nosandbox"):
    print(f"{p:<10}{g(p,'dlcpu'):>10.2f}{g(p,'ulcpu'):>10.2f}")
print(f"{'bastion/jump':<14}{g('bastion','dlcpu')/g('jump','dlcpu'):>6.2f}"
      f"{g('bastion','ulcpu')/g('jump','ulcpu'):>10.2f}  (< 1: the bastion costs less)")
EOF
$PY - "$SCPRES" <<EOF
import statistics, sys
res = {}
for ln in open(sys.argv[1]):
    p, m, v = ln.split()
    res.setdefault((p, m), []).append(float(v))
g = lambda p, m: statistics.median(res[(p, m)])
print()
print(f"scp (sftp protocol), $SCP_MB MB each way, medians of $ROUNDS rounds")
print(f"{'path':<16}{'download MB/s':>15}{'upload MB/s':>14}")
for p in ("direct", "bastion"):
    print(f"{p:<16}{g(p,'down'):>15.1f}{g(p,'up'):>14.1f}")
print(f"{'bastion/direct':<16}{g('bastion','down')/g('direct','down'):>15.2f}"
      f"{g('bastion','up')/g('direct','up'):>14.2f}")
EOF
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
cat <<EOF

bastion memory (peak VmHWM, MB)
  monitor                          $(mb "$MON_FAST")
  worker, full-speed transfers     $(mb "$WORK_FAST")   (max sampled VmRSS $(mb "$WORK_RSS_FAST"))
  worker, slow reader              $(mb "$WORK_SLOW")   (max sampled VmRSS $(mb "$WORK_RSS_SLOW")); $SLOW_MB MB through $SLOW_DESC: $SLOW_RATE MB/s
  monitor after slow reader        $(mb "$MON_SLOW")
recording database: $DBSIZE MB
EOF
