//! Pattern 1: role names carry the required prefix, roles carry the permissions boundary.
//!
//! The boundary on the team's creator role limits `iam:CreateRole` by resource
//! (`arn:aws:iam::*:role/LPMA_*`), so a role whose name does not start with the prefix —
//! including one CloudFormation names itself (`<stack>-<LogicalId>-<random>`) or one under
//! a `Path` (`role/<path>/LPMA_…` no longer matches `role/LPMA_*`) — fails with an
//! AccessDenied that does not mention the naming rule.
//!
//! SAM functions without `Role` get a role SAM generates (`<LogicalId>Role`, named by
//! CloudFormation, so never prefixed): the fix is an explicit role.

use serde_json::Value;

use super::{Certainty, Finding, PreflightSettings, Subject};
use crate::scope::glob_match;
use crate::template::Resolved;

pub const RESOURCE_TYPES: [&str; 2] = ["AWS::IAM::Role", "AWS::Serverless::Function"];

pub(crate) fn check(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    match subject.resource_type {
        "AWS::IAM::Role" => check_role(subject, settings),
        "AWS::Serverless::Function" => check_sam_function(subject, settings),
        _ => Vec::new(),
    }
}

fn check_role(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(prefix) = &settings.required_role_prefix {
        let fix = format!(
            "set RoleName: !Sub '{prefix}${{AppName}}_<Purpose>' (the boundary lets this team create only roles named {prefix}*)"
        );
        match subject.resolved("RoleName") {
            None => findings.push(subject.finding(
                "role-prefix",
                None,
                Certainty::Violation,
                format!(
                    "no RoleName: CloudFormation names the role <stack>-{}-<random>, which does not start with {prefix}, so iam:CreateRole is denied",
                    subject.logical_id
                ),
                fix,
            )),
            Some(resolved) => {
                if let Some(finding) = judge_name(subject, &resolved, prefix, &fix) {
                    findings.push(finding);
                }
            }
        }
        if let Some(Resolved::Known(Value::String(path))) = subject.resolved("Path") {
            if path != "/" {
                findings.push(subject.finding(
                    "role-prefix",
                    Some("Path"),
                    Certainty::Violation,
                    format!(
                        "Path {path} puts the role at role{path}<name>, outside the role/{prefix}* resource the boundary allows"
                    ),
                    "remove Path (or set it to /)",
                ));
            }
        }
    }
    findings.extend(judge_boundary(
        subject,
        subject.resolved("PermissionsBoundary"),
        "PermissionsBoundary",
        settings,
    ));
    findings
}

fn check_sam_function(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    if subject.property("Role").is_some() {
        // The role is defined elsewhere (checked as an AWS::IAM::Role when it is in this
        // template): SAM creates none.
        return Vec::new();
    }
    let mut findings = Vec::new();
    if let Some(prefix) = &settings.required_role_prefix {
        findings.push(subject.finding(
            "sam-function-role",
            None,
            Certainty::Violation,
            format!(
                "no Role: SAM creates {id}Role, which CloudFormation names <stack>-{id}Role-<random>, not starting with {prefix}, so iam:CreateRole is denied",
                id = subject.logical_id
            ),
            format!(
                "define an AWS::IAM::Role with RoleName: !Sub '{prefix}${{AppName}}_{id}', the PermissionsBoundary and the function's policies, and set Role: !GetAtt <thatRole>.Arn on the function",
                id = subject.logical_id
            ),
        ));
    }
    // The generated role gets the function's PermissionsBoundary, or the Globals one.
    let own = subject.resolved("PermissionsBoundary");
    let boundary = match own {
        Some(resolved) => Some(resolved),
        None => subject
            .template
            .global("Function", "PermissionsBoundary")
            .map(|value| subject.template.resolve(value))
            .filter(|resolved| !matches!(resolved, Resolved::NoValue)),
    };
    findings.extend(judge_boundary(
        subject,
        boundary,
        "PermissionsBoundary",
        settings,
    ));
    findings
}

