//! The process's TLS client configuration, built once.

use std::sync::{Arc, OnceLock};

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::{ClientConfig, RootCertStore};

/// A hyper client over [`https_connector`], generic over the request body.
pub type HttpsClient<B> = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, B>;

static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// The TLS configuration every HTTPS connection of this process uses: the system trust
/// store ([`load_roots`]) with aws-lc-rs, TLS 1.2 and 1.3. Loaded on first use and
/// shared afterwards; the functions call it during init so the cost is paid there, once.
pub fn client_config() -> Arc<ClientConfig> {
    Arc::clone(CONFIG.get_or_init(|| Arc::new(build())))
}

/// The platform CA bundles, the file OpenSSL reads by default (`CAfile`), first found wins:
/// Amazon Linux 2023 (Lambda's `provided.al2023`) and other RHEL-like systems,
/// Debian/Ubuntu/Alpine, the extracted p11-kit bundle, SUSE.
const BUNDLES: [&str; 4] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The system's root certificates.
///
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`, when set, name exactly what is loaded (as
/// `rustls-native-certs` does). Otherwise the platform bundle file alone: it is what the
/// distribution's CA tooling (`update-ca-trust`, `update-ca-certificates`) generates from the
/// trusted set. `rustls_native_certs::load_native_certs` would also read every file of the
/// hashed directory beside it (`/etc/ssl/certs`: ~300 files here, the same certificates
/// again plus stray self-signed ones such as `ssl-cert-snakeoil.pem`), which took ~10 times
/// as long as the bundle (measured: 7.9 ms against 0.75 ms, debug build). Without any bundle,
/// the full probe.
fn load_roots() -> rustls_native_certs::CertificateResult {
    let explicit = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !explicit {
        if let Some(bundle) = BUNDLES
            .iter()
            .map(std::path::Path::new)
            .find(|p| p.is_file())
        {
            let loaded = rustls_native_certs::load_certs_from_paths(Some(bundle), None);
            if !loaded.certs.is_empty() {
                return loaded;
            }
        }
    }
    rustls_native_certs::load_native_certs()
}

fn build() -> ClientConfig {
    let loaded = load_roots();
    for error in &loaded.errors {
        tracing::warn!(%error, "a system root certificate could not be read");
    }
    let mut roots = RootCertStore::empty();
    let (valid, invalid) = roots.add_parsable_certificates(loaded.certs);
    if valid == 0 {
        // Every https call will fail certificate verification; say why once, up front.
        tracing::error!(
            invalid,
            "no usable system root certificate: https connections will fail (set SSL_CERT_FILE?)"
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // aws-lc-rs always supports the default versions; this branch only satisfies the type.
        Err(error) => {
            tracing::error!(%error, "the TLS provider rejected the default protocol versions");
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth()
        }
    }
}

/// An `https` (and plain `http`, for local endpoints) connector over [`client_config`],
/// HTTP/1.1 only, TCP_NODELAY on (small request bodies, see the SDK's own default).
pub fn https_connector(
    connect_timeout: Option<std::time::Duration>,
) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    HttpsConnectorBuilder::new()
        .with_tls_config((*client_config()).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_roots_are_found() {
        // Every machine corebound is built or tested on has a CA bundle.
        assert!(load_roots().certs.len() > 10);
    }

    #[test]
    fn the_configuration_is_built_once() {
        let first = client_config();
        let second = client_config();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
