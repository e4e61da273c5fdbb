//! What a property value is, when the template and the supplied parameters can tell.
//!
//! Resolved: literals; `Ref` to a parameter with a `Default` or a supplied value; `Ref` /
//! `Fn::GetAtt` to a resource of this template (the rule then looks at that resource);
//! `Fn::Sub`, `Fn::Join`, `Fn::Split` and `Fn::Select` over what is known; `Fn::If` when its condition can be evaluated
//! from known parameters. Pseudo parameters (`AWS::AccountId`, `AWS::Region`...) are known
//! only to exist: a `Fn::Sub` with them is [`Resolved::Partial`], a pattern in which each
//! unknown part is `*` (`LPMA_*-Remediator` still starts with the prefix). Anything else
//! (`Fn::ImportValue`, `Fn::FindInMap`, a parameter without a value...) is
//! [`Resolved::Unknown`] with the reason, and the rule says "cannot tell".

use serde_json::Value;

use super::Template;

/// Pseudo parameters whose value exists at deployment but is not in the template.
const PSEUDO_PARAMETERS: [&str; 7] = [
    "AWS::AccountId",
    "AWS::Region",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A literal (strings, numbers, lists, maps; nested values may still hold intrinsics).
    Known(Value),
    /// `Ref AWS::NoValue`: the property is absent.
    NoValue,
    /// `Ref` (attribute `None`) or `Fn::GetAtt` to a resource of this template.
    Resource {
        logical_id: String,
        attribute: Option<String>,
    },
    /// A string with parts known only at deployment (pseudo parameters), each as `*`.
    Partial(String),
    /// Cannot be known before deployment; the reason names the intrinsic.
    Unknown(String),
}

impl Resolved {
    /// The string, when known.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Resolved::Known(Value::String(text)) => Some(text),
            _ => None,
        }
    }
}

pub(super) fn resolve(template: &Template, value: &Value) -> Resolved {
    let Value::Object(map) = value else {
        return Resolved::Known(value.clone());
    };
    if map.len() != 1 {
        return Resolved::Known(value.clone());
    }
    let (name, argument) = map.iter().next().expect("one entry");
    match name.as_str() {
        "Ref" => resolve_ref(template, argument),
        "Fn::GetAtt" => {
            let (resource, attribute) = match argument {
                Value::Array(parts) if parts.len() == 2 => (parts[0].as_str(), parts[1].as_str()),
                Value::String(text) => match text.split_once('.') {
                    Some((resource, attribute)) => (Some(resource), Some(attribute)),
                    None => (None, None),
                },
                _ => (None, None),
            };
            match (resource, attribute) {
                (Some(resource), Some(attribute)) if template.resource(resource).is_some() => {
                    Resolved::Resource {
                        logical_id: resource.to_string(),
                        attribute: Some(attribute.to_string()),
                    }
                }
                _ => Resolved::Unknown(format!("Fn::GetAtt {argument}")),
            }
        }
        "Fn::Sub" => resolve_sub(template, argument),
        "Fn::Join" => resolve_join(template, argument),
        "Fn::If" => {
            let parts = argument.as_array().map(Vec::as_slice).unwrap_or_default();
            let [Value::String(condition), yes, no] = parts else {
                return Resolved::Unknown("a malformed Fn::If".to_string());
            };
            match evaluate_condition(template, &Value::String(condition.clone()), 0) {
                Some(true) => resolve(template, yes),
                Some(false) => resolve(template, no),
                None => Resolved::Unknown(format!(
                    "Fn::If on condition {condition}, which depends on values known only at deployment"
                )),
            }
        }
        "Fn::Split" => {
            let parts = argument.as_array().map(Vec::as_slice).unwrap_or_default();
            let [Value::String(delimiter), source] = parts else {
                return Resolved::Unknown("a malformed Fn::Split".to_string());
            };
            match resolve(template, source) {
                Resolved::Known(Value::String(text)) if !delimiter.is_empty() => {
                    Resolved::Known(Value::Array(
                        text.split(delimiter.as_str())
                            .map(|part| Value::String(part.to_string()))
                            .collect(),
                    ))
                }
                Resolved::Unknown(reason) => Resolved::Unknown(reason),
                _ => {
                    Resolved::Unknown("a Fn::Split of a value known only at deployment".to_string())
                }
            }
        }
        "Fn::Select" => {
            let parts = argument.as_array().map(Vec::as_slice).unwrap_or_default();
            let [index, list] = parts else {
                return Resolved::Unknown("a malformed Fn::Select".to_string());
            };
            let index = match resolve(template, index) {
                Resolved::Known(Value::Number(number)) => number.as_u64(),
                Resolved::Known(Value::String(text)) => text.parse::<u64>().ok(),
                _ => None,
            };
            match (index, resolve(template, list)) {
                (Some(index), Resolved::Known(Value::Array(items))) => {
                    match usize::try_from(index)
                        .ok()
                        .and_then(|index| items.get(index))
                    {
                        Some(item) => resolve(template, item),
                        None => {
                            Resolved::Unknown("a Fn::Select past the end of its list".to_string())
                        }
                    }
                }
                (_, Resolved::Unknown(reason)) => Resolved::Unknown(reason),
                _ => Resolved::Unknown("a Fn::Select known only at deployment".to_string()),
            }
        }
        other if other.starts_with("Fn::") => {
            Resolved::Unknown(format!("{other}, resolved only at deployment"))
        }
        _ => Resolved::Known(value.clone()),
    }
}

