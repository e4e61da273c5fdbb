//! `memory-grant` end to end: the built binary, run through a local Lambda Runtime API,
//! against the local emulator (moto's IAM with a real permissions boundary stored on the role,
//! scripted `SimulatePrincipalPolicy`, and the AgentCore runtime emulator), answering a local
//! ResponseURL. Requests are the samples in `events/memory-grant/`.
//!
//! Fixture roles and policies are made with plain IAM query calls, as a deployer would, and the
//! resulting inline policy is read back the same way: the function is never asked about its own
//! work.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use corebound::grants::decode_policy_document;
use corebound_tests::aws_calls::{self, xml_text};
use corebound_tests::{
    binary_path, emulator, event, with_response_url, Emulator, LambdaProcess, ResponseCapture,
};
use serde_json::{json, Value};

const ROLE: &str = "LPMA_Demo_AgentCoreRuntime";
const BOUNDARY: &str = "BoundaryForLPMA";
const MEMORY: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/corebound_demo_memory-a1B2c3D4e5";
const RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent-AbCdE12345";
const RECREATED_RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent-ZyXwV98765";
/// `AgentCoreMemory-<LogicalResourceId>-<short hash of the sample events' StackId>`.
const MEMORY_POLICY: &str = "AgentCoreMemory-RuntimeMemoryGrant-103dd844fea8";
const INVOKE_POLICY: &str = "AgentCoreInvoke-DispatcherInvokeGrant-103dd844fea8";
const INVOKE: &str = "bedrock-agentcore:InvokeAgentRuntime";

const MEMORY_ACTIONS: [&str; 16] = [
    "GetMemory",
    "CreateEvent",
    "GetEvent",
    "ListEvents",
    "DeleteEvent",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "DeleteMemoryRecord",
    "BatchCreateMemoryRecords",
    "BatchUpdateMemoryRecords",
    "BatchDeleteMemoryRecords",
    "StartMemoryExtractionJob",
    "ListMemoryExtractionJobs",
];
const READ_ONLY_ACTIONS: [&str; 9] = [
    "GetMemory",
    "GetEvent",
    "ListEvents",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "ListMemoryExtractionJobs",
];

fn memory_action_names(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("bedrock-agentcore:{n}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Running the function

/// The function with the test settings: the LPMA_ prefix, and fast re-checks.
fn start(emulator: &Emulator, overrides: &[(&str, &str)]) -> LambdaProcess {
    let mut env: Vec<(&str, String)> = emulator.aws_env();
    env.extend([
        ("REQUIRED_ROLE_PREFIX", "LPMA_".to_string()),
        ("VERIFY_ATTEMPTS", "3".to_string()),
        ("VERIFY_BACKOFF_MS", "10".to_string()),
    ]);
    for (name, value) in overrides {
        env.retain(|(n, _)| n != name);
        env.push((name, value.to_string()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    LambdaProcess::start(binary_path("memory-grant"), &env)
}

static NEXT_REQUEST: AtomicU32 = AtomicU32::new(1);

/// A sample event aimed at `capture`, with a RequestId of its own (a process never answers
/// one RequestId twice, and some tests send the same sample more than once).
fn request(sample: &str, capture: &ResponseCapture) -> Value {
    let mut r = with_response_url(event(&format!("memory-grant/{sample}")), &capture.url());
    r["RequestId"] = json!(format!(
        "memory-grant-test-{}",
        NEXT_REQUEST.fetch_add(1, Ordering::Relaxed)
    ));
    r
}

/// Invoke and return the one answer it produced.
fn answer(function: &mut LambdaProcess, capture: &ResponseCapture, request: &Value) -> Value {
    let before = capture.accepted().len();
    let result = function.invoke(request, Duration::from_secs(60));
    assert!(
        result.is_ok(),
        "invocation failed: {result:?}\n{}",
        function.output()
    );
    let accepted = capture.accepted();
    assert_eq!(
        accepted.len(),
        before + 1,
        "exactly one answer per request: {accepted:?}"
    );
    let answer = accepted.last().cloned().unwrap();
    assert_eq!(answer["RequestId"], request["RequestId"]);
    answer
}

fn assert_success(answer: &Value) {
    assert_eq!(answer["Status"], "SUCCESS", "{answer:#}");
}

fn failed_reason(answer: &Value) -> String {
    assert_eq!(answer["Status"], "FAILED", "{answer:#}");
    answer["Reason"].as_str().unwrap_or_default().to_string()
}

fn count(operations: &[String], name: &str) -> usize {
    operations.iter().filter(|o| o.as_str() == name).count()
}

// ---------------------------------------------------------------------------------------
// IAM fixtures, through the query protocol

/// An IAM query call (`Action` among the params); the XML body, or the error with its body.
fn iam(emulator: &Emulator, params: &[(&str, &str)]) -> Result<String, String> {
    let action = params
        .iter()
        .find(|(k, _)| *k == "Action")
        .map(|(_, v)| *v)
        .expect("an Action parameter");
    let rest: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(k, _)| *k != "Action")
        .collect();
    aws_calls::query(emulator, "iam", action, &rest)
}

fn iam_ok(emulator: &Emulator, params: &[(&str, &str)]) -> String {
    iam(emulator, params).unwrap_or_else(|error| panic!("{error}"))
}

fn create_managed_policy(emulator: &Emulator, name: &str, document: &Value) -> String {
    let body = iam_ok(
        emulator,
        &[
            ("Action", "CreatePolicy"),
            ("PolicyName", name),
            ("PolicyDocument", &document.to_string()),
        ],
    );
    xml_text(&body, "Arn").expect("policy ARN")
}

/// The runtime role with a permissions boundary allowing `boundary_actions` on everything.
fn role_with_boundary(emulator: &Emulator, boundary_document: &Value) -> String {
    let boundary = create_managed_policy(emulator, BOUNDARY, boundary_document);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    iam_ok(
        emulator,
        &[
            ("Action", "CreateRole"),
            ("RoleName", ROLE),
            ("AssumeRolePolicyDocument", &trust.to_string()),
            ("PermissionsBoundary", &boundary),
        ],
    );
    boundary
}

fn boundary_allowing(actions: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Team", "Effect": "Allow", "Action": actions, "Resource": "*"}]})
}

/// The inline policy as IAM stores it, URL-decoded; `None` when there is none.
fn inline_policy(emulator: &Emulator, policy: &str) -> Option<Value> {
    match iam(
        emulator,
        &[
            ("Action", "GetRolePolicy"),
            ("RoleName", ROLE),
            ("PolicyName", policy),
        ],
    ) {
        Ok(body) => {
            // IAM returns the document URL-encoded.
            let encoded = xml_text(&body, "PolicyDocument").expect("PolicyDocument");
            Some(decode_policy_document(&encoded).expect("JSON document"))
        }
        Err(error) if error.contains("NoSuchEntity") => None,
        Err(error) => panic!("{error}"),
    }
}

/// The (actions, resources) of the single statement of a written grant.
fn granted(document: &Value) -> (Vec<String>, Vec<String>) {
    let statements = document["Statement"].as_array().expect("Statement list");
    assert_eq!(statements.len(), 1, "{document}");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    let list = |v: &Value| match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect(),
        other => panic!("unexpected {other}"),
    };
    let (actions, resources) = (list(&statement["Action"]), list(&statement["Resource"]));
    for item in actions.iter().chain(&resources) {
        assert!(
            !item.contains('*') && !item.contains('?'),
            "no wildcards: {item}"
        );
    }
    (actions, resources)
}

/// Script `SimulatePrincipalPolicy`: each action allowed, or not allowed by the boundary.
fn script_simulation(
    emulator: &Emulator,
    allowed: &[String],
    boundary_denied: &[String],
    denies_before_allow: u32,
) {
    let mut decisions: Vec<Value> = allowed
        .iter()
        .map(|a| json!({"action": a, "decision": "allowed", "allowedByPermissionsBoundary": true}))
        .collect();
    decisions.extend(boundary_denied.iter().map(
        |a| json!({"action": a, "decision": "implicitDeny", "allowedByPermissionsBoundary": false}),
    ));
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions, "deniesBeforeAllow": denies_before_allow}),
    );
}

