//! Integration tests of the engine through its public API, each run with both I/O backends.

mod basics;
mod common;
mod concurrency;
mod crash;
mod damage;
mod faults;
mod gc;
