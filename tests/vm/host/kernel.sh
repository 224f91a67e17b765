# shellcheck shell=bash
# The guest kernel: Debian's current amd64 kernel package, resolved at run time (the ABI number
# moves and old packages leave the archive), unpacked once per version into the cache.
# Sourced by tests/vm/run. kernel_prepare sets VM_KVER, VM_KERNEL (uncompressed vmlinux) and
# VM_MODDIR (the .ko files plus load-order, the insmod order modprobe would use).

# Modules the guest loads: WireGuard, veth for the lab, and everything arcway's nftables table
# uses (conntrack marks, fib, snat and masquerade, named counters through nft_objref, held
# classes' rejects, cgroup matchers) plus conntrack's netlink interface. The guest has no
# modprobe: a module missing here makes arcway's table fail to load. mac80211_hwsim brings the
# 802.11 stack (rfkill, cfg80211, mac80211) with its two simulated radios (radios=2 is its
# default); ccm, ctr and cmac are the ciphers WPA2-PSK with CCMP needs.
VM_MODULES=${ARCWAY_VM_MODULES:-wireguard veth nf_tables nft_ct nft_fib_inet nft_chain_nat nft_nat nft_masq nft_objref nft_reject_inet nft_socket nf_conntrack_netlink mac80211_hwsim ccm ctr cmac}

kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# The kernel boots the ELF vmlinux directly, which spares the guest decompressing itself under
# emulation. vmlinuz is a boot stub followed by the compressed ELF: find each candidate magic,
# decompress from there and keep the first result that is an ELF file.
extract_vmlinux() {
  local in=$1 out=$2 entry name magic off
  local -a decomp
  for entry in 'xz|\xfd7zXZ\x00' 'zstd|\x28\xb5\x2f\xfd' 'gzip|\x1f\x8b\x08' 'lz4|\x02\x21\x4c\x18'; do
    name=${entry%%|*} magic=${entry#*|}
    case $name in
      xz) decomp=(xz -dc --single-stream) ;;
      zstd) decomp=(zstd -dcq) ;;
      gzip) decomp=(gzip -dc) ;;
      lz4) decomp=(lz4 -dcq) ;;
    esac
    command -v "${decomp[0]}" >/dev/null || continue
    while read -r off; do
      tail -c "+$((off + 1))" "$in" | "${decomp[@]}" >"$out" 2>/dev/null || true
      if [[ $(od -An -tx1 -N4 "$out" | tr -d ' \n') == 7f454c46 ]]; then
        return 0
      fi
    done < <(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1)
  done
  echo "vm: no compressed ELF kernel found in $in" >&2
  return 1
}

# Unpacks package $1 into the new cache entry $2 (a temporary directory renamed into place later).
kernel_unpack() {
  local pkg=$1 dir=$2 kver=${1#linux-image-} deb mod path
  (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
  deb=$(echo "$dir"/*.deb)
  mkdir -p "$dir/pkg" "$dir/modules"
  dpkg-deb -x "$deb" "$dir/pkg"
  extract_vmlinux "$dir/pkg/boot/vmlinuz-$kver" "$dir/vmlinux"
  # The package ships no modules.dep; depmod writes it so modprobe can give the load order.
  depmod -b "$dir/pkg" "$kver"
  : >"$dir/modules/load-order"
  for mod in $VM_MODULES; do
    modprobe -d "$dir/pkg" -S "$kver" --show-depends "$mod" |
      awk '$1 == "insmod" { print $2 }' >"$dir/deps"
    [[ -s $dir/deps ]] || { echo "vm: module $mod not found in $pkg" >&2; return 1; }
    while read -r path; do
      grep -qxF "${path##*/}" "$dir/modules/load-order" && continue
      cp "$path" "$dir/modules/"
      echo "${path##*/}" >>"$dir/modules/load-order"
    done <"$dir/deps"
  done
  echo "$pkg" >"$dir/package"
  echo "$VM_MODULES" >"$dir/module-list"
  rm -rf "$dir/pkg" "$dir/deps" "$deb"
}

# Sets VM_KVER, VM_KERNEL and VM_MODDIR, downloading only when the version or module list changed.
kernel_prepare() {
  local cache=$1 pkg entry tmp lockfd
  mkdir -p "$cache"
  exec {lockfd}>"$cache/.lock"
  flock "$lockfd"
  pkg=$(kernel_package)
  if [[ -z $pkg ]]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
    pkg=$(kernel_package)
  fi
  if [[ -z $pkg ]]; then
    # Offline: the cached kernel is better than no test at all, and the log says so.
    pkg=$(cat "$cache/current" 2>/dev/null || true)
    [[ -n $pkg ]] || { echo "vm: cannot resolve the package linux-image-amd64 depends on" >&2; return 1; }
    echo "vm: package index unavailable, using cached $pkg" >&2
  fi
  entry=$cache/${pkg#linux-image-}
  if [[ ! -f $entry/complete || $(cat "$entry/module-list") != "$VM_MODULES" ]]; then
    echo "vm: fetching $pkg" >&2
    tmp=$(mktemp -d "$cache/.new.XXXXXX")
    if ! kernel_unpack "$pkg" "$tmp"; then
      rm -rf "$tmp"
      return 1
    fi
    touch "$tmp/complete"
    rm -rf "$entry"
    mv "$tmp" "$entry"
    # Older versions are never booted again.
    find "$cache" -mindepth 1 -maxdepth 1 -type d ! -path "$entry" -exec rm -rf {} +
    echo "$pkg" >"$cache/current"
  fi
  exec {lockfd}>&-
  # shellcheck disable=SC2034 # outputs, read by the caller
  VM_KVER=${pkg#linux-image-}
  # shellcheck disable=SC2034
  VM_KERNEL=$entry/vmlinux
  # shellcheck disable=SC2034
  VM_MODDIR=$entry/modules
}
