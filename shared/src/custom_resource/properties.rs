//! Typed access to `ResourceProperties`.
//!
//! CloudFormation sends every scalar as a string (`"true"`, `"300"`), whatever the template
//! author wrote. A resource declares each property it reads through a [`PropertyReader`],
//! which accepts both the native JSON type and its string form, and [`PropertyReader::finish`]
//! rejects anything the resource did not read, so a typo in a template fails loudly instead
//! of being silently ignored.
//!
//! Echoing values: Reasons reach stack events and logs, which more people can read than the
//! template's parameters. An unknown property (often a misspelt one, perhaps holding a
//! secret) is named without its value. A known property's value is shown as a short
//! [`excerpt`], and never when it looks like a dynamic reference (`{{resolve:...}}`).

use serde_json::{Map, Value};

use crate::{Error, Result};

/// Properties CloudFormation puts into every request (or accepts for every custom
/// resource) that are never a property of the resource type: `ServiceToken` (the function
/// ARN) and `ServiceTimeout` (how long CloudFormation waits for an answer, 1-3600 s; it is
/// CloudFormation's own setting and the function has nothing to do with it). They are
/// removed before the resource reads its properties.
pub const IGNORED_PROPERTIES: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// Longest rendering of a received value inside an error message, in characters.
const MAX_VALUE_IN_MESSAGE: usize = 100;

/// What is shown instead of a value that looks like a dynamic reference.
const DYNAMIC_REFERENCE_HIDDEN: &str = "(a dynamic reference, not shown)";

/// The properties of one request, without `ServiceToken`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    values: Map<String, Value>,
}

impl Properties {
    /// Build from the raw `ResourceProperties` value, without the [`IGNORED_PROPERTIES`].
    /// Anything other than an object (CloudFormation always sends one, possibly empty; the
    /// request parser refuses anything else) is treated as having no properties.
    pub fn from_value(value: Value) -> Self {
        let mut values = match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        for ignored in IGNORED_PROPERTIES {
            values.remove(ignored);
        }
        Properties { values }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Start reading the properties of `resource_type` (named in unknown-property errors).
    pub fn reader<'a>(&'a self, resource_type: &'a str) -> PropertyReader<'a> {
        PropertyReader {
            properties: self,
            resource_type,
            read: Vec::new(),
        }
    }
}

/// Reads declared properties and remembers which were declared.
pub struct PropertyReader<'a> {
    properties: &'a Properties,
    resource_type: &'a str,
    read: Vec<&'static str>,
}

