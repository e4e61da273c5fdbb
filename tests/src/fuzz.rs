//! A small in-house fuzzer for stable Rust: structure-aware JSON generation plus byte and
//! value mutation, seeded with the files in `events/`, run against every parser corebound
//! exposes to input it does not control.
//!
//! No coverage feedback (that needs nightly or an external engine); instead the generator
//! knows the shapes the parsers look for (CloudFormation requests, policy documents,
//! CloudTrail events, ARNs) and the mutator breaks them in the ways attackers and bugs do:
//! wrong JSON types, deep nesting, invalid UTF-8, truncation, duplicated and missing keys,
//! huge and hostile strings. Every input goes through the same parse path as production
//! (bytes, then serde_json with its default depth limit), so what the fuzzer reaches is what
//! a request can reach.
//!
//! `make fuzz` runs [`run`] for every [`TARGETS`] entry (`FUZZ_SECONDS` each, default 120);
//! `cargo test` runs a bounded smoke version (`tests/tests/fuzz_smoke.rs`). A panic is
//! reported with the input (saved under the target directory) and fails the run; each one
//! found becomes a regression unit test next to the parser.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use corebound::custom_resource::{parse_event, Incoming, ResponseUrl, ResponseUrlPolicy};
use corebound::iam_evaluation::{evaluate, PolicyKind, PolicySource};
use corebound::policy_document::PolicyDocument;
use corebound::remediation::CreateEvent;
use serde_json::{json, Map, Value};

