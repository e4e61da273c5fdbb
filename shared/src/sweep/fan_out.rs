//! Hub fan-out (issue 13 §4): the (account, region) pairs a hub's sweep covers, and which
//! resource types it sweeps in each.
//!
//! The pairs are those `ACCOUNT_SETTINGS` gives a project key for
//! (`AccountSettings::configured_targets`): a region without a key could not be remediated
//! anyway, and an account known only through `default` cannot be enumerated (list it, even
//! as `{}`, to have it swept). IAM is global: an account's roles are swept once, in its
//! global region when the account has a key there (where IAM's events arrive too), else in
//! its first region; every other type is swept in every region.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::remediation::ResourceKind;

use super::unit::SWEPT_KINDS;

/// The regions where a partition's global services (IAM) report, in order of preference.
const GLOBAL_REGIONS: [&str; 3] = ["us-east-1", "us-gov-west-1", "cn-north-1"];

/// One account and region of a hub's sweep.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepTarget {
    pub account: String,
    pub region: String,
}

impl SweepTarget {
    /// The target named by a unit's or part's optional `account` and `region` (both or none).
    pub fn from_parts(account: &Option<String>, region: &Option<String>) -> Option<Self> {
        Some(SweepTarget {
            account: account.clone()?,
            region: region.clone()?,
        })
    }
}

impl std::fmt::Display for SweepTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} ({})", self.account, self.region)
    }
}

/// A target and the types swept there (the manifest's `targets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTypes {
    pub account: String,
    pub region: String,
    pub types: Vec<ResourceKind>,
}

impl TargetTypes {
    pub fn target(&self) -> SweepTarget {
        SweepTarget {
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

/// What a sweep started with `targets` covers. `None` when the only target is the function's
/// own account and region (`own`): a single-account sweep keeps its units without account or
/// region and its parts where they always were.
pub fn fan_out(
    targets: &BTreeSet<(String, String)>,
    own: (&str, Option<&str>),
) -> Option<Vec<TargetTypes>> {
    let single = targets.len() == 1
        && targets
            .iter()
            .all(|(account, region)| account == own.0 && Some(region.as_str()) == own.1);
    if targets.is_empty() || single {
        return None;
    }
    let accounts: BTreeSet<&str> = targets.iter().map(|(a, _)| a.as_str()).collect();
    let mut covered = Vec::new();
    for account in accounts {
        let regions: Vec<&str> = targets
            .iter()
            .filter(|(a, _)| a == account)
            .map(|(_, r)| r.as_str())
            .collect();
        let iam_region = GLOBAL_REGIONS
            .iter()
            .find(|global| regions.contains(global))
            .copied()
            .or_else(|| regions.first().copied());
        for region in &regions {
            let types = SWEPT_KINDS
                .iter()
                .copied()
                .filter(|kind| *kind != ResourceKind::IamRole || Some(*region) == iam_region)
                .collect();
            covered.push(TargetTypes {
                account: account.to_string(),
                region: region.to_string(),
                types,
            });
        }
    }
    Some(covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect()
    }

    #[test]
    fn a_single_account_sweep_does_not_fan_out() {
        let own = ("111111111111", Some("eu-west-1"));
        assert_eq!(fan_out(&set(&[("111111111111", "eu-west-1")]), own), None);
        assert_eq!(fan_out(&BTreeSet::new(), own), None);
        // The own account in another region is a fan-out.
        let covered = fan_out(&set(&[("111111111111", "eu-central-1")]), own).unwrap();
        assert_eq!(covered.len(), 1);
        assert_eq!(covered[0].types.len(), SWEPT_KINDS.len());
    }

    #[test]
    fn every_type_in_every_region_and_roles_once_per_account() {
        let targets = set(&[
            ("111111111111", "us-east-1"),
            ("222222222222", "eu-west-1"),
            ("222222222222", "us-east-1"),
            ("333333333333", "eu-west-1"),
            ("333333333333", "eu-central-1"),
        ]);
        let covered = fan_out(&targets, ("111111111111", Some("us-east-1"))).unwrap();
        assert_eq!(covered.len(), 5);
        let roles: Vec<(&str, &str)> = covered
            .iter()
            .filter(|t| t.types.contains(&ResourceKind::IamRole))
            .map(|t| (t.account.as_str(), t.region.as_str()))
            .collect();
        assert_eq!(
            roles,
            [
                ("111111111111", "us-east-1"),
                ("222222222222", "us-east-1"),
                // No global region: the account's first region (in order).
                ("333333333333", "eu-central-1"),
            ]
        );
        for target in &covered {
            let without_roles = SWEPT_KINDS.len() - 1;
            assert!(target.types.len() >= without_roles, "{target:?}");
        }
    }
}