impl PropertyReader<'_> {
    fn take(&mut self, name: &'static str) -> Option<&Value> {
        self.read.push(name);
        match self.properties.values.get(name) {
            // An explicit null is how some tools spell "not given".
            Some(Value::Null) | None => None,
            Some(value) => Some(value),
        }
    }

    /// An optional string. Numbers and booleans are accepted in their string form.
    pub fn string(&mut self, name: &'static str) -> Result<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(value) => scalar_as_string(value)
                .map(Some)
                .ok_or_else(|| invalid(name, value, "a string")),
        }
    }

    /// A required, non-empty string.
    pub fn required_string(&mut self, name: &'static str, expected: &str) -> Result<String> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(s) => Err(Error::invalid(name, quote(&s), expected)),
            None => Err(Error::MissingProperty {
                property: name.to_string(),
                expected: expected.to_string(),
            }),
        }
    }

    /// An optional boolean: `true`/`false` or their string forms (any letter case).
    pub fn bool(&mut self, name: &'static str) -> Result<Option<bool>> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| invalid(name, value, "a boolean: true or false"))
    }

    /// An optional integer: a JSON number or its string form.
    pub fn integer(&mut self, name: &'static str) -> Result<Option<i64>> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| invalid(name, value, "a whole number"))
    }

    /// An optional list of strings: a JSON array of scalars, or a string holding a JSON array
    /// (how some tools pass lists through parameters).
    pub fn string_list(&mut self, name: &'static str) -> Result<Option<Vec<String>>> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        let expected = "a list of strings";
        let parsed_from_string;
        let items = match value {
            Value::Array(items) => items,
            Value::String(s) if s.trim_start().starts_with('[') => {
                parsed_from_string =
                    serde_json::from_str::<Value>(s).map_err(|_| invalid(name, value, expected))?;
                match &parsed_from_string {
                    Value::Array(items) => items,
                    _ => return Err(invalid(name, value, expected)),
                }
            }
            _ => return Err(invalid(name, value, expected)),
        };
        items
            .iter()
            .map(|item| scalar_as_string(item).ok_or_else(|| invalid(name, value, expected)))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// An optional JSON object, given natively or as a string holding a JSON object.
    pub fn object(&mut self, name: &'static str) -> Result<Option<Map<String, Value>>> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        match value {
            Value::Object(map) => Ok(Some(map.clone())),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                _ => Err(invalid(name, value, "a JSON object")),
            },
            _ => Err(invalid(name, value, "a JSON object")),
        }
    }

    /// Fail on any property that was not read: it is not part of the resource type.
    pub fn finish(self) -> Result<()> {
        let unknown = self
            .properties
            .values
            .iter()
            .find(|(name, _)| !self.read.contains(&name.as_str()));
        match unknown {
            None => Ok(()),
            Some((name, _)) => Err(Error::UnknownProperty {
                property: excerpt(name),
                resource_type: self.resource_type.to_string(),
                known: self.read.join(", "),
            }),
        }
    }
}

fn scalar_as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn invalid(name: &str, value: &Value, expected: &str) -> Error {
    Error::invalid(name, render_value(value), expected)
}

fn quote(s: &str) -> String {
    render_value(&Value::String(s.to_string()))
}

/// A received value as it appears in an error message: JSON, as a short [`excerpt`].
pub fn render_value(value: &Value) -> String {
    excerpt(&value.to_string())
}

