//! `ringside-bench`: the measurement tools behind BENCHMARKS.md. The `bench/*.sh` scripts
//! build the binaries, start the servers and call these; each subcommand prints its figures.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use ringside_core::store::Queries;
use std::path::PathBuf;

mod gen;
mod latency;
mod load;
mod procfs;
mod search;
mod soak;
mod startup;
mod stats;

#[derive(Parser)]
#[command(name = "ringside-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// 2xx -> /api/live frame latency at a steady webhook rate.
    Latency {
        #[arg(long)]
        url: String,
        #[arg(long)]
        api_token: String,
        #[arg(long)]
        hook_token: String,
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
    /// exec -> listening, and exec -> first webhook 2xx, of `ringside-server serve`.
    Startup {
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        hook_token: String,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Directory for the rounds' data directories.
        #[arg(long)]
        work: PathBuf,
    },
    /// Write a synthetic history of CALLS calls into a new store in DIR (store API, no HTTP).
    GenStore {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        calls: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Calls per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: usize,
    },
    /// Time history searches on a store made by gen-store.
    Search {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 21)]
        rounds: usize,
    },
    /// Steady webhooks with the server's RSS sampled every second; fails beyond the bound.
    Soak {
        #[arg(long)]
        url: String,
        #[arg(long)]
        hook_token: String,
        /// The server's process id.
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        #[arg(long, default_value_t = 10.0)]
        warmup: f64,
        /// Largest RSS growth allowed after the warm-up, MB.
        #[arg(long)]
        bound_mb: f64,
        /// Write the samples here (seconds,rss_kb).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Memory of a process and its descendants (RSS and PSS from /proc), in MB.
    Mem {
        #[arg(long)]
        pid: u32,
    },
    /// How many deliveries the journal in a data directory holds.
    Journal {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Send CALLS whole calls (3 webhooks each) as fast as they are answered.
    Send {
        #[arg(long)]
        url: String,
        #[arg(long)]
        hook_token: String,
        #[arg(long)]
        calls: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command))
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Latency {
            url,
            api_token,
            hook_token,
            rate,
            seconds,
            warmup,
        } => {
            let r = latency::run(latency::Options {
                url,
                api_token,
                hook_token,
                rate,
                seconds,
                warmup,
            })
            .await?;
            println!(
                "sent {} webhooks at {:.0}/s (asked {rate:.0}/s)",
                r.sent, r.achieved_rate
            );
            println!("2xx -> frame ms:     {}", r.after_2xx);
            println!("sent -> frame ms:    {}", r.end_to_end);
            println!("sent -> 2xx ms:      {}", r.webhook);
        }
        Command::Startup {
            bin,
            config,
            hook_token,
            rounds,
            work,
        } => {
            let r = startup::run(startup::Options {
                bin,
                config,
                hook_token,
                rounds,
                work,
            })
            .await?;
            println!("exec -> listening ms:      {}", r.listening);
            println!("exec -> first webhook ms:  {}", r.first_webhook);
        }
        Command::GenStore {
            dir,
            calls,
            seed,
            batch,
        } => {
            let t = std::time::Instant::now();
            gen::run(&dir, gen::Shape { calls, seed }, batch)?;
            println!(
                "generated {calls} calls in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        Command::Search { dir, rounds } => {
            println!("| query | q | results | median ms | p90 ms | max ms |");
            println!("|---|---|---:|---:|---:|---:|");
            for r in search::run(&dir, rounds)? {
                println!(
                    "| {} | `{}` | {} | {:.2} | {:.2} | {:.2} |",
                    r.what, r.query, r.results, r.time.p50, r.time.p90, r.time.max
                );
            }
        }
        Command::Soak {
            url,
            hook_token,
            pid,
            rate,
            seconds,
            warmup,
            bound_mb,
            csv,
        } => {
            let r = soak::run(soak::Options {
                url,
                hook_token,
                pid,
                rate,
                seconds,
                warmup,
            })
            .await?;
            if let Some(path) = csv {
                let mut out = String::from("seconds,rss_kb\n");
                for (t, kb) in &r.samples {
                    out.push_str(&format!("{t:.1},{kb}\n"));
                }
                std::fs::write(path, out)?;
            }
            let first = r.samples.first().map_or(0, |s| s.1);
            let last = r.samples.last().map_or(0, |s| s.1);
            println!(
                "sent {} webhooks in {seconds:.0} s at {rate:.0}/s, {} failed",
                r.sent, r.failed
            );
            println!(
                "RSS MB: first {:.1}, after {warmup:.0} s warm-up {:.1}, max after {:.1}, last {:.1}",
                mb(first),
                mb(r.after_warmup_kb),
                mb(r.max_kb),
                mb(last)
            );
            println!(
                "growth after warm-up: {:.1} MB (bound {bound_mb:.1} MB), trend {:+.2} MB/min",
                mb(r.growth_kb()),
                r.slope_kb_per_min / 1024.0
            );
            if r.failed > 0 {
                bail!("{} webhooks failed", r.failed);
            }
            if mb(r.growth_kb()) > bound_mb {
                bail!(
                    "RSS grew {:.1} MB after the warm-up, more than the {bound_mb:.1} MB bound",
                    mb(r.growth_kb())
                );
            }
        }
        Command::Mem { pid } => {
            let (mut rss, mut pss) = (0, 0);
            for (p, comm) in procfs::tree(pid) {
                let (r, s) = (procfs::status_kb(p, "VmRSS")?, procfs::pss_kb(p)?);
                println!(
                    "{p:>8} {comm:<24} RSS {:>7.1} MB  PSS {:>7.1} MB",
                    mb(r),
                    mb(s)
                );
                rss += r;
                pss += s;
            }
            println!("total RSS {:.1} MB, total PSS {:.1} MB", mb(rss), mb(pss));
        }
        Command::Journal { data_dir } => {
            let store = ringside_core::store::Reader::open(&data_dir.join("ringside.db"))?;
            println!("{}", store.journal_len()?);
        }
        Command::Send {
            url,
            hook_token,
            calls,
            concurrency,
        } => {
            let target = load::Target::new(load::client()?, &url, &hook_token);
            let rate = load::flood(&target, calls, concurrency).await?;
            println!("sent {calls} calls ({} webhooks) at {rate:.0}/s", calls * 3);
        }
    }
    Ok(())
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}
