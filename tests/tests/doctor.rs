//! `corebound doctor` end to end: the built `corebound` binary against the local emulator, whose
//! SimulatePrincipalPolicy (mode `evaluate`) computes decisions from the caller role's identity
//! policies and permissions boundary, as IAM does.
//!
//! Each scenario makes a caller role (`ci-deployer` on the path `/ci/`, so the doctor has to
//! read the role to simulate it) with its own boundary and identity policies, a project key with
//! its own key policy, assumes the role and runs the doctor with the session's credentials. The
//! assertions are on the exact lines, the JSON and the exit code, and on the calls made: the
//! doctor only reads.

use std::process::{Command, Output};

use corebound_tests::aws_calls::{self, xml_text};
use corebound_tests::{binary_path, emulator, Emulator};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/BoundaryForLPMA";
const KEY_ID: &str = "0d3c0f4e-8f0a-4b9e-9a51-6f1f9d1c2b3a";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/0d3c0f4e-8f0a-4b9e-9a51-6f1f9d1c2b3a";
const CALLER: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/doctor-test";
const ROLE: &str = "arn:aws:iam::123456789012:role/ci/ci-deployer";
const HEADER: &str = "corebound doctor: arn:aws:sts::123456789012:assumed-role/ci-deployer/doctor-test in account 123456789012, us-east-1 (simulated as arn:aws:iam::123456789012:role/ci/ci-deployer)";

const OK_1: &str = "pattern 1 ok: iam:CreateRole is allowed inside the prefix (LPMA_Demo_Probe carrying the boundary BoundaryForLPMA) and denied outside it (Demo_Probe)";
const OK_2: &str = "pattern 2 ok: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com is allowed: this principal can create AgentCore runtimes";
const OK_4: &str = "pattern 4 ok: the policy of arn:aws:kms:us-east-1:123456789012:key/0d3c0f4e-8f0a-4b9e-9a51-6f1f9d1c2b3a lets sns, sqs, logs, s3, secretsmanager use the key for the project's resources (demo-*, demo_*), scoped to this account";
const OK_5: &str = "pattern 5 ok: bedrock-agentcore:PutResourcePolicy is allowed on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_Probe-0000000000: cross-account callers can be granted by a resource policy (exact ARNs, no wildcards)";
const REQUIRED_TAGS: &str = r#"{"ApplicationId":"a1b2c3","Environment":"preprod","Project":"demo","ServiceLine":"platform","ManagedBy":"ci"}"#;
const TAGS: [(&str, &str); 5] = [
    ("ApplicationId", "a1b2c3"),
    ("Environment", "preprod"),
    ("Project", "demo"),
    ("ServiceLine", "platform"),
    ("ManagedBy", "ci"),
];
const NOT_COUNTED: &str =
    "note: in-scope resources missing tags or the key were not counted (--no-counts)";
const OK_6: &str = "pattern 6 ok: iam:PutRolePolicy is allowed on LPMA_Demo_Probe: Memory data-plane grants can be written on prefixed roles";

// ---------------------------------------------------------------------------------------
// Fixtures, made with plain IAM/KMS/STS calls as an administrator would

/// A boundary that lets the team do everything the patterns need, inside the prefix.
fn permissive_boundary() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "RolesInsidePrefix", "Effect": "Allow",
         "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
         "Resource": "arn:aws:iam::*:role/LPMA_*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
        {"Sid": "PassRole", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": "arn:aws:iam::*:role/LPMA_*",
         "Condition": {"StringEquals": {"iam:PassedToService": [
             "lambda.amazonaws.com", "bedrock-agentcore.amazonaws.com"]}}},
        {"Sid": "AgentCore", "Effect": "Allow", "Action": "bedrock-agentcore:*", "Resource": "*"},
        {"Sid": "Reads", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "iam:SimulatePrincipalPolicy", "kms:GetKeyPolicy"], "Resource": "*"}
    ]})
}

/// A typical enterprise boundary: PassRole only to a hand-picked list, no AgentCore control
/// plane, no inline policies.
fn enterprise_boundary() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "RolesInsidePrefix", "Effect": "Allow", "Action": "iam:CreateRole",
         "Resource": "arn:aws:iam::*:role/LPMA_*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
        {"Sid": "PassRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": [
             "ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]}}},
        {"Sid": "Reads", "Effect": "Allow", "Action": ["iam:Get*", "iam:SimulatePrincipalPolicy", "kms:GetKeyPolicy"], "Resource": "*"}
    ]})
}

fn admin_identity() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

