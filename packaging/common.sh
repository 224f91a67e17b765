# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# Shared by the packaging scripts: paths, the targets we ship, and small helpers.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

# Everything the packaging scripts build (release and cross builds, the generator, the cross
# engine tests) goes to one target directory; set PKG_TARGET_DIR apart from CARGO_TARGET_DIR to
# keep them from waiting on the lock of other builds.
pkg_target_dir=${PKG_TARGET_DIR:-${CARGO_TARGET_DIR:-$repo/target}}
# Packages land here.
pkg_out_dir=${PKG_OUT_DIR:-$pkg_target_dir/packages}

# Rust target, OpenWrt architecture, Debian architecture, qemu-user runner (empty: native).
pkg_targets=(
  "x86_64-unknown-linux-musl x86_64 amd64 -"
  "aarch64-unknown-linux-musl aarch64_cortex-a53 arm64 qemu-aarch64-static"
  "armv7-unknown-linux-musleabihf arm_cortex-a7_neon-vfpv4 armhf qemu-arm-static"
)

# armv7 musl std ships only with this toolchain; the others build with the default one.
armv7_toolchain=1.93.0

# toolchain_for TRIPLE: "+1.93.0" or nothing.
toolchain_for() {
  case "$1" in
    armv7-*) echo "+$armv7_toolchain" ;;
    *) echo "" ;;
  esac
}

# Code generation flags for every crate of a build for TRIPLE (empty: none). They go through
# CARGO_TARGET_<TRIPLE>_RUSTFLAGS, so the release build and the cross engine tests agree.
# - armv7: Thumb-2 code, which makes the binary about a quarter smaller than A32 code does.
#   Every ARMv7-A core runs Thumb-2, the ABI and the CPU baseline stay those of the target, and
#   std (built for A32) interworks with it. rustc calls the feature unstable and warns;
#   thumbv7neon-unknown-linux-musleabihf would give the same code without the warning, but it
#   requires NEON.
rustflags_for() {
  case "$1" in
    armv7-*) echo "-C target-feature=+thumb-mode" ;;
    *) echo "" ;;
  esac
}

# Options for the shipped binary of TRIPLE only, given to its final crate, where fat LTO
# generates all of the code (the dependencies are not rebuilt for them):
# - LLVM's machine outliner, which AArch64 runs by default at opt-level "z" but x86 does not,
#   moves repeated instruction sequences into shared functions.
# - lld's identical code folding merges functions that compiled to the same bytes. Together
#   4.4 % smaller on x86_64, whose code is the least dense of the three and whose shipped
#   binary tests/pkg/release-lab runs through the lab; on aarch64 the folding and the `log`
#   calls compiled out (Cargo.toml) took 0.6 % off the binary.
release_args_for() {
  case "$1" in
    x86_64-*) echo "-C llvm-args=-enable-machine-outliner=always -C link-arg=--icf=all" ;;
    aarch64-*) echo "-C link-arg=--icf=all" ;;
    *) echo "" ;;
  esac
}

# Link arguments of the shipped binary only (`cargo rustc` passes them to the final crate, so
# test builds keep their unwind tables and the dependencies are not rebuilt):
# - RELR packs the static PIE's relative relocations (230 KB of .rela.dyn on x86_64) into a
#   bitmap; musl's self-relocation at start-up has read it since 1.2.4 (Rust ships 1.2.5).
# - packaging/release.ld drops the unwind tables, which panic = "abort" never uses.
release_link_args=(
  -C link-arg=-zpack-relative-relocs
  -C "link-arg=-T$repo/packaging/release.ld"
  -C link-arg=--no-eh-frame-hdr
)

# rustflags_env TRIPLE: "CARGO_TARGET_<TRIPLE>_RUSTFLAGS=FLAGS" for env(1), or nothing.
rustflags_env() {
  local flags
  flags=$(rustflags_for "$1")
  [ -z "$flags" ] || echo "CARGO_TARGET_$(echo "$1" | tr 'a-z-' 'A-Z_')_RUSTFLAGS=$flags"
}

# The size target: each OpenWrt package (.ipk and .apk) for the router architectures
# (aarch64, armv7) at most 2.0 MiB, since flash holds the compressed package. The packages
# built on the maintained netlink, WireGuard, YAML and HTTP crates do not meet it (aarch64
# 2.79 MiB, armv7 2.49 MiB), and those crates alone weigh 1.69 and 1.41 MiB compressed
# (bench/size-floor/run), so the enforced limit is a 3.0 MiB ceiling against runaway growth,
# and every package over the target is reported with its gap.
pkg_size_target=2097152
pkg_size_limit=${PKG_SIZE_LIMIT:-3145728}
# OpenWrt architectures the budget applies to (x86_64 is printed, not held to it).
pkg_budget_archs="aarch64_cortex-a53 arm_cortex-a7_neon-vfpv4"

# size_mib BYTES: "3.42"
size_mib() { awk -v s="$1" 'BEGIN { printf "%.2f", s / 1048576 }'; }

# release_bin TRIPLE
release_bin() { echo "$pkg_target_dir/$1/release/arcway"; }

pkg_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1
}

# Fixed timestamps make the archives reproducible: the last commit's time.
source_date_epoch() {
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    echo "$SOURCE_DATE_EPOCH"
  else
    git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0
  fi
}

say() { printf '%s: %s\n' "$(basename "$0")" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}
# check DESCRIPTION COMMAND...: runs COMMAND, counts and reports the result.
checks_passed=0
check() {
  local what=$1
  shift
  if "$@"; then
    checks_passed=$((checks_passed + 1))
  else
    fail "$what"
  fi
}

# OpenWrt keeps /var in RAM, so the credentials and the budget counters move to /etc/arcway
# (kept across sysupgrade) and the status socket to /var/run. openwrt/Makefile applies the same two substitutions.
openwrt_config() {
  sed -e 's|/var/lib/arcway/|/etc/arcway/|' -e 's|/run/arcway/|/var/run/arcway/|' \
    "$repo/examples/arcway.yaml"
}

# Dependencies of the OpenWrt package (see openwrt/Makefile for why each is there), in the
# .ipk's Depends form; the .apk takes the same names separated by spaces.
openwrt_depends="kmod-wireguard, nftables-json, kmod-nft-core, kmod-nft-nat, kmod-nft-fib, kmod-nft-socket, kmod-nf-conntrack-netlink"
# The feed Makefile's conffiles: the whole directory.
openwrt_conffiles="/etc/arcway/"

# openwrt_apk ARCH: the .apk's path. The SDK names it arcway-VERSION.apk, in a directory per
# architecture (an index made by `apk mkndx` with its default name pattern finds it only
# under that name).
openwrt_apk() { echo "$pkg_out_dir/openwrt/$1/arcway-$(pkg_version)-r1.apk"; }
# openwrt_ipk ARCH: the .ipk's path, named as the SDK names it, in the same directory.
openwrt_ipk() { echo "$pkg_out_dir/openwrt/$1/arcway_$(pkg_version)-r1_$1.ipk"; }

# build_gen: builds packaging/gen (man pages, completions, apk v3 writer and reader) and prints
# the binary's path.
build_gen() {
  CARGO_TARGET_DIR="$pkg_target_dir" cargo build --locked -q -p arcway-gen >&2
  echo "$pkg_target_dir/debug/arcway-gen"
}
