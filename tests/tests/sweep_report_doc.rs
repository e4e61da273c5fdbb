//! docs/reference/sweep-report.md and the code's report model agree: the page's example
//! deserialises with `corebound::sweep::Report` (which refuses unknown fields), serialises back
//! to the same JSON (no field the page omits), its counts are the ones the code computes, and
//! every field the code writes is in one of the page's tables.

use std::collections::BTreeSet;

use corebound::sweep::{Outcome, Report, REPORT_SCHEMA};
use corebound_tests::repo_root;
use serde_json::Value;

const PAGE: &str = "docs/reference/sweep-report.md";
const MARKER: &str = "<!-- sweep-report-example -->";

fn page() -> String {
    std::fs::read_to_string(repo_root().join(PAGE)).unwrap_or_else(|e| panic!("{PAGE}: {e}"))
}

/// The ```json block right after the marker comment.
fn example(page: &str) -> &str {
    let after = &page[page
        .find(MARKER)
        .unwrap_or_else(|| panic!("{PAGE} has no {MARKER}"))..];
    let start = after
        .find("```json\n")
        .expect("a ```json block after the marker")
        + "```json\n".len();
    let end = after[start..].find("\n```").expect("the json block ends");
    &after[start..start + end]
}

#[test]
fn the_example_is_a_report_the_code_reads_and_writes_unchanged() {
    let page = page();
    let text = example(&page);
    let report: Report =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{PAGE} example: {e}"));
    assert_eq!(report.schema, REPORT_SCHEMA);
    let written = serde_json::to_value(&report).unwrap();
    let documented: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        written, documented,
        "the example has fields the code would not write, or lacks some"
    );
}

#[test]
fn the_examples_counts_are_what_the_code_counts() {
    let page = page();
    let report: Report = serde_json::from_str(example(&page)).unwrap();
    let summary = &report.summary;
    assert_eq!(summary.resources, report.resources.len());
    assert_eq!(
        summary.non_compliant,
        report
            .resources
            .iter()
            .filter(|r| r.non_compliant())
            .count()
    );
    assert_eq!(
        summary.needs_person,
        report.resources.iter().filter(|r| r.needs_person()).count()
            + summary.unreadable_types.len()
    );
    for outcome in Outcome::ALL {
        let count = report
            .resources
            .iter()
            .filter(|r| r.outcome == outcome)
            .count();
        assert_eq!(
            summary.outcomes.get(&outcome).copied(),
            Some(count),
            "{outcome}"
        );
        let by_type: usize = report
            .types
            .iter()
            .map(|t| t.outcomes.get(&outcome).copied().unwrap_or(0))
            .sum();
        assert_eq!(by_type, count, "types[].outcomes.{outcome}");
    }
    assert_eq!(
        summary.out_of_scope,
        report.types.iter().map(|t| t.out_of_scope).sum::<usize>()
    );
    // Every outcome appears in the page's outcome table, in the code's spelling.
    for outcome in Outcome::ALL {
        assert!(
            page.contains(&format!("| `{outcome}` |")),
            "outcome {outcome} is not documented"
        );
    }
}

#[test]
fn every_field_the_code_writes_is_documented() {
    let page = page();
    let report: Report = serde_json::from_str(example(&page)).unwrap();
    let mut fields = BTreeSet::new();
    fn collect(value: &Value, fields: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    // Outcome names are keys of `outcomes` maps: documented in their own table.
                    if serde_json::from_value::<Outcome>(Value::String(key.clone())).is_err() {
                        fields.insert(key.clone());
                    }
                    collect(value, fields);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, fields)),
            _ => {}
        }
    }
    collect(&serde_json::to_value(&report).unwrap(), &mut fields);
    for field in fields {
        assert!(
            page.contains(&format!("| `{field}` |"))
                || page.contains(&format!("| `{field}`, "))
                || page.contains(&format!(", `{field}` |")),
            "{PAGE} documents no field `{field}` in its tables"
        );
    }
}