fn seed_runtime(emulator: &Emulator, arn: &str, status: &str) {
    let id = arn.rsplit('/').next().unwrap();
    let name = id.rsplit_once('-').unwrap().0;
    let seeded = emulator.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": name, "id": id, "status": status, "endpoints": ["DEFAULT"]}),
    );
    assert_eq!(seeded["agentRuntimeArn"], arn);
}

// ---------------------------------------------------------------------------------------
// Custom::AgentCoreMemoryGrant

#[test]
fn memory_grant_create_update_delete_on_a_role_with_a_boundary() {
    let (_guard, emulator) = emulator();
    role_with_boundary(
        emulator,
        &boundary_allowing(&["bedrock-agentcore:*", "logs:*"]),
    );
    script_simulation(emulator, &memory_action_names(&MEMORY_ACTIONS), &[], 0);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let physical_id = format!("{ROLE}|{MEMORY_POLICY}");

    let created = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["PhysicalResourceId"], physical_id.as_str());
    assert_eq!(created["Data"]["PolicyName"], MEMORY_POLICY);
    assert_eq!(
        created["Data"]["Actions"],
        memory_action_names(&MEMORY_ACTIONS).join(",")
    );
    assert_eq!(created["Data"]["Verification"], "verified");
    let (actions, resources) = granted(&inline_policy(emulator, MEMORY_POLICY).expect("written"));
    assert_eq!(actions, memory_action_names(&MEMORY_ACTIONS));
    assert_eq!(resources, vec![MEMORY.to_string()]);
    let operations = emulator.operations();
    for op in [
        "PutRolePolicy",
        "GetRolePolicy",
        "GetRole",
        "SimulatePrincipalPolicy",
    ] {
        assert!(
            operations.contains(&op.to_string()),
            "{op} in {operations:?}"
        );
    }

    // Access: ReadWrite -> ReadOnly rewrites the same inline policy in place.
    script_simulation(emulator, &memory_action_names(&READ_ONLY_ACTIONS), &[], 0);
    let updated = answer(
        &mut f,
        &capture,
        &request("update-memory-grant.json", &capture),
    );
    assert_success(&updated);
    assert_eq!(updated["PhysicalResourceId"], physical_id.as_str());
    assert_eq!(
        updated["Data"]["Actions"],
        memory_action_names(&READ_ONLY_ACTIONS).join(",")
    );
    let (actions, _) = granted(&inline_policy(emulator, MEMORY_POLICY).unwrap());
    assert_eq!(actions, memory_action_names(&READ_ONLY_ACTIONS));

    let deleted = answer(
        &mut f,
        &capture,
        &request("delete-memory-grant.json", &capture),
    );
    assert_success(&deleted);
    assert_eq!(deleted["PhysicalResourceId"], physical_id.as_str());
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);

    // Delete twice (CloudFormation retries, rollbacks): already gone is SUCCESS.
    let again = answer(
        &mut f,
        &capture,
        &request("delete-memory-grant.json", &capture),
    );
    assert_success(&again);
    assert_eq!(again["PhysicalResourceId"], physical_id.as_str());
}

#[test]
fn boundary_without_the_memory_actions_fails_naming_the_boundary_and_removes_the_policy() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&[INVOKE, "logs:*"]));
    script_simulation(emulator, &[], &memory_action_names(&MEMORY_ACTIONS), 0);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let create = request("create-memory-grant.json", &capture);
    let answer = answer(&mut f, &capture, &create);
    let reason = failed_reason(&answer);
    assert_eq!(
        answer["PhysicalResourceId"],
        format!(
            "corebound-failed-create:{}",
            create["RequestId"].as_str().unwrap()
        )
    );
    assert!(
        reason.contains(&format!(
            "role {ROLE} may not use the grant in inline policy {MEMORY_POLICY}"
        )),
        "{reason}"
    );
    assert!(
        reason.contains("checked 1 time with iam:SimulatePrincipalPolicy"),
        "a boundary denial is not re-checked: {reason}"
    );
    assert!(
        reason.contains(&format!(
            "bedrock-agentcore:{} on {MEMORY}: not allowed by the permissions boundary {BOUNDARY}",
            MEMORY_ACTIONS.join(", ")
        )),
        "{reason}"
    );
    assert!(
        reason.contains("ask the owner of the permissions boundary"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "Inline policy {MEMORY_POLICY} was removed from role {ROLE}"
        )),
        "{reason}"
    );
    assert_eq!(
        inline_policy(emulator, MEMORY_POLICY),
        None,
        "a failed Create leaves nothing behind"
    );
    assert_eq!(count(&emulator.operations(), "DeleteRolePolicy"), 1);
}

#[test]
fn without_the_simulator_the_boundary_stored_in_iam_is_evaluated_locally() {
    let (_guard, emulator) = emulator();
    role_with_boundary(
        emulator,
        &boundary_allowing(&[INVOKE, "bedrock-agentcore:Get*", "bedrock-agentcore:List*"]),
    );
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "access-denied"}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let answer = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    let reason = failed_reason(&answer);
    assert!(reason.contains("a local evaluation of the role's policies, because this function may not call iam:SimulatePrincipalPolicy"), "{reason}");
    // Get*/List* pass the boundary; everything else is named with the boundary.
    assert!(reason.contains(&format!(
        "bedrock-agentcore:CreateEvent, DeleteEvent, RetrieveMemoryRecords, DeleteMemoryRecord, BatchCreateMemoryRecords, BatchUpdateMemoryRecords, BatchDeleteMemoryRecords, StartMemoryExtractionJob on {MEMORY}: not allowed by the permissions boundary {BOUNDARY}"
    )), "{reason}");
    assert!(
        !reason.contains("GetEvent,") && !reason.contains("ListEvents"),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
    let operations = emulator.operations();
    for op in [
        "GetRole",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
    ] {
        assert!(
            operations.contains(&op.to_string()),
            "{op} in {operations:?}"
        );
    }
}

#[test]
fn local_evaluation_verifies_a_boundary_with_the_service_wildcard_and_never_guesses_a_condition() {
    let (_guard, emulator) = emulator();
    // The boundary allows bedrock-agentcore:* (the common enterprise shape), plus an attached
    // managed policy on the role that must not get in the way.
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let logs = create_managed_policy(
        emulator,
        "LPMA_Demo_Logs",
        &json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}),
    );
    iam_ok(
        emulator,
        &[
            ("Action", "AttachRolePolicy"),
            ("RoleName", ROLE),
            ("PolicyArn", &logs),
        ],
    );
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "access-denied"}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let created = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["Data"]["Verification"], "verified");

    // A Condition in another inline policy's Deny: the answer depends on request context, so
    // the grant is kept but reported unverified rather than guessed.
    let guard = json!({"Version": "2012-10-17", "Statement": [{"Sid": "OnlyFromVpc", "Effect": "Deny",
        "Action": "bedrock-agentcore:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-0123"}}}]});
    iam_ok(
        emulator,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", ROLE),
            ("PolicyName", "LPMA_Guard"),
            ("PolicyDocument", &guard.to_string()),
        ],
    );
    let updated = answer(
        &mut f,
        &capture,
        &request("update-memory-grant.json", &capture),
    );
    assert_success(&updated);
    let verification = updated["Data"]["Verification"].as_str().unwrap();
    assert!(
        verification.starts_with("unverified: bedrock-agentcore:GetMemory on "),
        "{verification}"
    );
    assert!(
        verification.contains("inline policy LPMA_Guard statement OnlyFromVpc"),
        "{verification}"
    );
    assert!(verification.contains("aws:SourceVpc"), "{verification}");
}

