#!/usr/bin/env bash
# The test suite: the Rust tests (including end-to-end tests against a real SCIM server and
# actionlint on the example workflows), then the example configurations against the committed
# schemas with an independent validator. Installs its Python tools into .venv on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

# (Re)install whenever scripts/requirements-dev.txt changed since the last install.
venv=.venv
stamp="$venv/.requirements-dev.sha256"
want=$(sha256sum scripts/requirements-dev.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing test tools into $venv (check-jsonschema, scim2-server, scim2-cli, actionlint)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-dev.txt
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"

echo "==> cargo test"
cargo test --all-targets --locked "$@"

echo "==> examples against schemas/ (check-jsonschema)"
scripts/check-examples.sh
