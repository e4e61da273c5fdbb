//! `Custom::AgentCoreRuntimePolicy` end to end: the `runtime-policy` binary, driven through
//! the Lambda Runtime API with the files in events/runtime-policy/, against the local
//! AgentCore emulator.

use std::time::Duration;

use corebound_tests::{
    binary_path, emulator, event, with_response_url, Emulator, LambdaProcess, ResponseCapture,
};
use serde_json::{json, Value};

const RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent-AbCdE12345";
const OTHER_RUNTIME: &str =
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent_v2-ZyXwV98765";
const WAIT: Duration = Duration::from_secs(60);

fn endpoint(runtime: &str, name: &str) -> String {
    format!("{runtime}/runtime-endpoint/{name}")
}

fn seed_runtimes(emu: &Emulator) {
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": "corebound_demo_agent-AbCdE12345", "endpoints": ["DEFAULT", "canary"]}),
    );
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent_v2", "id": "corebound_demo_agent_v2-ZyXwV98765", "endpoints": ["DEFAULT"]}),
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

fn put_foreign(emu: &Emulator, resource: &str) {
    emu.put_resource_policy(
        resource,
        &json!({"Version": "2012-10-17", "Statement": [foreign_statement(resource)]}),
    );
}

fn statements(emu: &Emulator, arn: &str) -> Vec<Value> {
    emu.resource_policies()
        .get(arn)
        .map(|doc| doc["Statement"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

fn puts(emu: &Emulator) -> usize {
    emu.operations()
        .iter()
        .filter(|op| *op == "PutResourcePolicy")
        .count()
}

fn statement<'a>(statements: &'a [Value], sid: &str) -> Option<&'a Value> {
    statements.iter().find(|s| s["Sid"] == sid)
}

struct Harness {
    function: LambdaProcess,
    capture: ResponseCapture,
}

impl Harness {
    fn new(emu: &Emulator) -> Self {
        let env = emu.aws_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Harness {
            function: LambdaProcess::start(binary_path("runtime-policy"), &env),
            capture: ResponseCapture::start(),
        }
    }

    /// Invoke and return the one new answer.
    fn send(&mut self, request: Value) -> Value {
        let before = self.capture.accepted().len();
        let request = with_response_url(request, &self.capture.url());
        let result = self.function.invoke(&request, WAIT);
        assert!(result.is_ok(), "{result:?}\n{}", self.function.output());
        let answers = self.capture.accepted();
        assert_eq!(answers.len(), before + 1, "exactly one answer per request");
        answers.last().unwrap().clone()
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

#[test]
fn lifecycle_create_update_replace_delete_keeps_foreign_statements() {
    let (_guard, emu) = emulator();
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
        assert_eq!(st.len(), 2, "{arn}: {st:?}");
        assert_eq!(
            statement(&st, "PlatformTeamReadCard"),
            Some(&foreign_statement(&arn))
        );
        let owned = statement(&st, &sid).expect("owned statement");
        assert_eq!(
            owned["Resource"],
            arn.as_str(),
            "exact resource, no wildcard"
        );
        assert_eq!(owned["Principal"]["AWS"], "arn:aws:iam::210987654321:root");
        assert_eq!(
            owned["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
            "o-corebound1"
        );
    }
    assert!(
        statements(emu, &endpoint(RUNTIME, "canary")).is_empty(),
        "canary was not named"
    );

    // Update: principals change, same identity, in place.
    let update = event("runtime-policy/update.json");
    assert_eq!(
        update["PhysicalResourceId"],
        physical_id.as_str(),
        "the sample event matches the create"
    );
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

    // CloudFormation then deletes the old physical id: only the old runtime loses the statement.
    let mut delete_old = event("runtime-policy/delete.json");
    delete_old["ResourceProperties"] = replace["ResourceProperties"].clone();
    let answer = h.send(delete_old);
    assert_success(&answer);
    for arn in [RUNTIME.to_string(), endpoint(RUNTIME, "DEFAULT")] {
        assert_eq!(
            statements(emu, &arn),
            vec![foreign_statement(&arn)],
            "{arn}"
        );
    }
    assert!(statement(&statements(emu, OTHER_RUNTIME), &sid).is_some());

    // Stack delete: the new id goes too; every foreign statement is unchanged at the end.
    let mut delete_new = event("runtime-policy/delete.json");
    delete_new["RequestId"] = json!("delete-new");
    delete_new["PhysicalResourceId"] = json!(new_id);
    delete_new["ResourceProperties"] = replace["ResourceProperties"].clone();
    assert_success(&h.send(delete_new.clone()));
    assert_eq!(
        statements(emu, OTHER_RUNTIME),
        vec![foreign_statement(OTHER_RUNTIME)]
    );
    assert!(statements(emu, &endpoint(OTHER_RUNTIME, "DEFAULT")).is_empty());
    assert!(
        !emu.resource_policies()
            .contains_key(&endpoint(OTHER_RUNTIME, "DEFAULT")),
        "a document left empty is deleted, not written empty"
    );

    // Delete again (CloudFormation retries happen): already gone is SUCCESS.
    delete_new["RequestId"] = json!("delete-new-again");
    assert_success(&h.send(delete_new));
}

#[test]
fn two_resources_grant_different_accounts_on_one_runtime() {
    let (_guard, emu) = emulator();
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
    let a = h.send(first);
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
        statement(&st, sid_a).unwrap()["Principal"]["AWS"],
        "arn:aws:iam::210987654321:root"
    );
    assert_eq!(
        statement(&st, sid_b).unwrap()["Principal"]["AWS"],
        "arn:aws:iam::444455556666:root"
    );

    // Deleting one leaves the other.
    let mut delete_a = event("runtime-policy/delete.json");
    delete_a["PhysicalResourceId"] = a["PhysicalResourceId"].clone();
    assert_success(&h.send(delete_a));
    let st = statements(emu, RUNTIME);
    assert!(statement(&st, sid_a).is_none());
    assert!(statement(&st, sid_b).is_some());
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
            vec!["property Actions", "sts:AssumeRole", "bedrock-agentcore:"],
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

#[test]
fn sid_collision_with_a_foreign_statement_fails_without_writing() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut foreign = foreign_statement(&endpoint(RUNTIME, "DEFAULT"));
    foreign["Sid"] = json!("SharedSid");
    emu.put_resource_policy(
        &endpoint(RUNTIME, "DEFAULT"),
        &json!({"Version": "2012-10-17", "Statement": [foreign.clone()]}),
    );
    let mut h = Harness::new(emu);
    let puts_before = puts(emu);
    let mut create = event("runtime-policy/create.json");
    create["ResourceProperties"]["StatementId"] = json!("SharedSid");
    let answer = h.send(create);
    assert_failed_with(
        &answer,
        &[
            "property StatementId",
            "\"SharedSid\"",
            "not owned by this resource",
            "runtime-endpoint/DEFAULT",
        ],
    );
    assert!(
        statements(emu, RUNTIME).is_empty(),
        "the runtime (validated first) was not written"
    );
    assert_eq!(
        statements(emu, &endpoint(RUNTIME, "DEFAULT")),
        vec![foreign]
    );
    assert_eq!(puts(emu), puts_before, "nothing was written");
}

#[test]
fn create_failing_part_way_removes_what_it_wrote_and_its_delete_succeeds() {
    let (_guard, emu) = emulator();
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
        "the runtime write was undone"
    );

    // CloudFormation rolls back with a Delete of the marker: SUCCESS without touching AWS.
    let before = emu.operations().len();
    let mut delete = event("runtime-policy/delete.json");
    delete["PhysicalResourceId"] = json!(marker);
    assert_success(&h.send(delete));
    assert_eq!(emu.operations().len(), before);
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
    let (_guard, emu) = emulator();
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

#[test]
fn delete_with_invalid_current_properties_still_removes_the_statement() {
    let (_guard, emu) = emulator();
    seed_runtimes(emu);
    let mut h = Harness::new(emu);
    let answer = h.send(event("runtime-policy/create.json"));
    assert_success(&answer);
    let mut delete = event("runtime-policy/delete.json");
    delete["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
    delete["ResourceProperties"]["Principals"] = json!(["*"]);
    assert_success(&h.send(delete));
    assert!(
        emu.resource_policies().is_empty(),
        "{:?}",
        emu.resource_policies()
    );
}
