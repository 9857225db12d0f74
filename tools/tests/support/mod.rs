//! Helpers shared by the integration tests of the tools.
// Each test binary compiles every helper but uses only some of them.
#![allow(dead_code)]

pub mod pump;
