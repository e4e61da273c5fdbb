//! `make demo`: corebound on a laptop, with no AWS account.
//!
//! Starts the local AWS emulator, seeds what an AgentCore deployment in a boundary-constrained
//! account looks like (a runtime, a memory, the execution role `LPMA_Demo_AgentCoreRuntime`
//! with a permissions boundary, an untagged and unencrypted SNS topic and SQS queue), runs the
//! three functions through the Lambda Runtime API on files from `events/`, and prints what
//! changed. Exits non-zero if any step did not do what it claims. The emulator stops with
//! this process.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use corebound_tests::aws_calls::{self, fixtures};
use corebound_tests::demo::{heading, Checks};
use corebound_tests::{
    binary_path, event, with_response_url, Emulator, LambdaProcess, ResponseCapture,
    ALLOWED_HOSTS_VARIABLE,
};
use serde_json::{json, Value};

const ROLE: &str = "LPMA_Demo_AgentCoreRuntime";
const LIMITED_ROLE: &str = "LPMA_Demo_ReportingAgent";
const RUNTIME_ID: &str = "corebound_demo_agent-AbCdE12345";
const MEMORY_ID: &str = "corebound_demo_memory-a1B2c3D4e5";
const TOPIC: &str = "corebound-demo-alerts";
const QUEUE: &str = "corebound-demo-jobs";
const SCOPE: &str = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*";
const WAIT: Duration = Duration::from_secs(60);

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn env_of(emu: &Emulator, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = emu.aws_env();
    // The ResponseURL stand-in is plain http on loopback: allow it explicitly (the
    // functions answer only https S3 URLs otherwise; this variable is for local use only).
    env.push((ALLOWED_HOSTS_VARIABLE, "127.0.0.1".to_string()));
    env.extend(extra.iter().cloned());
    env
}

fn start(binary: &str, env: &[(&'static str, String)]) -> LambdaProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    LambdaProcess::start(binary_path(binary), &env)
}

/// Send one CloudFormation request; return the answer that reached the ResponseURL.
fn custom_resource(
    function: &mut LambdaProcess,
    capture: &ResponseCapture,
    request: Value,
) -> Value {
    let before = capture.accepted().len();
    function.invoke(&with_response_url(request, &capture.url()), WAIT);
    capture
        .accepted()
        .get(before)
        .cloned()
        .unwrap_or(Value::Null)
}

fn iam(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> String {
    aws_calls::query(emu, "iam", action, params).unwrap_or_else(|e| panic!("iam {action}: {e}"))
}

/// The permissions boundary the security team imposes: memory actions, but not for every role.
fn seed_iam(emu: &Emulator) {
    let boundary = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AgentCoreMemoryAndInvoke", "Effect": "Allow",
             "Action": ["bedrock-agentcore:*"], "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
        ]
    });
    let reporting_boundary = json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "InvokeOnly", "Effect": "Allow",
                       "Action": ["bedrock-agentcore:InvokeAgentRuntime"], "Resource": "*"}]
    });
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    for (policy, document) in [
        ("BoundaryForLPMA", &boundary),
        ("BoundaryForLPMAReporting", &reporting_boundary),
    ] {
        iam(
            emu,
            "CreatePolicy",
            &[
                ("PolicyName", policy),
                ("PolicyDocument", &document.to_string()),
            ],
        );
    }
    for (role, boundary) in [
        (ROLE, "BoundaryForLPMA"),
        (LIMITED_ROLE, "BoundaryForLPMAReporting"),
    ] {
        let boundary_arn = format!("arn:aws:iam::123456789012:policy/{boundary}");
        iam(
            emu,
            "CreateRole",
            &[
                ("RoleName", role),
                ("AssumeRolePolicyDocument", &trust.to_string()),
                ("PermissionsBoundary", &boundary_arn),
            ],
        );
    }
    // The emulator's SimulatePrincipalPolicy answers what the real IAM would for this boundary.
    let memory_arn = format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/{MEMORY_ID}");
    let actions = corebound::grants::memory::MEMORY_ACTIONS;
    let decisions: Vec<Value> = actions
        .iter()
        .map(|a| json!({"action": format!("bedrock-agentcore:{a}"), "resource": memory_arn, "decision": "allowed"}))
        .collect();
    emu.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions}),
    );
}

