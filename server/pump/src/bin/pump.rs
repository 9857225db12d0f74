//! `pump`: takes binlogs from TiDB over gRPC, stores them durably, serves them to drainers.
//! Flags, config keys and `PUMP_*` variables are the original's; see `pump --help`.

use binlog_node::node_main::node_main;
use binlog_pump::config::PumpConfig;

fn main() {
    node_main(|config: PumpConfig| async move { binlog_pump::server::run(&config).await })
}
