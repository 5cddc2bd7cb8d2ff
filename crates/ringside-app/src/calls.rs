//! What an agent can do with calls: list and search them, open one, the missed calls, mark
//! them done, claim one to call back, call back, open the caller's record, export as CSV. The
//! HTTP API and the desktop's commands are thin wrappers over these. Each takes the
//! [`Viewer`], who sees only what they may.

use crate::call_view::{views, CallView};
use crate::error::{Error, Result};
use crate::ringside::Ringside;
use crate::viewer::Viewer;
use chrono::{DateTime, Utc};
use ringside_core::inbox::Refused;
use ringside_core::links::{self, RecordValues, Template};
use ringside_core::spreadsheet::defuse_formula;
use ringside_core::store::{CallQuery, Queries};
use ringside_core::{Call, CallState, CallWithTimeline, Direction};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How many calls a CSV export holds unless the filter says.
const CSV_ROWS: usize = 1000;

/// Which calls to list (`GET /api/calls` query, the `list_calls` command's argument).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct CallFilter {
    /// Number (any punctuation) or text to find.
    pub q: Option<String>,
    pub state: Option<CallState>,
    pub direction: Option<Direction>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
    /// Paging: the last call of the previous page.
    pub before: Option<DateTime<Utc>>,
    pub before_id: Option<String>,
    /// The API token, when the browser sends it in the query; not a filter.
    #[serde(default)]
    #[ts(skip)]
    pub token: Option<String>,
}

impl From<CallFilter> for CallQuery {
    fn from(f: CallFilter) -> Self {
        CallQuery {
            limit: f.limit,
            before: f.before,
            before_id: f.before_id,
            state: f.state,
            direction: f.direction,
            since: f.since,
            until: f.until,
            q: f.q.filter(|q| !q.trim().is_empty()),
            seen_by: None,
        }
    }
}

fn no_call(id: &str) -> Error {
    Error::not_found(format!("no call `{id}`"))
}

/// Calls the viewer sees, newest first.
pub async fn list(r: &Ringside, v: &Viewer, filter: CallFilter) -> Result<Vec<CallView>> {
    let q = CallQuery {
        seen_by: v.keys(),
        ..filter.into()
    };
    let calls = r.read(move |s| s.calls(&q)).await?;
    Ok(views(calls, &v.me))
}

/// Call `id` with its timeline; not found unless the viewer sees it. In an agent's app of a
/// hub, the hub's (with the whole timeline), or the copy kept here while the hub is out of
/// reach.
pub async fn get(r: &Ringside, v: &Viewer, id: &str) -> Result<CallWithTimeline> {
    if let Some(link) = r.team.link() {
        match link
            .hub
            .get::<CallWithTimeline>(&format!("/api/calls/{}", path_id(id)))
            .await
        {
            Err(Error::Internal(_)) => {}
            found => return found,
        }
    }
    let key = id.to_string();
    r.read(move |s| s.call(&key))
        .await?
        .filter(|c| v.sees(&c.call))
        .ok_or_else(|| no_call(id))
}

/// Missed calls not yet done that the viewer sees, newest first.
pub async fn missed(r: &Ringside, v: &Viewer) -> Result<Vec<CallView>> {
    let keys = v.keys();
    let calls = r.read(move |s| s.missed(keys.as_deref())).await?;
    Ok(views(calls, &v.me))
}

/// In an agent's app of a hub, `method path` on the hub (the call as the hub has it now,
/// kept here too); `None` when this app is no hub's.
async fn on_hub(r: &Ringside, method: reqwest::Method, path: String) -> Option<Result<CallView>> {
    let link = r.team.link()?;
    Some(
        async {
            let view: CallView = link.hub.send(method, &path, None).await?;
            crate::team_link::keep(r, view.clone()).await?;
            Ok(view)
        }
        .await,
    )
}

/// A call id as it goes in a path.
fn path_id(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub async fn mark_done(r: &Ringside, v: &Viewer, id: &str) -> Result<CallView> {
    let path = format!("/api/calls/{}/done", path_id(id));
    if let Some(done) = on_hub(r, reqwest::Method::POST, path).await {
        return done;
    }
    get(r, v, id).await?;
    let by = v.name().map(str::to_string);
    let call = r
        .engine
        .set_done(id, true, by, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &v.me))
}

/// Mark every missed call the viewer sees done; returns how many.
pub async fn mark_all_done(r: &Ringside, v: &Viewer) -> Result<usize> {
    if let Some(link) = r.team.link() {
        #[derive(serde::Deserialize)]
        struct Marked {
            marked: usize,
        }
        let m: Marked = link
            .hub
            .send(reqwest::Method::POST, "/api/missed/done", None)
            .await?;
        return Ok(m.marked);
    }
    let keys = v.keys();
    let ids = r.read(move |s| s.missed_ids(keys.as_deref())).await?;
    let now = r.now();
    for id in &ids {
        let by = v.name().map(str::to_string);
        r.engine.set_done(id, true, by, now).await?;
    }
    Ok(ids.len())
}

