//! The scheduled sweep from a hub (issue 13 §4): one start fans out to every account and
//! region `ACCOUNT_SETTINGS` gives a key for, by the same work-queue units, each unit acting
//! in its account through the spoke's role with that account's tags, key and mode.
//!
//! The `remediator` binary is driven through the Lambda Runtime API: the schedule's start
//! message, then the work queue's messages as the event source mapping delivers them. Faults
//! per account (no role, a role lacking an action, a session expired mid-sweep, a forged unit)
//! each end in a finding naming the account, and the other accounts are swept as usual.

use std::time::Duration;

use corebound_tests::aws_calls::fixtures as aws;
use corebound_tests::aws_calls::{json as aws_json, rest_xml};
use corebound_tests::organization::{
    spoke_role_arn, tags_of, Organization, Trust, HUB, SPOKE_ROLE_NAME,
};
use corebound_tests::remediator::is_write;
use corebound_tests::{binary_path, emulator, Emulator, InvocationResult, LambdaProcess};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);
const SPOKE_A: &str = "222233334444";
const SPOKE_B: &str = "555566667777";
/// Named in ACCOUNT_SETTINGS, but the StackSet has not reached it: no remediation role.
const SPOKE_C: &str = "888899990000";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const WORK_QUEUE: &str = "corebound-sweep-work";
const REPORT_BUCKET: &str = "corebound-sweep-reports";

fn response(result: InvocationResult) -> Value {
    match result {
        InvocationResult::Response(value) => value,
        InvocationResult::Error(error) => panic!("invocation failed: {error}"),
    }
}

fn sqs_record(message: &Value) -> Value {
    corebound_tests::remediator::sqs_record(
        message,
        &format!("arn:aws:sqs:{US}:{HUB}:{WORK_QUEUE}"),
    )
}

