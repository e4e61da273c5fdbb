//! `Custom::AgentCoreRuntimePolicy` end to end: the `runtime-policy` binary, driven through
//! the Lambda Runtime API with the files in events/runtime-policy/, against the local
//! AgentCore emulator. Every test runs twice: with policies stored as written, and stored
//! normalised the way S3, SQS, SNS and Lambda store them (AgentCore does not document which).

use std::time::Duration;

use corebound::policy_compare::same_statement;
use corebound_tests::{
    binary_path, emulator, event, with_response_url, Emulator, LambdaProcess, ResponseCapture,
};
use serde_json::{json, Value};

const RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent-AbCdE12345";
const OTHER_RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent_v2-ZyXwV98765";
const PAYMENTS_RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/payments_agent-PaYmEnTs12";
const ROLE: &str = "arn:aws:iam::210987654321:role/LPMA_Pay_Caller";
const SCOPE: &str = "corebound_demo_*";
const ALLOWED: &str = "210987654321,444455556666";
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Storage {
    Verbatim,
    Normalised,
}

const MODES: [Storage; 2] = [Storage::Verbatim, Storage::Normalised];

fn set_storage(emu: &Emulator, storage: Storage) {
    let mode = match storage {
        Storage::Verbatim => "verbatim",
        Storage::Normalised => "normalised",
    };
    emu.put(
        "/_corebound/agentcore/policy-storage",
        &json!({"mode": mode}),
    );
}

fn endpoint(runtime: &str, name: &str) -> String {
    format!("{runtime}/runtime-endpoint/{name}")
}

fn seed_runtimes(emu: &Emulator) {
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": "corebound_demo_agent-AbCdE12345", "endpoints": ["DEFAULT", "canary", "prod"]}),
    );
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent_v2", "id": "corebound_demo_agent_v2-ZyXwV98765", "endpoints": ["DEFAULT"]}),
    );
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "payments_agent", "id": "payments_agent-PaYmEnTs12", "endpoints": ["DEFAULT"]}),
    );
}

/// Someone else's statement, present before and expected unchanged after.
fn foreign_statement(resource: &str) -> Value {
    json!({
        "Sid": "PlatformTeamReadCard",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "bedrock-agentcore:GetAgentCard",
        "Resource": resource
    })
}

/// Another owner's guard statement.
fn deny_statement(sid: &str, resource: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "bedrock-agentcore:InvokeAgentRuntime",
        "Resource": resource,
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-platform01"}}
    })
}

fn put_statements(emu: &Emulator, resource: &str, statements: Vec<Value>) {
    emu.put_resource_policy(
        resource,
        &json!({"Version": "2012-10-17", "Statement": statements}),
    );
}

fn put_foreign(emu: &Emulator, resource: &str) {
    put_statements(emu, resource, vec![foreign_statement(resource)]);
}

fn statements(emu: &Emulator, arn: &str) -> Vec<Value> {
    emu.resource_policies()
        .get(arn)
        .map(|doc| match &doc["Statement"] {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            single => vec![single.clone()],
        })
        .unwrap_or_default()
}

fn writes(emu: &Emulator) -> usize {
    emu.operations()
        .iter()
        .filter(|op| {
            matches!(
                op.as_str(),
                "PutResourcePolicy" | "DeleteResourcePolicy" | "TagResource" | "UntagResource"
            )
        })
        .count()
}

fn statement<'a>(statements: &'a [Value], sid: &str) -> Option<&'a Value> {
    statements.iter().find(|s| s["Sid"] == sid)
}

/// `actual` holds exactly `expected`'s statements, compared by meaning.
fn assert_statements(actual: &[Value], expected: &[Value], context: &str) {
    assert_eq!(actual.len(), expected.len(), "{context}: {actual:?}");
    for e in expected {
        assert!(
            actual.iter().any(|a| same_statement(a, e, "aws")),
            "{context}: {e} missing from {actual:?}"
        );
    }
}

struct Harness {
    function: LambdaProcess,
    capture: ResponseCapture,
}

impl Harness {
    fn new(emu: &Emulator) -> Self {
        Self::with_env(
            emu,
            &[
                ("SCOPE_PATTERNS", SCOPE),
                ("ALLOWED_PRINCIPAL_ACCOUNTS", ALLOWED),
            ],
        )
    }

    fn with_env(emu: &Emulator, extra: &[(&str, &str)]) -> Self {
        let env = emu.aws_env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        Harness {
            function: LambdaProcess::start(binary_path("runtime-policy"), &env),
            capture: ResponseCapture::start(),
        }
    }

    /// Invoke and return the one new answer.
    fn send(&mut self, request: Value) -> Value {
        self.send_within(request, WAIT)
    }

    fn send_within(&mut self, request: Value, timeout: Duration) -> Value {
        let before = self.capture.accepted().len();
        let request = with_response_url(request, &self.capture.url());
        let result = self.function.invoke(&request, timeout);
        assert!(result.is_ok(), "{result:?}\n{}", self.function.output());
        let answers = self.capture.accepted();
        assert_eq!(answers.len(), before + 1, "exactly one answer per request");
        answers.last().unwrap().clone()
    }

