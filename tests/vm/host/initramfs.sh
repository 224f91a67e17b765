# shellcheck shell=bash
# The guest's root file system: busybox applets, iproute2, wireguard-tools, nft, hostapd,
# wpa_supplicant, iw and iputils' ping from the host with their shared libraries, the kernel
# modules, the arcway binary and the scenario scripts.
# Sourced by tests/vm/run.

# Copies host binary $1 to $3/$2 and every shared library it needs to the same path inside $3.
copy_binary() {
  local src=$1 dest=$2 root=$3 lib
  mkdir -p "$root/${dest%/*}"
  cp -L "$src" "$root/$dest"
  for lib in $(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
    [[ -e $root$lib ]] && continue
    mkdir -p "$root${lib%/*}"
    cp -L "$lib" "$root$lib"
  done
}

# Builds the gzip'd newc archive $1 from the module directory $2, arcway binary $3, guest dir $4.
build_initramfs() {
  local out=$1 moddir=$2 arcway=$3 guest=$4 root applet
  root=$(mktemp -d "${out%/*}/root.XXXXXX")
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc/arcway,var/lib/arcway,proc,sys,dev,run,tmp,lab}
  ln -s ../run "$root/var/run"
  cp /bin/busybox "$root/bin/busybox"
  # Links, not the busybox binary itself, so names resolve through PATH everywhere. No `ip` link:
  # iproute2's ip (netns, wireguard) must win when another program looks `ip` up in PATH.
  while read -r applet; do
    case $applet in bin/busybox | sbin/ip | linuxrc) continue ;; esac
    [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
  done < <(busybox --list-full)
  copy_binary "$(command -v ip)" bin/ip "$root"
  copy_binary "$(command -v wg)" usr/bin/wg "$root"
  copy_binary "$(command -v nft)" usr/sbin/nft "$root"
  local tool
  for tool in hostapd hostapd_cli wpa_supplicant wpa_cli iw; do
    copy_binary "$(PATH=/usr/sbin:/sbin:$PATH command -v "$tool")" "usr/sbin/$tool" "$root"
  done
  # Beside busybox's ping applet: iputils' ping keeps 100 echoes a second and stamps each reply.
  copy_binary "$(PATH=/usr/bin:/bin:$PATH command -v ping)" usr/lib/iputils/ping "$root"
  cp "$moddir"/* "$root/lib/modules/"
  # Debug info is most of a dev build's size and nothing reads it in the guest.
  strip -o "$root/usr/bin/arcway" "$arcway" 2>/dev/null || cp "$arcway" "$root/usr/bin/arcway"
  install -m 0755 "$guest/init" "$root/init"
  install -m 0644 "$guest"/*.sh "$root/lab/"
  install -m 0644 "$guest"/*.yaml "$root/etc/arcway/"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1 >"$out"
  rm -rf "$root"
}
