#!/usr/bin/env bash
# Headless-browser check of `colorbench report`: a small run that saves its images, the report
# built from it, and a screenshot of one page taken by Debian's chromium (the page's own
# JavaScript sorts the rows by how much the models disagree on CPSNR, largest first).
#
# Usage: benchmarks/report_screenshot.sh [OUT_DIR] [WIDTH,HEIGHT]
#   OUT_DIR        default runs/report-screenshot (run in OUT_DIR/run, pages in OUT_DIR/report,
#                  screenshot OUT_DIR/screenshot.png)
#   WIDTH,HEIGHT   browser window, default 1200,900
# Environment: MODELS=a,b (default: every colorizer whose weights are available),
#              DATASET (default samples), SIZE (default 128), COLORBENCH (the command).
# Needs: apt-get install chromium
set -euo pipefail

out=${1:-runs/report-screenshot}
window=${2:-1200,900}
here=$(cd "$(dirname "$0")/.." && pwd)
cb=${COLORBENCH:-}
if [ -z "$cb" ]; then
  if [ -x "$here/.venv/bin/colorbench" ]; then cb="$here/.venv/bin/colorbench"; else cb=colorbench; fi
fi
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
  echo "chromium not found; install it with: apt-get install -y chromium" >&2
  exit 2
fi
models=()
if [ -n "${MODELS:-}" ]; then models=(--models "$MODELS"); fi
dataset=${DATASET:-samples}

"$cb" run "${models[@]}" --datasets "$dataset" --metrics cpsnr,ssim,colorfulness,deltae2000 \
  --size "${SIZE:-128}" --save-images --no-resume --out "$out" --name run --quiet
"$cb" report "$out/run" --out "$out/report"

page=$(ls "$out"/report/*.html | grep -v '/index.html$' | head -n 1)
sandbox=()
if [ "$(id -u)" = 0 ]; then sandbox=(--no-sandbox); fi  # chromium refuses to run as root otherwise
"$chrome" --headless "${sandbox[@]}" --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$out/chromium-profile" --window-size="$window" \
  --screenshot="$out/screenshot.png" "file://$(realpath "$page")#cpsnr|__spread|1" 2>/dev/null
echo "screenshot: $out/screenshot.png (of $page)"
