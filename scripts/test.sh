#!/usr/bin/env bash
# The test suite: the Rust tests, then the example configurations against the committed schemas
# with an independent validator. Installs its Python tools into .venv on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  echo "==> installing test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-dev.txt
fi
export PATH="$PWD/$venv/bin:$PATH"

echo "==> cargo test"
cargo test --all-targets --locked "$@"

echo "==> examples against schemas/ (check-jsonschema)"
scripts/check-examples.sh
