//! What an agent can do with calls: list and search them, open one, the missed calls, mark
//! them done (and undo it), claim one to call back, call back or dial any number, note how a
//! call went (wrap-up), what is known of the caller, open the caller's record, export as CSV.
//! The HTTP API and the desktop's commands are thin wrappers over these. Each takes the
//! [`Viewer`], who sees only what they may.

use crate::call_view::{views, CallView};
use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use crate::viewer::Viewer;
use chrono::{DateTime, Utc};
use ringside_core::config::MAX_DISPOSITION;
use ringside_core::dial::{Dial, DialVia};
use ringside_core::inbox::Refused;
use ringside_core::links::{self, RecordValues, Template};
use ringside_core::phone;
use ringside_core::spreadsheet::Sheet;
use ringside_core::store::{CallQuery, Queries};
use ringside_core::{Call, CallState, CallWithTimeline, Direction, Wrapup};
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
        ..filter.query()?
    };
    let calls = r.read(move |s| s.calls(&q)).await?;
    Ok(views(calls, &v.me, &r.settings()))
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
    Ok(views(calls, &v.me, &r.settings()))
}

/// In an agent's app of a hub, `method path` on the hub (the call as the hub has it now,
/// kept here too); `None` when this app is no hub's.
async fn on_hub(
    r: &Ringside,
    method: reqwest::Method,
    path: String,
    body: Option<serde_json::Value>,
) -> Option<Result<CallView>> {
    let link = r.team.link()?;
    Some(
        async {
            let view: CallView = link.hub.send(method, &path, body).await?;
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
    if let Some(done) = on_hub(r, reqwest::Method::POST, path, None).await {
        return done;
    }
    get(r, v, id).await?;
    let by = v.name().map(str::to_string);
    let call = r
        .engine
        .set_done(id, true, by, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &v.me, &r.settings()))
}

/// Mark calls done, or not done again (`done: false`: undo); returns them as they are now.
/// Every id must name a call the viewer sees.
pub async fn set_done(
    r: &Ringside,
    v: &Viewer,
    ids: &[String],
    done: bool,
) -> Result<Vec<CallView>> {
    if let Some(link) = r.team.link() {
        let body = serde_json::json!({ "ids": ids, "done": done });
        let views: Vec<CallView> = link
            .hub
            .send(reqwest::Method::POST, "/api/calls/done", Some(body))
            .await?;
        for view in &views {
            crate::team_link::keep(r, view.clone()).await?;
        }
        return Ok(views);
    }
    for id in ids {
        get(r, v, id).await?;
    }
    let now = r.now();
    let settings = r.settings();
    let mut out = Vec::new();
    for id in ids {
        let by = v.name().map(str::to_string);
        let call = r
            .engine
            .set_done(id, done, by, now)
            .await?
            .ok_or_else(|| no_call(id))?;
        out.push(CallView::new(call, &v.me, &settings));
    }
    Ok(out)
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
    if let Some(claimed) = on_hub(r, reqwest::Method::POST, path, None).await {
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
    claimed
        .map(|c| CallView::new(c, &v.me, &r.settings()))
        .map_err(refused)
}

/// The viewer lets go of their claim on `id` (an admin or supervisor: of anyone's).
pub async fn release(r: &Ringside, v: &Viewer, id: &str) -> Result<CallView> {
    let path = format!("/api/calls/{}/claim", path_id(id));
    if let Some(released) = on_hub(r, reqwest::Method::DELETE, path, None).await {
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
    released
        .map(|c| CallView::new(c, &v.me, &r.settings()))
        .map_err(refused)
}

fn refused(r: Refused) -> Error {
    match r {
        Refused::Held { .. } | Refused::NotYours(_) | Refused::Done => {
            Error::Conflict(r.to_string())
        }
        Refused::NotMissed(_) => Error::invalid(crate::error::Invalid::Request, r.to_string()),
    }
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
pub async fn call_back(r: &Ringside, v: &Viewer, id: &str) -> Result<Dialled> {
    let call = get(r, v, id).await?.call;
    let region = r.settings().config.region();
    let number = links::other_party(&call)
        .filter(|n| !phone::is_withheld(n))
        .ok_or_else(|| Error::NotCallable("the caller's number is withheld".into()))?;
    let values = RecordValues::for_call(&call, region);
    dial_with(r, v, number, &values).await
}

/// Call `number` (from a contact, the history, a number typed in), as "Call back" does.
pub async fn dial(r: &Ringside, v: &Viewer, number: &str) -> Result<Dialled> {
    let region = r.settings().config.region();
    dial_with(r, v, number, &RecordValues::for_number(number, region)).await
}

async fn dial_with(
    r: &Ringside,
    v: &Viewer,
    number: &str,
    values: &RecordValues,
) -> Result<Dialled> {
    let settings = r.settings();
    let region = settings.config.region();
    // The phone to ring first: the viewer's own.
    let agent = v.me.identities().first().map(String::as_str);
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
    let by = v.name().map(str::to_string);
    let resolved: Vec<String> = r
        .engine
        .called_back(&number, "called back", by, r.now())
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if let (Some(link), false) = (r.team.link(), resolved.is_empty()) {
        // The team's inbox is the hub's: the calls this one dealt with are done there too.
        let body = serde_json::json!({ "ids": resolved, "done": true });
        link.hub
            .send::<Vec<CallView>>(reqwest::Method::POST, "/api/calls/done", Some(body))
            .await?;
    }
    Ok(Dialled {
        via,
        uri,
        number,
        resolved,
    })
}

/// What an agent writes after a call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
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
pub async fn wrap_up(r: &Ringside, v: &Viewer, id: &str, input: WrapupInput) -> Result<CallView> {
    let path = format!("/api/calls/{}/wrapup", path_id(id));
    let body = serde_json::to_value(&input).map_err(anyhow::Error::from)?;
    if let Some(wrapped) = on_hub(r, reqwest::Method::POST, path, Some(body)).await {
        return wrapped;
    }
    get(r, v, id).await?;
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
        by: v
            .name()
            .map(str::to_string)
            .or_else(|| v.me.identities().first().cloned()),
        at: r.now(),
    });
    let call = r
        .engine
        .set_wrapup(id, wrapup, r.now())
        .await?
        .ok_or_else(|| no_call(id))?;
    Ok(CallView::new(call, &v.me, &settings))
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
pub async fn context(r: &Ringside, v: &Viewer, id: &str) -> Result<CallerContext> {
    let call = get(r, v, id).await?.call;
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

/// The largest recording Ringside fetches to play (an hour of MP3 at 128 kbit/s is ~58 MB).
const MAX_RECORDING: usize = 100 * 1024 * 1024;

/// Call `id`'s recording, fetched from where the provider keeps it, to play in place (the UI
/// cannot reach other hosts itself): its content type and bytes.
pub async fn recording(r: &Ringside, v: &Viewer, id: &str) -> Result<(String, Vec<u8>)> {
    let call = get(r, v, id).await?.call;
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
    // A provider's recording URL may be signed (a credential): never in the log.
    let mut res = client
        .get(&url)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
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
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_RECORDING {
            return Err(unavailable("larger than 100 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((content_type, body))
}

/// The number of call `id`'s other party, for the new-contact form.
pub async fn other_party(r: &Ringside, v: &Viewer, id: &str) -> Result<Option<String>> {
    let call = get(r, v, id).await?.call;
    Ok(links::other_party(&call).map(str::to_string))
}

/// Calls the viewer sees as CSV, whole (the desktop saves it): see [`CsvExport`].
pub async fn csv(r: &Ringside, v: &Viewer, filter: CallFilter) -> Result<String> {
    let mut pages = CsvExport::start(r, v, filter)?;
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
    /// The calls `v` sees, as `filter` says.
    pub fn start(r: &Ringside, v: &Viewer, filter: CallFilter) -> Result<CsvExport> {
        let left = filter.limit;
        Ok(CsvExport {
            r: r.clone(),
            query: CallQuery {
                seen_by: v.keys(),
                ..filter.query()?
            },
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

const CSV_HEADER: [&str; 20] = [
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

fn csv_row(c: &Call) -> [String; 20] {
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    // The caller as the contacts know them: the best match (the one the UI names first).
    let best = c.contacts.first();
    let mut rung: Vec<&str> = Vec::new();
    for l in &c.legs {
        if !rung.contains(&l.agent.as_str()) {
            rung.push(&l.agent);
        }
    }
    let wrapup = c.wrapup.as_ref();
    [
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
        wrapup
            .and_then(|w| w.disposition.clone())
            .unwrap_or_default(),
        wrapup.map(|w| w.note.clone()).unwrap_or_default(),
        c.recording_url.clone().unwrap_or_default(),
    ]
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
