//! CloudFormation / SAM template model for the preflight rules.
//!
//! [`Template::parse`] reads JSON or YAML. Short-form intrinsics are turned into their long
//! form ([`yaml`]) and kept as opaque values in the properties; [`Template::resolve`] says
//! what a property value is when that can be known (a literal, a parameter's default or
//! `--parameter` override, a `Fn::Sub` over known parameters, a resource of this template)
//! and otherwise [`Resolved::Unknown`], so a rule answers "cannot tell" instead of guessing.
//!
//! Every mapping key's line is kept, so a finding can point at the property it is about.

mod resolve;
mod yaml;

use std::collections::BTreeMap;

use serde_json::Value;

pub use resolve::Resolved;

/// The SAM transform: resources of type `AWS::Serverless::*` and the `Globals` section.
pub const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// A template that cannot be read at all (not a rule finding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Neither JSON nor YAML: the parser's message with its position.
    #[error("not a JSON or YAML template: {0}")]
    Syntax(String),
    /// Parsed, but not a template (no `Resources` mapping, a resource without `Type`...).
    #[error("not a CloudFormation template: {0}")]
    Shape(String),
}

/// One resource of the template, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    pub resource_type: String,
    /// `Properties` as written (long-form intrinsics), `{}` when absent.
    pub properties: Value,
    /// Line of the logical id, when the template was YAML or JSON text with positions.
    pub line: Option<usize>,
    /// The resource's `Condition`, if any.
    pub condition: Option<String>,
}

/// A declared parameter.
#[derive(Debug, Clone, Default)]
struct Parameter {
    /// `CommaDelimitedList` or `List<...>`: a `Ref` to it is a list.
    list: bool,
    value: Option<Value>,
}

/// A parsed template plus what the deployment supplies (parameter values, stack tags).
#[derive(Debug, Clone, Default)]
pub struct Template {
    resources: Vec<Resource>,
    /// Parameter name → its `Default` (or the `--parameter` override), when known.
    parameters: BTreeMap<String, Parameter>,
    /// SAM `Globals`, `Null` when absent.
    globals: Value,
    transforms: Vec<String>,
    /// `Conditions`, by name.
    conditions: serde_json::Map<String, Value>,
    /// JSON pointer → 1-based line of the key.
    lines: BTreeMap<String, usize>,
    stack_tags: BTreeMap<String, String>,
}

