//! Organization mode end to end (issue 13): one hub remediator and its spokes in two regions,
//! the `remediator` binary driven through the Lambda Runtime API with CloudTrail events as the
//! spokes' rules forward them to the hub's bus, against the emulator in multi-account mode.
//!
//! The hub function runs with a session of its own role (as Lambda runs it); it reaches a spoke
//! only by assuming `<SPOKE_ROLE_NAME>` there, which the emulator grants only as STS would (the
//! role exists, its trust names the hub role, the ExternalId and the organization match).
//! What changed is read back with each spoke's own credentials, and every AWS request is
//! attributed to the account and region it acted in.

use std::time::{Duration, Instant};

use corebound_tests::aws_calls::fixtures as aws;
use corebound_tests::organization::{
    create_queue_event, create_runtime_event, create_topic_event, deployer, hub_session_in,
    spoke_role_arn, tags_of, Organization, Trust, HUB, SPOKE_ROLE_NAME,
};
use corebound_tests::{binary_path, emulator, Emulator, InvocationResult, LambdaProcess};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);
const SPOKE_A: &str = "222233334444";
const SPOKE_B: &str = "555566667777";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

struct Hub {
    process: LambdaProcess,
    emu: &'static Emulator,
}

/// One invocation: its result, the AWS requests it made and its audit records.
struct Run {
    result: InvocationResult,
    requests: Vec<Value>,
    audits: Vec<Value>,
}

