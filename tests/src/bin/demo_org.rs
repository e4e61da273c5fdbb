//! `make demo-org`: corebound's organization mode on a laptop (issue 13).
//!
//! Starts the local AWS emulator in multi-account mode and sets up one hub and two spokes the
//! way the templates deploy them (the hub remediator's role and session; in each spoke the role
//! `<RolePrefix><AppName>_Remediation` trusting only the hub role with the ExternalId and the
//! organization, and a project key per region). Then sends the hub remediator, through the
//! Lambda Runtime API, the CloudTrail events each spoke's rule forwards, plus the faults of the
//! issue, and prints what happened in each account. Exits non-zero if any step did not do what
//! it claims.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use corebound_tests::aws_calls::fixtures;
use corebound_tests::demo::{heading, Checks};
use corebound_tests::organization::{
    create_queue_event, create_topic_event, deployer, hub_session_in, spoke_role_arn, Organization,
    Trust,
};
use corebound_tests::{binary_path, Emulator, InvocationResult, LambdaProcess};
use serde_json::{json, Value};

const SPOKE_A: &str = "222233334444";
const SPOKE_B: &str = "555566667777";
const NO_ROLE: &str = "888877776666";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const WAIT: Duration = Duration::from_secs(60);

/// Sends one event; prints the function's answer and its audit records.
fn send(hub: &mut LambdaProcess, emu: &Emulator, event: &Value) -> (InvocationResult, Vec<Value>) {
    let audits = |process: &LambdaProcess| -> Vec<Value> {
        process
            .log_records()
            .into_iter()
            .filter(|line| line["type"] == "audit")
            .collect()
    };
    let before = audits(hub).len();
    let requests_before = emu.requests().len();
    let result = hub.invoke(event, WAIT);
    let until = Instant::now() + Duration::from_secs(3);
    while audits(hub).len() == before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let records = audits(hub)[before..].to_vec();
    println!(
        "  event from account {} region {}: {}",
        event["account"].as_str().unwrap_or_default(),
        event["region"].as_str().unwrap_or_default(),
        match &result {
            InvocationResult::Response(summary) => format!(
                "{} writes, {} for a person",
                summary["writes"], summary["needs_person"]
            ),
            InvocationResult::Error(error) => format!(
                "FAILED (retried by Lambda, then dead-lettered): {}",
                error["errorMessage"].as_str().unwrap_or_default()
            ),
        }
    );
    for record in &records {
        println!(
            "    audit {} / {} / {}",
            record["rule"].as_str().unwrap_or_default(),
            record["action"].as_str().unwrap_or_default(),
            record["result"].as_str().unwrap_or_default()
        );
    }
    let requests = emu.requests()[requests_before..].to_vec();
    let mut by_account: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{}@{}/{}",
                r["operation"].as_str().unwrap_or_default(),
                r["account"].as_str().unwrap_or_default(),
                r["region"].as_str().unwrap_or_default()
            )
        })
        .collect();
    by_account.dedup();
    println!("    AWS calls: {}", by_account.join(", "));
    (result, records)
}

