//! What an agent can do with calls: list and search them, open one, the missed calls, mark
//! them done, call back, open the caller's record, export as CSV. The HTTP API and the
//! desktop's commands are thin wrappers over these.

use crate::call_view::{views, CallView};
use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use chrono::{DateTime, Utc};
use ringside_core::links::{self, RecordValues, Template};
use ringside_core::spreadsheet::Sheet;
use ringside_core::store::{CallQuery, Queries};
use ringside_core::{Call, CallState, CallWithTimeline, Direction};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
}

impl CallFilter {
    /// The store's query; a text to find with a control character in it (a NUL) is refused.
    fn query(self) -> Result<CallQuery> {
        if self
            .q
            .as_deref()
            .is_some_and(|q| q.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                Invalid::Request,
                "q: the text to find holds a control character",
            ));
        }
        Ok(self.into())
    }
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
    let q = filter.query()?;
    let calls = r.read(move |s| s.calls(&q)).await?;
    Ok(views(calls, &r.settings().me))
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
    Ok(views(calls, &r.settings().me))
}

pub async fn mark_done(r: &Ringside, id: &str) -> Result<CallView> {
    let call = r
        .engine
        .set_done(id, true, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &r.settings().me))
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

/// The URI that calls the other party of call `id` back.
pub async fn callback_uri(r: &Ringside, id: &str) -> Result<String> {
    let call = get(r, id).await?.call;
    let settings = r.settings();
    let number = links::other_party(&call)
        .ok_or_else(|| Error::NotCallable("the call has no number".into()))?;
    links::callback_uri(number, &settings.config.callback, settings.config.region())
        .map_err(|e| Error::NotCallable(e.0))
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

/// The number of call `id`'s other party, for the new-contact form.
pub async fn other_party(r: &Ringside, id: &str) -> Result<Option<String>> {
    let call = get(r, id).await?.call;
    Ok(links::other_party(&call).map(str::to_string))
}

/// Calls as CSV, whole (the desktop saves it): see [`CsvExport`].
pub async fn csv(r: &Ringside, filter: CallFilter) -> Result<String> {
    let mut pages = CsvExport::start(r, filter)?;
    let mut file = String::new();
    while let Some(page) = pages.next().await? {
        file.push_str(&page);
    }
    Ok(file)
}

/// Calls as CSV for a spreadsheet, newest first, a page at a time so an export of any size
/// streams: every call the filter finds (or its `limit`, when it has one). Cells a
/// spreadsheet would run as a formula are made text ([`Sheet`]).
pub struct CsvExport {
    r: Ringside,
    query: CallQuery,
    /// Rows still to give, when the filter limits them.
    left: Option<usize>,
    sheet: Sheet,
    started: bool,
    done: bool,
}

impl CsvExport {
    pub fn start(r: &Ringside, filter: CallFilter) -> Result<CsvExport> {
        let left = filter.limit;
        Ok(CsvExport {
            r: r.clone(),
            query: filter.query()?,
            left,
            sheet: Sheet::default(),
            started: false,
            done: false,
        })
    }

    /// The parts of the file, as a stream.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<String>> + Send {
        futures_util::stream::try_unfold(self, |mut e| async move {
            Ok(e.next().await?.map(|part| (part, e)))
        })
    }

    /// The next part of the file; `None` once it is all given.
    pub async fn next(&mut self) -> Result<Option<String>> {
        if !self.started {
            self.started = true;
            self.sheet.row(CSV_HEADER)?;
            return Ok(Some(self.sheet.take()?));
        }
        if self.done {
            return Ok(None);
        }
        let page = self.left.unwrap_or(CSV_PAGE).min(CSV_PAGE);
        let q = CallQuery {
            limit: Some(page),
            ..self.query.clone()
        };
        let calls: Vec<Call> = self.r.read(move |s| s.calls(&q)).await?;
        if let Some(left) = &mut self.left {
            *left -= calls.len();
        }
        self.done = calls.len() < page || self.left == Some(0);
        let Some(last) = calls.last() else {
            return Ok(None);
        };
        self.query.before = Some(last.started_at);
        self.query.before_id = Some(last.id.clone());
        for c in &calls {
            self.sheet.row(csv_row(c))?;
        }
        Ok(Some(self.sheet.take()?))
    }
}

/// Calls a CSV export reads from the store at a time.
const CSV_PAGE: usize = 1000;

const CSV_HEADER: [&str; 13] = [
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

fn csv_row(c: &Call) -> [String; 13] {
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    [
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
    ]
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