/// The viewer claims missed call `id` ("I am calling back") for `[hub] claim_minutes`: one
/// agent at a time; another's claim is refused naming its holder.
pub async fn claim(r: &Ringside, v: &Viewer, id: &str) -> Result<CallView> {
    let path = format!("/api/calls/{}/claim", path_id(id));
    if let Some(claimed) = on_hub(r, reqwest::Method::POST, path).await {
        return claimed;
    }
    let Some(who) = v.name().map(str::to_string) else {
        return Err(Error::Forbidden(
            "claims are made by agents (with their own token)".into(),
        ));
    };
    get(r, v, id).await?;
    let minutes = r
        .settings()
        .config
        .hub
        .as_ref()
        .map_or(ringside_core::team::Hub::default().claim_minutes, |h| {
            h.claim_minutes
        });
    let hold = chrono::Duration::minutes(i64::from(minutes));
    let (key, now) = (id.to_string(), r.now());
    let claimed = r
        .engine
        .write(move |s| {
            let out = s.claim(&key, &who, hold, now)?;
            let changed = out.iter().flatten().cloned().collect();
            Ok((out, changed))
        })
        .await?
        .ok_or_else(|| no_call(id))?;
    claimed.map(|c| CallView::new(c, &v.me)).map_err(refused)
}

/// The viewer lets go of their claim on `id` (an admin or supervisor: of anyone's).
pub async fn release(r: &Ringside, v: &Viewer, id: &str) -> Result<CallView> {
    let path = format!("/api/calls/{}/claim", path_id(id));
    if let Some(released) = on_hub(r, reqwest::Method::DELETE, path).await {
        return released;
    }
    get(r, v, id).await?;
    let who = (!v.oversees()).then(|| v.name().unwrap_or_default().to_string());
    let (key, now) = (id.to_string(), r.now());
    let released = r
        .engine
        .write(move |s| {
            let out = s.release(&key, who.as_deref(), now)?;
            let changed = out.iter().flatten().cloned().collect();
            Ok((out, changed))
        })
        .await?
        .ok_or_else(|| no_call(id))?;
    released.map(|c| CallView::new(c, &v.me)).map_err(refused)
}

fn refused(r: Refused) -> Error {
    match r {
        Refused::Held { .. } | Refused::NotYours(_) | Refused::Done => {
            Error::Conflict(r.to_string())
        }
        Refused::NotMissed(_) => Error::invalid(crate::error::Invalid::Request, r.to_string()),
    }
}

/// The URI that calls the other party of call `id` back.
pub async fn callback_uri(r: &Ringside, v: &Viewer, id: &str) -> Result<String> {
    let call = get(r, v, id).await?.call;
    let settings = r.settings();
    let number = links::other_party(&call)
        .ok_or_else(|| Error::NotCallable("the call has no number".into()))?;
    links::callback_uri(number, &settings.config.callback, settings.config.region())
        .map_err(|e| Error::NotCallable(e.0))
}

/// The record URL for call `id`'s other party as contact `key` (one of the call's matches;
/// default the best one): that contact's own record URL when it has one, else the `[crm] url`
/// template filled in; `None` when there is neither.
pub async fn record_url(
    r: &Ringside,
    v: &Viewer,
    id: &str,
    key: Option<&str>,
) -> Result<Option<String>> {
    let call = get(r, v, id).await?.call;
    let chosen = match key {
        Some(k) => Some(
            call.contacts
                .iter()
                .find(|m| m.key == k)
                .ok_or_else(|| Error::not_found(format!("call `{id}` has no contact `{k}`")))?,
        ),
        None => call.contacts.first(),
    };
    if let Some(url) = chosen.and_then(|m| m.record_url.clone()) {
        if links::openable(&url) {
            return Ok(Some(url));
        }
    }
    let settings = r.settings();
    let Some(template) = &settings.config.crm.url else {
        return Ok(None);
    };
    // The settings were checked when they were saved: a template that does not parse is a
    // bug, not the agent's mistake.
    let template = Template::parse(template).map_err(|e| anyhow::anyhow!("crm.url: {e}"))?;
    Ok(Some(template.fill(&RecordValues::for_match(
        &call,
        chosen,
        settings.config.region(),
    ))))
}

/// The number of call `id`'s other party, for the new-contact form.
pub async fn other_party(r: &Ringside, v: &Viewer, id: &str) -> Result<Option<String>> {
    let call = get(r, v, id).await?.call;
    Ok(links::other_party(&call).map(str::to_string))
}

/// Calls as CSV, for a spreadsheet. Cells that a spreadsheet would run as a formula are
/// prefixed with `'`.
pub async fn csv(r: &Ringside, v: &Viewer, filter: CallFilter) -> Result<String> {
    let q = CallQuery {
        limit: Some(filter.limit.unwrap_or(CSV_ROWS)),
        seen_by: v.keys(),
        ..filter.into()
    };
    let calls: Vec<Call> = r.read(move |s| s.calls(&q)).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "provider",
        "direction",
        "state",
        "from",
        "to",
        "answered_by",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_s",
        "end_reason",
        "recording_url",
    ];
    w.write_record(header).map_err(anyhow::Error::from)?;
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    for c in calls {
        let row = [
            c.id.clone(),
            c.provider.to_string(),
            serde_plain(&c.direction),
            c.state.as_str().to_string(),
            c.from.clone().unwrap_or_default(),
            c.to.clone().unwrap_or_default(),
            c.answered_by.clone().unwrap_or_default(),
            c.started_at.to_rfc3339(),
            t(c.answered_at),
            t(c.ended_at),
            c.duration_s.map(|d| d.to_string()).unwrap_or_default(),
            c.end_reason.as_ref().map(serde_plain).unwrap_or_default(),
            c.recording_url.clone().unwrap_or_default(),
        ];
        w.write_record(row.iter().map(|v| defuse_formula(v)))
            .map_err(anyhow::Error::from)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes).map_err(anyhow::Error::from)?)
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
