#!/usr/bin/env bash
# record.sh: records sessions of unmodified esptool.py with the simulated chips as test
# vectors (tests/vectors/*.trace; README.md says what they are and how they are replayed).
#
#   tests/vectors/record.sh TTYNET_BINARY ESPTOOL_DIR VERSION [SCENARIO...]
#
# ESPTOOL_DIR holds an esptool release's sources (esptool is no Debian package: extract a
# release, e.g. `git archive v5.3.1 | tar -x -C DIR`); VERSION is its tag (v4.8.1, v5.3.1)
# and names the files. Each scenario runs `TTYNET serve --esp` on a loopback port with
# `sim://CHIP?trace=FILE` and esptool against it over RFC 2217; a scenario esptool fails
# leaves no file and makes the script fail. Naming scenarios records only those.
set -euo pipefail
cd "$(dirname "$0")/../.."

ttynet=$(realpath "${1:?usage: tests/vectors/record.sh TTYNET_BINARY ESPTOOL_DIR VERSION}")
esptool_dir=$(realpath "${2:?esptool source directory}")
version=${3:?version label, e.g. v5.3.1}
only=("${@:4}")
python=/usr/bin/python3 # Debian's, which has python3-serial
out=tests/vectors

source bench/lib.sh

# Deterministic images: 8 KiB that does not compress (v5 then sends it uncompressed), 16 KiB
# that does, 8 KiB of 0xFF (what a fresh chip's erased flash verifies against), and 128 KiB
# that does not compress (a write of several stub blocks). New images go last: the ones
# before keep their bytes.
python3 - "$work" <<'PY'
import random, sys
random.seed(2217)
open(f"{sys.argv[1]}/random.bin", "wb").write(bytes(random.randrange(256) for _ in range(8192)))
words = [b"ttynet", b"esp32", b"flash", b"serial", b"rfc2217", b"\x00\xff", b"boot"]
open(f"{sys.argv[1]}/erased.bin", "wb").write(b"\xff" * 8192)
open(f"{sys.argv[1]}/text.bin", "wb").write(b" ".join(random.choice(words) for _ in range(3000))[:16384])
open(f"{sys.argv[1]}/random128.bin", "wb").write(bytes(random.randrange(256) for _ in range(131072)))
PY

esptool() {
  if [[ $version == v4* ]]; then
    "$python" "$esptool_dir/esptool.py" "$@"
  else
    PYTHONPATH=$esptool_dir "$python" -m esptool "$@"
  fi
}
# esptool's command names: v4 uses underscores, v5 dashes.
cmd() { [[ $version == v4* ]] && echo "${1//-/_}" || echo "$1"; }

# chip | scenario | esptool arguments (after --port and -b). A "-paced" scenario runs on the
# strict chip in time (pace=1).
scenarios=(
  "esp32|flash-id|$(cmd flash-id)"
  "esp32|flash-id-no-stub|--no-stub $(cmd flash-id)"
  "esp32|write-compressed|$(cmd write-flash) 0x10000 $work/text.bin"
  "esp32|write-random|$(cmd write-flash) 0x10000 $work/random.bin"
  "esp32|write-uncompressed|$(cmd write-flash) -u 0x10000 $work/random.bin"
  "esp32|write-no-stub|--no-stub $(cmd write-flash) 0x10000 $work/random.bin"
  "esp32|write-large|$(cmd write-flash) 0x10000 $work/random128.bin"
  "esp32|write-460800|-b 460800 $(cmd write-flash) 0x10000 $work/text.bin"
  "esp32|write-paced|$(cmd write-flash) 0x10000 $work/text.bin"
  "esp32|verify|$(cmd verify-flash) 0x0 $work/erased.bin"
  "esp32|read|$(cmd read-flash) 0x0 0x2000 $work/read.bin"
  "esp32|read-no-stub|--no-stub $(cmd read-flash) 0x0 0x400 $work/read.bin"
  "esp32|erase-region|$(cmd erase-region) 0x20000 0x1000"
  "esp32|erase-flash|$(cmd erase-flash)"
  "esp32c3|flash-id|$(cmd flash-id)"
  "esp32c3|flash-id-no-stub|--no-stub $(cmd flash-id)"
  "esp32c3|write-compressed|$(cmd write-flash) 0x10000 $work/text.bin"
  "esp32s3|flash-id|$(cmd flash-id)"
  "esp32s3|flash-id-no-stub|--no-stub $(cmd flash-id)"
  "esp32s3|write-compressed|$(cmd write-flash) 0x10000 $work/text.bin"
)

status=0
for entry in "${scenarios[@]}"; do
  IFS='|' read -r chip scenario arguments <<<"$entry"
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " == *" $scenario "* ]]; then continue; fi
  read -r -a args <<<"$arguments"
  file=$out/$version-$chip-$scenario.trace
  port=$(free_port)
  options=trace=$work/trace
  [[ $scenario == *-paced ]] && options+="&pace=1"
  "$ttynet" serve --esp --bind 127.0.0.1 -p "$port" "sim://$chip?$options" \
    >"$work/serve.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_listening "$port"
  baud=(-b 115200)
  [[ ${args[0]} == -b ]] && baud=()
  if timeout --kill-after=5 120 bash -c "$(declare -f esptool); version=$version esptool_dir=$esptool_dir python=$python; esptool \"\$@\"" _ \
    --port "rfc2217://127.0.0.1:$port?ign_set_control" "${baud[@]}" "${args[@]}" \
    >"$work/esptool.log" 2>&1; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    cp "$work/trace" "$file"
    echo "record: $file ($(wc -c <"$file") bytes)"
  else
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    echo "record: $version $chip $scenario failed:" >&2
    tail -5 "$work/esptool.log" >&2
    status=1
  fi
done
exit $status
