//! One hub and its spokes on the local emulator (issue 13), set up the way the templates
//! deploy them: the hub remediator's role in the hub account (its function runs with a session
//! of it, as Lambda runs a function), and in each spoke the remediation role
//! `<RolePrefix><AppName>_Remediation` whose trust allows only that role, with the ExternalId
//! and the organization (templates/spoke.yaml's shape), plus a project key per region.
//! Shared by `tests/tests/hub.rs` and `make demo-org`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::aws_calls::{self, as_caller, fixtures};
use crate::emulator::Emulator;

/// The hub: the emulator's default account, where the test Runtime API says the function runs.
pub const HUB: &str = "123456789012";
pub const ORGANIZATION: &str = "o-corebound01";
pub const HUB_ROLE_NAME: &str = "LPMA_Corebound_Remediator";
pub const SPOKE_ROLE_NAME: &str = "LPMA_Corebound_Remediation";
pub const EXTERNAL_ID: &str = "corebound-hub-7f3a9c";
pub const SCOPE: &str = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*";

pub fn hub_role_arn() -> String {
    format!("arn:aws:iam::{HUB}:role/{HUB_ROLE_NAME}")
}

pub fn spoke_role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{SPOKE_ROLE_NAME}")
}

/// Credentials as the emulator hands them out.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: String,
}

impl Credentials {
    fn from(answer: &Value) -> Self {
        let text = |name: &str| answer[name].as_str().unwrap_or_default().to_string();
        Credentials {
            access_key: text("AccessKeyId"),
            secret_key: text("SecretAccessKey"),
            session_token: text("SessionToken"),
        }
    }
}

/// The five tags of one account (its `Environment` tells the accounts apart).
pub fn tags_of(environment: &str) -> BTreeMap<String, String> {
    [
        ("ApplicationId", "APP-0042"),
        ("Environment", environment),
        ("Project", "corebound-demo"),
        ("ServiceLine", "platform"),
        ("ManagedBy", "platform-ci"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One spoke account as set up.
#[derive(Clone, Debug)]
pub struct Spoke {
    pub account: String,
    /// An administrator of the account (to create fixtures and read what changed).
    pub admin: Credentials,
    /// region → the spoke's project key there.
    pub keys: BTreeMap<String, String>,
    pub environment: String,
}

impl Spoke {
    /// Runs `calls` as this account's administrator in `region`.
    pub fn act<T>(&self, region: &str, calls: impl FnOnce() -> T) -> T {
        as_caller(&self.admin.access_key, region, calls)
    }
}

/// How a spoke's remediation role trusts the hub.
pub enum Trust {
    /// templates/spoke.yaml's trust: the hub role, the ExternalId, the organization.
    Hub,
    /// The same with another ExternalId (a spoke not yet rotated, or a misconfigured one).
    ExternalId(&'static str),
    /// No remediation role at all (the StackSet has not reached the account).
    NoRole,
}

pub struct Organization {
    pub hub_session: Credentials,
    pub hub_key: String,
    pub spokes: Vec<Spoke>,
}

/// The spoke role's trust policy (templates/spoke.yaml's shape).
pub fn spoke_trust(external_id: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": hub_role_arn()},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {
            "sts:ExternalId": external_id,
            "aws:PrincipalOrgID": ORGANIZATION,
            "aws:PrincipalAccount": HUB
        }}
    }]})
}

fn must<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

