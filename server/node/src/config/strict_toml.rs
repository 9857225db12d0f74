//! The config file, read strictly: a key the configuration does not know is an error naming
//! it, as in the original (which checks `toml.MetaData.Undecoded`).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
