//! What an agent can do with calls: list and search them, open one, the missed calls, mark
//! them done (and undo it), call back or dial any number, note how a call went (wrap-up), what
//! is known of the caller, open the caller's record, export as CSV. The HTTP API and the
//! desktop's commands are thin wrappers over these.

use crate::call_view::{views, CallView};
use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use chrono::{DateTime, Utc};
use ringside_core::config::MAX_DISPOSITION;
use ringside_core::dial::{Dial, DialVia};
use ringside_core::links::{self, RecordValues, Template};
use ringside_core::phone;
use ringside_core::spreadsheet::defuse_formula;
use ringside_core::store::{CallQuery, Queries};
use ringside_core::{Call, CallState, CallWithTimeline, Direction, Wrapup};
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
        }
    }
}

fn no_call(id: &str) -> Error {
    Error::not_found(format!("no call `{id}`"))
}

/// Calls, newest first, as the agent sees them.
pub async fn list(r: &Ringside, filter: CallFilter) -> Result<Vec<CallView>> {
    let q: CallQuery = filter.into();
    let calls = r.read(move |s| s.calls(&q)).await?;
    Ok(views(calls, &r.settings()))
}

pub async fn get(r: &Ringside, id: &str) -> Result<CallWithTimeline> {
    let key = id.to_string();
    r.read(move |s| s.call(&key))
        .await?
        .ok_or_else(|| no_call(id))
}

/// Missed calls not yet done, newest first.
pub async fn missed(r: &Ringside) -> Result<Vec<CallView>> {
    let calls = r.read(|s| s.missed()).await?;
    Ok(views(calls, &r.settings()))
}

pub async fn mark_done(r: &Ringside, id: &str) -> Result<CallView> {
    let call = r
        .engine
        .set_done(id, true, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &r.settings()))
}

/// Mark calls done, or not done again (`done: false`: undo); returns them as they are now.
/// Every id must name a call.
pub async fn set_done(r: &Ringside, ids: &[String], done: bool) -> Result<Vec<CallView>> {
    let now = r.now();
    let mut out = Vec::new();
    for id in ids {
        let call = r
            .engine
            .set_done(id, done, now)
            .await?
            .ok_or_else(|| no_call(id))?;
        out.push(CallView::new(call, &r.settings()));
    }
    Ok(out)
}

/// Mark every missed call done; returns how many.
pub async fn mark_all_done(r: &Ringside) -> Result<usize> {
    let ids = r.read(|s| s.missed_ids()).await?;
    let now = r.now();
    for id in &ids {
        r.engine.set_done(id, true, now).await?;
    }
    Ok(ids.len())
}

/// What "Call back" (or "Call" on a number) did.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Dialled {
    pub via: DialVia,
    /// The link to open (`via` is `link`): the browser and the desktop hand it to the OS.
    pub uri: Option<String>,
    /// The number dialled (E.164, or an extension).
    pub number: String,
    /// The missed calls from that number, marked done by calling back (to undo, mark them not
    /// done).
    pub resolved: Vec<String>,
}

/// Call the other party of call `id` back, as `[callback]` says: a link to open, or a request
/// to the phone system, which rings the agent first. The number's missed calls are done.
pub async fn call_back(r: &Ringside, id: &str) -> Result<Dialled> {
    let call = get(r, id).await?.call;
    let region = r.settings().config.region();
    let number = links::other_party(&call)
        .filter(|n| !phone::is_withheld(n))
        .ok_or_else(|| Error::NotCallable("the caller's number is withheld".into()))?;
    let values = RecordValues::for_call(&call, region);
    dial_with(r, number, &values).await
}

/// Call `number` (from a contact, the history, a number typed in), as "Call back" does.
pub async fn dial(r: &Ringside, number: &str) -> Result<Dialled> {
    let region = r.settings().config.region();
    dial_with(r, number, &RecordValues::for_number(number, region)).await
}

async fn dial_with(r: &Ringside, number: &str, values: &RecordValues) -> Result<Dialled> {
    let settings = r.settings();
    let region = settings.config.region();
    let agent = settings.config.agent.identities.first().map(String::as_str);
    let plan = settings
        .config
        .callback
        .plan(number, values, agent, region)
        .map_err(|e| Error::NotCallable(e.0))?;
    let (via, uri) = match plan {
        Dial::Open(uri) => (DialVia::Link, Some(uri)),
        Dial::Request(via, req) => {
            crate::dial::send(via, &req).await?;
            (via, None)
        }
    };
    let number = phone::normalize(number, region);
    let resolved = r
        .engine
        .called_back(&number, "called back", r.now())
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    Ok(Dialled {
        via,
        uri,
        number,
        resolved,
    })
}

/// What an agent writes after a call.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct WrapupInput {
    /// One of `[wrapup] dispositions`, or none.
    #[serde(default)]
    pub disposition: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// The longest wrap-up note.
pub const MAX_NOTE: usize = 4000;

/// Note how call `id` went: a disposition from the configured list and a note. Both empty
/// clears the wrap-up.
pub async fn wrap_up(r: &Ringside, id: &str, input: WrapupInput) -> Result<CallView> {
    let settings = r.settings();
    let note = input.note.trim().to_string();
    let disposition = input.disposition.filter(|d| !d.trim().is_empty());
    if let Some(d) = &disposition {
        let known = settings.config.wrapup.dispositions.contains(d);
        if !known || d.chars().count() > MAX_DISPOSITION {
            return Err(Error::Invalid {
                what: Invalid::Request,
                message: format!("`{d}` is not one of the dispositions set in Settings"),
                field: Some("disposition".into()),
            });
        }
    }
    if note.chars().count() > MAX_NOTE {
        return Err(Error::Invalid {
            what: Invalid::Request,
            message: format!("the note is longer than {MAX_NOTE} characters"),
            field: Some("note".into()),
        });
    }
    let wrapup = (disposition.is_some() || !note.is_empty()).then(|| Wrapup {
        disposition,
        note,
        by: settings.config.agent.identities.first().cloned(),
        at: r.now(),
    });
    let call = r
        .engine
        .set_wrapup(id, wrapup, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &settings))
}