/// A parser under test: gets the raw input bytes.
pub struct Target {
    pub name: &'static str,
    /// What the seeds look like; picks generator and corpus.
    pub shape: Shape,
    pub check: fn(&[u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    CloudFormationRequest,
    PolicyDocument,
    EventBridgeEvent,
    /// CloudFormation / SAM templates (YAML seeds, JSON generated): the preflight's input.
    Template,
    Text,
}

/// Every parser: the CloudFormation request, the resource properties of each resource
/// type, ARNs (and the other strings taken from properties or settings), policy documents,
/// CloudTrail/EventBridge events, IAM documents for the evaluator.
pub const TARGETS: &[Target] = &[
    Target {
        name: "cloudformation-request",
        shape: Shape::CloudFormationRequest,
        check: check_request,
    },
    Target {
        name: "properties",
        shape: Shape::CloudFormationRequest,
        check: check_properties,
    },
    Target {
        name: "arns-and-names",
        shape: Shape::Text,
        check: check_text,
    },
    Target {
        name: "log-redaction",
        shape: Shape::Text,
        check: check_redaction,
    },
    Target {
        name: "policy-document",
        shape: Shape::PolicyDocument,
        check: check_policy_document,
    },
    Target {
        name: "eventbridge-event",
        shape: Shape::EventBridgeEvent,
        check: check_eventbridge_event,
    },
    Target {
        name: "iam-evaluation",
        shape: Shape::PolicyDocument,
        check: check_iam_evaluation,
    },
    Target {
        name: "preflight-template",
        shape: Shape::Template,
        check: check_template,
    },
];

// ---- the targets -------------------------------------------------------------------------

/// A template from anyone (a hook's STACK payload, a file given to `corebound check`): parse,
/// then every rule on every resource, whole-template and per-resource as the hook calls them.
fn check_template(bytes: &[u8]) {
    use corebound::preflight::{check_resource, check_template, PreflightSettings};
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(template) = corebound::template::Template::parse(text) else {
        return;
    };
    let settings = PreflightSettings {
        required_role_prefix: Some("LPMA_".into()),
        permissions_boundary_arn: Some("arn:aws:iam::123456789012:policy/B".into()),
        kms_key_arn: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
        ..PreflightSettings::default()
    };
    for finding in check_template(&template, &settings) {
        assert!(
            !finding.message.is_empty() && !finding.fix.is_empty(),
            "{finding:?}"
        );
        assert!(
            template.resource(&finding.logical_id).is_some(),
            "{finding:?}"
        );
    }
    for resource in template.resources() {
        let _ = check_resource(
            &resource.logical_id,
            &resource.resource_type,
            &resource.properties,
            template.stack_tags(),
            &settings,
        );
    }
}

fn check_request(bytes: &[u8]) {
    match parse_event(bytes) {
        Incoming::NotCustomResource(why) => assert!(!why.is_empty()),
        Incoming::Malformed { envelope, problem } => {
            assert!(!problem.is_empty());
            let _ = format!("{envelope:?}");
        }
        Incoming::Request { envelope, request } => {
            assert_eq!(envelope.request_id, request.request_id);
            let _ = request.success_response_len(
                &corebound::custom_resource::Outcome::new("pid").with("A", "b"),
            );
        }
    }
}

fn check_properties(bytes: &[u8]) {
    let Incoming::Request { request, .. } = parse_event(bytes) else {
        return;
    };
    let settings = corebound::runtime_policy::RuntimePolicySettings::default();
    for check in [
        corebound::runtime_policy::Check::Full(&settings),
        corebound::runtime_policy::Check::Rebuild,
    ] {
        let _ = corebound::runtime_policy::RuntimePolicySpec::from_request(&request, check)
            .map(|spec| (spec.targets(), spec.physical_id()));
    }
    let _ = corebound::runtime_policy::RuntimePolicySpec::old_from_request(&request);
    let settings = corebound::grants::GrantSettings {
        required_role_prefix: "LPMA_".into(),
        scope_patterns: Some(vec!["LPMA_*".into(), "demo_*".into()]),
        ..corebound::grants::GrantSettings::default()
    };
    if let Ok(grant) = corebound::grants::Grant::from_request(&request, &settings) {
        let _ = (grant.document_text(), grant.physical_id());
    }
    // The generic reader, every accessor on every property.
    for name in PROPERTY_NAMES {
        let mut reader = request.properties.reader("Custom::Fuzz");
        let _ = reader.string(name);
        let _ = reader.bool(name);
        let _ = reader.integer(name);
        let _ = reader.string_list(name);
        let _ = reader.object(name);
        let _ = reader.required_string(name, "x");
        let _ = reader.finish().map_err(|e| e.to_string());
    }
}

fn check_text(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    use corebound::arn;
    let _ = arn::RuntimeArn::parse(text).map(|r| (r.to_string(), r.endpoint_arn("DEFAULT")));
    let _ = arn::MemoryArn::parse(text).map(|m| m.to_string());
    let _ = arn::RoleRef::parse(text);
    let _ = arn::principal_arn(text, "aws");
    let _ = arn::account_of(text);
    let _ = arn::check_endpoint_name(text);
    let _ = arn::reject_wildcards(text);
    let _ = corebound::runtime_policy::parse_physical_id(text);
    let _ = corebound::scope::optional_patterns(Some(text));
    let middle = (0..=text.len() / 2)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let (pattern, name) = text.split_at(middle);
    // Matching is O(pattern × name) by design (no backtracking blow-up); keep both within
    // what they can be in production (a SCOPE_PATTERNS entry or a policy's pattern, an AWS
    // name or ARN), or a mutated megabyte string measures only this product.
    let (pattern, name) = (prefix_chars(pattern, 1024), prefix_chars(name, 2048));
    let _ = corebound::scope::glob_match(pattern, name);
    let _ = corebound::iam_evaluation::iam_wildcard_match(pattern, name, true);
    let url = ResponseUrl::new(text);
    let policy = ResponseUrlPolicy::with_extra_hosts(["127.0.0.1".to_string()]);
    if let Err(refused) = policy.check(&url) {
        let message = refused.to_string();
        assert!(
            !text.contains("X-Amz-Signature=") || !message.contains("X-Amz-Signature="),
            "a refusal never shows the query"
        );
    }
    let _ = ResponseUrlPolicy::parse_extra_hosts(text);
    let _ = url.host();
    let redacted = corebound::logging::redact(text);
    assert_eq!(
        corebound::logging::redact(&redacted),
        redacted,
        "redaction is idempotent"
    );
    let _ = corebound::custom_resource::excerpt(text);
}

fn prefix_chars(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A presigned URL's credential, wrapped in the input as noise and encoded the ways a log
/// line may carry it (JSON, percent-encoding, `Debug`, a header map), never survives
/// `logging::redact`.
fn check_redaction(bytes: &[u8]) {
    let mut rng = Rng::new(fnv(&String::from_utf8_lossy(bytes)));
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let secret: String = (0..16 + rng.below(48))
        .map(|_| alphabet[rng.below(alphabet.len())] as char)
        .collect();
    let keys = [
        "X-Amz-Signature",
        "x-amz-credential",
        "X-AMZ-SECURITY-TOKEN",
        "Signature",
        "AWSAccessKeyId",
    ];
    let key = keys[rng.below(keys.len())];
    let mut text = match rng.below(3) {
        0 => format!("https://b.s3.amazonaws.com/p?X-Amz-Algorithm=AWS4-HMAC-SHA256&{key}={secret}&X-Amz-Date=1"),
        1 => format!("https://b.s3.amazonaws.com/p?A=1&{key}={secret}"),
        _ => json!({ key: secret }).to_string(),
    };
    for _ in 0..rng.below(4) {
        text = match rng.below(4) {
            0 => json!(text).to_string(),
            1 => text
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('=', "%3D")
                .replace('"', "%22"),
            2 => format!("{text:?}"),
            _ => json!({"fields": {"message": "event", "body": text}}).to_string(),
        };
    }
    let noise = String::from_utf8_lossy(bytes);
    let cut = (0..=noise.len() / 2)
        .rev()
        .find(|i| noise.is_char_boundary(*i))
        .unwrap_or(0);
    let line = format!("{}{text}{}", &noise[..cut], &noise[cut..]);
    let redacted = corebound::logging::redact(&line);
    assert!(
        !redacted.contains(&secret),
        "{key} survived redaction in {}",
        corebound::custom_resource::excerpt(&redacted)
    );
}

fn check_policy_document(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(document) = PolicyDocument::parse(&text) {
        let _ = document.statements();
        // What corebound writes, it can read back (numbers may differ in the last digit:
        // serde_json's float parsing is not round-trip exact, and policies hold no floats).
        let json = document.to_json();
        PolicyDocument::parse(&json).expect("a written document parses again");
    }
    let target = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1";
    let statement = json!({"Sid": "Owned", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": target});
    if let Ok(written) =
        corebound::runtime_policy::with_statement(Some(&text), target, statement.clone())
    {
        assert!(corebound::runtime_policy::holds_statement(
            Some(&written),
            &statement,
            "aws"
        ));
    }
    let _ = corebound::runtime_policy::without_statement(&text, "Owned");
    // The semantic comparison: any JSON document means what it means.
    if serde_json::from_str::<Value>(&text).is_ok() {
        assert!(corebound::policy_compare::same_document_text(
            &text, &text, "aws"
        ));
    }
}

fn check_eventbridge_event(bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let event = CreateEvent::from_eventbridge(&value);
    if let Some(resource) = &event.resource {
        let _ = (
            resource.kind(),
            resource.scope_name(),
            resource.identifier(),
        );
    }
}

fn check_iam_evaluation(bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let source = |kind, document: Value| PolicySource {
        name: "fuzz".into(),
        kind,
        document,
    };
    let identity = [
        source(PolicyKind::Inline, value.clone()),
        source(PolicyKind::Inline, Value::String(value.to_string())),
    ];
    let boundary = source(PolicyKind::Boundary, value);
    let requests: Vec<(String, String)> = [
        (
            "bedrock-agentcore:InvokeAgentRuntime",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1",
        ),
        (
            "bedrock-agentcore:CreateEvent",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/m-1",
        ),
        ("iam:PassRole", "*"),
    ]
    .iter()
    .map(|(a, r)| (a.to_string(), r.to_string()))
    .collect();
    let results = evaluate(&identity, Some(&boundary), &requests);
    assert_eq!(results.len(), requests.len());
    let results = evaluate(&identity[..1], None, &requests);
    assert_eq!(results.len(), requests.len());
}

// ---- the run -----------------------------------------------------------------------------

/// Largest input kept as mutation material (a Lambda async event is at most 256 KiB).
const MAX_CORPUS_INPUT: usize = 64 * 1024;

/// Totals of one target's run.
#[derive(Clone, Debug)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub elapsed: Duration,
    /// Panic messages with the file each crashing input was saved to.
    pub crashes: Vec<String>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Fuzz `target` for `duration`. Crashing inputs are written to `crash_dir`.
pub fn run(target: &Target, duration: Duration, seed: u64, crash_dir: &Path) -> Report {
    let mut rng = Rng::new(seed ^ fnv(target.name));
    let mut corpus = seeds(target.shape);
    let started = Instant::now();
    let mut inputs = 0u64;
    let mut crashes = Vec::new();
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // reported below, with the input
    while started.elapsed() < duration {
        // Check the clock every few inputs only.
        for _ in 0..16 {
            let input = next_input(&mut rng, target.shape, &corpus);
            inputs += 1;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| (target.check)(&input)));
            if let Err(payload) = outcome {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-text panic".into());
                let message = corebound::custom_resource::excerpt(&message);
                let _ = std::fs::create_dir_all(crash_dir);
                let file = crash_dir.join(format!("{}-{}.bin", target.name, crashes.len()));
                let _ = std::fs::write(&file, &input);
                crashes.push(format!("{message} (input saved to {})", file.display()));
                if crashes.len() >= 20 {
                    break;
                }
            }
            // Keep some inputs as further mutation material (bounded in number and size:
            // repeated stringify/duplicate mutations grow inputs exponentially otherwise).
            if rng.below(64) == 0 && input.len() <= MAX_CORPUS_INPUT {
                if corpus.len() < 512 {
                    corpus.push(input);
                } else {
                    let i = rng.below(corpus.len());
                    corpus[i] = input;
                }
            }
        }
        if crashes.len() >= 20 {
            break;
        }
    }
    panic::set_hook(previous_hook);
    Report {
        target: target.name,
        inputs,
        elapsed: started.elapsed(),
        crashes,
    }
}

fn next_input(rng: &mut Rng, shape: Shape, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(10) {
        // A fresh structure-aware input.
        0..=2 => serde_json::to_vec(&generate(rng, shape)).unwrap(),
        // A corpus entry with its JSON mutated, then maybe its bytes.
        3..=6 => {
            let base = &corpus[rng.below(corpus.len())];
            let mut bytes = match serde_json::from_slice::<Value>(base) {
                Ok(mut value) => {
                    for _ in 0..=rng.below(4) {
                        mutate_value(rng, &mut value, shape, 0);
                    }
                    serde_json::to_vec(&value).unwrap()
                }
                Err(_) => base.clone(),
            };
            if rng.below(4) == 0 {
                mutate_bytes(rng, &mut bytes);
            }
            bytes
        }
        // A corpus entry with its bytes mutated.
        _ => {
            let mut bytes = corpus[rng.below(corpus.len())].clone();
            for _ in 0..=rng.below(3) {
                mutate_bytes(rng, &mut bytes);
            }
            bytes
        }
    }
}

// ---- seeds -------------------------------------------------------------------------------

fn seeds(shape: Shape) -> Vec<Vec<u8>> {
    let events_dir = crate::repo_root().join("events");
    let mut files = Vec::new();
    collect_json_files(&events_dir, &mut files);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let is_cfn = value.get("ResponseURL").is_some();
        match shape {
            Shape::CloudFormationRequest if is_cfn => seeds.push(bytes),
            Shape::EventBridgeEvent if !is_cfn => seeds.push(bytes),
            Shape::PolicyDocument => {
                // Policy-shaped values inside the events (Conditions, documents).
                if let Some(conditions) = value.pointer("/ResourceProperties/Conditions") {
                    seeds.push(serde_json::to_vec(&policy_with(conditions.clone())).unwrap());
                }
            }
            Shape::Text => collect_strings(&value, &mut seeds),
            _ => {}
        }
    }
    if shape == Shape::Template {
        // The fixture templates (every rule, YAML and JSON) and our own templates.
        let root = crate::repo_root();
        for dir in ["tests/fixtures/preflight", "examples", "templates"] {
            if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if matches!(
                        path.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "json")
                    ) {
                        if let Ok(bytes) = std::fs::read(&path) {
                            seeds.push(bytes);
                        }
                    }
                }
            }
        }
        if let Ok(bytes) = std::fs::read(root.join("template.yaml")) {
            seeds.push(bytes);
        }
    }
    match shape {
        Shape::PolicyDocument => {
            seeds.push(br#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"bedrock-agentcore:*","Resource":"*"},{"Effect":"Deny","NotAction":["iam:*"],"NotResource":"arn:aws:iam::*:role/LPMA_*","Condition":{"StringNotLike":{"aws:PrincipalTag/x":["a*"]}}}]}"#.to_vec());
            seeds.push(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]},"Action":["bedrock-agentcore:InvokeAgentRuntime"],"Resource":"arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1"}}"#.to_vec());
        }
        Shape::Text => {
            for s in TEXT_DICTIONARY {
                seeds.push(s.as_bytes().to_vec());
            }
        }
        _ => {}
    }
    if seeds.is_empty() {
        seeds.push(b"{}".to_vec());
    }
    seeds
}

