//! Model-based property test: random sequences of Create, Update and Delete (retried,
//! replaced, forged) by three resources on two runtimes whose documents already hold other
//! owners' statements, against an in-memory AgentCore that sometimes fails a write.
//!
//! Properties checked after every step:
//! * no foreign statement ever changes or disappears;
//! * a request answered FAILED leaves every document and tag as it found them;
//! * every resource that exists holds exactly its statement on each of its targets.
//!
//! `COREBOUND_MODEL_CASES` sets the number of sequences (default 48, as `make test` runs it;
//! `make fuzz` raises it), `COREBOUND_MODEL_SEED` replays one seed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::*;
use crate::custom_resource::{Properties, RequestType};
use crate::policy_compare::same_document_text;
use crate::policy_document::PolicyDocument;
use crate::runtime_policy::settings::RuntimePolicySettings;
use crate::runtime_policy::RESOURCE_TYPE;

const ACCOUNT: &str = "123456789012";
const RUNTIMES: [&str; 2] = [
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/pay_agent-AbCdE12345",
    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/pay_agent_v2-ZyXwV98765",
];
const ENDPOINTS: [&str; 3] = ["DEFAULT", "prod", "canary"];
const STEPS: usize = 24;

/// splitmix64: small, seeded, good enough to pick test moves.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Default)]
struct MemStore {
    policies: Mutex<BTreeMap<String, String>>,
    tags: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    /// Fail the next put whose ARN ends with this.
    fail_put: Mutex<Option<String>>,
}

impl MemStore {
    fn known(arn: &str) -> bool {
        RUNTIMES.iter().any(|r| {
            arn == *r
                || ENDPOINTS
                    .iter()
                    .any(|e| arn == format!("{r}/runtime-endpoint/{e}"))
        })
    }
}

impl PolicyStore for MemStore {
    async fn get_policy(&self, arn: &str) -> Result<Option<String>> {
        Ok(self.policies.lock().unwrap().get(arn).cloned())
    }
    async fn put_policy(&self, arn: &str, policy: &str) -> Result<()> {
        if !MemStore::known(arn) {
            return Err(Error::aws(
                "bedrock-agentcore:PutResourcePolicy",
                format!("ResourceNotFound: {arn}"),
            ));
        }
        let mut fail = self.fail_put.lock().unwrap();
        if fail.as_deref().is_some_and(|suffix| arn.ends_with(suffix)) {
            *fail = None;
            return Err(Error::aws(
                "bedrock-agentcore:PutResourcePolicy",
                "AccessDenied (injected)",
            ));
        }
        // AgentCore's own checks: valid JSON, exact resources.
        let document = PolicyDocument::parse(policy).expect("the handler writes valid documents");
        for statement in document.statements() {
            let resource = &statement["Resource"];
            assert!(
                resource == &json!(arn) || resource == &json!([arn]),
                "exact resource: {policy}"
            );
        }
        self.policies
            .lock()
            .unwrap()
            .insert(arn.into(), policy.into());
        Ok(())
    }
    async fn delete_policy(&self, arn: &str) -> Result<()> {
        self.policies.lock().unwrap().remove(arn);
        Ok(())
    }
    async fn tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>> {
        Ok(Some(
            self.tags
                .lock()
                .unwrap()
                .get(arn)
                .cloned()
                .unwrap_or_default(),
        ))
    }
    async fn tag(&self, arn: &str, key: &str, value: &str) -> Result<()> {
        self.tags
            .lock()
            .unwrap()
            .entry(arn.into())
            .or_default()
            .insert(key.into(), value.into());
        Ok(())
    }
    async fn untag(&self, arn: &str, key: &str) -> Result<()> {
        let mut all = self.tags.lock().unwrap();
        if let Some(tags) = all.get_mut(arn) {
            tags.remove(key);
            if tags.is_empty() {
                all.remove(arn);
            }
        }
        Ok(())
    }
}