/// Plays the event source mapping (batch size 1, as the template sets it): each queued unit
/// to the function; succeeded ones deleted, failed ones left for redelivery. `between` runs
/// after each invocation with the unit's body and whether it failed. Returns the failed batch
/// items.
fn drain(
    process: &mut LambdaProcess,
    emu: &Emulator,
    queue: &str,
    mut between: impl FnMut(&Value, bool),
) -> usize {
    let mut failed_items = 0;
    for _ in 1..=400 {
        let messages = aws::receive_messages(emu, queue, 0);
        let Some(message) = messages.first() else {
            return failed_items;
        };
        // Any other received message becomes visible again for the next round.
        for other in &messages[1..] {
            aws_json(
                emu,
                "sqs",
                "AmazonSQS.ChangeMessageVisibility",
                &json!({"QueueUrl": queue, "ReceiptHandle": other["ReceiptHandle"], "VisibilityTimeout": 0}),
            )
            .unwrap();
        }
        let answer = response(process.invoke(&json!({"Records": [sqs_record(message)]}), WAIT));
        let failed = answer["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("not a batch answer: {answer}"))
            .len();
        failed_items += failed;
        if failed == 0 {
            aws::delete_message(emu, queue, message);
        } else {
            aws_json(
                emu,
                "sqs",
                "AmazonSQS.ChangeMessageVisibility",
                &json!({"QueueUrl": queue, "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}),
            )
            .unwrap();
        }
        let unit: Value = serde_json::from_str(message["Body"].as_str().unwrap_or("{}")).unwrap();
        between(&unit, failed > 0);
    }
    panic!("the work queue never emptied");
}

/// The report's type entry of `kind` in `account`/`region`.
fn type_entry<'a>(report: &'a Value, kind: &str, account: &str, region: &str) -> &'a Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == kind && t["account"] == account && t["region"] == region)
        .unwrap_or_else(|| panic!("no {kind} in {account} {region}: {:#}", report["types"]))
}

/// The report's resource entry whose ARN (or URL, or name) ends with `suffix` in `account`.
fn resource<'a>(report: &'a Value, account: &str, suffix: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["account"] == account && r["arn"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} of {account} in {:#}", report["resources"]))
}

#[test]
fn a_hub_sweep_covers_every_configured_account_and_region_and_isolates_their_faults() {
    let (_guard, emu) = emulator();
    let organization = Organization::set_up(
        emu,
        US,
        &[
            (SPOKE_A, "spoke-a", &[US, EU], Trust::Hub),
            (SPOKE_B, "spoke-b", &[EU], Trust::Hub),
            (SPOKE_C, "spoke-c", &[EU], Trust::NoRole),
        ],
    );
    let [a, b] = [&organization.spokes[0], &organization.spokes[1]];
    // The hub's sweep infrastructure, in the hub account (the emulator's default caller).
    let work_queue = aws::create_queue(emu, WORK_QUEUE, &[], &[]);
    aws::create_bucket(emu, REPORT_BUCKET);

    // Non-compliant resources in each account and region, made before the hub existed.
    let topic_a_us = a.act(US, || {
        aws::create_topic(emu, "corebound-demo-a-us", &[], &[])
    });
    let secret_a_eu = a.act(EU, || {
        aws::create_secret(emu, "corebound-demo-a-eu", None, &[])
    });
    // Already compliant in a spoke: read in batch with the spoke's session, nothing written.
    let a_tags = tags_of("spoke-a");
    let a_tags: Vec<(&str, &str)> = a_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    a.act(EU, || {
        aws::create_queue(
            emu,
            "corebound-demo-a-ok",
            &[("KmsMasterKeyId", a.keys[EU].as_str())],
            &a_tags,
        )
    });
    let queue_b_eu = b.act(EU, || {
        aws::create_queue(emu, "corebound-demo-b-eu", &[], &[])
    });
    b.act(EU, || {
        aws::create_secret(emu, "corebound-demo-b-eu", None, &[])
    });
    b.act(EU, || aws::create_role(emu, "LPMA_Demo_b_app", &[]));
    let topic_hub = aws::create_topic(emu, "corebound-demo-hub", &[], &[]);
    // AgentCore resources live in their account too: a runtime in A (us-east-1) and a memory in
    // B, both untagged, and a runtime of the hub's own with the same name as A's.
    let seed = |path: &str, body: Value| emu.post(&format!("/_corebound/agentcore/{path}"), &body);
    let runtime_a = seed(
        "runtimes",
        json!({"name": "corebound_demo_a", "account": SPOKE_A, "region": US}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    let memory_b = seed(
        "memories",
        json!({"name": "corebound_demo_b", "account": SPOKE_B, "region": EU, "encryptionKeyArn": b.keys[EU]}),
    )["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let hub_tags = tags_of("hub");
    let runtime_hub = seed(
        "runtimes",
        json!({"name": "corebound_demo_a", "region": US, "tags": hub_tags}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    // Spoke B's role lacks one of the sweep's reads.
    emu.post(
        "/_corebound/iam/deny",
        &json!({"role_arn": spoke_role_arn(SPOKE_B), "action": "secretsmanager:ListSecrets"}),
    );

    let settings = organization.account_settings(None, &[]);
    let mut env = organization.hub_env(emu, &settings);
    env.extend(
        [
            ("SWEEP_QUEUE_URL", work_queue.clone()),
            ("REPORT_BUCKET", REPORT_BUCKET.to_string()),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                "corebound-remediator".to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut process = LambdaProcess::start(binary_path("remediator"), &env);
    assert!(
        process.wait_for_output("remediator ready", Duration::from_secs(15)),
        "{}",
        process.output()
    );

    let sweep_start = emu.requests().len();
    let started = response(process.invoke(&json!({"corebound": "sweep-start"}), WAIT));
    assert_eq!(started["sweep"], "started", "{started}");
    let sweep_id = started["sweep_id"].as_str().unwrap().to_string();
    // Five targets (the hub's own, A in two regions, B, C); IAM once per account.
    assert_eq!(started["units"], 10 + 10 + 9 + 10 + 10, "{started}");

    // A forged unit for an account outside the settings: refused, nothing read.
    let forged = json!({"MessageId": "m-forged", "ReceiptHandle": "r", "Body": json!({
        "sweep_id": sweep_id, "resource_type": "sqs_queue", "page": 0,
        "account": "999988887777", "region": EU}).to_string()});
    let before = emu.requests().len();
    let answer = response(process.invoke(&json!({"Records": [sqs_record(&forged)]}), WAIT));
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-forged"}]})
    );
    assert!(process.wait_for_output(
        "not an account and region ACCOUNT_SETTINGS configures",
        WAIT
    ));
    assert!(
        emu.requests()[before..].is_empty(),
        "nothing read for a forged unit"
    );

    // Spoke A's session expires in the middle of the sweep (after its first unit, with 18 of its
    // units still queued): the next refused unit goes back to the queue, and its retry assumes
    // the role again.
    let mut expired = false;
    let failed = drain(&mut process, emu, &work_queue, |unit, failed| {
        if unit["account"] == SPOKE_A && !failed && !expired {
            emu.post("/_corebound/sts/expire", &json!({"account": SPOKE_A}));
            expired = true;
        }
    });
    assert!(expired);

    let text = rest_xml(
        emu,
        "GET",
        &format!("/{REPORT_BUCKET}/sweeps/{sweep_id}/report.json"),
        "",
    )
    .unwrap_or_else(|error| panic!("no report: {error}\n{}", process.output()));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["types"].as_array().unwrap().len(), 49);

    // Fixed in each account with that account's tags and its key in that region.
    let fixed = |account: &str, suffix: &str| {
        let entry = resource(&report, account, suffix);
        assert_eq!(entry["outcome"], "fixed", "{entry}");
        entry.clone()
    };
    assert_eq!(fixed(SPOKE_A, "corebound-demo-a-us")["region"], US);
    let tags = a.act(US, || aws::topic_tags(emu, &topic_a_us));
    assert_eq!(tags, tags_of("spoke-a"));
    let attributes = a.act(US, || aws::topic_attributes(emu, &topic_a_us));
    assert_eq!(attributes.get("KmsMasterKeyId"), Some(&a.keys[US]));
    fixed(SPOKE_A, &secret_a_eu);
    let compliant = resource(&report, SPOKE_A, "/corebound-demo-a-ok");
    assert_eq!(compliant["outcome"], "compliant", "{compliant}");
    let secret = a.act(EU, || aws::describe_secret(emu, &secret_a_eu));
    assert_eq!(secret["KmsKeyId"], a.keys[EU].as_str(), "{secret}");
    fixed(SPOKE_B, "corebound-demo-b-eu");
    let attributes = b.act(EU, || aws::queue_attributes(emu, &queue_b_eu));
    assert_eq!(attributes.get("KmsMasterKeyId"), Some(&b.keys[EU]));
    let tags = b.act(EU, || aws::queue_tags(emu, &queue_b_eu));
    assert_eq!(tags, tags_of("spoke-b"));
    fixed(SPOKE_B, "role/LPMA_Demo_b_app");
    let tags = b.act(US, || aws::role_tags(emu, "LPMA_Demo_b_app"));
    assert_eq!(tags, tags_of("spoke-b"));
    fixed(HUB, "corebound-demo-hub");
    assert_eq!(aws::topic_tags(emu, &topic_hub), tags_of("hub"));
    // AgentCore, read and tagged through each spoke's role with that account's tags.
    assert_eq!(fixed(SPOKE_A, &runtime_a)["region"], US);
    let tags = a.act(US, || aws::agentcore_tags(emu, &runtime_a));
    assert_eq!(tags, tags_of("spoke-a"));
    fixed(SPOKE_B, &memory_b);
    let tags = b.act(EU, || aws::agentcore_tags(emu, &memory_b));
    assert_eq!(tags, tags_of("spoke-b"));
    let hub_runtime = resource(&report, HUB, &runtime_hub);
    assert_eq!(hub_runtime["outcome"], "compliant", "{hub_runtime}");
    assert_eq!(aws::agentcore_tags(emu, &runtime_hub), tags_of("hub"));

    // B's refused listing: that type in that account is a finding naming the account; B's
    // other types were swept.
    let secrets_b = type_entry(&report, "secret", SPOKE_B, EU);
    let reason = secrets_b["unreadable"].as_str().unwrap_or_default();
    assert!(
        reason.contains(SPOKE_B) && reason.contains("secretsmanager:ListSecrets"),
        "{secrets_b}"
    );
    assert!(type_entry(&report, "sqs_queue", SPOKE_B, EU)["unreadable"].is_null());

    // C has no role: every type there is one finding naming the account and the role.
    for kind in ["sns_topic", "iam_role", "gateway"] {
        let entry = type_entry(&report, kind, SPOKE_C, EU);
        let reason = entry["unreadable"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&format!("cannot act in account {SPOKE_C}"))
                && reason.contains(&format!("role/{SPOKE_ROLE_NAME}")),
            "{entry}"
        );
    }
    assert!(report["summary"]["unreadable_types"]
        .as_array()
        .unwrap()
        .contains(&json!("secret")));
    assert!(report["summary"]["needs_person"].as_u64().unwrap() >= 11);

    // The expired session cost one retried unit, then A was swept with a new session.
    assert!(failed >= 1, "the refused unit went back to the queue");
    assert!(
        process
            .output()
            .contains("the session in account 222233334444 was refused"),
        "{}",
        process.output()
    );

    // Writes landed in the accounts swept (the emulator attributes each request to the
    // account of its credentials: a spoke's only through its role), none reached C.
    let requests = &emu.requests()[sweep_start..];
    let writes_in = |account: &str| {
        requests
            .iter()
            .filter(|r| r["account"] == account)
            .filter(|r| is_write(r["operation"].as_str().unwrap_or_default()))
            .count()
    };
    assert!(writes_in(SPOKE_A) >= 4, "topic and secret: tags and key");
    assert!(writes_in(SPOKE_B) >= 3, "queue: tags and key; role: tags");
    assert!(requests.iter().all(|r| r["account"] != SPOKE_C));
    // The lock is released.
    assert!(rest_xml(emu, "GET", &format!("/{REPORT_BUCKET}/sweep-lock.json"), "").is_err());
}

/// `corebound sweep` run by a platform engineer with the hub's settings (its role's
/// credentials, `ACCOUNT_SETTINGS`, `SPOKE_ROLE_NAME`): the same accounts and regions as the
/// scheduled sweep, in report mode nothing written anywhere, an account without the role one
/// finding per type.
#[test]
fn corebound_sweep_with_the_hub_settings_reports_on_the_whole_organization() {
    let (_guard, emu) = emulator();
    let organization = Organization::set_up(
        emu,
        US,
        &[
            (SPOKE_A, "spoke-a", &[US, EU], Trust::Hub),
            (SPOKE_C, "spoke-c", &[EU], Trust::NoRole),
        ],
    );
    let a = &organization.spokes[0];
    let topic_a_us = a.act(US, || {
        aws::create_topic(emu, "corebound-demo-a-us", &[], &[])
    });
    let runtime_a_eu = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_a", "account": SPOKE_A, "region": EU}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    aws::create_topic(emu, "corebound-demo-hub", &[], &[]);

    let settings = organization.account_settings(None, &[]);
    let dir = std::env::temp_dir().join(format!("corebound-hub-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report_file = dir.join("org-report.json");
    let mut command = std::process::Command::new(binary_path("corebound"));
    command
        .args(["sweep", "--mode", "report", "--report"])
        .arg(&report_file);
    for (k, v) in organization.hub_env(emu, &settings) {
        command.env(k, v);
    }
    let before = emu.requests().len();
    let output = command
        .env_remove("MODE")
        .env_remove("AWS_PROFILE")
        .env("AWS_REGION", US)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();

    // The hub's own account, A in both regions and C: IAM once per account.
    assert_eq!(report["types"].as_array().unwrap().len(), 10 + 10 + 9 + 10);
    assert_eq!(
        resource(&report, SPOKE_A, &topic_a_us)["outcome"],
        "would-fix"
    );
    let runtime = resource(&report, SPOKE_A, &runtime_a_eu);
    assert_eq!(runtime["outcome"], "would-fix", "{runtime}");
    assert_eq!(runtime["region"], EU);
    assert_eq!(
        resource(&report, HUB, "corebound-demo-hub")["outcome"],
        "would-fix"
    );
    let gateways_c = type_entry(&report, "gateway", SPOKE_C, EU);
    assert!(
        gateways_c["unreadable"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("cannot act in account {SPOKE_C}")),
        "{gateways_c}"
    );
    // The table names each account and region.
    assert!(
        stdout.contains(&format!("sns_topic {SPOKE_A}/{US}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("gateway {SPOKE_C}/{EU} (unreadable)")),
        "{stdout}"
    );
    // Report mode: read in each account through its role, nothing written anywhere.
    let requests = &emu.requests()[before..];
    assert!(requests.iter().any(|r| r["account"] == SPOKE_A));
    let writes: Vec<&Value> = requests
        .iter()
        .filter(|r| is_write(r["operation"].as_str().unwrap_or_default()))
        .filter(|r| r["operation"] != "AssumeRole")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}
