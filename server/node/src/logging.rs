//! `tracing` set up from the original's `-L` (log level) and `-log-file` options.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result};

/// Crates whose debug output is transport chatter (one line per HTTP/2 frame); they stay at
/// `info` under `-L debug` so that debug shows the server's own decisions, like the original.
const CHATTY_CRATES: [&str; 5] = ["h2", "hyper", "hyper_util", "tower", "tonic"];

/// The level named `name`, as the original's logger (zap) names them: `debug`, `info`, `warn`,
/// `error`, and `fatal` (also `panic`, `dpanic`), which log at `error` here. Case is ignored;
/// an empty name means `info`, as in zap.
pub fn parse_level(name: &str) -> Result<LevelFilter> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Ok(LevelFilter::DEBUG),
        "" | "info" => Ok(LevelFilter::INFO),
        "warn" => Ok(LevelFilter::WARN),
        "error" | "dpanic" | "panic" | "fatal" => Ok(LevelFilter::ERROR),
        _ => Err(Error::InvalidConfig(format!(
            "invalid log level {name:?}: expected debug, info, warn, error or fatal"
        ))),
    }
}

/// Installs the global subscriber: events at `level` and above go to `log_file` (appended to,
/// created with its directory if missing) or, without one, to stderr. Records of the `log`
/// crate are forwarded too. Fails on an unknown level, an unopenable file, or when a global
/// subscriber is already installed.
pub fn init(level: &str, log_file: Option<&Path>) -> Result<()> {
    build(level, log_file)?
        .try_init()
        .map_err(|error| Error::InvalidConfig(format!("cannot set up logging: {error}")))
}

/// The subscriber [`init`] installs, separate so that tests can use it locally.
fn build(
    level: &str,
    log_file: Option<&Path>,
) -> Result<impl tracing::Subscriber + Send + Sync + 'static> {
    let level = parse_level(level)?;
    let chatty_level = level.min(LevelFilter::INFO);
    let mut directives = level.to_string();
    for name in CHATTY_CRATES {
        directives.push_str(&format!(",{name}={chatty_level}"));
    }
    let filter = EnvFilter::try_new(&directives)
        .map_err(|error| Error::InvalidConfig(format!("log filter {directives:?}: {error}")))?;
    let (writer, ansi) = match log_file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| Error::io("cannot create log directory", dir, source))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::io("cannot open log file", path, source))?;
            (BoxMakeWriter::new(Mutex::new(file)), false)
        }
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    Ok(tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .finish())
}

/// Starts logging for a binary and logs what its configuration came from: the version, each
/// flag taken from the environment, each deprecated flag ignored.
pub fn start(
    component: &str,
    level: &str,
    log_file: Option<&Path>,
    env_used: &[(String, String)],
    deprecated_flags: &[String],
) -> Result<()> {
    init(level, log_file)?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting {component}");
    for (key, value) in env_used {
        tracing::info!(%key, %value, "flag taken from the environment");
    }
    for flag in deprecated_flags {
        tracing::warn!(%flag, "deprecated flag ignored");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_named_like_the_original() {
        assert_eq!(parse_level("debug").unwrap(), LevelFilter::DEBUG);
        assert_eq!(parse_level("INFO").unwrap(), LevelFilter::INFO);
        assert_eq!(parse_level("").unwrap(), LevelFilter::INFO);
        assert_eq!(parse_level("warn").unwrap(), LevelFilter::WARN);
        assert_eq!(parse_level("error").unwrap(), LevelFilter::ERROR);
        assert_eq!(parse_level("fatal").unwrap(), LevelFilter::ERROR);
        let error = parse_level("verbose").unwrap_err();
        assert!(matches!(error, Error::InvalidConfig(_)));
        assert!(error.to_string().contains("\"verbose\""), "{error}");
        // Rejected before anything global is touched.
        assert!(init("loud", None)
            .unwrap_err()
            .to_string()
            .contains("\"loud\""));
    }

    #[test]
    fn logs_append_to_the_file_at_the_level() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/pump.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "earlier line\n").unwrap();
        let subscriber = build("warn", Some(&path)).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not at warn");
            tracing::warn!(answer = 42, "kept");
            tracing::debug!(target: "h2", "frame chatter");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier line\n"), "{text}");
        assert!(
            text.contains("kept") && text.contains("answer=42"),
            "{text}"
        );
        assert!(
            !text.contains("not at warn") && !text.contains('\u{1b}'),
            "{text}"
        );

        // The directory is created; chatty crates stay at info under debug.
        let nested = dir.path().join("new/dir/pump.log");
        let subscriber = build("debug", Some(&nested)).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("own debug");
            tracing::debug!(target: "h2", "frame chatter");
            tracing::info!(target: "h2", "connection info");
        });
        let text = std::fs::read_to_string(&nested).unwrap();
        assert!(
            text.contains("own debug") && text.contains("connection info"),
            "{text}"
        );
        assert!(!text.contains("frame chatter"), "{text}");

        let blocked = dir.path().join("logs/pump.log/inside");
        assert!(matches!(
            build("info", Some(&blocked)),
            Err(Error::Io { .. })
        ));
    }
}