impl Run {
    fn operations(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|r| r["operation"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn assume_roles(&self) -> usize {
        self.operations()
            .iter()
            .filter(|op| *op == "AssumeRole")
            .count()
    }

    /// (account, region) of every request that changed something.
    fn writes(&self) -> Vec<(String, String, String)> {
        self.requests
            .iter()
            .filter(|r| {
                let op = r["operation"].as_str().unwrap_or_default();
                ["Tag", "Set", "Put", "Create"]
                    .iter()
                    .any(|prefix| op.starts_with(prefix))
            })
            .map(|r| {
                let text = |field: &str| r[field].as_str().unwrap_or_default().to_string();
                (text("operation"), text("account"), text("region"))
            })
            .collect()
    }

    fn summary(&self) -> &Value {
        match &self.result {
            InvocationResult::Response(summary) => summary,
            InvocationResult::Error(error) => panic!("invocation failed: {error}"),
        }
    }

    /// The one record of an event that was not acted on, and its `detail`.
    fn only_record(&self) -> &Value {
        assert_eq!(self.audits.len(), 1, "{:#?}", self.audits);
        &self.audits[0]
    }
}

impl Hub {
    fn start(emu: &'static Emulator, organization: &Organization, settings: &str) -> Hub {
        let env = organization.hub_env(emu, settings);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let process = LambdaProcess::start(binary_path("remediator"), &env);
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until && !process.output().contains("remediator ready") {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            process.output().contains("remediator ready"),
            "{}",
            process.output()
        );
        Hub { process, emu }
    }

    fn audit_lines(&self) -> Vec<Value> {
        self.process
            .log_records()
            .into_iter()
            .filter(|line| line["type"] == "audit")
            .collect()
    }

    fn run(&mut self, event: &Value) -> Run {
        let requests_before = self.emu.requests().len();
        let audits_before = self.audit_lines().len();
        let result = self.process.invoke(event, WAIT);
        let expected = match &result {
            InvocationResult::Response(summary) => {
                summary["records"].as_u64().unwrap_or(1) as usize
            }
            InvocationResult::Error(_) => 1,
        };
        let until = Instant::now() + Duration::from_secs(5);
        while self.audit_lines().len() < audits_before + expected && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        Run {
            result,
            requests: self.emu.requests()[requests_before..].to_vec(),
            audits: self.audit_lines()[audits_before..].to_vec(),
        }
    }
}

fn two_spokes(emu: &Emulator) -> Organization {
    Organization::set_up(
        emu,
        US,
        &[
            (SPOKE_A, "spoke-a", &[US, EU], Trust::Hub),
            (SPOKE_B, "spoke-b", &[US, EU], Trust::Hub),
        ],
    )
}

#[test]
fn each_spokes_events_are_fixed_in_its_account_and_region_with_its_settings() {
    let (_guard, emu) = emulator();
    let organization = two_spokes(emu);
    let settings = organization.account_settings(None, &[]);
    let [a, b] = [&organization.spokes[0], &organization.spokes[1]];
    // Untagged, unencrypted resources, created in each spoke and region by its deployer.
    let topic_a_eu = a.act(EU, || {
        aws::create_topic(emu, "corebound-demo-a-eu", &[], &[])
    });
    let topic_a_us = a.act(US, || {
        aws::create_topic(emu, "corebound-demo-a-us", &[], &[])
    });
    let topic_b_eu = b.act(EU, || {
        aws::create_topic(emu, "corebound-demo-b-eu", &[], &[])
    });
    let queue_b_us = b.act(US, || {
        aws::create_queue(emu, "corebound-demo-b-us", &[], &[])
    });
    assert_eq!(
        topic_a_eu,
        format!("arn:aws:sns:{EU}:{SPOKE_A}:corebound-demo-a-eu")
    );
    let mut hub = Hub::start(emu, &organization, &settings);

    let cases = [
        (
            create_topic_event(SPOKE_A, EU, "corebound-demo-a-eu", &deployer(SPOKE_A)),
            SPOKE_A,
            EU,
        ),
        (
            create_topic_event(SPOKE_A, US, "corebound-demo-a-us", &deployer(SPOKE_A)),
            SPOKE_A,
            US,
        ),
        (
            create_topic_event(SPOKE_B, EU, "corebound-demo-b-eu", &deployer(SPOKE_B)),
            SPOKE_B,
            EU,
        ),
        (
            create_queue_event(
                SPOKE_B,
                US,
                "corebound-demo-b-us",
                &format!("https://sqs.{US}.amazonaws.com/{SPOKE_B}/corebound-demo-b-us"),
            ),
            SPOKE_B,
            US,
        ),
    ];
    let mut assumed = 0;
    for (event, account, region) in &cases {
        let run = hub.run(event);
        let summary = run.summary();
        assert_eq!(summary["failures"], 0, "{summary}");
        assert_eq!(summary["writes"], 2, "tags and key: {summary}");
        let writes = run.writes();
        assert!(!writes.is_empty());
        for (operation, written_account, written_region) in &writes {
            assert_eq!(
                (written_account.as_str(), written_region.as_str()),
                (*account, *region),
                "{operation} must act in the event's account and region"
            );
        }
        assumed += run.assume_roles();
    }
    assert_eq!(
        assumed, 2,
        "one session per spoke, shared by its regions and cached between events"
    );

    // What each spoke now holds, read with the spoke's own credentials.
    for (spoke, region, arn) in [
        (a, EU, &topic_a_eu),
        (a, US, &topic_a_us),
        (b, EU, &topic_b_eu),
    ] {
        let (tags, attributes) = spoke.act(region, || {
            (aws::topic_tags(emu, arn), aws::topic_attributes(emu, arn))
        });
        assert_eq!(tags, tags_of(&spoke.environment), "{arn}");
        assert_eq!(
            attributes.get("KmsMasterKeyId"),
            Some(&spoke.keys[region]),
            "{arn} is encrypted with its account's key for its region"
        );
    }
    let (queue_tags, queue_attributes) = b.act(US, || {
        (
            aws::queue_tags(emu, &queue_b_us),
            aws::queue_attributes(emu, &queue_b_us),
        )
    });
    assert_eq!(queue_tags, tags_of("spoke-b"));
    assert_eq!(queue_attributes.get("KmsMasterKeyId"), Some(&b.keys[US]));

    // An AgentCore runtime created in spoke B: read and tagged there, through B's role; the
    // hub's runtime of the same name is another resource and is not touched.
    let runtime_id = "corebound_demo_agent-SpokeB0001";
    let runtime_b = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": runtime_id, "account": SPOKE_B, "region": EU}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    let runtime_hub = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "region": EU}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    let run = hub.run(&create_runtime_event(SPOKE_B, EU, runtime_id));
    let summary = run.summary();
    assert_eq!(summary["failures"], 0, "{summary}");
    let writes = run.writes();
    assert_eq!(
        writes,
        [(
            "TagResource".to_string(),
            SPOKE_B.to_string(),
            EU.to_string()
        )],
        "{:?}",
        run.operations()
    );
    let tags = b.act(EU, || aws::agentcore_tags(emu, &runtime_b));
    assert_eq!(tags, tags_of("spoke-b"));
    let hub_tags = corebound_tests::aws_calls::as_caller("testing", EU, || {
        aws::agentcore_tags(emu, &runtime_hub)
    });
    assert!(hub_tags.is_empty(), "{hub_tags:?}");

    // The hub's own account is still served with the function's own settings and credentials.
    corebound_tests::aws_calls::as_caller(&organization.hub_session.access_key, US, || {
        aws::create_topic(emu, "corebound-demo-hub", &[], &[])
    });
    let run = hub.run(&create_topic_event(
        HUB,
        US,
        "corebound-demo-hub",
        &deployer(HUB),
    ));
    assert_eq!(run.summary()["writes"], 2);
    assert_eq!(
        run.assume_roles(),
        0,
        "no role is assumed in the own account"
    );
    let hub_topic = format!("arn:aws:sns:{US}:{HUB}:corebound-demo-hub");
    let hub_tags =
        corebound_tests::aws_calls::as_caller(&organization.hub_session.access_key, US, || {
            aws::topic_tags(emu, &hub_topic)
        });
    assert_eq!(hub_tags, tags_of("hub"));

    // Loop guard: the hub's own writes in a spoke come back as events of its session there.
    let echo = hub.run(&create_topic_event(
        SPOKE_A,
        EU,
        "corebound-demo-a-eu",
        &hub_session_in(SPOKE_A),
    ));
    let record = echo.only_record();
    assert_eq!(record["detail"]["skip"], "own_action", "{record}");
    assert!(echo.requests.is_empty(), "{:?}", echo.operations());
}

#[test]
fn every_fault_is_one_finding_naming_the_account_and_others_are_unaffected() {
    let (_guard, emu) = emulator();
    const NO_ROLE: &str = "888877776666";
    const WRONG_EXTERNAL_ID: &str = "444455556666";
    const FORGED: &str = "999988887777";
    let organization = Organization::set_up(
        emu,
        US,
        &[
            (SPOKE_A, "spoke-a", &[US, EU], Trust::Hub),
            (SPOKE_B, "spoke-b", &[EU], Trust::Hub),
            (NO_ROLE, "no-role", &[EU], Trust::NoRole),
            (
                WRONG_EXTERNAL_ID,
                "stale",
                &[EU],
                Trust::ExternalId("previous-external-id"),
            ),
        ],
    );
    let settings = organization.account_settings(None, &[]);
    let [a, b] = [&organization.spokes[0], &organization.spokes[1]];
    for name in [
        "corebound-demo-a1",
        "corebound-demo-a2",
        "corebound-demo-a3",
    ] {
        a.act(EU, || aws::create_topic(emu, name, &[], &[]));
    }
    let topic_b = b.act(EU, || aws::create_topic(emu, "corebound-demo-b", &[], &[]));
    let mut hub = Hub::start(emu, &organization, &settings);

    let finding = |run: &Run, skip: &str, account: &str, fragments: &[&str]| {
        let summary = run.summary();
        assert_eq!(summary["failures"], 0, "{summary}");
        assert_eq!(summary["needs_person"], 1, "{summary}");
        let record = run.only_record();
        assert_eq!(record["action"], "reported", "{record}");
        assert_eq!(record["detail"]["skip"], skip, "{record}");
        assert_eq!(record["detail"]["account"], account, "{record}");
        let result = record["result"].as_str().unwrap_or_default();
        for fragment in fragments {
            assert!(result.contains(fragment), "{result:?} lacks {fragment:?}");
        }
        assert!(
            run.writes().is_empty(),
            "nothing changes: {:?}",
            run.writes()
        );
    };

    // A spoke without the role: STS refuses, one finding, nothing read.
    let run = hub.run(&create_topic_event(
        NO_ROLE,
        EU,
        "corebound-demo-x",
        &deployer(NO_ROLE),
    ));
    finding(
        &run,
        "account_unreachable",
        NO_ROLE,
        &[
            "cannot act in account 888877776666",
            &spoke_role_arn(NO_ROLE),
            "AccessDenied",
        ],
    );
    assert_eq!(run.operations(), ["AssumeRole"]);

    // A spoke whose role expects another ExternalId.
    let run = hub.run(&create_topic_event(
        WRONG_EXTERNAL_ID,
        EU,
        "corebound-demo-x",
        &deployer(WRONG_EXTERNAL_ID),
    ));
    finding(
        &run,
        "account_unreachable",
        WRONG_EXTERNAL_ID,
        &["cannot act in account 444455556666", "AccessDenied"],
    );

    // A region the account has no key for: a finding, no AWS call at all.
    let run = hub.run(&create_topic_event(
        SPOKE_B,
        US,
        "corebound-demo-b",
        &deployer(SPOKE_B),
    ));
    finding(
        &run,
        "no_settings",
        SPOKE_B,
        &["no kms_key_arn for region us-east-1 of account 555566667777"],
    );
    assert!(run.requests.is_empty(), "{:?}", run.operations());

    // An event forged with an account outside the settings: not authentic, no AWS call.
    let run = hub.run(&create_topic_event(
        FORGED,
        EU,
        "corebound-demo-x",
        &deployer(FORGED),
    ));
    let record = run.only_record();
    assert_eq!(record["detail"]["skip"], "not_authentic", "{record}");
    assert!(
        record["result"].as_str().unwrap_or_default().contains(
            "account 999988887777 is outside the organization's settings (ACCOUNT_SETTINGS)"
        ),
        "{record}"
    );
    assert!(run.requests.is_empty(), "{:?}", run.operations());

    // A spoke role lacking one action: that write fails (the event fails, to be retried and
    // dead-lettered), the other rule is still applied, and the failure names the account.
    emu.post(
        "/_corebound/iam/deny",
        &json!({"role_arn": spoke_role_arn(SPOKE_B), "action": "sns:TagResource"}),
    );
    let run = hub.run(&create_topic_event(
        SPOKE_B,
        EU,
        "corebound-demo-b",
        &deployer(SPOKE_B),
    ));
    let InvocationResult::Error(error) = &run.result else {
        panic!("expected the event to fail: {:?}", run.result);
    };
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("in account 555566667777 (eu-west-1): tagging")
            && message.contains("AuthorizationError"),
        "{message}"
    );
    let attributes = b.act(EU, || aws::topic_attributes(emu, &topic_b));
    assert_eq!(attributes.get("KmsMasterKeyId"), Some(&b.keys[EU]));

    // Other accounts are unaffected: spoke A is fixed as usual.
    let run = hub.run(&create_topic_event(
        SPOKE_A,
        EU,
        "corebound-demo-a1",
        &deployer(SPOKE_A),
    ));
    assert_eq!(run.summary()["writes"], 2);
    assert_eq!(run.assume_roles(), 1);

    // Its session expires mid-burst: the refused call makes the hub assume the role again, once.
    emu.post("/_corebound/sts/expire", &json!({"account": SPOKE_A}));
    let run = hub.run(&create_topic_event(
        SPOKE_A,
        EU,
        "corebound-demo-a2",
        &deployer(SPOKE_A),
    ));
    assert_eq!(run.summary()["writes"], 2, "{:?}", run.operations());
    assert_eq!(run.assume_roles(), 1, "{:?}", run.operations());
    assert!(hub.process.output().contains("assuming the role again"));
    let tags = a.act(EU, || {
        aws::topic_tags(
            emu,
            &format!("arn:aws:sns:{EU}:{SPOKE_A}:corebound-demo-a2"),
        )
    });
    assert_eq!(tags, tags_of("spoke-a"));

    // Revoked: the session expires and the spoke's trust no longer admits the hub. One
    // finding; the hub keeps serving the others.
    a.act(US, || {
        corebound_tests::aws_calls::query(
            emu,
            "iam",
            "UpdateAssumeRolePolicy",
            &[
                ("RoleName", SPOKE_ROLE_NAME),
                (
                    "PolicyDocument",
                    &corebound_tests::organization::spoke_trust("rotated-elsewhere").to_string(),
                ),
            ],
        )
        .unwrap()
    });
    emu.post("/_corebound/sts/expire", &json!({"account": SPOKE_A}));
    let run = hub.run(&create_topic_event(
        SPOKE_A,
        EU,
        "corebound-demo-a3",
        &deployer(SPOKE_A),
    ));
    finding(
        &run,
        "account_unreachable",
        SPOKE_A,
        &["cannot act in account 222233334444", "AccessDenied"],
    );
    let tags = a.act(EU, || {
        aws::topic_tags(
            emu,
            &format!("arn:aws:sns:{EU}:{SPOKE_A}:corebound-demo-a3"),
        )
    });
    assert!(
        tags.is_empty(),
        "nothing written after the revocation: {tags:?}"
    );
}

#[test]
fn invalid_account_settings_stop_the_function_naming_the_account_and_field() {
    let (_guard, emu) = emulator();
    let organization = two_spokes(emu);
    let settings = organization.account_settings(
        None,
        &[(
            "333344445555",
            json!({"tags": tags_of("x"),
                   "kms_key_arn": {"eu-west-1": "arn:aws:kms:eu-west-1:111111111111:key/k"}}),
        )],
    );
    let env = organization.hub_env(emu, &settings);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut process = LambdaProcess::start(binary_path("remediator"), &env);
    let result = process.invoke(&json!({}), WAIT);
    let InvocationResult::Error(error) = result else {
        panic!("expected an init error: {result:?}");
    };
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert_eq!(
        message,
        "invalid ACCOUNT_SETTINGS at 333344445555.kms_key_arn.eu-west-1: the key is in account \
         111111111111, not 333344445555"
    );
}

#[test]
fn account_settings_can_come_from_an_ssm_parameter() {
    let (_guard, emu) = emulator();
    let organization = two_spokes(emu);
    let settings = organization.account_settings(None, &[]);
    corebound_tests::aws_calls::as_caller(&organization.hub_session.access_key, US, || {
        corebound_tests::aws_calls::json(
            emu,
            "ssm",
            "AmazonSSM.PutParameter",
            &json!({"Name": "/corebound/account-settings", "Type": "String", "Value": settings}),
        )
        .unwrap()
    });
    let a = &organization.spokes[0];
    a.act(EU, || {
        aws::create_topic(emu, "corebound-demo-ssm", &[], &[])
    });
    let mut hub = Hub::start(emu, &organization, "ssm:/corebound/account-settings");
    let run = hub.run(&create_topic_event(
        SPOKE_A,
        EU,
        "corebound-demo-ssm",
        &deployer(SPOKE_A),
    ));
    assert_eq!(run.summary()["writes"], 2);
    let tags = a.act(EU, || {
        aws::topic_tags(
            emu,
            &format!("arn:aws:sns:{EU}:{SPOKE_A}:corebound-demo-ssm"),
        )
    });
    assert_eq!(tags, tags_of("spoke-a"));
}
