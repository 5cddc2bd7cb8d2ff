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