fn run() -> Vec<String> {
    let mut checks = Checks::default();
    println!("corebound demo: local AWS (moto + corebound's emulators), no account needed");
    let emu = Emulator::start();
    emu.reset();
    println!("local AWS at {}", emu.url());

    heading("Seeding an AgentCore deployment in a boundary-constrained account");
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": RUNTIME_ID, "endpoints": ["DEFAULT"]}),
    );
    emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory", "id": MEMORY_ID}),
    );
    seed_iam(&emu);
    let cmk = fixtures::create_key(&emu, "corebound demo project CMK", &[]);
    let topic_arn =
        fixtures::create_topic(&emu, TOPIC, &[], &[("Project", "already-set-by-someone")]);
    let queue_url = fixtures::create_queue(&emu, QUEUE, &[], &[]);
    println!("  runtime  {RUNTIME_ID} (READY, endpoint DEFAULT)\n  memory   {MEMORY_ID}\n  roles    {ROLE} (boundary BoundaryForLPMA), {LIMITED_ROLE} (boundary BoundaryForLPMAReporting: invoke only)");
    println!("  CMK      {cmk}\n  topic    {topic_arn} (untagged but for Project, no KMS)\n  queue    {queue_url} (untagged, SSE-SQS only)");

    // 1. Custom::AgentCoreRuntimePolicy
    heading(
        "runtime-policy: events/runtime-policy/create.json (cross-account invoke for 210987654321)",
    );
    let capture = ResponseCapture::start();
    let mut runtime_policy = start(
        "runtime-policy",
        &env_of(
            &emu,
            &[
                ("SCOPE_PATTERNS", "corebound_demo_*".to_string()),
                ("ALLOWED_PRINCIPAL_ACCOUNTS", "210987654321".to_string()),
            ],
        ),
    );
    let answer = custom_resource(
        &mut runtime_policy,
        &capture,
        event("runtime-policy/create.json"),
    );
    println!("  CloudFormation got:\n{}", indent(&pretty(&answer)));
    checks.expect(answer["Status"] == "SUCCESS", "runtime policy created");
    let runtime_arn =
        format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{RUNTIME_ID}");
    let policies = emu.resource_policies();
    let policy = policies.get(&runtime_arn).cloned().unwrap_or(Value::Null);
    println!(
        "  the runtime's resource policy is now:\n{}",
        indent(&pretty(&policy))
    );
    checks.expect(
        policy["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::210987654321:root"
            && policy["Statement"][0]["Resource"] == runtime_arn.as_str(),
        "statement grants account 210987654321 on the exact runtime ARN",
    );

    // 2. Custom::AgentCoreMemoryGrant
    heading("memory-grant: events/memory-grant/create-memory-grant.json (Memory data plane for the runtime's role)");
    let grant_env = env_of(
        &emu,
        &[
            ("REQUIRED_ROLE_PREFIX", "LPMA_".into()),
            ("VERIFY_BACKOFF_MS", "100".into()),
            ("VERIFY_ATTEMPTS", "2".into()),
        ],
    );
    let mut memory_grant = start("memory-grant", &grant_env);
    let answer = custom_resource(
        &mut memory_grant,
        &capture,
        event("memory-grant/create-memory-grant.json"),
    );
    println!("  CloudFormation got:\n{}", indent(&pretty(&answer)));
    checks.expect(answer["Status"] == "SUCCESS", "memory grant created");
    checks.expect(
        answer["Data"]["Verification"] == "verified",
        "grant verified against the role and its boundary",
    );
    let policy_name = answer["Data"]["PolicyName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let xml = iam(
        &emu,
        "GetRolePolicy",
        &[("RoleName", ROLE), ("PolicyName", &policy_name)],
    );
    // IAM returns the document URL-encoded.
    let document = aws_calls::xml_text(&xml, "PolicyDocument")
        .and_then(|d| corebound::grants::decode_policy_document(&d).ok())
        .unwrap_or(Value::Null);
    println!(
        "  inline policy {policy_name} on {ROLE}:\n{}",
        indent(&pretty(&document))
    );
    checks.expect(
        document["Statement"][0]["Resource"]
            == format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/{MEMORY_ID}")
                .as_str(),
        "scoped to the exact memory ARN",
    );

    heading("memory-grant refused: the same grant for a role whose boundary allows invoke only");
    emu.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "access-denied"}),
    );
    let mut refused = event("memory-grant/create-memory-grant.json");
    refused["RequestId"] = json!("demo-refused-grant");
    refused["LogicalResourceId"] = json!("ReportingMemoryGrant");
    refused["ResourceProperties"]["RoleName"] = json!(LIMITED_ROLE);
    let answer = custom_resource(&mut memory_grant, &capture, refused);
    println!(
        "  CloudFormation got Status {} with Reason:\n{}",
        answer["Status"],
        indent(answer["Reason"].as_str().unwrap_or(""))
    );
    checks.expect(
        answer["Status"] == "FAILED",
        "grant refused at deploy time, not weeks later",
    );
    checks.expect(
        answer["Reason"]
            .as_str()
            .is_some_and(|r| r.contains("BoundaryForLPMAReporting")),
        "Reason names the permissions boundary that blocks it",
    );
    let inline = iam(&emu, "ListRolePolicies", &[("RoleName", LIMITED_ROLE)]);
    checks.expect(
        !inline.contains("AgentCoreMemory-"),
        "the refused grant left no policy behind",
    );

    // 3. The remediator
    heading("remediator: events/remediator/create-topic.json and create-queue.json");
    let required_tags = json!({"ApplicationId": "app-0042", "Environment": "preprod", "Project": "corebound",
                               "ServiceLine": "platform", "ManagedBy": "platform-ci"});
    let remediator_env = env_of(
        &emu,
        &[
            ("REQUIRED_TAGS", required_tags.to_string()),
            ("KMS_KEY_ARN", cmk.clone()),
            ("MODE", "enforce".into()),
            ("SCOPE_PATTERNS", SCOPE.into()),
            ("REQUIRED_ROLE_PREFIX", "LPMA_".into()),
        ],
    );
    let before_topic = (
        fixtures::topic_tags(&emu, &topic_arn),
        fixtures::topic_attributes(&emu, &topic_arn)
            .get("KmsMasterKeyId")
            .cloned(),
    );
    let before_queue = (
        fixtures::queue_tags(&emu, &queue_url),
        fixtures::queue_attributes(&emu, &queue_url)
            .get("KmsMasterKeyId")
            .cloned(),
    );
    let mut remediator = start("remediator", &remediator_env);
    for file in [
        "remediator/create-topic.json",
        "remediator/create-queue.json",
    ] {
        let result = remediator.invoke(&event(file), WAIT);
        checks.expect(result.is_ok(), &format!("{file} handled"));
    }
    let after_topic = (
        fixtures::topic_tags(&emu, &topic_arn),
        fixtures::topic_attributes(&emu, &topic_arn)
            .get("KmsMasterKeyId")
            .cloned(),
    );
    let after_queue = (
        fixtures::queue_tags(&emu, &queue_url),
        fixtures::queue_attributes(&emu, &queue_url)
            .get("KmsMasterKeyId")
            .cloned(),
    );
    print_change("topic", &before_topic, &after_topic);
    print_change("queue", &before_queue, &after_queue);
    // Audit lines travel through a pipe; the queue's encryption record is the last one.
    remediator.wait_for_output("sqs_queue_key", Duration::from_secs(5));
    let audits: Vec<Value> = remediator
        .log_records()
        .into_iter()
        .filter(|r| r["type"] == "audit")
        .collect();
    println!("  audit records:");
    for record in &audits {
        println!("    {record}");
    }
    let all_tags = |tags: &BTreeMap<String, String>| {
        [
            "ApplicationId",
            "Environment",
            "Project",
            "ServiceLine",
            "ManagedBy",
        ]
        .iter()
        .all(|k| tags.contains_key(*k))
    };
    checks.expect(
        all_tags(&after_topic.0) && all_tags(&after_queue.0),
        "topic and queue carry the five tags",
    );
    checks.expect(
        after_topic.0.get("Project").map(String::as_str) == Some("already-set-by-someone"),
        "an existing tag value was kept, not overwritten",
    );
    checks.expect(
        after_topic.1.as_deref() == Some(cmk.as_str())
            && after_queue.1.as_deref() == Some(cmk.as_str()),
        "topic and queue encrypted with the project CMK",
    );
    checks.expect(!audits.is_empty(), "every decision left an audit record");

    checks.failed
}

type State = (BTreeMap<String, String>, Option<String>);

fn print_change(what: &str, before: &State, after: &State) {
    println!(
        "  {what} before: tags {:?}, KMS {}",
        before.0,
        before.1.as_deref().unwrap_or("none")
    );
    println!(
        "  {what} after:  tags {:?}, KMS {}",
        after.0,
        after.1.as_deref().unwrap_or("none")
    );
}

fn main() -> ExitCode {
    let failed = run();
    if failed.is_empty() {
        println!("\ndemo: every step did what it claims");
        ExitCode::SUCCESS
    } else {
        println!(
            "\ndemo: {} step(s) did not do what they claim: {failed:?}",
            failed.len()
        );
        ExitCode::FAILURE
    }
}
