//! corebound: the library every corebound Lambda uses.
//!
//! Pure decision logic lives here as plain functions on values (ARNs, policy documents,
//! tag and encryption rules, the CloudFormation custom-resource protocol); the functions
//! under `functions/` stay thin and only wire AWS clients to it.

pub mod accounts;
pub mod agentcore_actions;
pub mod arn;
pub mod aws;
pub mod custom_resource;
pub mod doctor;
pub mod error;
pub mod grants;
pub mod http;
pub mod iam_evaluation;
pub mod lambda_raw;
pub mod logging;
pub mod policy_compare;
pub mod policy_document;
pub mod preflight;
pub mod remediation;
pub mod runtime_policy;
pub mod scope;
pub mod sweep;
pub mod template;

pub use error::{Error, Result};
