//! [`Viewer`]: who is asking. The admin (the API token, the desktop app of a single agent)
//! sees every call; on a hub, an agent (their token) sees their calls and their groups', a
//! supervisor every call. Every operation on calls takes the viewer, so no route can forget
//! to filter.

use crate::ringside::Ringside;
use ringside_core::agents::Agent;
use ringside_core::me::Me;
use ringside_core::Call;

/// Who is asking, and how they see calls.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub who: Who,
    /// Whose calls are "mine" (and, for an agent, which they may see).
    pub me: Me,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The API token: Ringside's own user (a single agent's app) or the hub's administrator.
    Admin,
    /// An agent of the hub, by their token.
    Agent {
        id: i64,
        name: String,
        supervisor: bool,
    },
}

impl Viewer {
    /// The admin: every call, "mine" by `[agent]` (in an agent's app of a hub, by the agent).
    pub fn admin(r: &Ringside) -> Viewer {
        Viewer {
            who: Who::Admin,
            me: r.me(),
        }
    }

    /// Agent `a` of the hub: their calls and their groups' (every call for a supervisor).
    pub fn agent(r: &Ringside, a: &Agent) -> Viewer {
        let s = r.settings();
        let hub = s.config.hub.clone().unwrap_or_default();
        Viewer {
            who: Who::Agent {
                id: a.id,
                name: a.name.clone(),
                supervisor: a.supervisor,
            },
            me: hub.me(&a.identities, &a.groups, a.supervisor, s.config.region()),
        }
    }

    /// The keys of the calls this viewer sees (`None`: every call).
    pub fn keys(&self) -> Option<Vec<String>> {
        match self.who {
            Who::Admin => None,
            Who::Agent { .. } => self.me.keys(),
        }
    }

    pub fn sees(&self, call: &Call) -> bool {
        match self.who {
            Who::Admin => true,
            Who::Agent { .. } => self.me.sees(call),
        }
    }

    /// The agent's name (what claims and done marks record); `None` for the admin.
    pub fn name(&self) -> Option<&str> {
        match &self.who {
            Who::Admin => None,
            Who::Agent { name, .. } => Some(name),
        }
    }

    /// The admin, or a supervisor: sees the team.
    pub fn oversees(&self) -> bool {
        match self.who {
            Who::Admin => true,
            Who::Agent { supervisor, .. } => supervisor,
        }
    }

    /// The agent's id, if an agent.
    pub fn agent_id(&self) -> Option<i64> {
        match self.who {
            Who::Admin => None,
            Who::Agent { id, .. } => Some(id),
        }
    }
}