/// Other owners' statements: an org guard Deny, an Allow whose Sid a resource may ask for,
/// one without a Sid, and one identical to what resource "A" would write with Sid "Shared".
fn foreign_statements(arn: &str) -> Vec<Value> {
    vec![
        json!({"Sid": "OrgGuard", "Effect": "Deny", "Principal": "*", "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": arn,
               "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}),
        json!({"Sid": "Shared", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": arn}),
        json!({"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": ["bedrock-agentcore:GetAgentCard"], "Resource": [arn]}),
    ]
}

#[derive(Clone, Debug)]
struct Resource {
    stack_id: String,
    logical_id: String,
    /// Current properties and physical id, once created.
    state: Option<(Value, String)>,
    /// A Delete failed part-way (CloudFormation's DELETE_FAILED): some targets may have lost
    /// the statement already; not checked until the next successful request.
    partly_deleted: bool,
}

fn random_properties(rng: &mut Rng) -> Value {
    let runtime = *rng.pick(&RUNTIMES);
    let endpoints: Vec<&str> = ENDPOINTS
        .iter()
        .copied()
        .filter(|_| rng.chance(50))
        .collect();
    let principals: Vec<&str> = [
        "210987654321",
        "arn:aws:iam::210987654321:role/LPMA_Pay_Caller",
        ACCOUNT,
    ]
    .into_iter()
    .filter(|_| rng.chance(60))
    .collect();
    let principals = if principals.is_empty() {
        vec!["210987654321"]
    } else {
        principals
    };
    let mut properties =
        json!({"RuntimeArn": runtime, "EndpointNames": endpoints, "Principals": principals});
    if rng.chance(30) {
        properties["Actions"] = json!([
            "bedrock-agentcore:InvokeAgentRuntime",
            "bedrock-agentcore:GetAgentCard"
        ]);
    }
    if rng.chance(30) {
        properties["Conditions"] =
            json!({"StringEquals": {"aws:PrincipalOrgID": ["o-abcdefghij"]}});
    }
    match rng.below(5) {
        0 => properties["StatementId"] = json!("AppSid"),
        1 => properties["StatementId"] = json!("Shared"),
        2 => properties["StatementId"] = json!("OrgGuard"),
        _ => {}
    }
    properties
}

fn request(
    resource: &Resource,
    request_type: RequestType,
    properties: &Value,
    old: Option<&Value>,
    physical_id: Option<&str>,
) -> Request {
    Request {
        request_type,
        request_id: "model".into(),
        stack_id: resource.stack_id.clone(),
        logical_resource_id: resource.logical_id.clone(),
        resource_type: RESOURCE_TYPE.into(),
        physical_resource_id: physical_id.map(str::to_string),
        properties: Properties::from_value(properties.clone()),
        old_properties: old.map(|o| Properties::from_value(o.clone())),
        deadline: None,
    }
}

/// Every document and every runtime's tags.
type Snapshot = (
    BTreeMap<String, String>,
    BTreeMap<String, BTreeMap<String, String>>,
);

struct World {
    handler: RuntimePolicyHandler<MemStore>,
    foreign: BTreeMap<String, Vec<Value>>,
}

impl World {
    fn new() -> Self {
        let store = MemStore::default();
        let mut foreign = BTreeMap::new();
        for runtime in RUNTIMES {
            let mut targets = vec![runtime.to_string()];
            targets.extend(
                ENDPOINTS
                    .iter()
                    .map(|e| format!("{runtime}/runtime-endpoint/{e}")),
            );
            for target in targets {
                let statements = foreign_statements(&target);
                store.policies.lock().unwrap().insert(
                    target.clone(),
                    json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
                );
                foreign.insert(target, statements);
            }
        }
        let settings =
            RuntimePolicySettings::from_values(Some("pay_*"), Some("210987654321")).unwrap();
        World {
            handler: RuntimePolicyHandler::new(store, settings),
            foreign,
        }
    }

    fn snapshot(&self) -> Snapshot {
        (
            self.handler.store.policies.lock().unwrap().clone(),
            self.handler.store.tags.lock().unwrap().clone(),
        )
    }

    fn check_foreign(&self, context: &str) {
        let policies = self.handler.store.policies.lock().unwrap();
        for (target, statements) in &self.foreign {
            let document =
                PolicyDocument::parse(policies.get(target).expect("document kept")).unwrap();
            for statement in statements {
                assert!(
                    document.statements().contains(&statement),
                    "{context}: foreign statement changed on {target}: {statement}\nnow: {:?}",
                    document.statements()
                );
            }
        }
    }

    fn check_owned(&self, resources: &[Resource], context: &str) {
        let policies = self.handler.store.policies.lock().unwrap();
        for resource in resources {
            let Some((properties, _)) = &resource.state else {
                continue;
            };
            if resource.partly_deleted {
                continue;
            }
            let r = request(resource, RequestType::Delete, properties, None, None);
            let spec = RuntimePolicySpec::from_request(&r, Check::Rebuild).unwrap();
            for target in spec.targets() {
                let stored = policies
                    .get(&target)
                    .and_then(|text| PolicyDocument::parse(text).ok())
                    .and_then(|d| d.statement(&spec.statement_id).cloned());
                assert!(
                    stored.is_some_and(|s| written_by(&spec, &target, &s).is_ours()),
                    "{context}: {} lost its statement {} on {target}",
                    resource.logical_id,
                    spec.statement_id
                );
            }
        }
    }
}

fn describe_change(before: &Snapshot, after: &Snapshot) -> String {
    let mut out = format!("tags before {:?}\ntags after {:?}\n", before.1, after.1);
    for (arn, doc) in &after.0 {
        if before.0.get(arn) != Some(doc) {
            out += &format!("{arn}:\n  before {:?}\n  after  {doc}\n", before.0.get(arn));
        }
    }
    out
}

fn same_state(a: &Snapshot, b: &Snapshot) -> bool {
    a.1 == b.1
        && a.0.len() == b.0.len()
        && a.0.iter().all(|(arn, doc)| {
            b.0.get(arn)
                .is_some_and(|other| same_document_text(doc, other, "aws"))
        })
}

#[derive(Clone)]
struct Op {
    index: usize,
    request: Request,
    properties: Value,
    old: Option<Value>,
}

/// Run one request as CloudFormation would, and track what exists on success.
async fn execute(
    world: &World,
    resources: &mut [Resource],
    op: &Op,
) -> std::result::Result<(), String> {
    let Op {
        index,
        request: r,
        properties,
        old,
    } = op;
    let index = *index;
    let properties = properties.clone();
    match r.request_type {
        RequestType::Create => {
            let outcome = world.handler.create(r).await.map_err(|e| e.to_string())?;
            resources[index].state = Some((properties, outcome.physical_resource_id));
        }
        RequestType::Update => {
            let outcome = world.handler.update(r).await.map_err(|e| e.to_string())?;
            let old_id = r.physical_resource_id.clone().unwrap_or_default();
            if outcome.physical_resource_id != old_id {
                // Replacement: CloudFormation then deletes the old physical id.
                let old = old.as_ref().expect("an Update has old properties");
                let d = request(
                    &resources[index],
                    RequestType::Delete,
                    old,
                    None,
                    Some(&old_id),
                );
                // Its failure is CloudFormation's UPDATE_COMPLETE_CLEANUP_FAILED: the Update
                // stands, the old statement (ours) may stay behind.
                let _ = world.handler.delete(&d).await;
            }
            resources[index].state = Some((properties, outcome.physical_resource_id));
        }
        RequestType::Delete => {
            if let Err(e) = world.handler.delete(r).await {
                // A Delete is not undone: a retry removes the rest.
                resources[index].partly_deleted = true;
                return Err(e.to_string());
            }
            resources[index].state = None;
        }
    }
    resources[index].partly_deleted = false;
    Ok(())
}

/// Outcomes seen, by request type and result: the sequences must exercise both.
type Tally = BTreeMap<(&'static str, bool), u32>;

async fn run_sequence(seed: u64, tally: &mut Tally) {
    let mut rng = Rng(seed);
    let world = World::new();
    let stack =
        |n: u32| format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/pay-{n}/uuid-{n}");
    let mut resources = vec![
        Resource {
            stack_id: stack(1),
            logical_id: "InvokeA".into(),
            state: None,
            partly_deleted: false,
        },
        Resource {
            stack_id: stack(1),
            logical_id: "InvokeB".into(),
            state: None,
            partly_deleted: false,
        },
        Resource {
            stack_id: stack(2),
            logical_id: "InvokeA".into(),
            state: None,
            partly_deleted: false,
        },
    ];
    let attacker = Resource {
        stack_id: stack(9),
        logical_id: "Forger".into(),
        state: None,
        partly_deleted: false,
    };
    let mut last: Option<Op> = None;
    for step in 0..STEPS {
        if rng.chance(10) {
            let target = rng.pick(&["", "/runtime-endpoint/DEFAULT", "/runtime-endpoint/prod"]);
            *world.handler.store.fail_put.lock().unwrap() = Some(target.to_string());
        }
        let context = format!("seed {seed} step {step}");
        let before = world.snapshot();
        let index = rng.below(resources.len());
        let move_kind = rng.below(10);
        let op: Option<Op> = match (&resources[index].state, move_kind) {
            // Retry the previous request exactly (a Lambda retry after a lost answer).
            (_, 0) if last.is_some() => last.clone(),
            // A forged Delete from another identity naming a foreign or someone's Sid.
            (_, 1) => {
                let runtime = *rng.pick(&RUNTIMES);
                let sid = *rng.pick(&["OrgGuard", "Shared", "AppSid"]);
                let properties = if rng.chance(50) {
                    json!({})
                } else {
                    random_properties(&mut rng)
                };
                let r = request(
                    &attacker,
                    RequestType::Delete,
                    &properties,
                    None,
                    Some(&format!("{runtime}|{sid}")),
                );
                let result = world.handler.delete(&r).await;
                assert!(
                    result.is_ok(),
                    "{context}: a forged Delete is answered SUCCESS: {result:?}"
                );
                None
            }
            (None, _) => {
                let properties = random_properties(&mut rng);
                let request = request(
                    &resources[index],
                    RequestType::Create,
                    &properties,
                    None,
                    None,
                );
                Some(Op {
                    index,
                    request,
                    properties,
                    old: None,
                })
            }
            (Some((properties, physical_id)), 2..=5) => {
                let new = random_properties(&mut rng);
                let request = request(
                    &resources[index],
                    RequestType::Update,
                    &new,
                    Some(properties),
                    Some(physical_id),
                );
                Some(Op {
                    index,
                    request,
                    properties: new,
                    old: Some(properties.clone()),
                })
            }
            (Some((properties, physical_id)), _) => {
                let request = request(
                    &resources[index],
                    RequestType::Delete,
                    properties,
                    None,
                    Some(physical_id),
                );
                Some(Op {
                    index,
                    request,
                    properties: properties.clone(),
                    old: None,
                })
            }
        };
        if let Some(op) = op {
            let outcome = execute(&world, &mut resources, &op).await;
            *tally
                .entry((op.request.request_type.as_str(), outcome.is_ok()))
                .or_default() += 1;
            if let (Err(reason), false) = (&outcome, op.request.request_type == RequestType::Delete)
            {
                assert!(
                    same_state(&before, &world.snapshot()),
                    "{context}: FAILED ({reason}) but changed something: {:?} {:?}\n{}",
                    op.request.request_type,
                    op.properties,
                    describe_change(&before, &world.snapshot())
                );
            }
            last = Some(op);
        }
        *world.handler.store.fail_put.lock().unwrap() = None;
        world.check_foreign(&context);
        world.check_owned(&resources, &context);
    }
}

#[test]
fn random_sequences_never_change_a_foreign_statement() {
    let cases: u64 = std::env::var("COREBOUND_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let seeds: Vec<u64> = match std::env::var("COREBOUND_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (0..cases).map(|i| 0xC0DE_0000 + i).collect(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut tally = Tally::new();
    for seed in &seeds {
        runtime.block_on(run_sequence(*seed, &mut tally));
    }
    if seeds.len() > 1 {
        for kind in ["Create", "Update", "Delete"] {
            for ok in [true, false] {
                assert!(
                    tally.get(&(kind, ok)).copied().unwrap_or(0) > 0,
                    "no {kind} that {}: {tally:?}",
                    if ok { "succeeded" } else { "failed" }
                );
            }
        }
    }
}
