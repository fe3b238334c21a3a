#!/usr/bin/env bash
# Builds orgsync's release archive for one target: the binary, its man pages, its shell
# completions and the README, as orgsync-v<version>-<target>.tar.gz (.zip for Windows), with a
# <archive>.sha256 beside it. The release workflow (.github/workflows/release.yml) runs it once
# per target; .ci/run runs it for the host, so the step that makes releases is tested on every
# change.
#
#   scripts/release-build.sh [TARGET] [OUTDIR]     TARGET: a Rust target triple (default: the
#                                                  host's); OUTDIR: where the archive goes
#                                                  (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-$(rustc -vV | sed -n 's/^host: //p')}
out=${2:-dist}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "release-build: no version in Cargo.toml" >&2; exit 1; }

echo "==> cargo build --release --target $target (orgsync $version)"
cargo build --release --locked --target "$target"

exe=orgsync
case "$target" in *windows*) exe=orgsync.exe ;; esac
bin="target/$target/release/$exe"
[ -x "$bin" ] || { echo "release-build: $bin was not built" >&2; exit 1; }

name="orgsync-v$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/man" "$dir/completions" "$out"
cp "$bin" "$dir/"
cp README.md "$dir/"

# The binary describes itself: its version must be the tag's, its man pages and completions
# come from its own command line.
reported=$("$bin" --version)
case "$reported" in
  "orgsync $version"*) ;;
  *) echo "release-build: $bin reports '$reported', not orgsync $version" >&2; exit 1 ;;
esac
"$bin" man --out "$dir/man"
for shell in bash zsh fish powershell elvish; do
  "$bin" completions "$shell" >"$dir/completions/orgsync.$shell"
done

case "$target" in
  *windows*)
    archive="$name.zip"
    (cd "$stage" && python3 -m zipfile -c "$archive" "$name")
    ;;
  *)
    archive="$name.tar.gz"
    tar -C "$stage" -czf "$stage/$archive" "$name"
    ;;
esac
mv "$stage/$archive" "$out/"

if command -v sha256sum >/dev/null; then
  (cd "$out" && sha256sum "$archive" >"$archive.sha256")
else
  (cd "$out" && shasum -a 256 "$archive" >"$archive.sha256")
fi
echo "==> $out/$archive"
cat "$out/$archive.sha256"
