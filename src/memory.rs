//! Giving freed memory back to the system. glibc's allocator keeps what a burst of work freed (the buffers of
//! WebSocket clients that left, say) for later use: [`configure`] keeps it from spreading that over many arenas,
//! and [`give_back_soon`] asks it to return free pages, once for a burst of requests, on a thread of its own.
//! (A different global allocator, mimalloc, was tried: it held 40 MiB more at rest and peaked higher.)

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Set the allocator up for a long-running server, before any thread starts: at most 2 glibc arenas. Each thread
/// that allocates otherwise may get an arena of its own (up to 8 per core), and what a burst frees stays spread
/// over them, partly used and impossible to give back.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets an allocator parameter; called once, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Requests within this time of the first are served by one trim.
const COALESCE: Duration = Duration::from_secs(1);

/// Ask for freed heap memory to be returned to the system within about a second (never blocks).
pub fn give_back_soon() {
    static TRIMMER: OnceLock<Option<SyncSender<()>>> = OnceLock::new();
    let trimmer = TRIMMER.get_or_init(|| {
        let (tx, rx) = sync_channel::<()>(1);
        let spawned = std::thread::Builder::new().name("memory-trim".into()).spawn(move || {
            while rx.recv().is_ok() {
                std::thread::sleep(COALESCE);
                while rx.try_recv().is_ok() {}
                trim();
            }
        });
        spawned.ok().map(|_| tx)
    });
    if let Some(tx) = trimmer
        && let Err(TrySendError::Disconnected(_)) = tx.try_send(())
    {
        tracing::warn!("the memory trim thread has stopped");
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer; it only returns free pages of the heap to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