impl Organization {
    /// The hub (role, session, key in `hub_region`) and one spoke per `(account, environment,
    /// regions with a key, trust)`.
    pub fn set_up(
        emu: &Emulator,
        hub_region: &str,
        spokes: &[(&str, &str, &[&str], Trust)],
    ) -> Organization {
        let mut organization_accounts = serde_json::Map::new();
        organization_accounts.insert(HUB.to_string(), json!(ORGANIZATION));
        for (account, ..) in spokes {
            organization_accounts.insert(account.to_string(), json!(ORGANIZATION));
        }
        emu.put(
            "/_corebound/organizations",
            &json!({"accounts": organization_accounts}),
        );
        let lambda_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        must(aws_calls::query(
            emu,
            "iam",
            "CreateRole",
            &[
                ("RoleName", HUB_ROLE_NAME),
                ("AssumeRolePolicyDocument", &lambda_trust.to_string()),
            ],
        ));
        let hub_session = Credentials::from(&emu.post(
            "/_corebound/sts/sessions",
            &json!({"role_arn": hub_role_arn(), "session_name": "corebound-hub-remediator"}),
        ));
        let hub_key = as_caller(&hub_session.access_key, hub_region, || {
            fixtures::create_key(emu, "hub project key", &[])
        });
        let spokes = spokes
            .iter()
            .map(|(account, environment, regions, trust)| {
                let admin = Credentials::from(&emu.post(
                    &format!("/_corebound/accounts/{account}/credentials"),
                    &json!({}),
                ));
                let external_id = match trust {
                    Trust::Hub => Some(EXTERNAL_ID),
                    Trust::ExternalId(other) => Some(*other),
                    Trust::NoRole => None,
                };
                if let Some(external_id) = external_id {
                    as_caller(&admin.access_key, "us-east-1", || {
                        must(aws_calls::query(
                            emu,
                            "iam",
                            "CreateRole",
                            &[
                                ("RoleName", SPOKE_ROLE_NAME),
                                (
                                    "AssumeRolePolicyDocument",
                                    &spoke_trust(external_id).to_string(),
                                ),
                            ],
                        ))
                    });
                }
                let keys = regions
                    .iter()
                    .map(|region| {
                        let key = as_caller(&admin.access_key, region, || {
                            fixtures::create_key(emu, &format!("{account} project key"), &[])
                        });
                        (region.to_string(), key)
                    })
                    .collect();
                Spoke {
                    account: account.to_string(),
                    admin,
                    keys,
                    environment: environment.to_string(),
                }
            })
            .collect();
        Organization {
            hub_session,
            hub_key,
            spokes,
        }
    }

    /// `ACCOUNT_SETTINGS`: an entry per spoke (its tags and keys) and, when `default` is given,
    /// a default; `extra` adds entries as given (accounts without a role, say).
    pub fn account_settings(&self, default: Option<Value>, extra: &[(&str, Value)]) -> String {
        let mut document = serde_json::Map::new();
        if let Some(default) = default {
            document.insert("default".to_string(), default);
        }
        for spoke in &self.spokes {
            document.insert(
                spoke.account.clone(),
                json!({"tags": tags_of(&spoke.environment), "kms_key_arn": spoke.keys}),
            );
        }
        for (account, entry) in extra {
            document.insert(account.to_string(), entry.clone());
        }
        Value::Object(document).to_string()
    }

