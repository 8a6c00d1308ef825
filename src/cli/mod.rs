//! One module per subcommand; each owns its `Args`.

pub mod bench;
pub mod detect;
pub mod eval;
pub mod replay;
pub mod run;
pub mod track;
pub mod verify;

use anyhow::Context;
use std::path::PathBuf;

/// A directory removed when dropped (the event store of a replay or a benchmark run).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(purpose: &str) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path = std::env::temp_dir().join(format!("panoptes-{purpose}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).context(format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
