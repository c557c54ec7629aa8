# Shared by the shell benchmarks and tests/vectors/record.sh (sourced, from the repository's
# root): a scratch directory and background processes that go away on exit, free loopback
# ports, waiting for a listener or for a server's clients to leave, the latency proxy.
# The caller has `set -euo pipefail`.

script_name=$(basename "$0" .sh)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until something listens on 127.0.0.1:$1.
wait_listening() {
  for _ in $(seq 100); do
    [[ -n $(ss -Hltn "sport = :$1") ]] && return 0
    sleep 0.1
  done
  echo "$script_name: nothing listens on port $1" >&2
  return 1
}

# Waits (at most 15 s) until nobody is connected to local port $1: the proxy delays a
# connection's end but not the next one's start, and a server refuses a second client.
wait_no_clients() {
  for _ in $(seq 150); do
    [[ -z $(ss -Htn state established "sport = :$1") ]] && return 0
    sleep 0.1
  done
  echo "$script_name: the last client still holds port $1" >&2
}

# start_proxy TARGET_PORT RTT_MS JITTER_PCT: tests/e2e/latency_proxy.py adding RTT_MS in front
# of 127.0.0.1:TARGET_PORT; sets proxy_port to the port it listens on. (Not for $(...): the
# proxy must be among this shell's pids.)
start_proxy() {
  local target=$1 rtt=$2 jitter_pct=$3 port=
  local delay jitter
  delay=$(python3 -c "print($rtt / 2000)")
  jitter=$(python3 -c "print($rtt / 2000 * $jitter_pct / 100)")
  python3 tests/e2e/latency_proxy.py --target "127.0.0.1:$target" --delay "$delay" \
    --jitter "$jitter" --lifetime 36000 >"$work/proxy-$rtt.out" 2>"$work/proxy-$rtt.log" &
  pids+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening //p' "$work/proxy-$rtt.out")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "$script_name: the proxy for $rtt ms did not start" >&2; return 1; }
  proxy_port=$port
}
