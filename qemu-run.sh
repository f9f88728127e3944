#!/usr/bin/env bash
# qemu-run.sh: build a corenet appliance and boot it in QEMU. Run with --help for the options.
#
# Exit status: the guest's own exit code (0 = success) when it ends through isa-debug-exit;
# 124 when --timeout expired; 125 when QEMU itself failed; 126 when the guest reset or powered
# off without an exit code (a triple fault, with -no-reboot); 2 for bad options.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=x86_64-unknown-none

app=httpd
smp=2
mem=512M
machine=q35
accel=auto
cpu=""
net=auto
tap=corenet0
dgram=10101:10102
nic_opts=""
vfio=""
queues=""
ring=256
pcap=""
gdb=0
cmdline=""
timeout_s=0
profile=release
kernel=""
initrd=""
grub=0
acpi=""
dry_run=0
fwd_http="${CORENET_FWD_HTTP:-8080}"
fwd_echo="${CORENET_FWD_ECHO:-7777}"
extra=()
# ---- issue 13: QEMU binary and NIC model ----
qemu_bin=""
nic=virtio

usage() {
    cat <<'EOF'
Usage: ./qemu-run.sh [options] [-- extra QEMU arguments]

Builds a corenet appliance (release by default) and boots it in QEMU. The serial console is
this terminal; the script's exit status is the guest's exit code.

Options:
  --app NAME        appliance to boot (a package under apps/ or tests/); default: httpd
  --kernel PATH     boot this prebuilt image instead of building (used by `cargo run`)
  --initrd FILE     pass an initial ramdisk (for booting other kernels, e.g. the Linux baseline)
  --smp N           vCPUs (default 2)
  --mem SIZE        guest memory, QEMU syntax (default 512M)
  --machine M       q35 (PCIe, qboot firmware when present) or microvm (virtio-mmio); default q35
  --accel A         auto | kvm | tcg. auto picks KVM only when /dev/kvm is usable AND the host
                    CPU advertises vmx or svm; otherwise TCG (multi-threaded). Default auto
  --cpu MODEL       QEMU CPU model (default: max under TCG, host under KVM)
  --acpi on|off     microvm only: firmware tables. off (default) = MP table + virtio-mmio
                    devices on the kernel command line, as Firecracker does; on = ACPI (MADT)
  --net MODE        auto | passt | user | tap | dgram | none (default auto: passt when
                            installed, else user; as root with apt, passt is installed)
                      passt: user-mode networking through passt (QEMU -netdev stream), the
                            same ports and guest addresses as user, without slirp's listen
                            backlog of 1 that stalls bursts of new connections ~1 s
                      user: QEMU's slirp user-mode networking; forwards 127.0.0.1:8080 -> guest:80 and
                            127.0.0.1:7777 -> guest:7 (TCP and UDP). Override the host ports
                            with CORENET_FWD_HTTP / CORENET_FWD_ECHO. --app kv also forwards
                            127.0.0.1:6379 -> guest:6379 (CORENET_FWD_KV).
                      tap:  a (multi-queue) tap NAME with host side 10.0.0.1/24; the guest gets
                            ip=10.0.0.2/24 gw=10.0.0.1 unless --cmdline sets ip=. Needs root;
                            meant to be run inside a network namespace. Removed on exit.
                      dgram: Ethernet frames over UDP on 127.0.0.1 (QEMU -netdev dgram) to a
                            user-space wire such as tests/e2e/faultwire.py; guest ip=10.0.0.2/24
  --dgram L:R       ports for --net dgram: QEMU listens on L, sends to R (default 10101:10102)
  --tap NAME        tap device name for --net tap (default corenet0)
  --queues N        NIC queue pairs (default: one per vCPU for tap, 1 for user)
  --ring N          --net tap: virtio-net rx_queue_size/tx_queue_size: 256 (default, QEMU's
                    own), 512 or 1024. QEMU 7.2 keeps a tap's transmit queue at 256 whatever
                    is asked. 1024 did not cut 10 000-connection timeouts here and slowed
                    the Linux guest (docs/BENCHMARKS.md), hence not the default
  --nic-opts STR    extra virtio-net device properties, e.g. rss=off (comma-separated)
  --nic MODEL       virtio (default) | igb. igb is QEMU's Intel 82576 model (QEMU >= 8.0, found
                    by tests/qemu/need-qemu.sh: CORENET_QEMU, a private copy, or PATH; else
                    it fetches Debian bookworm-backports' QEMU 10 into target/qemu-backports,
                    unless CORENET_QEMU_BACKPORTS=0). Exit status 77 (SKIP) when no such QEMU
  --qemu PATH       the qemu-system-x86_64 to run (default: CORENET_QEMU, else the one on
                    PATH; for --nic igb the first QEMU >= 8 need-qemu.sh finds)
  --vfio ADDR       pass a host PCI device through with vfio-pci (e.g. 0000:03:00.0)
  --pcap FILE       capture the guest NIC's traffic to FILE (QEMU filter-dump)
  --gdb             start paused with a gdb stub on tcp::1234
  --cmdline STR     kernel command line (corenet keys: log= heap= dma= cores=; apps add theirs)
  --timeout SECS    kill QEMU after SECS seconds (exit status 124); default: none
  --debug           debug build instead of release
  --grub            boot through GRUB (Multiboot2) from a generated ISO instead of PVH -kernel
                    (needs grub-pc-bin, xorriso and mtools)
  --dry-run         print the QEMU command line and exit
  -h, --help        this text

