//! The io_uring backend: a write linked to an `fdatasync` in one submission, so a group costs
//! one `io_uring_enter` instead of two syscalls. The ring lives in the writer thread.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types, IoUring, Probe};

use crate::log_io::{IoFailure, LogIo, Written};

const WRITE_TAG: u64 = 1;
const SYNC_TAG: u64 = 2;

/// io_uring with linked write + fdatasync.
pub struct UringIo {
    ring: IoUring,
    /// Set when `io_uring_enter` failed with entries possibly queued or in flight: their
    /// completions would be mistaken for later ones, so the ring is not used again.
    broken: bool,
}

impl UringIo {
    /// Sets up a small ring and checks that the kernel supports the opcodes used.
    pub fn new() -> io::Result<UringIo> {
        let ring = IoUring::new(8)?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (code, name) in [
            (opcode::Write::CODE, "write"),
            (opcode::Fsync::CODE, "fsync"),
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("kernel io_uring lacks the {name} opcode"),
                ));
            }
        }
        Ok(UringIo {
            ring,
            broken: false,
        })
    }

    /// Submits `entries` and returns their results in tag order (`WRITE_TAG`, `SYNC_TAG`).
    /// A failure leaves the ring unusable (see `broken`).
    fn run(&mut self, entries: &[squeue::Entry]) -> io::Result<[Option<i32>; 2]> {
        if self.broken {
            return Err(io::Error::other(
                "io_uring is unusable after an earlier submission failure",
            ));
        }
        let result = self.submit_and_collect(entries);
        self.broken = result.is_err();
        result
    }

    fn submit_and_collect(&mut self, entries: &[squeue::Entry]) -> io::Result<[Option<i32>; 2]> {
        // SAFETY: each entry refers to a buffer and fd that outlive this call, which waits for
        // all of the entries' completions before returning.
        unsafe {
            let mut queue = self.ring.submission();
            for entry in entries {
                queue
                    .push(entry)
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            }
        }
        let mut results = [None, None];
        let mut pending = entries.len();
        while pending > 0 {
            match self.ring.submit_and_wait(pending) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            for completion in self.ring.completion() {
                let slot = (completion.user_data() - WRITE_TAG) as usize;
                results[slot] = Some(completion.result());
                pending -= 1;
            }
        }
        Ok(results)
    }
}

impl LogIo for UringIo {
    fn name(&self) -> &'static str {
        "io-uring"
    }

    fn write_at(
        &mut self,
        file: &File,
        offset: u64,
        buf: &[u8],
        sync: bool,
    ) -> Result<Written, IoFailure> {
        let fd = types::Fd(file.as_raw_fd());
        let len = buf.len().min(u32::MAX as usize) as u32;
        let write = opcode::Write::new(fd, buf.as_ptr(), len)
            .offset(offset)
            .build()
            .user_data(WRITE_TAG);
        let results = if sync {
            let fsync = opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(SYNC_TAG);
            // A short or failed write breaks the link: the fsync completes with -ECANCELED.
            self.run(&[write.flags(squeue::Flags::IO_LINK), fsync])
        } else {
            self.run(&[write])
        }
        // Whether the linked fdatasync ran is unknown: with a sync requested that is fatal.
        .map_err(|error| {
            if sync {
                IoFailure::Sync(error)
            } else {
                IoFailure::Write(error)
            }
        })?;

        let written = results[0].expect("write completion");
        if written < 0 {
            return Err(IoFailure::Write(io::Error::from_raw_os_error(-written)));
        }
        let bytes = written as usize;
        let synced = match results[1] {
            None => false,
            Some(result) if result == -libc::ECANCELED && bytes < buf.len() => false,
            Some(result) if result < 0 => {
                return Err(IoFailure::Sync(io::Error::from_raw_os_error(-result)))
            }
            Some(_) => true,
        };
        Ok(Written {
            bytes,
            synced,
            sync_time: None,
        })
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        let fsync = opcode::Fsync::new(types::Fd(file.as_raw_fd()))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(SYNC_TAG);
        let result = self.run(&[fsync])?[1].expect("sync completion");
        if result < 0 {
            return Err(io::Error::from_raw_os_error(-result));
        }
        Ok(())
    }
}
