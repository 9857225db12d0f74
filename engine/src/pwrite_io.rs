//! The portable backend: one `pwrite` and one `fdatasync` per call.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use crate::log_io::{IoFailure, LogIo, Written};

/// `pwrite` + `fdatasync`.
pub struct PwriteIo;

impl LogIo for PwriteIo {
    fn name(&self) -> &'static str {
        "pwrite"
    }

    fn write_at(
        &mut self,
        file: &File,
        offset: u64,
        buf: &[u8],
        sync: bool,
    ) -> Result<Written, IoFailure> {
        let bytes = loop {
            match file.write_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result.map_err(IoFailure::Write)?,
            }
        };
        let synced = sync && bytes == buf.len();
        let mut sync_time = None;
        if synced {
            let started = Instant::now();
            file.sync_data().map_err(IoFailure::Sync)?;
            sync_time = Some(started.elapsed());
        }
        Ok(Written {
            bytes,
            synced,
            sync_time,
        })
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}