    fn logged(&self, needle: &str) -> bool {
        self.function
            .wait_for_output(needle, Duration::from_secs(5))
    }
}

fn assert_success(answer: &Value) {
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
}

fn assert_failed_with(answer: &Value, parts: &[&str]) {
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap_or_default();
    for part in parts {
        assert!(reason.contains(part), "Reason {reason:?} lacks {part:?}");
    }
}

/// A request of another stack (another owner) for the same properties.
fn from_stack(mut request: Value, stack: &str, request_id: &str) -> Value {
    request["StackId"] = json!(format!(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/0c7e3a10-9f3a-11ef-8a1d-0a1b2c3d4e5f"
    ));
    request["RequestId"] = json!(request_id);
    request
}

fn delete_of(create: &Value, physical_id: &Value, request_id: &str) -> Value {
    let mut delete = create.clone();
    delete["RequestType"] = json!("Delete");
    delete["RequestId"] = json!(request_id);
    delete["PhysicalResourceId"] = physical_id.clone();
    delete
}

#[test]
fn lifecycle_create_update_replace_delete_keeps_foreign_statements() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        for arn in [
            RUNTIME.to_string(),
            endpoint(RUNTIME, "DEFAULT"),
            OTHER_RUNTIME.to_string(),
        ] {
            put_foreign(emu, &arn);
        }
        let mut h = Harness::new(emu);

        // Create, exactly as events/runtime-policy/create.json says.
        let create = event("runtime-policy/create.json");
        let answer = h.send(create.clone());
        assert_success(&answer);
        let physical_id = answer["PhysicalResourceId"].as_str().unwrap().to_string();
        let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();
        assert_eq!(physical_id, format!("{RUNTIME}|{sid}"));
        assert_eq!(answer["Data"]["RuntimeArn"], RUNTIME);
        assert_eq!(answer["Data"]["EndpointArns"], endpoint(RUNTIME, "DEFAULT"));
        assert_eq!(answer["Data"]["PolicyRevision"].as_str().unwrap().len(), 12);
        for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
            let st = statements(emu, &arn);
            assert_eq!(st.len(), 2, "{mode:?} {arn}: {st:?}");
            assert_eq!(
                statement(&st, "PlatformTeamReadCard"),
                Some(&foreign_statement(&arn))
            );
            let owned = statement(&st, &sid).expect("owned statement");
            assert_eq!(owned["Resource"], arn.as_str(), "exact resource");
            assert_eq!(owned["Principal"]["AWS"], "arn:aws:iam::210987654321:root");
            assert_eq!(
                owned["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
                "o-corebound1"
            );
        }
        assert!(statements(emu, &endpoint(RUNTIME, "canary")).is_empty());

        // A retried Create of the same request succeeds and changes nothing.
        let before = emu.resource_policies();
        let mut retry = create.clone();
        retry["RequestId"] = json!("create-retry");
        assert_success(&h.send(retry));
        assert_eq!(emu.resource_policies(), before, "{mode:?}");

        // Update: principals change, same identity, in place.
        let update = event("runtime-policy/update.json");
        assert_eq!(update["PhysicalResourceId"], physical_id.as_str());
        let answer = h.send(update.clone());
        assert_success(&answer);
        assert_eq!(answer["PhysicalResourceId"], physical_id.as_str());
        let st = statements(emu, RUNTIME);
        assert_eq!(
            statement(&st, &sid).unwrap()["Principal"]["AWS"],
            json!([
                "arn:aws:iam::210987654321:root",
                "arn:aws:iam::210987654321:role/LPMA_Demo_CrossAccountInvoker"
            ])
        );
        assert_eq!(
            statement(&st, "PlatformTeamReadCard"),
            Some(&foreign_statement(RUNTIME))
        );

        // Update with a new RuntimeArn: a replacement with a new PhysicalResourceId.
        let mut replace = update.clone();
        replace["RequestId"] = json!("replace-1");
        replace["OldResourceProperties"] = update["ResourceProperties"].clone();
        replace["ResourceProperties"]["RuntimeArn"] = json!(OTHER_RUNTIME);
        let answer = h.send(replace.clone());
        assert_success(&answer);
        let new_id = answer["PhysicalResourceId"].as_str().unwrap().to_string();
        assert_eq!(new_id, format!("{OTHER_RUNTIME}|{sid}"));
        assert!(statement(&statements(emu, OTHER_RUNTIME), &sid).is_some());

        // CloudFormation then deletes the old physical id with the old properties.
        let mut delete_old = event("runtime-policy/delete.json");
        delete_old["ResourceProperties"] = update["ResourceProperties"].clone();
        assert_success(&h.send(delete_old));
        for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
            assert_eq!(
                statements(emu, &arn),
                vec![foreign_statement(&arn)],
                "{mode:?} {arn}"
            );
        }
        assert!(statement(&statements(emu, OTHER_RUNTIME), &sid).is_some());

        // Stack delete: the new id goes too; every foreign statement is unchanged.
        let mut delete_new = event("runtime-policy/delete.json");
        delete_new["RequestId"] = json!("delete-new");
        delete_new["PhysicalResourceId"] = json!(new_id);
        delete_new["ResourceProperties"] = replace["ResourceProperties"].clone();
        assert_success(&h.send(delete_new.clone()));
        assert_eq!(
            statements(emu, OTHER_RUNTIME),
            vec![foreign_statement(OTHER_RUNTIME)]
        );
        assert!(
            !emu.resource_policies()
                .contains_key(&endpoint(OTHER_RUNTIME, "DEFAULT")),
            "a document left empty is deleted, not written empty"
        );

        // Delete again (CloudFormation retries happen): already gone is SUCCESS.
        delete_new["RequestId"] = json!("delete-new-again");
        assert_success(&h.send(delete_new));
    }
}

