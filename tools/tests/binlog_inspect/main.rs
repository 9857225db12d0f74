//! `binlog-inspect` end to end: the real binary on data dirs the engine wrote in this process
//! (8 KiB segments, so several seal), clean and damaged (a flipped bit in a sealed and in the
//! active segment, a torn tail, missing, corrupt and orphan `.idx` files), with the data dir
//! locked by the engine, and on the data dir of a running `pump` fed by `binlog-load`.
//!
//! Expected offsets, counts and TSs come from what the engine reported while writing (the
//! position of every append), never from the tool under test.

mod fixture;
mod run;

mod dump;
mod get;
mod live_pump;
mod lock;
mod ls;
mod repair;
mod stats;
mod verify;
