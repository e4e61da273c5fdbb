//! The one scope rule: which resources belong to this project, by name.
//!
//! `SCOPE_PATTERNS` is a comma-separated list of name globs (`*` any run, `?` one
//! character, case-sensitive, like the ARN patterns of the IAM policies derived from the
//! same `ScopePatterns` parameter). The remediator, the custom resources, the sweep and
//! preflight all decide scope here, so there is exactly one matcher.

/// Parses `SCOPE_PATTERNS`. Empty entries are ignored. At least one pattern is required,
/// and a pattern made only of wildcards is refused: it would claim (and re-encrypt or
/// re-grant) every resource in the account, other projects' included.
///
/// The error is a description of what a valid value looks like, for the caller to wrap
/// with the variable's name.
pub fn parse_patterns(raw: &str) -> Result<Vec<String>, String> {
    let expected = "comma-separated name globs using * and ? (e.g. myapp-*,LPMA_MyApp_*), \
        at least one, none made only of wildcards";
    let patterns: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(str::to_string)
        .collect();
    let claims_everything = patterns
        .iter()
        .any(|pattern| pattern.chars().all(|c| c == '*' || c == '?'));
    if patterns.is_empty() || claims_everything {
        return Err(expected.to_string());
    }
    Ok(patterns)
}

/// `SCOPE_PATTERNS` for a custom-resource function. The template always sets it; unset or
/// empty (local use) gives `None`, and the function then applies only the role-prefix
/// rule and logs a warning at start.
pub fn optional_patterns(raw: Option<&str>) -> Result<Option<Vec<String>>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_patterns(text).map(Some),
    }
}

/// The names `SCOPE_PATTERNS` is matched against: the resource's own name, or for a KMS key
/// (which has none) its aliases without `alias/`.
pub fn scope_names(
    resource: &crate::remediation::ResourceRef,
    key_aliases: &[String],
) -> Vec<String> {
    match resource.scope_name() {
        Some(name) => vec![name],
        None => key_aliases
            .iter()
            .map(|alias| alias.strip_prefix("alias/").unwrap_or(alias).to_string())
            .collect(),
    }
}

/// True when `name` matches any of the globs.
pub fn in_scope(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|pattern| glob_match(pattern, name))
}

/// Iterative wildcard match that backtracks only to the last `*` (no recursion, so a
/// hostile pattern or name cannot blow the stack or take exponential time).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let cases = [
            ("corebound-demo-*", "corebound-demo-alerts", true),
            ("corebound-demo-*", "corebound-demo-", true),
            ("corebound-demo-*", "corebound-demo", false),
            ("corebound-demo-*", "Corebound-demo-alerts", false),
            ("corebound-demo-*", "x-corebound-demo-alerts", false),
            ("LPMA_Demo_*", "LPMA_Demo_AgentRuntime", true),
            ("LPMA_Demo_*", "LPMA_Other_AgentRuntime", false),
            ("*-jobs", "corebound-demo-jobs", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            (
                "/aws/lambda/corebound-demo-*",
                "/aws/lambda/corebound-demo-fn",
                true,
            ),
            ("corebound-demo-*", "corebound-demo-a/b", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("dé*", "démo", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_match(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn parse_refuses_empty_and_wildcard_only() {
        assert_eq!(
            parse_patterns(" a-* , ,LPMA_A_*").unwrap(),
            vec!["a-*".to_string(), "LPMA_A_*".to_string()]
        );
        for bad in ["", " , ", "*", "a-*,**", "?*"] {
            assert!(parse_patterns(bad).is_err(), "{bad:?}");
        }
        assert_eq!(optional_patterns(None).unwrap(), None);
        assert_eq!(optional_patterns(Some("  ")).unwrap(), None);
        assert_eq!(
            optional_patterns(Some("a-*")).unwrap(),
            Some(vec!["a-*".to_string()])
        );
        assert!(optional_patterns(Some("*")).is_err());
    }
}
