# Shell helpers shared by scripts/test and scripts/sandbox. Sourced, never run.
#
# It installs the Debian packages the project needs (only the missing ones,
# so a second run is fast and offline) and checks for the Rust toolchain.
# It must never leave anything behind that a later run depends on, and never
# start a system service: packages are installed with services held back.

# The Debian bookworm packages the tests and the sandbox use.
REQUIRED_PACKAGES=(
    openvswitch-common # ovsdb-server, ovsdb-client, ovsdb-tool, ovs-appctl
    openvswitch-switch # ovs-vswitchd, for end-to-end packet tests
    ovn-central        # ovn-northd (the reference), the OVN schemas
    ovn-host           # ovn-controller
    ovn-common         # ovn-nbctl, ovn-sbctl, ovn-appctl
    iputils-ping
    busybox
    resource-agents    # Pacemaker OCF helpers and ocf-tester, for the resource agent tests
    libxml2-utils      # xmllint, which ocf-tester checks the agent's meta-data with
    shellcheck         # lints the resource agent (packaging/check)
    jq
    procps
    iproute2
)

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# Runs "$@" as root: directly if we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

# Installs the packages of REQUIRED_PACKAGES that dpkg does not report as
# installed; does nothing (and needs no network) when none is missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "${REQUIRED_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    # A policy-rc.d that answers 101 keeps the packages' services (ovn-northd,
    # ovsdb-server, ovs-vswitchd) from starting: tests start their own.
    local policy=/usr/sbin/policy-rc.d own_policy=
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        own_policy=1
    fi
    local status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
    if [ "$status" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
    fi
    if [ -n "$own_policy" ]; then
        as_root rm -f "$policy"
    fi
    [ "$status" -eq 0 ] || die "apt-get failed (exit $status)"
}

# Fails unless cargo is on PATH (or in ~/.cargo/bin, which it then adds).
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        PATH="$HOME/.cargo/bin:$PATH"
        export PATH
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (https://rustup.rs)"
}
