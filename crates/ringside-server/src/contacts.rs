//! What the agent can do with contacts, once (like `ops.rs` for calls): list, add, edit,
//! delete, import a file, export, and look a number up. `api.rs` and the desktop's Tauri
//! commands are thin wrappers over these.

use crate::app::AppState;
use crate::error::AppError;
use axum::http::StatusCode;
use ringside_core::contacts::{self, csv, vcard, Contact, ContactInput, ImportReport, LOCAL};
use ringside_core::store::{ContactEdit, Queries, Writer};
use ringside_core::ContactMatch;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `GET /api/contacts` query, the `list_contacts` command's argument.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct ContactFilter {
    /// Text in the name or company, or digits of a number.
    pub q: Option<String>,
    /// At most this many (default 200, at most 5000).
    pub limit: Option<usize>,
    #[serde(default)]
    #[ts(skip)]
    pub token: Option<String>,
}

/// The file formats contacts come in and go out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum ContactFormat {
    Csv,
    Vcard,
}

impl ContactFormat {
    /// vCard when the file says BEGIN:VCARD, else CSV.
    pub fn sniff(bytes: &[u8]) -> ContactFormat {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_uppercase();
        if head.contains("BEGIN:VCARD") {
            ContactFormat::Vcard
        } else {
            ContactFormat::Csv
        }
    }
}

/// What importing a file did.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ImportResult {
    pub format: ContactFormat,
    #[serde(flatten)]
    pub report: ImportReport,
    /// For CSV: which column fed which field (`name=Full Name, phone=Mobile`).
    pub columns: Option<String>,
}

pub async fn list(st: &AppState, f: ContactFilter) -> Result<Vec<Contact>, AppError> {
    let limit = f.limit.unwrap_or(200);
    Ok(st
        .blocking_read(move |s| s.contacts(f.q.as_deref(), limit))
        .await?)
}

pub async fn get(st: &AppState, id: i64) -> Result<Contact, AppError> {
    st.blocking_read(move |s| s.contact(id))
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("no contact {id}"))
}

fn invalid(e: anyhow::Error) -> AppError {
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_contact",
        format!("{e:#}"),
    )
}

pub async fn create(st: &AppState, input: ContactInput) -> Result<Contact, AppError> {
    let input = input.cleaned().map_err(invalid)?;
    let region = st.settings().config.region();
    let now = (st.clock)();
    Ok(st
        .engine
        .write(move |s| s.create_contact(input, region, now))
        .await?)
}

pub async fn update(st: &AppState, id: i64, input: ContactInput) -> Result<Contact, AppError> {
    let input = input.cleaned().map_err(invalid)?;
    let region = st.settings().config.region();
    let now = (st.clock)();
    let edit = st
        .engine
        .write(move |s| s.update_contact(id, input, region, now))
        .await?;
    match edit {
        ContactEdit::Updated(c) => Ok(c),
        ContactEdit::NotFound => Err(not_found(id)),
        ContactEdit::ReadOnly { name, source } => Err(AppError::new(
            StatusCode::CONFLICT,
            "read_only",
            format!("`{name}` comes from {source}: edit it there, Ringside keeps it in sync"),
        )),
    }
}

pub async fn delete(st: &AppState, id: i64) -> Result<(), AppError> {
    let now = (st.clock)();
    st.engine
        .write(move |s| s.delete_contact(id, now))
        .await?
        .map(|_| ())
        .ok_or_else(|| not_found(id))
}

/// Read a CSV or vCard file into local contacts (`mapping`: CSV `field=Header` overrides).
/// The same file imported again updates rather than duplicates.
pub async fn import(
    st: &AppState,
    bytes: Vec<u8>,
    format: Option<ContactFormat>,
    mapping: Vec<String>,
) -> Result<ImportResult, AppError> {
    let format = format.unwrap_or_else(|| ContactFormat::sniff(&bytes));
    let (items, skipped, columns) = parse_file(&bytes, format, &mapping).map_err(|e| {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_file",
            format!("{e:#}"),
        )
    })?;
    let region = st.settings().config.region();
    let now = (st.clock)();
    let mut report = st
        .engine
        .write(move |s| s.upsert_contacts(LOCAL, items, region, now))
        .await?;
    report.skipped.splice(0..0, skipped);
    Ok(ImportResult {
        format,
        report,
        columns,
    })
}

/// What a file holds, before anything is stored: contacts, records left out, the CSV
/// column mapping used.
pub fn parse_file(
    bytes: &[u8],
    format: ContactFormat,
    mapping: &[String],
) -> anyhow::Result<(Vec<contacts::SourcedContact>, Vec<String>, Option<String>)> {
    match format {
        ContactFormat::Csv => {
            let parsed = csv::parse(bytes, &csv::parse_mapping(mapping)?)?;
            Ok((parsed.contacts, parsed.skipped, Some(parsed.columns)))
        }
        ContactFormat::Vcard => {
            if !mapping.is_empty() {
                anyhow::bail!("column mappings are for CSV files; this is a vCard file");
            }
            let text = String::from_utf8_lossy(bytes);
            let parsed = vcard::parse(&text);
            if parsed.contacts.is_empty() && parsed.skipped.is_empty() {
                anyhow::bail!("no vCard (BEGIN:VCARD ... END:VCARD) in the file");
            }
            Ok((parsed.contacts, parsed.skipped, None))
        }
    }
}

/// Every contact as one file.
pub async fn export(st: &AppState, format: ContactFormat) -> Result<String, AppError> {
    let all = st.blocking_read(|s| s.contacts(None, usize::MAX)).await?;
    Ok(match format {
        ContactFormat::Csv => csv::export(&all)?,
        ContactFormat::Vcard => vcard::export(&all),
    })
}

/// Who `number` is, as the stored contacts know it right now (the CRM answers for calls).
pub async fn lookup(st: &AppState, number: String) -> Result<Vec<ContactMatch>, AppError> {
    let region = st.settings().config.region();
    let n = ringside_core::phone::normalize(&number, region);
    Ok(st.blocking_read(move |s| s.lookup(&n)).await?)
}

/// `ringside-server import-contacts FILE`: import straight into the store in `data_dir` (a
/// running Ringside may be using it: SQLite lets both write) and say what happened. Numbers
/// without a country code are read with the config's `[agent] region`.
pub fn import_file(
    file: &std::path::Path,
    format: Option<ContactFormat>,
    mapping: &[String],
    data_dir: &std::path::Path,
    config: &ringside_core::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ImportResult> {
    use anyhow::Context;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let format = format.unwrap_or_else(|| ContactFormat::sniff(&bytes));
    let (items, skipped, columns) = parse_file(&bytes, format, mapping)?;
    let mut store = Writer::open(&ringside_core::engine::Engine::store_path(data_dir))?;
    store.set_lookup(config.contacts.lookup_settings());
    let (mut report, _calls) = store.upsert_contacts(LOCAL, items, config.region(), now)?;
    report.skipped.splice(0..0, skipped);
    Ok(ImportResult {
        format,
        report,
        columns,
    })
}