/// Issue 19: multi-principal statements and one-element-list conditions survive a service
/// that stores policies normalised; the same statement is recognised as ours on retry.
#[test]
fn normalised_storage_multi_principal_and_one_element_conditions() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut h = Harness::new(emu);
        let mut create = event("runtime-policy/create.json");
        create["ResourceProperties"]["Principals"] = json!(["210987654321", ROLE]);
        create["ResourceProperties"]["Conditions"] =
            json!({"StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}});
        create["ResourceProperties"]["EndpointNames"] = json!(["DEFAULT", "canary"]);
        let answer = h.send(create.clone());
        assert_success(&answer);
        let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();
        let stored = statements(emu, RUNTIME);
        let owned = statement(&stored, &sid).unwrap();
        if mode == Storage::Normalised {
            assert_eq!(
                owned["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "o-a1b2c3d4e5",
                "the emulator normalised the one-element list"
            );
        }

        let mut retry = create.clone();
        retry["RequestId"] = json!("retry");
        assert_success(&h.send(retry));

        let mut update = create.clone();
        update["RequestType"] = json!("Update");
        update["RequestId"] = json!("update");
        update["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
        update["OldResourceProperties"] = create["ResourceProperties"].clone();
        update["ResourceProperties"]["Principals"] = json!([ROLE, "444455556666"]);
        assert_success(&h.send(update.clone()));
        let owned = statement(&statements(emu, RUNTIME), &sid).unwrap().clone();
        assert!(same_statement(
            &owned,
            &json!({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": [ROLE, "444455556666"]},
                    "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": RUNTIME,
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}),
            "aws"
        ));

        let delete = delete_of(&update, &answer["PhysicalResourceId"], "delete");
        assert_success(&h.send(delete));
        assert!(emu.resource_policies().is_empty(), "{mode:?}");
    }
}

/// Issue 19 item 2: a principal shown as a unique id (the role was deleted) still counts as
/// ours; Update repairs it to the ARN and says so; Delete removes it without failing.
#[test]
fn principal_replaced_by_a_unique_id_is_still_ours() {
    let (_guard, emu) = emulator();
    set_storage(emu, Storage::Normalised);
    seed_runtimes(emu);
    put_foreign(emu, RUNTIME);
    let mut h = Harness::new(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["Principals"] = json!(["210987654321", ROLE]);
    let answer = h.send(create.clone());
    assert_success(&answer);
    let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();
    let shown = emu.put(
        "/_corebound/agentcore/policy-storage",
        &json!({"mode": "normalised", "deletedPrincipals": [ROLE]}),
    );
    let unique = shown["deletedPrincipals"][ROLE]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        statement(&statements(emu, RUNTIME), &sid).unwrap()["Principal"]["AWS"],
        json!(["arn:aws:iam::210987654321:root", unique])
    );

    // The role is recreated; the Update writes the ARN again and logs the repair.
    let mut update = create.clone();
    update["RequestType"] = json!("Update");
    update["RequestId"] = json!("update");
    update["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
    update["OldResourceProperties"] = create["ResourceProperties"].clone();
    assert_success(&h.send(update.clone()));
    assert!(h.logged("unique ids"), "{}", h.function.output());
    for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
        assert_eq!(
            statement(&statements(emu, &arn), &sid).unwrap()["Principal"]["AWS"],
            json!(["arn:aws:iam::210987654321:root", ROLE]),
            "{arn}"
        );
    }

    // Deleted again; the stack is deleted: the statement goes, Delete does not fail.
    emu.put(
        "/_corebound/agentcore/policy-storage",
        &json!({"mode": "normalised", "deletedPrincipals": [ROLE]}),
    );
    assert_success(&h.send(delete_of(&update, &answer["PhysicalResourceId"], "delete")));
    assert_eq!(statements(emu, RUNTIME), vec![foreign_statement(RUNTIME)]);
    assert!(statements(emu, &endpoint(RUNTIME, "DEFAULT")).is_empty());
}

#[test]
fn two_resources_grant_different_accounts_on_one_runtime() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut h = Harness::new(emu);
        let mut first = event("runtime-policy/create.json");
        first["LogicalResourceId"] = json!("ProdInvoke");
        first["RequestId"] = json!("first");
        first["ResourceProperties"]["Principals"] = json!(["210987654321"]);
        let mut second = first.clone();
        second["LogicalResourceId"] = json!("AuditInvoke");
        second["RequestId"] = json!("second");
        second["ResourceProperties"]["Principals"] = json!(["444455556666"]);
        let a = h.send(first.clone());
        let b = h.send(second);
        assert_success(&a);
        assert_success(&b);
        let (sid_a, sid_b) = (
            a["Data"]["StatementId"].as_str().unwrap(),
            b["Data"]["StatementId"].as_str().unwrap(),
        );
        assert_ne!(sid_a, sid_b);
        let st = statements(emu, RUNTIME);
        assert_eq!(
            statement(&st, sid_b).unwrap()["Principal"]["AWS"],
            "arn:aws:iam::444455556666:root"
        );

        // Deleting one leaves the other.
        assert_success(&h.send(delete_of(&first, &a["PhysicalResourceId"], "delete-a")));
        let st = statements(emu, RUNTIME);
        assert!(statement(&st, sid_a).is_none());
        assert!(statement(&st, sid_b).is_some());
    }
}

