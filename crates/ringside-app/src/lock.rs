//! One Ringside per data directory. The process that serves a data directory holds an
//! exclusive lock on `<data dir>/ringside.lock` for as long as it runs (the OS releases it
//! when the process ends, however it ends), and writes into it where it listens: a second
//! server refuses to start, and the command line goes through the running one instead of
//! writing the store behind its back.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "ringside.lock";

/// Who holds a data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// `http://HOST:PORT` of its listener, once it listens.
    pub url: Option<String>,
}

/// The lock on a data directory, held until dropped.
#[derive(Debug)]
pub struct DataLock {
    file: File,
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is in use by another Ringside{}", dir.display(), holder_text(.holder))]
    Busy {
        dir: PathBuf,
        holder: Option<Holder>,
    },
    #[error("locking {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

fn holder_text(h: &Option<Holder>) -> String {
    match h {
        Some(Holder {
            pid,
            url: Some(url),
        }) => format!(" (process {pid}, listening on {url})"),
        Some(Holder { pid, url: None }) => format!(" (process {pid})"),
        None => String::new(),
    }
}

impl DataLock {
    /// Take `dir` (created owner-only if missing), or say who has it.
    pub fn acquire(dir: &Path) -> Result<DataLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        ringside_core::files::create_private_dir(dir).map_err(io)?;
        let mut file = ringside_core::files::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    holder: read_holder(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut lock = DataLock {
            file,
            dir: dir.to_path_buf(),
        };
        lock.write(&Holder {
            pid: std::process::id(),
            url: None,
        })
        .map_err(io)?;
        Ok(lock)
    }

    /// Say where this process listens, for the command line to find it.
    pub fn announce(&mut self, url: &str) -> std::io::Result<()> {
        self.write(&Holder {
            pid: std::process::id(),
            url: Some(url.to_string()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&mut self, h: &Holder) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(
            serde_json::to_string(h)
                .map_err(std::io::Error::other)?
                .as_bytes(),
        )?;
        self.file.sync_data()
    }
}

/// Who holds `dir` now, if anyone does (the lock is tried, and let go at once).
pub fn holder(dir: &Path) -> Option<Holder> {
    let mut file = OpenOptions::new()
        .read(true)
        .open(dir.join(LOCK_FILE))
        .ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => read_holder(&mut file),
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder_until_the_first_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut first = DataLock::acquire(&dir).unwrap();
        first.announce("http://127.0.0.1:8089").unwrap();
        let holder_now = holder(&dir).expect("held");
        assert_eq!(holder_now.pid, std::process::id());
        let err = DataLock::acquire(&dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("listening on http://127.0.0.1:8089"),
            "{err}"
        );
        drop(first);
        assert_eq!(holder(&dir), None);
        DataLock::acquire(&dir).expect("free again");
    }
}
