//! `make fuzz`: every parser for `FUZZ_SECONDS` (default 120) each, with generated and
//! mutated inputs (see `corebound_tests::fuzz`). Prints inputs per second and totals per
//! parser; exits non-zero when any input made a parser panic.
//!
//! Options: `FUZZ_SECONDS`, `FUZZ_SEED` (default: the clock; printed, to reproduce a run),
//! `FUZZ_TARGETS` (comma-separated names, default all).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corebound_tests::fuzz::{run, TARGETS};

fn main() -> ExitCode {
    let seconds: f64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(120.0);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let only: Option<Vec<String>> = std::env::var("FUZZ_TARGETS")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|t| t.trim().to_string()).collect());
    let crash_dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| corebound_tests::repo_root().join("target"))
        .join("fuzz-crashes");
    println!("fuzzing {seconds} s per parser, seed {seed} (FUZZ_SEED={seed} reproduces this run)");
    println!(
        "{:<24} {:>12} {:>10} {:>12} {:>8}",
        "parser", "inputs", "seconds", "inputs/s", "panics"
    );
    let (mut total_inputs, mut total_seconds, mut total_crashes) = (0u64, 0f64, 0usize);
    for target in TARGETS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|t| t == target.name))
        {
            continue;
        }
        let report = run(target, Duration::from_secs_f64(seconds), seed, &crash_dir);
        println!(
            "{:<24} {:>12} {:>10.1} {:>12.0} {:>8}",
            report.target,
            report.inputs,
            report.elapsed.as_secs_f64(),
            report.per_second(),
            report.crashes.len()
        );
        for crash in &report.crashes {
            println!("  PANIC: {crash}");
        }
        total_inputs += report.inputs;
        total_seconds += report.elapsed.as_secs_f64();
        total_crashes += report.crashes.len();
    }
    println!(
        "{:<24} {:>12} {:>10.1} {:>12.0} {:>8}",
        "total",
        total_inputs,
        total_seconds,
        total_inputs as f64 / total_seconds.max(1e-9),
        total_crashes
    );
    if total_crashes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
