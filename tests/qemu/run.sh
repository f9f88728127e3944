#!/usr/bin/env bash
# tests/qemu/run.sh: the in-QEMU half of the test suite (TESTING.md rows 4 and the boot paths).
#
# Boots the in-guest test binary over machine x CPU model x core count, provokes faults and
# panics and checks the reports and exit codes, boots through GRUB (Multiboot2), and checks
# the default appliance's ready line. Every QEMU run has a hard timeout (qemu-run.sh kills it
# by PID). Prints one line per case (`NAME ... ok|FAILED|skipped (reason)`) and closes with
# `N passed, N failed, N skipped`.
#
# Usage: tests/qemu/run.sh [--quick]   (--quick: a smaller matrix for local iteration)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
run="$root/qemu-run.sh"
logs="$root/target/qemu-tests"
mkdir -p "$logs"
quick=0
[ "${1:-}" = --quick ] && quick=1

passed=0
failed=0
skipped=0
failures=()

# Build once; every case below boots prebuilt images.
(cd "$root" && cargo build -q --release --target x86_64-unknown-none -p guest-tests -p hello -p nic-tests -p httpd) || {
    echo "building the guest images failed"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
}
tests_img="$root/target/x86_64-unknown-none/release/guest-tests"
hello_img="$root/target/x86_64-unknown-none/release/hello"

# case NAME EXPECTED_EXIT 'grep -E patterns separated by |||' qemu-run.sh args...
case_run() {
    local name="$1" want_rc="$2" patterns="$3"
    shift 3
    local log="$logs/${name}.log"
    "$run" --timeout 120 --net none "$@" >"$log" 2>&1
    local rc=$?
    local why=""
    [ "$rc" = "$want_rc" ] || why="exit $rc, want $want_rc"
    if [ -z "$why" ]; then
        local IFS=$'\n'
        for p in $(printf '%s' "$patterns" | sed 's/|||/\n/g'); do
            grep -aqE -- "$p" "$log" || { why="no line matching /$p/"; break; }
        done
    fi
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "qemu $name ... ok"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "qemu $name ... FAILED ($why; log: target/qemu-tests/${name}.log)"
        tail -n 15 "$log" | sed 's/^/    | /'
    fi
}

if [ "$quick" = 1 ]; then
    smps="1 4"
else
    smps="1 2 4 8"
fi

for machine in q35 microvm; do
    for cpu in max qemu64; do
        for smp in $smps; do
            # -cpu max has 1 GiB pages: give it 2 GiB so a whole RAM gigabyte gets one.
            mem=512M
            [ "$cpu" = max ] && mem=2G
            case_run "suite-$machine-$cpu-smp$smp" 0 \
                "corenet: ready cores=$smp |||^[0-9]+ passed, 0 failed$" \
                --kernel "$tests_img" --machine "$machine" --cpu "$cpu" --smp "$smp" --mem "$mem"
        done
    done
done

case_run fault-readonly-code 4 'EXCEPTION #PF \(vector 14\) on core 1: error=0x3 .*cr2=0x' \
    --kernel "$tests_img" --smp 2 --cmdline test=fault
case_run fault-stack-guard 4 'EXCEPTION #DF \(vector 8\) on core 1' \
    --kernel "$tests_img" --smp 2 --cmdline test=guard
case_run panic-reported 3 'PANIC on core 1 at tests/guest/src/tests.rs:[0-9]+:[0-9]+: provoked panic' \
    --kernel "$tests_img" --smp 2 --cmdline test=panic
case_run heap-exhaustion-reported 3 'PANIC on core 1 .*out of memory on core 1: request 1048576 bytes \(align 1\), heap 4194304 bytes, [0-9]+ used, [0-9]+ free' \
    --kernel "$tests_img" --smp 2 --cmdline "test=oom heap=4M"
case_run panic-microvm-qemu64 3 'PANIC on core 3 ' \
    --kernel "$tests_img" --smp 4 --machine microvm --cpu qemu64 --cmdline test=panic
