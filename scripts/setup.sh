#!/usr/bin/env bash
# Installs what wasitls needs on a Debian 12 machine, only what is missing, then `npm ci`.
# Safe to run repeatedly: with everything present it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake pkg-config
  wabt tcc libtcc-dev
  libssl-dev openssl libgnutls28-dev gnutls-bin
  clang lld llvm wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev
  nginx-light redis-server postgresql
  procps psmisc python3
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js may come from another repository (it then bundles npm, which conflicts with Debian's
# npm package): only ask Debian for it when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # Debian starts these services on install; the suite starts its own instances.
  for s in nginx redis-server postgresql; do
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
  done
fi

# node_modules is refreshed whenever package-lock.json changes.
stamp=node_modules/.wasitls-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi
