//! The AWS SDK's HTTP client, over the process's one TLS configuration.
//!
//! `aws-smithy-http-client` cannot be handed a rustls configuration (its trust store is
//! either the native roots, which it loads itself, or PEM it parses again), so the SDK gets
//! this small `HttpClient` instead: a hyper 1 client over [`super::https_connector`], with
//! the SDK's connect and read timeouts applied and hyper's errors classified the way the
//! SDK's own client does, so its retry strategy sees the same I/O, timeout and transient
//! errors.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::tls::{https_connector, HttpsClient};

/// The SDK HTTP client for `aws_config::ConfigLoader::http_client`.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(SharedTlsClient::default())
}

/// (connect timeout, read timeout): the settings a connector is built for.
type Key = (Option<Duration>, Option<Duration>);

/// One connector (and connection pool) per timeout setting, as the SDK's own client keeps.
#[derive(Debug, Default)]
struct SharedTlsClient {
    connectors: Mutex<HashMap<Key, SharedHttpConnector>>,
}

impl HttpClient for SharedTlsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(key)))
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

#[derive(Clone)]
struct Connector {
    client: HttpsClient<SdkBody>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    fn new((connect_timeout, read_timeout): Key) -> Self {
        let mut builder = Client::builder(TokioExecutor::new());
        // The pool needs a timer to expire idle connections.
        builder.pool_timer(TokioTimer::new());
        Connector {
            client: builder.build(https_connector(connect_timeout)),
            read_timeout,
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                None => response.await,
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(response) => response,
                    Err(_) => {
                        return Err(ConnectorError::timeout(
                            format!("no response within the read timeout of {limit:?}").into(),
                        ))
                    }
                },
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(classify(error)),
            }
        })
    }
}

/// The SDK's own classification of hyper errors (aws-smithy-http-client `downcast_error`):
/// connect and I/O failures and closed connections are retryable I/O errors, hyper
/// timeouts are timeouts, an incomplete message (seen from S3) is transient.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    let kind = match find_source::<hyper::Error>(&error) {
        Some(hyper) if hyper.is_timeout() => Kind::Timeout,
        Some(hyper) if hyper.is_user() => Kind::User,
        Some(hyper)
            if hyper.is_closed()
                || hyper.is_canceled()
                || find_source::<std::io::Error>(hyper).is_some() =>
        {
            Kind::Io
        }
        Some(hyper) if hyper.is_incomplete_message() => Kind::Transient,
        Some(_) => Kind::Other,
        None if find_source::<std::io::Error>(&error).is_some() => Kind::Io,
        None => Kind::Other,
    };
    let error: BoxError = error.into();
    match kind {
        Kind::Timeout => ConnectorError::timeout(error),
        Kind::User => ConnectorError::user(error),
        Kind::Io => ConnectorError::io(error),
        Kind::Transient => ConnectorError::other(error, Some(ErrorKind::TransientError)),
        Kind::Other => ConnectorError::other(error, None),
    }
}

enum Kind {
    Timeout,
    User,
    Io,
    Transient,
    Other,
}

fn find_source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}
