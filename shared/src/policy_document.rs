//! IAM-style policy documents as JSON values, edited one statement at a time.
//!
//! corebound owns individual statements (identified by `Sid`) inside documents that other
//! people also write to, so every edit leaves the other statements as the same JSON values
//! they were.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDocument {
    document: Map<String, Value>,
}

impl Default for PolicyDocument {
    fn default() -> Self {
        PolicyDocument {
            document: match json!({"Version": "2012-10-17", "Statement": []}) {
                Value::Object(map) => map,
                _ => unreachable!(),
            },
        }
    }
}

impl PolicyDocument {
    /// Parse a document; `Statement` may be one object or an array.
    pub fn parse(text: &str) -> Result<Self, String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(document)) => match document.get("Statement") {
                None | Some(Value::Array(_)) | Some(Value::Object(_)) => {
                    Ok(PolicyDocument { document })
                }
                Some(other) => Err(format!("Statement is {other}, not a list of statements")),
            },
            Ok(_) => Err("a policy document is a JSON object".into()),
            Err(e) => Err(format!("not valid JSON: {e}")),
        }
    }

    /// All statements, whichever form `Statement` has.
    pub fn statements(&self) -> Vec<&Value> {
        match self.document.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            _ => Vec::new(),
        }
    }

    pub fn statement(&self, sid: &str) -> Option<&Value> {
        self.statements()
            .into_iter()
            .find(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
    }

    /// Replace the statement with the same `Sid` in place, or append it.
    pub fn upsert(&mut self, statement: Value) {
        let sid = statement.get("Sid").cloned();
        let statements = self.statements_mut();
        match statements.iter_mut().find(|s| s.get("Sid") == sid.as_ref()) {
            Some(existing) => *existing = statement,
            None => statements.push(statement),
        }
    }

    /// Remove the statement with this `Sid`; whether there was one.
    pub fn remove(&mut self, sid: &str) -> bool {
        let statements = self.statements_mut();
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
        statements.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.statements().is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.document).expect("a JSON map always serializes")
    }

    fn statements_mut(&mut self) -> &mut Vec<Value> {
        let statement = self
            .document
            .entry("Statement")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !statement.is_array() {
            let single = statement.take();
            *statement = Value::Array(vec![single]);
        }
        match statement {
            Value::Array(items) => items,
            _ => unreachable!("made an array above"),
        }
    }
}

/// A short, stable hash for names and revisions (first 12 hex digits of SHA-256).
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_replaces_in_place_and_keeps_others() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Foreign","Effect":"Allow","Action":"x:Y","Principal":{"AWS":"1"},"Resource":"r"},{"Sid":"Mine","Effect":"Allow"}]}"#;
        let mut d = PolicyDocument::parse(text).unwrap();
        let foreign = d.statement("Foreign").unwrap().clone();
        d.upsert(json!({"Sid": "Mine", "Effect": "Deny"}));
        assert_eq!(d.statements().len(), 2);
        assert_eq!(d.statement("Mine").unwrap()["Effect"], "Deny");
        assert_eq!(d.statement("Foreign").unwrap(), &foreign);
        d.upsert(json!({"Sid": "Other"}));
        assert_eq!(d.statements().len(), 3);
    }

    #[test]
    fn single_statement_object_is_accepted_and_extended() {
        let mut d = PolicyDocument::parse(r#"{"Statement":{"Sid":"A"}}"#).unwrap();
        assert_eq!(d.statements().len(), 1);
        d.upsert(json!({"Sid": "B"}));
        assert_eq!(d.statements().len(), 2);
        assert!(d.remove("A") && d.remove("B"));
        assert!(d.is_empty());
        assert!(!d.remove("A"));
    }

    #[test]
    fn malformed_documents_are_rejected() {
        assert!(PolicyDocument::parse("[]").is_err());
        assert!(PolicyDocument::parse("{").is_err());
        assert!(PolicyDocument::parse(r#"{"Statement":"x"}"#).is_err());
    }

    #[test]
    fn short_hash_is_stable() {
        assert_eq!(short_hash("abc"), "ba7816bf8f01");
        assert_eq!(short_hash("abc").len(), 12);
    }
}