#[test]
fn a_denial_right_after_the_write_is_rechecked_until_iam_shows_the_grant() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    script_simulation(emulator, &memory_action_names(&MEMORY_ACTIONS), &[], 2);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let created = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["Data"]["Verification"], "verified");
    assert_eq!(count(&emulator.operations(), "SimulatePrincipalPolicy"), 3);

    // A propagation delay longer than VERIFY_ATTEMPTS allows is reported, and undone.
    let capture = ResponseCapture::start();
    iam_ok(
        emulator,
        &[
            ("Action", "DeleteRolePolicy"),
            ("RoleName", ROLE),
            ("PolicyName", MEMORY_POLICY),
        ],
    );
    script_simulation(emulator, &memory_action_names(&MEMORY_ACTIONS), &[], 5);
    let answer = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    let reason = failed_reason(&answer);
    assert!(
        reason.contains("checked 3 times with iam:SimulatePrincipalPolicy"),
        "{reason}"
    );
    assert!(
        reason.contains("not allowed by any identity policy of the role"),
        "{reason}"
    );
    assert!(reason.contains("VERIFY_ATTEMPTS"), "{reason}");
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
}

#[test]
fn an_update_that_fails_verification_restores_the_previous_document() {
    let (_guard, emulator) = emulator();
    role_with_boundary(
        emulator,
        &boundary_allowing(&[
            "bedrock-agentcore:Get*",
            "bedrock-agentcore:List*",
            "bedrock-agentcore:RetrieveMemoryRecords",
        ]),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    // Created ReadOnly (what the boundary allows)...
    script_simulation(emulator, &memory_action_names(&READ_ONLY_ACTIONS), &[], 0);
    let mut create = request("update-memory-grant.json", &capture);
    create["RequestType"] = json!("Create");
    create.as_object_mut().unwrap().remove("PhysicalResourceId");
    create
        .as_object_mut()
        .unwrap()
        .remove("OldResourceProperties");
    assert_success(&answer(&mut f, &capture, &create));
    let read_only = inline_policy(emulator, MEMORY_POLICY).unwrap();

    // ...then updated to ReadWrite, which the boundary refuses.
    let writes: Vec<String> = MEMORY_ACTIONS
        .iter()
        .filter(|a| !READ_ONLY_ACTIONS.contains(a))
        .map(|a| format!("bedrock-agentcore:{a}"))
        .collect();
    script_simulation(
        emulator,
        &memory_action_names(&READ_ONLY_ACTIONS),
        &writes,
        0,
    );
    let mut update = request("update-memory-grant.json", &capture);
    update["ResourceProperties"]["Access"] = json!("ReadWrite");
    update["OldResourceProperties"]["Access"] = json!("ReadOnly");
    let answer = answer(&mut f, &capture, &update);
    let reason = failed_reason(&answer);
    assert_eq!(
        answer["PhysicalResourceId"],
        format!("{ROLE}|{MEMORY_POLICY}")
    );
    assert!(
        reason.contains("bedrock-agentcore:CreateEvent, DeleteEvent"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "not allowed by the permissions boundary {BOUNDARY}"
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "The previous document of inline policy {MEMORY_POLICY} was restored"
        )),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, MEMORY_POLICY).unwrap(), read_only);
}

#[test]
fn a_role_outside_the_prefix_fails_naming_the_rule_before_any_aws_call() {
    let (_guard, emulator) = emulator();
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    for sample in ["create-memory-grant.json", "create-invoke-grant.json"] {
        let mut r = request(sample, &capture);
        r["ResourceProperties"]["RoleName"] = json!("AgentCoreRuntimeRole");
        let reason = failed_reason(&answer(&mut f, &capture, &r));
        assert_eq!(
            reason,
            "property RoleName has value \"AgentCoreRuntimeRole\"; expected a role whose name starts with LPMA_: the permissions boundary only lets this team manage roles named LPMA_*, so IAM would refuse to change this role with an AccessDenied that does not mention the naming rule (the prefix is the function's REQUIRED_ROLE_PREFIX)"
        );
    }
    assert_eq!(
        emulator.operations(),
        Vec::<String>::new(),
        "no AWS call was made"
    );
}

#[test]
fn access_denied_from_iam_names_the_call_and_the_boundary_cause() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    emulator.post(
        "/_corebound/faults",
        &json!({"service": "iam", "operation": "PutRolePolicy", "status": 403, "code": "AccessDenied",
            "message": "User: arn:aws:sts::123456789012:assumed-role/LPMA_Demo_MemoryGrant/fn is not authorized to perform: iam:PutRolePolicy on resource: role LPMA_Demo_AgentCoreRuntime with an explicit deny in a permissions boundary"}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    ));
    assert!(reason.starts_with(&format!("iam:PutRolePolicy failed: AccessDenied: this function's own role may not call iam:PutRolePolicy on role {ROLE}")), "{reason}");
    assert!(
        reason.contains("permissions boundary") && reason.contains("roles named LPMA_*"),
        "{reason}"
    );
    assert!(
        reason.contains("with an explicit deny in a permissions boundary"),
        "AWS's words are kept: {reason}"
    );
    assert!(
        !reason.contains("removed"),
        "a refused write wrote nothing to undo: {reason}"
    );
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
    assert_eq!(count(&emulator.operations(), "DeleteRolePolicy"), 0);
}

#[test]
fn generic_custom_resource_type_is_dispatched_by_its_properties() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    script_simulation(emulator, &memory_action_names(&MEMORY_ACTIONS), &[], 0);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let mut generic = request("create-memory-grant.json", &capture);
    generic["ResourceType"] = json!("AWS::CloudFormation::CustomResource");
    let created = answer(&mut f, &capture, &generic);
    assert_success(&created);
    assert_eq!(created["Data"]["PolicyName"], MEMORY_POLICY);

    let mut ambiguous = request("create-memory-grant.json", &capture);
    ambiguous["ResourceType"] = json!("AWS::CloudFormation::CustomResource");
    ambiguous["LogicalResourceId"] = json!("Other");
    ambiguous["ResourceProperties"]["RuntimeArn"] = json!(RUNTIME);
    let reason = failed_reason(&answer(&mut f, &capture, &ambiguous));
    assert!(
        reason.starts_with("ambiguous AWS::CloudFormation::CustomResource: it has both MemoryArn"),
        "{reason}"
    );
}

