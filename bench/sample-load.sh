#!/usr/bin/env bash
# Load comparison of the sample app's customer lookup written three ways (see
# portal-sample-app/src/main/java/dev/portal/sample/bench): through Portal, through Spring's @Async
# on its task executor, and on plain virtual threads. Each variant is bounded to 40 concurrent JDBC
# calls with a 5 ms simulated database latency; wrk drives it with 200 connections.
#
#   bench/sample-load.sh [seconds-per-run] [runs]      (defaults: 30 s, 3 runs)
#
# Needs wrk (Debian: apt-get install wrk). Runs the app on the JDK in JAVA_HOME (virtual threads need
# 21+; on 17 that variant is skipped). Prints, per variant and run: requests/s, p50 and p99 latency,
# and the server's CPU seconds per 1000 requests (from /proc, user + system), then the median of runs.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-30}"
RUNS="${2:-3}"
PORT="${PORT:-18181}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

mvn -B -q -pl portal-sample-app -am -DskipTests package
JAR=$(ls portal-sample-app/target/portal-sample-app-*.jar | grep -v original | head -1)

"$JAVA" -Xms512m -Xmx512m -jar "$JAR" --spring.profiles.active=bench --server.port="$PORT" \
  --spring.datasource.url="jdbc:h2:mem:load;DB_CLOSE_DELAY=-1" > target-sample-load.log 2>&1 &
APP=$!
trap 'kill $APP 2>/dev/null; wait $APP 2>/dev/null; rm -f target-sample-load.log' EXIT
for _ in $(seq 1 120); do
  curl -sf "localhost:$PORT/actuator/health" >/dev/null && break
  sleep 1
done
JDK=$("$JAVA" -version 2>&1 | head -1)
echo "# $(date -u +%F) $(nproc) cores, $JDK, $SECONDS_PER_RUN s per run, $RUNS runs, wrk -t2 -c200"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$APP/stat"; }
TICKS=$(getconf CLK_TCK)

results=()
for variant in portal async virtual; do
  if ! curl -sf "localhost:$PORT/bench/$variant/1" >/dev/null; then
    echo "$variant: not available on this JDK, skipped"
    continue
  fi
  wrk -t2 -c200 -d5s "http://localhost:$PORT/bench/$variant/1" >/dev/null   # warm-up
  for run in $(seq 1 "$RUNS"); do
    before=$(cpu_ticks)
    out=$(wrk -t2 -c200 -d"${SECONDS_PER_RUN}s" --latency "http://localhost:$PORT/bench/$variant/1")
    after=$(cpu_ticks)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    cpu=$(awk -v d=$((after - before)) -v t="$TICKS" -v n="$total" 'BEGIN {printf "%.3f", d / t / n * 1000}')
    echo "$variant run $run: $rps req/s, p50 $p50, p99 $p99, $cpu CPU s per 1000 requests ${errors}"
    results+=("$variant $rps $p99 $cpu")
  done
done

echo "# median of runs, each column on its own: variant, req/s, p99 ms, CPU s per 1000 requests"
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for variant in portal async virtual; do
  rows=$(printf '%s\n' "${results[@]}" | awk -v v="$variant" '$1 == v')
  [ -z "$rows" ] && continue
  rps=$(awk '{print $2}' <<<"$rows" | median)
  p99=$(awk '{u = $3; n = u + 0; if (u ~ /us$/) n /= 1000; else if (u ~ /ms$/) n += 0; else if (u ~ /s$/) n *= 1000; print n}' <<<"$rows" | median)
  cpu=$(awk '{print $4}' <<<"$rows" | median)
  echo "$variant $rps req/s, p99 $p99 ms, $cpu CPU s per 1000 requests"
done
