//! The hub's agents: who a token is, adding and removing agents, a new token (the old one and
//! its connections end at once), do-not-disturb, and who is online.

use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use crate::viewer::{Viewer, Who};
use ringside_core::agents::{token_agent, token_matches, Agent, NewAgent};
use ringside_core::signature::secrets_equal;
use ringside_core::store::{Added, Queries};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An agent as the team sees them: who, and whether their app is connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TeamMember {
    #[serde(flatten)]
    pub agent: Agent,
    /// Apps (live connections) open now; 0: offline.
    #[ts(type = "number")]
    pub connections: usize,
}

/// `GET /api/me`: who the token is, and how they see calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MeView {
    /// The agent's name; null for the admin token.
    pub name: Option<String>,
    /// The admin token: every call, every setting.
    pub admin: bool,
    pub supervisor: bool,
    /// Who "I" am on the phone system: what makes a call mine.
    pub identities: Vec<String>,
    pub groups: Vec<String>,
    /// The lines of my groups: their calls are mine to see.
    pub lines: Vec<String>,
    pub dnd: bool,
    /// This Ringside is a team's hub.
    pub hub: bool,
    /// This app is an agent's app of the hub at this URL (the rest is the agent as the hub
    /// knows them).
    #[serde(default)]
    pub team: Option<String>,
}

/// A new token, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IssuedToken {
    pub agent: Agent,
    pub token: String,
}

/// Who `token` is: the admin (`[api] token`) or, on a hub, an agent; `None` for neither. Every
/// secret is compared in constant time.
pub async fn viewer(r: &Ringside, token: &str) -> Result<Option<Viewer>> {
    let settings = r.settings();
    let admin = settings.config.api.token.as_deref().unwrap_or("");
    if !admin.is_empty() && secrets_equal(token.as_bytes(), admin.as_bytes()) {
        return Ok(Some(Viewer::admin(r)));
    }
    let (Some(_), Some(id)) = (&settings.config.hub, token_agent(token)) else {
        return Ok(None);
    };
    let found = r.read(move |s| s.agent_with_hash(id)).await?;
    Ok(found
        .filter(|(_, hash)| token_matches(token, hash))
        .map(|(agent, _)| Viewer::agent(r, &agent)))
}

fn hub_only(r: &Ringside) -> Result<()> {
    if r.settings().config.hub.is_none() {
        return Err(Error::invalid(
            Invalid::Request,
            "this Ringside is not a team hub: add a [hub] section to its config",
        ));
    }
    Ok(())
}

fn admin_only(v: &Viewer, what: &str) -> Result<()> {
    match v.who {
        Who::Admin => Ok(()),
        Who::Agent { .. } => Err(Error::Forbidden(format!(
            "{what} takes the admin token ([api] token)"
        ))),
    }
}

fn no_agent(name: &str) -> Error {
    Error::not_found(format!("no agent `{name}`"))
}

/// Add an agent; their token is shown this once (the hub keeps only its hash).
pub async fn add(r: &Ringside, v: &Viewer, new: NewAgent) -> Result<IssuedToken> {
    admin_only(v, "adding an agent")?;
    hub_only(r)?;
    let new = new
        .cleaned()
        .map_err(|m| Error::invalid(Invalid::Request, m))?;
    let settings = r.settings();
    let groups = settings.config.hub.as_ref().map(|h| &h.groups);
    if let Some(g) = new
        .groups
        .iter()
        .find(|g| groups.is_none_or(|gs| !gs.contains_key(*g)))
    {
        return Err(Error::invalid(
            Invalid::Request,
            format!("group `{g}` is not one of the hub's [hub.groups]"),
        ));
    }
    let now = r.now();
    let added = r
        .engine
        .write(move |w| Ok((w.add_agent(&new, now)?, Vec::new())))
        .await?;
    match added {
        Added::New(agent, token) => {
            tracing::info!("agent {} added", agent.name);
            Ok(IssuedToken { agent, token })
        }
        Added::Taken => Err(Error::Conflict("an agent by that name exists".into())),
    }
}

