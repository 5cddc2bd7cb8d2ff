//! `ringside-server simulate`: the built-in call scenarios ([`ringside_app::simulate`]) sent
//! to a running Ringside from the command line.

use anyhow::{anyhow, Context, Result};
use ringside_app::settings::load_config;
use ringside_app::simulate::send;
use ringside_core::providers::scenario;
use std::path::Path;

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
