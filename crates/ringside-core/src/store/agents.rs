//! The hub's agents as stored: name, identities, groups, supervisor, do-not-disturb, and the
//! hash of their token (the token itself is shown once, when it is made).

use super::{parse_ts, ts, Writer};
use crate::agents::{new_token, token_hash, Agent, NewAgent};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str =
    "id, name, identities, groups, supervisor, dnd, created_at, token_at, token_hash";

/// An agent as stored, and their token's hash.
fn agent_row(r: &Row<'_>) -> rusqlite::Result<(Agent, Vec<u8>)> {
    let json = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let text: String = r.get(i)?;
        parse_ts(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok((
        Agent {
            id: r.get(0)?,
            name: r.get(1)?,
            identities: json(2)?,
            groups: json(3)?,
            supervisor: r.get(4)?,
            dnd: r.get(5)?,
            created_at: time(6)?,
            token_at: time(7)?,
        },
        r.get(8)?,
    ))
}

pub(super) fn list(conn: &Connection) -> Result<Vec<Agent>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM agents ORDER BY name"))?;
    let rows = stmt.query_map([], agent_row)?;
    Ok(rows
        .map(|r| r.map(|(a, _)| a))
        .collect::<rusqlite::Result<_>>()?)
}

/// Agent `id` and their token's hash.
pub(super) fn with_hash(conn: &Connection, id: i64) -> Result<Option<(Agent, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM agents WHERE id = ?1"))?
        .query_row([id], agent_row)
        .optional()?)
}

pub(super) fn by_name(conn: &Connection, name: &str) -> Result<Option<Agent>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM agents WHERE name = ?1"))?
        .query_row([name], agent_row)
        .optional()?
        .map(|(a, _)| a))
}

/// What adding an agent did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The agent, and their token (shown this once).
    New(Agent, String),
    /// An agent by that name exists.
    Taken,
}

impl Writer {
    /// Add agent `new` (checked by [`NewAgent::cleaned`]) with a fresh token.
    pub fn add_agent(&mut self, new: &NewAgent, now: DateTime<Utc>) -> Result<Added> {
        let tx = self.conn.transaction()?;
        if by_name(&tx, &new.name)?.is_some() {
            return Ok(Added::Taken);
        }
        // The token names the agent's id, which exists once the row does: made with a
        // placeholder hash, then given its token.
        tx.prepare_cached(
            "INSERT INTO agents (name, token_hash, identities, groups, supervisor, created_at, token_at)
             VALUES (?1, x'', ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            new.name,
            serde_json::to_string(&new.identities)?,
            serde_json::to_string(&new.groups)?,
            new.supervisor,
            ts(now)
        ])?;
        let id = tx.last_insert_rowid();
        let token = new_token(id);
        tx.execute(
            "UPDATE agents SET token_hash = ?2 WHERE id = ?1",
            params![id, token_hash(&token)],
        )?;
        let (agent, _) = with_hash(&tx, id)?.context("the agent just added")?;
        tx.commit()?;
        Ok(Added::New(agent, token))
    }

    /// A new token for agent `name`: the old one stops working at once. `None`: no such agent.
    pub fn new_agent_token(
        &mut self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Agent, String)>> {
        let tx = self.conn.transaction()?;
        let Some(agent) = by_name(&tx, name)? else {
            return Ok(None);
        };
        let token = new_token(agent.id);
        tx.execute(
            "UPDATE agents SET token_hash = ?2, token_at = ?3 WHERE id = ?1",
            params![agent.id, token_hash(&token), ts(now)],
        )?;
        let (agent, _) = with_hash(&tx, agent.id)?.context("the agent just changed")?;
        tx.commit()?;
        Ok(Some((agent, token)))
    }

    /// Remove agent `name`; the agent as they were, if there was one.
    pub fn remove_agent(&mut self, name: &str) -> Result<Option<Agent>> {
        let tx = self.conn.transaction()?;
        let agent = by_name(&tx, name)?;
        tx.execute("DELETE FROM agents WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(agent)
    }

    /// Set agent `id`'s do-not-disturb; the agent as they are now.
    pub fn set_dnd(&mut self, id: i64, dnd: bool) -> Result<Option<Agent>> {
        self.conn
            .execute("UPDATE agents SET dnd = ?2 WHERE id = ?1", params![id, dnd])?;
        Ok(with_hash(&self.conn, id)?.map(|(a, _)| a))
    }
}
