#!/usr/bin/env bash
# Clean-build time of the SDK facade against the hand-written baseline client.
#
# Each build runs in its own empty CARGO_TARGET_DIR (never the shared target/), offline
# (the registry cache must hold the crates: run `cargo fetch` once), in ABBA order so
# that a change of machine load during the run falls on both sides. For each build it
# prints wall seconds and CPU seconds (user + system of cargo and every rustc, cc and
# build script it ran: steadier than wall time on a machine shared with other work),
# then the facade/baseline ratio of the sums of each. `cargo build --timings` reports
# are left in each target dir's cargo-timings/.
#
# Usage: benchmarks/build-times.sh [target-dir-prefix]   (default /tmp/bench-build)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/tmp/bench-build}
facade=signalwire-fabric
baseline=signalwire-fabric-baseline-client

declare -A wall=([$facade]=0 [$baseline]=0) cpu=([$facade]=0 [$baseline]=0)
add() { python3 -c "print(round($1 + $2, 1))"; }
run=0
for package in $baseline $facade $facade $baseline; do
  run=$((run + 1))
  dir="$prefix-$package-$run"
  rm -rf "$dir"
  # %e wall, %U user, %S system (children included: cargo waits for all it runs).
  read -r elapsed user system < <(
    CARGO_TARGET_DIR="$dir" /usr/bin/time -f '%e %U %S' \
      cargo build --offline --quiet -p "$package" --timings 2>&1 >/dev/null | tail -n 1
  )
  used=$(add "$user" "$system")
  echo "build $run: $package: ${elapsed} s wall, ${used} s CPU (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  wall[$package]=$(add "${wall[$package]}" "$elapsed")
  cpu[$package]=$(add "${cpu[$package]}" "$used")
done
python3 -c "print('facade / baseline: wall %.2f, CPU %.2f' % (${wall[$facade]} / ${wall[$baseline]}, ${cpu[$facade]} / ${cpu[$baseline]}))"