#[test]
fn a_delete_whose_properties_do_not_describe_the_policy_changes_nothing() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let mut create = request("create-memory-grant.json", &capture);
    create["ResourceProperties"]["Verify"] = json!("false");
    let created = answer(&mut f, &capture, &create);
    assert_success(&created);
    assert_eq!(created["Data"]["Verification"], "skipped");
    assert_eq!(count(&emulator.operations(), "SimulatePrincipalPolicy"), 0);
    let written = inline_policy(emulator, MEMORY_POLICY).expect("written");

    // Properties that are not this grant's (invalid, another role): SUCCESS, nothing removed.
    for properties in [
        json!({"ServiceToken": "x", "RoleName": "Not_Prefixed", "Typo": 1}),
        json!({"ServiceToken": "x"}),
        json!({"ServiceToken": "x", "RoleName": "LPMA_Demo_Other", "MemoryArn": MEMORY}),
    ] {
        let mut delete = request("delete-memory-grant.json", &capture);
        delete["ResourceProperties"] = properties;
        assert_success(&answer(&mut f, &capture, &delete));
        assert_eq!(
            inline_policy(emulator, MEMORY_POLICY).as_ref(),
            Some(&written)
        );
    }
    assert_eq!(count(&emulator.operations(), "DeleteRolePolicy"), 0);

    // The resource's own Delete removes it.
    assert_success(&answer(
        &mut f,
        &capture,
        &request("delete-memory-grant.json", &capture),
    ));
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
}

