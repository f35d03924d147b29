# Installs, from Debian's or Ubuntu's packages, whatever Chorus needs that is missing.
# Sourced by scripts/up and scripts/test; uses sudo when not run as root.

chorus_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "Swift 6.2 or newer is needed and is not on PATH; install it from https://www.swift.org/install/linux/" >&2
        exit 1
    fi
}

chorus_install_packages() {
    # prometheus: the scrape test runs Debian's Prometheus against a running system.
    local wanted=(redis-server postgresql nginx prometheus libhiredis-dev libpq-dev pkg-config util-linux ca-certificates curl openssl)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "installing ${missing[*]} needs root or sudo" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    # The packages' own services are not needed: Chorus starts its servers itself, on its own ports.
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Consumer lag in XINFO GROUPS and XAUTOCLAIM need Redis 7 (Debian 12, Ubuntu 24.04 and newer).
chorus_check_redis_version() {
    local version
    version=$(redis-server --version | sed -n 's/.*v=\([0-9]*\)\..*/\1/p')
    if [ -z "$version" ] || [ "$version" -lt 7 ]; then
        echo "redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') is too old: Chorus needs Redis 7 or newer" >&2
        exit 1
    fi
}
