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
    # libjemalloc-dev: every executable allocates through jemalloc (see Package.swift).
    local wanted=(redis-server postgresql nginx prometheus libhiredis-dev libpq-dev libjemalloc-dev pkg-config util-linux ca-certificates curl openssl)
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

# The Python tools the contract checks use (scripts/validate-streams, scripts/generate-*,
# scripts/api-fuzz), pinned in scripts/python-tools.txt, in a virtual environment of their own
# under .build-tools/ (ignored by git). Sets CHORUS_PYTHON to its interpreter.
chorus_python_tools() {
    local venv=.build-tools/venv
    local wanted=scripts/python-tools.txt
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        local sudo=()
        [ "$(id -u)" -ne 0 ] && sudo=(sudo)
        echo "installing python3 and python3-venv"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
    fi
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$wanted" "$venv/installed.txt"; then
        echo "installing the Python tools of $wanted in $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$wanted"
        cp "$wanted" "$venv/installed.txt"
    fi
    CHORUS_PYTHON=$PWD/$venv/bin/python
    export CHORUS_PYTHON
}
