//! The body CloudFormation expects at the ResponseURL, kept within its size limit.

use std::collections::BTreeMap;

use serde::Serialize;

/// CloudFormation rejects a response body larger than this ("Response object is too long").
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// Prefix of the PhysicalResourceId answered for a Create that failed. A later Delete that
/// carries it (the rollback of that Create) is answered SUCCESS without touching AWS: a failed
/// Create has already undone its own writes, so there is nothing to delete, and the stack
/// never ends in ROLLBACK_FAILED.
pub const FAILED_CREATE_PREFIX: &str = "corebound-failed-create:";

/// The PhysicalResourceId of a Create that failed.
pub fn failed_create_id(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{request_id}")
}

/// Whether a PhysicalResourceId marks a Create that failed.
pub fn is_failed_create_id(physical_resource_id: &str) -> bool {
    physical_resource_id.starts_with(FAILED_CREATE_PREFIX)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

/// One answer to one request.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

impl Response {
    /// Serialize within [`MAX_RESPONSE_BYTES`].
    ///
    /// A Reason that does not fit is cut (keeping its start, where the rule is named). A
    /// SUCCESS whose `Data` does not fit is turned into FAILED, saying so: silently dropping
    /// return values would break `Fn::GetAtt` in a way that is much harder to diagnose.
    pub fn into_body(mut self) -> Vec<u8> {
        if self.status == Status::Success {
            let body = to_json(&self);
            if body.len() <= MAX_RESPONSE_BYTES {
                return body;
            }
            self.reason = Some(format!(
                "the resource's return values (Data) serialize to {} bytes, more than the {} bytes CloudFormation accepts in a response; this is a corebound bug, please report it",
                body.len(),
                MAX_RESPONSE_BYTES
            ));
            self.status = Status::Failed;
            self.data.clear();
        }
        self.data.clear();
        self.fit_reason()
    }

    fn fit_reason(mut self) -> Vec<u8> {
        let body = to_json(&self);
        let Some(reason) = self.reason.take() else {
            return body;
        };
        if body.len() <= MAX_RESPONSE_BYTES {
            self.reason = Some(reason);
            return body;
        }
        // JSON escaping makes the serialized length of a prefix hard to predict, so search
        // for the longest prefix (at a character boundary) that fits with an ellipsis.
        let boundaries: Vec<usize> = reason.char_indices().map(|(i, _)| i).collect();
        let (mut fits, mut too_long) = (0usize, boundaries.len());
        while fits + 1 < too_long {
            let mid = (fits + too_long) / 2;
            self.reason = Some(format!("{}…", &reason[..boundaries[mid]]));
            if to_json(&self).len() <= MAX_RESPONSE_BYTES {
                fits = mid;
            } else {
                too_long = mid;
            }
        }
        self.reason = Some(format!("{}…", &reason[..boundaries[fits]]));
        to_json(&self)
    }
}

/// The size of the SUCCESS body for `outcome` answering `request`.
pub(crate) fn success_body_len(request: &super::Request, outcome: &super::Outcome) -> usize {
    to_json(&Response {
        status: Status::Success,
        reason: None,
        physical_resource_id: outcome.physical_resource_id.clone(),
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: outcome.no_echo,
        data: outcome.data.clone(),
    })
    .len()
}

fn to_json(response: &Response) -> Vec<u8> {
    serde_json::to_vec(response).expect("a Response always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: Status) -> Response {
        Response {
            status,
            reason: None,
            physical_resource_id: "pid".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "req".into(),
            logical_resource_id: "Res".into(),
            no_echo: false,
            data: BTreeMap::new(),
        }
    }

    #[test]
    fn success_body_has_the_fields_cloudformation_reads() {
        let mut r = response(Status::Success);
        r.data.insert("Arn".into(), "x".into());
        let body: serde_json::Value = serde_json::from_slice(&r.into_body()).unwrap();
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["PhysicalResourceId"], "pid");
        assert_eq!(body["Data"]["Arn"], "x");
        assert!(body.get("Reason").is_none(), "no null Reason");
        assert!(body.get("NoEcho").is_none());
    }

    #[test]
    fn no_echo_is_sent_when_set() {
        let mut r = response(Status::Success);
        r.no_echo = true;
        let body: serde_json::Value = serde_json::from_slice(&r.into_body()).unwrap();
        assert_eq!(body["NoEcho"], true);
    }

    #[test]
    fn long_reason_is_cut_to_fit() {
        let mut r = response(Status::Failed);
        r.reason = Some(format!("property X: {}", "é\"".repeat(5000)));
        let body = r.into_body();
        assert!(body.len() <= MAX_RESPONSE_BYTES, "{}", body.len());
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let reason = body["Reason"].as_str().unwrap();
        assert!(
            reason.starts_with("property X: ") && reason.ends_with('…'),
            "{reason:?}"
        );
    }

    #[test]
    fn oversized_data_turns_success_into_a_clear_failure() {
        let mut r = response(Status::Success);
        r.data.insert("Big".into(), "x".repeat(5000));
        let body = r.into_body();
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["Status"], "FAILED");
        assert!(body["Reason"].as_str().unwrap().contains("4096 bytes"));
        assert!(body.get("Data").is_none());
    }

    #[test]
    fn the_response_size_is_predicted_exactly() {
        use super::super::{Outcome, Properties, Request, RequestType};
        let request = Request {
            request_type: RequestType::Create,
            request_id: "req".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            logical_resource_id: "Res".into(),
            resource_type: "Custom::T".into(),
            physical_resource_id: None,
            properties: Properties::default(),
            old_properties: None,
            deadline: None,
        };
        for n in [0usize, 10, 3900, 3950, 4000, 5000] {
            let outcome = Outcome::new("pid").with("Blob", "é\"".repeat(n / 3));
            let mut r = response(Status::Success);
            r.data = outcome.data.clone();
            let actual = to_json(&r).len();
            assert_eq!(request.success_response_len(&outcome), actual);
            assert_eq!(
                request.check_response_fits(&outcome).is_ok(),
                actual <= MAX_RESPONSE_BYTES
            );
            // What is predicted to fit is answered SUCCESS, what is not is not.
            let body: serde_json::Value = serde_json::from_slice(&r.into_body()).unwrap();
            assert_eq!(body["Status"] == "SUCCESS", actual <= MAX_RESPONSE_BYTES);
        }
        let e = request
            .check_response_fits(&Outcome::new("pid").with("Blob", "x".repeat(5000)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("4096 bytes") && e.contains("nothing was changed"),
            "{e}"
        );
    }

    #[test]
    fn failed_create_marker_round_trips() {
        let id = failed_create_id("abc");
        assert!(is_failed_create_id(&id));
        assert!(!is_failed_create_id("LPMA_App_Role/policy"));
    }
}
