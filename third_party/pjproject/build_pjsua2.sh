#!/usr/bin/env bash
# Build pjproject's pjsua2 Python module from the vendored tarball with Amparo's raised limits
# (config_site.h), as a wheel cached outside the checkout, and install it into a virtualenv.
#
#   [UV=path/to/uv] third_party/pjproject/build_pjsua2.sh PYTHON [--if-possible]
#
# PYTHON is the virtualenv's interpreter. The wheel is cached under
#   ${AMPARO_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amparo}/pjsua2/<key>/
# where <key> = sha256(tarball)[:12] - sha256(config_site.h + this script + make_wheel.py
#               + the toolchain: c++, swig, and the OpenSSL and uuid headers' package versions)[:12]
#               - the interpreter's tag (e.g. cpython-311-linux_x86_64),
# so only the first build on a machine pays the few minutes of compiling; later runs install the
# cached wheel in seconds, and do nothing at all when that exact build is already installed.
# With --if-possible, missing build tools (not root, no Debian packages) are reported and the
# script exits 0: the SIP tests then skip instead of the whole run failing.
set -euo pipefail
# The whole script is one brace group, read before it runs: editing or checking out this file
# during a build cannot change what the running build does next.
{

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${1:?usage: build_pjsua2.sh PYTHON [--if-possible]}"
IF_POSSIBLE="${2:-}"
PJ_VERSION=2.17
TARBALL="$HERE/pjproject-$PJ_VERSION.tar.gz"
JOBS="${AMPARO_BUILD_JOBS:-2}"
CACHE_ROOT="${AMPARO_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amparo}/pjsua2"

# Null sound device at run time, no video, G.711 only (8 kHz clock, no resampling); epoll so
# the ioqueue is not capped by select()'s FD_SETSIZE. No speex echo canceller: there is no
# sound device to echo (and with the speex codec disabled its library is not linked).
CONFIGURE_FLAGS=(
  --enable-epoll
  --disable-video --disable-sound --disable-upnp --disable-speex-aec
  --disable-gsm-codec --disable-speex-codec --disable-ilbc-codec --disable-l16-codec
  --disable-g722-codec --disable-g7221-codec --disable-opencore-amr --disable-silk
  --disable-opus --disable-bcg729 --disable-lyra
  --disable-sdl --disable-ffmpeg --disable-v4l2 --disable-openh264 --disable-vpx
  --disable-libyuv --disable-libwebrtc
)
# NDEBUG: a failed pjproject assertion then returns an error (pjsua2 raises Error) instead of
# aborting the process, and with it every call the process holds.
OPT_FLAGS="-fPIC -O2 -DNDEBUG"

say() { echo "sip-engine: $*"; }

[ -x "$(command -v "$PYTHON")" ] || { say "no interpreter at $PYTHON"; exit 1; }
# Absolute (the build changes directory) but not resolved: a venv's python is a symlink.
case "$PYTHON" in
  /*) ;;
  */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;;
esac

(cd "$HERE" && sha256sum --quiet -c "pjproject-$PJ_VERSION.tar.gz.sha256") \
  || { say "pjproject-$PJ_VERSION.tar.gz does not match its sha256"; exit 1; }

tarball_sum="$(cut -d' ' -f1 "$HERE/pjproject-$PJ_VERSION.tar.gz.sha256")"
# What else changes the compiled module: the compiler, SWIG (it writes the wrapper) and the
# headers it is compiled against. A missing tool reads as empty; the build then stops below.
toolchain() {
  c++ --version 2>/dev/null | head -n1 || true
  swig -version 2>/dev/null | grep -i 'version' || true
  dpkg-query -W -f='${Package} ${Version}\n' libssl-dev uuid-dev 2>/dev/null || true
}
config_sum="$( { cat "$HERE/config_site.h" "$HERE/build_pjsua2.sh" "$HERE/make_wheel.py"; toolchain; } \
  | sha256sum | cut -c1-12)"
python_tag="$("$PYTHON" -c 'import sys, sysconfig
print(sys.implementation.cache_tag + "-" + sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
KEY="${tarball_sum:0:12}-${config_sum}-${python_tag}"
CACHE="$CACHE_ROOT/$KEY"

installed_key="$("$PYTHON" -c 'import pjsua2, amparo_pjsua2_build as b; print(b.BUILD_KEY)' \
  2>/dev/null || true)"
if [ "$installed_key" = "$KEY" ]; then
  say "pjsua2 $PJ_VERSION ($KEY) already installed"
  exit 0
fi

install_cached_wheel() {
  local wheel
  wheel="$(ls "$CACHE"/pjsua2-*.whl 2>/dev/null | head -n1 || true)"
  [ -n "$wheel" ] || return 1
  say "installing $(basename "$wheel")"
  # A venv built by uv has no pip: install with the uv given in $UV (make passes it).
  if [ -n "${UV:-}" ]; then
    "$UV" pip install --quiet --python "$PYTHON" --no-index --no-deps --reinstall "$wheel"
  else
    "$PYTHON" -m pip install --quiet --no-index --no-deps --force-reinstall "$wheel"
  fi
  "$PYTHON" -c 'import pjsua2, amparo_pjsua2_build as b; print("sip-engine: pjsua2", b.PJ_VERSION, "max calls", b.MAX_CALLS)'
}

install_cached_wheel && exit 0

missing=""
for tool in cc c++ make swig strip; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
for header in /usr/include/openssl/ssl.h /usr/include/uuid/uuid.h; do
  [ -f "$header" ] || missing="$missing $header"
done
python_include="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$python_include/Python.h" ] || missing="$missing $python_include/Python.h"
if [ -n "$missing" ]; then
  say "cannot build pjsua2, missing:$missing (Debian: build-essential swig libssl-dev uuid-dev python3-dev)"
  [ "$IF_POSSIBLE" = "--if-possible" ] && { say "SIP engine tests will be skipped"; exit 0; }
  exit 1
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
# Another build of the same key may have finished while this one waited for the lock.
install_cached_wheel && exit 0

BUILD="$CACHE/build"
LOG="$CACHE/build.log"
rm -rf "$BUILD"
mkdir -p "$BUILD"
started=$SECONDS
say "building pjproject $PJ_VERSION into $CACHE (log: $LOG); this takes a few minutes once"
set +e
(
  set -e
  tar -xzf "$TARBALL" -C "$BUILD"
  SRC="$BUILD/pjproject-$PJ_VERSION"
  cp "$HERE/config_site.h" "$SRC/pjlib/include/pj/config_site.h"
  cd "$SRC"
  ./configure CFLAGS="$OPT_FLAGS" CXXFLAGS="$OPT_FLAGS" "${CONFIGURE_FLAGS[@]}"
  make dep
  make -j"$JOBS" lib
  cd pjsip-apps/src/swig/python
  make pjsua2_wrap.cpp USE_THREADS=-threads
  mapfile -t cflags < <(make --no-print-directory -f helper.mak cflags)
  mapfile -t ldflags < <(make --no-print-directory -f helper.mak ldflags)
  mapfile -t libs < <(make --no-print-directory -f helper.mak libs | sed 's/^/-l/')
  ext_suffix="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
  # The extension is compiled directly rather than through setup.py so the build does not
  # depend on setuptools being present in the target interpreter.
  c++ -shared "${cflags[@]}" -I"$python_include" pjsua2_wrap.cpp \
    -o "_pjsua2$ext_suffix" "${ldflags[@]}" "${libs[@]}"
  strip --strip-unneeded "_pjsua2$ext_suffix"
  # A missing symbol only shows when the module is loaded: load it before caching the wheel.
  "$PYTHON" -c 'import sys; sys.path.insert(0, "."); import pjsua2; print("pjsua2 loads")'
  # Read the limits back from the compiled headers and libraries, not from config_site.h.
  cat >limits_probe.c <<'EOF'
#include <pjsua-lib/pjsua.h>
#include <stdio.h>
int main(void) {
    printf("PJ_VERSION=%s\n", pj_get_version());
    printf("MAX_CALLS=%d\n", (int)PJSUA_MAX_CALLS);
    printf("MAX_PLAYERS=%d\n", (int)PJSUA_MAX_PLAYERS);
    printf("MAX_RECORDERS=%d\n", (int)PJSUA_MAX_RECORDERS);
    printf("MAX_CONF_PORTS=%d\n", (int)PJSUA_MAX_CONF_PORTS);
    printf("MAX_ACCOUNTS=%d\n", (int)PJSUA_MAX_ACC);
    printf("IOQUEUE_MAX_HANDLES=%d\n", (int)PJ_IOQUEUE_MAX_HANDLES);
    printf("MAX_TRANSACTIONS=%d\n", (int)PJSIP_MAX_TSX_COUNT);
    printf("MAX_DIALOGS=%d\n", (int)PJSIP_MAX_DIALOG_COUNT);
    printf("DEFAULT_CLOCK_RATE=%d\n", (int)PJSUA_DEFAULT_CLOCK_RATE);
    printf("HAS_VIDEO=%d\n", (int)PJMEDIA_HAS_VIDEO);
    printf("IOQUEUE=%s\n", pj_ioqueue_name());
    return 0;
}
EOF
  c++ -x c++ "${cflags[@]}" limits_probe.c -o limits_probe "${ldflags[@]}" "${libs[@]}"
  ./limits_probe >limits.txt
  cat limits.txt
  "$PYTHON" "$HERE/make_wheel.py" --out "$CACHE" --key "$KEY" --limits limits.txt \
    --tarball-sha256 "$tarball_sum" --configure-flags "${CONFIGURE_FLAGS[*]}" \
    --licence "$SRC/COPYING" pjsua2.py "_pjsua2$ext_suffix"
) >"$LOG" 2>&1
status=$?
set -e
if [ "$status" != 0 ]; then
  say "build failed; last lines of $LOG:"
  tail -n 30 "$LOG"
  exit "$status"
fi
rm -rf "$BUILD"
say "built in $((SECONDS - started)) s"
install_cached_wheel
exit 0
}
