//! `drainer`: pulls binlogs from every pump, merges them by commit TS, writes them downstream.
//! Flags, config keys and `BINLOG_SERVER_*` variables are the original's; see `drainer --help`.

use binlog_drainer::config::DrainerConfig;
use binlog_node::node_main::node_main;

fn main() {
    node_main(|config: DrainerConfig| async move { binlog_drainer::server::run(&config).await })
}
