//! YAML (and JSON, which the YAML 1.2 parser reads too) to a JSON value plus the line of
//! every mapping key.
//!
//! CloudFormation's short-form intrinsics become their long form exactly as cfn-lint's
//! decoder (`cfnlint/decode/cfn_yaml.py`, `multi_constructor`) builds them: `!Ref X` →
//! `{"Ref": "X"}`, `!Condition X` → `{"Condition": "X"}`, `!GetAtt a.b.c` →
//! `{"Fn::GetAtt": ["a", "b.c"]}` (split on the first dot), any other `!Name v` →
//! `{"Fn::Name": v}` with `v` a scalar, list or mapping as written.
//!
//! A template may come from someone else (a hook's STACK payload): nesting deeper than
//! [`MAX_DEPTH`] and documents that expand to more than [`MAX_NODES`] values (aliases of
//! aliases, "billion laughs") are refused, never built.
//!
//! Plain scalars follow the YAML core schema only where the text survives the round trip:
//! `012345678901` (an account id with a leading zero) stays a string, because CloudFormation
//! passes every value on as a string and a number would lose the zero.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted (CloudFormation's own limit on JSON templates is far below).
pub(super) const MAX_DEPTH: usize = 128;
/// Most values a document may expand to, aliases counted at their full size.
pub(super) const MAX_NODES: usize = 1_000_000;

/// A decoded document: the value and, for each mapping key, its 1-based line, keyed by the
/// JSON pointer of the value under that key (`/Resources/Topic/Properties/KmsMasterKeyId`).
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub value: Value,
    pub lines: BTreeMap<String, usize>,
}

/// Decode one YAML (or JSON) document. Errors carry the line and column.
pub(super) fn decode(text: &str) -> Result<Decoded, String> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| error.to_string())?;
        events.push((event, span));
    }
    let mut builder = Builder {
        events: events.into_iter(),
        anchors: BTreeMap::new(),
        lines: BTreeMap::new(),
        nodes: 0,
    };
    let mut value = None;
    while let Some((event, span)) = builder.events.next() {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                if value.is_some() {
                    return Err(format!(
                        "line {}: a template is one YAML document; a second one starts here",
                        span.start.line()
                    ));
                }
            }
            other => {
                if value.is_some() {
                    return Err("a template is one YAML document".to_string());
                }
                value = Some(builder.node(other, span, "", 0)?);
            }
        }
    }
    Ok(Decoded {
        value: value.unwrap_or(Value::Null),
        lines: builder.lines,
    })
}

struct Builder<'input, I: Iterator<Item = (Event<'input>, Span)>> {
    events: I,
    /// Anchor id → its value and how many values it holds.
    anchors: BTreeMap<usize, (Value, usize)>,
    lines: BTreeMap<String, usize>,
    /// Values built so far, aliases at their full size.
    nodes: usize,
}

impl<'input, I: Iterator<Item = (Event<'input>, Span)>> Builder<'input, I> {
    fn next_node(&mut self, pointer: &str, depth: usize) -> Result<Option<Value>, String> {
        match self.events.next() {
            Some((Event::MappingEnd | Event::SequenceEnd, _)) | None => Ok(None),
            Some((event, span)) => self.node(event, span, pointer, depth).map(Some),
        }
    }

    fn count(&mut self, nodes: usize, span: Span) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(format!(
                "line {}: the document expands to more than {MAX_NODES} values",
                span.start.line()
            ));
        }
        Ok(())
    }

    fn node(
        &mut self,
        event: Event<'input>,
        span: Span,
        pointer: &str,
        depth: usize,
    ) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "line {}: nested deeper than {MAX_DEPTH} levels",
                span.start.line()
            ));
        }
        let before = self.nodes;
        self.count(1, span)?;
        let (value, anchor, tag) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|tag| tag.into_owned());
                let value = scalar(&text, style, tag.as_ref());
                (value, anchor, tag)
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let item_pointer = format!("{pointer}/{}", items.len());
                    match self.next_node(&item_pointer, depth + 1)? {
                        Some(item) => items.push(item),
                        None => break,
                    }
                }
                (Value::Array(items), anchor, tag.map(|tag| tag.into_owned()))
            }
            Event::MappingStart(anchor, tag) => {
                let mut map = Map::new();
                loop {
                    let Some((key_event, key_span)) = self.events.next() else {
                        return Err("unexpected end of a mapping".to_string());
                    };
                    let key = match key_event {
                        Event::MappingEnd => break,
                        Event::Scalar(text, ..) => text.into_owned(),
                        _ => {
                            return Err(format!(
                                "line {}: a mapping key must be a plain string",
                                key_span.start.line()
                            ))
                        }
                    };
                    let child = format!("{pointer}/{}", escape(&key));
                    self.lines.insert(child.clone(), key_span.start.line());
                    let value = self.next_node(&child, depth + 1)?.ok_or_else(|| {
                        format!(
                            "line {}: mapping key without a value",
                            key_span.start.line()
                        )
                    })?;
                    if key == "<<" {
                        // YAML merge key: the anchored mapping's entries, never overriding.
                        if let Value::Object(merged) = value {
                            for (key, value) in merged {
                                map.entry(key).or_insert(value);
                            }
                            continue;
                        }
                    }
                    map.insert(key, value);
                }
                (Value::Object(map), anchor, tag.map(|tag| tag.into_owned()))
            }
            Event::Alias(anchor) => {
                let (value, size) = self.anchors.get(&anchor).cloned().ok_or_else(|| {
                    format!("line {}: alias of an unknown anchor", span.start.line())
                })?;
                // The copy counts at its full size, so aliases of aliases cannot explode.
                self.count(size, span)?;
                return Ok(value);
            }
            _ => return Err(format!("line {}: unexpected YAML event", span.start.line())),
        };
        let value = match tag {
            Some(tag) => intrinsic(&tag, value),
            None => value,
        };
        if anchor > 0 {
            self.anchors
                .insert(anchor, (value.clone(), self.nodes - before));
        }
        Ok(value)
    }
}