fn resolve_ref(template: &Template, argument: &Value) -> Resolved {
    let Some(name) = argument.as_str() else {
        return Resolved::Unknown(format!("Ref {argument}"));
    };
    if name == "AWS::NoValue" {
        return Resolved::NoValue;
    }
    if PSEUDO_PARAMETERS.contains(&name) {
        return Resolved::Partial("*".to_string());
    }
    match template.parameter_value(name) {
        Some((list, Some(value))) => {
            // CloudFormation parameters are strings: a YAML number default is its text.
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Array(items) if list => {
                    return Resolved::Known(Value::Array(items.clone()));
                }
                other => other.to_string(),
            };
            if list {
                // A list parameter is a comma-separated string; an empty one is an empty list.
                let items = if text.is_empty() {
                    Vec::new()
                } else {
                    text.split(',')
                        .map(|item| Value::String(item.trim().to_string()))
                        .collect()
                };
                Resolved::Known(Value::Array(items))
            } else {
                Resolved::Known(Value::String(text))
            }
        }
        Some((_, None)) => Resolved::Unknown(format!(
            "parameter {name}, which has no Default (supply it with --parameter {name}=VALUE)"
        )),
        None if template.resource(name).is_some() => Resolved::Resource {
            logical_id: name.to_string(),
            attribute: None,
        },
        None => Resolved::Unknown(format!("Ref {name}, which the template does not declare")),
    }
}

/// A string piece of a `Fn::Sub` or `Fn::Join`.
enum Piece {
    Text(String),
    Pattern(String),
}

fn piece(resolved: Resolved) -> Result<Piece, Resolved> {
    match resolved {
        Resolved::Known(Value::String(text)) => Ok(Piece::Text(text)),
        Resolved::Known(Value::Number(number)) => Ok(Piece::Text(number.to_string())),
        Resolved::Known(Value::Bool(flag)) => Ok(Piece::Text(flag.to_string())),
        Resolved::Partial(pattern) => Ok(Piece::Pattern(pattern)),
        Resolved::Resource { logical_id, .. } => Err(Resolved::Unknown(format!(
            "a name or ARN of resource {logical_id}, known only after it is created"
        ))),
        other @ Resolved::Unknown(_) => Err(other),
        _ => Err(Resolved::Unknown(
            "a value that is not a string".to_string(),
        )),
    }
}

fn assemble(pieces: Vec<Piece>) -> Resolved {
    let partial = pieces
        .iter()
        .any(|piece| matches!(piece, Piece::Pattern(_)));
    let text: String = pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) | Piece::Pattern(text) => text,
        })
        .collect();
    if partial {
        Resolved::Partial(text)
    } else {
        Resolved::Known(Value::String(text))
    }
}