Examples:
  ./qemu-run.sh                                  # the default appliance (httpd) on 2 vCPUs
  ./qemu-run.sh --smp 4 --machine microvm
  ./qemu-run.sh --app guest-tests --smp 4 --timeout 120
EOF
}

die() { echo "qemu-run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --app) app="${2:?}"; shift 2 ;;
        --kernel) kernel="${2:?}"; shift 2 ;;
        --initrd) initrd="${2:?}"; shift 2 ;;
        --smp) smp="${2:?}"; shift 2 ;;
        --mem) mem="${2:?}"; shift 2 ;;
        --machine) machine="${2:?}"; shift 2 ;;
        --accel) accel="${2:?}"; shift 2 ;;
        --cpu) cpu="${2:?}"; shift 2 ;;
        --net) net="${2:?}"; shift 2 ;;
        --tap) tap="${2:?}"; shift 2 ;;
        --dgram) dgram="${2:?}"; shift 2 ;;
        --queues) queues="${2:?}"; shift 2 ;;
        --ring) ring="${2:?}"; shift 2 ;;
        --nic-opts) nic_opts="${2:?}"; shift 2 ;;
        --nic) nic="${2:?}"; shift 2 ;;
        --qemu) qemu_bin="${2:?}"; shift 2 ;;
        --vfio) vfio="${2:?}"; shift 2 ;;
        --pcap) pcap="${2:?}"; shift 2 ;;
        --gdb) gdb=1; shift ;;
        --cmdline) cmdline="${2-}"; shift 2 ;;
        --timeout) timeout_s="${2:?}"; shift 2 ;;
        --debug) profile=debug; shift ;;
        --grub) grub=1; shift ;;
        --acpi) acpi="${2:?}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *)
            # `cargo run` passes the built image as a bare path.
            if [ -z "$kernel" ] && [ -f "$1" ]; then kernel="$1"; shift; else die "unknown option $1 (see --help)"; fi ;;
    esac
done

