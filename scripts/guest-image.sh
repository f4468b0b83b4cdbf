#!/usr/bin/env bash
# Builds what a tether KVM guest boots from, and prints where it is:
#
#   kernel=<path>   the Debian kernel (/boot/vmlinuz-<version> of linux-image-amd64) as an
#                   uncompressed vmlinux, which QEMU boots through its PVH entry
#   initrd=<path>   an uncompressed initramfs: tether-guest as /init, plus the virtio and ext4
#                   modules of that kernel and the order to load them in (/modules/order)
#   rootfs=<path>   a raw ext4 image of a minimal Debian bookworm (scripts/guest-packages.txt)
#
# Each part is cached under $TETHER_GUEST_CACHE (default ~/.cache/tether/guest) in a directory
# named by a hash of its inputs: the root filesystem by the shell function that builds it and
# the package list, the boot files by the functions that build them, the kernel, the module
# list and the tether-guest binary. A part is rebuilt only when
# one of its inputs changes. Needs root (mmdebstrap in root mode, mknod) and, for the root
# filesystem only, the Debian mirror.
#
# Exit status: 0 built or cached, 3 a prerequisite is missing (the message says how to
# install it), anything else a failure.
#
# Usage: scripts/guest-image.sh [--guest-bin PATH]
#   --guest-bin PATH  use this statically linked tether-guest instead of building it with cargo
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script=$repo/scripts/guest-image.sh
packages_file=$repo/scripts/guest-packages.txt
cache=${TETHER_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether/guest}
suite=bookworm
rootfs_size=2G
modules=(virtio_mmio virtio_blk virtio_console virtio_net virtio-rng ext4)
guest_bin=

die() { echo "guest-image: $*" >&2; exit 1; }
# Exit status 3: a prerequisite is missing (callers such as the tests skip on it).
missing() { echo "guest-image: $*" >&2; exit 3; }

while [ $# -gt 0 ]; do
  case $1 in
    --guest-bin) guest_bin=${2:?--guest-bin needs a path}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$script" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

check_prerequisites() {
  [ "$(id -u)" = 0 ] || missing "must run as root (mmdebstrap root mode and mknod need it); run it with sudo"
  local missing=()
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v modprobe >/dev/null || missing+=(kmod)
  command -v readelf >/dev/null || missing+=(binutils)
  command -v xz >/dev/null || missing+=(xz-utils)
  [ ${#missing[@]} -eq 0 ] || missing "missing tools; install them with: apt-get install -y ${missing[*]}"
}

# The newest /boot/vmlinuz-* whose modules are installed.
find_kernel() {
  local k version
  for k in $(ls -1v /boot/vmlinuz-* 2>/dev/null | sort -rV); do
    version=${k#/boot/vmlinuz-}
    if [ -r "$k" ] && [ -f "/lib/modules/$version/modules.dep" ]; then
      echo "$version"
      return
    fi
  done
  missing "no readable /boot/vmlinuz-* with its modules; install them with: apt-get install -y linux-image-amd64"
}

build_guest_bin() {
  local target_dir=$repo/target/guest
  echo "guest-image: building tether-guest (static)" >&2
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release \
    --manifest-path "$repo/Cargo.toml" -p tether-guest \
    --target x86_64-unknown-linux-gnu --target-dir "$target_dir" >&2
  guest_bin=$target_dir/x86_64-unknown-linux-gnu/release/tether-guest
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

build_rootfs() {
  local out=$1 tmp packages
  tmp=$(mktemp -d "$cache/.rootfs.XXXXXX")
  packages=$(grep -v '^#' "$packages_file" | grep -v '^$' | paste -sd, -)
  echo "guest-image: building the $suite root filesystem with mmdebstrap" >&2
  mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$tmp/root" >&2
  echo tether >"$tmp/root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\ttether\n::1\tlocalhost ip6-localhost\n' >"$tmp/root/etc/hosts"
  # QEMU user-mode networking's DNS forwarder.
  echo 'nameserver 10.0.2.3' >"$tmp/root/etc/resolv.conf"
  mkfs.ext4 -q -F -L tether-root -d "$tmp/root" "$tmp/rootfs.ext4" "$rootfs_size" >&2
  mkdir "$tmp/out"
  mv "$tmp/rootfs.ext4" "$tmp/out/"
  rm -rf "$tmp/root"
  mv "$tmp/out" "$out"
  rmdir "$tmp"
}

build_boot() {
  local out=$1 version=$2 tmp staging mod line file name
  tmp=$(mktemp -d "$cache/.boot.XXXXXX")
  staging=$tmp/initrd
  mkdir -p "$staging/modules" "$staging/dev" "$staging/proc" "$staging/sys" "$staging/newroot" "$tmp/out"
  mknod -m 600 "$staging/dev/console" c 5 1
  install -m 755 "$guest_bin" "$staging/init"
  : >"$staging/modules/order"
  for mod in "${modules[@]}"; do
    while read -r line; do
      file=${line#insmod }
      file=${file%% *}
      name=$(basename "$file")
      grep -qxF "$name" "$staging/modules/order" && continue
      cp "$file" "$staging/modules/$name"
      echo "$name" >>"$staging/modules/order"
    done < <(modprobe -S "$version" --show-depends "$mod" | grep '^insmod ')
  done
  (cd "$staging" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) >"$tmp/out/initrd.cpio"
  extract_vmlinux "/boot/vmlinuz-$version" "$tmp/out/vmlinux"
  rm -rf "$staging"
  mv "$tmp/out" "$out"
  rmdir "$tmp"
}

# The ELF kernel inside a bzImage: the xz stream after the setup code, decompressed (xz
# reports the bytes after the stream as trailing garbage; the ELF check decides).
extract_vmlinux() {
  local image=$1 out=$2 offset
  offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$image" | head -1 | cut -d: -f1)
  [ -n "$offset" ] || die "$image holds no xz-compressed kernel; this script knows only Debian's xz bzImage"
  tail -c +$((offset + 1)) "$image" | xz -dc >"$out" 2>/dev/null || true
  [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] || die "could not extract vmlinux from $image"
}

main() {
  check_prerequisites
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  local version rootfs_dir boot_dir
  version=$(find_kernel)
  [ -n "$guest_bin" ] || build_guest_bin
  [ -x "$guest_bin" ] || die "tether-guest binary '$guest_bin' is missing or not executable"
  if LC_ALL=C readelf -l "$guest_bin" | grep -q 'Requesting program interpreter'; then
    die "'$guest_bin' is dynamically linked; it runs as the guest's /init, so build it with RUSTFLAGS='-C target-feature=+crt-static'"
  fi

  # Each key hashes the code that builds the part (not the whole script), so editing the
  # rest of this script does not rebuild the root filesystem.
  rootfs_dir=$cache/rootfs-$(hash_of <(declare -f build_rootfs) "$packages_file" <(echo "$suite $rootfs_size"))
  [ -d "$rootfs_dir" ] || build_rootfs "$rootfs_dir"
  boot_dir=$cache/boot-$(hash_of <(declare -f build_boot extract_vmlinux) "/boot/vmlinuz-$version" \
    "$guest_bin" <(echo "$version ${modules[*]}"))
  [ -d "$boot_dir" ] || build_boot "$boot_dir" "$version"

  echo "kernel=$boot_dir/vmlinux"
  echo "initrd=$boot_dir/initrd.cpio"
  echo "rootfs=$rootfs_dir/rootfs.ext4"
}

main
