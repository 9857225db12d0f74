//! gRPC and HTTP on one port, as the original does with cmux: gRPC requests (HTTP/2, routed by
//! their `/<package>.<Service>/<Method>` paths) go to tonic, everything else to the HTTP routes.
//! Also the JSON reply helpers every HTTP route shares.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use serde::Serialize;

/// How long a shutdown waits for open connections (pull streams end at once) before dropping them.
pub const GRACEFUL_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `listen` (`host:port`); returns the listener and the port it got (for `:0`).
pub async fn bind(listen: &str) -> crate::Result<(tokio::net::TcpListener, u16)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| crate::Error::io("cannot listen on", listen, e))?;
    let port = listener
        .local_addr()
        .map_err(|e| crate::Error::io("cannot read the address of", listen, e))?
        .port();
    Ok((listener, port))
}

/// One router for both protocols: gRPC paths to `grpc` (its statuses worded as grpc-go words
/// them where clients read the words, see [`crate::grpc_go`]), the rest to `http`, and the
/// original's 404 body for anything else.
pub fn one_port_app(grpc: tonic::service::Routes, http: Router) -> Router {
    grpc.into_axum_router()
        .layer(axum::middleware::map_response(
            |response: Response| async move { crate::grpc_go::oversize_as_grpc_go(response) },
        ))
        .merge(http)
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
}

/// Serves `app` on a node's TCP port until `shutdown` resolves: over TLS only when `tls` is
/// given (`[security] ssl-ca`), in plain text otherwise; `TCP_NODELAY` on every connection
/// (small gRPC replies must not wait for Nagle and delayed ACKs).
pub async fn serve_port(
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<crate::tls::ReloadingServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config)?;
            serve(listener, app, shutdown).await
        }
        None => {
            let listener = listener.tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            });
            serve(listener, app, shutdown).await
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits up to
/// [`GRACEFUL_STOP_TIMEOUT`] for requests in flight.
pub async fn serve<L: Listener>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L::Addr: std::fmt::Debug,
{
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopped_tx.send(());
    });
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        _ = stopped_rx => {}
    }
    match tokio::time::timeout(GRACEFUL_STOP_TIMEOUT, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("connections still open after the graceful-stop timeout; closing them");
            Ok(())
        }
    }
}

/// A compact JSON reply with a trailing newline (as Go's `json.Encoder` writes),
/// `Content-Type: application/json`.
pub fn json_response<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(mut body) => {
            body.push('\n');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the reply: {error}\n"),
        )
            .into_response(),
    }
}

/// The original's `util.Response`: `{"message":..,"code":..,"data":null}`, indented by two
/// spaces, answered with HTTP 200 whatever the code.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ApiResponse {
    /// What happened.
    pub message: String,
    /// 200 on success, 3 on a refused request.
    pub code: i32,
    /// Payload, `null` for state changes.
    pub data: serde_json::Value,
}

impl ApiResponse {
    /// A success (`code` 200).
    pub fn success(message: String) -> ApiResponse {
        ApiResponse {
            message,
            code: 200,
            data: serde_json::Value::Null,
        }
    }

    /// A refusal (`code` 3).
    pub fn failure(message: String) -> ApiResponse {
        ApiResponse {
            message,
            code: 3,
            data: serde_json::Value::Null,
        }
    }
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let mut body = serde_json::to_string_pretty(&self).unwrap_or_default();
        body.push('\n');
        (
            [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
            body,
        )
            .into_response()
    }
}
