//! Loading a node's configuration the way the original's `Config.Parse` does, the same for the
//! pump and the drainer: parse the flags (Go style) to find `-config`; read that file strictly;
//! let each flag given override the file, and the environment set each flag *not* given on the
//! command line (so the command line wins over the environment, which wins over the file); fill
//! what the original fills after parsing ([`NodeConfig::adjust`]); check everything
//! ([`NodeConfig::sanitize`]).
//!
//! The small steps both nodes take in `adjust` and `sanitize` are here too.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::command_line::{parse_command_line, version_info, ConfigError, NodeFileFlags};
use super::strict_toml::load_toml_strict;
use crate::error::{Error, Result};

/// A node's command line: clap flags that override a [`NodeConfig`].
pub trait NodeFlags: CommandFactory + FromArgMatches {
    /// The configuration the flags override.
    type Config;

    /// `-config` and `-V`.
    fn file_flags(&self) -> &NodeFileFlags;

    /// Overrides `config` with every flag given (on the command line or through the
    /// environment). Implementations destructure `self` so that a new flag cannot be forgotten.
    fn apply(self, config: &mut Self::Config) -> Result<()>;
}

/// A node's configuration: its TOML file's contents, the flags that override it, and the
/// original's checks.
pub trait NodeConfig: Default + DeserializeOwned + Serialize {
    /// The name the original gives the node in config file errors (`pump`).
    const COMPONENT: &'static str;
    /// The prefix of the environment variables that stand in for flags (`PUMP`).
    const ENV_PREFIX: &'static str;
    /// The node's flags.
    type Flags: NodeFlags<Config = Self>;
    /// Flags never taken from the environment besides `-config` and `-V`: one-shot actions,
    /// which a variable left set would repeat on every start.
    const FLAGS_NOT_FROM_ENV: &'static [&'static str] = &[];

    /// Keeps `(variable, value)` of each environment variable used, for the binary to log.
    fn set_env_used(&mut self, env_used: Vec<(String, String)>);

    /// Fills what the original fills after parsing (empty values take their defaults).
    fn adjust(&mut self);

    /// Checks every value. Errors are [`Error::InvalidConfig`].
    fn sanitize(&self) -> Result<()>;
}

/// Loads `C` from `args` (the program name first, as `std::env::args()`), the environment seen
/// through `env` (e.g. `|key| std::env::var(key).ok()`) and the file `-config` names, with the
/// original's precedence; then adjusts and sanitizes it.
///
/// `Err(ConfigError::Print(text))` for `--help` and `-V`: print it and exit 0.
/// `Err(ConfigError::Invalid(error))` for anything wrong: print it and exit 2.
/// [`ConfigError::exit`] does both.
pub fn load<C: NodeConfig>(
    args: Vec<String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<C, ConfigError> {
    // The original reads the environment after it has used -config and -V.
    let not_from_env: Vec<&str> = ["config", "V"]
        .into_iter()
        .chain(C::FLAGS_NOT_FROM_ENV.iter().copied())
        .collect();
    let line = parse_command_line(
        &C::Flags::command(),
        args,
        C::ENV_PREFIX,
        env,
        &not_from_env,
    )?;
    let flags = C::Flags::from_arg_matches(&line.matches)?;
    if flags.file_flags().version.asked() {
        return Err(ConfigError::Print(version_info()));
    }
    let file = flags.file_flags().config.as_deref();
    let file = file.filter(|path| !path.is_empty());
    let mut config = match file {
        Some(path) => load_toml_strict::<C>(C::COMPONENT, Path::new(path))?,
        None => C::default(),
    };
    flags.apply(&mut config)?;
    config.set_env_used(line.env_used);
    config.adjust();
    config.sanitize()?;
    Ok(config)
}

/// Sets `field` to `value` when a flag gave one.
pub fn replace<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Sets a path field from a flag. Path flags are `OsString`s because clap refuses an empty
/// `PathBuf`, which Go takes (and `adjust` then treats as unset).
pub fn replace_path(field: &mut PathBuf, value: Option<OsString>) {
    replace(field, value.map(PathBuf::from));
}

/// An empty string or path counts as unset, as in the original (`-node-id=`, `-log-file=`).
pub fn empty_to_none<T: AsRef<OsStr>>(value: &mut Option<T>) {
    if value.as_ref().is_some_and(|text| text.as_ref().is_empty()) {
        *value = None;
    }
}

/// An empty path takes `default`, as the original's `data-dir`.
pub fn default_if_empty(path: &mut PathBuf, default: &str) {
    if path.as_os_str().is_empty() {
        *path = PathBuf::from(default);
    }
}

/// Refuses a Prometheus pushgateway (`-metrics-addr` with a non-zero `-metrics-interval`, the
/// original's condition for pushing): this build only serves `/metrics` to be scraped.
pub fn check_no_metrics_push(metrics_addr: Option<&str>, metrics_interval: i64) -> Result<()> {
    match metrics_addr {
        Some(address) if metrics_interval != 0 => Err(Error::InvalidConfig(format!(
            "-metrics-addr {address}: pushing metrics to a Prometheus pushgateway is not \
             supported by this build; leave -metrics-addr empty and scrape \
             http://<addr>/metrics instead"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let mut text = Some(String::new());
        empty_to_none(&mut text);
        assert_eq!(text, None);
        let mut path = Some(PathBuf::from("/log"));
        empty_to_none(&mut path);
        assert_eq!(path.as_deref(), Some(Path::new("/log")));

        let mut dir = PathBuf::new();
        default_if_empty(&mut dir, "data.node");
        assert_eq!(dir, Path::new("data.node"));
        replace_path(&mut dir, Some(OsString::new()));
        assert_eq!(dir, Path::new(""));
    }

    #[test]
    fn only_a_push_interval_makes_a_metrics_address_an_error() {
        assert!(check_no_metrics_push(None, 15).is_ok());
        assert!(check_no_metrics_push(Some("10.0.0.1:9091"), 0).is_ok());
        let error = check_no_metrics_push(Some("10.0.0.1:9091"), 15).unwrap_err();
        assert!(error.to_string().contains("scrape"), "{error}");
    }
}