/// Every agent and whether they are online: for the admin and supervisors.
pub async fn list(r: &Ringside, v: &Viewer) -> Result<Vec<TeamMember>> {
    if let (Some(link), Who::Admin) = (r.team.link(), &v.who) {
        // A supervisor's app of a hub: the hub's team (the hub refuses an agent).
        return link.hub.get("/api/agents").await;
    }
    if !v.oversees() {
        return Err(Error::Forbidden(
            "the team's presence is for supervisors and the admin".into(),
        ));
    }
    let agents = r.read(|s| s.agents()).await?;
    Ok(agents
        .into_iter()
        .map(|agent| TeamMember {
            connections: r.presence.connections(agent.id),
            agent,
        })
        .collect())
}

/// Remove agent `name`: their token stops working and their connections close at once.
pub async fn remove(r: &Ringside, v: &Viewer, name: &str) -> Result<Agent> {
    admin_only(v, "removing an agent")?;
    let key = name.to_string();
    let agent = r
        .engine
        .write(move |w| Ok((w.remove_agent(&key)?, Vec::new())))
        .await?
        .ok_or_else(|| no_agent(name))?;
    r.revoke(agent.id);
    tracing::info!("agent {} removed", agent.name);
    Ok(agent)
}

/// A new token for agent `name`: the old one stops working and its connections close at
/// once.
pub async fn new_token(r: &Ringside, v: &Viewer, name: &str) -> Result<IssuedToken> {
    admin_only(v, "a new token")?;
    let (key, now) = (name.to_string(), r.now());
    let (agent, token) = r
        .engine
        .write(move |w| Ok((w.new_agent_token(&key, now)?, Vec::new())))
        .await?
        .ok_or_else(|| no_agent(name))?;
    r.revoke(agent.id);
    tracing::info!("agent {}: new token; the old one is revoked", agent.name);
    Ok(IssuedToken { agent, token })
}

/// Who the viewer is.
pub async fn me(r: &Ringside, v: &Viewer) -> Result<MeView> {
    let settings = r.settings();
    let hub = settings.config.hub.clone();
    Ok(match (&v.who, v.agent_id()) {
        (Who::Agent { .. }, Some(id)) => {
            let (agent, _) = r
                .read(move |s| s.agent_with_hash(id))
                .await?
                .ok_or_else(|| Error::not_found("you were removed from the team"))?;
            MeView {
                lines: hub
                    .as_ref()
                    .map(|h| h.lines_of(&agent.groups))
                    .unwrap_or_default(),
                name: Some(agent.name),
                admin: false,
                supervisor: agent.supervisor,
                identities: agent.identities,
                groups: agent.groups,
                dnd: agent.dnd,
                hub: true,
                team: None,
            }
        }
        _ => match r.team.link() {
            // An agent's app of a hub: the agent, as the hub says, to this app's own user.
            Some(link) => MeView {
                admin: true,
                hub: false,
                team: Some(link.hub.url().to_string()),
                ..link.me
            },
            None => MeView {
                name: None,
                admin: true,
                supervisor: settings.config.agent.supervisor,
                identities: settings.config.agent.identities.clone(),
                groups: Vec::new(),
                lines: Vec::new(),
                dnd: false,
                hub: hub.is_some(),
                team: None,
            },
        },
    })
}

/// The viewer (an agent) turns do-not-disturb on or off; in an agent's app of a hub, on the
/// hub (where it holds for every app of theirs).
pub async fn set_dnd(r: &Ringside, v: &Viewer, dnd: bool) -> Result<MeView> {
    if let (Some(link), Who::Admin) = (r.team.link(), &v.who) {
        let body = serde_json::json!({ "dnd": dnd });
        let me: MeView = link
            .hub
            .send(reqwest::Method::PUT, "/api/me", Some(body))
            .await?;
        r.team.set_me(me);
        return self::me(r, v).await;
    }
    let Some(id) = v.agent_id() else {
        return Err(Error::invalid(
            Invalid::Request,
            "do-not-disturb is an agent's (with their own token)",
        ));
    };
    r.engine
        .write(move |w| Ok((w.set_dnd(id, dnd)?, Vec::new())))
        .await?
        .ok_or_else(|| Error::not_found("you were removed from the team"))?;
    me(r, v).await
}