fn resolve_sub(template: &Template, argument: &Value) -> Resolved {
    let (text, variables) = match argument {
        Value::String(text) => (text.as_str(), None),
        Value::Array(parts) if parts.len() == 2 => match (&parts[0], &parts[1]) {
            (Value::String(text), Value::Object(variables)) => (text.as_str(), Some(variables)),
            _ => return Resolved::Unknown("a malformed Fn::Sub".to_string()),
        },
        _ => return Resolved::Unknown("a malformed Fn::Sub".to_string()),
    };
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        pieces.push(Piece::Text(before.to_string()));
        let Some(end) = after.find('}') else {
            pieces.push(Piece::Text(after.to_string()));
            rest = "";
            break;
        };
        let name = &after[2..end];
        rest = &after[end + 1..];
        if let Some(literal) = name.strip_prefix('!') {
            // `${!Literal}` is the text `${Literal}`.
            pieces.push(Piece::Text(format!("${{{literal}}}")));
            continue;
        }
        let resolved = match variables.and_then(|variables| variables.get(name)) {
            Some(value) => resolve(template, value),
            None if name.contains('.') => {
                let (resource, attribute) = name.split_once('.').expect("has a dot");
                resolve(
                    template,
                    &serde_json::json!({"Fn::GetAtt": [resource, attribute]}),
                )
            }
            None => resolve_ref(template, &Value::String(name.to_string())),
        };
        match piece(resolved) {
            Ok(piece) => pieces.push(piece),
            Err(unknown) => return unknown,
        }
    }
    pieces.push(Piece::Text(rest.to_string()));
    assemble(pieces)
}

fn resolve_join(template: &Template, argument: &Value) -> Resolved {
    let arguments = argument.as_array().map(Vec::as_slice).unwrap_or_default();
    let [Value::String(delimiter), parts] = arguments else {
        return Resolved::Unknown("a malformed Fn::Join".to_string());
    };
    let parts = match resolve(template, parts) {
        Resolved::Known(Value::Array(parts)) => parts,
        Resolved::Unknown(reason) => return Resolved::Unknown(reason),
        _ => return Resolved::Unknown("a Fn::Join over a value that is not a list".to_string()),
    };
    let mut pieces = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            pieces.push(Piece::Text(delimiter.clone()));
        }
        match piece(resolve(template, part)) {
            Ok(piece) => pieces.push(piece),
            Err(unknown) => return unknown,
        }
    }
    assemble(pieces)
}

