//! Reporting a start-up failure to the Lambda Runtime API (`POST /runtime/init/error`).
//!
//! `lambda_runtime` reports only its own (SnapStart) init failures, and an invalid
//! configuration is detected before the runtime starts. Without this report Lambda would
//! only see the process exit; with it, the invocation fails with the message naming the
//! variable, as Lambda shows for any runtime's init error. Plain HTTP/1.1 on the loopback
//! address Lambda gives in `AWS_LAMBDA_RUNTIME_API`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ERROR_TYPE: &str = "Runtime.InvalidConfiguration";

/// Best effort: logs (and otherwise ignores) a failure to report.
pub async fn report(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return; // not running under a Lambda Runtime API
    };
    let body = serde_json::json!({"errorType": ERROR_TYPE, "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {ERROR_TYPE}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let send = async {
        let mut stream = TcpStream::connect(api.as_str()).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&status).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(5), send).await {
        Ok(Ok(status)) if status.starts_with("HTTP/1.1 2") => {}
        Ok(Ok(status)) => tracing::error!(%status, "the Runtime API refused the init error"),
        Ok(Err(error)) => tracing::error!(%error, "could not report the init error"),
        Err(_) => tracing::error!("reporting the init error timed out"),
    }
}
