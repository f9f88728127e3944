//! Replays every committed fuzz input (corpus seeds and past crashes) through its harness,
//! as an ordinary test: a regression input that fails again fails `cargo test`.

use std::fs;
use std::path::PathBuf;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file()),
        );
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = corenet_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .expect("a harness of that name");
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for {target}: fuzz/corpus/{target}/ is empty"
    );
    for f in &files {
        let data = fs::read(f).expect("readable input");
        eprintln!("replay {target}: {}", f.display());
        run(&data);
    }
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<_> = corenet_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "frames", "http", "cmdline", "bootinfo", "stack", "virtio", "ixgbe", "kv", "pcicap"
        ]
    );
}

#[test]
fn frames() {
    replay("frames");
}

#[test]
fn http() {
    replay("http");
}

#[test]
fn cmdline() {
    replay("cmdline");
}

#[test]
fn bootinfo() {
    replay("bootinfo");
}

#[test]
fn stack() {
    replay("stack");
}

#[test]
fn virtio() {
    replay("virtio");
}

#[test]
fn ixgbe() {
    replay("ixgbe");
}

#[test]
fn kv() {
    replay("kv");
}

#[test]
fn pcicap() {
    replay("pcicap");
}