case_run bad-cmdline 5 'BOOT FAILED: kernel command line: log="loud" is invalid: expected one of' \
    --kernel "$hello_img" --cmdline "log=loud"
# The default appliance stops with a boot error, not a panic, on a network it cannot use.
httpd_img="$root/target/x86_64-unknown-none/release/httpd"
case_run httpd-no-nic 5 'BOOT FAILED: httpd: network: no network device' \
    --kernel "$httpd_img" --smp 2 --cmdline "ip=10.0.0.2/24"
case_run httpd-bad-gateway 5 'BOOT FAILED: httpd: network: the gateway .* is not a unicast address' \
    --kernel "$httpd_img" --smp 2 --cmdline "ip=10.0.0.2/24 gw=10.0.0.255"
case_run cores-limit 0 'corenet: ready cores=1 |||^[0-9]+ passed, 0 failed$' \
    --kernel "$tests_img" --smp 2 --cmdline cores=1
case_run hello-default-appliance 0 'hello from core 1 of 2|||corenet: ready cores=2 boot_us=[0-9]+ app=hello ' \
    --kernel "$hello_img" --smp 2 --cmdline "run_for=0"
case_run hello-microvm-4 0 'corenet: ready cores=4 .*protocol=pvh' \
    --kernel "$hello_img" --machine microvm --smp 4 --cmdline "run_for=0"

case_run suite-microvm-acpi-smp4 0 'corenet: ready cores=4 |||^[0-9]+ passed, 0 failed$' \
    --kernel "$tests_img" --machine microvm --acpi on --smp 4 --mem 2G

# NIC steering against Linux in a private network namespace (needs root for netns and taps).
# script_case NAME SCRIPT ARGS...: a case that is a whole script (its last line is the summary).
script_case() {
    local name="$1" script="$2"
    shift 2
    local log="$logs/${name}.log"
    if "$script" "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "qemu $name ... ok ($(grep -a 'nic-tests: PASS' "$log" | sed 's/.*steering=/steering=/'; tail -n 1 "$log" | grep -v ': ok$'))"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "qemu $name ... FAILED (log: target/qemu-tests/${name}.log)"
        tail -n 15 "$log" | sed 's/^/    | /'
    fi
}
nic_case() {
    local name="$1"
    shift
    script_case "$name" "$root/tests/qemu/nic-rss.sh" "$@"
}
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    nic_case nic-rss-q35-2q 2 q35 2
    nic_case nic-rss-q35-4q 4 q35 4
    nic_case nic-rss-microvm-2q 2 microvm 2
    nic_case nic-device-steering-q35-2q 2 q35 2 rss=off
    nic_case nic-software-steering-q35-1q 2 q35 1
    script_case nic-burst-recovery-2q "$root/tests/repro/burst-wedge.sh" 2
    if [ "$quick" = 0 ]; then
        nic_case nic-rss-microvm-4q 4 microvm 4
        nic_case nic-software-steering-microvm-1q 4 microvm 1
    fi
elif [ "${CI:-}" = true ]; then
    failed=$((failed + 1))
    echo "qemu nic-rss ... FAILED (needs root and iproute2 for network namespaces)"
else
    skipped=$((skipped + 1))
    echo "qemu nic-rss ... skipped (needs root: network namespaces and taps)"
fi

if command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null; then
    case_run grub-multiboot2 0 'corenet: ready cores=2 .*protocol=multiboot2|||^[0-9]+ passed, 0 failed$' \
        --kernel "$tests_img" --smp 2 --grub
elif [ "${CI:-}" = true ]; then
    failed=$((failed + 1))
    echo "qemu grub-multiboot2 ... FAILED (grub-mkrescue/xorriso missing; .ci/run installs them)"
else
    skipped=$((skipped + 1))
    echo "qemu grub-multiboot2 ... skipped (install grub-pc-bin grub-common xorriso mtools)"
fi

# issue 16: httpd under idle=adaptive halts and wakes by every source (tap case needs root).
script_case idle-adaptive "$root/tests/qemu/idle.sh"

echo
[ "$failed" -gt 0 ] && echo "failed cases: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
