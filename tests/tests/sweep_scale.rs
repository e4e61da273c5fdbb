//! The sweep benchmark's invariants at a bounded scale, in `make test`: the built `corebound`
//! binary sweeps 20 resources of each of the ten swept types (200) in the local emulator.
//! `make bench` measures the same on 10 000 (tests/bench/sweep_bench.py).
//!
//! - A compliant account, report mode: no write at all, at most 1.2 read calls per resource
//!   (counted in the emulator's request log), every resource reported compliant.
//! - Half the resources non-compliant, enforce mode: every one fixed, by the report and by the
//!   emulator's own backends (POST /_corebound/bulk/check, not the code under test); a second,
//!   report-mode sweep then finds nothing to do and writes nothing.
//!
//! The resources are seeded in-process in the emulator (tests/emulator/bulk_seed.py), so the
//! request log holds only the sweep's calls.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use corebound_tests::{binary_path, emulator, Emulator};
use serde_json::{json, Value};

const PER_TYPE: usize = 20;
const KINDS: usize = 10;
const TOTAL: usize = PER_TYPE * KINDS;
const MAX_READS_PER_RESOURCE: f64 = 1.2;
const TIMEOUT: Duration = Duration::from_secs(300);

fn required_tags() -> Value {
    json!({"ApplicationId": "app-0001", "Environment": "preprod", "Project": "corebound",
           "ServiceLine": "platform", "ManagedBy": "platform-ci"})
}

/// Resets the emulator, creates the CMK and the resources; every `every`-th one (0: none)
/// non-compliant. Returns the key and bulk/seed's `resources`.
fn seed(emu: &Emulator, every: usize) -> (String, Value) {
    emu.reset();
    let key = emu.post(
        "/_corebound/bulk/cmk",
        &json!({"scopeLogGroups": ["corebound-demo-*"]}),
    )["keyArn"]
        .as_str()
        .expect("bulk/cmk answers keyArn")
        .to_string();
    let seeded = emu.post(
        "/_corebound/bulk/seed",
        &json!({"count": PER_TYPE, "keyArn": key, "tags": required_tags(), "nonCompliantEvery": every}),
    );
    (key, seeded["resources"].clone())
}

struct Sweep {
    exit_code: Option<i32>,
    report: Value,
    reads: usize,
    writes: Vec<String>,
    output: String,
}

fn is_read(operation: &str) -> bool {
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

/// Runs `corebound sweep --mode <mode>` against the emulator with the remediator's settings.
fn sweep(emu: &Emulator, mode: &str, key: &str) -> Sweep {
    let before = emu.requests().len();
    let report_path: PathBuf = std::env::temp_dir().join(format!(
        "corebound-sweep-scale-{}-{mode}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&report_path);
    let mut command = Command::new(binary_path("corebound"));
    command
        .args(["sweep", "--mode", mode, "--report"])
        .arg(&report_path)
        // Only what is set here: no profile or credentials of the machine's own.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("REQUIRED_TAGS", required_tags().to_string())
        .env("KMS_KEY_ARN", key)
        .env(
            "SCOPE_PATTERNS",
            "corebound-demo-*,corebound_demo_*,LPMA_Demo_*",
        )
        .env("REQUIRED_ROLE_PREFIX", "LPMA_")
        .env("OPT_OUT_TAG", "corebound:remediation")
        .envs(emu.aws_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("corebound starts");
    let pid = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < TIMEOUT {
            std::thread::sleep(Duration::from_millis(200));
            if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let output = child.wait_with_output().expect("corebound ran");
    let _ = watchdog.join();
    let window: Vec<Value> = emu.requests().into_iter().skip(before).collect();
    let operations: Vec<String> = window
        .iter()
        .map(|r| r["operation"].as_str().unwrap_or("?").to_string())
        .collect();
    let report = std::fs::read_to_string(&report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&report_path);
    Sweep {
        exit_code: output.status.code(),
        report,
        reads: operations.iter().filter(|op| is_read(op)).count(),
        writes: operations.into_iter().filter(|op| !is_read(op)).collect(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn outcome(report: &Value, name: &str) -> u64 {
    report["summary"]["outcomes"][name].as_u64().unwrap_or(0)
}

#[test]
fn a_compliant_account_is_swept_with_few_reads_and_no_write() {
    let (_guard, emu) = emulator();
    let (key, _) = seed(emu, 0);
    let run = sweep(emu, "report", &key);
    assert_eq!(run.exit_code, Some(0), "{}", run.output);
    assert_eq!(
        run.writes,
        Vec::<String>::new(),
        "a compliant account must see no write"
    );
    let per_resource = run.reads as f64 / TOTAL as f64;
    assert!(
        per_resource <= MAX_READS_PER_RESOURCE,
        "{} reads for {TOTAL} resources = {per_resource:.2} per resource (at most {MAX_READS_PER_RESOURCE})",
        run.reads
    );
    assert_eq!(
        run.report["summary"]["resources"],
        json!(TOTAL),
        "{}",
        run.report
    );
    assert_eq!(
        outcome(&run.report, "compliant"),
        TOTAL as u64,
        "{}",
        run.report["summary"]
    );
}

#[test]
fn half_non_compliant_every_one_is_fixed_and_a_second_sweep_has_nothing_to_do() {
    let (_guard, emu) = emulator();
    let (key, seeded) = seed(emu, 2);
    let expected: usize = seeded
        .as_object()
        .unwrap()
        .values()
        .flat_map(|created| created.as_array().unwrap())
        .filter(|r| r["compliant"] == json!(false))
        .count();
    assert_eq!(expected, TOTAL / 2);

    let run = sweep(emu, "enforce", &key);
    assert_eq!(run.exit_code, Some(0), "{}", run.output);
    assert_eq!(
        outcome(&run.report, "fixed"),
        expected as u64,
        "{}",
        run.report["summary"]
    );
    assert_eq!(outcome(&run.report, "compliant"), (TOTAL - expected) as u64);
    assert!(!run.writes.is_empty());
    assert!(
        run.writes.len() <= 2 * expected,
        "{} writes for {expected} fixed resources: at most a tag write and a key write each ({:?})",
        run.writes.len(),
        run.writes
    );

    // The emulator's own view, not the code's.
    let arns: serde_json::Map<String, Value> = seeded
        .as_object()
        .unwrap()
        .iter()
        .map(|(kind, created)| {
            let list: Vec<Value> = created
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["arn"].clone())
                .collect();
            (kind.clone(), Value::Array(list))
        })
        .collect();
    let check = emu.post(
        "/_corebound/bulk/check",
        &json!({"resources": arns, "keyArn": key, "tags": required_tags()}),
    );
    assert_eq!(check["checked"], json!(TOTAL));
    assert_eq!(
        check["nonCompliant"],
        json!([]),
        "left non-compliant after enforce"
    );

    let again = sweep(emu, "report", &key);
    assert_eq!(again.exit_code, Some(0), "{}", again.output);
    assert_eq!(again.writes, Vec::<String>::new());
    assert_eq!(
        outcome(&again.report, "compliant"),
        TOTAL as u64,
        "{}",
        again.report["summary"]
    );
}
