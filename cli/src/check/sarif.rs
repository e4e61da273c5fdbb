//! SARIF 2.1.0 for code-scanning views (GitHub, GitLab...): one run, the preflight's rules
//! as `tool.driver.rules`, one result per finding with its file and line.
//!
//! Required by the schema and by the code-scanning importers: `version`, `runs[].tool.driver`
//! `.name` / `.rules`, `results[].ruleId`, `.message.text`,
//! `.locations[].physicalLocation.artifactLocation.uri` and `.region.startLine` (≥ 1; a
//! finding without a known line points at line 1).

use serde_json::{json, Value};

use super::FileReport;
use corebound::preflight::{Certainty, RULES};

pub fn sarif(reports: &[FileReport]) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.id,
                "shortDescription": {"text": rule.summary},
                "properties": {"pattern": rule.pattern},
            })
        })
        .collect();
    let mut results = Vec::new();
    for report in reports {
        for finding in &report.findings {
            let rule_index = RULES.iter().position(|rule| rule.id == finding.rule);
            let level = match finding.certainty {
                Certainty::Violation => "error",
                Certainty::CannotTell => "warning",
            };
            let mut result = json!({
                "ruleId": finding.rule,
                "level": level,
                "message": {"text": format!("{} ({}): {} Fix: {}", finding.logical_id, finding.resource_type, finding.message, finding.fix)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": report.path.replace('\\', "/")},
                        "region": {"startLine": finding.line.unwrap_or(1)},
                    },
                    "logicalLocations": [{"name": finding.logical_id, "kind": "resource"}],
                }],
                "properties": {"pattern": finding.pattern, "certainty": finding.certainty},
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            results.push(result);
        }
    }
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "corebound",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&document).expect("SARIF serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use corebound::preflight::Finding;

    #[test]
    fn carries_every_field_the_schema_requires() {
        let report = FileReport {
            path: "dir/t.yaml".into(),
            findings: vec![Finding {
                pattern: "4/8".into(),
                rule: "customer-managed-key".into(),
                logical_id: "Topic".into(),
                resource_type: "AWS::SNS::Topic".into(),
                message: "no KmsMasterKeyId".into(),
                fix: "set it".into(),
                certainty: Certainty::Violation,
                property: None,
                line: None,
            }],
        };
        let document: Value = serde_json::from_str(&sarif(&[report])).unwrap();
        assert_eq!(document["version"], "2.1.0");
        let run = &document["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "corebound");
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            RULES.len()
        );
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "customer-managed-key");
        assert_eq!(result["level"], "error");
        assert!(result["message"]["text"]
            .as_str()
            .unwrap()
            .contains("Fix: set it"));
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "dir/t.yaml");
        assert_eq!(location["region"]["startLine"], 1);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            "customer-managed-key"
        );
    }
}
