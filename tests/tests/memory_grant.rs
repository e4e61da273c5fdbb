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

use corebound::memory_grant::decode_policy_document;
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

const MEMORY_ACTIONS: [&str; 15] = [
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
const READ_ONLY_ACTIONS: [&str; 8] = [
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
        verification.starts_with("unverified: bedrock-agentcore:GetEvent on "),
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
fn delete_ignores_invalid_properties_and_removes_what_the_id_names() {
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

    let mut delete = request("delete-memory-grant.json", &capture);
    delete["ResourceProperties"] =
        json!({"ServiceToken": "x", "RoleName": "Not_Prefixed", "Typo": 1});
    assert_success(&answer(&mut f, &capture, &delete));
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
    decisions[3] = json!({"action": "bedrock-agentcore:DeleteEvent", "decision": "explicitDeny",
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
    assert_eq!(resources, vec![other_memory]);

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
    let mut cleanup = request("delete-memory-grant.json", &capture);
    cleanup["PhysicalResourceId"] = json!(old_id);
    assert_success(&answer(&mut f, &capture, &cleanup));
    assert_eq!(inline_policy(emulator, MEMORY_POLICY), None);
    assert!(inline_policy(emulator, "LPMA_Demo_MemoryAccess").is_some());
}
