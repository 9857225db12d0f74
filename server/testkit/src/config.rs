//! Loading a node's configuration in a unit test: the command line and the environment given
//! as lists, through the same `load` the binaries use.

use binlog_node::config::{load, ConfigError, NodeConfig};

/// Loads `C` from `args` (after the program name) with `env` as the whole environment.
pub fn load_config<C: NodeConfig>(args: &[&str], env: &[(&str, &str)]) -> Result<C, ConfigError> {
    let args = std::iter::once(C::COMPONENT)
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|&(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    load(args, move |key| {
        env.iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    })
}