[[ "$smp" =~ ^[0-9]+$ ]] && [ "$smp" -ge 1 ] || die "--smp wants a positive number, got '$smp'"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '$timeout_s'"
case "$machine" in q35|microvm) ;; *) die "--machine must be q35 or microvm, got '$machine'" ;; esac
case "$net" in auto|user|passt|tap|dgram|none) ;; *) die "--net must be auto, user, passt, tap, dgram or none, got '$net'" ;; esac
case "$accel" in auto|kvm|tcg) ;; *) die "--accel must be auto, kvm or tcg, got '$accel'" ;; esac
case "$nic" in virtio|igb) ;; *) die "--nic must be virtio or igb, got '$nic'" ;; esac
[ "$nic" = igb ] && [ "$machine" != q35 ] && die "--nic igb is a PCIe device: use --machine q35"
case "${acpi:-off}" in on|off) ;; *) die "--acpi must be on or off, got '$acpi'" ;; esac
[ -n "$acpi" ] && [ "$machine" != microvm ] && die "--acpi applies to --machine microvm only (q35 always has ACPI)"
if [ -z "$queues" ]; then
    if [ "$net" = tap ]; then queues="$smp"; else queues=1; fi
fi
[[ "$queues" =~ ^[0-9]+$ ]] && [ "$queues" -ge 1 ] || die "--queues wants a positive number, got '$queues'"
case "$ring" in 256|512|1024) ;; *) die "--ring must be 256, 512 or 1024, got '$ring'" ;; esac
case "$net" in auto|user|passt) [ "$queues" -gt 1 ] && die "user-mode networking has one queue pair; use --net tap for --queues $queues" ;; esac

# ---- toolchain and QEMU on a fresh machine ----
ensure_tools() {
    if [ -z "$kernel" ]; then
        command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
        if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
            echo "qemu-run.sh: adding the $target Rust target" >&2
            rustup target add "$target" >&2
        fi
    fi
    if ! command -v qemu-system-x86_64 >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "qemu-run.sh: installing qemu-system-x86" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >&2 ||
                { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 >&2; }
        else
            die "QEMU is missing: run 'sudo apt-get install -y --no-install-recommends qemu-system-x86'"
        fi
    fi
}
ensure_tools

# ---- which QEMU (issue 13): igb needs QEMU >= 8.0 ----
# shellcheck source=tests/qemu/need-qemu.sh
. "$root/tests/qemu/need-qemu.sh"
if [ -n "$qemu_bin" ]; then
    export CORENET_QEMU="$qemu_bin"
fi
if [ "$nic" = igb ]; then
    # Asked for igb: fetch bookworm-backports' QEMU 10 privately when no QEMU >= 8 is around
    # (CORENET_QEMU_BACKPORTS=0 refuses the download).
    export CORENET_QEMU_BACKPORTS="${CORENET_QEMU_BACKPORTS:-1}"
    if ! need_qemu 8; then
        echo "qemu-run.sh: SKIP: --nic igb: $NEED_QEMU_REASON" >&2
        exit 77
    fi
    qemu_bin="$QEMU_BIN"
fi
# virtio runs use CORENET_QEMU when set (the whole suite on another QEMU), else PATH's.
[ -n "$qemu_bin" ] || qemu_bin="${CORENET_QEMU:-$(command -v qemu-system-x86_64 || echo qemu-system-x86_64)}"
# Firmware of the chosen QEMU's own build (need-qemu.sh's private copy has a share/ beside bin/).
qemu_share="$(dirname "$(dirname "$qemu_bin")")/share/qemu"
[ -d "$qemu_share" ] || qemu_share=/usr/share/qemu

# ---- user-mode networking: passt when it is there, else QEMU's built-in slirp ----
# QEMU's slirp listens on each forwarded host port with a backlog of 1 (`ss -ltn` shows
# Send-Q 1): a burst of connections (wrk -c32) overflows it, the host kernel drops SYNs
# (TcpExtListenOverflows), and those clients wait for their SYN retransmission, 1 s then 3 s:
# the ~800 ms p99 and the wrk timeouts of issue 16. passt (Debian's `passt`, QEMU >= 7.2
# through `-netdev stream`) forwards the same ports without that limit.
if [ "$net" = auto ]; then
    if command -v passt >/dev/null; then
        net=passt
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "$dry_run" = 0 ] &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends passt >/dev/null 2>&1; then
        echo "qemu-run.sh: installed passt (user-mode networking without slirp's connection backlog of 1)" >&2
        net=passt
    else
        net=user
        [ "$dry_run" = 1 ] || echo "qemu-run.sh: passt not found, using QEMU's slirp (bursts of new connections may stall ~1 s: apt-get install passt)" >&2
    fi
