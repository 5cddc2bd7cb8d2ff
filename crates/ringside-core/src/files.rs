//! Files only their owner may read: Ringside's data and settings hold callers' numbers, names
//! and secrets. Directories are made 0700 and files opened 0600 from the start (never made
//! and then narrowed, which leaves a window open).

use std::fs::{DirBuilder, OpenOptions};
use std::path::Path;

/// Make `dir` and its missing parents, each new one readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Options that create a file readable and writable by its owner only.
pub fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Make an existing file or directory owner-only if it is not (one written by an older
/// Ringside, or by hand); returns whether it had to be narrowed. A missing one is left alone.
pub fn narrow(path: &Path) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}

/// Write `contents` to `path` as a whole: into an owner-only temporary file beside it, synced,
/// then renamed over it, so a reader sees the old file or the new one and no other user ever
/// sees either.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    // One left by a crash may be anyone's: start afresh, with our mode.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = private_options().write(true).create_new(true).open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_owner_only_from_the_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("secret.toml");
        // A stale temporary file, readable by all, is not reused.
        std::fs::write(dir.join("secret.toml.tmp"), "old").unwrap();
        std::fs::set_permissions(
            dir.join("secret.toml.tmp"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        write_private(&f, b"token = 1").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "token = 1");
        assert!(!dir.join("secret.toml.tmp").exists());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(narrow(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        assert!(!narrow(&f).unwrap());
        assert!(!narrow(&dir.join("missing")).unwrap());
    }
}
