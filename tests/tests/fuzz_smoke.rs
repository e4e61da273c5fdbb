//! The bounded smoke version of `make fuzz`: every parser for a moment, with a fixed seed
//! (so a failure here reproduces) and a fresh one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corebound_tests::fuzz::{run, TARGETS};

#[test]
fn every_parser_survives_a_short_fuzz_run() {
    let crash_dir = std::env::temp_dir().join("corebound-fuzz-smoke");
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    for seed in [20261202, clock] {
        for target in TARGETS {
            let report = run(target, Duration::from_millis(300), seed, &crash_dir);
            assert!(report.inputs > 0, "{}: no input ran", target.name);
            assert!(
                report.crashes.is_empty(),
                "{} panicked (seed {seed}): {:?}",
                target.name,
                report.crashes
            );
        }
    }
}