#[test]
fn an_existing_policy_of_another_owner_is_never_overwritten() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let theirs = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::theirs/*"}]});
    iam_ok(
        emulator,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", ROLE),
            ("PolicyName", "Shared"),
            ("PolicyDocument", &theirs.to_string()),
        ],
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let mut create = request("create-memory-grant.json", &capture);
    create["ResourceProperties"]["PolicyName"] = json!("Shared");
    let reason = failed_reason(&answer(&mut f, &capture, &create));
    assert!(
        reason.starts_with(
            "property PolicyName has value \"Shared\"; expected a name not already used on role"
        ),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, "Shared").unwrap(), theirs);
}

#[test]
fn invalid_configuration_fails_every_request_naming_the_variable() {
    // One rule for every corebound function (docs/reference/custom-resource-protocol.md):
    // Create and Update FAILED naming the variable; a Delete too (nothing deleted), because
    // without valid settings the function cannot tell safely what the resource owns.
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[("VERIFY_ATTEMPTS", "0")]);
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    ));
    assert!(
        reason.contains("VERIFY_ATTEMPTS is \"0\"; expected a whole number from 1 to 10")
            && reason.contains("Nothing was changed"),
        "{reason}"
    );
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("delete-memory-grant.json", &capture),
    ));
    assert!(
        reason.contains("VERIFY_ATTEMPTS") && reason.contains("Nothing was deleted"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------
// Custom::AgentCoreInvokeGrant

#[test]
fn invoke_grant_follows_a_recreated_runtime_in_place() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&[INVOKE]));
    script_simulation(emulator, &[INVOKE.to_string()], &[], 0);
    seed_runtime(emulator, RUNTIME, "READY");
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let physical_id = format!("{ROLE}|{INVOKE_POLICY}");

    let created = answer(
        &mut f,
        &capture,
        &request("create-invoke-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["PhysicalResourceId"], physical_id.as_str());
    assert_eq!(created["Data"]["PolicyName"], INVOKE_POLICY);
    assert_eq!(created["Data"]["Actions"], INVOKE);
    assert_eq!(created["Data"]["Verification"], "verified");
    let (actions, resources) = granted(&inline_policy(emulator, INVOKE_POLICY).unwrap());
    assert_eq!(actions, vec![INVOKE.to_string()]);
    assert_eq!(
        resources,
        vec![
            RUNTIME.to_string(),
            format!("{RUNTIME}/runtime-endpoint/DEFAULT")
        ]
    );
    assert!(emulator
        .operations()
        .contains(&"GetAgentRuntime".to_string()));

    // The runtime is deleted and recreated: a new id, the same grant.
    emulator.delete("/_corebound/agentcore/runtimes/corebound_demo_agent-AbCdE12345");
    seed_runtime(emulator, RECREATED_RUNTIME, "READY");
    let updated = answer(
        &mut f,
        &capture,
        &request("update-invoke-grant.json", &capture),
    );
    assert_success(&updated);
    assert_eq!(
        updated["PhysicalResourceId"],
        physical_id.as_str(),
        "an in-place update, no replacement"
    );
    let (_, resources) = granted(&inline_policy(emulator, INVOKE_POLICY).unwrap());
    assert_eq!(
        resources,
        vec![
            RECREATED_RUNTIME.to_string(),
            format!("{RECREATED_RUNTIME}/runtime-endpoint/DEFAULT")
        ],
        "the policy names only the new runtime"
    );

    assert_success(&answer(
        &mut f,
        &capture,
        &request("delete-invoke-grant.json", &capture),
    ));
    assert_eq!(inline_policy(emulator, INVOKE_POLICY), None);
    assert_success(&answer(
        &mut f,
        &capture,
        &request("delete-invoke-grant.json", &capture),
    ));
}

#[test]
fn a_runtime_that_is_not_ready_fails_naming_its_status() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&[INVOKE]));
    script_simulation(emulator, &[INVOKE.to_string()], &[], 0);
    seed_runtime(emulator, RUNTIME, "CREATING");
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-invoke-grant.json", &capture),
    ));
    assert_eq!(
        reason,
        format!("RequireReady: runtime {RUNTIME} has status CREATING, not READY, so it cannot be invoked yet; wait until it is READY (or fix the runtime) and retry, or set RequireReady to false to grant anyway")
    );
    assert_eq!(
        count(&emulator.operations(), "PutRolePolicy"),
        0,
        "checked before writing"
    );

    emulator.post(
        "/_corebound/agentcore/runtimes/corebound_demo_agent-AbCdE12345/status",
        &json!({"status": "UPDATE_FAILED", "failureReason": "container image not found"}),
    );
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-invoke-grant.json", &capture),
    ));
    assert!(
        reason.contains("has status UPDATE_FAILED (AgentCore says: container image not found)"),
        "{reason}"
    );

    // A runtime that does not exist at all (a stale ARN).
    let mut stale = request("create-invoke-grant.json", &capture);
    stale["ResourceProperties"]["RuntimeArn"] = json!(RECREATED_RUNTIME);
    let reason = failed_reason(&answer(&mut f, &capture, &stale));
    assert!(
        reason.starts_with(&format!(
            "RequireReady: runtime {RECREATED_RUNTIME} does not exist"
        )),
        "{reason}"
    );

    // RequireReady: false grants anyway.
    let mut anyway = request("create-invoke-grant.json", &capture);
    anyway["ResourceProperties"]["RequireReady"] = json!("false");
    assert_success(&answer(&mut f, &capture, &anyway));
}

#[test]
fn invoke_grant_denied_by_the_boundary_fails_naming_it() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:Get*"]));
    script_simulation(emulator, &[], &[INVOKE.to_string()], 0);
    seed_runtime(emulator, RUNTIME, "READY");
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-invoke-grant.json", &capture),
    ));
    assert!(reason.contains(&format!(
        "{INVOKE} on {RUNTIME}, {RUNTIME}/runtime-endpoint/DEFAULT: not allowed by the permissions boundary {BOUNDARY}"
    )), "{reason}");
    assert!(
        reason.contains(&format!("Inline policy {INVOKE_POLICY} was removed")),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, INVOKE_POLICY), None);
}

#[test]
fn an_explicit_deny_reported_by_the_simulator_is_named() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let mut decisions: Vec<Value> = memory_action_names(&MEMORY_ACTIONS)
        .into_iter()
        .map(|a| json!({"action": a, "decision": "allowed", "allowedByPermissionsBoundary": true}))
        .collect();
    decisions[4] = json!({"action": "bedrock-agentcore:DeleteEvent", "decision": "explicitDeny",
        "allowedByPermissionsBoundary": true,
        "matchedStatements": [{"sourcePolicyId": "LPMA_Guardrails", "sourcePolicyType": "user-managed"}]});
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    ));
    assert!(
        reason.contains(&format!(
            "(checked 1 time with iam:SimulatePrincipalPolicy): bedrock-agentcore:DeleteEvent on {MEMORY}: denied explicitly by policy LPMA_Guardrails. To fix: remove or narrow the explicit Deny"
        )),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
}

#[test]
fn a_new_policy_name_is_a_replacement_and_a_new_memory_arn_is_not() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let old_id = format!("{ROLE}|{MEMORY_POLICY}");
    let no_verify = |mut r: Value| {
        r["ResourceProperties"]["Verify"] = json!(false);
        r
    };
    assert_success(&answer(
        &mut f,
        &capture,
        &no_verify(request("create-memory-grant.json", &capture)),
    ));

    // Another memory: the same policy, rewritten in place.
    let other_memory = MEMORY.replace("a1B2c3D4e5", "Zz9Yy8Xx7W");
    let mut in_place = no_verify(request("update-memory-grant.json", &capture));
    in_place["ResourceProperties"]["MemoryArn"] = json!(other_memory);
    let updated = answer(&mut f, &capture, &in_place);
    assert_success(&updated);
    assert_eq!(updated["PhysicalResourceId"], old_id.as_str());
    let (_, resources) = granted(&inline_policy(emulator, MEMORY_POLICY).unwrap());
    assert_eq!(resources, vec![other_memory.clone()]);

    // Another PolicyName: a new id and a new policy; the old one is left for the Delete that
    // CloudFormation sends for the old id once the update succeeds.
    let mut renamed = no_verify(request("update-memory-grant.json", &capture));
    renamed["ResourceProperties"]["PolicyName"] = json!("LPMA_Demo_MemoryAccess");
    let replaced = answer(&mut f, &capture, &renamed);
    assert_success(&replaced);
    assert_eq!(
        replaced["PhysicalResourceId"],
        format!("{ROLE}|LPMA_Demo_MemoryAccess")
    );
    assert!(inline_policy(emulator, "LPMA_Demo_MemoryAccess").is_some());
    assert!(inline_policy(emulator, MEMORY_POLICY).is_some());
    // CloudFormation's Delete of the old resource carries the old resource's properties.
    let mut cleanup = request("delete-memory-grant.json", &capture);
    cleanup["PhysicalResourceId"] = json!(old_id);
    cleanup["ResourceProperties"]["MemoryArn"] = json!(other_memory);
    assert_success(&answer(&mut f, &capture, &cleanup));
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
    assert!(inline_policy(emulator, "LPMA_Demo_MemoryAccess").is_some());
}

// ---------------------------------------------------------------------------------------
// Verification against real IAM answers: conditions, SCPs (issue 11)

/// Every memory action allowed, but only with the context keys `keys` (accepted values, or
/// `null` for any value), in the boundary, as bank boundaries write region conditions.
fn script_conditional(emulator: &Emulator, keys: &Value) {
    let decisions: Vec<Value> = memory_action_names(&MEMORY_ACTIONS)
        .into_iter()
        .map(|a| json!({"action": a, "decision": "allowed", "contextKeys": keys}))
        .collect();
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions}),
    );
}

fn tag_role(emulator: &Emulator, role: &str, key: &str, value: &str) {
    iam_ok(
        emulator,
        &[
            ("Action", "TagRole"),
            ("RoleName", role),
            ("Tags.member.1.Key", key),
            ("Tags.member.1.Value", value),
        ],
    );
}

#[test]
fn conditions_in_the_boundary_are_evaluated_with_the_context_the_function_knows() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    tag_role(emulator, ROLE, "Team", "demo");
    let memory_id = MEMORY.rsplit('/').next().unwrap();
    let seeded = emulator.post(
        "/_corebound/agentcore/memories",
        &json!({"name": memory_id.rsplit_once('-').unwrap().0, "id": memory_id,
            "tags": {"Environment": "dev"}}),
    );
    assert_eq!(seeded["arn"], MEMORY);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    // Region, principal and resource conditions: the function supplies every key, so the
    // grant is verified (today: implicitDeny with MissingContextValues, rolled back, FAILED).
    script_conditional(
        emulator,
        &json!({"aws:RequestedRegion": ["us-east-1"], "aws:PrincipalTag/Team": ["demo"],
            "aws:ResourceTag/Environment": ["dev"], "aws:PrincipalAccount": ["123456789012"],
            "aws:PrincipalArn": [format!("arn:aws:iam::123456789012:role/{ROLE}")]}),
    );
    let created = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["Data"]["Verification"], "verified");
    assert!(emulator
        .operations()
        .contains(&"ListTagsForResource".to_string()));

    // A key the function cannot know: SUCCESS, unverified, naming the key; nothing undone.
    script_conditional(
        emulator,
        &json!({"aws:RequestedRegion": ["us-east-1"], "aws:SourceVpc": null}),
    );
    let updated = answer(
        &mut f,
        &capture,
        &request("update-memory-grant.json", &capture),
    );
    assert_success(&updated);
    assert_eq!(
        updated["Data"]["Verification"],
        "unverified: condition on aws:SourceVpc"
    );
    assert_eq!(count(&emulator.operations(), "SimulatePrincipalPolicy"), 2);
    let (actions, _) = granted(&inline_policy(emulator, MEMORY_POLICY).expect("kept"));
    assert_eq!(actions, memory_action_names(&READ_ONLY_ACTIONS));

    // A region the boundary does not allow is a real denial.
    script_conditional(emulator, &json!({"aws:RequestedRegion": ["eu-west-1"]}));
    let mut other = request("create-memory-grant.json", &capture);
    other["LogicalResourceId"] = json!("SecondGrant");
    let reason = failed_reason(&answer(&mut f, &capture, &other));
    assert!(
        reason.contains(&format!(
            "not allowed by the permissions boundary {BOUNDARY}"
        )),
        "{reason}"
    );
}

#[test]
fn a_service_control_policy_denial_fails_at_once_without_rechecks() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let mut decisions: Vec<Value> = memory_action_names(&MEMORY_ACTIONS)
        .into_iter()
        .map(|a| json!({"action": a, "decision": "allowed"}))
        .collect();
    decisions[4] = json!({"action": "bedrock-agentcore:DeleteEvent", "decision": "implicitDeny",
        "allowedByOrganizations": false});
    emulator.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[("VERIFY_ATTEMPTS", "5")]);
    let reason = failed_reason(&answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    ));
    assert!(
        reason.contains(&format!(
            "(checked 1 time with iam:SimulatePrincipalPolicy): bedrock-agentcore:DeleteEvent on {MEMORY}: denied by a service control policy of your organization"
        )),
        "{reason}"
    );
    assert_eq!(
        count(&emulator.operations(), "SimulatePrincipalPolicy"),
        1,
        "no propagation re-checks"
    );
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None, "rolled back");
}

#[test]
fn invoke_grants_take_actions_of_the_invoke_family() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let family = [
        "bedrock-agentcore:InvokeAgentRuntimeForUser",
        "bedrock-agentcore:StopRuntimeSession",
        "bedrock-agentcore:GetAgentCard",
    ];
    script_simulation(
        emulator,
        &family.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        &[],
        0,
    );
    seed_runtime(emulator, RUNTIME, "READY");
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);

    let mut create = request("create-invoke-grant.json", &capture);
    create["ResourceProperties"]["Actions"] = json!([
        "GetAgentCard",
        "bedrock-agentcore:StopRuntimeSession",
        "InvokeAgentRuntimeForUser"
    ]);
    let created = answer(&mut f, &capture, &create);
    assert_success(&created);
    assert_eq!(created["Data"]["Actions"], family.join(","));
    assert_eq!(created["Data"]["Verification"], "verified");
    let (actions, _) = granted(&inline_policy(emulator, INVOKE_POLICY).unwrap());
    assert_eq!(actions, family);

    let before = emulator.operations().len();
    for refused in ["bedrock-agentcore:PutResourcePolicy", "bedrock-agentcore:*"] {
        let mut bad = request("create-invoke-grant.json", &capture);
        bad["LogicalResourceId"] = json!("Refused");
        bad["ResourceProperties"]["Actions"] = json!([refused]);
        let reason = failed_reason(&answer(&mut f, &capture, &bad));
        assert!(
            reason.starts_with(&format!("property Actions has value \"{refused}\"; expected actions of the AgentCore invoke family only")),
            "{reason}"
        );
    }
    assert_eq!(
        emulator.operations().len(),
        before,
        "refused before any AWS call"
    );
}

#[test]
fn memory_grants_include_get_memory_for_the_sdk() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let mut create = request("create-memory-grant.json", &capture);
    create["ResourceProperties"]["Access"] = json!("ReadOnly");
    create["ResourceProperties"]["Verify"] = json!("false");
    assert_success(&answer(&mut f, &capture, &create));
    let (actions, _) = granted(&inline_policy(emulator, MEMORY_POLICY).unwrap());
    assert!(
        actions.contains(&"bedrock-agentcore:GetMemory".to_string()),
        "{actions:?}"
    );

    let mut explicit = request("update-memory-grant.json", &capture);
    explicit["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("Access");
    explicit["ResourceProperties"]["Actions"] = json!(["GetMemory", "RetrieveMemoryRecords"]);
    explicit["ResourceProperties"]["Verify"] = json!("false");
    explicit["OldResourceProperties"]["Verify"] = json!("false");
    assert_success(&answer(&mut f, &capture, &explicit));
    let (actions, _) = granted(&inline_policy(emulator, MEMORY_POLICY).unwrap());
    assert_eq!(
        actions,
        vec![
            "bedrock-agentcore:GetMemory",
            "bedrock-agentcore:RetrieveMemoryRecords"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Provable ownership (issue 10), scope (issue 16)

const GUARDRAIL: &str = "SecurityGuardrailDeny";

fn guardrail() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyOutsideOrg", "Effect": "Deny",
        "Action": "*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]})
}

fn put_inline(emulator: &Emulator, role: &str, name: &str, document: &Value) {
    iam_ok(
        emulator,
        &[
            ("Action", "PutRolePolicy"),
            ("RoleName", role),
            ("PolicyName", name),
            ("PolicyDocument", &document.to_string()),
        ],
    );
}

#[test]
fn a_crafted_delete_never_removes_a_policy_corebound_did_not_write() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    put_inline(emulator, ROLE, GUARDRAIL, &guardrail());
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let crafted_id = format!("{ROLE}|{GUARDRAIL}");
    let fixture_puts = count(&emulator.operations(), "PutRolePolicy");

    // Empty properties, then properties that name the policy: both SUCCESS, nothing removed.
    let mut empty = request("delete-memory-grant.json", &capture);
    empty["PhysicalResourceId"] = json!(crafted_id);
    empty["ResourceProperties"] = json!({"ServiceToken": empty["ServiceToken"]});
    let mut named = request("delete-memory-grant.json", &capture);
    named["PhysicalResourceId"] = json!(crafted_id);
    named["ResourceProperties"]["PolicyName"] = json!(GUARDRAIL);
    for crafted in [empty, named] {
        let answer = answer(&mut f, &capture, &crafted);
        assert_success(&answer);
        assert_eq!(answer["PhysicalResourceId"], crafted_id.as_str());
    }
    assert_eq!(inline_policy(emulator, GUARDRAIL), Some(guardrail()));
    assert_eq!(count(&emulator.operations(), "DeleteRolePolicy"), 0);
    assert!(
        f.wait_for_output("inline policy left as it is", Duration::from_secs(5)),
        "the skip is logged: {}",
        f.output()
    );

    // Nor through an in-place Update that names it: FAILED, the Deny untouched.
    let mut update = request("update-memory-grant.json", &capture);
    update["PhysicalResourceId"] = json!(crafted_id);
    update["ResourceProperties"]["PolicyName"] = json!(GUARDRAIL);
    update["OldResourceProperties"]["PolicyName"] = json!(GUARDRAIL);
    let reason = failed_reason(&answer(&mut f, &capture, &update));
    assert!(reason.contains("not corebound's shape"), "{reason}");
    assert_eq!(inline_policy(emulator, GUARDRAIL), Some(guardrail()));
    assert_eq!(count(&emulator.operations(), "PutRolePolicy"), fixture_puts);
}

#[test]
fn two_owners_of_one_policy_name_the_second_fails_naming_the_first() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let shared = |logical: &str| {
        let mut r = request("create-memory-grant.json", &capture);
        r["LogicalResourceId"] = json!(logical);
        r["ResourceProperties"]["PolicyName"] = json!("Shared");
        r["ResourceProperties"]["Verify"] = json!("false");
        r
    };

    let first = answer(&mut f, &capture, &shared("FirstGrant"));
    assert_success(&first);
    let owner = first["Data"]["OwnerId"].as_str().unwrap().to_string();
    assert_eq!(owner.len(), 12);
    let written = inline_policy(emulator, "Shared").unwrap();
    assert_eq!(
        written["Statement"][0]["Sid"],
        format!("AgentCoreMemoryDataPlane{owner}"),
        "the owner is recorded in the Sid"
    );

    // CloudFormation retries the same Create: still SUCCESS.
    let retried = answer(&mut f, &capture, &shared("FirstGrant"));
    assert_success(&retried);
    assert_eq!(retried["PhysicalResourceId"], first["PhysicalResourceId"]);

    // Another resource asks for the same role and PolicyName, identical content: FAILED.
    let second = shared("SecondGrant");
    let reason = failed_reason(&answer(&mut f, &capture, &second));
    assert!(
        reason.contains(&format!("another corebound resource, owner id {owner}")),
        "{reason}"
    );
    assert_eq!(inline_policy(emulator, "Shared").unwrap(), written);

    // The second owner's Delete (even with the first's physical id) leaves the policy alone.
    let mut delete_second = request("delete-memory-grant.json", &capture);
    delete_second["LogicalResourceId"] = json!("SecondGrant");
    delete_second["PhysicalResourceId"] = first["PhysicalResourceId"].clone();
    delete_second["ResourceProperties"]["PolicyName"] = json!("Shared");
    assert_success(&answer(&mut f, &capture, &delete_second));
    assert_eq!(inline_policy(emulator, "Shared").unwrap(), written);

    // The owner's Delete removes it.
    let mut delete_first = delete_second.clone();
    delete_first["LogicalResourceId"] = json!("FirstGrant");
    delete_first["RequestId"] = json!("memory-grant-test-delete-first");
    assert_success(&answer(&mut f, &capture, &delete_first));
    assert_eq!(inline_policy(emulator, "Shared"), None);
}

#[test]
fn an_empty_role_prefix_is_refused_and_nothing_is_changed() {
    let (_guard, emulator) = emulator();
    aws_calls::fixtures::create_role(emulator, "AgentCoreRuntimeRole", &[]);
    let capture = ResponseCapture::start();
    for prefix in ["", " "] {
        let mut f = start(emulator, &[("REQUIRED_ROLE_PREFIX", prefix)]);
        let mut create = request("create-memory-grant.json", &capture);
        create["ResourceProperties"]["RoleName"] = json!("AgentCoreRuntimeRole");
        create["ResourceProperties"]["Verify"] = json!("false");
        let reason = failed_reason(&answer(&mut f, &capture, &create));
        assert!(
            reason.contains("REQUIRED_ROLE_PREFIX is \"\"; expected the start of an IAM role name"),
            "{reason}"
        );
        let mut delete = request("delete-memory-grant.json", &capture);
        delete["PhysicalResourceId"] =
            json!("AgentCoreRuntimeRole|AgentCoreMemory-RuntimeMemoryGrant-103dd844fea8");
        delete["ResourceProperties"]["RoleName"] = json!("AgentCoreRuntimeRole");
        // The protocol's rule for an invalid setting: a Delete is FAILED too, nothing deleted.
        let reason = failed_reason(&answer(&mut f, &capture, &delete));
        assert!(reason.contains("REQUIRED_ROLE_PREFIX"), "{reason}");
    }
    let operations = emulator.operations();
    assert_eq!(count(&operations, "PutRolePolicy"), 0, "{operations:?}");
    assert_eq!(count(&operations, "DeleteRolePolicy"), 0, "{operations:?}");
}

#[test]
fn the_role_prefix_is_checked_on_the_name_iam_stores() {
    let (_guard, emulator) = emulator();
    // IAM role names are case-insensitive: LPMA_Demo_Lower finds this role.
    aws_calls::fixtures::create_role(emulator, "lpma_Demo_Lower", &[]);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let mut create = request("create-memory-grant.json", &capture);
    create["ResourceProperties"]["RoleName"] = json!("LPMA_Demo_Lower");
    create["ResourceProperties"]["Verify"] = json!("false");
    let reason = failed_reason(&answer(&mut f, &capture, &create));
    assert!(
        reason.starts_with("property RoleName has value \"LPMA_Demo_Lower\"; expected a role whose name as IAM stores it passes the role rules")
            && reason.contains("stored as lpma_Demo_Lower"),
        "{reason}"
    );
    assert_eq!(count(&emulator.operations(), "PutRolePolicy"), 0);
}

#[test]
fn targets_outside_the_scope_are_refused_and_their_deletes_change_nothing() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    aws_calls::fixtures::create_role(emulator, "LPMA_Pay_Runtime", &[]);
    let capture = ResponseCapture::start();
    let scope = "LPMA_Demo_*,corebound_demo_*";
    let mut f = start(emulator, &[("SCOPE_PATTERNS", scope)]);
    let fixture_calls = emulator.operations().len();

    let mut other_role = request("create-memory-grant.json", &capture);
    other_role["ResourceProperties"]["RoleName"] = json!("LPMA_Pay_Runtime");
    let reason = failed_reason(&answer(&mut f, &capture, &other_role));
    assert_eq!(
        reason,
        format!("role LPMA_Pay_Runtime is outside this corebound deployment's scope: its name matches none of the SCOPE_PATTERNS {scope}; grant only roles of this application, or add a pattern to the corebound stack's parameter ScopePatterns")
    );
    let mut other_memory = request("create-memory-grant.json", &capture);
    other_memory["ResourceProperties"]["MemoryArn"] =
        json!(MEMORY.replace("corebound_demo_memory", "pay_memory"));
    let reason = failed_reason(&answer(&mut f, &capture, &other_memory));
    assert!(
        reason.starts_with("memory pay_memory is outside this corebound deployment's scope")
            && reason.contains("ScopePatterns"),
        "{reason}"
    );
    let mut other_runtime = request("create-invoke-grant.json", &capture);
    other_runtime["ResourceProperties"]["RuntimeArn"] =
        json!(RUNTIME.replace("corebound_demo_agent", "pay_agent"));
    let reason = failed_reason(&answer(&mut f, &capture, &other_runtime));
    assert!(
        reason.starts_with("runtime pay_agent is outside this corebound deployment's scope"),
        "{reason}"
    );
    assert_eq!(emulator.operations().len(), fixture_calls, "no AWS call");

    // A grant written before the scope excluded its role: the Delete answers SUCCESS and
    // leaves it (a scope change never blocks a stack deletion, and never widens a Delete).
    let mut unscoped = start(emulator, &[]);
    let mut create = request("create-memory-grant.json", &capture);
    create["ResourceProperties"]["RoleName"] = json!("LPMA_Pay_Runtime");
    create["ResourceProperties"]["Verify"] = json!("false");
    let created = answer(&mut unscoped, &capture, &create);
    assert_success(&created);
    let mut delete = request("delete-memory-grant.json", &capture);
    delete["PhysicalResourceId"] = created["PhysicalResourceId"].clone();
    delete["ResourceProperties"]["RoleName"] = json!("LPMA_Pay_Runtime");
    assert_success(&answer(&mut f, &capture, &delete));
    assert_eq!(count(&emulator.operations(), "DeleteRolePolicy"), 0);
    let still = iam(
        emulator,
        &[
            ("Action", "GetRolePolicy"),
            ("RoleName", "LPMA_Pay_Runtime"),
            ("PolicyName", MEMORY_POLICY),
        ],
    );
    assert!(still.is_ok(), "{still:?}");
}

#[test]
fn a_normalised_read_back_is_the_same_policy() {
    let (_guard, emulator) = emulator();
    role_with_boundary(emulator, &boundary_allowing(&["bedrock-agentcore:*"]));
    script_simulation(emulator, &memory_action_names(&MEMORY_ACTIONS), &[], 0);
    emulator.put(
        "/_corebound/iam/inline-policies",
        &json!({"normalise": true}),
    );
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let created = answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    );
    assert_success(&created);
    assert_eq!(created["Data"]["Verification"], "verified");
    // Retry, update and delete all recognise the normalised document as this resource's.
    assert_success(&answer(
        &mut f,
        &capture,
        &request("create-memory-grant.json", &capture),
    ));
    assert_success(&answer(
        &mut f,
        &capture,
        &request("update-memory-grant.json", &capture),
    ));
    assert_success(&answer(
        &mut f,
        &capture,
        &request("delete-memory-grant.json", &capture),
    ));
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
}

// ---------------------------------------------------------------------------------------
// Model-based property test: no sequence of requests changes a policy that is not the
// acting resource's own (issue 10). `GRANTS_MODEL_STEPS` (default 40) and
// `GRANTS_MODEL_SEED` make longer or other runs.

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const MODEL_ROLES: [&str; 2] = ["LPMA_Demo_ModelA", "LPMA_Demo_ModelB"];

/// Every inline policy of the model's roles: (role, policy name) -> document.
fn all_inline_policies(emulator: &Emulator) -> std::collections::BTreeMap<(String, String), Value> {
    let mut all = std::collections::BTreeMap::new();
    for role in MODEL_ROLES {
        let listed = iam_ok(
            emulator,
            &[("Action", "ListRolePolicies"), ("RoleName", role)],
        );
        for name in listed.split("<member>").skip(1) {
            let name = name.split("</member>").next().unwrap().to_string();
            let body = iam_ok(
                emulator,
                &[
                    ("Action", "GetRolePolicy"),
                    ("RoleName", role),
                    ("PolicyName", &name),
                ],
            );
            let document =
                decode_policy_document(&xml_text(&body, "PolicyDocument").unwrap()).unwrap();
            all.insert((role.to_string(), name), document);
        }
    }
    all
}

#[derive(Clone, Debug)]
struct Live {
    properties: Value,
    physical_id: String,
}

fn key_of(physical_id: &str) -> (String, String) {
    let (role, policy) = physical_id.split_once('|').unwrap();
    (role.to_string(), policy.to_string())
}

#[test]
fn model_random_requests_never_change_a_policy_that_is_not_the_actors_own() {
    let steps: usize = std::env::var("GRANTS_MODEL_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let seed: u64 = std::env::var("GRANTS_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_c0de);
    let (_guard, emulator) = emulator();
    for role in MODEL_ROLES {
        aws_calls::fixtures::create_role(emulator, role, &[]);
        put_inline(emulator, role, GUARDRAIL, &guardrail());
        put_inline(
            emulator,
            role,
            "PlatformS3",
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::platform/*"}]}),
        );
    }
    let foreign = all_inline_policies(emulator);
    let capture = ResponseCapture::start();
    let mut f = start(emulator, &[]);
    let memories = [
        MEMORY.to_string(),
        MEMORY.replace("a1B2c3D4e5", "Zz9Yy8Xx7W"),
    ];
    let policy_names: [Option<&str>; 4] =
        [None, Some("Common"), Some(GUARDRAIL), Some("PlatformS3")];
    let mut live: Vec<Option<Live>> = vec![None, None, None];
    let mut rng = Rng(seed | 1);
    let mut successes = 0;
    // Which model resource wrote each policy that is not foreign (a crafted Update may be a
    // replacement, which writes a new policy of the actor's own).
    let mut owners: std::collections::BTreeMap<(String, String), usize> =
        std::collections::BTreeMap::new();

    for step in 0..steps {
        let before = all_inline_policies(emulator);
        let actor = rng.below(live.len());
        let logical = format!("ModelGrant{actor}");
        let mut properties = json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:corebound-MemoryGrantFunction",
            "RoleName": rng.pick(&MODEL_ROLES),
            "MemoryArn": rng.pick(&memories),
            "Access": *rng.pick(&["ReadOnly", "ReadWrite"]),
            "Verify": "false",
        });
        if let Some(name) = rng.pick(&policy_names) {
            properties["PolicyName"] = json!(name);
        }
        let kind = rng.below(4);
        let mut r = request("create-memory-grant.json", &capture);
        r["LogicalResourceId"] = json!(logical);
        // Keys the acting resource may legitimately change in this step.
        let mut own: Vec<(String, String)> = owners
            .iter()
            .filter(|(_, owner)| **owner == actor)
            .map(|(key, _)| key.clone())
            .collect();
        let description;
        match (kind, live[actor].clone()) {
            (0, None) | (1, None) => {
                description = format!("Create {properties}");
                r["ResourceProperties"] = properties.clone();
                let a = answer(&mut f, &capture, &r);
                if a["Status"] == "SUCCESS" {
                    let id = a["PhysicalResourceId"].as_str().unwrap().to_string();
                    assert!(
                        !before.contains_key(&key_of(&id))
                            || owners.get(&key_of(&id)) == Some(&actor),
                        "step {step}: a Create adopted a policy it did not write: {description}"
                    );
                    own.push(key_of(&id));
                    live[actor] = Some(Live {
                        properties,
                        physical_id: id,
                    });
                    successes += 1;
                }
            }
            (0, Some(current)) | (1, Some(current)) => {
                description = format!("Update {} -> {properties}", current.properties);
                r["RequestType"] = json!("Update");
                r["PhysicalResourceId"] = json!(current.physical_id);
                r["OldResourceProperties"] = current.properties.clone();
                r["ResourceProperties"] = properties.clone();
                let a = answer(&mut f, &capture, &r);
                own.push(key_of(&current.physical_id));
                if a["Status"] == "SUCCESS" {
                    let id = a["PhysicalResourceId"].as_str().unwrap().to_string();
                    own.push(key_of(&id));
                    if id != current.physical_id {
                        // Replacement: CloudFormation deletes the old resource.
                        let mut delete = request("delete-memory-grant.json", &capture);
                        delete["LogicalResourceId"] = json!(logical);
                        delete["PhysicalResourceId"] = json!(current.physical_id);
                        delete["ResourceProperties"] = current.properties.clone();
                        assert_success(&answer(&mut f, &capture, &delete));
                    }
                    live[actor] = Some(Live {
                        properties,
                        physical_id: id,
                    });
                    successes += 1;
                }
            }
            (2, Some(current)) => {
                description = format!("Delete {}", current.properties);
                let mut delete = request("delete-memory-grant.json", &capture);
                delete["LogicalResourceId"] = json!(logical);
                delete["PhysicalResourceId"] = json!(current.physical_id);
                delete["ResourceProperties"] = current.properties.clone();
                assert_success(&answer(&mut f, &capture, &delete));
                let key = key_of(&current.physical_id);
                assert!(
                    !all_inline_policies(emulator).contains_key(&key),
                    "step {step}: the owner's Delete removes its policy"
                );
                own.push(key);
                live[actor] = None;
            }
            _ => {
                // A crafted Delete or Update by `actor` naming any policy there is.
                let keys: Vec<&(String, String)> = before.keys().collect();
                let (role, policy) = (*rng.pick(&keys)).clone();
                let target = format!("{role}|{policy}");
                let crafted_properties = match rng.below(3) {
                    0 => json!({"ServiceToken": "x"}),
                    1 => {
                        let mut p = properties.clone();
                        p["RoleName"] = json!(role);
                        p["PolicyName"] = json!(policy);
                        p
                    }
                    _ => properties.clone(),
                };
                description = format!("crafted request on {target} with {crafted_properties}");
                if rng.below(2) == 0 {
                    let mut delete = request("delete-memory-grant.json", &capture);
                    delete["LogicalResourceId"] = json!(logical);
                    delete["PhysicalResourceId"] = json!(target);
                    delete["ResourceProperties"] = crafted_properties;
                    assert_success(&answer(&mut f, &capture, &delete));
                } else {
                    r["RequestType"] = json!("Update");
                    r["PhysicalResourceId"] = json!(target);
                    r["OldResourceProperties"] = crafted_properties.clone();
                    r["ResourceProperties"] = crafted_properties.clone();
                    let a = answer(&mut f, &capture, &r);
                    // Sent with the actor's own ids it is the actor's Update: keep the model
                    // in step with what its policy now says.
                    if let Some(current) = live[actor].as_mut() {
                        if a["Status"] == "SUCCESS"
                            && a["PhysicalResourceId"] == json!(current.physical_id)
                        {
                            current.properties = crafted_properties;
                        }
                    }
                }
                // What the actor itself owns may change; nothing else.
                if let Some(current) = &live[actor] {
                    own.push(key_of(&current.physical_id));
                }
            }
        }
        let after = all_inline_policies(emulator);
        for key in after.keys() {
            if !before.contains_key(key) {
                owners.insert(key.clone(), actor);
                own.push(key.clone());
            }
        }
        owners.retain(|key, _| after.contains_key(key));
        for (key, document) in before.iter().chain(after.iter()) {
            if own.contains(key) {
                continue;
            }
            assert_eq!(
                before.get(key),
                after.get(key),
                "step {step} (seed {seed}): {description} changed {key:?} ({document})"
            );
        }
        for (key, document) in &foreign {
            assert_eq!(
                after.get(key),
                Some(document),
                "step {step} (seed {seed}): {description}: foreign policy {key:?} changed"
            );
        }
    }
    assert!(successes > 0, "the sequence exercised successful writes");
}
