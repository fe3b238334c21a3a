#!/usr/bin/env bash
# Installs a released orgsync binary for this runner and verifies its SHA-256 before anything
# runs it: what the GitHub Action does unless `version: source`. Seconds instead of the minutes
# of `cargo install`, and no Rust toolchain needed.
#
# Environment:
#   ORGSYNC_VERSION     the release, `0.2.0` or `v0.2.0` (required)
#   ORGSYNC_REPOSITORY  owner/name of the repository whose GitHub releases hold the archives
#   ORGSYNC_SHA256      the archive's expected SHA-256 (optional): pins the binary in the
#                       workflow itself instead of trusting the release's .sha256 file
#   ORGSYNC_TARGET      the Rust target triple (default: from RUNNER_OS and RUNNER_ARCH, or uname)
#   ORGSYNC_RELEASE_URL the URL of the directory that holds the archives (default: the GitHub
#                       release of ORGSYNC_VERSION; the tests use a file:// URL)
#   ORGSYNC_INSTALL_DIR where the binary goes (default: $RUNNER_TEMP/orgsync-bin); it is added
#                       to GITHUB_PATH when that is set
# Exit code 1, with nothing installed, when the download fails or the checksum does not match.
set -euo pipefail

fail() {
  echo "::error::orgsync install: $*" >&2
  exit 1
}

version=${ORGSYNC_VERSION:?ORGSYNC_VERSION is required}
version=${version#v}
case "$version" in
  *[!0-9A-Za-z.+-]*) fail "'$version' is not a release version" ;;
esac

target=${ORGSYNC_TARGET:-}
if [ -z "$target" ]; then
  os=${RUNNER_OS:-$(uname -s)}
  arch=${RUNNER_ARCH:-$(uname -m)}
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64) target=aarch64-unknown-linux-musl ;;
    macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
    macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
    Windows/X64 | MINGW*/x86_64 | MSYS*/x86_64) target=x86_64-pc-windows-msvc ;;
    *) fail "no release binary for $os/$arch: use version: source to build it" ;;
  esac
fi
case "$target" in
  *windows*) archive="orgsync-v$version-$target.zip" exe=orgsync.exe ;;
  *) archive="orgsync-v$version-$target.tar.gz" exe=orgsync ;;
esac

base=${ORGSYNC_RELEASE_URL:-}
if [ -z "$base" ]; then
  repo=${ORGSYNC_REPOSITORY:?ORGSYNC_REPOSITORY (owner/name) is required without ORGSYNC_RELEASE_URL}
  base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/v$version"
fi
base=${base%/}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl --fail --silent --show-error --location --retry 3 --retry-all-errors \
  -o "$tmp/$archive" "$base/$archive" || fail "cannot download $base/$archive"

expected=${ORGSYNC_SHA256:-}
if [ -z "$expected" ]; then
  curl --fail --silent --show-error --location --retry 3 --retry-all-errors \
    -o "$tmp/$archive.sha256" "$base/$archive.sha256" || fail "cannot download $base/$archive.sha256"
  expected=$(cut -d' ' -f1 <"$tmp/$archive.sha256")
fi
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if command -v sha256sum >/dev/null; then
  actual=$(sha256sum "$tmp/$archive" | cut -d' ' -f1)
else
  actual=$(shasum -a 256 "$tmp/$archive" | cut -d' ' -f1)
fi
[ "$actual" = "$expected" ] || fail "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed"

case "$archive" in
  *.zip) (cd "$tmp" && python3 -m zipfile -e "$archive" .) ;;
  *) tar -C "$tmp" -xzf "$tmp/$archive" ;;
esac
src="$tmp/orgsync-v$version-$target/$exe"
[ -f "$src" ] || fail "$archive holds no $exe"

dest=${ORGSYNC_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/orgsync-bin}
mkdir -p "$dest"
install -m 0755 "$src" "$dest/$exe"
reported=$("$dest/$exe" --version) || fail "the installed orgsync does not run"
case "$reported" in
  "orgsync $version"*) ;;
  *) rm -f "$dest/$exe"; fail "the archive holds '$reported', not orgsync $version" ;;
esac
[ -n "${GITHUB_PATH:-}" ] && echo "$dest" >>"$GITHUB_PATH"
echo "orgsync install: $reported ($target, sha256 $actual) in $dest"
