#!/usr/bin/env bash
# bench/linux-guest/build.sh: build the Linux benchmark guest from Debian packages only.
#
# Output (printed as KEY=VALUE lines on stdout, everything else goes to stderr):
#   KERNEL=target/linux-guest/out/vmlinuz    the kernel of linux-image-cloud-amd64
#   INITRD=target/linux-guest/out/initrd.img busybox-static + nginx + redis-server + their ldd
#                                            libraries +
#                                            the virtio-pci/virtio-net modules + init
#   CMDLINE=...                              kernel arguments to pass besides ip=/gw=
# Packages come from the host's apt sources (Debian's archive) with `apt-get download` and are
# unpacked with `dpkg-deb -x` under the cache; no package is installed on the host. The result
# is rebuilt only when a package version or one of this folder's files changes.
#
# Usage: bench/linux-guest/build.sh [--force] [--cache DIR] [--kernel cloud|generic]
#   --kernel generic: Debian's linux-image-amd64 with the igb module as well (the cloud kernel
#                     has no Intel NIC drivers), for the igb benchmarks; cached apart.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache=""
flavour=cloud
force=0
while [ $# -gt 0 ]; do
    case "$1" in
        --force) force=1; shift ;;
        --cache) cache="${2:?}"; shift 2 ;;
        --kernel) flavour="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$flavour" in
    cloud) meta=linux-image-cloud-amd64; [ -n "$cache" ] || cache="$root/target/linux-guest" ;;
    generic) meta=linux-image-amd64; [ -n "$cache" ] || cache="$root/target/linux-guest-generic" ;;
    *) echo "build.sh: --kernel must be cloud or generic, got $flavour" >&2; exit 2 ;;
esac
log() { echo "linux-guest/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Kernel arguments: serial console, quiet boot, and a kernel panic (init died) ends QEMU
# through -no-reboot instead of hanging.
CMDLINE="console=ttyS0 quiet panic=-1"
# Modules the guest needs, by name; dependencies are added below from each module's modinfo.
want_modules=(virtio_pci virtio_net)
[ "$flavour" = generic ] && want_modules+=(igb)

for t in apt-get apt-cache dpkg-deb gzip sha256sum; do
    command -v "$t" >/dev/null || die "$t not found (this script needs a Debian/Ubuntu host)"
done
debs="$cache/debs"
out="$cache/out"
mkdir -p "$debs" "$out"

# ---- which packages, at which versions ----
# The kernel: linux-image-cloud-amd64 is a metapackage; its Depends names the versioned image.
kernel_pkg() { apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'; }
kpkg="$(kernel_pkg || true)"
if [ -z "$kpkg" ]; then
    log "apt lists empty or stale: apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
    kpkg="$(kernel_pkg || true)"
    [ -n "$kpkg" ] || die "cannot resolve $meta"
fi

# nginx's and Redis's shared libraries come from their Depends (and theirs), library packages
# only; ldd decides below which files of them go into the initramfs. Bounded: 4 levels.
# Debian's redis-tools holds the Redis binary (redis-check-rdb; redis-server is a link to it:
# the binary picks its role by the name it runs under).
lib_deps() { apt-cache depends --no-recommends --no-suggests "$@" 2>/dev/null |
    awk '($1 == "Depends:" || $1 == "PreDepends:") && $2 ~ /^(lib|zlib)/ { print $2 }' | sort -u; }
pkgs=(busybox-static nginx redis-tools)
level=(nginx redis-tools)
for _ in 1 2 3 4; do
    next=()
    for p in $(lib_deps "${level[@]}"); do
        case " ${pkgs[*]} " in *" $p "*) ;; *) pkgs+=("$p"); next+=("$p") ;; esac
    done
    [ "${#next[@]}" -gt 0 ] || break
    level=("${next[@]}")
done
pkgs=("$kpkg" "${pkgs[@]}")

# The exact .deb files apt would fetch; refuse anything that is not Debian's archive.
# Stale lists name versions the archive no longer holds (an installed library newer than the
# lists, or a superseded security update): refresh them once and ask again.
if ! uris="$(apt-get download --print-uris "${pkgs[@]}" 2>/dev/null)"; then
    log "apt-get download --print-uris failed: apt-get update, then again"
    apt-get update -q >&2 || die "apt-get update failed"
    uris="$(apt-get download --print-uris "${pkgs[@]}" 2>/dev/null)" ||
        die "apt-get download --print-uris failed for: ${pkgs[*]}"
fi
files=()
while read -r uri file _; do
    uri="${uri//\'/}"
    case "$uri" in
        http://deb.debian.org/*|https://deb.debian.org/*|http://security.debian.org/*|https://security.debian.org/*|http://ftp.*.debian.org/*|https://ftp.*.debian.org/*) ;;
        *) die "refusing $file: not from Debian's archive ($uri)" ;;
    esac
    files+=("$file")
done <<< "$uris"
[ "${#files[@]}" = "${#pkgs[@]}" ] || die "expected ${#pkgs[@]} .deb files, apt names ${#files[@]}"

# ---- cache check ----
stamp="$( { printf '%s\n' "${files[@]}" "$CMDLINE" "${want_modules[@]}";
            sha256sum "$here/build.sh" "$here/init" "$here/nginx.conf" "$here/../../apps/httpd/static/index.html" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)"