/// Text as it may appear in a Reason or a log: at most 100 characters (cut with `…`), and
/// nothing at all when it looks like a dynamic reference (`{{resolve:`, any letter case
/// and spacing), whose resolved or unresolved form is not for stack events.
pub fn excerpt(text: &str) -> String {
    if looks_like_dynamic_reference(text) {
        return DYNAMIC_REFERENCE_HIDDEN.to_string();
    }
    match text.char_indices().nth(MAX_VALUE_IN_MESSAGE) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

fn looks_like_dynamic_reference(text: &str) -> bool {
    let squeezed: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    squeezed.contains("{{resolve:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Properties {
        Properties::from_value(value)
    }

    #[test]
    fn service_token_is_never_a_property() {
        let p = props(json!({"ServiceToken": "arn:aws:lambda:us-east-1:1:function:f"}));
        assert!(!p.contains("ServiceToken"));
        p.reader("Custom::X").finish().unwrap();
    }

    #[test]
    fn service_timeout_is_accepted_and_ignored() {
        for timeout in [json!("300"), json!(300), json!("bogus")] {
            let p = props(json!({"ServiceTimeout": timeout, "Name": "n"}));
            assert!(!p.contains("ServiceTimeout"));
            let mut r = p.reader("Custom::X");
            r.string("Name").unwrap();
            r.finish().unwrap();
        }
    }

    #[test]
    fn scalars_arrive_as_strings_and_are_accepted() {
        let p = props(json!({"Verify": "TRUE", "Count": "300", "Name": 42}));
        let mut r = p.reader("Custom::X");
        assert_eq!(r.bool("Verify").unwrap(), Some(true));
        assert_eq!(r.integer("Count").unwrap(), Some(300));
        assert_eq!(r.string("Name").unwrap().as_deref(), Some("42"));
        r.finish().unwrap();
    }

    #[test]
    fn native_types_are_accepted() {
        let p = props(json!({"Verify": false, "Count": 7, "List": ["a", 1], "Obj": {"k": "v"}}));
        let mut r = p.reader("Custom::X");
        assert_eq!(r.bool("Verify").unwrap(), Some(false));
        assert_eq!(r.integer("Count").unwrap(), Some(7));
        assert_eq!(
            r.string_list("List").unwrap(),
            Some(vec!["a".into(), "1".into()])
        );
        assert_eq!(r.object("Obj").unwrap().unwrap()["k"], json!("v"));
        r.finish().unwrap();
    }

    #[test]
    fn lists_and_objects_given_as_json_strings_are_accepted() {
        let p = props(json!({"List": "[\"a\",\"b\"]", "Obj": "{\"k\": 1}"}));
        let mut r = p.reader("Custom::X");
        assert_eq!(
            r.string_list("List").unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(r.object("Obj").unwrap().unwrap()["k"], json!(1));
    }

    #[test]
    fn wrong_types_name_property_value_and_expectation() {
        let p = props(json!({"Verify": "yes", "List": "a,b", "Obj": [1], "Count": "3.5"}));
        let mut r = p.reader("Custom::X");
        let e = r.bool("Verify").unwrap_err().to_string();
        assert_eq!(
            e,
            "property Verify has value \"yes\"; expected a boolean: true or false"
        );
        let e = r.string_list("List").unwrap_err().to_string();
        assert!(e.contains("List") && e.contains("\"a,b\"") && e.contains("a list of strings"));
        let e = r.object("Obj").unwrap_err().to_string();
        assert!(e.contains("Obj") && e.contains("[1]") && e.contains("a JSON object"));
        let e = r.integer("Count").unwrap_err().to_string();
        assert!(e.contains("\"3.5\"") && e.contains("a whole number"));
    }

    #[test]
    fn missing_and_empty_required_strings_are_rejected() {
        let p = props(json!({"Empty": "  "}));
        let mut r = p.reader("Custom::X");
        let e = r
            .required_string("RuntimeArn", "a runtime ARN")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "property RuntimeArn is required but was not given; expected a runtime ARN"
        );
        let e = r.required_string("Empty", "a name").unwrap_err();
        assert!(e.to_string().contains("property Empty has value \"  \""));
    }

    #[test]
    fn null_means_not_given() {
        let p = props(json!({"Name": null}));
        let mut r = p.reader("Custom::X");
        assert_eq!(r.string("Name").unwrap(), None);
        r.finish().unwrap();
    }

    #[test]
    fn unknown_property_is_named_without_its_value_with_the_known_ones() {
        let p = props(json!({"RuntimeArn": "x", "Principal": ["s3cr3t-value"]}));
        let mut r = p.reader("Custom::AgentCoreRuntimePolicy");
        r.string("RuntimeArn").unwrap();
        r.string_list("Principals").unwrap();
        let e = r.finish().unwrap_err().to_string();
        assert_eq!(
            e,
            "property Principal is not a property of Custom::AgentCoreRuntimePolicy; known properties: RuntimeArn, Principals"
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "é".repeat(1000);
        let rendered = render_value(&Value::String(long));
        assert_eq!(rendered.chars().count(), 101);
        assert!(rendered.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn dynamic_references_are_never_echoed() {
        for value in [
            json!("{{resolve:secretsmanager:prod/db:SecretString:password}}"),
            json!("prefix-{{ RESOLVE:ssm:/x }}"),
            json!(["a", "{{resolve:ssm-secure:/p:1}}"]),
        ] {
            let p = props(json!({"Verify": value}));
            let e = p
                .reader("Custom::X")
                .bool("Verify")
                .unwrap_err()
                .to_string();
            assert!(!e.contains("resolve") && !e.contains("ssm"), "{e}");
            assert!(
                e.contains("property Verify has value (a dynamic reference, not shown)"),
                "{e}"
            );
        }
    }
}
