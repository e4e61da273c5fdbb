//! The one HTTPS stack of a function: the TLS configuration (`tls.rs`) is built once per
//! process, from the system trust store read once, and both the AWS SDK's HTTP client
//! (`sdk_client.rs`) and corebound's own hyper clients (the ResponseURL sender, the hook's
//! payload fetch) connect with it.
//!
//! Why: the SDK's default client and `hyper_rustls::HttpsConnectorBuilder::with_native_roots`
//! each read and parse the system roots (on Debian-like systems the bundle file *and* every
//! file of `/etc/ssl/certs`). That was most of a function's init time before its first
//! `next` (issue 14: 7.6–8.9 ms), paid on every cold start.

mod sdk_client;
mod tls;

pub use sdk_client::sdk_http_client;
pub use tls::{client_config, https_connector, HttpsClient};
