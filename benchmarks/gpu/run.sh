#!/usr/bin/env bash
# The GPU check on the offline GPU machine, one command (about 9 minutes at most):
#
#   bash benchmarks/gpu/run.sh OUT_DIR [check.py options]
#
# installs the bundled wheels (benchmarks/gpu/prepare.py made them) into a fresh temporary
# folder, makes the checkout discoverable as the colorbench distribution (entry points of
# the built-in plugins, no build step), then runs benchmarks/gpu/check.py against the
# preinstalled torch. Exit status: check.py's (1 when a step failed).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:?usage: bash benchmarks/gpu/run.sh OUT_DIR [check.py options]}"
shift
PY="${PYTHON:-python3}"
BUNDLE="${COLORBENCH_GPU_BUNDLE:-$ROOT/benchmarks/gpu/_bundle}"
SITE="$(mktemp -d -t colorbench-site.XXXXXX)"
trap 'rm -rf "$SITE"' EXIT
start=$SECONDS

if [ ! -d "$BUNDLE/data" ]; then
  echo "error: no bundle at $BUNDLE; run python benchmarks/gpu/prepare.py where the shared data and PyPI are" >&2
  exit 2
fi
shopt -s nullglob
wheels=("$BUNDLE"/wheels/*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --target "$SITE" "${wheels[@]}" \
    || echo "warning: installing the bundled wheels failed; the env step will say which import is missing" >&2
fi
"$PY" "$ROOT/benchmarks/gpu/site_metadata.py" "$SITE"
export PYTHONPATH="$SITE:$ROOT:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
echo "installed ${#wheels[@]} wheel(s) into $SITE in $((SECONDS - start)) s"
cd "$ROOT" && "$PY" benchmarks/gpu/check.py --bundle "$BUNDLE" --out "$OUT" "$@"
status=$?
echo "run.sh: $((SECONDS - start)) s in all, exit status $status"
exit $status
