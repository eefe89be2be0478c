#!/usr/bin/env bash
# Install the Debian packages the tests need, when any is missing:
#   prometheus (prometheus, promtool), openssl, shellcheck, ca-certificates.
# Idempotent: when every command is already there it installs nothing and
# returns at once.  Uses sudo when not run as root.  Debian/Ubuntu (apt-get).
set -euo pipefail

# command -> Debian package that provides it
declare -A PACKAGE_OF=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [openssl]=openssl
  [shellcheck]=shellcheck
)

needed=()
for command in "${!PACKAGE_OF[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1; then
    needed+=("${PACKAGE_OF[$command]}")
  fi
done
if [[ ! -e /etc/ssl/certs/ca-certificates.crt ]]; then
  needed+=(ca-certificates)
fi
if [[ ${#needed[@]} -eq 0 ]]; then
  echo "system packages: all present"
  exit 0
fi

mapfile -t packages < <(printf '%s\n' "${needed[@]}" | sort -u)
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${packages[*]} and no apt-get: install them with your package manager" >&2
  exit 1
fi
SUDO=()
if [[ "$(id -u)" != "0" ]]; then
  SUDO=(sudo)
fi
echo "system packages: installing ${packages[*]}"
"${SUDO[@]}" apt-get update -q || echo "apt-get update failed; trying the current package lists"
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
  "${packages[@]}"
