#!/usr/bin/env bash
# Validates every example configuration file against the committed JSON Schema with
# check-jsonschema, a validator nobody here wrote: what editors will tell users must agree with
# what orgsync says. An example file is a YAML file under examples/ with a
# `# yaml-language-server: $schema=…` line; that path is checked too (editors follow it), and must
# name schemas/orgsync.schema.json.
#
# Only schema-level checks apply here; semantic checks (literal secrets, duplicate mappings,
# globs, …) are `orgsync validate`'s, which the Rust tests run on every example.
#
# Needs check-jsonschema on PATH (scripts/test.sh installs it into .venv from
# scripts/requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

schema=schemas/orgsync.schema.json

if ! command -v check-jsonschema >/dev/null 2>&1; then
  echo "check-jsonschema not found: pip install -r scripts/requirements-dev.txt (scripts/test.sh does this)" >&2
  exit 1
fi

files=()
status=0
while IFS= read -r file; do
  # The schema path the file declares, relative to the file.
  declared=$(sed -n 's/^#[[:space:]]*yaml-language-server:[[:space:]]*\$schema=[[:space:]]*//p' "$file" | head -n 1 | tr -d '\r')
  resolved=$(cd "$(dirname "$file")" && realpath -m -- "$declared" 2>/dev/null || true)
  if [ "$resolved" != "$(realpath -- "$schema")" ]; then
    echo "$file: \$schema=$declared does not point at $schema" >&2
    status=1
  fi
  files+=("$file")
done < <(grep -rlE --include='*.yaml' --include='*.yml' \
  '^#[[:space:]]*yaml-language-server:[[:space:]]*\$schema=' examples | LC_ALL=C sort)

if [ "${#files[@]}" -eq 0 ]; then
  echo "no example files under examples/ (YAML with a yaml-language-server \$schema line)" >&2
  exit 1
fi

echo "checking ${#files[@]} example files against $schema"
check-jsonschema --schemafile "$schema" "${files[@]}" || status=1
exit "$status"