/// The role name against the prefix.
fn judge_name(subject: &Subject<'_>, name: &Resolved, prefix: &str, fix: &str) -> Option<Finding> {
    match name {
        Resolved::Known(Value::String(name)) if name.starts_with(prefix) => None,
        Resolved::Known(Value::String(name)) => Some(subject.finding(
            "role-prefix",
            Some("RoleName"),
            Certainty::Violation,
            format!("role name {name} does not start with {prefix}: iam:CreateRole is denied"),
            fix,
        )),
        Resolved::Partial(pattern) => {
            // The literal start of the pattern (before the first part known only at
            // deployment) decides when it is long enough.
            let literal = pattern.split('*').next().unwrap_or_default();
            if literal.starts_with(prefix) {
                None
            } else if prefix.starts_with(literal) {
                Some(subject.finding(
                    "role-prefix",
                    Some("RoleName"),
                    Certainty::CannotTell,
                    format!("role name {pattern} starts with a value known only at deployment; cannot tell whether it starts with {prefix}"),
                    fix,
                ))
            } else {
                Some(subject.finding(
                    "role-prefix",
                    Some("RoleName"),
                    Certainty::Violation,
                    format!("role name {pattern} does not start with {prefix}: iam:CreateRole is denied"),
                    fix,
                ))
            }
        }
        Resolved::Unknown(reason) => Some(subject.finding(
            "role-prefix",
            Some("RoleName"),
            Certainty::CannotTell,
            format!("RoleName is {reason}; cannot tell whether it starts with {prefix}"),
            fix,
        )),
        _ => Some(subject.finding(
            "unreadable-value",
            Some("RoleName"),
            Certainty::CannotTell,
            "RoleName is not a string",
            fix,
        )),
    }
}

