#!/usr/bin/env bash
# Measures cmd/spamserver (lwtask, each poller backend, generator and step
# style) against bench/netspam (a goroutine per connection, net and bufio)
# and bench/gnet (the gnet event-loop library, a module of its own) with
# cmd/spamload, and prints markdown tables. See docs/benchmarks.md.
#
#	bench/run.sh
#	MULTI=1 bench/run.sh    two event loops against two
#
# Each server runs alone on CPU $SERVER_CPU with GOMAXPROCS=1, the client
# on CPU $CLIENT_CPU; every configuration gets a fresh server. With MULTI=1
# the servers run two event loops (lwtask-2loops, gnet-2loops) and neither
# they nor the client are pinned or limited: GOMAXPROCS is unset and the
# kernel places every thread. A server whose binary does not take its flags
# is left out, with a message. The client reads the server's utime and
# stime from /proc/PID/stat at the start and end of the measured interval
# (-pid), so CPU per request leaves out connection set-up and warm-up; with
# -idle it reads VmRSS from /proc/PID/status before connecting and after
# holding the connections.
# Each configuration runs $REPS times, interleaved, and the tables show the
# run with the median requests/s.
#
# Settings, from the environment:
#	DURATION=10s WARMUP=2s REPS=5 IDLE=10000 SERVER_CPU=0 CLIENT_CPU=1
#	LOADS="1:1 100:1 1000:1 100:16"  connections:depth
#	FLOOD="1:20000"                  connections:depth of the flood beside a probe
#	SERVERS="lwtask-epoll lwtask-step netspam gnet"
#	                                 servers for the loads, the flood and idle memory
#	                                 (with MULTI=1: "lwtask-2loops gnet-2loops")
#	BACKENDS="lwtask-epoll lwtask-poll lwtask-select"
#	                                 servers for the poller comparison (MULTI=1: none)
#	BACKEND_CONNS=1000               connections for the poller comparison
#	MULTI=0                          1: two loops each, nothing pinned
#	QUIET_WAIT=600                   seconds to wait for other processes to finish
#	NOISE=5 RETRIES=3                redo a run if others used over NOISE% of a CPU
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-5}
IDLE=${IDLE:-10000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
LOADS=${LOADS:-"1:1 100:1 1000:1 100:16"}
FLOOD=${FLOOD:-"1:20000"}
BACKEND_CONNS=${BACKEND_CONNS:-1000}
QUIET_WAIT=${QUIET_WAIT:-600}
NOISE=${NOISE:-5}
RETRIES=${RETRIES:-3}
MULTI=${MULTI:-0}
if [ "$MULTI" = 1 ]; then
	SERVERS=${SERVERS-"lwtask-2loops gnet-2loops"}
	BACKENDS=${BACKENDS-""}
else
	SERVERS=${SERVERS-"lwtask-epoll lwtask-step netspam gnet"}
	BACKENDS=${BACKENDS-"lwtask-epoll lwtask-poll lwtask-select"}
fi

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/spamserver" ./cmd/spamserver
go build -o "$work/netspam" ./bench/netspam
go build -o "$work/spamload" ./cmd/spamload
# gnet is a module of its own, so that it never becomes a dependency of
# lwtask's: build it from there.
(cd bench/gnet && go build -o "$work/gnet" .)
# Both ends of IDLE connections, plus a few, in each process.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 100)) ]; then
	echo "run.sh: ulimit -Hn is $(ulimit -Hn), too low for IDLE=$IDLE" >&2
	exit 1
fi

# The servers under test: a label, then the command line. Every server
# takes -addr and -quiet besides.
declare -A servers=(
	[lwtask-epoll]="spamserver -poller epoll"
	[lwtask-poll]="spamserver -poller poll"
	[lwtask-select]="spamserver -poller select"
	[lwtask-step]="spamserver -style step"
	[lwtask-2loops]="spamserver -loops 2"
	[netspam]="netspam"
	[gnet]="gnet"
	[gnet-2loops]="gnet -loops 2"
)

# How servers and the client run: pinned to a CPU each, the server's Go
# runtime on one thread; or, with MULTI=1, free (env alone changes
# nothing, and -u GOMAXPROCS drops a limit from the caller's environment).
if [ "$MULTI" = 1 ]; then
	server_run=(env -u GOMAXPROCS)
	client_run=(env)
	placement="Servers and client unpinned on $(nproc) CPUs, GOMAXPROCS unset"
else
	server_run=(env GOMAXPROCS=1 taskset -c "$SERVER_CPU")
	client_run=(taskset -c "$CLIENT_CPU")
	placement="Server on CPU $SERVER_CPU (GOMAXPROCS=1), client on CPU $CLIENT_CPU"
fi

# check_server LABEL reports whether LABEL's server starts with its flags.
# One that does not (a flag its binary does not have yet exits with status
# 2) is left out of the run with the reason, rather than ending it.
check_server() {
	local cmd=(${servers[$1]}) status=0
	"$work/${cmd[0]}" -addr 127.0.0.1:0 -quiet "${cmd[@]:1}" 2>"$work/check.log" &
	server_pid=$!
	for _ in $(seq 100); do
		if grep -q '^Listening on' "$work/check.log"; then
			kill "$server_pid"
			wait "$server_pid" || true
			server_pid=
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" || status=$?
	server_pid=
	echo "run.sh: skipping $1: \"${servers[$1]}\" did not start (exit status $status):" \
		"$(grep -v '^Usage\|^  ' "$work/check.log" | head -n 1)" >&2
	return 1
}

# Leave out of SERVERS and BACKENDS the servers that do not start.
declare -A usable=()
for s in $(printf '%s\n' $SERVERS $BACKENDS | awk '!seen[$0]++'); do
	if [ -z "${servers[$s]+set}" ]; then
		echo "run.sh: no server $s; there are: ${!servers[*]}" >&2
		exit 1
	fi
	if check_server "$s"; then usable[$s]=1; fi
done
usable_only() {
	local s
	for s in "$@"; do
		if [ -n "${usable[$s]+set}" ]; then printf '%s ' "$s"; fi
	done
}
SERVERS=$(usable_only $SERVERS)
BACKENDS=$(usable_only $BACKENDS)

# start_server LABEL starts a server on a free port, setting server_pid and
# server_addr.
start_server() {
	local cmd=(${servers[$1]})
	"${server_run[@]}" "$work/${cmd[0]}" -addr 127.0.0.1:0 -quiet "${cmd[@]:1}" \
		2>"$work/server.log" &
	server_pid=$!
	server_addr=
	for _ in $(seq 100); do
		server_addr=$(sed -n 's/^Listening on //p' "$work/server.log")
		[ -n "$server_addr" ] && return
		sleep 0.05
	done
	echo "run.sh: $1 did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
}

stop_server() {
	kill "$server_pid"
	wait "$server_pid" || true
	server_pid=
	if [ -s "$work/server.log" ] && grep -qv '^Listening on' "$work/server.log"; then
		echo "run.sh: server log:" >&2
		cat "$work/server.log" >&2
	fi
}

# value NAME FILE prints the number after "NAME: " in the client's output.
value() { sed -n "s|^$1: \([0-9.]*\).*|\1|p" "$2"; }

# wait_quiet waits until the machine has been idle for a second (other
# processes using under 5% of a CPU), for up to $QUIET_WAIT seconds: other
# people's builds and tests make the numbers meaningless. The tables'
# "others %" column shows what the rest of the machine did during each run.
wait_quiet() {
	local deadline=$((SECONDS + QUIET_WAIT)) a b
	while :; do
		a=($(head -n 1 /proc/stat))
		sleep 1
		b=($(head -n 1 /proc/stat))
		# busy = everything but idle (4) and iowait (5), in ticks of 1/100 s
		local busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
		[ "$busy" -lt 5 ] && return
		if [ $SECONDS -ge $deadline ]; then
			echo "run.sh: the machine is busy ($busy% of a CPU); measuring anyway" >&2
			return
		fi
	done
}

# load LABEL CONNS DEPTH REP runs the client against a fresh server and
# appends a line to results. A run during which other processes used more
# than $NOISE% of a CPU is done again, up to $RETRIES times.
load() {
	local out="$work/load.out" try
	for try in $(seq "$RETRIES"); do
		wait_quiet
		start_server "$1"
		"${client_run[@]}" "$work/spamload" -addr "$server_addr" -conns "$2" -depth "$3" -n 1 \
			-warmup "$WARMUP" -duration "$DURATION" -pid "$server_pid" >"$out" || true
		stop_server
		local others
		others=$(value "other processes' CPU busy" "$out")
		[ "${others:-100}" -le "$NOISE" ] && break
		echo "run.sh: $1 $2:$3: other processes used $others% of a CPU; again" >&2
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
		"$(value requests/s "$out")" "$(value 'latency p50' "$out")" "$(value 'latency p99' "$out")" \
		"$(value 'server CPU user' "$out")" "$(value 'server CPU system' "$out")" \
		"$(value 'server CPU busy' "$out")" "$(value 'client CPU busy' "$out")" \
		"$others" "$(value errors "$out")" >>"$work/results"
	tail -n 1 "$work/results" >&2
}

# flood LABEL CONNS DEPTH REP pipelines as fast as the server answers on
# CONNS connections, beside one probe connection with one request at a time
# in flight, and appends the probe's latency to flood: what a quiet client
# sees while another floods the server (the cooperation budget's test).
flood() {
	local out="$work/flood.out"
	wait_quiet
	start_server "$1"
	"${client_run[@]}" "$work/spamload" -addr "$server_addr" -conns "$2" -depth "$3" -n 1 -probe 1 \
		-warmup "$WARMUP" -duration "$DURATION" -pid "$server_pid" >"$out" || true
	stop_server
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
		"$(value requests/s "$out")" "$(value 'probe latency p50' "$out")" "$(value 'probe latency p99' "$out")" \
		"$(value "other processes' CPU busy" "$out")" "$(value errors "$out")" >>"$work/flood"
	tail -n 1 "$work/flood" >&2
}

# idle LABEL holds IDLE connections to a fresh server.
idle() {
	wait_quiet
	start_server "$1"
	local out="$work/idle.out"
	"${client_run[@]}" "$work/spamload" -addr "$server_addr" -idle "$IDLE" -duration 5s \
		-pid "$server_pid" >"$out"
	stop_server
	printf '| %s | %s | %s | %s | %s |\n' "$1" "$IDLE" "$(value 'server RSS before' "$out")" \
		"$(value 'server RSS after' "$out")" "$(value 'server RSS per connection' "$out")" >>"$work/idle"
}

: >"$work/results"
: >"$work/flood"
for rep in $(seq "$REPS"); do
	for l in $FLOOD; do
		for s in $SERVERS; do
			flood "$s" "${l%:*}" "${l#*:}" "$rep"
		done
	done
	for l in $LOADS; do
		for s in $SERVERS; do
			load "$s" "${l%:*}" "${l#*:}" "$rep"
		done
	done
	for s in $BACKENDS; do
		load "$s" "$BACKEND_CONNS" 1 "$rep"
	done
done
for s in $SERVERS; do
	idle "$s"
done

# The run with the median requests/s of each server and load.
median() {
	sort -t "$(printf '\t')" -k1,1 -k2,2n -k3,3n -k5,5n "$work/results" | awk -F '\t' '
		{ key = $1 FS $2 FS $3 }
		key != last { flush(); last = key; n = 0 }
		{ rows[++n] = $0 }
		END { flush() }
		function flush() { if (n > 0) print rows[int((n + 1) / 2)] }'
}

echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, Linux $(uname -r), $(go version | cut -d' ' -f3)"
echo "$placement; SPAM 1;" \
	"$DURATION measured after $WARMUP warm-up; median of $REPS runs by requests/s."
echo
echo "| server | connections | depth | requests/s | p50 µs | p99 µs | user µs/req | system µs/req | server CPU % | client CPU % | others CPU % | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
median | sort -t "$(printf '\t')" -k3,3n -k2,2n -k1,1 |
	awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
echo
echo "Flood beside a probe: the flood's requests/s, and the probe's latency (median run by probe p99)."
echo
echo "| server | flood connections | flood depth | flood requests/s | probe p50 µs | probe p99 µs | others CPU % | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
sort -t "$(printf '\t')" -k1,1 -k2,2n -k3,3n -k7,7n "$work/flood" | awk -F '\t' '
	{ key = $1 FS $2 FS $3 }
	key != last { flush(); last = key; n = 0 }
	{ rows[++n] = $0 }
	END { flush() }
	function flush() { if (n > 0) { split(rows[int((n + 1) / 2)], f, FS); printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[5], f[6], f[7], f[8], f[9] } }'
echo
echo "| server | idle connections | RSS before KB | RSS after KB | KB per connection |"
echo "| --- | ---: | ---: | ---: | ---: |"
cat "$work/idle"
echo
echo "All runs (server, connections, depth, rep, requests/s, p50, p99, user, system, server %, client %, others %, errors):"
echo
sed 's/^/    /' "$work/results"
