//! A stand-in for CloudFormation's presigned ResponseURL: records every PUT, and can be
//! scripted to answer errors first (to exercise delivery retries).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::http_server::{HttpResponse, HttpServer};

/// One PUT received at the ResponseURL.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub body: Value,
    pub status_answered: u16,
    pub at: Instant,
    pub content_type: Option<String>,
}

pub struct ResponseCapture {
    server: HttpServer,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl ResponseCapture {
    /// Answers 200 to everything.
    pub fn start() -> Self {
        Self::scripted(&[])
    }

    /// Answers the given statuses to the first PUTs, then 200.
    pub fn scripted(statuses: &[u16]) -> Self {
        let script = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&deliveries);
        let server = HttpServer::start(move |request| {
            let status = script.lock().unwrap().pop_front().unwrap_or(200);
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let content_type = request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone());
            if request.method == "PUT" {
                recorded.lock().unwrap().push(Delivery {
                    body,
                    status_answered: status,
                    at: Instant::now(),
                    content_type,
                });
            }
            HttpResponse::status(status)
        });
        ResponseCapture { server, deliveries }
    }

    /// The presigned-looking URL to put in `ResponseURL`. The signature, credential and
    /// security token are recognisable secrets so tests can assert they never appear in logs.
    pub fn url(&self) -> String {
        self.url_on_host("127.0.0.1")
    }

    /// The same URL naming the server by another host name (`localhost`), to test the
    /// ResponseURL allowlist against a server that is really there.
    pub fn url_on_host(&self, host: &str) -> String {
        format!(
            "http://{host}:{}/cfn-response/stack/resource?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={SECRET_CREDENTIAL}&X-Amz-Security-Token={SECRET_TOKEN}&X-Amz-SignedHeaders=host&X-Amz-Signature={SECRET_SIGNATURE}",
            self.server.port,
        )
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// The bodies of the PUTs that were accepted (2xx).
    pub fn accepted(&self) -> Vec<Value> {
        self.deliveries()
            .into_iter()
            .filter(|d| (200..300).contains(&d.status_answered))
            .map(|d| d.body)
            .collect()
    }
}

/// Appears in every capture URL; must never appear in a log line.
pub const SECRET_SIGNATURE: &str = "c0ffee5ecret519nature";
/// The access key part of the capture URL's `X-Amz-Credential`; never in a log line.
pub const SECRET_CREDENTIAL: &str = "ASIASECRETCRED%2F20261202%2Fus-east-1%2Fs3%2Faws4_request";
/// The capture URL's `X-Amz-Security-Token`; never in a log line.
pub const SECRET_TOKEN: &str = "IQoJSECRETt0ken%2B%2Fxyz%3D%3D";
