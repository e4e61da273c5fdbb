//! A hook request, parsed strictly into a typed value.
//!
//! Shapes: `docs`-level copy in `/work/shared/reference/lambda-hook-contract.md` (§1, §2),
//! from the Lambda Hooks user guide and the CloudFormation CLI plugins' `HookInvocationRequest`.
//! Strict means: every field the hook relies on is present with the documented JSON type,
//! and a value outside the documented set is refused naming the field. Fields the hook does
//! not use are ignored, so a field AWS adds later does not break it.
//!
//! Two documented oddities are accepted: the STACK and CHANGE_SET shapes spell the token
//! `clientRequesttoken` and the stack `stackID` (their examples use the usual spelling), and
//! the CHANGE_SET shape has no `actionInvocationPoint` (only CREATE applies to change sets).

use serde_json::{Map, Value};

use corebound::custom_resource::ResponseUrl;

/// What the hook was asked to check.
#[derive(Debug)]
pub struct HookRequest {
    /// Echoed in the answer (required there).
    pub client_request_token: String,
    pub account: String,
    /// `None` when the caller is Cloud Control API (the field is empty or null then).
    pub stack_id: Option<String>,
    pub action: Action,
    /// 1 on the first call; CloudFormation calls again after IN_PROGRESS (at most 3 times).
    pub invocation: u32,
    pub target: Target,
}

impl HookRequest {
    /// Cloud Control API operations have no stack, and a shorter message limit.
    pub fn is_cloud_control(&self) -> bool {
        self.stack_id.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
        }
    }
}

#[derive(Debug)]
pub enum Target {
    /// One resource (RESOURCE and CLOUD_CONTROL targets).
    Resource(ResourceTarget),
    /// The whole template, behind a presigned S3 URL (STACK target).
    Stack {
        stack_name: String,
        payload: ResponseUrl,
    },
    /// A change set's template, behind a presigned S3 URL (CHANGE_SET target).
    ChangeSet { payload: ResponseUrl },
}

#[derive(Debug)]
pub struct ResourceTarget {
    pub resource_type: String,
    pub logical_id: String,
    /// `targetModel.resourceProperties` (an object; `{}` when absent or null).
    pub properties: Value,
    /// A RESOURCE request may carry its model behind a URL instead (the wire format allows
    /// `payload` on any target; the CLI plugins fetch it when `targetModel` is empty).
    pub payload: Option<ResponseUrl>,
}

/// A request that could not be parsed, with what could still be read for the answer.
#[derive(Debug)]
pub struct Malformed {
    pub client_request_token: Option<String>,
    pub cloud_control: bool,
    pub problem: String,
}