fi

# ---- build ----
if [ -z "$kernel" ]; then
    flags=(--target "$target" -p "$app")
    [ "$profile" = release ] && flags+=(--release)
    (cd "$root" && cargo build -q "${flags[@]}") || die "build of '$app' failed"
    kernel="$root/target/$target/$profile/$app"
fi
[ -f "$kernel" ] || die "no kernel image at $kernel"

# ---- accelerator ----
kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; }
if [ "$accel" = auto ]; then
    if kvm_usable; then accel=kvm; else accel=tcg; fi
fi
if [ "$accel" = kvm ]; then
    kvm_usable || echo "qemu-run.sh: warning: KVM requested but the host CPU has no vmx/svm; guests run very slowly" >&2
    accel_args=(-accel kvm)
    [ -n "$cpu" ] || cpu=host
else
    accel_args=(-accel tcg,thread=multi)
    [ -n "$cpu" ] || cpu=max
fi

# ---- machine ----
args=(-nodefaults -no-reboot -display none -serial stdio -m "$mem" -smp "$smp" -cpu "$cpu" "${accel_args[@]}")
if [ "$machine" = q35 ]; then
    args+=(-M q35)
    [ -f "$qemu_share/qboot.rom" ] && [ "$grub" = 0 ] && args+=(-bios "$qemu_share/qboot.rom")
    nic_dev=virtio-net-pci
    [ "$nic" = igb ] && nic_dev=igb
else
    # microvm: no PCI. Without ACPI, QEMU describes the CPUs in an MP table and announces each
    # virtio-mmio device on the kernel command line (virtio_mmio.device=), like Firecracker.
    args+=(-M "microvm,pit=on,pic=off,rtc=on,acpi=${acpi:-off}")
    # Modern (version 2) virtio-mmio, as Firecracker and Cloud Hypervisor offer; QEMU's
    # default is the legacy layout, which corenet's driver does not support.
    args+=(-global virtio-mmio.force-legacy=false)
    nic_dev=virtio-net-device
fi
args+=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)