/// The boundary of a role (or of the role SAM generates) against the configured ARN.
fn judge_boundary(
    subject: &Subject<'_>,
    boundary: Option<Resolved>,
    property: &str,
    settings: &PreflightSettings,
) -> Option<Finding> {
    let configured = settings.permissions_boundary_arn.as_deref();
    let wanted = configured.unwrap_or("arn:aws:iam::<account>:policy/<boundary>");
    let fix = format!("set {property}: {wanted}");
    let Some(boundary) = boundary else {
        return Some(subject.finding(
            "role-boundary",
            None,
            Certainty::Violation,
            "no PermissionsBoundary: a role created without the boundary is denied (the creator role may only create bounded roles) or flagged by the scanner",
            fix,
        ));
    };
    let configured = configured?;
    match boundary {
        Resolved::Known(Value::String(arn)) if arn == configured => None,
        Resolved::Known(Value::String(arn)) => Some(subject.finding(
            "role-boundary",
            Some(property),
            Certainty::Violation,
            format!("PermissionsBoundary is {arn}, not the required {configured}"),
            fix,
        )),
        // `arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/X` is the configured boundary
        // when deployed in its account.
        Resolved::Partial(pattern) if glob_match(&pattern, configured) => None,
        Resolved::Partial(pattern) => Some(subject.finding(
            "role-boundary",
            Some(property),
            Certainty::Violation,
            format!("PermissionsBoundary {pattern} cannot be {configured}"),
            fix,
        )),
        Resolved::Unknown(reason) => Some(subject.finding(
            "role-boundary",
            Some(property),
            Certainty::CannotTell,
            format!("PermissionsBoundary is {reason}; cannot tell whether it is {configured}"),
            fix,
        )),
        Resolved::Resource { logical_id, .. } => Some(subject.finding(
            "role-boundary",
            Some(property),
            Certainty::CannotTell,
            format!("PermissionsBoundary is the managed policy {logical_id} of this template; cannot tell whether it is {configured}"),
            fix,
        )),
        _ => Some(subject.finding(
            "unreadable-value",
            Some(property),
            Certainty::CannotTell,
            "PermissionsBoundary is not a string",
            fix,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_resource, check_template};
    use super::*;
    use crate::template::Template;
    use serde_json::json;
    use std::collections::BTreeMap;

    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/BoundaryForLPMA";

    fn settings() -> PreflightSettings {
        PreflightSettings {
            required_role_prefix: Some("LPMA_".into()),
            permissions_boundary_arn: Some(BOUNDARY.into()),
            ..PreflightSettings::default()
        }
    }

    fn rules(findings: &[Finding]) -> Vec<(String, Certainty)> {
        findings
            .iter()
            .filter(|finding| finding.pattern == "1")
            .map(|finding| (finding.rule.clone(), finding.certainty))
            .collect()
    }

    #[test]
    fn a_resolved_role_as_the_hook_sees_it() {
        let check = |properties: Value| {
            rules(&check_resource(
                "Role",
                "AWS::IAM::Role",
                &properties,
                &BTreeMap::new(),
                &settings(),
            ))
        };
        assert_eq!(
            check(json!({"RoleName": "LPMA_app_Runtime", "PermissionsBoundary": BOUNDARY})),
            []
        );
        let violation = |rule: &str| (rule.to_string(), Certainty::Violation);
        assert_eq!(
            check(json!({"RoleName": "app_Runtime", "PermissionsBoundary": BOUNDARY})),
            [violation("role-prefix")]
        );
        assert_eq!(
            check(json!({"PermissionsBoundary": BOUNDARY})),
            [violation("role-prefix")]
        );
        assert_eq!(
            check(json!({"RoleName": "LPMA_x", "Path": "/team/", "PermissionsBoundary": BOUNDARY})),
            [violation("role-prefix")]
        );
        assert_eq!(
            check(json!({"RoleName": "LPMA_x"})),
            [violation("role-boundary")]
        );
        assert_eq!(
            check(
                json!({"RoleName": "LPMA_x", "PermissionsBoundary": "arn:aws:iam::123456789012:policy/Other"})
            ),
            [violation("role-boundary")]
        );
    }

    #[test]
    fn intrinsics_resolve_or_say_cannot_tell() {
        let template = Template::parse(
            "\
Parameters:
  Prefix: {Type: String, Default: LPMA_}
  Name: {Type: String}
Resources:
  Good:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${Prefix}${AWS::StackName}'
      PermissionsBoundary: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/BoundaryForLPMA'
  Unknown:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Ref Name
      PermissionsBoundary: !ImportValue boundary
  Stack:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${AWS::StackName}-role'
      PermissionsBoundary: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/Other'
",
        )
        .unwrap();
        let findings = check_template(&template, &settings());
        let summary: Vec<_> = findings
            .iter()
            .filter(|f| f.pattern == "1")
            .map(|f| (f.logical_id.as_str(), f.rule.as_str(), f.certainty, f.line))
            .collect();
        assert_eq!(
            summary,
            [
                ("Unknown", "role-prefix", Certainty::CannotTell, Some(13)),
                ("Unknown", "role-boundary", Certainty::CannotTell, Some(14)),
                ("Stack", "role-prefix", Certainty::CannotTell, Some(18)),
                ("Stack", "role-boundary", Certainty::Violation, Some(19)),
            ]
        );
    }

    #[test]
    fn sam_functions_need_an_explicit_role() {
        let template = Template::parse(
            "\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    PermissionsBoundary: arn:aws:iam::123456789012:policy/BoundaryForLPMA
Resources:
  Generated:
    Type: AWS::Serverless::Function
    Properties: {Handler: bootstrap}
  Explicit:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt ExplicitRole.Arn
  ExplicitRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: LPMA_app_Explicit
      PermissionsBoundary: arn:aws:iam::123456789012:policy/BoundaryForLPMA
",
        )
        .unwrap();
        let findings = check_template(&template, &settings());
        assert_eq!(
            rules(&findings),
            [("sam-function-role".into(), Certainty::Violation)]
        );
        assert_eq!(findings[0].logical_id, "Generated");
        assert!(
            findings[0].fix.contains("Role: !GetAtt"),
            "{}",
            findings[0].fix
        );
        // Without the Globals boundary the generated role lacks it too.
        let bare = Template::parse(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {}\n",
        )
        .unwrap();
        let rules_found: Vec<_> = check_template(&bare, &settings())
            .into_iter()
            .map(|finding| finding.rule)
            .filter(|rule| rule.starts_with("sam") || rule.starts_with("role"))
            .collect();
        assert_eq!(rules_found, ["sam-function-role", "role-boundary"]);
    }
}