/// Parse the raw invocation body.
pub fn parse(raw: &[u8]) -> Result<HookRequest, Malformed> {
    let value: Value = match serde_json::from_slice(raw) {
        Ok(value) => value,
        Err(error) => {
            return Err(Malformed {
                client_request_token: scan_token(raw),
                cloud_control: false,
                problem: format!("the request is not valid JSON ({error})"),
            })
        }
    };
    let Value::Object(top) = value else {
        return Err(Malformed {
            client_request_token: None,
            cloud_control: false,
            problem: "the request is not a JSON object".to_string(),
        });
    };
    let token = top
        .get("clientRequestToken")
        .or_else(|| top.get("clientRequesttoken"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let stack_field = top.get("stackId").or_else(|| top.get("stackID"));
    let cloud_control = matches!(stack_field, None | Some(Value::Null))
        || stack_field.and_then(Value::as_str) == Some("");
    let malformed = |problem: String| Malformed {
        client_request_token: token.clone(),
        cloud_control,
        problem,
    };
    let Some(client_request_token) = token.clone() else {
        return Err(malformed(
            "clientRequestToken is missing or not a non-empty string".to_string(),
        ));
    };
    let account = string(&top, "awsAccountId").map_err(malformed)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            "awsAccountId is not a 12-digit account id".to_string(),
        ));
    }
    let stack_id = match stack_field {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("stackId is not a string".to_string())),
    };
    let Some(Value::Object(data)) = top.get("requestData") else {
        return Err(malformed(
            "requestData is missing or not an object".to_string(),
        ));
    };
    let target_name = string(data, "targetName").map_err(malformed)?;
    let target_type = string(data, "targetType").map_err(malformed)?;
    let logical_id = string(data, "targetLogicalId").map_err(malformed)?;
    let payload = match data.get("payload") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(ResponseUrl::new(s.clone())),
        Some(_) => return Err(malformed("requestData.payload is not a string".to_string())),
    };
    let is_change_set = target_type == "CHANGE_SET";
    let action = match top.get("actionInvocationPoint") {
        Some(Value::String(point)) => match point.as_str() {
            "CREATE_PRE_PROVISION" => Action::Create,
            "UPDATE_PRE_PROVISION" => Action::Update,
            "DELETE_PRE_PROVISION" => Action::Delete,
            _ => {
                return Err(malformed(format!(
                    "actionInvocationPoint {:?} is not CREATE_PRE_PROVISION, UPDATE_PRE_PROVISION or DELETE_PRE_PROVISION",
                    excerpt(point)
                )))
            }
        },
        None | Some(Value::Null) if is_change_set => Action::Create,
        _ => {
            return Err(malformed(
                "actionInvocationPoint is missing or not a string".to_string(),
            ))
        }
    };
    let invocation = match top.get("requestContext") {
        None | Some(Value::Null) => 1,
        Some(Value::Object(context)) => match context.get("invocation") {
            None | Some(Value::Null) => 1,
            Some(value) => value
                .as_u64()
                .filter(|n| (1..=100).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    malformed("requestContext.invocation is not a positive integer".to_string())
                })?,
        },
        Some(_) => return Err(malformed("requestContext is not an object".to_string())),
    };
    let target = match target_type.as_str() {
        "STACK" | "CHANGE_SET" => {
            let Some(payload) = payload else {
                return Err(malformed(format!(
                    "requestData.payload (the presigned URL of the {target_type} template) is missing"
                )));
            };
            if is_change_set {
                Target::ChangeSet { payload }
            } else {
                Target::Stack {
                    stack_name: logical_id,
                    payload,
                }
            }
        }
        _ => {
            // RESOURCE: targetType is the resource type; for Cloud Control it is "RESOURCE"
            // and targetName holds the type.
            let resource_type = if target_type == "RESOURCE" {
                target_name
            } else {
                target_type
            };
            if !is_resource_type(&resource_type) {
                return Err(malformed(format!(
                    "requestData.targetName/targetType {:?} is not a resource type (Service::Provider::Resource)",
                    excerpt(&resource_type)
                )));
            }
            let properties = match data.get("targetModel") {
                None | Some(Value::Null) => None,
                Some(Value::Object(model)) => match model.get("resourceProperties") {
                    None | Some(Value::Null) => Some(Value::Object(Map::new())),
                    Some(Value::Object(p)) => Some(Value::Object(p.clone())),
                    Some(_) => {
                        return Err(malformed(
                            "requestData.targetModel.resourceProperties is not an object"
                                .to_string(),
                        ))
                    }
                },
                Some(_) => {
                    return Err(malformed(
                        "requestData.targetModel is not an object".to_string(),
                    ))
                }
            };
            Target::Resource(ResourceTarget {
                resource_type,
                logical_id,
                properties: properties.clone().unwrap_or(Value::Object(Map::new())),
                // The URL is used only when the model itself is absent.
                payload: if properties.is_none() { payload } else { None },
            })
        }
    };
    Ok(HookRequest {
        client_request_token,
        account,
        stack_id,
        action,
        invocation,
        target,
    })
}

fn string(object: &Map<String, Value>, field: &str) -> Result<String, String> {
    match object.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("{field} is empty")),
        Some(_) => Err(format!("{field} is not a string")),
        None => Err(format!("{field} is missing")),
    }
}

