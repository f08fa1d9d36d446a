#!/bin/sh
# Installs sup, one self-contained binary, for this machine.
#
#   curl -fsSL https://github.com/OWNER/sup/releases/latest/download/install.sh | sh
#   sh install.sh --from-source       (inside a checkout: build and install it)
#
# Environment:
#   SUP_INSTALL_DIR   where to put sup (default ~/.local/bin; /usr/local/bin as root)
#   SUP_VERSION       release to install, e.g. 0.1.0 (default: the latest)
#   SUP_DOWNLOAD_URL  base URL holding sup-<os>-<arch>[-musl] and SHA256SUMS
#                     (default: the project's release downloads)
#   SUP_OS, SUP_ARCH, SUP_LIBC   override detection (linux|darwin, x64|arm64, glibc|musl)
#
# Exit codes: 0 installed, 1 failed (nothing changed), 2 usage.
# POSIX sh only (dash, busybox ash, bash, zsh as sh): no arrays, no `local`,
# no `[[`, no pipefail.
set -eu

# Release downloads: <repo>/releases/latest/download/FILE and
# <repo>/releases/download/vX.Y.Z/FILE. The location is package.json's
# config.releases, written here by scripts/release-url.ts; while it names
# OWNER, use SUP_DOWNLOAD_URL or --from-source.
RELEASES="https://github.com/OWNER/sup/releases"

say() { printf 'sup-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() {
  cat >&2 <<'EOF'
usage: install.sh [--from-source] [--help]
  curl -fsSL https://github.com/OWNER/sup/releases/latest/download/install.sh | sh
      install the latest release (SUP_VERSION=0.1.0 after the pipe: one version)
  sh install.sh --from-source
      build this checkout and install it
environment: SUP_INSTALL_DIR, SUP_VERSION, SUP_DOWNLOAD_URL, SUP_OS, SUP_ARCH, SUP_LIBC
EOF
}

from_source=0
for arg in "$@"; do
  case "$arg" in
    --from-source) from_source=1 ;;
    -h|--help) usage; exit 0 ;;
    *) say "unknown argument: $arg"; usage; exit 2 ;;
  esac
done

# The temp dir lives inside the destination dir, so the final `mv` is a
# rename(2) on one file system: atomic, and a running sup keeps its old inode
# (no "text file busy"). The trap removes it on every way out.
tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

detect_os() {
  if [ -n "${SUP_OS:-}" ]; then printf '%s' "$SUP_OS"; return; fi
  case "$(uname -s)" in
    Linux) printf linux ;;
    Darwin) printf darwin ;;
    *) uname -s | tr '[:upper:]' '[:lower:]' ;;
  esac
}

detect_arch() {
  if [ -n "${SUP_ARCH:-}" ]; then printf '%s' "$SUP_ARCH"; return; fi
  m=$(uname -m)
  # A shell under Rosetta 2 reports x86_64 on Apple silicon; the native
  # binary is the better choice (as Bun's own installer does).
  if [ "$m" = x86_64 ] && [ "$(uname -s)" = Darwin ] &&
    [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
    m=arm64
  fi
  case "$m" in
    x86_64|amd64) printf x64 ;;
    aarch64|arm64|armv8*) printf arm64 ;;
    *) printf '%s' "$m" ;;
  esac
}

# glibc and musl binaries are not interchangeable: the dynamic loader path
# differs (/lib64/ld-linux-x86-64.so.2 vs /lib/ld-musl-x86_64.so.1). ldd says
# which libc the system runs on; a musl loader alone proves little (Debian's
# musl package installs one next to glibc).
detect_libc() {
  if [ -n "${SUP_LIBC:-}" ]; then printf '%s' "$SUP_LIBC"; return; fi
  case "$(ldd --version 2>&1 || true)" in
    *musl*) printf musl; return ;;
    *GLIBC*|*"GNU libc"*|*"GNU C Library"*) printf glibc; return ;;
  esac
  if ls /lib64/ld-linux-* /lib/ld-linux-* >/dev/null 2>&1; then
    printf glibc
  elif ls /lib/ld-musl-* >/dev/null 2>&1; then
    printf musl
  else
    printf glibc
  fi
}

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    err=$(curl -fsSL --retry 2 -o "$2" "$1" 2>&1) || die "download failed: $1 (${err:-curl failed})"
  else
    err=$(wget -q -O "$2" "$1" 2>&1) || die "download failed: $1 (${err:-wget failed, e.g. HTTP 404})"
  fi
}