/// The blog post's pattern 4 statements, one per service, scoped to the account and `demo-*`.
fn service_statement(sid: &str, principal: &str, source_arn: &str) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": principal},
           "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
           "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                         "ArnLike": {"aws:SourceArn": source_arn}}})
}

fn key_statements() -> Vec<Value> {
    vec![
        json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
               "Action": "kms:*", "Resource": "*"}),
        service_statement(
            "AllowSNSUsage",
            "sns.amazonaws.com",
            "arn:aws:sns:us-east-1:123456789012:demo-*",
        ),
        service_statement(
            "AllowSQSUsage",
            "sqs.amazonaws.com",
            "arn:aws:sqs:us-east-1:123456789012:demo-*",
        ),
        json!({"Sid": "AllowLogs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
               "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
               "Resource": "*",
               "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                   "arn:aws:logs:us-east-1:123456789012:log-group:demo-*"}}}),
        service_statement("AllowS3Usage", "s3.amazonaws.com", "arn:aws:s3:::demo-*"),
        service_statement(
            "AllowSecretsUsage",
            "secretsmanager.amazonaws.com",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo_*",
        ),
    ]
}

struct Scenario {
    boundary: Value,
    identity: Vec<(&'static str, Value)>,
    key_statements: Vec<Value>,
    /// `PUT /_corebound/iam/simulation` body (mode `evaluate` unless given).
    simulation: Value,
    /// In-scope resources, made before the doctor runs.
    seed: fn(&Emulator),
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            boundary: permissive_boundary(),
            identity: vec![("Deployer", admin_identity())],
            key_statements: key_statements(),
            simulation: json!({"mode": "evaluate"}),
            seed: |_| {},
        }
    }
}

fn iam(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> String {
    aws_calls::query(emu, "iam", action, params).unwrap_or_else(|e| panic!("iam {action}: {e}"))
}

/// Sets up the scenario; returns the caller session's credentials.
fn arrange(emu: &Emulator, scenario: &Scenario) -> [(String, String); 3] {
    iam(
        emu,
        "CreatePolicy",
        &[
            ("PolicyName", "BoundaryForLPMA"),
            ("PolicyDocument", &scenario.boundary.to_string()),
        ],
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]});
    iam(
        emu,
        "CreateRole",
        &[
            ("RoleName", "ci-deployer"),
            ("Path", "/ci/"),
            ("AssumeRolePolicyDocument", &trust.to_string()),
            ("PermissionsBoundary", BOUNDARY),
        ],
    );
    for (name, document) in &scenario.identity {
        iam(
            emu,
            "PutRolePolicy",
            &[
                ("RoleName", "ci-deployer"),
                ("PolicyName", name),
                ("PolicyDocument", &document.to_string()),
            ],
        );
    }
    let key_policy = json!({"Version": "2012-10-17", "Statement": scenario.key_statements});
    emu.post(
        "/_corebound/kms/keys",
        &json!({"id": KEY_ID, "policy": key_policy.to_string()}),
    );
    emu.put("/_corebound/iam/simulation", &scenario.simulation);
    (scenario.seed)(emu);
    let xml = aws_calls::query(
        emu,
        "sts",
        "AssumeRole",
        &[("RoleArn", ROLE), ("RoleSessionName", "doctor-test")],
    )
    .expect("AssumeRole");
    let credential = |tag: &str| xml_text(&xml, tag).unwrap_or_else(|| panic!("no {tag}"));
    [
        ("AWS_ACCESS_KEY_ID".into(), credential("AccessKeyId")),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            credential("SecretAccessKey"),
        ),
        ("AWS_SESSION_TOKEN".into(), credential("SessionToken")),
    ]
}

