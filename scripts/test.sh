#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever it needs and does not find.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx tsc -p . 
# Node 20's test runner takes explicit files (no globs); every *.test.ts under test/ runs.
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=120000 "${files[@]}"
