use anyhow::Context;
use clap::{Parser, Subcommand};
use ringside_server::listener::Limits;
use ringside_server::{serve, simulate, ServeOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Ringside without a window: receives telephony providers' call events, keeps one call
/// model, and serves it over HTTP.
#[derive(Parser)]
#[command(name = "ringside-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive webhooks and serve the API and live stream.
    Serve {
        /// Address to listen on, HOST:PORT (`localhost:9000` too); 127.0.0.1:0 picks a free
        /// port.
        #[arg(long, default_value = ringside_server::serve::DEFAULT_LISTEN, value_parser = ringside_server::serve::listen_addr)]
        listen: SocketAddr,
        /// Where the store lives (default: the XDG data directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Configuration file (default: the XDG config file, created on first run).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seconds a client has to send a request's headers; also how long an idle connection
        /// stays open.
        #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
        header_timeout: Duration,
        /// Seconds a request, body included, has to be received and answered (408 after).
        #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds)]
        request_timeout: Duration,
        /// Connections open at once; beyond it the one idle the longest is closed.
        #[arg(long, value_name = "N", default_value = "1024", value_parser = clap::value_parser!(u32).range(1..))]
        max_connections: u32,
    },
    /// Import contacts from a CSV (header row naming the columns) or vCard file; prints how
    /// many were added or updated. Importing the same file again updates, never duplicates.
    /// When a Ringside serves the data directory, the file goes through it (its API, with the
    /// config's token), so the calls on screen are named at once.
    ImportContacts {
        /// The .csv or .vcf file.
        file: PathBuf,
        /// Where the store lives (default: the XDG data directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Configuration file, for `[agent] region` (default: the XDG config file, if any).
        #[arg(long)]
        config: Option<PathBuf>,
        /// CSV only: which column is which, as FIELD=Header (fields: name, first_name,
        /// last_name, company, phone (repeatable), record_url, id). Common headers are
        /// recognised without it.
        #[arg(long = "column", value_name = "FIELD=HEADER")]
        columns: Vec<String>,
        /// The file's format, when its contents do not make it plain.
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Replay a built-in call scenario against a running Ringside, in the provider's wire format.
    Simulate {
        /// Scenario name (see --list), or `all`.
        #[arg(required_unless_present = "list")]
        scenario: Option<String>,
        /// Base URL of the running Ringside, e.g. http://127.0.0.1:8089 (default: the
        /// Ringside serving the data directory, else http://127.0.0.1:8089).
        #[arg(long)]
        to: Option<String>,
        /// The data directory whose Ringside to send to, without --to (default: the XDG data
        /// directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Configuration file holding the providers' tokens (default: the XDG config file).
        #[arg(long)]
        config: Option<PathBuf>,
        /// List the scenarios.
        #[arg(long)]
        list: bool,
        /// Send every step at once instead of pausing between them.
        #[arg(long)]
        fast: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FileFormat {
    Csv,
    Vcard,
}

/// `import-contacts`: through the Ringside serving the data directory when one runs (it
/// re-resolves the calls on screen and announces them), else straight into the store.
async fn import_contacts(
    file: &Path,
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    columns: &[String],
    format: Option<FileFormat>,
) -> anyhow::Result<()> {
    use ringside_app::contacts::{import_into, ContactFormat, ImportResult};
    use ringside_app::lock::{DataLock, Holder, LockError};
    use ringside_core::config::{Config, Paths};
    let config = match config {
        Some(p) => Config::load(&p)?,
        None if Paths::config_file().exists() => Config::load(&Paths::config_file())?,
        None => Config::default(),
    };
    let data_dir = data_dir.unwrap_or_else(Paths::data_dir);
    let format = format.map(|f| match f {
        FileFormat::Csv => ContactFormat::Csv,
        FileFormat::Vcard => ContactFormat::Vcard,
    });
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let r: ImportResult = match DataLock::acquire(&data_dir) {
        Ok(lock) => {
            let engine = ringside_core::engine::Engine::open(lock.dir())?;
            engine.set_lookup(config.contacts.lookup_settings()).await?;
            import_into(
                &engine,
                bytes,
                format,
                columns,
                config.region(),
                chrono::Utc::now(),
            )
            .await?
        }
        Err(LockError::Busy {
            holder: Some(Holder { url: Some(url), .. }),
            ..
        }) => {
            eprintln!("importing through the Ringside running at {url}");
            import_through(&url, &config, bytes, format, columns).await?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(c) = &r.columns {
        eprintln!("columns: {c}");
    }
    for why in &r.report.skipped {
        eprintln!("skipped {why}");
    }
    println!("{}: {}", file.display(), r.report.summary());
    Ok(())
}

/// `POST /api/contacts/import` to the Ringside at `url`, with the config's API token.
async fn import_through(
    url: &str,
    config: &ringside_core::config::Config,
    bytes: Vec<u8>,
    format: Option<ringside_app::contacts::ContactFormat>,
    columns: &[String],
) -> anyhow::Result<ringside_app::contacts::ImportResult> {
    let mut query: Vec<(&str, String)> = columns.iter().map(|c| ("column", c.clone())).collect();
    if let Some(f) = format {
        query.push((
            "format",
            match f {
                ringside_app::contacts::ContactFormat::Csv => "csv",
                ringside_app::contacts::ContactFormat::Vcard => "vcard",
            }
            .into(),
        ));
    }
    let res = reqwest::Client::new()
        .post(format!("{url}/api/contacts/import"))
        .query(&query)
        .bearer_auth(config.api.token.as_deref().unwrap_or_default())
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("reaching the Ringside at {url}"))?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        anyhow::bail!("the Ringside at {url} refused the import ({status}): {message}");
    }
    Ok(serde_json::from_value(body)?)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGSIDE_LOG")
                .unwrap_or_else(|_| "ringside_server=info,ringside_core=info,warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve {
                listen,
                data_dir,
                config,
                header_timeout,
                request_timeout,
                max_connections,
            } => {
                serve(ServeOptions {
                    listen: Some(listen),
                    data_dir,
                    config,
                    limits: Limits {
                        header_timeout,
                        request_timeout,
                        max_connections: max_connections as usize,
                    },
                    clock: None,
                })
                .await
            }
            Command::ImportContacts {
                file,
                data_dir,
                config,
                columns,
                format,
            } => import_contacts(&file, data_dir, config, &columns, format).await,
            Command::Simulate {
                scenario,
                to,
                data_dir,
                config,
                list,
                fast,
            } => {
                if list {
                    simulate::print_list();
                    Ok(())
                } else {
                    let to = to.unwrap_or_else(|| simulate::running_at(data_dir));
                    simulate::run(
                        scenario.as_deref().unwrap_or_default(),
                        &to,
                        config.as_deref(),
                        fast,
                    )
                    .await
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0 and 86400"
        )),
    }
}
