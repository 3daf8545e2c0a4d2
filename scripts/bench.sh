#!/usr/bin/env bash
# `npm run bench -- <name>`: install what is missing, build, run one benchmark.
# Results go to bench/results/<name>.json and BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh bench
exec node dist/bench/run.js "$@"
