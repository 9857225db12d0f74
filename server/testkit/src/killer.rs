//! A node SIGKILLed and restarted on a period while a test writes (the crash tests of the
//! destinations): the thread owns the node until the test takes it back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::process::NodeProcess;

/// How long a killed node stays down.
const DOWN: Duration = Duration::from_millis(50);

/// A node being killed and restarted every period.
pub struct Killer {
    writing: Arc<AtomicBool>,
    thread: JoinHandle<(NodeProcess, usize)>,
}

impl Killer {
    /// Kills `node` with SIGKILL every `period` and restarts it, until [`Killer::stop`] and at
    /// least `at_least` kills.
    pub fn start(mut node: NodeProcess, period: Duration, at_least: usize) -> Killer {
        let writing = Arc::new(AtomicBool::new(true));
        let still_writing = Arc::clone(&writing);
        let thread = std::thread::spawn(move || {
            let mut kills = 0;
            while still_writing.load(Ordering::Acquire) || kills < at_least {
                std::thread::sleep(period);
                node.kill_and_restart(DOWN);
                kills += 1;
            }
            (node, kills)
        });
        Killer { writing, thread }
    }

    /// Waits for the last kill (blocking) and gives the restarted node back with the number of
    /// kills.
    pub fn stop(self) -> (NodeProcess, usize) {
        self.writing.store(false, Ordering::Release);
        self.thread.join().expect("the killer thread panicked")
    }
}
