//! `ringside-server simulate`: the built-in call scenarios ([`ringside_app::simulate`]) sent
//! to a running Ringside from the command line.

use anyhow::{anyhow, Context, Result};
use ringside_app::settings::load_config;
use ringside_app::simulate::send;
use ringside_core::providers::scenario;
use std::path::Path;

/// Where the Ringside serving `data_dir` (default: the XDG data directory) listens, as its
/// lock says; else the default address.
pub fn running_at(data_dir: Option<std::path::PathBuf>) -> String {
    use ringside_app::lock::{DataLock, Holder, LockError};
    let dir = data_dir.unwrap_or_else(ringside_core::config::Paths::data_dir);
    match DataLock::acquire(&dir) {
        Err(LockError::Busy {
            holder: Some(Holder { url: Some(url), .. }),
            ..
        }) => url,
        _ => format!("http://{}", crate::serve::DEFAULT_LISTEN),
    }
}

pub fn print_list() {
    for s in scenario::all() {
        println!("{:<26} {}", s.name, s.description);
    }
    println!("{:<26} every scenario above, one after another", "all");
}

/// Send `name` (or every scenario for `all`) to the Ringside at `base`, authenticating with
/// the tokens in the config at `config_path` (default: the one `serve` uses), printing each
/// step.
pub async fn run(name: &str, base: &str, config_path: Option<&Path>, fast: bool) -> Result<()> {
    let scenarios: Vec<_> = match name {
        "all" => scenario::all(),
        _ => vec![scenario::named(name).ok_or_else(|| {
            anyhow!("no scenario `{name}`; `ringside-server simulate --list` lists them")
        })?],
    };
    let loaded = load_config(config_path)?;
    send(&loaded.config, &scenarios, base, fast, |line| {
        println!("{line}")
    })
    .await
    .with_context(|| format!("with the tokens in {}", loaded.path.display()))
}