/// `AWS::S3::Bucket`, `Custom::Thing`-style types are not sent to hooks; three `::`-separated
/// alphanumeric parts (the registry's type-name form).
fn is_resource_type(text: &str) -> bool {
    let parts: Vec<&str> = text.split("::").collect();
    parts.len() == 3
        && text.len() <= 204
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// At most 64 characters of a value, for messages.
fn excerpt(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The token of a request that is not valid JSON (truncated, too deep), read with a plain
/// scan so the answer can still echo it: the first `"clientRequestToken": "<simple string>"`.
fn scan_token(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    for key in ["\"clientRequestToken\"", "\"clientRequesttoken\""] {
        if let Some(at) = text.find(key) {
            let rest = text[at + key.len()..].trim_start().strip_prefix(':')?;
            let rest = rest.trim_start().strip_prefix('"')?;
            let end = rest.find('"')?;
            let token = &rest[..end];
            if !token.is_empty()
                && token.len() <= 256
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            {
                return Some(token.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource_request() -> Value {
        json!({
            "clientRequestToken": "tok-1",
            "awsAccountId": "123456789012",
            "stackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/abc",
            "changeSetId": null,
            "hookTypeName": "Corebound::Preflight::Hook",
            "hookTypeVersion": "00000001",
            "hookModel": {"LambdaFunction": "arn:aws:lambda:us-east-1:123456789012:function:f"},
            "actionInvocationPoint": "CREATE_PRE_PROVISION",
            "requestData": {
                "targetName": "AWS::SNS::Topic",
                "targetType": "AWS::SNS::Topic",
                "targetLogicalId": "Topic",
                "targetModel": {"resourceProperties": {"TopicName": "t"}, "previousResourceProperties": null}
            },
            "requestContext": {"invocation": 1, "callbackContext": null}
        })
    }

    fn parse_value(value: &Value) -> Result<HookRequest, Malformed> {
        parse(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn a_resource_request() {
        let request = parse_value(&resource_request()).unwrap();
        assert_eq!(request.client_request_token, "tok-1");
        assert_eq!(request.action, Action::Create);
        assert!(!request.is_cloud_control());
        let Target::Resource(target) = request.target else {
            panic!("not a resource")
        };
        assert_eq!(target.resource_type, "AWS::SNS::Topic");
        assert_eq!(target.logical_id, "Topic");
        assert_eq!(target.properties, json!({"TopicName": "t"}));
        assert!(target.payload.is_none());
    }

    #[test]
    fn cloud_control_has_an_empty_stack_id_and_resource_target_type() {
        let mut value = resource_request();
        value["stackId"] = json!("");
        value["requestData"]["targetType"] = json!("RESOURCE");
        let request = parse_value(&value).unwrap();
        assert!(request.is_cloud_control());
        let Target::Resource(target) = request.target else {
            panic!("not a resource")
        };
        assert_eq!(target.resource_type, "AWS::SNS::Topic");
    }

    #[test]
    fn stack_and_change_set_requests_carry_a_payload_url() {
        let mut value = resource_request();
        value["requestData"] = json!({
            "targetName": "STACK", "targetType": "STACK", "targetLogicalId": "app",
            "payload": "https://bucket.s3.us-east-1.amazonaws.com/p?X-Amz-Signature=s"
        });
        value["clientRequesttoken"] = value["clientRequestToken"].take();
        value.as_object_mut().unwrap().remove("clientRequestToken");
        let request = parse_value(&value).unwrap();
        assert_eq!(request.client_request_token, "tok-1");
        assert!(
            matches!(request.target, Target::Stack { ref stack_name, .. } if stack_name == "app")
        );

        value["requestData"]["targetType"] = json!("CHANGE_SET");
        value
            .as_object_mut()
            .unwrap()
            .remove("actionInvocationPoint");
        let request = parse_value(&value).unwrap();
        assert_eq!(request.action, Action::Create);
        assert!(matches!(request.target, Target::ChangeSet { .. }));

        value["requestData"]
            .as_object_mut()
            .unwrap()
            .remove("payload");
        let problem = parse_value(&value).unwrap_err();
        assert!(problem.problem.contains("payload"), "{}", problem.problem);
    }

    /// A change to a valid request, and the field the refusal must name.
    type Case = (fn(&mut Value), &'static str);

    #[test]
    fn malformed_requests_name_the_field_and_keep_the_token() {
        let cases: Vec<Case> = vec![
            (|v| v["awsAccountId"] = json!("12345"), "awsAccountId"),
            (
                |v| v["actionInvocationPoint"] = json!("CREATE"),
                "actionInvocationPoint",
            ),
            (|v| v["requestData"] = json!("x"), "requestData"),
            (|v| v["requestData"]["targetType"] = json!(5), "targetType"),
            (
                |v| v["requestData"]["targetModel"]["resourceProperties"] = json!([1]),
                "resourceProperties",
            ),
            (
                |v| v["requestData"]["targetType"] = json!("NOT_A_TYPE"),
                "resource type",
            ),
            (
                |v| v["requestContext"]["invocation"] = json!(-1),
                "invocation",
            ),
            (|v| v["stackId"] = json!(7), "stackId"),
        ];
        for (change, field) in cases {
            let mut value = resource_request();
            change(&mut value);
            let problem = parse_value(&value).unwrap_err();
            assert!(
                problem.problem.contains(field),
                "{field}: {}",
                problem.problem
            );
            assert_eq!(problem.client_request_token.as_deref(), Some("tok-1"));
        }
        let mut value = resource_request();
        value.as_object_mut().unwrap().remove("clientRequestToken");
        let problem = parse_value(&value).unwrap_err();
        assert!(problem.client_request_token.is_none());
    }

    #[test]
    fn a_token_is_recovered_from_text_that_is_not_json() {
        let deep = format!(
            "{{\"clientRequestToken\": \"tok-9\", \"x\": {}{}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let problem = parse(deep.as_bytes()).unwrap_err();
        assert_eq!(problem.client_request_token.as_deref(), Some("tok-9"));
        assert!(problem.problem.contains("not valid JSON"));
        assert!(parse(b"\xff\xfe")
            .unwrap_err()
            .client_request_token
            .is_none());
        let odd = br#"{"clientRequestToken": "a\"b"}"#;
        assert!(parse(&odd[..odd.len() - 1])
            .unwrap_err()
            .client_request_token
            .is_none());
    }

    #[test]
    fn null_models_are_empty_and_a_missing_model_uses_the_payload() {
        let mut value = resource_request();
        value["requestData"]["targetModel"]["resourceProperties"] = Value::Null;
        let Target::Resource(target) = parse_value(&value).unwrap().target else {
            panic!()
        };
        assert_eq!(target.properties, json!({}));

        let mut value = resource_request();
        value["requestData"]["targetModel"] = Value::Null;
        value["requestData"]["payload"] = json!("https://b.s3.amazonaws.com/m");
        let Target::Resource(target) = parse_value(&value).unwrap().target else {
            panic!()
        };
        assert!(target.payload.is_some());
    }
}
