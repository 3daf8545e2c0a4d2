#!/usr/bin/env bash
# Builds the mediasoup C++ worker from the sources shipped inside the npm package,
# linking against Debian's system libraries instead of meson-downloaded ones.
#
# Why this exists: mediasoup's own postinstall either downloads a prebuilt worker
# from the internet or runs meson with "wrap" subprojects that download their
# sources. This machine reaches only the npm registry and Debian's archive, so
# both routes fail. The worker's sources are in the npm tarball, and every
# library it needs (abseil, openssl, libuv, libsrtp2, usrsctp, nlohmann-json) is
# packaged by Debian, so we build it ourselves:
#
#  1. copy node_modules/mediasoup/worker to a scratch dir (never edit node_modules);
#  2. replace each meson subproject with a tiny stub directory whose meson.build
#     exposes the variables mediasoup reads (`*_dep`, and libraries used in
#     `link_whole`) backed by `dependency()` on the system package;
#  3. lower the `meson_version` floor (Debian 12 ships meson 1.0.1, the file asks
#     for >= 1.1.0, and nothing the worker uses needs 1.1);
#  4. apply our fixes to the worker's sources, scripts/mediasoup-worker-patches/*.patch
#     (each says what it fixes and how it was seen);
#  5. meson setup --wrap-mode=nodownload, ninja, and cache the binary outside the
#     repo, keyed by mediasoup version (the directory) and by the patches (a
#     sha256 stamp beside the binary), so later runs skip the ~6 minute build.
#
# Output: progress on stderr; the absolute path of the worker binary on stdout.
# Usage:  scripts/build-mediasoup-worker.sh [--force | --check]
#         (--check: exit 0 when the cached binary is usable, 1 when a build is due)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pkg="$root/node_modules/mediasoup"
[ -f "$pkg/package.json" ] || { echo "mediasoup is not installed (run npm ci first)" >&2; exit 1; }
version=$(node -p "require('$pkg/package.json').version")
cache_dir="${MEDIASOUP_WORKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cohost-gateway}/mediasoup-worker-$version"
bin="$cache_dir/mediasoup-worker"
shopt -s nullglob
patches=("$root"/scripts/mediasoup-worker-patches/*.patch)
shopt -u nullglob
patch_stamp=$(cat /dev/null "${patches[@]}" | sha256sum | cut -d' ' -f1)

# A cached binary is reused unless a shared library it needs has gone missing
# or it was built with other patches.
cached_ok() {
  [ -x "$bin" ] && ! ldd "$bin" | grep -q 'not found' && [ "$(cat "$cache_dir/patches.sha256" 2>/dev/null)" = "$patch_stamp" ]
}
if [ "${1:-}" = "--check" ]; then
  cached_ok
  exit $?
fi
if [ "${1:-}" != "--force" ] && cached_ok; then
  echo "[worker] cached mediasoup-worker $version at $bin" >&2
  echo "$bin"
  exit 0
fi

echo "[worker] building mediasoup-worker $version from npm sources (takes ~6 minutes on 2 cores)" >&2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp -r "$pkg/worker" "$scratch/worker"
src="$scratch/worker"

# Step 3: Debian 12's meson is 1.0.1.
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" "$src/meson.build"

# Step 2: one stub subproject per `subproject()` call, in the directory the
# matching .wrap file names, so meson picks the local directory and never
# consults the (download-only) wrap.
stub() { # stub <wrap-name> <meson.build body> [meson_options.txt body]
  local dir
  dir=$(sed -n 's/^directory *= *//p' "$src/subprojects/$1.wrap")
  mkdir -p "$src/subprojects/$dir"
  printf '%s\n' "$2" > "$src/subprojects/$dir/meson.build"
  [ -z "${3:-}" ] || printf '%s\n' "$3" > "$src/subprojects/$dir/meson_options.txt"
}
# link_whole only needs a library target to name; it is never built because the
# only target using link_whole (libmediasoup-worker) has build_by_default: false.
empty_lib="static_library('%s', [])"

stub openssl "project('openssl', 'c')
openssl_dep = dependency('openssl')
libcrypto_lib = $(printf "$empty_lib" crypto_stub)
libssl_lib = $(printf "$empty_lib" ssl_stub)"

stub nlohmann_json "project('nlohmann_json', 'cpp')
nlohmann_json_dep = dependency('nlohmann_json')"

stub libuv "project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = $(printf "$empty_lib" uv_stub)" \
"option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)"

# Debian installs srtp.h under /usr/include/srtp2/, mediasoup includes <srtp.h>.
stub libsrtp2 "project('libsrtp2', 'c')
libsrtp2_dep = declare_dependency(
  dependencies: dependency('libsrtp2'),
  include_directories: include_directories('/usr/include/srtp2'))
libsrtp2 = $(printf "$empty_lib" srtp2_stub)" \
"option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')"

stub usrsctp "project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
usrsctp = $(printf "$empty_lib" usrsctp_stub)" \
"option('sctp_build_programs', type: 'boolean', value: false)"

stub abseil-cpp "project('abseil-cpp', 'cpp')
absl_container_dep = dependency('absl_flat_hash_map')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = dependency('absl_optional')
absl_container_lib = $(printf "$empty_lib" absl_stub)"

# Catch2 only feeds the worker's own unit tests, which we do not build.
stub catch2 "project('catch2', 'cpp')
catch2_dep = declare_dependency()"

# Step 4.
for p in "${patches[@]}"; do
  # No fuzz: after a mediasoup upgrade a hunk must apply exactly or the build stops.
  patch -p1 -s --forward --batch --fuzz=0 -d "$src" < "$p" || { echo "[worker] patch $(basename "$p") does not apply" >&2; exit 1; }
  echo "[worker] applied $(basename "$p")" >&2
done

# Step 5.
cd "$src"
meson setup build --wrap-mode=nodownload --buildtype release -Db_ndebug=true >"$scratch/meson.log" 2>&1 \
  || { cat "$scratch/meson.log" >&2; exit 1; }
echo "[worker] configured; compiling" >&2
# Every 25th ninja line is shown as progress; on failure, the log's tail.
ninja -C build mediasoup-worker 2>&1 | tee "$scratch/ninja.log" | awk 'NR % 25 == 0 { print "[worker] " $0 > "/dev/stderr"; fflush() }'
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  tail -n 40 "$scratch/ninja.log" >&2
  echo "[worker] compile failed" >&2
  exit 1
fi

mkdir -p "$cache_dir"
install -m 0755 build/mediasoup-worker "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$patch_stamp" > "$cache_dir/patches.sha256"
echo "[worker] built $bin" >&2
echo "$bin"