    /// The hub remediator's environment: the emulator, the hub session (Lambda's credentials
    /// for the function), the function's own settings and organization mode.
    pub fn hub_env(&self, emu: &Emulator, account_settings: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = emu
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        env.extend(
            [
                ("AWS_ACCESS_KEY_ID", self.hub_session.access_key.clone()),
                ("AWS_SECRET_ACCESS_KEY", self.hub_session.secret_key.clone()),
                ("AWS_SESSION_TOKEN", self.hub_session.session_token.clone()),
                ("REQUIRED_TAGS", json!(tags_of("hub")).to_string()),
                ("KMS_KEY_ARN", self.hub_key.clone()),
                ("MODE", "enforce".to_string()),
                ("SCOPE_PATTERNS", SCOPE.to_string()),
                ("SELF_ROLE_ARN", hub_role_arn()),
                ("SPOKE_ROLE_NAME", SPOKE_ROLE_NAME.to_string()),
                ("SPOKE_EXTERNAL_ID", EXTERNAL_ID.to_string()),
                ("ACCOUNT_SETTINGS", account_settings.to_string()),
                ("REMEDIATION_RETRY_ATTEMPTS", "2".to_string()),
                ("REMEDIATION_RETRY_BACKOFF_MS", "20".to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        env
    }
}

/// `sample` (a file of `events/`) as EventBridge delivers it from `account`/`region` to the
/// hub's bus: the spoke's rule forwards it unchanged, so `account` and `region` stay the
/// spoke's. `name` makes the event id unique.
fn from_spoke(sample: &str, account: &str, region: &str, name: &str) -> Value {
    let mut event = crate::event(sample);
    event["id"] = json!(format!("hub-{account}-{region}-{name}"));
    event["account"] = json!(account);
    event["region"] = json!(region);
    event["detail"]["awsRegion"] = json!(region);
    event["detail"]["recipientAccountId"] = json!(account);
    event
}

/// The caller of the event's API call: `actor`'s session, and the role that issued it.
fn called_by(event: &mut Value, account: &str, actor: &str) {
    let identity = &mut event["detail"]["userIdentity"];
    identity["arn"] = json!(actor);
    identity["accountId"] = json!(account);
    identity["sessionContext"]["sessionIssuer"]["arn"] = json!(actor
        .replace(":sts::", ":iam::")
        .replace("assumed-role/", "role/")
        .rsplit_once('/')
        .map(|(role, _)| role.to_string())
        .unwrap_or_default());
}

/// A CloudTrail CreateTopic event from `account`/`region`, made by `actor`.
pub fn create_topic_event(account: &str, region: &str, name: &str, actor: &str) -> Value {
    let mut event = from_spoke("remediator/create-topic.json", account, region, name);
    let detail = &mut event["detail"];
    detail["requestParameters"]["name"] = json!(name);
    detail["responseElements"]["topicArn"] =
        json!(format!("arn:aws:sns:{region}:{account}:{name}"));
    called_by(&mut event, account, actor);
    event
}

/// A CreateQueue event from `account`/`region` for the queue at `url`.
pub fn create_queue_event(account: &str, region: &str, name: &str, url: &str) -> Value {
    let mut event = from_spoke("remediator/create-queue.json", account, region, name);
    let detail = &mut event["detail"];
    detail["requestParameters"]["queueName"] = json!(name);
    detail["responseElements"]["queueUrl"] = json!(url);
    let deployer = format!("arn:aws:sts::{account}:assumed-role/LPMA_Demo_Deployer/ci");
    detail["userIdentity"]["arn"] = json!(deployer);
    detail["userIdentity"]["accountId"] = json!(account);
    event
}

/// A CreateAgentRuntime event from `account`/`region` for the runtime `runtime_id`, made by
/// the account's deployer.
pub fn create_runtime_event(account: &str, region: &str, runtime_id: &str) -> Value {
    let mut event = from_spoke(
        "remediator/create-agent-runtime.json",
        account,
        region,
        runtime_id,
    );
    let arn = format!("arn:aws:bedrock-agentcore:{region}:{account}:runtime/{runtime_id}");
    let detail = &mut event["detail"];
    let name = runtime_id
        .rsplit_once('-')
        .map_or(runtime_id, |(name, _)| name);
    detail["requestParameters"]["agentRuntimeName"] = json!(name);
    detail["responseElements"]["agentRuntimeArn"] = json!(arn);
    detail["responseElements"]["agentRuntimeId"] = json!(runtime_id);
    detail["responseElements"]["workloadIdentityDetails"]["workloadIdentityArn"] = json!(format!(
        "arn:aws:bedrock-agentcore:{region}:{account}:workload-identity-directory/default/workload-identity/{runtime_id}"
    ));
    called_by(&mut event, account, &deployer(account));
    event
}

/// The deployer session of an account (an ordinary creator of resources).
pub fn deployer(account: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/LPMA_Demo_Deployer/gitlab-ci-4711")
}

/// The hub's own session in a spoke (what CloudTrail shows for the hub's fixes there).
pub fn hub_session_in(account: &str) -> String {
    format!(
        "arn:aws:sts::{account}:assumed-role/{SPOKE_ROLE_NAME}/{}",
        corebound::accounts::SPOKE_SESSION_NAME
    )
}
