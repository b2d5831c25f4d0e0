#!/usr/bin/env bash
# Soak test (not in CI): N minutes of load against three greeters on 127.0.0.1, killing (-9) and
# restarting one of two of them every K seconds. Prints the client's totals and the memory (RSS)
# of the greeter that is never killed and of the client, sampled over the run.
#   usage: scripts/soak.sh [MINUTES=5] [KILL_EVERY_SECONDS=20] [CONCURRENCY=8]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}; every=${2:-20}; concurrency=${3:-8}
dotnet build Micro.Actors.Samples -c Release -v quiet -nologo >/dev/null
dll=Micro.Actors.Samples/bin/Release/net10.0/Micro.Actors.Samples.dll
logs=$(mktemp -d)
ports=(4801 4802 4803)
seeds=()
for p in "${ports[@]}"; do seeds+=(--seed "127.0.0.1:$p"); done
pids=()
start_greeter() { # index
  dotnet "$dll" greeter --port "${ports[$1]}" "${seeds[@]}" >/dev/null 2>>"$logs/greeter-$1.log" &
  pids[$1]=$!
}
cleanup() { kill "${pids[@]}" "${client:-}" 2>/dev/null || true; }
trap cleanup EXIT
for i in 0 1 2; do start_greeter "$i"; done
for i in 0 1 2; do
  until grep -q "is Up in cluster" "$logs/greeter-$i.log" 2>/dev/null; do sleep 0.2; done
done
echo "three greeters Up; load: $concurrency calls in flight for $minutes min; kill -9 every ${every}s"
dotnet "$dll" greeter-client --concurrency "$concurrency" --duration $((minutes * 60)) --seed 127.0.0.1:4801 \
  >"$logs/client.out" 2>"$logs/client.err" &
client=$!
rss() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1/1024}'; }
end=$((SECONDS + minutes * 60)); kills=0; victim=1
printf "%8s %14s %12s\n" "time_s" "greeter0_MiB" "client_MiB"
while [ $SECONDS -lt $end ] && kill -0 "$client" 2>/dev/null; do
  sleep "$every"
  printf "%8s %14s %12s\n" "$SECONDS" "$(rss "${pids[0]}")" "$(rss "$client")"
  [ $SECONDS -ge $((end - every)) ] && continue
  { kill -9 "${pids[$victim]}" && wait "${pids[$victim]}"; } 2>/dev/null || true; kills=$((kills + 1))
  sleep 3
  start_greeter "$victim"
  victim=$((3 - victim)) # 1, 2, 1, 2, ...
done
wait "$client" && status=0 || status=$?
echo "kills=$kills client_exit=$status"
cat "$logs/client.out"
grep "failed call" "$logs/client.err" | head -5 || true
echo "logs: $logs"