emit() {
    echo "KERNEL=$out/vmlinuz"
    echo "INITRD=$out/initrd.img"
    echo "CMDLINE=$CMDLINE"
}
if [ "$force" = 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
   [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
    log "up to date ($out)"
    emit
    exit 0
fi

# ---- download (only what is missing) and unpack ----
missing=()
# apt lists the files in its own order: the package name is the file name up to the first `_`.
for f in "${files[@]}"; do [ -f "$debs/$f" ] || missing+=("${f%%_*}"); done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get download ${missing[*]}"
    # apt's _apt user cannot write into root's cache folder; it then downloads as root and says so.
    (cd "$debs" && apt-get download -q "${missing[@]}" 2>&1 | grep -v 'unsandboxed' >&2) || true
fi
for f in "${files[@]}"; do [ -f "$debs/$f" ] || die "download of $f failed"; done

x="$cache/x"
rm -rf "$x"
mkdir -p "$x"
for f in "${files[@]}"; do dpkg-deb -x "$debs/$f" "$x"; done

kver="$(ls "$x/lib/modules" | head -n1)"
[ -n "$kver" ] && [ -f "$x/boot/vmlinuz-$kver" ] || die "no kernel in $kpkg"

# ---- initramfs tree ----
s="$cache/initramfs"
rm -rf "$s"
mkdir -p "$s"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc/nginx,srv/www,lib/modules,var/log/nginx,var/lib/nginx}
cp "$x/bin/busybox" "$s/bin/busybox"
# Applet links (busybox-static is a static binary: running it on the host to list them is safe).
for a in $("$s/bin/busybox" --list-full); do
    [ -e "$s/$a" ] || ln -s /bin/busybox "$s/$a"
done
cp "$here/init" "$s/init"
chmod 755 "$s/init"

# nginx, redis-server and exactly the shared objects ldd lists, resolved with the unpacked loader
# and libraries (not the host's), copied to the same paths.
ld="$x/lib64/ld-linux-x86-64.so.2"
[ -e "$ld" ] || die "no dynamic loader in libc6"
libpath="$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu"
mkdir -p "$s/lib64" "$s/lib/x86_64-linux-gnu" "$s/usr/lib/x86_64-linux-gnu"
cp -L "$ld" "$s/lib64/ld-linux-x86-64.so.2"
: > "$out/ldd.txt"
with_libs() { # SRC (in the unpacked tree) DEST (in the initramfs)
    local ldd_out lib rel
    cp "$1" "$s/$2"
    ldd_out="$("$ld" --library-path "$libpath" --list "$1")" || die "ldd of $1 failed"
    echo "$ldd_out" | grep -q 'not found' && die "$2 needs a library no package gave: $ldd_out"
    for lib in $(echo "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
        rel="${lib#"$x"/}"
        [ "$rel" != "$lib" ] || die "ldd resolved $lib outside the unpacked packages"
        mkdir -p "$s/$(dirname "$rel")"
        cp -L "$lib" "$s/$rel"
    done
    { echo "# $2"; echo "$ldd_out"; } >> "$out/ldd.txt"
}
with_libs "$x/usr/sbin/nginx" usr/sbin/nginx
[ -f "$x/usr/bin/redis-check-rdb" ] || die "no Redis binary in redis-tools"
with_libs "$x/usr/bin/redis-check-rdb" usr/bin/redis-server

cp "$here/nginx.conf" "$s/etc/nginx/nginx.conf"
cp "$here/../../apps/httpd/static/index.html" "$s/srv/www/index.html"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$s/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$s/etc/group"
chmod 755 "$s/srv" "$s/srv/www"; chmod 644 "$s/srv/www/index.html"

# Kernel modules: each wanted module after its dependencies (from the .ko's modinfo section).
declare -A seen=()
order=()
ko_path() { find "$x/lib/modules/$kver/kernel" -name "$1.ko" | head -n1; }
add_module() {
    local m="$1" depth="$2" f deps d
    [ -n "${seen[$m]:-}" ] && return 0
    [ "$depth" -lt 8 ] || die "module dependency chain too deep at $m"
    f="$(ko_path "$m")"
    if [ -z "$f" ]; then
        grep -q "/$m.ko\$" "$x/lib/modules/$kver/modules.builtin" 2>/dev/null && { seen[$m]=1; return 0; }
        die "module $m not in $kpkg"
    fi
    deps="$(tr '\0' '\n' < "$f" | grep -a '^depends=' | head -n1 | cut -d= -f2 | tr ',' ' ')"
    for d in $deps; do add_module "$d" $((depth + 1)); done
    seen[$m]=1
    order+=("$m")
    cp "$f" "$s/lib/modules/$m.ko"
}
for m in "${want_modules[@]}"; do add_module "$m" 0; done
printf '%s\n' "${order[@]}" > "$s/etc/modules.order"

# ---- pack ----
(cd "$s" && find . | LC_ALL=C sort | "$s/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -6 > "$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
cp "$x/boot/vmlinuz-$kver" "$out/vmlinuz"
{
    echo "kernel $kver ($kpkg)"
    printf 'deb %s\n' "${files[@]}"
    echo "modules ${order[*]}"
} > "$out/manifest.txt"
echo "$stamp" > "$out/stamp"
log "built: kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1), modules: ${order[*]}"
emit
