#!/usr/bin/env bash
# fuzz/run.sh: builds corenet's libFuzzer targets (stable Rust, no cargo-fuzz) and runs each
# for a bounded time. Exits 1 on the first crash, printing the crashing input's path and
# base64; the input is also kept under target/fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [--time SECS | --total SECS] [--merge] [--build-only] [TARGET...]
#
#   --time SECS   run each target SECS seconds (default 60)
#   --total SECS  share SECS seconds equally among the targets run (CI: --total 300)
#   --merge       afterwards, add the inputs that found new coverage to fuzz/corpus/<target>/
#                 (libFuzzer -merge=1; review and prune before committing: keep corpora small)
#   --build-only  build the targets and stop
#   TARGET...     some of: frames http cmdline bootinfo stack virtio ixgbe kv pcicap (default: all)
#
# Coverage comes from LLVM's SanitizerCoverage, switched on through stable rustc flags
# (-Cpasses=sancov-module plus -Cllvm-args); libfuzzer-sys builds libFuzzer itself with the
# system C++ compiler (g++). Inputs found along the way go to target/fuzz/corpus/<target>/
# (scratch, not committed); the committed corpus and the regression inputs are read-only
# seeds. No `--cfg fuzzing`: smoltcp would skip checksum checks, and a crash must replay
# under plain `cargo test` (fuzz/tests/replay.rs); the harnesses build valid checksums.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all=(frames http cmdline bootinfo stack virtio ixgbe kv pcicap)
per=60
total=""
merge=0
build_only=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) per="$2"; shift 2 ;;
        --total) total="$2"; shift 2 ;;
        --merge) merge=1; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz/run.sh: unknown target $t" >&2; exit 2; }
done
if [ -n "$total" ]; then
    per=$(( total / ${#targets[@]} ))
    [ "$per" -ge 1 ] || per=1
fi

host=$(rustc -vV | sed -n 's/^host: //p')
out="$PWD/target/fuzz"
export CARGO_TARGET_DIR="$out/build"
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cforce-frame-pointers=yes"
echo "== fuzz: building ${targets[*]}"
# --target keeps RUSTFLAGS off build scripts and proc macros.
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --manifest-path fuzz/libfuzzer/Cargo.toml --target "$host" "${bins[@]}"
[ "$build_only" = 0 ] || exit 0

for t in "${targets[@]}"; do
    scratch="$out/corpus/$t"
    artifacts="$out/artifacts/$t"
    mkdir -p "$scratch" "$artifacts" "fuzz/corpus/$t" "fuzz/regressions/$t"
    log="$out/$t.log"
    echo "== fuzz: $t for ${per}s"
    # One libFuzzer process per 120 s at most: the stack harness leaks the mesh's rings
    # (~10 KiB a run, see docs/FUZZING.md), and a fresh process starts from the corpus
    # directories where the last one stopped.
    left=$per
    touch "$out/.start-$t"
    while [ "$left" -gt 0 ]; do
        slice=$(( left < 120 ? left : 120 ))
        left=$(( left - slice ))
        set +e
        "$CARGO_TARGET_DIR/$host/release/$t" "$scratch" "fuzz/corpus/$t" "fuzz/regressions/$t" \
            -max_total_time="$slice" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" >"$log" 2>&1
        rc=$?
        set -e
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" | tr '\n' ' ' || true
        echo
        if [ "$rc" != 0 ]; then
            echo "== fuzz: $t FAILED (exit $rc); last lines of $log:"
            tail -n 40 "$log"
            crash=$(find "$artifacts" -type f -newer "$out/.start-$t" | head -n 1)
            if [ -n "$crash" ]; then
                echo "crashing input: $crash"
                echo "base64: $(base64 -w0 "$crash")"
                echo "replay: $CARGO_TARGET_DIR/$host/release/$t $crash"
                echo "keep it: cp $crash fuzz/regressions/$t/ (then cargo test -p corenet-fuzz)"
            fi
            exit 1
        fi
    done
    if [ "$merge" = 1 ]; then
        "$CARGO_TARGET_DIR/$host/release/$t" -merge=1 "fuzz/corpus/$t" "$scratch" >>"$log" 2>&1
        echo "merged: $(ls "fuzz/corpus/$t" | wc -l) inputs in fuzz/corpus/$t"
    fi
done
echo "== fuzz: ${#targets[@]} targets, ${per}s each, no crash"
