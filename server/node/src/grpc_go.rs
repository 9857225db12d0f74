//! gRPC statuses as grpc-go words them, where tonic words them differently and clients read
//! the words: TiDB's pump client returns at once (no retry) on an error whose text contains
//! `ResourceExhausted`, and reports `binlog data is too large` when it contains
//! `message larger than max`. tonic answers an oversized request with `OUT_OF_RANGE`
//! `Error, decoded message length too large: found N bytes, the limit is: M bytes`; grpc-go
//! (the original pump) with `RESOURCE_EXHAUSTED`
//! `grpc: received message larger than max (N vs. M)`.
//!
//! The rewrite works on the trailers-only response tonic sends for a request it refuses before
//! any handler runs: the status is in the headers.

use axum::http::{HeaderValue, Response};

/// tonic's text for a request above the decoding limit, up to the numbers.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large: found ";

/// `grpc-status` of `OUT_OF_RANGE` and `RESOURCE_EXHAUSTED`.
const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";

/// Rewrites tonic's oversized-request status to grpc-go's; every other response passes as is.
pub fn oversize_as_grpc_go<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers();
    if headers.get("grpc-status").map(HeaderValue::as_bytes) != Some(OUT_OF_RANGE.as_bytes()) {
        return response;
    }
    let Some(words) = headers
        .get("grpc-message")
        .and_then(|message| message.to_str().ok())
        .and_then(grpc_go_words)
    else {
        return response;
    };
    let headers = response.headers_mut();
    headers.insert("grpc-status", HeaderValue::from_static(RESOURCE_EXHAUSTED));
    if let Ok(value) = HeaderValue::from_str(&words) {
        headers.insert("grpc-message", value);
    }
    response
}

/// grpc-go's words for tonic's (percent-encoded) oversize message, `None` for any other.
fn grpc_go_words(message: &str) -> Option<String> {
    // Spaces may arrive percent-encoded; the digits and words never need it.
    let message = message.replace("%20", " ");
    let rest = message.strip_prefix(TONIC_TOO_LARGE)?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    let (found, limit): (u64, u64) = (found.parse().ok()?, limit.parse().ok()?);
    Some(format!(
        "grpc: received message larger than max ({found} vs. {limit})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: &str, message: &str) -> Response<()> {
        let mut response = Response::new(());
        let headers = response.headers_mut();
        headers.insert("grpc-status", HeaderValue::from_str(status).unwrap());
        headers.insert("grpc-message", HeaderValue::from_str(message).unwrap());
        response
    }

    fn status_and_message(response: &Response<()>) -> (&str, &str) {
        let header = |name| response.headers()[name].to_str().unwrap();
        (header("grpc-status"), header("grpc-message"))
    }

    #[test]
    fn tonics_oversize_status_becomes_grpc_gos() {
        for message in [
            "Error, decoded message length too large: found 8210 bytes, the limit is: 4096 bytes",
            "Error,%20decoded%20message%20length%20too%20large:%20found%208210%20bytes,%20the%20limit%20is:%204096%20bytes",
        ] {
            let rewritten = oversize_as_grpc_go(response("11", message));
            assert_eq!(
                status_and_message(&rewritten),
                ("8", "grpc: received message larger than max (8210 vs. 4096)")
            );
        }
    }

    #[test]
    fn every_other_status_passes_unchanged() {
        for (status, message) in [
            ("11", "some other range error"),
            (
                "2",
                "Error, decoded message length too large: found 1 bytes, the limit is: 0 bytes",
            ),
            (
                "11",
                "Error, decoded message length too large: found x bytes, the limit is: 0 bytes",
            ),
        ] {
            let passed = oversize_as_grpc_go(response(status, message));
            assert_eq!(status_and_message(&passed), (status, message));
        }
        let plain = oversize_as_grpc_go(Response::new(()));
        assert!(plain.headers().is_empty());
    }
}
