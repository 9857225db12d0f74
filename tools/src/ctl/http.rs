//! The one HTTP call binlogctl makes, `PUT http(s)://<node>/state/<id>/<action>`, through
//! `ureq`: blocking, since binlogctl makes one call and waits for it, with the original's 30 s
//! bounds; over TLS with `-ssl-*`.

use std::time::Duration;

use binlog_node::tls::Tls;

/// How long connecting, sending the request, and then receiving the response and its body may
/// each take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A response: status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, decoded as UTF-8 (lossily).
    pub body: String,
}

/// Sends `PUT url` with an empty body and reads the whole response, whatever its status: a
/// node answers refusals with a JSON envelope the caller reads. The outer error is about the
/// TLS files (`tls`), the inner one about the call.
pub fn put(url: &str, tls: Option<&Tls>) -> binlog_node::Result<Result<Response, ureq::Error>> {
    let mut config = ureq::Agent::config_builder();
    if let Some(tls) = tls {
        config = config.tls_config(tls.http_client()?);
    }
    Ok(send(url, config))
}

fn send(
    url: &str,
    config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
) -> Result<Response, ureq::Error> {
    let agent: ureq::Agent = config
        .http_status_as_error(false)
        .timeout_connect(Some(TIMEOUT))
        .timeout_send_request(Some(TIMEOUT))
        .timeout_recv_response(Some(TIMEOUT))
        .timeout_recv_body(Some(TIMEOUT))
        .build()
        .into();
    let mut response = agent.put(url).send_empty()?;
    let body = response.body_mut().read_to_vec()?;
    Ok(Response {
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
