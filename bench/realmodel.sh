#!/usr/bin/env bash
# The sidekick against a real model endpoint: a report, never a CI test (real models are slow and noisy).
#
#   bash bench/realmodel.sh [BASE_URL]      # default http://127.0.0.1:8081/v1 (../shared/realmodel/serve.sh)
#
# 1. `sidekick doctor`: does the endpoint call tools, natively or as text?
# 2. Each suite's eval RUNS times (SUITES, default "shop clinic"), loop vs the upfront baseline, temperature 0.
# 3. Probes of what real endpoints do (bench/realmodel_probes.py): a long digit-heavy page that overflows a
#    small context window, and a no-tool question.
# 4. bench/realmodel_report.py: pass rates per category for each run and their spread, failure modes.
#
# Env: MODEL (default: the endpoint's first listed model), SUITES, RUNS (2), CONCURRENCY (4), TRIALS (1),
#      MAX_STEPS (10), TIMEOUT (300 s per run), MAX_TOKENS (the sidekick's default), TASKS (all),
#      OUT (bench-out/realmodel-YYYYmmdd-HHMM), SIDEKICK (the sidekick command; default .venv/bin/sidekick).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_URL=${1:-${BASE_URL:-http://127.0.0.1:8081/v1}}
SUITES=${SUITES:-shop clinic}; RUNS=${RUNS:-2}; CONCURRENCY=${CONCURRENCY:-4}; TRIALS=${TRIALS:-1}; MAX_STEPS=${MAX_STEPS:-10}
TIMEOUT=${TIMEOUT:-300}; OUT=${OUT:-bench-out/realmodel-$(date +%Y%m%d-%H%M)}
SIDEKICK=${SIDEKICK:-.venv/bin/sidekick}
PY=$(dirname "$SIDEKICK")/python
[ -x "$SIDEKICK" ] || { echo "realmodel.sh: $SIDEKICK not found: python3 -m venv .venv && .venv/bin/pip install -e '.[eval]'" >&2; exit 2; }
if [ -z "${MODEL:-}" ]; then
  MODEL=$("$PY" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/models", timeout=10))["data"][0]["id"])' "$BASE_URL")
fi
mkdir -p "$OUT"
export SIDEKICK_BASE_URL="$BASE_URL" SIDEKICK_MODEL="$MODEL"
[ -n "${MAX_TOKENS:-}" ] && export SIDEKICK_MAX_TOKENS="$MAX_TOKENS"
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $BASE_URL model $MODEL; results in $OUT"

echo "== doctor"
"$SIDEKICK" doctor --timeout 300 | tee "$OUT/doctor.txt" || true

eval_args=(--base-url "$BASE_URL" --model "$MODEL" --baseline upfront --temperature 0 --trials "$TRIALS"
           --concurrency "$CONCURRENCY" --max-steps "$MAX_STEPS" --timeout "$TIMEOUT")
[ -n "${TASKS:-}" ] && eval_args+=(--tasks "$TASKS")
[ -n "${MAX_TOKENS:-}" ] && eval_args+=(--max-tokens "$MAX_TOKENS")
for suite in $SUITES; do
  for run in $(seq 1 "$RUNS"); do
    echo "== $suite eval, run $run of $RUNS"
    "$SIDEKICK" eval --suite "$suite" "${eval_args[@]}" --out "$OUT/$suite-$run" 2> "$OUT/$suite-$run.log"
  done
done

echo "== probes"
"$PY" bench/realmodel_probes.py --sidekick "$SIDEKICK" --out "$OUT/probes.json"

echo "== report"
"$PY" bench/realmodel_report.py "$OUT" | tee "$OUT/summary.md"