/// JSON pointer escaping of one key.
pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A short-form intrinsic in its long form; core-schema tags (`!!str`…) leave the value.
fn intrinsic(tag: &Tag, value: Value) -> Value {
    if tag.handle != "!" {
        return value;
    }
    let name = tag.suffix.as_str();
    let mut long = Map::new();
    match name {
        "Ref" | "Condition" => {
            long.insert(name.to_string(), value);
        }
        "GetAtt" => {
            let value = match value {
                Value::String(text) => match text.split_once('.') {
                    Some((resource, attribute)) => Value::Array(vec![
                        Value::String(resource.to_string()),
                        Value::String(attribute.to_string()),
                    ]),
                    None => Value::Array(vec![Value::String(text)]),
                },
                other => other,
            };
            long.insert("Fn::GetAtt".to_string(), value);
        }
        _ => {
            long.insert(format!("Fn::{name}"), value);
        }
    }
    Value::Object(long)
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" && tag.suffix == "str" {
            return Value::String(text.to_string());
        }
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(integer) = text.parse::<i64>() {
        if integer.to_string() == text {
            return Value::Number(integer.into());
        }
    }
    if text.contains('.') && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            if number.to_string() == text {
                return Value::Number(number);
            }
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_intrinsics_become_the_long_form_cfn_lint_builds() {
        let text = "\
A: !Ref Param
B: !GetAtt Key.Arn
C: !GetAtt [Key, Arn]
D: !Sub '${AWS::StackName}-x'
E: !Sub
  - '${X}'
  - X: !Ref Y
F: !If [Cond, !Ref A, !Ref AWS::NoValue]
G: !Condition IsProd
H: !Join ['', [a, !Ref B]]
I: !Select [0, !GetAZs '']
J: !GetAtt Stack.Outputs.Name
K: !Equals [!Ref Env, prod]
";
        let decoded = decode(text).unwrap();
        assert_eq!(
            decoded.value,
            json!({
                "A": {"Ref": "Param"},
                "B": {"Fn::GetAtt": ["Key", "Arn"]},
                "C": {"Fn::GetAtt": ["Key", "Arn"]},
                "D": {"Fn::Sub": "${AWS::StackName}-x"},
                "E": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]},
                "F": {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]},
                "G": {"Condition": "IsProd"},
                "H": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
                "I": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
                "J": {"Fn::GetAtt": ["Stack", "Outputs.Name"]},
                "K": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            })
        );
        assert_eq!(decoded.lines["/A"], 1);
        assert_eq!(decoded.lines["/E"], 5);
        assert_eq!(decoded.lines["/F"], 8);
    }

    #[test]
    fn scalars_keep_what_cloudformation_would_see() {
        let decoded = decode(
            "a: 012345678901\nb: 123456789012\nc: '5'\nd: true\ne: 1.5\nf: 1.50\ng:\nh: yes\ni: !!str 7\n",
        )
        .unwrap();
        assert_eq!(
            decoded.value,
            json!({"a": "012345678901", "b": 123456789012_i64, "c": "5", "d": true,
                   "e": 1.5, "f": "1.50", "g": null, "h": "yes", "i": "7"})
        );
    }

    #[test]
    fn json_templates_get_lines_too() {
        let decoded = decode(
            "{\n  \"Resources\": {\n    \"Topic\": {\n      \"Type\": \"AWS::SNS::Topic\"\n    }\n  }\n}\n",
        )
        .unwrap();
        assert_eq!(
            decoded.value,
            json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
        );
        assert_eq!(decoded.lines["/Resources/Topic"], 3);
        assert_eq!(decoded.lines["/Resources/Topic/Type"], 4);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let decoded =
            decode("base: &tags {Project: p}\none: *tags\ntwo:\n  <<: *tags\n  Env: e\n").unwrap();
        assert_eq!(decoded.value["one"], json!({"Project": "p"}));
        assert_eq!(decoded.value["two"], json!({"Project": "p", "Env": "e"}));
    }

    #[test]
    fn hostile_documents_are_refused_not_built() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        assert!(decode(&deep).unwrap_err().contains("nested deeper"));
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(decode(&fine).is_ok());
        // Each level doubles the previous one: 2^30 values if built.
        let mut laughs = String::from("a0: &a0 [x, x]\n");
        for level in 1..30 {
            laughs.push_str(&format!(
                "a{level}: &a{level} [*a{}, *a{}]\n",
                level - 1,
                level - 1
            ));
        }
        assert!(decode(&laughs).unwrap_err().contains("more than"));
    }

    #[test]
    fn malformed_yaml_is_an_error_with_a_position() {
        let error = decode("a: [1, 2\nb: c\n").unwrap_err();
        assert!(error.contains("line"), "{error}");
        assert!(decode("a: 1\n---\nb: 2\n").is_err());
    }
}
