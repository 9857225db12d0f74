//! Go-style command lines and the original's configuration precedence, shared by the pump and
//! drainer binaries.
//!
//! The original binaries use Go's `flag` package, which accepts `-addr x`, `-addr=x`, `--addr x`
//! and `--addr=x` alike, and single-letter flags such as `-L debug`. [`normalize_args`] rewrites
//! such a command line into the canonical form clap parses (`--addr=x`, `-L=debug`), and
//! [`parse_command_line`] adds the environment: a flag not given on the command line is taken
//! from `<PREFIX>_<FLAG>` (upper case, `-` → `_`), so the environment wins over the config file
//! and the command line wins over both. [`load_toml_strict`] reads the config file and rejects
//! unknown keys with the original's message.
//!
//! A Go bool flag (`-enable-debug` alone means true, `-enable-debug=false` is accepted) is
//! declared on an `Option<bool>` field as
//! `#[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
//! value_parser = parse_go_bool)]`: the value is optional and must be attached with `=`, so
//! `-enable-debug false` leaves `false` as a stray argument, as in Go.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Why loading a configuration did not produce one.
///
/// A binary prints [`ConfigError::Print`] to stdout and exits 0, and prints
/// [`ConfigError::Invalid`] to stderr and exits 2, as the original does; [`ConfigError::exit`]
/// does exactly that.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--help` or `-V` was given: the text to print.
    #[error("{0}")]
    Print(String),
    /// A bad flag, environment variable, config file or value.
    #[error(transparent)]
    Invalid(#[from] Error),
}

impl ConfigError {
    /// The process exit status for this outcome: 0 for [`ConfigError::Print`], 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Print(_) => 0,
            ConfigError::Invalid(_) => 2,
        }
    }

    /// Prints the text where it belongs and exits the process with [`ConfigError::exit_code`].
    pub fn exit(self) -> ! {
        let code = self.exit_code();
        match self {
            ConfigError::Print(text) => println!("{}", text.trim_end()),
            ConfigError::Invalid(error) => eprintln!("{error}"),
        }
        std::process::exit(code)
    }
}

impl From<clap::Error> for ConfigError {
    fn from(error: clap::Error) -> ConfigError {
        let text = error.render().to_string();
        match error.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigError::Print(text),
            _ => ConfigError::Invalid(Error::InvalidConfig(text.trim_end().to_owned())),
        }
    }
}

/// Rewrites a Go-style argv (program name first) into the form clap parses.
///
/// A word of one or two dashes followed by a name that starts with a letter is a flag: a name of
/// two or more characters becomes `--name`, a single letter `-n`, and `=value` is kept. When the
/// flag takes a value (per `command`) and none is attached, the next word is attached as
/// `=value` whatever it looks like, because Go's `flag` takes it verbatim (`-log-file -x` sets
/// `-x`); this also keeps values such as `-1` from being read as flags. Everything after `--`
/// is left alone. Unknown flags are left for clap to reject.
pub fn normalize_args(command: &Command, args: Vec<String>) -> Vec<String> {
    let mut command = command.clone();
    command.build();
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.into_iter();
    out.extend(words.next());
    while let Some(word) = words.next() {
        if word == "--" {
            out.push(word);
            out.extend(words);
            break;
        }
        let Some(body) = flag_body(&word) else {
            out.push(word);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let dashed = dashed(name);
        match value {
            Some(value) => out.push(format!("{dashed}={value}")),
            None if takes_separate_value(&command, name) => match words.next() {
                Some(value) => out.push(format!("{dashed}={value}")),
                None => out.push(dashed),
            },
            None => out.push(dashed),
        }
    }
    out
}

/// The flag text after one or two dashes, when `word` is a flag in Go's sense.
fn flag_body(word: &str) -> Option<&str> {
    let body = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    body.starts_with(|c: char| c.is_ascii_alphabetic())
        .then_some(body)
}

/// `--name` for a long flag, `-n` for a single letter.
fn dashed(name: &str) -> String {
    if name.chars().count() == 1 {
        format!("-{name}")
    } else {
        format!("--{name}")
    }
}

/// Whether flag `name` needs a value, which Go then takes from the next word when not attached.
fn takes_separate_value(command: &Command, name: &str) -> bool {
    command
        .get_arguments()
        .find(|arg| flag_name(arg).as_deref() == Some(name))
        .is_some_and(|arg| {
            arg.get_action().takes_values()
                && arg
                    .get_num_args()
                    .is_none_or(|range| range.min_values() > 0)
        })
}

/// The name a flag is written with: its long name, else its short letter.
fn flag_name(arg: &clap::Arg) -> Option<String> {
    arg.get_long()
        .map(str::to_owned)
        .or_else(|| arg.get_short().map(String::from))
}

/// The environment variable for flag `name`: `PUMP` and `data-dir` give `PUMP_DATA_DIR`.
pub fn env_key(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.replace('-', "_").to_uppercase())
}

