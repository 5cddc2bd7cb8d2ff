//! `ringside-server agents ...`: the hub's agents from the command line. When the hub runs on
//! the data directory, the command goes through its API (with the config's admin token), so it
//! takes effect at once (a replaced token's connections close); else straight into the store,
//! through the same operations.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use ringside_app::agents::{self, IssuedToken, TeamMember};
use ringside_app::clock::system_clock;
use ringside_app::lock::{DataLock, Holder, LockError};
use ringside_app::settings::{load_config, Settings};
use ringside_app::viewer::Viewer;
use ringside_app::Ringside;
use ringside_core::agents::{Agent, NewAgent};
use ringside_core::config::Paths;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Add an agent; prints their token as the last line (the hub keeps only its hash).
    Add {
        name: String,
        /// Who the agent is on the phone system: an extension, SIP user, user id or number
        /// (repeatable).
        #[arg(long = "identity", value_name = "ID")]
        identities: Vec<String>,
        /// A `[hub.groups.<name>]` the agent belongs to (repeatable).
        #[arg(long = "group", value_name = "G")]
        groups: Vec<String>,
        /// Sees every call and the team's presence.
        #[arg(long)]
        supervisor: bool,
    },
    /// List the agents (and, on a running hub, who is online).
    List,
    /// Remove an agent: their token stops working and their connections close.
    Remove { name: String },
    /// A new token for an agent, printed as the last line; the old one stops working at once.
    Token { name: String },
}

/// Where the command runs: the data directory and the config.
pub struct Place {
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

pub async fn run(cmd: AgentsCommand, place: Place) -> Result<()> {
    let loaded = load_config(place.config.as_deref())?;
    let data_dir = place.data_dir.unwrap_or_else(Paths::data_dir);
    match DataLock::acquire(&data_dir) {
        Err(LockError::Busy {
            holder: Some(Holder { url: Some(url), .. }),
            ..
        }) => {
            let api = Api {
                url,
                token: loaded.config.api.token.clone().unwrap_or_default(),
                http: reqwest::Client::new(),
            };
            through(&api, cmd).await
        }
        Err(e) => Err(e.into()),
        Ok(lock) => {
            let r = Ringside::open(
                lock,
                Settings::new(loaded.config, loaded.path),
                String::new(),
                system_clock(),
            )
            .await?;
            direct(&r, cmd).await
        }
    }
}

/// The command on the store, with no hub running.
async fn direct(r: &Ringside, cmd: AgentsCommand) -> Result<()> {
    let admin = Viewer::admin(r);
    match cmd {
        AgentsCommand::Add {
            name,
            identities,
            groups,
            supervisor,
        } => {
            let new = NewAgent {
                name,
                identities,
                groups,
                supervisor,
            };
            print_issued("added", &agents::add(r, &admin, new).await?);
        }
        AgentsCommand::List => print_list(&agents::list(r, &admin).await?, false),
        AgentsCommand::Remove { name } => {
            agents::remove(r, &admin, &name).await?;
            println!("agent {name} removed");
        }
        AgentsCommand::Token { name } => print_issued(
            "given a new token",
            &agents::new_token(r, &admin, &name).await?,
        ),
    }
    Ok(())
}

/// The running hub's API, with the admin token.
struct Api {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Option<T>> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("reaching the hub at {}", self.url))?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let message = v["error"]["message"].as_str().unwrap_or(&text);
            bail!("the hub at {} refused ({status}): {message}", self.url);
        }
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(serde_json::from_str(&text)?))
    }
}

/// The command through the running hub's API.
async fn through(api: &Api, cmd: AgentsCommand) -> Result<()> {
    use reqwest::Method;
    eprintln!("through the hub running at {}", api.url);
    match cmd {
        AgentsCommand::Add {
            name,
            identities,
            groups,
            supervisor,
        } => {
            let body = serde_json::json!({"name": name, "identities": identities,
                                          "groups": groups, "supervisor": supervisor});
            let issued: IssuedToken = api
                .send(Method::POST, "/api/agents", Some(body))
                .await?
                .context("the hub sent no token")?;
            print_issued("added", &issued);
        }
        AgentsCommand::List => {
            let list: Vec<TeamMember> = api
                .send(Method::GET, "/api/agents", None)
                .await?
                .unwrap_or_default();
            print_list(&list, true);
        }
        AgentsCommand::Remove { name } => {
            api.send::<serde_json::Value>(Method::DELETE, &format!("/api/agents/{name}"), None)
                .await?;
            println!("agent {name} removed; their connections are closed");
        }
        AgentsCommand::Token { name } => {
            let issued: IssuedToken = api
                .send(Method::POST, &format!("/api/agents/{name}/token"), None)
                .await?
                .context("the hub sent no token")?;
            print_issued("given a new token", &issued);
        }
    }
    Ok(())
}

fn print_issued(what: &str, issued: &IssuedToken) {
    let a = &issued.agent;
    println!("agent {} {what}: {}", a.name, describe(a));
    println!("{}", issued.token);
}

fn describe(a: &Agent) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "identities {}; groups {}{}",
        list(&a.identities),
        list(&a.groups),
        if a.supervisor { "; supervisor" } else { "" }
    )
}

fn print_list(list: &[TeamMember], running: bool) {
    if list.is_empty() {
        println!("no agents yet: ringside-server agents add NAME --identity ID");
        return;
    }
    for m in list {
        let online = match (running, m.connections) {
            (false, _) => "",
            (true, 0) => "  offline",
            (true, _) => "  online",
        };
        let dnd = if m.agent.dnd { "  do not disturb" } else { "" };
        println!("{:<20} {}{online}{dnd}", m.agent.name, describe(&m.agent));
    }
}