/// A condition's value from known parameters; `None` when it depends on anything else.
/// `depth` bounds `Condition` references (a cycle is a template error, not a loop here).
pub(super) fn evaluate_condition(template: &Template, value: &Value, depth: usize) -> Option<bool> {
    if depth > 16 {
        return None;
    }
    match value {
        Value::String(name) => {
            let body = template.conditions.get(name)?;
            evaluate_condition(template, body, depth + 1)
        }
        Value::Bool(flag) => Some(*flag),
        Value::Object(map) if map.len() == 1 => {
            let (name, argument) = map.iter().next().expect("one entry");
            let list = || argument.as_array().map(Vec::as_slice).unwrap_or_default();
            match name.as_str() {
                "Condition" => evaluate_condition(template, argument, depth + 1),
                "Fn::Equals" => match list() {
                    [left, right] => {
                        let left = resolve(template, left);
                        let right = resolve(template, right);
                        match (scalar_text(&left), scalar_text(&right)) {
                            (Some(left), Some(right)) => Some(left == right),
                            _ => None,
                        }
                    }
                    _ => None,
                },
                "Fn::Not" => match list() {
                    [inner] => evaluate_condition(template, inner, depth + 1).map(|flag| !flag),
                    _ => None,
                },
                "Fn::And" => list().iter().try_fold(true, |acc, item| {
                    evaluate_condition(template, item, depth + 1).map(|flag| acc && flag)
                }),
                "Fn::Or" => list().iter().try_fold(false, |acc, item| {
                    evaluate_condition(template, item, depth + 1).map(|flag| acc || flag)
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

fn scalar_text(resolved: &Resolved) -> Option<String> {
    match resolved {
        Resolved::Known(Value::String(text)) => Some(text.clone()),
        Resolved::Known(Value::Number(number)) => Some(number.to_string()),
        Resolved::Known(Value::Bool(flag)) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = "\
Parameters:
  Prefix: {Type: String, Default: LPMA_}
  App: {Type: String, Default: demo}
  Env: {Type: String, Default: prod}
  Open: {Type: String}
  Count: {Type: Number, Default: 3}
  Subnets: {Type: CommaDelimitedList, Default: 'subnet-1, subnet-2'}
  NoSubnets: {Type: 'List<AWS::EC2::Subnet::Id>', Default: ''}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Unknowable: !Equals [!Ref Open, x]
Resources:
  Key: {Type: AWS::KMS::Key}
";

    fn template() -> Template {
        Template::parse(TEMPLATE).unwrap()
    }

    #[test]
    fn resolves_what_the_template_tells() {
        let template = template();
        let known = |text: &str| Resolved::Known(json!(text));
        let cases = [
            (json!("plain"), known("plain")),
            (json!({"Ref": "Prefix"}), known("LPMA_")),
            (json!({"Ref": "Count"}), known("3")),
            (json!({"Ref": "AWS::NoValue"}), Resolved::NoValue),
            (
                json!({"Ref": "Subnets"}),
                Resolved::Known(json!(["subnet-1", "subnet-2"])),
            ),
            (json!({"Ref": "NoSubnets"}), Resolved::Known(json!([]))),
            (json!({"Fn::Join": ["", {"Ref": "NoSubnets"}]}), known("")),
            (
                json!({"Ref": "Key"}),
                Resolved::Resource {
                    logical_id: "Key".into(),
                    attribute: None,
                },
            ),
            (
                json!({"Fn::GetAtt": ["Key", "Arn"]}),
                Resolved::Resource {
                    logical_id: "Key".into(),
                    attribute: Some("Arn".into()),
                },
            ),
            (
                json!({"Fn::Sub": "${Prefix}${App}_Role"}),
                known("LPMA_demo_Role"),
            ),
            (
                json!({"Fn::Sub": ["${P}x-${!Literal}", {"P": {"Ref": "App"}}]}),
                known("demox-${Literal}"),
            ),
            (
                json!({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/sns"}),
                Resolved::Partial("arn:*:kms:*:*:alias/aws/sns".into()),
            ),
            (
                json!({"Fn::Join": ["-", [{"Ref": "Prefix"}, "x"]]}),
                known("LPMA_-x"),
            ),
            (json!({"Fn::If": ["IsProd", "a", "b"]}), known("a")),
            (json!({"Fn::If": ["NotProd", "a", "b"]}), known("b")),
            (
                json!({"Fn::Select": [0, {"Fn::Split": [":", {"Fn::Sub": "${Prefix}:x"}]}]}),
                known("LPMA_"),
            ),
            (
                json!({"Fn::Select": ["1", {"Fn::Split": [",", "a,b"]}]}),
                known("b"),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(template.resolve(&value), expected, "{value}");
        }
    }

    #[test]
    fn what_cannot_be_known_says_why() {
        let template = template();
        let cases = [
            (json!({"Ref": "Open"}), "--parameter Open="),
            (json!({"Ref": "Missing"}), "does not declare"),
            (json!({"Fn::ImportValue": "x"}), "Fn::ImportValue"),
            (json!({"Fn::If": ["Unknowable", "a", "b"]}), "Unknowable"),
            (json!({"Fn::Sub": "${Key.Arn}"}), "resource Key"),
            (json!({"Fn::GetAtt": ["Nope", "Arn"]}), "Fn::GetAtt"),
            (json!({"Fn::Select": [5, ["a"]]}), "past the end"),
            (
                json!({"Fn::Split": [",", {"Ref": "Open"}]}),
                "--parameter Open=",
            ),
        ];
        for (value, reason) in cases {
            match template.resolve(&value) {
                Resolved::Unknown(text) => assert!(text.contains(reason), "{value}: {text}"),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn supplied_parameters_settle_conditions() {
        let mut template = template();
        template.set_parameter("Open", "x").unwrap();
        assert_eq!(
            template.resolve(&json!({"Fn::If": ["Unknowable", "a", "b"]})),
            Resolved::Known(json!("a"))
        );
    }
}
