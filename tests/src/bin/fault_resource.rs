//! A custom resource built on the corebound protocol whose behaviour is chosen by its
//! `Behaviour` property, so the fault-matrix test can drive every path through a real
//! binary and a real Runtime API: `succeed`, `fail` (an AWS-style error), `panic`, `overrun`
//! (sleeps past the deadline), `big-data` (return values over the 4096-byte limit), and
//! `log` (logs its `Name` property at every level, for the log-redaction test).
//!
//! Its one setting, `FAULT_LIMIT` (a whole number, unused otherwise), goes through
//! `custom_resource::serve` like the real functions' settings do.

use std::time::Duration;

use corebound::custom_resource::{self, CustomResource, Outcome, Request};
use corebound::{Error, Result};

struct FaultResource;

fn behave(request: &Request) -> Result<String> {
    let mut reader = request.properties.reader(&request.resource_type);
    let behaviour = reader.required_string(
        "Behaviour",
        "succeed, fail, panic, overrun, big-data or log",
    )?;
    reader.string("Name")?;
    reader.finish()?;
    Ok(behaviour)
}

impl FaultResource {
    async fn act(&self, request: &Request) -> Result<Outcome> {
        match behave(request)?.as_str() {
            "succeed" => Ok(
                Outcome::new(format!("fault-{}", request.logical_resource_id)).with("Answer", "42"),
            ),
            "fail" => Err(Error::aws(
                "PutThing",
                "AccessDenied: the function's role may not call PutThing",
            )),
            "panic" => panic!("deliberate panic for the fault matrix"),
            "overrun" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Outcome::new("never"))
            }
            "big-data" => Ok(Outcome::new("big").with("Blob", "x".repeat(5000))),
            "log" => {
                let name = request
                    .properties
                    .get("Name")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                lambda_runtime::tracing::trace!(name = %name, "the Name property, at TRACE");
                lambda_runtime::tracing::debug!("the Name property, at DEBUG: {name}");
                lambda_runtime::tracing::info!(?name, "the Name property, at INFO");
                lambda_runtime::tracing::error!(name = %name, "the Name property, at ERROR");
                Ok(Outcome::new(format!(
                    "fault-{}",
                    request.logical_resource_id
                )))
            }
            other => Err(Error::invalid(
                "Behaviour",
                format!("{other:?}"),
                "succeed, fail, panic, overrun, big-data or log",
            )),
        }
    }
}

impl CustomResource for FaultResource {
    async fn create(&self, request: &Request) -> Result<Outcome> {
        self.act(request).await
    }

    async fn update(&self, request: &Request) -> Result<Outcome> {
        self.act(request).await
    }

    async fn delete(&self, request: &Request) -> Result<()> {
        self.act(request).await.map(|_| ())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), lambda_runtime::Error> {
    corebound::logging::init();
    let resource = match std::env::var("FAULT_LIMIT") {
        Ok(raw) if raw.trim().parse::<u32>().is_err() => {
            Err(Error::setting("FAULT_LIMIT", &raw, "a whole number"))
        }
        _ => Ok(FaultResource),
    };
    custom_resource::serve(resource).await
}
