//! The remediator's effects (observe, apply, alerts, retries) as a library, so that every
//! entry point that remediates (the EventBridge handler in `main.rs`, the scheduled sweep, the
//! `corebound` command) runs the same code. The decisions stay in `corebound::remediation`.

pub mod account_settings;
pub mod alerts;
pub mod apply;
pub mod bucket_tags;
pub mod clients;
pub mod deferral;
pub mod handler;
pub mod init_error;
pub mod observe;
pub mod project_key;
pub mod retry;
pub mod sweep;
pub mod targets;