#[test]
fn validation_failures_are_answered_before_any_aws_call() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "RuntimeArn",
            json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*"),
            vec!["property RuntimeArn", "runtime/*", "wildcards"],
        ),
        (
            "RuntimeArn",
            json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/bad"),
            vec!["property RuntimeArn", "pattern"],
        ),
        (
            "Principals",
            json!(["*"]),
            vec!["property Principals", "\"*\"", "wildcards"],
        ),
        (
            "Principals",
            json!(["arn:aws:iam::210987654321:user/alice"]),
            vec![
                "property Principals",
                "user/alice",
                "only accounts and roles",
            ],
        ),
        (
            "Principals",
            json!([]),
            vec!["property Principals is required"],
        ),
        (
            "Actions",
            json!(["bedrock-agentcore:*"]),
            vec!["property Actions", "wildcards"],
        ),
        (
            "Actions",
            json!(["sts:AssumeRole"]),
            vec!["property Actions", "sts:AssumeRole", "invoke family"],
        ),
        (
            "EndpointNames",
            json!([endpoint(OTHER_RUNTIME, "DEFAULT")]),
            vec!["property EndpointNames", "must belong to the runtime"],
        ),
        (
            "StatementId",
            json!("not-valid!"),
            vec!["property StatementId", "letters and digits"],
        ),
        (
            "StatementId",
            json!("CoreboundSomeoneElses1a2b3c4d"),
            vec!["property StatementId", "reserved"],
        ),
        (
            "Conditions",
            json!("not json"),
            vec!["property Conditions", "a JSON object"],
        ),
    ];
    for (i, (property, value, parts)) in cases.into_iter().enumerate() {
        let mut create = event("runtime-policy/create.json");
        create["RequestId"] = json!(format!("invalid-{i}"));
        create["ResourceProperties"][property] = value;
        let answer = h.send(create);
        assert_failed_with(&answer, &parts);
        assert_eq!(
            answer["PhysicalResourceId"],
            format!("corebound-failed-create:invalid-{i}")
        );
    }
    assert!(
        emu.operations().is_empty(),
        "no AWS call for invalid input: {:?}",
        emu.operations()
    );
}

/// Issue 10 item 12: only the invoke family; control-plane actions are refused.
#[test]
fn actions_outside_the_invoke_family_are_refused() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    for (i, action) in [
        "bedrock-agentcore:PutResourcePolicy",
        "bedrock-agentcore:DeleteAgentRuntime",
        "bedrock-agentcore:CreateEvent",
    ]
    .into_iter()
    .enumerate()
    {
        let mut create = event("runtime-policy/create.json");
        create["RequestId"] = json!(format!("action-{i}"));
        create["ResourceProperties"]["Actions"] =
            json!(["bedrock-agentcore:InvokeAgentRuntime", action]);
        assert_failed_with(
            &h.send(create),
            &[
                "property Actions",
                action,
                "invoke family",
                "InvokeAgentRuntimeForUser",
                "never its administration",
            ],
        );
    }
    assert!(emu.operations().is_empty(), "{:?}", emu.operations());

    // The family, in any letter case, is written in its canonical spelling.
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["Actions"] = json!([
        "bedrock-agentcore:invokeagentruntime",
        "bedrock-agentcore:GetAgentCard"
    ]);
    let answer = h.send(create);
    assert_success(&answer);
    let sid = answer["Data"]["StatementId"].as_str().unwrap();
    assert_eq!(
        statement(&statements(emu, RUNTIME), sid).unwrap()["Action"],
        json!([
            "bedrock-agentcore:InvokeAgentRuntime",
            "bedrock-agentcore:GetAgentCard"
        ])
    );
}

