//! The escape suite holds: every attempt is contained (as whatever user runs the tests).
use sbd_sandbox::escape::{run_named, run_selftest, table};

#[test]
fn selftest_contains_every_escape() {
    let rows = run_selftest(false).unwrap();
    println!("{}", table(&rows));
    for r in &rows {
        assert_ne!(r.contained, Some(false), "escaped: {r:?}");
    }
    assert!(rows.iter().filter(|r| r.contained == Some(true)).count() >= 10);
}

#[test]
fn loopback_listener_is_unreachable() {
    let r = run_named("connect_loopback_py", false).unwrap();
    assert_eq!(r.contained, Some(true), "{r:?}");
    assert!(r.observed.contains("accepted 0"), "{r:?}");
}