sha256_of() { # FILE
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

default_dir() {
  if [ "$(id -u)" = 0 ]; then printf /usr/local/bin; else printf '%s/.local/bin' "${HOME:?HOME is not set}"; fi
}

# Puts FILE in place as DIR/sup; FILE is already in $tmp inside DIR.
install_file() { # FILE DIR
  chmod 755 "$1"
  # A binary that cannot start here (wrong libc, truncated) is refused
  # before it replaces a working one.
  if ! version=$("$1" --version 2>&1); then
    # Bun's musl builds link libstdc++ and libgcc dynamically.
    case "$asset" in *-musl) say "hint: on Alpine, apk add libstdc++ libgcc" ;; esac
    die "the new binary does not run on this machine: $(printf '%s' "$version" | head -3)"
  fi
  mv -f "$1" "$2/sup"
  say "installed $version to $2/sup"
  case ":${PATH:-}:" in
    *":$2:"*) ;;
    *) say "note: $2 is not on your PATH; add it, e.g. in ~/.profile:  export PATH=\"$2:\$PATH\"" ;;
  esac
}

# Creates the destination and the temp dir in it; sets $dir and $tmp.
prepare_dir() {
  dir=${SUP_INSTALL_DIR:-$(default_dir)}
  mkdir -p "$dir" 2>/dev/null || die "cannot create $dir; set SUP_INSTALL_DIR to a directory you can write"
  [ -w "$dir" ] || die "cannot write to $dir; run as root or set SUP_INSTALL_DIR"
  tmp=$(mktemp -d "$dir/.sup-install.XXXXXX") || die "cannot create a temp dir in $dir"
}

if [ "$from_source" = 1 ]; then
  # The checkout is the script's own directory when run as `sh path/install.sh`.
  src=$(dirname "$0")
  [ -f "$src/build.ts" ] || src=.
  [ -f "$src/build.ts" ] && [ -f "$src/package.json" ] ||
    die "--from-source must run inside a sup checkout (no build.ts and package.json here)"
  cd "$src"
  if [ ! -x node_modules/.bin/bun ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch the pinned bun for --from-source"
    say "npm install (fetches the pinned bun and the dependencies)"
    npm install --no-audit --no-fund >&2 || die "npm install failed"
  fi
  node_modules/.bin/bun build.ts >&2 || die "build failed (node_modules/.bin/bun build.ts)"
  asset=dist/sup
  prepare_dir
  cp dist/sup "$tmp/sup"
  install_file "$tmp/sup" "$dir"
  exit 0
fi

os=$(detect_os)
arch=$(detect_arch)
case "$os/$arch" in
  linux/x64|linux/arm64|darwin/x64|darwin/arm64) ;;
  *) die "unsupported platform: $os/$arch (sup ships linux and darwin, x64 and arm64); build from a checkout with --from-source if Bun runs here" ;;
esac
asset="sup-$os-$arch"
if [ "$os" = linux ]; then
  case "$(detect_libc)" in
    musl) asset="$asset-musl" ;;
    glibc) ;;
    *) die "unsupported libc: ${SUP_LIBC:-} (glibc or musl)" ;;
  esac
fi

if [ -n "${SUP_DOWNLOAD_URL:-}" ]; then
  base=${SUP_DOWNLOAD_URL%/}
elif [ -n "${SUP_VERSION:-}" ]; then
  base="$RELEASES/download/v${SUP_VERSION#v}"
else
  base="$RELEASES/latest/download"
fi
case "$base" in
  *//github.com/OWNER/*) die "this install.sh names no release location yet; set SUP_DOWNLOAD_URL, or run it with --from-source in a checkout" ;;
esac

# Every check that needs no download comes first: a failure leaves no trace.
command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 ||
  die "neither curl nor wget is installed; install one of them, or build with --from-source"
command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 ||
  die "neither sha256sum nor shasum is installed: cannot verify the download"
prepare_dir
say "downloading $base/$asset"
download "$base/SHA256SUMS" "$tmp/SHA256SUMS"
download "$base/$asset" "$tmp/sup"

# sha256sum lines are "<hex>  <name>" ("<hex> *<name>" in binary mode).
want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die "SHA256SUMS at $base has no entry for $asset"
got=$(sha256_of "$tmp/sup")
[ "$got" = "$want" ] || die "checksum mismatch for $asset: expected $want, got $got; nothing was installed"

install_file "$tmp/sup" "$dir"