#[test]
fn sid_collision_with_a_foreign_statement_fails_without_writing() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut foreign = foreign_statement(&endpoint(RUNTIME, "DEFAULT"));
        foreign["Sid"] = json!("SharedSid");
        put_statements(emu, &endpoint(RUNTIME, "DEFAULT"), vec![foreign.clone()]);
        let mut h = Harness::new(emu);
        let writes_before = writes(emu);
        let mut create = event("runtime-policy/create.json");
        create["ResourceProperties"]["StatementId"] = json!("SharedSid");
        let answer = h.send(create);
        assert_failed_with(
            &answer,
            &[
                "property StatementId",
                "\"SharedSid\"",
                "runtime-endpoint/DEFAULT",
                "cannot prove it wrote it",
            ],
        );
        assert!(statements(emu, RUNTIME).is_empty());
        assert_eq!(
            statements(emu, &endpoint(RUNTIME, "DEFAULT")),
            vec![foreign]
        );
        assert_eq!(writes(emu), writes_before, "{mode:?}: nothing was written");
    }
}

/// Issue 10 item 1: an Update that adds a target never takes over a foreign statement
/// with the same Sid there.
#[test]
fn update_adding_an_endpoint_never_takes_over_a_foreign_sid() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let prod = endpoint(RUNTIME, "prod");
        put_statements(emu, &prod, vec![deny_statement("OrgGuard", &prod)]);
        let mut h = Harness::new(emu);
        let mut create = event("runtime-policy/create.json");
        create["ResourceProperties"]["StatementId"] = json!("OrgGuard");
        let answer = h.send(create.clone());
        assert_success(&answer);

        let before = emu.resource_policies();
        let writes_before = writes(emu);
        let mut update = create.clone();
        update["RequestType"] = json!("Update");
        update["RequestId"] = json!("widen");
        update["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
        update["OldResourceProperties"] = create["ResourceProperties"].clone();
        update["ResourceProperties"]["EndpointNames"] = json!(["DEFAULT", "prod"]);
        update["ResourceProperties"]["Principals"] = json!(["210987654321", ROLE]);
        assert_failed_with(
            &h.send(update),
            &[
                "property StatementId",
                "\"OrgGuard\"",
                "runtime-endpoint/prod",
                "not the statement this resource wrote",
            ],
        );
        assert_eq!(
            statements(emu, &prod),
            vec![deny_statement("OrgGuard", &prod)],
            "{mode:?}: the Deny is untouched"
        );
        assert_eq!(emu.resource_policies(), before, "{mode:?}: nothing changed");
        assert_eq!(writes(emu), writes_before);
    }
}

/// Issue 10 item 2: Delete removes the statement only where it is the one this resource
/// wrote, and logs what it skipped.
#[test]
fn delete_removes_only_the_statement_this_resource_wrote() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut h = Harness::new(emu);
        let create = event("runtime-policy/create.json");
        let answer = h.send(create.clone());
        assert_success(&answer);
        let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();

        // Someone reuses the Sid on an endpoint the resource never wrote, and another edits
        // the statement on DEFAULT by hand.
        let canary = endpoint(RUNTIME, "canary");
        put_statements(emu, &canary, vec![deny_statement(&sid, &canary)]);
        let default = endpoint(RUNTIME, "DEFAULT");
        let mut edited = statement(&statements(emu, &default), &sid).unwrap().clone();
        edited["Principal"]["AWS"] = json!("arn:aws:iam::999999999999:root");
        put_statements(emu, &default, vec![edited.clone()]);

        assert_success(&h.send(delete_of(&create, &answer["PhysicalResourceId"], "delete")));
        assert!(
            statement(&statements(emu, RUNTIME), &sid).is_none(),
            "removed where ours"
        );
        assert_statements(
            &statements(emu, &canary),
            &[deny_statement(&sid, &canary)],
            "canary",
        );
        assert_statements(&statements(emu, &default), &[edited], "DEFAULT");
        assert!(h.logged("skipped"), "{}", h.function.output());
    }
}

/// Issue 10 item 3: a crafted Delete naming a foreign statement answers SUCCESS and
/// changes nothing.
#[test]
fn crafted_delete_changes_nothing() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let grant = json!({"Sid": "PartnerGrant", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                           "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": RUNTIME});
        put_statements(
            emu,
            RUNTIME,
            vec![deny_statement("DenyOutsideOrg", RUNTIME), grant.clone()],
        );
        let before = emu.resource_policies();
        let writes_before = writes(emu);
        let mut h = Harness::new(emu);
        let mut rebuilt = event("runtime-policy/create.json")["ResourceProperties"].clone();
        rebuilt["StatementId"] = json!("PartnerGrant");
        rebuilt["EndpointNames"] = json!([]);
        rebuilt.as_object_mut().unwrap().remove("Conditions");
        let crafted: Vec<(Value, Value)> = vec![
            (json!(format!("{RUNTIME}|DenyOutsideOrg")), json!({})),
            (
                json!(format!("{RUNTIME}|DenyOutsideOrg")),
                json!({"RuntimeArn": RUNTIME, "Principals": ["*"], "StatementId": "DenyOutsideOrg"}),
            ),
            (
                json!(format!("{RUNTIME}|DenyOutsideOrg")),
                event("runtime-policy/create.json")["ResourceProperties"].clone(),
            ),
            // Properties that rebuild the foreign Allow exactly: still not provably ours.
            (json!(format!("{RUNTIME}|PartnerGrant")), rebuilt),
            (json!("garbage"), json!({})),
        ];
        for (i, (physical_id, properties)) in crafted.into_iter().enumerate() {
            let mut delete = event("runtime-policy/delete.json");
            delete["RequestId"] = json!(format!("crafted-{i}"));
            delete["LogicalResourceId"] = json!("Forger");
            delete["PhysicalResourceId"] = physical_id;
            delete["ResourceProperties"] = properties;
            assert_success(&h.send(delete));
        }
        assert_eq!(emu.resource_policies(), before, "{mode:?}");
        assert_eq!(
            writes(emu),
            writes_before,
            "{mode:?}: {:?}",
            emu.operations()
        );
        assert!(h.logged("nothing changed"));
    }
}

