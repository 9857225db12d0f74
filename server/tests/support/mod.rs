//! Helpers shared by the integration tests.
// Each test binary compiles every helper but uses only some of them.
#![allow(dead_code)]

pub mod cluster;
pub mod drainer;
pub mod etcd;
pub mod pump;