/// A parsed command line with the environment folded in.
#[derive(Debug)]
pub struct CommandLine {
    /// The matches; a flag taken from the environment looks as if given on the command line.
    pub matches: ArgMatches,
    /// `(variable, value)` for each environment variable used, for the binary to log (the
    /// original logs "recognized and used environment variable").
    pub env_used: Vec<(String, String)>,
}

/// Parses a Go-style `args` (program name first) with `command`, then applies the environment.
///
/// Every flag not given on the command line, and not named in `not_from_env`, is set from
/// `env(<env_prefix>_<FLAG>)` when that is set and non-empty. The original reads the environment
/// only after it has used `-config` and `-V`, so those two are passed in `not_from_env`. A flag
/// given twice takes the last value, as in Go.
pub fn parse_command_line(
    command: &Command,
    args: Vec<String>,
    env_prefix: &str,
    env: impl Fn(&str) -> Option<String>,
    not_from_env: &[&str],
) -> Result<CommandLine, ConfigError> {
    let mut command = command.clone().args_override_self(true);
    command.build();
    let mut args = normalize_args(&command, args);
    if args.is_empty() {
        args.push(command.get_name().to_owned());
    }
    let matches = command.clone().try_get_matches_from(&args)?;

    let mut from_env = Vec::new();
    let mut env_used = Vec::new();
    for arg in command.get_arguments() {
        let builtin = matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        );
        let Some(name) = flag_name(arg) else { continue };
        if builtin
            || not_from_env.contains(&name.as_str())
            || matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
        {
            continue;
        }
        let key = env_key(env_prefix, &name);
        let Some(value) = env(&key).filter(|value| !value.is_empty()) else {
            continue;
        };
        let flag = format!("{}={value}", dashed(&name));
        // Checked alone so that a bad value is reported under the variable's name rather than
        // as a flag the user never typed.
        if let Err(error) = command
            .clone()
            .try_get_matches_from([args[0].clone(), flag.clone()])
        {
            let rendered = error.render().to_string();
            let reason = rendered.lines().next().unwrap_or_default();
            return Err(Error::InvalidConfig(format!(
                "invalid environment value {value:?} for {key}: {}",
                reason.trim_start_matches("error: ")
            ))
            .into());
        }
        from_env.push(flag);
        env_used.push((key, value));
    }
    if from_env.is_empty() {
        return Ok(CommandLine { matches, env_used });
    }
    // Inserted before any `--` so that they stay flags.
    args.splice(1..1, from_env);
    let matches = command.try_get_matches_from(&args)?;
    Ok(CommandLine { matches, env_used })
}

/// Reads the TOML file at `path` into `T`, strictly.
///
/// Keys `T` does not know are an error listing all of them as dotted paths, worded like the
/// original: `component <component>'s config file <path> contained unknown configuration
/// options: <k, ...>`. Unknown keys are found by comparing the file's keys with `T` serialised
/// back, so `T` must serialise every key it deserialises (`#[serde(skip)]` fields are flag-only
/// and count as unknown in a file, like the original's untagged fields).
pub fn load_toml_strict<T: DeserializeOwned + Serialize>(
    component: &str,
    path: &Path,
) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::io("cannot read config file", path, source))?;
    parse_toml_strict(component, path, &text)
}

