//! Ctrl-C while a command runs: like gdb, stop the command and go back to the
//! prompt ("Quit") instead of ending the session. The REPL's SIGINT handler
//! sets a flag; the loops a long command spends its time in check it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running command to stop (what the SIGINT handler calls).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forgets an earlier request: the REPL calls it before each command.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// `Err(Error::Interrupted)` once a stop was requested.
pub(crate) fn check() -> Result<()> {
    if REQUESTED.load(Ordering::SeqCst) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