# ---- network ----
tap_created=0
passt_pid=""
passt_dir=""
cleanup() {
    if [ "$tap_created" = 1 ]; then ip link del "$tap" 2>/dev/null || true; fi
    if [ -n "${qemu_pid:-}" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null || true; fi
    if [ -n "$passt_pid" ] && kill -0 "$passt_pid" 2>/dev/null; then kill "$passt_pid" 2>/dev/null || true; fi
    if [ -n "$passt_dir" ]; then rm -rf "$passt_dir"; fi
}
trap cleanup EXIT
# A harness that stops this script stops QEMU too (timeout runs it in its own process group).
trap 'exit 143' TERM
trap 'exit 130' INT
# The ports forwarded from the host's loopback in user and passt mode: "HOSTPORT:GUESTPORT/proto".
user_fwds=("${fwd_http}:80/tcp" "${fwd_echo}:7/tcp" "${fwd_echo}:7/udp")
[ "$app" = proxy ] && user_fwds+=("${CORENET_FWD_PROXY:-8000}:8000/tcp")
[ "$app" = kv ] && user_fwds+=("${CORENET_FWD_KV:-6379}:6379/tcp")
case "$net" in
    passt)
        passt_args=(-f -q -1 -a 10.0.2.15 -n 24 -g 10.0.2.2)
        for f in "${user_fwds[@]}"; do
            if [ "${f##*/}" = tcp ]; then passt_args+=(-t "127.0.0.1/${f%/*}"); else passt_args+=(-u "127.0.0.1/${f%/*}"); fi
        done
        passt_dir="$(mktemp -d)"
        # passt refuses to keep root and runs as nobody: its socket directory must be nobody's.
        [ "$(id -u)" = 0 ] && chown nobody "$passt_dir"
        args+=(-netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$passt_dir/sock")
        args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01${nic_opts:+,$nic_opts}")
        echo "qemu-run.sh: passt forwards from 127.0.0.1 (host:guest/protocol): ${user_fwds[*]}" >&2
        # The same addressing as QEMU's slirp: the guest is 10.0.2.15, the gateway (the host) 10.0.2.2.
        case " $cmdline " in *" ip="*) ;; *) cmdline="ip=10.0.2.15/24 gw=10.0.2.2${cmdline:+ $cmdline}" ;; esac
        ;;
    user)
        fwd="hostfwd=tcp:127.0.0.1:${fwd_http}-:80,hostfwd=tcp:127.0.0.1:${fwd_echo}-:7,hostfwd=udp:127.0.0.1:${fwd_echo}-:7"
        # The proxy appliance listens on 8000 (its listen= default).
        [ "$app" = proxy ] && fwd="$fwd,hostfwd=tcp:127.0.0.1:${CORENET_FWD_PROXY:-8000}-:8000"
        # The kv appliance listens on 6379 (Redis's port).
        if [ "$app" = kv ]; then
            fwd="$fwd,hostfwd=tcp:127.0.0.1:${CORENET_FWD_KV:-6379}-:6379"
            echo "qemu-run.sh: forwarding 127.0.0.1:${CORENET_FWD_KV:-6379} -> guest:6379" >&2
        fi
        args+=(-netdev "user,id=n0,$fwd")
        args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01${nic_opts:+,$nic_opts}")
        echo "qemu-run.sh: forwarding 127.0.0.1:${fwd_http} -> guest:80 and 127.0.0.1:${fwd_echo} -> guest:7 (tcp+udp)" >&2
        # QEMU's user-mode network: the guest is 10.0.2.15, the gateway (the host) 10.0.2.2.
        case " $cmdline " in *" ip="*) ;; *) cmdline="ip=10.0.2.15/24 gw=10.0.2.2${cmdline:+ $cmdline}" ;; esac
        ;;
    tap)
        [ "$(id -u)" = 0 ] || die "--net tap needs root (run it inside a network namespace: ip netns exec NS ./qemu-run.sh ...)"
        if ! ip link show "$tap" >/dev/null 2>&1; then
            if [ "$queues" -gt 1 ]; then
                ip tuntap add dev "$tap" mode tap multi_queue
            else
                ip tuntap add dev "$tap" mode tap
            fi
            ip addr add 10.0.0.1/24 dev "$tap"
            ip link set "$tap" up
            tap_created=1
        fi
        args+=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off,queues=$queues")
        # Ring sizes are virtio-net properties; QEMU's igb has its own fixed rings.
        rings=",rx_queue_size=$ring,tx_queue_size=$ring"
        [ "$nic" = igb ] && rings=""
        if [ "$queues" -gt 1 ] && [ "$nic" = igb ]; then
            # QEMU's igb takes its queue count from the multi-queue tap; RSS is the guest's to set.
            args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01${nic_opts:+,$nic_opts}")
        elif [ "$queues" -gt 1 ]; then
            mq=mq=on
            case ",$nic_opts," in *,rss=*) ;; *) mq="$mq,rss=on,hash=on" ;; esac
            [ "$machine" = q35 ] && mq="$mq,vectors=$((2 * queues + 2))"
            args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01,$mq$rings${nic_opts:+,$nic_opts}")
        else
            args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01$rings${nic_opts:+,$nic_opts}")
        fi
        case " $cmdline " in *" ip="*) ;; *) cmdline="ip=10.0.0.2/24 gw=10.0.0.1${cmdline:+ $cmdline}" ;; esac
        ;;
    dgram)
        [[ "$dgram" =~ ^[0-9]+:[0-9]+$ ]] || die "--dgram wants LOCAL:REMOTE ports, got '$dgram'"
        args+=(-netdev "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=${dgram%%:*},remote.type=inet,remote.host=127.0.0.1,remote.port=${dgram##*:}")
        args+=(-device "$nic_dev,netdev=n0,mac=52:54:00:c0:4e:01${nic_opts:+,$nic_opts}")
        case " $cmdline " in *" ip="*) ;; *) cmdline="ip=10.0.0.2/24 gw=10.0.0.1${cmdline:+ $cmdline}" ;; esac
        ;;
    none) ;;