/// Issue 10 item 4: two owners never share one statement; a retried Create of the same
/// request still succeeds; ownership of an explicit StatementId is a tag on the runtime.
#[test]
fn a_second_owner_is_refused_and_named() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut h = Harness::new(emu);
        let mut first = event("runtime-policy/create.json");
        first["ResourceProperties"]["StatementId"] = json!("PartnerInvoke");
        let answer = h.send(first.clone());
        assert_success(&answer);
        let tags = emu
            .aws_rest(
                "bedrock-agentcore",
                "GET",
                &format!("/tags/{}", corebound_tests::aws_calls::form_encode(RUNTIME)),
                None,
            )
            .unwrap();
        let record = tags["tags"]["corebound:sid:PartnerInvoke"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            record.ends_with("CrossAccountInvokePolicy corebound-demo-agent"),
            "{tags}"
        );

        // The same request again (a retry): SUCCESS, nothing changes.
        let before = emu.resource_policies();
        let mut retry = first.clone();
        retry["RequestId"] = json!("retry");
        assert_success(&h.send(retry));
        assert_eq!(emu.resource_policies(), before);

        // Another stack asking for the same, identical statement: FAILED, naming the owner.
        let second = from_stack(first.clone(), "other-agent", "second");
        assert_failed_with(
            &h.send(second.clone()),
            &[
                "property StatementId",
                "PartnerInvoke",
                "CrossAccountInvokePolicy in stack corebound-demo-agent",
            ],
        );
        assert_eq!(emu.resource_policies(), before);

        // Its rollback Delete and a crafted Delete with its identity change nothing.
        let delete_second = delete_of(&second, &answer["PhysicalResourceId"], "delete-second");
        assert_success(&h.send(delete_second));
        assert_eq!(emu.resource_policies(), before);

        // The owner's Delete removes the statement and the record.
        assert_success(&h.send(delete_of(
            &first,
            &answer["PhysicalResourceId"],
            "delete-first",
        )));
        assert!(emu.resource_policies().is_empty(), "{mode:?}");
        let tags = emu
            .aws_rest(
                "bedrock-agentcore",
                "GET",
                &format!("/tags/{}", corebound_tests::aws_calls::form_encode(RUNTIME)),
                None,
            )
            .unwrap();
        assert!(
            tags["tags"].get("corebound:sid:PartnerInvoke").is_none(),
            "{tags}"
        );
    }
}

/// Issue 10 item 7: a response that would not fit is refused before the first write.
#[test]
fn too_many_endpoints_for_the_response_fail_before_writing() {
    let (_guard, emu) = emulator();
    let names: Vec<String> = (0..28)
        .map(|i| format!("endpoint_number_{i:02}_long_name_x"))
        .collect();
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": "corebound_demo_agent-AbCdE12345", "endpoints": names}),
    );
    let mut h = Harness::new(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["EndpointNames"] = json!(names);
    assert_failed_with(
        &h.send(create),
        &[
            "property EndpointNames",
            "28 endpoints",
            "4096",
            "Nothing was written",
        ],
    );
    assert_eq!(writes(emu), 0, "{:?}", emu.operations());
    assert!(emu.resource_policies().is_empty());
}

/// Issue 10 item 7: near the deadline the function stops writing and undoes what it wrote.
#[test]
fn deadline_stops_writing_in_time_to_undo() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
        put_foreign(emu, &arn);
    }
    let before = emu.resource_policies();
    let mut h = Harness::with_env(
        emu,
        &[
            ("SCOPE_PATTERNS", SCOPE),
            ("ALLOWED_PRINCIPAL_ACCOUNTS", ALLOWED),
            ("COREBOUND_DEADLINE_MARGIN_MS", "1000"),
        ],
    );
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["EndpointNames"] = json!(["DEFAULT", "canary", "prod"]);
    // 2.5 s for the handler: enough for two targets with 1 s each kept back to undo, not four.
    let answer = h.send_within(create, Duration::from_millis(3500));
    assert_failed_with(&answer, &["not enough time left", "undid them"]);
    let after = emu.resource_policies();
    for (arn, document) in &before {
        assert_statements(
            &statements(emu, arn),
            &document["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            arn,
        );
    }
    assert_eq!(after.len(), before.len(), "{after:?}");
}

