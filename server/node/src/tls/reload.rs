//! The server configuration, rebuilt when one of its files changes on disk (the original's
//! #926: rotate certificates without a restart). Each new connection looks at the files'
//! modification times and sizes (three `stat`s); a changed file rebuilds the configuration
//! for that connection and the ones after it. A rebuild that fails (a key written before its
//! certificate, an expired certificate) keeps the previous configuration and logs why, once
//! per change of the files.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::Tls;
use crate::error::Result;

/// What identifies a version of a file: its modification time and size (`None`: unreadable).
type Stamp = Option<(SystemTime, u64)>;

/// The current server configuration of a node's TLS files.
pub struct ReloadingServerConfig {
    tls: Tls,
    state: Mutex<State>,
}

struct State {
    stamps: Vec<Stamp>,
    config: Arc<rustls::ServerConfig>,
    /// The stamps of the last failed rebuild, so a failure is logged once.
    failed: Option<Vec<Stamp>>,
}

impl ReloadingServerConfig {
    /// Builds the configuration from the files as they are (an error stops the start).
    pub fn new(tls: Tls) -> Result<ReloadingServerConfig> {
        let stamps = stamps(&tls);
        let config = tls.server_config()?;
        Ok(ReloadingServerConfig {
            tls,
            state: Mutex::new(State {
                stamps,
                config,
                failed: None,
            }),
        })
    }

    /// The configuration for a new connection: rebuilt first when a file changed.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        let now = stamps(&self.tls);
        let mut state = self.state.lock().expect("TLS state lock");
        if now == state.stamps || state.failed.as_ref() == Some(&now) {
            return state.config.clone();
        }
        match self.tls.server_config() {
            Ok(config) => {
                tracing::info!(ca = %self.tls.ca.display(), "TLS files changed on disk: reloaded");
                state.config = config;
                state.stamps = now;
                state.failed = None;
            }
            Err(error) => {
                tracing::warn!(%error, "TLS files changed on disk but cannot be used: keeping the previous certificates");
                state.failed = Some(now);
            }
        }
        state.config.clone()
    }
}

fn stamps(tls: &Tls) -> Vec<Stamp> {
    let stamp = |path: &Path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    let mut out = vec![stamp(&tls.ca)];
    if let Some((cert, key)) = &tls.identity {
        out.push(stamp(cert));
        out.push(stamp(key));
    }
    out
}