/// What Ringside knows of a call's other party, at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CallerContext {
    /// Calls with this number before this one.
    #[ts(type = "number")]
    pub earlier: u64,
    /// The newest of them.
    pub last: Option<EarlierCall>,
    /// The number's missed calls not done yet (this one too, if it is one).
    #[ts(type = "number")]
    pub open_missed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct EarlierCall {
    pub id: String,
    pub direction: Direction,
    pub state: CallState,
    pub started_at: DateTime<Utc>,
    pub answered_by: Option<String>,
    pub disposition: Option<String>,
}

/// The caller's earlier calls (how many, the last one's outcome and agent) and their open
/// missed calls. A withheld caller has no history.
pub async fn context(r: &Ringside, id: &str) -> Result<CallerContext> {
    let call = get(r, id).await?.call;
    let Some(number) = links::other_party(&call)
        .filter(|n| !phone::is_withheld(n))
        .map(str::to_string)
    else {
        return Ok(CallerContext {
            earlier: 0,
            last: None,
            open_missed: 0,
        });
    };
    let started = call.started_at;
    let party = r.read(move |s| s.party(&number, started, 1)).await?;
    Ok(CallerContext {
        earlier: party.calls,
        last: party.newest.into_iter().next().map(|c| EarlierCall {
            id: c.id,
            direction: c.direction,
            state: c.state,
            started_at: c.started_at,
            answered_by: c.answered_by,
            disposition: c.wrapup.and_then(|w| w.disposition),
        }),
        open_missed: party.open_missed,
    })
}

/// The record URL for call `id`'s other party as contact `key` (one of the call's matches;
/// default the best one): that contact's own record URL when it has one, else the `[crm] url`
/// template filled in; `None` when there is neither.
pub async fn record_url(r: &Ringside, id: &str, key: Option<&str>) -> Result<Option<String>> {
    let call = get(r, id).await?.call;
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

/// The largest recording Ringside fetches to play (an hour of MP3 at 128 kbit/s is ~58 MB).
const MAX_RECORDING: usize = 100 * 1024 * 1024;

/// Call `id`'s recording, fetched from where the provider keeps it, to play in place (the UI
/// cannot reach other hosts itself): its content type and bytes.
pub async fn recording(r: &Ringside, id: &str) -> Result<(String, Vec<u8>)> {
    let call = get(r, id).await?.call;
    let url = call
        .recording_url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .filter(|u| links::openable(u))
        .ok_or_else(|| Error::not_found(format!("call `{id}` has no recording")))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Internal(e.into()))?;
    let unavailable = |why: String| {
        tracing::warn!("fetching the recording of {id}: {why}");
        Error::not_found(format!("the recording of call `{id}` could not be fetched"))
    };
    let mut res = client
        .get(&url)
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !res.status().is_success() {
        return Err(unavailable(format!("the server answered {}", res.status())));
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("audio/") || v.starts_with("video/"))
        .unwrap_or("audio/mpeg")
        .to_string();
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| unavailable(e.to_string()))? {
        if body.len() + chunk.len() > MAX_RECORDING {
            return Err(unavailable("larger than 100 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((content_type, body))
}

/// The number of call `id`'s other party, for the new-contact form.
pub async fn other_party(r: &Ringside, id: &str) -> Result<Option<String>> {
    let call = get(r, id).await?.call;
    Ok(links::other_party(&call).map(str::to_string))
}

/// Calls as CSV, for a spreadsheet. Cells that a spreadsheet would run as a formula are
/// prefixed with `'`.
pub async fn csv(r: &Ringside, filter: CallFilter) -> Result<String> {
    let q = CallQuery {
        limit: Some(filter.limit.unwrap_or(CSV_ROWS)),
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
        "name",
        "company",
        "line",
        "answered_by",
        "agents_rung",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_s",
        "end_reason",
        "done",
        "disposition",
        "note",
        "recording_url",
    ];
    w.write_record(header).map_err(anyhow::Error::from)?;
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    for c in calls {
        // The caller as the contacts know them: the best match (the one the UI names first).
        let best = c.contacts.first();
        let mut rung: Vec<&str> = Vec::new();
        for l in &c.legs {
            if !rung.contains(&l.agent.as_str()) {
                rung.push(&l.agent);
            }
        }
        let row = [
            c.id.clone(),
            c.provider.to_string(),
            serde_plain(&c.direction),
            c.state.as_str().to_string(),
            c.from.clone().unwrap_or_default(),
            c.to.clone().unwrap_or_default(),
            best.map(|m| m.name.clone()).unwrap_or_default(),
            best.and_then(|m| m.company.clone()).unwrap_or_default(),
            c.line.clone().unwrap_or_default(),
            c.answered_by.clone().unwrap_or_default(),
            rung.join(" "),
            c.started_at.to_rfc3339(),
            t(c.answered_at),
            t(c.ended_at),
            c.duration_s.map(|d| d.to_string()).unwrap_or_default(),
            c.end_reason.as_ref().map(serde_plain).unwrap_or_default(),
            if c.done { "yes" } else { "no" }.to_string(),
            c.wrapup
                .as_ref()
                .and_then(|w| w.disposition.clone())
                .unwrap_or_default(),
            c.wrapup
                .as_ref()
                .map(|w| w.note.clone())
                .unwrap_or_default(),
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