/// Issue 16 item 1: targets only inside SCOPE_PATTERNS; a Delete outside is SUCCESS with no
/// writes.
#[test]
fn runtimes_outside_the_scope_are_refused() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["RuntimeArn"] = json!(PAYMENTS_RUNTIME);
    assert_failed_with(
        &h.send(create.clone()),
        &[
            "property RuntimeArn",
            PAYMENTS_RUNTIME,
            "payments_agent",
            SCOPE,
            "ScopePatterns",
        ],
    );
    assert!(emu.operations().is_empty(), "{:?}", emu.operations());

    // A statement a Delete would otherwise remove stays: the target is out of scope.
    let sid = "CoreboundCrossAccountInvokePolicy103dd844";
    let mut written = foreign_statement(PAYMENTS_RUNTIME);
    written["Sid"] = json!(sid);
    put_statements(emu, PAYMENTS_RUNTIME, vec![written]);
    let before = emu.resource_policies();
    let delete = delete_of(
        &create,
        &json!(format!("{PAYMENTS_RUNTIME}|{sid}")),
        "delete",
    );
    assert_success(&h.send(delete));
    assert_eq!(emu.resource_policies(), before);
    assert_eq!(
        writes(emu),
        1,
        "only the seeding write: {:?}",
        emu.operations()
    );
}

/// Issue 16 item 1: principals only from ALLOWED_PRINCIPAL_ACCOUNTS (unset: the function's
/// own account); an organization id becomes an aws:PrincipalOrgID condition.
#[test]
fn principals_only_from_allowed_accounts() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["Conditions"] = json!({});

    // Unset: only the function's own account.
    let mut own_only = Harness::with_env(emu, &[("SCOPE_PATTERNS", SCOPE)]);
    assert_failed_with(
        &own_only.send(create.clone()),
        &[
            "property Principals",
            "account 210987654321 is not allowed",
            "only the function's own account 123456789012",
            "AllowedPrincipalAccounts",
        ],
    );
    let mut own = create.clone();
    own["RequestId"] = json!("own");
    own["ResourceProperties"]["Principals"] =
        json!(["arn:aws:iam::123456789012:role/LPMA_Demo_Caller"]);
    assert_success(&own_only.send(own.clone()));
    assert_success(&own_only.send(delete_of(
        &own,
        &json!(format!(
            "{RUNTIME}|CoreboundCrossAccountInvokePolicy103dd844"
        )),
        "own-delete",
    )));
    assert!(emu.resource_policies().is_empty());

    // Listed accounts, and an organization for any other account.
    let mut with_org = Harness::with_env(
        emu,
        &[
            ("SCOPE_PATTERNS", SCOPE),
            ("ALLOWED_PRINCIPAL_ACCOUNTS", "210987654321, o-a1b2c3d4e5"),
        ],
    );
    let mut listed = create.clone();
    listed["RequestId"] = json!("listed");
    let answer = with_org.send(listed.clone());
    assert_success(&answer);
    let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();
    assert!(statement(&statements(emu, RUNTIME), &sid)
        .unwrap()
        .get("Condition")
        .is_none());

    let mut org = listed.clone();
    org["RequestType"] = json!("Update");
    org["RequestId"] = json!("org");
    org["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
    org["OldResourceProperties"] = listed["ResourceProperties"].clone();
    org["ResourceProperties"]["Principals"] = json!([
        "210987654321",
        "arn:aws:iam::777788889999:role/LPMA_Partner"
    ]);
    assert_success(&with_org.send(org.clone()));
    for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
        assert_eq!(
            statement(&statements(emu, &arn), &sid).unwrap()["Condition"],
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            "{arn}"
        );
    }
    // Without the organization that account is refused, naming it and the parameter.
    let mut refused = org.clone();
    refused["RequestId"] = json!("refused");
    let mut listed_only = Harness::new(emu);
    assert_failed_with(
        &listed_only.send(refused),
        &[
            "account 777788889999 is not allowed",
            "AllowedPrincipalAccounts",
        ],
    );
    // Its Delete still removes the statement written with the organization condition.
    assert_success(&listed_only.send(delete_of(&org, &answer["PhysicalResourceId"], "org-delete")));
    assert!(
        emu.resource_policies().is_empty(),
        "{:?}",
        emu.resource_policies()
    );
}

