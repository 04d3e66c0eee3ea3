//! Reports a failed cold start to Lambda (`POST /runtime/init/error` of the Runtime API), so
//! that the invoker gets the configuration error as the invocation's error instead of only a
//! log line. `lambda_runtime` posts there only for SnapStart hooks, so this does it before
//! the process exits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Posts `{"errorType": error_type, "errorMessage": message}` to
/// `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error`.
///
/// # Errors
///
/// `AWS_LAMBDA_RUNTIME_API` unset (not running under Lambda), the Runtime API unreachable, or
/// an answer other than 202.
pub fn report(error_type: &str, message: &str) -> Result<(), String> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| "AWS_LAMBDA_RUNTIME_API is not set".to_string())?;
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(&api).map_err(|e| format!("{api}: {e}"))?;
    let timeout = Some(Duration::from_secs(5));
    stream.set_read_timeout(timeout).map_err(|e| e.to_string())?;
    stream.set_write_timeout(timeout).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| format!("{api}: {e}"))?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| format!("{api}: {e}"))?;
    let status = String::from_utf8_lossy(&head[9..12]).to_string();
    if status == "202" { Ok(()) } else { Err(format!("{api} answered HTTP {status}")) }
}