/// [`load_toml_strict`] on text already read from `path`.
fn parse_toml_strict<T: DeserializeOwned + Serialize>(
    component: &str,
    path: &Path,
    text: &str,
) -> Result<T> {
    let file = path.display();
    let invalid = |detail: String| {
        Error::InvalidConfig(format!(
            "component {component}'s config file {file}: {detail}"
        ))
    };
    // Parsed into `T` straight from the text so that type errors carry line and column.
    let config: T = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let input: toml::Table = text.parse().map_err(|error| invalid(format!("{error}")))?;
    let known = toml::Table::try_from(&config)
        .map_err(|error| invalid(format!("cannot list the known keys: {error}")))?;
    let mut unknown = Vec::new();
    collect_unknown_keys(&input, &known, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "component {component}'s config file {file} contained unknown configuration options: {}",
            unknown.join(", ")
        )));
    }
    Ok(config)
}

/// Appends to `out` the dotted path of every key of `input` missing from `known`.
fn collect_unknown_keys(
    input: &toml::Table,
    known: &toml::Table,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for (key, value) in input {
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path = if bare {
            format!("{prefix}{key}")
        } else {
            format!("{prefix}{key:?}")
        };
        match (known.get(key), value) {
            (None, _) => out.push(path),
            (Some(toml::Value::Table(known)), toml::Value::Table(input)) => {
                collect_unknown_keys(input, known, &format!("{path}."), out)
            }
            (Some(_), _) => {}
        }
    }
}

/// Parses a bool the way Go's `strconv.ParseBool` does (`1`, `t`, `true`, `TRUE`, `True`, ...).
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {text:?}")),
    }
}

/// Parses an integer the way Go's `flag.Int` does (`strconv.ParseInt(s, 0, 64)`): an optional
/// sign, then decimal, `0x` hex, `0o` or leading-`0` octal, or `0b` binary, with `_` allowed
/// between digits.
pub fn parse_go_int(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid integer {text:?}");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = match lower.get(..2) {
        Some("0x") if lower.len() > 2 => (16, &lower[2..]),
        Some("0o") if lower.len() > 2 => (8, &lower[2..]),
        Some("0b") if lower.len() > 2 => (2, &lower[2..]),
        _ if lower.starts_with('0') => (8, &lower[1..]),
        _ => (10, lower.as_str()),
    };
    if lower.is_empty() || !underscores_ok(&lower, radix == 16) {
        return Err(invalid());
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    // `from_str_radix` would accept a second sign.
    if !digits.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    let magnitude = if digits.is_empty() {
        0 // "0" alone
    } else {
        u64::from_str_radix(&digits, radix).map_err(|_| invalid())?
    };
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(value).map_err(|_| format!("integer {text:?} is out of range"))
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscores_ok(number: &str, hex: bool) -> bool {
    let bytes = number.as_bytes();
    let mut index = 0;
    // What came last: b'^' start, b'0' digit or base prefix, b'_' underscore, b'!' other.
    let mut last = b'^';
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1], b'b' | b'o' | b'x') {
        index = 2;
        last = b'0';
    }
    for &byte in &bytes[index..] {
        if byte.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&byte)) {
            last = b'0';
        } else if byte == b'_' {
            if last != b'0' {
                return false;
            }
            last = b'_';
        } else {
            if last == b'_' {
                return false;
            }
            last = b'!';
        }
    }
    last != b'_'
}