fn run() -> Vec<String> {
    let mut checks = Checks::default();
    println!("corebound demo-org: one hub, two spokes, two regions, on local AWS");
    let emu = Emulator::start();
    emu.reset();
    println!("local AWS at {}", emu.url());

    heading("Setting up the hub (123456789012) and the spokes (as templates/spoke.yaml would)");
    let organization = Organization::set_up(
        &emu,
        US,
        &[
            (SPOKE_A, "spoke-a", &[US, EU], Trust::Hub),
            (SPOKE_B, "spoke-b", &[US, EU], Trust::Hub),
            (NO_ROLE, "not-enrolled", &[EU], Trust::NoRole),
        ],
    );
    let settings = organization.account_settings(None, &[]);
    println!("  ACCOUNT_SETTINGS = {settings}");
    let [a, b] = [&organization.spokes[0], &organization.spokes[1]];
    let topic_a = a.act(EU, || {
        fixtures::create_topic(&emu, "corebound-demo-orders", &[], &[])
    });
    let queue_b = b.act(US, || {
        fixtures::create_queue(&emu, "corebound-demo-jobs", &[], &[])
    });
    println!("  spoke A {SPOKE_A}: topic {topic_a} (untagged, unencrypted)");
    println!("  spoke B {SPOKE_B}: queue {queue_b} (untagged, SSE-SQS only)");

    let env = organization.hub_env(&emu, &settings);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut hub = LambdaProcess::start(binary_path("remediator"), &env);

    heading("Events forwarded by the spokes to the hub's bus");
    let (result, _) = send(
        &mut hub,
        &emu,
        &create_topic_event(SPOKE_A, EU, "corebound-demo-orders", &deployer(SPOKE_A)),
    );
    checks.expect(result.is_ok(), "spoke A's topic event handled");
    let (result, _) = send(
        &mut hub,
        &emu,
        &create_queue_event(
            SPOKE_B,
            US,
            "corebound-demo-jobs",
            &format!("https://sqs.{US}.amazonaws.com/{SPOKE_B}/corebound-demo-jobs"),
        ),
    );
    checks.expect(result.is_ok(), "spoke B's queue event handled");

    heading("What each account holds now (read with that account's own credentials)");
    let (tags, attributes) = a.act(EU, || {
        (
            fixtures::topic_tags(&emu, &topic_a),
            fixtures::topic_attributes(&emu, &topic_a),
        )
    });
    println!("  spoke A {EU} topic tags {tags:?}");
    println!(
        "  spoke A {EU} topic KmsMasterKeyId {:?}",
        attributes.get("KmsMasterKeyId")
    );
    checks.expect(
        tags.get("Environment").map(String::as_str) == Some("spoke-a"),
        "spoke A's topic carries spoke A's tags",
    );
    checks.expect(
        attributes.get("KmsMasterKeyId") == Some(&a.keys[EU]),
        "spoke A's topic uses spoke A's eu-west-1 key",
    );
    let (tags, attributes) = b.act(US, || {
        (
            fixtures::queue_tags(&emu, &queue_b),
            fixtures::queue_attributes(&emu, &queue_b),
        )
    });
    println!("  spoke B {US} queue tags {tags:?}");
    println!(
        "  spoke B {US} queue KmsMasterKeyId {:?}",
        attributes.get("KmsMasterKeyId")
    );
    checks.expect(
        tags.get("Environment").map(String::as_str) == Some("spoke-b"),
        "spoke B's queue carries spoke B's tags",
    );
    checks.expect(
        attributes.get("KmsMasterKeyId") == Some(&b.keys[US]),
        "spoke B's queue uses spoke B's us-east-1 key",
    );

    heading("Loop guard: the hub's own fix in spoke A comes back as an event");
    let (_, records) = send(
        &mut hub,
        &emu,
        &create_topic_event(
            SPOKE_A,
            EU,
            "corebound-demo-orders",
            &hub_session_in(SPOKE_A),
        ),
    );
    checks.expect(
        records.len() == 1 && records[0]["detail"]["skip"] == "own_action",
        "skipped as the hub's own action",
    );

    heading("Faults: each is one finding naming the account; the others are unaffected");
    let (_, records) = send(
        &mut hub,
        &emu,
        &create_topic_event(NO_ROLE, EU, "corebound-demo-x", &deployer(NO_ROLE)),
    );
    checks.expect(
        records.len() == 1 && records[0]["detail"]["skip"] == "account_unreachable",
        "a spoke without the role: one finding",
    );
    let (_, records) = send(
        &mut hub,
        &emu,
        &create_topic_event(
            "999988887777",
            EU,
            "corebound-demo-x",
            &deployer("999988887777"),
        ),
    );
    checks.expect(
        records.len() == 1 && records[0]["detail"]["skip"] == "not_authentic",
        "an account outside ACCOUNT_SETTINGS: not acted on",
    );
    emu.post(
        "/_corebound/iam/deny",
        &json!({"role_arn": spoke_role_arn(SPOKE_B), "action": "sns:TagResource"}),
    );
    b.act(EU, || {
        fixtures::create_topic(&emu, "corebound-demo-events", &[], &[])
    });
    let (result, _) = send(
        &mut hub,
        &emu,
        &create_topic_event(SPOKE_B, EU, "corebound-demo-events", &deployer(SPOKE_B)),
    );
    checks.expect(
        !result.is_ok(),
        "spoke B's role lacks sns:TagResource: the event fails naming the account",
    );
    emu.post("/_corebound/sts/expire", &json!({"account": SPOKE_A}));
    a.act(EU, || {
        fixtures::create_topic(&emu, "corebound-demo-audit", &[], &[])
    });
    let (result, _) = send(
        &mut hub,
        &emu,
        &create_topic_event(SPOKE_A, EU, "corebound-demo-audit", &deployer(SPOKE_A)),
    );
    checks.expect(
        result.is_ok(),
        "spoke A's session expired mid-burst: assumed again, fixed",
    );
    checks.failed
}

fn main() -> ExitCode {
    let failed = run();
    if failed.is_empty() {
        println!("\nall checks passed");
        ExitCode::SUCCESS
    } else {
        println!("\n{} check(s) failed: {failed:?}", failed.len());
        ExitCode::FAILURE
    }
}
