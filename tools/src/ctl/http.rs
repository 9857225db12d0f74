//! The one HTTP call binlogctl makes, `PUT http://<node>/state/<id>/<action>`, through `ureq`:
//! blocking, since binlogctl makes one call and waits for it, with the original's 30 s bounds.

use std::time::Duration;

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
/// node answers refusals with a JSON envelope the caller reads.
pub fn put(url: &str) -> Result<Response, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
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