/// Parses a duration the way Go's `time.ParseDuration` does: `"30m"`, `"8h"`, `"1h30m"`,
/// `"500ms"`, `"1.5h"`, `"0"`; units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`. Negative durations
/// are refused (nothing here uses them), as are values past Go's range (about 292 years).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u128); 9] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("", 0),
    ];
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let limit = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                after.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, scale)| scale)
            .filter(|&scale| scale > 0)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {text:?}"))?;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        // Digits past the 18th are below a nanosecond even in hours; Go drops them too.
        let fraction = &fraction[..fraction.len().min(18)];
        let fraction_nanos = if fraction.is_empty() {
            0
        } else {
            let digits: u128 = fraction.parse().map_err(|_| invalid())?;
            digits * scale / 10u128.pow(fraction.len() as u32)
        };
        total = whole
            .checked_mul(scale)
            .and_then(|nanos| nanos.checked_add(fraction_nanos))
            .and_then(|nanos| nanos.checked_add(total))
            .filter(|&nanos| nanos <= limit)
            .ok_or_else(invalid)?;
        rest = after;
    }
    if negative && total > 0 {
        return Err(format!("time: negative duration {text:?} is not allowed"));
    }
    // `total <= i64::MAX`, so it fits in u64.
    Ok(Duration::from_nanos(total as u64))
}

/// The text `-V` prints, in the original's layout.
pub fn version_info() -> String {
    format!(
        "Release Version: v{}\nImplementation: binlog-server (Rust)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The original's default listen address: the first non-loopback IPv4 address of the host's
/// interfaces (`util.DefaultListenAddr`), else `127.0.0.1`, with `port`.
pub fn default_listen_addr(port: u16) -> String {
    let ip = first_non_loopback_ipv4().unwrap_or(Ipv4Addr::LOCALHOST);
    format!("{ip}:{port}")
}

/// The first IPv4 address, in interface order, that is neither loopback nor unspecified.
fn first_non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `getifaddrs` only writes the list head; the list is freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list `getifaddrs` returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: a non-null `ifa_addr` points at a sockaddr whose family says its layout.
        let family = unsafe { (*entry.ifa_addr).sa_family };
        if i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a `sockaddr_in`.
        let address = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
        let ip = Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr));
        if !ip.is_loopback() && !ip.is_unspecified() {
            found = Some(ip);
            break;
        }
    }
    // SAFETY: `list` came from `getifaddrs` and is freed once; no reference into it remains.
    unsafe { libc::freeifaddrs(list) };
    found
}

#[cfg(test)]
mod tests {
    use clap::{Arg, CommandFactory, FromArgMatches, Parser};

    use super::*;

