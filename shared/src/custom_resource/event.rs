//! From the raw bytes of an invocation to a CloudFormation request.
//!
//! The protocol takes the event as bytes (see `runtime.rs`) instead of letting
//! `lambda_runtime` deserialize it, because a request the runtime library cannot parse
//! (JSON nested deeper than serde_json's limit of 128, invalid UTF-8, a field of the wrong
//! JSON type) would otherwise never reach our code and never be answered: the stack would
//! wait for its timeout, and the rollback Delete would fail the same way.
//!
//! Parsing is two-pass:
//! 1. strict: valid UTF-8, JSON within the depth limit, every field CloudFormation sends
//!    with the type it documents. The result is a [`Request`].
//! 2. lenient, only when the strict pass fails: the top-level string fields that say where
//!    and how to answer ([`Envelope`]), read with invalid UTF-8 replaced and with every other
//!    value skipped by serde's `IgnoredAny`, which serde_json skips iteratively (no depth
//!    limit, no recursion). The request is then answered FAILED with a Reason naming what
//!    the strict pass found.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Properties, Request, RequestType, ResponseUrl};

/// What identifies a request and where to answer it: enough to answer FAILED even when the
/// rest of the request cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub response_url: ResponseUrl,
    /// Empty when the event has none (it is then answered, but CloudFormation will not
    /// recognise the answer).
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    /// As received (may be anything when the request is malformed).
    pub request_type: String,
    pub physical_resource_id: Option<String>,
}

/// One invocation's event, classified.
#[derive(Debug)]
pub enum Incoming {
    /// No ResponseURL can be found: nobody can be answered.
    NotCustomResource(String),
    /// Where to answer is known, but the request is malformed: answer FAILED with `problem`.
    Malformed { envelope: Envelope, problem: String },
    /// A well-formed request.
    Request {
        envelope: Envelope,
        request: Box<Request>,
    },
}

/// Classify the raw bytes of one invocation. Never panics, whatever the bytes.
pub fn parse_event(bytes: &[u8]) -> Incoming {
    match strict(bytes) {
        Ok((envelope, request)) => Incoming::Request {
            envelope,
            request: Box::new(request),
        },
        Err(problem) => match lenient_envelope(bytes) {
            Some(envelope) => Incoming::Malformed { envelope, problem },
            None => Incoming::NotCustomResource(problem),
        },
    }
}

fn strict(bytes: &[u8]) -> Result<(Envelope, Request), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the event is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            format!(
                "the event nests JSON deeper than 128 levels (line {}, column {}); no property of a corebound resource needs that",
                e.line(),
                e.column()
            )
        } else {
            format!("the event is not valid JSON: {e}")
        }
    })?;
    let Value::Object(event) = value else {
        return Err("the event is not a JSON object".to_string());
    };
    let response_url = string_field(&event, "ResponseURL")?.ok_or(
        "the event has no ResponseURL: it is not a CloudFormation custom-resource request",
    )?;
    let required = |name: &str| {
        string_field(&event, name)?.ok_or_else(|| format!("the request has no {name}"))
    };
    let request_id = required("RequestId")?;
    let request_type_text = required("RequestType")?;
    let stack_id = required("StackId")?;
    let logical_resource_id = required("LogicalResourceId")?;
    let resource_type = required("ResourceType")?;
    let request_type = match request_type_text.as_str() {
        "Create" => RequestType::Create,
        "Update" => RequestType::Update,
        "Delete" => RequestType::Delete,
        other => {
            return Err(format!(
                "RequestType {} is not one of Create, Update, Delete",
                super::render_value(&Value::String(other.to_string()))
            ))
        }
    };
    let physical_resource_id = match request_type {
        RequestType::Create => string_field(&event, "PhysicalResourceId")?,
        _ => Some(required("PhysicalResourceId")?),
    };
    let properties = properties_field(&event, "ResourceProperties")?;
    let old_properties = match request_type {
        RequestType::Update => Some(properties_field(&event, "OldResourceProperties")?),
        _ => None,
    };
    let envelope = Envelope {
        response_url: ResponseUrl::new(response_url),
        request_id: request_id.clone(),
        stack_id: stack_id.clone(),
        logical_resource_id: logical_resource_id.clone(),
        request_type: request_type_text,
        physical_resource_id: physical_resource_id.clone(),
    };
    let request = Request {
        request_type,
        request_id,
        stack_id,
        logical_resource_id,
        resource_type,
        physical_resource_id: match request_type {
            RequestType::Create => None,
            _ => physical_resource_id,
        },
        properties,
        old_properties,
        deadline: None,
    };
    Ok((envelope, request))
}

