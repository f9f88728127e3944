//! Registration and rendering (the table is global: each test uses names of its own).

extern crate std;

use alloc::string::String;
use alloc::vec::Vec;

use super::*;

fn page(cores: usize) -> String {
    let mut out = Vec::new();
    render(&mut out, cores);
    String::from_utf8(out).unwrap()
}

#[test]
fn a_counter_registered_on_each_core_is_one_family_with_a_sample_per_core() {
    let c0 = counter(0, "test_hits_total", "Lookups answered.").unwrap();
    let c1 = counter(1, "test_hits_total", "Lookups answered.").unwrap();
    c0.add(3);
    c1.inc();
    c1.inc();
    let g = gauge(1, "test_level", "A level.").unwrap();
    g.set(7);
    g.set(5);
    let p = page(2);
    assert_eq!(p.matches("# TYPE test_hits_total counter\n").count(), 1);
    assert!(p.contains(
        "# HELP test_hits_total Lookups answered.\n# TYPE test_hits_total counter\n\
         test_hits_total{core=\"0\"} 3\ntest_hits_total{core=\"1\"} 2\n"
    ));
    assert!(
        p.contains("# TYPE test_level gauge\ntest_level{core=\"0\"} 0\ntest_level{core=\"1\"} 5\n")
    );
    // Only the cores asked for.
    assert!(!page(1).contains("test_hits_total{core=\"1\"}"));
    assert_eq!((c0.get(), c1.get(), g.get()), (3, 2, 5));
}

#[test]
fn bad_registrations_are_refused() {
    assert_eq!(
        counter(0, "9lives", "x").unwrap_err(),
        RegisterError::BadName
    );
    assert_eq!(counter(0, "", "x").unwrap_err(), RegisterError::BadName);
    assert_eq!(counter(0, "a b", "x").unwrap_err(), RegisterError::BadName);
    assert_eq!(
        counter(0, "test_help", "two\nlines").unwrap_err(),
        RegisterError::BadName
    );
    assert_eq!(
        counter(MAX_CORES, "test_core", "x").unwrap_err(),
        RegisterError::BadCore
    );
    gauge(0, "test_kind", "x").unwrap();
    assert_eq!(
        counter(0, "test_kind", "x").unwrap_err(),
        RegisterError::KindMismatch
    );
    assert!(!page(1).contains("9lives"));
}