fn collect_json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn collect_strings(value: &Value, out: &mut Vec<Vec<u8>>) {
    match value {
        Value::String(s) => out.push(s.as_bytes().to_vec()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

fn policy_with(conditions: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": "*", "Condition": conditions}]})
}

// ---- generation ----------------------------------------------------------------------------

/// Property names the resources read, plus the ones CloudFormation adds and near misses.
const PROPERTY_NAMES: &[&str] = &[
    "RuntimeArn",
    "EndpointNames",
    "Principals",
    "Actions",
    "Conditions",
    "StatementId",
    "MemoryArn",
    "RoleName",
    "PolicyName",
    "Access",
    "Verify",
    "RequireReady",
    "ServiceToken",
    "ServiceTimeout",
    "Behaviour",
    "Name",
    "runtimeArn",
    "Principal",
];

const KEY_DICTIONARY: &[&str] = &[
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "ResourceProperties",
    "OldResourceProperties",
    "Version",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "StringEquals",
    "StringLike",
    "ArnLike",
    "ForAnyValue:StringEquals",
    "aws:PrincipalOrgID",
    "AWS",
    "Service",
    "detail",
    "detail-type",
    "source",
    "account",
    "region",
    "id",
    "eventSource",
    "eventName",
    "requestParameters",
    "responseElements",
    "userIdentity",
    "arn",
    "ARN",
    "aRN",
    "errorCode",
    "sessionContext",
    "sessionIssuer",
    "topicArn",
    "queueUrl",
    "logGroupName",
    "bucketName",
    "name",
    "roleName",
    "keyId",
    "agentRuntimeArn",
    "memoryArn",
    "gatewayArn",
    "tags",
];

const TEXT_DICTIONARY: &[&str] = &[
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/corebound_demo_agent-AbCdE12345",
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1/runtime-endpoint/DEFAULT",
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/mem-1",
    "arn:aws-cn:bedrock-agentcore:cn-north-1:123456789012:runtime/x",
    "arn:aws:iam::123456789012:role/path/LPMA_App_Role",
    "arn:aws:sts::123456789012:assumed-role/LPMA_App_Role/session",
    "arn:aws:iam::123456789012:root", "123456789012", "*", "?", "LPMA_*", "DEFAULT",
    "bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:*", "iam:PassRole",
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F1",
    "http://127.0.0.1:4599/cloudformation-response/x", "https://a.s3.cn-north-1.amazonaws.com.cn/",
    "{{resolve:secretsmanager:x:SecretString:y}}", "Create", "Update", "Delete", "true", "300",
    "Custom::AgentCoreRuntimePolicy", "Custom::AgentCoreMemoryGrant", "Custom::AgentCoreInvokeGrant",
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1|StatementId",
    "LPMA_App_Role|corebound-memory-grant", "", "é✓\u{0}\u{202e}", "sns.amazonaws.com",
    "CreateTopic", "CreateAgentRuntime", "s3.amazonaws.com", "CreateBucket",
];

fn generate(rng: &mut Rng, shape: Shape) -> Value {
    match shape {
        Shape::CloudFormationRequest => {
            let request_type = ["Create", "Update", "Delete"][rng.below(3)];
            let resource_type = [
                "Custom::AgentCoreRuntimePolicy",
                "Custom::AgentCoreMemoryGrant",
                "Custom::AgentCoreInvokeGrant",
                "Custom::Fuzz",
            ][rng.below(4)];
            let mut properties = Map::new();
            for _ in 0..rng.below(7) {
                let name = PROPERTY_NAMES[rng.below(PROPERTY_NAMES.len())];
                properties.insert(name.to_string(), random_value(rng, 3));
            }
            let mut event = json!({
                "RequestType": request_type,
                "ResponseURL": "https://b.s3.amazonaws.com/x?X-Amz-Signature=1",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
                "RequestId": format!("r-{}", rng.next_u64()),
                "LogicalResourceId": "Res",
                "ResourceType": resource_type,
                "ResourceProperties": Value::Object(properties.clone()),
            });
            if request_type != "Create" {
                event["PhysicalResourceId"] = json!(random_text(rng));
            }
            if request_type == "Update" {
                event["OldResourceProperties"] = Value::Object(properties);
            }
            event
        }
        Shape::PolicyDocument => {
            let statements: Vec<Value> = (0..=rng.below(3))
                .map(|_| {
                    let mut s = Map::new();
                    for key in ["Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition"] {
                        if rng.below(3) != 0 {
                            let value = match key {
                                "Effect" => json!(["Allow", "Deny", "allow", "Maybe"][rng.below(4)]),
                                "Condition" => json!({"StringEquals": {"aws:PrincipalOrgID": random_value(rng, 2)}}),
                                _ if rng.below(2) == 0 => json!(random_text(rng)),
                                _ => random_value(rng, 2),
                            };
                            s.insert(key.to_string(), value);
                        }
                    }
                    Value::Object(s)
                })
                .collect();
            json!({"Version": "2012-10-17", "Statement": statements})
        }
        Shape::EventBridgeEvent => {
            let source = ["aws.sns", "aws.s3", "aws.bedrock-agentcore", "aws.iam"][rng.below(4)];
            json!({
            "version": "0", "id": random_text(rng), "detail-type": "AWS API Call via CloudTrail",
            "source": source,
            "account": "123456789012", "region": "us-east-1",
            "detail": {
                "eventSource": random_text(rng), "eventName": random_text(rng),
                "userIdentity": {"arn": random_text(rng)},
                "requestParameters": random_value(rng, 3),
                "responseElements": random_value(rng, 3),
            }
            })
        }
        Shape::Template => {
            let types = corebound::preflight::known_resource_types();
            let mut resources = Map::new();
            for index in 0..=rng.below(4) {
                let resource_type = match rng.below(8) {
                    0 => random_text(rng),
                    _ => types[rng.below(types.len())].to_string(),
                };
                let mut properties = Map::new();
                for _ in 0..rng.below(5) {
                    let name = TEMPLATE_PROPERTY_NAMES[rng.below(TEMPLATE_PROPERTY_NAMES.len())];
                    let value = match rng.below(4) {
                        0 => {
                            let target =
                                ["P", "K0", "AWS::NoValue", "AWS::AccountId"][rng.below(4)];
                            json!({ "Ref": target })
                        }
                        1 => json!({"Fn::Sub": random_text(rng)}),
                        2 => json!({"Fn::If": ["C", random_value(rng, 2), random_value(rng, 2)]}),
                        _ => random_value(rng, 3),
                    };
                    properties.insert(name.to_string(), value);
                }
                resources.insert(
                    format!("K{index}"),
                    json!({"Type": resource_type, "Properties": properties}),
                );
            }
            json!({
                "Parameters": {"P": {"Type": "String", "Default": random_text(rng)}},
                "Conditions": {"C": {"Fn::Equals": [{"Ref": "P"}, random_value(rng, 1)]}},
                "Resources": resources,
            })
        }
        Shape::Text => Value::String(random_text(rng)),
    }
}

/// Properties the preflight rules read.
const TEMPLATE_PROPERTY_NAMES: &[&str] = &[
    "RoleName",
    "Path",
    "PermissionsBoundary",
    "Role",
    "Tags",
    "KmsMasterKeyId",
    "KmsKeyId",
    "BucketEncryption",
    "EncryptionKeyArn",
    "KmsKeyArn",
    "KeyPolicy",
    "TargetKeyId",
    "AssumeRolePolicyDocument",
    "Policy",
    "ResourceArn",
    "RuntimeArn",
    "MemoryArn",
    "Principals",
    "NetworkConfiguration",
    "RoleArn",
];

fn random_text(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 | 1 => TEXT_DICTIONARY[rng.below(TEXT_DICTIONARY.len())].to_string(),
        2 => {
            // A dictionary entry with a piece changed.
            let mut s = TEXT_DICTIONARY[rng.below(TEXT_DICTIONARY.len())].to_string();
            let pieces = [
                ":", "/", "*", "|", "%", "..", "-", "é", "\u{0}", " ", "runtime/", "::",
            ];
            let at = rng.below(s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert_str(at, pieces[rng.below(pieces.len())]);
            }
            s
        }
        3 => "a".repeat(rng.below(5000)),
        4 => (0..rng.below(40))
            .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'))
            .collect(),
        _ => KEY_DICTIONARY[rng.below(KEY_DICTIONARY.len())].to_string(),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0 || rng.below(3) == 0;
    match rng.below(if leaf { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => match rng.below(4) {
            0 => json!(rng.next_u64() as i64),
            1 => json!(rng.below(100)),
            2 => json!(f64::from_bits(rng.next_u64()).clamp(-1e300, 1e300)),
            _ => json!(u64::MAX),
        },
        3 | 4 => json!(random_text(rng)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                let key = KEY_DICTIONARY[rng.below(KEY_DICTIONARY.len())];
                map.insert(key.to_string(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

// ---- mutation ------------------------------------------------------------------------------

fn mutate_value(rng: &mut Rng, value: &mut Value, shape: Shape, depth: usize) {
    // Walk down a random path, then change what is there.
    let descend = depth < 8 && rng.below(3) != 0;
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap();
            mutate_value(rng, map.get_mut(&key).unwrap(), shape, depth + 1);
            return;
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            mutate_value(rng, &mut items[i], shape, depth + 1);
            return;
        }
        _ => {}
    }
    match rng.below(8) {
        0 => *value = random_value(rng, 3),
        1 => *value = json!(random_text(rng)),
        2 => {
            // Wrap in up to 200 levels: around serde_json's limit of 128.
            for _ in 0..rng.below(200) {
                *value = json!([value.take()]);
            }
        }
        3 => {
            if let Value::Object(map) = value {
                if !map.is_empty() {
                    let key = map.keys().nth(rng.below(map.len())).cloned().unwrap();
                    map.remove(&key);
                }
            }
        }
        4 => {
            if let Value::Object(map) = value {
                let key = KEY_DICTIONARY[rng.below(KEY_DICTIONARY.len())];
                map.insert(key.to_string(), random_value(rng, 2));
            }
        }
        5 => *value = generate(rng, shape),
        6 => {
            if let Value::Array(items) = value {
                if let Some(first) = items.first().cloned() {
                    for _ in 0..rng.below(50) {
                        items.push(first.clone());
                    }
                }
            }
        }
        _ => {
            // The same value as a JSON string (how some tools pass lists and objects).
            *value = Value::String(value.to_string());
        }
    }
}

fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            bytes[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = rng.below(len + 1);
            bytes.insert(i, rng.next_u64() as u8);
        }
        2 if len > 0 => {
            let start = rng.below(len);
            let end = (start + rng.below(16) + 1).min(len);
            bytes.drain(start..end);
        }
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + rng.below(64) + 1).min(len);
            let piece = bytes[start..end].to_vec();
            let at = rng.below(len + 1);
            bytes.splice(at..at, piece);
        }
        4 => {
            // Invalid UTF-8 sequences.
            let bad: [&[u8]; 5] = [
                b"\xff",
                b"\xc3",
                b"\xe2\x82",
                b"\xed\xa0\x80",
                b"\xf8\x88\x80\x80\x80",
            ];
            let at = rng.below(len + 1);
            bytes.splice(at..at, bad[rng.below(bad.len())].iter().copied());
        }
        5 => {
            // Deep nesting, balanced or not.
            let depth = rng.below(300);
            let at = rng.below(len + 1);
            let open = if rng.below(2) == 0 { b'[' } else { b'{' };
            bytes.splice(at..at, std::iter::repeat_n(open, depth));
        }
        6 if len > 0 => bytes.truncate(rng.below(len)),
        7 => {
            let tokens: [&[u8]; 8] = [
                b"null",
                b"\"\"",
                b"[]",
                b"{}",
                b"1e999",
                b"-0",
                b"\"\\ud800\"",
                b"\"\\u0000\"",
            ];
            let at = rng.below(len + 1);
            bytes.splice(at..at, tokens[rng.below(tokens.len())].iter().copied());
        }
        _ => {
            if len > 0 {
                let i = rng.below(len);
                bytes[i] = b"{}[]\",:\\0"[rng.below(9)];
            }
        }
    }
}

// ---- randomness ----------------------------------------------------------------------------

/// xorshift64*: small, fast, reproducible from the seed printed with each run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-enough in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