/// A top-level field that CloudFormation sends as a string: `Ok(None)` when absent (or
/// null), an error naming the field when it has another JSON type.
fn string_field(event: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match event.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "field {name} is {}, expected a string",
            json_type(other)
        )),
    }
}

/// `ResourceProperties` / `OldResourceProperties`: a JSON object (absent means empty).
fn properties_field(event: &Map<String, Value>, name: &str) -> Result<Properties, String> {
    match event.get(name) {
        None | Some(Value::Null) => Ok(Properties::default()),
        Some(value @ Value::Object(_)) => Ok(Properties::from_value(value.clone())),
        Some(other) => Err(format!(
            "field {name} is {}, expected a JSON object",
            json_type(other)
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The envelope of an event the strict pass refused, if a ResponseURL can be found.
fn lenient_envelope(bytes: &[u8]) -> Option<Envelope> {
    let text = String::from_utf8_lossy(bytes);
    let fields: LenientFields = serde_json::from_str(&text).ok()?;
    Some(Envelope {
        response_url: ResponseUrl::new(fields.response_url?),
        request_id: fields.request_id.unwrap_or_default(),
        stack_id: fields.stack_id.unwrap_or_default(),
        logical_resource_id: fields.logical_resource_id.unwrap_or_default(),
        request_type: fields.request_type.unwrap_or_default(),
        physical_resource_id: fields.physical_resource_id,
    })
}

/// The top-level string fields of an event; any other value (of any depth) is skipped.
#[derive(Default)]
struct LenientFields {
    response_url: Option<String>,
    request_id: Option<String>,
    stack_id: Option<String>,
    logical_resource_id: Option<String>,
    request_type: Option<String>,
    physical_resource_id: Option<String>,
}

impl<'de> Deserialize<'de> for LenientFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = LenientFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientFields, A::Error> {
                let mut fields = LenientFields::default();
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "ResponseURL" => &mut fields.response_url,
                        "RequestId" => &mut fields.request_id,
                        "StackId" => &mut fields.stack_id,
                        "LogicalResourceId" => &mut fields.logical_resource_id,
                        "RequestType" => &mut fields.request_type,
                        "PhysicalResourceId" => &mut fields.physical_resource_id,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    // Last one wins, as in serde_json::Value.
                    *slot = map.next_value::<LenientString>()?.0;
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A string, or `None` for any other JSON value (skipped without recursion).
struct LenientString(Option<String>);

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringVisitor;
        impl<'de> Visitor<'de> for StringVisitor {
            type Value = LenientString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientString, E> {
                Ok(LenientString(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LenientString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
        }
        deserializer.deserialize_any(StringVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(request_type: &str) -> Value {
        json!({
            "RequestType": request_type, "ServiceToken": "arn", "ResponseURL": "https://b.s3.amazonaws.com/x",
            "StackId": "s", "RequestId": "r", "LogicalResourceId": "L",
            "PhysicalResourceId": "p", "ResourceType": "Custom::T",
            "ResourceProperties": {"ServiceToken": "arn", "A": "1"},
            "OldResourceProperties": {"ServiceToken": "arn", "A": "0"}
        })
    }

    fn parse(value: &Value) -> Incoming {
        parse_event(&serde_json::to_vec(value).unwrap())
    }

    fn problem(incoming: Incoming) -> (Envelope, String) {
        match incoming {
            Incoming::Malformed { envelope, problem } => (envelope, problem),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn requests_parse_into_the_resource_view() {
        let Incoming::Request { envelope, request } = parse(&event("Update")) else {
            panic!()
        };
        assert_eq!(request.request_type, RequestType::Update);
        assert_eq!(request.physical_resource_id.as_deref(), Some("p"));
        assert_eq!(request.properties.get("A"), Some(&json!("1")));
        assert!(!request.properties.contains("ServiceToken"));
        assert_eq!(request.old_properties.unwrap().get("A"), Some(&json!("0")));
        assert_eq!(envelope.request_id, "r");
        assert_eq!(envelope.physical_resource_id.as_deref(), Some("p"));
    }

    #[test]
    fn a_create_has_no_physical_id_and_a_delete_no_old_properties() {
        let Incoming::Request { request, .. } = parse(&event("Create")) else {
            panic!()
        };
        assert_eq!(request.physical_resource_id, None);
        let Incoming::Request { request, .. } = parse(&event("Delete")) else {
            panic!()
        };
        assert!(request.old_properties.is_none());
    }

    #[test]
    fn unknown_request_type_is_malformed_but_the_envelope_still_answers() {
        let (envelope, why) = problem(parse(&event("Rename")));
        assert_eq!(envelope.request_id, "r");
        assert!(why.contains("RequestType \"Rename\""), "{why}");
    }

    #[test]
    fn wrong_json_types_are_named() {
        for (field, value, expected) in [
            (
                "RequestId",
                json!(5),
                "field RequestId is a number, expected a string",
            ),
            (
                "ResourceProperties",
                json!("x"),
                "field ResourceProperties is a string, expected a JSON object",
            ),
            (
                "PhysicalResourceId",
                json!(["p"]),
                "field PhysicalResourceId is an array, expected a string",
            ),
            (
                "StackId",
                json!({"a": 1}),
                "field StackId is an object, expected a string",
            ),
        ] {
            let mut e = event("Delete");
            e[field] = value;
            let (envelope, why) = problem(parse(&e));
            assert_eq!(why, expected);
            assert_eq!(envelope.logical_resource_id, "L");
        }
    }

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn deep_nesting_is_answered_with_the_reason() {
        let text = serde_json::to_string(&event("Create")).unwrap().replacen(
            "\"A\":\"1\"",
            &format!("\"A\":{}", nested(140)),
            1,
        );
        let (envelope, why) = problem(parse_event(text.as_bytes()));
        assert!(why.contains("deeper than 128 levels"), "{why}");
        assert_eq!(envelope.request_id, "r");
        // Very deep too: skipped without recursion.
        let text = serde_json::to_string(&event("Delete")).unwrap().replacen(
            "\"A\":\"1\"",
            &format!("\"A\":{}", nested(200_000)),
            1,
        );
        let (envelope, _) = problem(parse_event(text.as_bytes()));
        assert_eq!(envelope.physical_resource_id.as_deref(), Some("p"));
    }

    #[test]
    fn invalid_utf8_is_answered_with_the_reason() {
        let mut bytes = serde_json::to_vec(&event("Create")).unwrap();
        let at = bytes.windows(3).position(|w| w == b"\"1\"").unwrap() + 1;
        bytes[at] = 0xff;
        let (envelope, why) = problem(parse_event(&bytes));
        assert_eq!(
            why,
            format!("the event is not valid UTF-8 (invalid byte at offset {at})")
        );
        assert_eq!(envelope.request_type, "Create");
    }

    #[test]
    fn without_a_response_url_nobody_can_be_answered() {
        for bytes in [
            &b"{\"hello\": \"world\"}"[..],
            b"not json",
            b"[1,2]",
            b"{\"ResponseURL\": 5}",
            b"",
        ] {
            assert!(
                matches!(parse_event(bytes), Incoming::NotCustomResource(_)),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn duplicate_keys_last_one_wins_in_both_passes() {
        let text = r#"{"ResponseURL":"https://a.s3.amazonaws.com/1","ResponseURL":"https://b.s3.amazonaws.com/2","RequestId":5}"#;
        let (envelope, _) = problem(parse_event(text.as_bytes()));
        assert_eq!(
            envelope.response_url.host().as_deref(),
            Some("b.s3.amazonaws.com")
        );
        assert_eq!(envelope.request_id, "");
    }
}
