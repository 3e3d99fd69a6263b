# Shared by the scripts: install Debian packages a fresh machine may lack.
#
#   source scripts/lib/apt.sh
#   ensure_debian_packages graphviz libsqlite3-dev
#
# Only the missing ones are installed (apt-get, as root or through sudo -n); the log goes
# to $APT_LOG (default .skein/apt.log).

apt_install() {
  local log="${APT_LOG:-.skein/apt.log}"
  mkdir -p "$(dirname "$log")"
  if ! command -v apt-get >/dev/null 2>&1; then
    printf 'error: needs the Debian packages %s (no apt-get here: install them and retry)\n' "$*" >&2
    return 1
  fi
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
      printf 'error: needs the Debian packages %s: run as root or install them\n' "$*" >&2
      return 1
    }
    sudo=(sudo -n)
  fi
  printf '==> installing with apt-get: %s\n' "$*" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >>"$log" 2>&1 &&
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1 || {
    tail -n 20 "$log" >&2
    printf 'error: apt-get install %s failed (log: %s)\n' "$*" "$log" >&2
    return 1
  }
}

ensure_debian_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}
