//! Start-up: from exec of `ringside-server serve` to its `listening on` line, and to the 2xx
//! of a first webhook (which needs the phone-number metadata, loaded in the background).

use crate::load::{self, Target};
use crate::stats::Summary;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub struct Options {
    pub bin: PathBuf,
    pub config: PathBuf,
    pub hook_token: String,
    pub rounds: usize,
    /// Each round gets a new data directory under here.
    pub work: PathBuf,
}

pub struct Report {
    /// exec -> `listening on`, milliseconds.
    pub listening: Summary,
    /// exec -> first webhook answered 2xx, milliseconds.
    pub first_webhook: Summary,
}

pub async fn run(o: Options) -> Result<Report> {
    let (mut listening, mut hooked) = (Vec::new(), Vec::new());
    let http = load::client()?;
    for round in 0..o.rounds {
        let data = o.work.join(format!("round-{round}"));
        let _ = std::fs::remove_dir_all(&data);
        let (l, h) = once(&o, &data, http.clone()).await?;
        listening.push(l);
        hooked.push(h);
    }
    Ok(Report {
        listening: Summary::of(listening),
        first_webhook: Summary::of(hooked),
    })
}

async fn once(o: &Options, data: &Path, http: reqwest::Client) -> Result<(f64, f64)> {
    let t0 = Instant::now();
    let mut child = Command::new(&o.bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(&o.config)
        .env("RINGSIDE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", o.bin.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let listening = t0.elapsed();
    let Some(url) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        bail!("unexpected first line {line:?}");
    };
    let target = Target::new(http, url, &o.hook_token);
    let r = target.send(load::new_call("startup", 1)).await;
    let hooked = t0.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    r?;
    Ok((listening.as_secs_f64() * 1e3, hooked.as_secs_f64() * 1e3))
}