impl Template {
    /// Parse a JSON or YAML template.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let decoded = match yaml::decode(text) {
            Ok(decoded) => decoded,
            // JSON the YAML parser refuses (tab indentation, for example) is still JSON.
            Err(yaml_error) => match serde_json::from_str::<Value>(text) {
                Ok(value) => yaml::Decoded {
                    value,
                    lines: BTreeMap::new(),
                },
                Err(_) => return Err(TemplateError::Syntax(yaml_error)),
            },
        };
        Self::from_value_with_lines(decoded.value, decoded.lines)
    }

    /// A template already decoded (a hook's STACK payload, for example): no line numbers.
    pub fn from_value(value: Value) -> Result<Template, TemplateError> {
        Self::from_value_with_lines(value, BTreeMap::new())
    }

    fn from_value_with_lines(
        value: Value,
        lines: BTreeMap<String, usize>,
    ) -> Result<Template, TemplateError> {
        let Value::Object(mut root) = value else {
            return Err(TemplateError::Shape(
                "the document is not a mapping".to_string(),
            ));
        };
        let Some(Value::Object(resources)) = root.remove("Resources") else {
            return Err(TemplateError::Shape(
                "no Resources mapping (every template declares at least one resource)".to_string(),
            ));
        };
        let mut list = Vec::with_capacity(resources.len());
        for (logical_id, body) in resources {
            let resource_type = body
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TemplateError::Shape(format!("resource {logical_id} has no Type string"))
                })?
                .to_string();
            let properties = match body.get("Properties") {
                None | Some(Value::Null) => Value::Object(Default::default()),
                Some(properties) => properties.clone(),
            };
            let line = lines
                .get(&format!("/Resources/{}", yaml::escape(&logical_id)))
                .copied();
            let condition = body
                .get("Condition")
                .and_then(Value::as_str)
                .map(str::to_string);
            list.push(Resource {
                logical_id,
                resource_type,
                properties,
                line,
                condition,
            });
        }
        // serde_json's map is sorted; the report follows the template's order where known.
        list.sort_by_key(|resource| resource.line.unwrap_or(usize::MAX));
        let parameters = match root.get("Parameters") {
            Some(Value::Object(parameters)) => parameters
                .iter()
                .map(|(name, body)| {
                    let list = body
                        .get("Type")
                        .and_then(Value::as_str)
                        .is_some_and(|kind| {
                            kind == "CommaDelimitedList" || kind.starts_with("List<")
                        });
                    let value = body.get("Default").cloned();
                    (name.clone(), Parameter { list, value })
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let transforms = match root.get("Transform") {
            Some(Value::String(name)) => vec![name.clone()],
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Template {
            resources: list,
            parameters,
            globals: root.remove("Globals").unwrap_or(Value::Null),
            conditions: match root.remove("Conditions") {
                Some(Value::Object(conditions)) => conditions,
                _ => Default::default(),
            },
            transforms,
            lines,
            stack_tags: BTreeMap::new(),
        })
    }

    /// Supply a parameter value for this deployment (`--parameter K=V`); it overrides the
    /// parameter's `Default`. A name the template does not declare is returned as an error.
    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<(), String> {
        match self.parameters.get_mut(name) {
            Some(slot) => {
                slot.value = Some(Value::String(value.to_string()));
                Ok(())
            }
            None => Err(format!(
                "parameter {name} is not declared in the template's Parameters"
            )),
        }
    }

    /// Add a stack-level tag (`--tag K=V`, or the stack's tags as the hook reads them).
    pub fn add_stack_tag(&mut self, key: &str, value: &str) {
        self.stack_tags.insert(key.to_string(), value.to_string());
    }

    pub fn stack_tags(&self) -> &BTreeMap<String, String> {
        &self.stack_tags
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|resource| resource.logical_id == logical_id)
    }

    pub fn is_sam(&self) -> bool {
        self.transforms.iter().any(|name| name == SAM_TRANSFORM)
    }

    /// SAM `Globals.<section>.<property>` (`Globals.Function.PermissionsBoundary`).
    pub fn global(&self, section: &str, property: &str) -> Option<&Value> {
        self.globals.get(section)?.get(property)
    }

    /// The line of a JSON pointer, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(line) = self.lines.get(pointer) {
                return Some(*line);
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }

    /// The line of a resource's property (or of the resource when the property is absent).
    pub fn property_line(&self, logical_id: &str, property_path: &[&str]) -> Option<usize> {
        let mut pointer = format!("/Resources/{}/Properties", yaml::escape(logical_id));
        for part in property_path {
            pointer.push('/');
            pointer.push_str(&yaml::escape(part));
        }
        self.line_of(&pointer)
    }

    /// What `value` is, as far as the template and the supplied parameters tell.
    pub fn resolve(&self, value: &Value) -> Resolved {
        resolve::resolve(self, value)
    }

    /// Whether the resource is created: `Some(false)` when its `Condition` is false for the
    /// known parameter values, `None` when that depends on values known only at deployment.
    pub fn is_created(&self, resource: &Resource) -> Option<bool> {
        match &resource.condition {
            None => Some(true),
            Some(name) => resolve::evaluate_condition(self, &Value::String(name.clone()), 0),
        }
    }

    /// `None`: not declared; `Some((is_list, value))`.
    pub(crate) fn parameter_value(&self, name: &str) -> Option<(bool, Option<&Value>)> {
        self.parameters
            .get(name)
            .map(|parameter| (parameter.list, parameter.value.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAM: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Prefix:
    Type: String
    Default: LPMA_
  KeyArn:
    Type: String
Globals:
  Function:
    PermissionsBoundary: !Sub arn:aws:iam::${AWS::AccountId}:policy/Boundary
Resources:
  Zeta:
    Type: AWS::SNS::Topic
    Properties:
      KmsMasterKeyId: !Ref Key
  Key:
    Type: AWS::KMS::Key
  Alpha:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${Prefix}App_Role'
";

    #[test]
    fn parses_resources_in_template_order_with_lines() {
        let template = Template::parse(SAM).unwrap();
        let ids: Vec<_> = template
            .resources()
            .iter()
            .map(|resource| (resource.logical_id.as_str(), resource.line))
            .collect();
        assert_eq!(
            ids,
            [("Zeta", Some(13)), ("Key", Some(17)), ("Alpha", Some(19))]
        );
        assert!(template.is_sam());
        assert_eq!(
            template.property_line("Zeta", &["KmsMasterKeyId"]),
            Some(16)
        );
        assert_eq!(template.property_line("Key", &["KeyPolicy"]), Some(17));
        assert_eq!(
            template.global("Function", "PermissionsBoundary"),
            Some(&json!({"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:policy/Boundary"}))
        );
        assert_eq!(template.resource("Key").unwrap().properties, json!({}));
    }

    #[test]
    fn parameters_can_be_supplied() {
        let mut template = Template::parse(SAM).unwrap();
        assert!(template.set_parameter("Nope", "x").is_err());
        let key = json!({"Ref": "KeyArn"});
        assert!(matches!(template.resolve(&key), Resolved::Unknown(_)));
        template
            .set_parameter("KeyArn", "arn:aws:kms:eu-west-1:123456789012:key/k")
            .unwrap();
        assert_eq!(
            template.resolve(&key),
            Resolved::Known(json!("arn:aws:kms:eu-west-1:123456789012:key/k"))
        );
    }

    #[test]
    fn what_is_not_a_template_is_an_error() {
        assert!(matches!(
            Template::parse("a: [1"),
            Err(TemplateError::Syntax(_))
        ));
        assert!(matches!(
            Template::parse("- 1\n- 2\n"),
            Err(TemplateError::Shape(_))
        ));
        assert!(matches!(
            Template::parse("Resources:\n  A:\n    Properties: {}\n"),
            Err(TemplateError::Shape(_))
        ));
        // JSON with tab indentation still parses (without lines if YAML refuses it).
        let template =
            Template::parse("{\n\t\"Resources\": {\"A\": {\"Type\": \"AWS::SNS::Topic\"}}\n}")
                .unwrap();
        assert_eq!(template.resources().len(), 1);
    }
}
