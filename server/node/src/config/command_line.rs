//! Go-style command lines and the original's precedence between flags and the environment.
//!
//! The original binaries use Go's `flag` package, which accepts `-addr x`, `-addr=x`, `--addr x`
//! and `--addr=x` alike, and single-letter flags such as `-L debug`. [`normalize_args`] rewrites
//! such a command line into the canonical form clap parses (`--addr=x`, `-L=debug`), and
//! [`parse_command_line`] adds the environment: a flag not given on the command line is taken
//! from `<PREFIX>_<FLAG>` (upper case, `-` → `_`), so the environment wins over the config file
//! and the command line wins over both.
//!
//! A Go bool flag (`-enable-debug` alone means true, `-enable-debug=false` is accepted) is
//! declared on an `Option<bool>` field as
//! `#[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
//! value_parser = parse_go_bool)]` (see [`super::go_values::parse_go_bool`]): the value is
//! optional and must be attached with `=`, so `-enable-debug false` leaves `false` as a stray
//! argument, as in Go.

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};

use super::go_values::parse_go_bool;

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

/// The text `-V` prints, in the original's layout.
pub fn version_info() -> String {
    format!(
        "Release Version: v{}\nImplementation: binlog-server (Rust)",
        env!("CARGO_PKG_VERSION")
    )
}

/// `-V` as the original spells it (a Go bool: `-V`, `-V=true`, `-V=false`), which every binary
/// takes; flattened into each binary's flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct VersionFlag {
    /// Print version information and exit
    #[arg(
        short = 'V',
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    print_version: Option<bool>,
}

impl VersionFlag {
    /// Whether `-V` asks for the version.
    pub fn asked(&self) -> bool {
        self.print_version == Some(true)
    }
}

/// `-config` and `-V`, which every node takes and reads before anything else.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NodeFileFlags {
    /// Path to the configuration file (TOML) [default: none]
    #[arg(long, value_name = "PATH")]
    pub config: Option<OsString>,
    // `-V`; not a doc comment, which clap would take as help text for the group.
    #[command(flatten)]
    #[allow(missing_docs)]
    pub version: VersionFlag,
}

#[cfg(test)]
mod tests {
    use clap::{Arg, CommandFactory, FromArgMatches, Parser};

    use super::*;
    use crate::config::go_values::{parse_go_bool, parse_go_int};

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

    #[test]
    fn version_names_the_release() {
        assert!(version_info().starts_with("Release Version: v"));
    }
}