/// `corebound doctor ARGS` as the caller, with the project's settings in the environment.
fn doctor(emu: &Emulator, credentials: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new(binary_path("corebound"));
    command.arg("doctor").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .envs(emu.aws_env())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("REQUIRED_ROLE_PREFIX", "LPMA_")
        .env("PERMISSIONS_BOUNDARY_ARN", BOUNDARY)
        .env("KMS_KEY_ARN", KEY)
        .env("SCOPE_PATTERNS", "demo-*,demo_*")
        .env("APP_NAME", "Demo")
        .env("REQUIRED_TAGS", REQUIRED_TAGS)
        .envs(credentials.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command.output().expect("run corebound doctor")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn lines(output: &Output) -> Vec<String> {
    stdout(output).lines().map(str::to_string).collect()
}

/// Runs a scenario; returns the output and the operations the doctor made.
fn run(scenario: &Scenario, args: &[&str]) -> (Output, Vec<String>) {
    let (_guard, emu) = emulator();
    let credentials = arrange(emu, scenario);
    let before = emu.operations().len();
    let output = doctor(emu, &credentials, args);
    let operations = emu.operations()[before..].to_vec();
    (output, operations)
}

// ---------------------------------------------------------------------------------------

/// A compliant topic and queue of the project, and one outside the scope.
fn seed_compliant(emu: &Emulator) {
    aws_calls::fixtures::create_topic(emu, "demo-alerts", &[("KmsMasterKeyId", KEY)], &TAGS);
    aws_calls::fixtures::create_queue(emu, "demo-jobs", &[("KmsMasterKeyId", KEY)], &TAGS);
    aws_calls::fixtures::create_topic(emu, "other-team-topic", &[], &[]);
}

#[test]
fn all_patterns_ok_read_only() {
    let scenario = Scenario {
        seed: seed_compliant,
        ..Scenario::default()
    };
    let (output, operations) = run(&scenario, &[]);
    assert_eq!(
        lines(&output),
        vec![
            HEADER,
            OK_1,
            OK_2,
            OK_4,
            OK_5,
            OK_6,
            "pattern tags ok: all 2 in-scope resources carry the mandatory tags and the project key",
            "6 ok, 0 problem(s), 0 cannot tell"
        ],
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        operations[..8],
        [
            "GetCallerIdentity",
            "GetRole",
            "SimulatePrincipalPolicy",
            "SimulatePrincipalPolicy",
            "SimulatePrincipalPolicy",
            "SimulatePrincipalPolicy",
            "SimulatePrincipalPolicy",
            "GetKeyPolicy",
        ],
        "{operations:?}"
    );
    // Then the sweep in report mode: reads only, whatever the service.
    let writes: Vec<&String> = operations
        .iter()
        .filter(|op| {
            !["Get", "List", "Describe"]
                .iter()
                .any(|read| op.starts_with(read))
        })
        .filter(|op| *op != "SimulatePrincipalPolicy")
        .collect();
    assert!(writes.is_empty(), "the doctor only reads: {writes:?}");
}

#[test]
fn counts_in_scope_resources_missing_tags_or_the_key() {
    let scenario = Scenario {
        seed: |emu| {
            aws_calls::fixtures::create_topic(emu, "demo-alerts", &[], &TAGS[..3]);
            aws_calls::fixtures::create_queue(emu, "demo-jobs", &[("KmsMasterKeyId", KEY)], &TAGS);
            aws_calls::fixtures::create_queue(emu, "demo-dlq", &[], &TAGS);
        },
        ..Scenario::default()
    };
    let (output, operations) = run(&scenario, &[]);
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    assert_eq!(
        lines[6],
        "pattern tags PROBLEM: 2 of 3 in-scope resources miss a mandatory tag or the project key (1 a tag, 2 the key; sns_topic 1, sqs_queue 1). \
         Fix: `corebound sweep --mode enforce` adds what the rules allow (or let the scheduled sweep do it); `corebound sweep --mode report --report FILE` lists them"
    );
    assert_eq!(lines[7], "5 ok, 1 problem(s), 0 cannot tell");
    assert!(
        !operations
            .iter()
            .any(|op| op.starts_with("Tag") || op.starts_with("Set")),
        "report mode writes nothing: {operations:?}"
    );
}

#[test]
fn counts_need_the_remediators_settings() {
    let (_guard, emu) = emulator();
    let credentials = arrange(emu, &Scenario::default());
    let unset = doctor(emu, &credentials, &["--required-tags", ""]);
    assert_eq!(lines(&unset)[6], "pattern tags cannot tell: in-scope resources missing tags or the key were not counted: REQUIRED_TAGS not set. \
        Fix: set REQUIRED_TAGS, KMS_KEY_ARN and SCOPE_PATTERNS (or --required-tags, --kms-key-arn, --scope-patterns) as for the remediator");
    assert_eq!(unset.status.code(), Some(0), "cannot tell is not a problem");
    let skipped = doctor(emu, &credentials, &["--no-counts"]);
    assert_eq!(lines(&skipped)[1], NOT_COUNTED);
    assert_eq!(
        lines(&skipped).len(),
        8,
        "no tags line: {:?}",
        lines(&skipped)
    );
}

#[test]
fn json_form_of_the_all_ok_case() {
    let (output, _) = run(&Scenario::default(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let check = |pattern: &str, line: &str| {
        let message = line.split_once(" ok: ").unwrap().1;
        json!({"pattern": pattern, "status": "ok", "message": message, "fix": null, "notes": []})
    };
    assert_eq!(
        report,
        json!({
            "caller": CALLER,
            "simulatedPrincipal": ROLE,
            "account": ACCOUNT,
            "region": "us-east-1",
            "notes": [],
            "checks": [check("1", OK_1), check("2", OK_2), check("4", OK_4), check("5", OK_5), check("6", OK_6),
                       {"pattern": "tags", "status": "ok", "message": "no in-scope resources yet, so none misses a mandatory tag or the project key", "fix": null, "notes": []}],
            "summary": {"ok": 6, "problem": 0, "cannotTell": 0},
        })
    );
}

#[test]
fn an_enterprise_boundary_denies_pass_role_resource_policies_and_inline_grants() {
    let scenario = Scenario {
        boundary: enterprise_boundary(),
        ..Scenario::default()
    };
    let (output, _) = run(&scenario, &["--no-counts"]);
    assert_eq!(output.status.code(), Some(1), "a problem exits 1");
    assert_eq!(lines(&output), vec![
        HEADER.to_string(),
        NOT_COUNTED.to_string(),
        OK_1.to_string(),
        "pattern 2 PROBLEM: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com is not allowed by the permissions boundary BoundaryForLPMA, so this principal cannot create an AgentCore runtime. \
         Fix: create the runtime once with an elevated role (one-shot bootstrap, docs/bootstrap.md (examples/runtime-bootstrap.yaml)); CI then only updates it (UpdateAgentRuntime needs no PassRole) — or ask security to add bedrock-agentcore.amazonaws.com to the boundary's iam:PassedToService list".to_string(),
        OK_4.to_string(),
        "pattern 5 PROBLEM: bedrock-agentcore:PutResourcePolicy on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_Probe-0000000000 is not allowed by the permissions boundary BoundaryForLPMA. \
         Fix: the permissions boundary BoundaryForLPMA must allow bedrock-agentcore:PutResourcePolicy on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*: ask its owners (usually security) to add that statement".to_string(),
        format!("pattern 6 PROBLEM: iam:PutRolePolicy on LPMA_Demo_Probe is not allowed by the permissions boundary BoundaryForLPMA, so Memory data-plane grants cannot be written on prefixed roles. \
         Fix: the permissions boundary BoundaryForLPMA must allow iam:PutRolePolicy on arn:aws:iam::123456789012:role/LPMA_* with the condition iam:PermissionsBoundary = {BOUNDARY}: ask its owners (usually security) to add that statement"),
        "2 ok, 3 problem(s), 0 cannot tell".to_string(),
    ]);
}

#[test]
fn identity_policies_that_deny_or_do_not_allow() {
    let identity = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": ["iam:CreateRole", "iam:PassRole"], "Resource": "*"},
        {"Sid": "NoResourcePolicies", "Effect": "Deny", "Action": "bedrock-agentcore:PutResourcePolicy", "Resource": "*"}]});
    let scenario = Scenario {
        identity: vec![("Guarded", identity)],
        ..Scenario::default()
    };
    let (output, _) = run(&scenario, &["--no-counts"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(lines(&output), vec![
        HEADER.to_string(),
        NOT_COUNTED.to_string(),
        format!("pattern 1 PROBLEM: iam:CreateRole of LPMA_Demo_Probe carrying the boundary BoundaryForLPMA is not allowed by any identity policy of the caller. \
         Fix: add an Allow statement for iam:CreateRole on arn:aws:iam::123456789012:role/LPMA_* with the condition iam:PermissionsBoundary = {BOUNDARY} to an identity policy of {ROLE}"),
        format!("pattern 2 PROBLEM: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com is not allowed by any identity policy of the caller, so this principal cannot create an AgentCore runtime. \
         Fix: create the runtime once with an elevated role (one-shot bootstrap, docs/bootstrap.md (examples/runtime-bootstrap.yaml)); CI then only updates it (UpdateAgentRuntime needs no PassRole) — or ask security to add bedrock-agentcore.amazonaws.com to the boundary's iam:PassedToService list. \
         Or: add an Allow statement for iam:PassRole on arn:aws:iam::123456789012:role/LPMA_* with the condition iam:PassedToService = bedrock-agentcore.amazonaws.com to an identity policy of {ROLE}"),
        OK_4.to_string(),
        "pattern 5 PROBLEM: bedrock-agentcore:PutResourcePolicy on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_Probe-0000000000 is denied explicitly by policy Guarded. \
         Fix: policy Guarded denies bedrock-agentcore:PutResourcePolicy on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*: remove or narrow that Deny statement".to_string(),
        OK_6.to_string(),
        "2 ok, 3 problem(s), 0 cannot tell".to_string(),
    ]);
}

#[test]
fn a_boundary_that_does_not_enforce_the_prefix_is_a_note() {
    let mut boundary = permissive_boundary();
    boundary["Statement"][0]["Resource"] = json!("*");
    let (output, _) = run(
        &Scenario {
            boundary,
            ..Scenario::default()
        },
        &["--no-counts"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(lines(&output)[2], "pattern 1 ok: iam:CreateRole is allowed inside the prefix (LPMA_Demo_Probe carrying the boundary BoundaryForLPMA). \
        Note: iam:CreateRole is allowed outside the prefix too (Demo_Probe): nothing here enforces the LPMA_ naming, so keep naming roles LPMA_<App>_<Purpose> yourself");
}

#[test]
fn conditions_the_doctor_cannot_supply_and_service_control_policies() {
    let mut boundary = permissive_boundary();
    // PassRole only from inside a VPC: the doctor cannot know the caller's VPC.
    boundary["Statement"][1]["Condition"]["StringEquals"]["aws:SourceVpc"] = json!("vpc-0abc");
    let scenario = Scenario {
        boundary,
        simulation: json!({"mode": "evaluate", "serviceControlPolicies": [
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                           {"Effect": "Deny", "Action": "iam:PutRolePolicy", "Resource": "*"}]}]}),
        ..Scenario::default()
    };
    let (output, _) = run(&scenario, &["--no-counts"]);
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    assert_eq!(lines[3], "pattern 2 cannot tell: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com: it depends on a condition on aws:SourceVpc, which the doctor cannot supply");
    assert_eq!(lines[6], "pattern 6 PROBLEM: iam:PutRolePolicy on LPMA_Demo_Probe is denied by a service control policy of the organization, so Memory data-plane grants cannot be written on prefixed roles. \
        Fix: a service control policy denies iam:PutRolePolicy: only the organization's administrators can change that (or deploy from an account where it is allowed)");
    assert_eq!(lines[7], "3 ok, 1 problem(s), 1 cannot tell");
}

#[test]
fn a_key_policy_without_the_sns_statement() {
    let mut statements = key_statements();
    statements.retain(|s| s["Sid"] != "AllowSNSUsage");
    let (output, _) = run(
        &Scenario {
            key_statements: statements,
            ..Scenario::default()
        },
        &["--format", "json", "--no-counts"],
    );
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let expected_statement = json!({"Sid": "AllowSNSUsage", "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                      "ArnLike": {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:demo-*",
                                                    "arn:aws:sns:us-east-1:123456789012:demo_*"]}}});
    assert_eq!(
        report["checks"][2],
        json!({"pattern": "4", "status": "problem",
               "message": format!("the policy of the project key {KEY}, for the project's resources (demo-*, demo_*): no statement lets sns.amazonaws.com use it"),
               "fix": format!("in the key policy, add {expected_statement}"),
               "notes": []})
    );
    assert_eq!(
        report["summary"],
        json!({"ok": 4, "problem": 1, "cannotTell": 0})
    );
}