    /// A small Go-style flag set: a value flag, a short value flag, a Go bool, a path.
    #[derive(Debug, Parser)]
    #[command(name = "tool")]
    struct Flags {
        #[arg(long)]
        addr: Option<String>,
        #[arg(short = 'L')]
        level: Option<String>,
        #[arg(long, value_parser = parse_go_int)]
        interval: Option<i64>,
        #[arg(
            long = "enable-debug",
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "true",
            value_parser = parse_go_bool
        )]
        enable_debug: Option<bool>,
        #[arg(long)]
        config: Option<String>,
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    fn parse(words: &[&str], env: &[(&str, &str)]) -> Result<(Flags, CommandLine), ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let line = parse_command_line(
            &Flags::command(),
            strings(words),
            "TOOL",
            lookup,
            &["config"],
        )?;
        let flags = Flags::from_arg_matches(&line.matches)?;
        Ok((flags, line))
    }

    #[test]
    fn every_go_spelling_of_a_flag_normalises_alike() {
        let command = Flags::command();
        for words in [
            &["tool", "-addr", "x:1"][..],
            &["tool", "-addr=x:1"],
            &["tool", "--addr", "x:1"],
            &["tool", "--addr=x:1"],
        ] {
            assert_eq!(
                normalize_args(&command, strings(words)),
                strings(&["tool", "--addr=x:1"])
            );
        }
        for words in [
            &["tool", "-L", "debug"][..],
            &["tool", "-L=debug"],
            &["tool", "--L", "debug"],
        ] {
            assert_eq!(
                normalize_args(&command, strings(words)),
                strings(&["tool", "-L=debug"])
            );
        }
        // Values are taken verbatim, even when they look like flags or numbers.
        assert_eq!(
            normalize_args(
                &command,
                strings(&["tool", "-interval", "-1", "-addr", "-x"])
            ),
            strings(&["tool", "--interval=-1", "--addr=-x"])
        );
        // A Go bool takes no separate value; `--` ends the flags; non-flags stay.
        assert_eq!(
            normalize_args(
                &command,
                strings(&["tool", "-enable-debug", "stray", "-1", "--", "-addr"])
            ),
            strings(&["tool", "--enable-debug", "stray", "-1", "--", "-addr"])
        );
        // Unknown flags are only re-dashed, for clap to reject.
        assert_eq!(
            normalize_args(&command, strings(&["tool", "-nope", "-n"])),
            strings(&["tool", "--nope", "-n"])
        );
    }

    #[test]
    fn parses_go_command_lines() {
        let (flags, line) = parse(
            &[
                "tool",
                "-addr",
                "a:1",
                "-L",
                "warn",
                "-interval",
                "-5",
                "-enable-debug",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(flags.addr.as_deref(), Some("a:1"));
        assert_eq!(flags.level.as_deref(), Some("warn"));
        assert_eq!(flags.interval, Some(-5));
        assert_eq!(flags.enable_debug, Some(true));
        assert!(line.env_used.is_empty());

        let (flags, _) = parse(&["tool", "-enable-debug=false", "-interval=0x10"], &[]).unwrap();
        assert_eq!(flags.enable_debug, Some(false));
        assert_eq!(flags.interval, Some(16));
        assert_eq!(flags.addr, None);

        // The last of repeated flags wins, as in Go.
        let (flags, _) = parse(&["tool", "-addr", "a:1", "--addr=b:2"], &[]).unwrap();
        assert_eq!(flags.addr.as_deref(), Some("b:2"));
    }

    #[test]
    fn bad_command_lines_are_invalid_and_help_is_printed() {
        for words in [
            &["tool", "-nope"][..],
            &["tool", "stray"],
            &["tool", "-enable-debug", "false"],
            &["tool", "-enable-debug=maybe"],
            &["tool", "-interval", "ten"],
            &["tool", "-addr"],
        ] {
            let error = parse(words, &[]).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{words:?}: {error}");
        }
        for words in [&["tool", "-h"][..], &["tool", "-help"], &["tool", "--help"]] {
            match parse(words, &[]).unwrap_err() {
                ConfigError::Print(text) => assert!(text.contains("--enable-debug"), "{text}"),
                other => panic!("{words:?}: {other}"),
            }
        }
    }

    #[test]
    fn environment_fills_only_flags_not_on_the_command_line() {
        let env = [
            ("TOOL_ADDR", "env:1"),
            ("TOOL_L", "error"),
            ("TOOL_ENABLE_DEBUG", "true"),
            ("TOOL_CONFIG", "ignored.toml"),
            ("TOOL_INTERVAL", ""),
        ];
        let (flags, line) = parse(&["tool", "-L", "debug"], &env).unwrap();
        assert_eq!(flags.addr.as_deref(), Some("env:1"));
        assert_eq!(flags.level.as_deref(), Some("debug"));
        assert_eq!(flags.enable_debug, Some(true));
        // Excluded, and empty values count as unset.
        assert_eq!(flags.config, None);
        assert_eq!(flags.interval, None);
        assert_eq!(
            line.env_used,
            vec![
                ("TOOL_ADDR".to_string(), "env:1".to_string()),
                ("TOOL_ENABLE_DEBUG".to_string(), "true".to_string()),
            ]
        );

        let error = parse(&["tool"], &[("TOOL_INTERVAL", "soon")]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("invalid environment value \"soon\" for TOOL_INTERVAL"),
            "{text}"
        );
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn flag_names_map_to_environment_keys() {
        assert_eq!(env_key("PUMP", "data-dir"), "PUMP_DATA_DIR");
        assert_eq!(env_key("PUMP", "L"), "PUMP_L");
        assert_eq!(env_key("DRAINER", "pd-urls"), "DRAINER_PD_URLS");
        let arg = Arg::new("level").short('L');
        assert_eq!(flag_name(&arg).as_deref(), Some("L"));
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "kebab-case")]
    struct FileConfig {
        name: String,
        inner: Inner,
        #[serde(skip)]
        flag_only: bool,
    }

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "kebab-case")]
    struct Inner {
        size: Option<u64>,
        deeper: Deeper,
    }

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "kebab-case")]
    struct Deeper {
        on: bool,
    }

    impl Default for FileConfig {
        fn default() -> FileConfig {
            FileConfig {
                name: "x".into(),
                inner: Inner::default(),
                flag_only: false,
            }
        }
    }

    #[test]
    fn toml_is_strict_at_every_depth() {
        let path = Path::new("/etc/tool.toml");
        let config: FileConfig = parse_toml_strict(
            "tool",
            path,
            "name = \"y\"\n[inner]\nsize = 3\n[inner.deeper]\non = true\n",
        )
        .unwrap();
        assert_eq!(config.name, "y");
        assert_eq!(config.inner.size, Some(3));
        assert!(config.inner.deeper.on);

        let error = parse_toml_strict::<FileConfig>(
            "tool",
            path,
            "bogus = 1\nflag-only = true\n[inner]\nextra = 2\n[inner.deeper]\nwhat = 3\n\"a b\" = 4\n",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "component tool's config file /etc/tool.toml contained unknown configuration \
             options: bogus, flag-only, inner.deeper.\"a b\", inner.deeper.what, inner.extra"
        );

        let error = parse_toml_strict::<FileConfig>("tool", path, "name = 5").unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
        let error = parse_toml_strict::<FileConfig>("tool", path, "name = ").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("component tool's config file"),
            "{error}"
        );

        let missing = load_toml_strict::<FileConfig>("tool", Path::new("/nonexistent/x.toml"));
        assert!(matches!(missing, Err(Error::Io { .. })));
    }

    #[test]
    fn go_bools_and_ints() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(text), Ok(true));
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(text), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
        assert!(parse_go_bool("").is_err());

        let cases = [
            ("0", 0),
            ("42", 42),
            ("-42", -42),
            ("+7", 7),
            ("0x1F", 31),
            ("0o17", 15),
            ("017", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, value) in cases {
            assert_eq!(parse_go_int(text), Ok(value), "{text}");
        }
        for text in [
            "",
            "-",
            "0x",
            "08",
            "1_",
            "_1",
            "1__0",
            "--1",
            "+-1",
            "1.5",
            "ten",
            "9223372036854775808",
        ] {
            assert!(parse_go_int(text).is_err(), "{text}");
        }
    }

    #[test]
    fn go_durations() {
        let cases = [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("30m", Duration::from_secs(1800)),
            ("8h", Duration::from_secs(8 * 3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("500ms", Duration::from_millis(500)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("3ns", Duration::from_nanos(3)),
            ("+2m", Duration::from_secs(120)),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (text, value) in cases {
            assert_eq!(parse_go_duration(text), Ok(value), "{text}");
        }
        assert_eq!(
            parse_go_duration("7d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"7d\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        for text in ["", "-", "h", ".h", "1h-2m", "-1h", "2562048h", "1 h"] {
            assert!(parse_go_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn default_listen_addr_has_the_port() {
        let addr = default_listen_addr(8250);
        let (host, port) = addr.rsplit_once(':').unwrap();
        assert_eq!(port, "8250");
        let ip: Ipv4Addr = host.parse().unwrap();
        assert!(!ip.is_unspecified());
        assert!(version_info().starts_with("Release Version: v"));
    }
}