esac
[ -n "$pcap" ] && [ "$net" != none ] && args+=(-object "filter-dump,id=dump0,netdev=n0,file=$pcap")
[ -n "$vfio" ] && args+=(-device "vfio-pci,host=$vfio")
[ "$gdb" = 1 ] && args+=(-s -S)

# ---- kernel: PVH -kernel, or GRUB + Multiboot2 from an ISO ----
if [ "$grub" = 1 ]; then
    command -v grub-mkrescue >/dev/null || die "--grub needs grub-mkrescue: apt-get install -y grub-pc-bin grub-common xorriso mtools"
    iso_dir="$(mktemp -d)"
    mkdir -p "$iso_dir/boot/grub"
    cp "$kernel" "$iso_dir/boot/corenet.elf"
    printf 'set timeout=0\nset default=0\nserial --unit=0 --speed=115200\nterminal_output serial\nmenuentry corenet {\n  multiboot2 /boot/corenet.elf %s\n  boot\n}\n' "$cmdline" > "$iso_dir/boot/grub/grub.cfg"
    iso="${kernel}.iso"
    grub-mkrescue -o "$iso" "$iso_dir" >/dev/null 2>&1 || die "grub-mkrescue failed"
    rm -rf "$iso_dir"
    args+=(-cdrom "$iso" -boot d)
else
    args+=(-kernel "$kernel")
    [ -n "$initrd" ] && args+=(-initrd "$initrd")
    [ -n "$cmdline" ] && args+=(-append "$cmdline")
fi
args+=("${extra[@]}")

if [ "$dry_run" = 1 ]; then
    printf '%q ' "$qemu_bin" "${args[@]}"; echo
    exit 0
fi

# ---- passt: started last, so that a dry run or a failed build leaves none behind ----
if [ "$net" = passt ]; then
    passt -s "$passt_dir/sock" "${passt_args[@]}" >/dev/null 2>"$passt_dir.log" </dev/null &
    passt_pid=$!
    for _ in $(seq 50); do
        [ -S "$passt_dir/sock" ] && break
        kill -0 "$passt_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -S "$passt_dir/sock" ]; then
        grep -v syslog "$passt_dir.log" >&2 || true
        rm -f "$passt_dir.log"
        die "passt did not start (a forwarded port in use? set CORENET_FWD_HTTP / CORENET_FWD_ECHO, or use --net user)"
    fi
    rm -f "$passt_dir.log"
fi

# ---- run, with a hard timeout, and map QEMU's status back to the guest's ----
set +e
# QEMU keeps this script's stdin (the serial console's input) although it runs in the
# background, which is what lets the script stop it on exit.
if [ "$timeout_s" -gt 0 ]; then
    timeout --foreground -k 5 "$timeout_s" "$qemu_bin" "${args[@]}" <&0 &
else
    "$qemu_bin" "${args[@]}" <&0 &
fi
qemu_pid=$!
wait "$qemu_pid"
rc=$?
qemu_pid=""
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "qemu-run.sh: timed out after ${timeout_s}s" >&2
    exit 124
fi
if [ "$rc" -ge 33 ] && [ $((rc % 2)) = 1 ]; then
    exit $(((rc - 33) / 2))
fi
if [ "$rc" = 0 ]; then
    echo "qemu-run.sh: the guest reset or powered off without an exit code (triple fault?)" >&2
    exit 126
fi
echo "qemu-run.sh: QEMU failed (status $rc)" >&2
exit 125