#[test]
fn a_caller_that_may_not_simulate_is_told_how_to_fix_it() {
    let (output, operations) = run(
        &Scenario {
            simulation: json!({"mode": "access-denied"}),
            ..Scenario::default()
        },
        &["--no-counts"],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "cannot tell is not a problem"
    );
    let lines = lines(&output);
    for (index, pattern) in [(2, "1"), (3, "2"), (5, "5"), (6, "6")] {
        assert!(
            lines[index].starts_with(&format!("pattern {pattern} cannot tell: the caller may not call iam:SimulatePrincipalPolicy (AccessDenied: ")),
            "{}",
            lines[index]
        );
        assert!(lines[index].ends_with(&format!(
            "Fix: allow iam:SimulatePrincipalPolicy on {ROLE} to the caller (it reads, never changes)"
        )));
    }
    assert_eq!(lines[4], OK_4);
    assert_eq!(
        operations
            .iter()
            .filter(|o| *o == "SimulatePrincipalPolicy")
            .count(),
        1,
        "stops at the first refusal"
    );
}

#[test]
fn a_bad_setting_is_an_error_before_any_call() {
    let (_guard, emu) = emulator();
    let output = Command::new(binary_path("corebound"))
        .args(["doctor", "--role-prefix", "LP*"])
        .envs(emu.aws_env())
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run corebound doctor");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("REQUIRED_ROLE_PREFIX is \"LP*\""),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(emu.operations().is_empty());
}