#[test]
fn create_failing_part_way_removes_what_it_wrote_and_its_delete_succeeds() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        put_foreign(emu, RUNTIME);
        emu.post(
            "/_corebound/faults",
            &json!({"service": "bedrock-agentcore", "operation": "PutResourcePolicy", "status": 403,
                    "code": "AccessDeniedException", "message": "User is not authorized to perform: bedrock-agentcore:PutResourcePolicy",
                    "match": "runtime-endpoint", "count": 1}),
        );
        let mut h = Harness::new(emu);
        let answer = h.send(event("runtime-policy/create.json"));
        assert_failed_with(
            &answer,
            &[
                "AccessDenied",
                "lacks bedrock-agentcore:PutResourcePolicy",
                "runtime-endpoint/DEFAULT",
                "permissions boundary",
            ],
        );
        let marker = answer["PhysicalResourceId"].as_str().unwrap().to_string();
        assert!(marker.starts_with("corebound-failed-create:"));
        assert_eq!(
            statements(emu, RUNTIME),
            vec![foreign_statement(RUNTIME)],
            "{mode:?}: the runtime write was undone"
        );

        // CloudFormation rolls back with a Delete of the marker: SUCCESS without touching AWS.
        let before = emu.operations().len();
        let mut delete = event("runtime-policy/delete.json");
        delete["PhysicalResourceId"] = json!(marker);
        assert_success(&h.send(delete));
        assert_eq!(emu.operations().len(), before);
    }
}

#[test]
fn missing_runtime_is_reported_in_terms_of_account_and_region() {
    let (_guard, emu) = emulator();
    let mut h = Harness::new(emu);
    let answer = h.send(event("runtime-policy/create.json"));
    assert_failed_with(
        &answer,
        &[
            "ResourceNotFound",
            "does not exist in account 123456789012, region us-east-1",
        ],
    );
}

#[test]
fn shrinking_endpoint_names_removes_the_statement_from_dropped_endpoints() {
    for mode in MODES {
        let (_guard, emu) = emulator();
        set_storage(emu, mode);
        seed_runtimes(emu);
        let mut h = Harness::new(emu);
        let mut create = event("runtime-policy/create.json");
        create["ResourceProperties"]["EndpointNames"] = json!(["DEFAULT", "canary"]);
        let answer = h.send(create.clone());
        assert_success(&answer);
        let sid = answer["Data"]["StatementId"].as_str().unwrap().to_string();
        assert!(statement(&statements(emu, &endpoint(RUNTIME, "canary")), &sid).is_some());

        let mut update = event("runtime-policy/update.json");
        update["OldResourceProperties"] = create["ResourceProperties"].clone();
        update["ResourceProperties"]["EndpointNames"] = json!([]);
        let answer = h.send(update);
        assert_success(&answer);
        assert_eq!(answer["Data"]["EndpointArns"], "");
        assert!(statement(&statements(emu, RUNTIME), &sid).is_some());
        assert!(statements(emu, &endpoint(RUNTIME, "canary")).is_empty());
        assert!(statements(emu, &endpoint(RUNTIME, "DEFAULT")).is_empty());
    }
}

/// Issue 10 item 3: a Delete whose properties no longer describe the statement (here an
/// invalid principal) changes nothing and says why.
#[test]
fn delete_with_properties_that_do_not_describe_the_statement_changes_nothing() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    let answer = h.send(event("runtime-policy/create.json"));
    assert_success(&answer);
    let before = emu.resource_policies();
    let mut delete = event("runtime-policy/delete.json");
    delete["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
    delete["ResourceProperties"]["Principals"] = json!(["*"]);
    assert_success(&h.send(delete));
    assert_eq!(emu.resource_policies(), before);
    assert!(h.logged("do not describe a statement corebound writes"));
}

/// Issue 16: an invalid ALLOWED_PRINCIPAL_ACCOUNTS or SCOPE_PATTERNS does not stop the
/// function; requests are answered FAILED naming the variable, with no AWS call.
#[test]
fn invalid_settings_are_answered_naming_the_variable() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    for (variable, value) in [
        ("ALLOWED_PRINCIPAL_ACCOUNTS", "210987654321,not-an-account"),
        ("SCOPE_PATTERNS", "*"),
    ] {
        let mut env = vec![
            ("SCOPE_PATTERNS", SCOPE),
            ("ALLOWED_PRINCIPAL_ACCOUNTS", ALLOWED),
        ];
        env.retain(|(k, _)| *k != variable);
        env.push((variable, value));
        let mut h = Harness::with_env(emu, &env);
        let mut create = event("runtime-policy/create.json");
        create["RequestId"] = json!(format!("bad-{variable}"));
        assert_failed_with(&h.send(create), &[variable]);
    }
    assert!(emu.operations().is_empty(), "{:?}", emu.operations());
}

/// A Delete that cannot read the ownership record (the role lacks ListTagsForResource)
/// answers SUCCESS, changes nothing and says so, instead of blocking the stack's deletion.
#[test]
fn delete_without_access_to_the_ownership_record_changes_nothing() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["StatementId"] = json!("PartnerInvoke");
    let answer = h.send(create.clone());
    assert_success(&answer);
    let before = emu.resource_policies();
    emu.post(
        "/_corebound/faults",
        &json!({"service": "bedrock-agentcore", "operation": "ListTagsForResource", "status": 403,
                "code": "AccessDeniedException", "message": "User is not authorized to perform: bedrock-agentcore:ListTagsForResource", "count": 1}),
    );
    assert_success(&h.send(delete_of(&create, &answer["PhysicalResourceId"], "delete")));
    assert_eq!(emu.resource_policies(), before);
    assert!(h.logged("the ownership record cannot be read"));
}
