#!/usr/bin/env bash
# Builds portal-benchmarks and measures Portal (with the MDC on, and with no context) against the JDK
# floor, Vert.x 5 and Reactor 3.8 in one run: time or throughput and CPU per operation of every
# benchmark, in 3 forks each; then writes the results tables (median of the forks, with their range),
# the target verdicts and an SVG chart (see docs/performance.md).
#
#   bench/run.sh                full run, about 40 minutes on 2 cores; publishes docs/performance.md
#                               and portal-benchmarks/results/
#   bench/run.sh --quick        smoke run (1 fork, short iterations), about 5 minutes on a quiet machine; writes
#                               portal-benchmarks/target/bench-quick/
#   bench/run.sh [--quick] REGEX ...   only the JMH benchmarks matching REGEX (no publishing)
#   bench/run.sh --one-cpu [--quick] [REGEX ...]
#                               the same on one processor (taskset -c 0, so every JVM sees one); writes
#                               portal-benchmarks/target/bench-one-cpu/ (no publishing)
#
# Needs a JDK 17+ and Maven; nothing else (the chart is drawn by a Java class, not Python).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
one_cpu=false
if [[ "${1:-}" == "--one-cpu" ]]; then
  one_cpu=true
  shift
fi
if [[ "${1:-}" == "--quick" ]]; then
  mode=quick
  shift
fi

if [[ $mode == quick ]]; then
  out=portal-benchmarks/target/bench-quick
  jmh_opts=(-f 1 -wi 1 -w 200ms -i 1 -r 300ms)
  queued=20000
else
  out=portal-benchmarks/results
  # 3 forks (the report publishes the median of the forks' means and their range), each 5 x 1 s
  # warm-up and 3 x 1 s measurement: 72 benchmark-contender pairs, about 10-11 s per fork (JVM start and
  # pre-touching the 1 GiB heap included). Five warm-up seconds, not two: with 64 callers on two cores
  # the JIT still compiled Portal's code for 0.3 to 1.8 s in each of the first measured seconds after
  # two (`-prof comp`); the report lists every figure measured while the JIT compiled.
  jmh_opts=(-f 3 -wi 5 -w 1s -i 3 -r 1s)
  queued=100000
fi
publish=true
if [[ $mode == quick || $# -gt 0 ]]; then
  publish=false
fi
if [[ $# -gt 0 && $mode == full ]]; then
  out=portal-benchmarks/target/bench-partial
fi
# On one processor: every JVM (JMH's forks inherit the affinity) sees availableProcessors() == 1, as in
# a container limited to one CPU.
pin=()
if [[ $one_cpu == true ]]; then
  command -v taskset >/dev/null || { echo "--one-cpu needs taskset (util-linux)" >&2; exit 2; }
  pin=(taskset -c 0)
  # The JIT compiles on the benchmark's one core: with the MDC on, `-prof comp` still counted 1.1 s of
  # compilation in the first measured second of 8 callers after 2 s of warm-up; after 5 s (the full
  # run's warm-up), 7 to 48 ms.
  publish=false
  out=portal-benchmarks/target/bench-one-cpu
fi
patterns=("$@")
if [[ ${#patterns[@]} -eq 0 ]]; then
  patterns=('dev\.portal\.bench\.jmh\..*')
fi
mkdir -p "$out"
started=$(date +%s)

echo "== building portal-benchmarks (and portal-core)"
mvn -B -q -pl portal-benchmarks -am package -DskipTests
cp="portal-benchmarks/target/classes:$(cat portal-benchmarks/target/classpath.txt)"

# The same JVM settings for every benchmark and contender. -XX:+AlwaysPreTouch touches the whole heap
# at start-up: otherwise the first write to each fresh heap page faults, and a fast allocator runs
# about 2x slower until eden's first collection, which skews whichever benchmark comes first.
#
# The CompileThresholdScaling command lowers the JIT's thresholds for JMH's generated measurement loops
# (*_jmhStub) alone, so they compile in the first warm-up second. A loop that makes one call every
# 200 µs (the paced benchmarks; (e)'s trials are slow too) otherwise stayed interpreted until the
# measured seconds, and once compiled it called the contender's methods from new code, which the JIT
# then compiled again there: 51 ms for BlockingPortal.call alone in one fork, 84 to 124 ms in the
# measured seconds of another run's paced call. The contenders' code keeps the default thresholds.
jvm_args="-Xms1g -Xmx1g -XX:+UseG1GC -XX:+AlwaysPreTouch"
jvm_args+=" -XX:CompileCommand=quiet -XX:CompileCommand=CompileThresholdScaling,*::*_jmhStub,0.01"

# JMH's own file keeps the raw histogram of every sampled benchmark (megabytes); the report writes
# $out/jmh.json without them.
raw=portal-benchmarks/target/jmh-raw.json
echo "== JMH ($mode) -> $raw"
${pin[@]+"${pin[@]}"} java -cp "$cp" org.openjdk.jmh.Main "${jmh_opts[@]}" -foe true -jvmArgs "$jvm_args" \
  -prof dev.portal.bench.jmh.CpuPerOpProfiler -prof comp -rf json -rff "$raw" "${patterns[@]}" | tee "$out/jmh.log"

echo "== heap per queued offload ($queued queued) -> $out/footprint.tsv"
: > "$out/footprint.tsv"
for c in jdk portal portal-nomdc vertx reactor; do
  ${pin[@]+"${pin[@]}"} java -XX:+UseSerialGC -Xms1g -Xmx1g -cp "$cp" dev.portal.bench.footprint.QueuedOffloadFootprint \
    --contenders "$c" --queued "$queued" | tee -a "$out/footprint.tsv"
done

echo "== report"
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//' || true)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)
machine="$(nproc) cores${cpu:+ ($cpu)}, ${mem:-? GiB} RAM, $(uname -sr)"
command="bench/run.sh"
if [[ $one_cpu == true ]]; then
  machine="1 of $machine (taskset -c 0)"
  command="$command --one-cpu"
fi
[[ $mode == quick ]] && command="$command --quick"
report=(--jmh "$raw" --compact-jmh "$out/jmh.json" --footprint "$out/footprint.tsv" --svg "$out/benchmarks.svg"
  --markdown "$out/results.md" --machine "$machine" --command "$command")
if [[ $publish == true ]]; then
  report+=(--publish docs/performance.md --chart-link ../portal-benchmarks/results/benchmarks.svg)
fi
java -cp "$cp" dev.portal.bench.report.BenchmarkReport "${report[@]}"

echo "== done in $(( $(date +%s) - started )) s: $out/results.md, $out/benchmarks.svg"
[[ $publish == true ]] && echo "   published to docs/performance.md"
exit 0
