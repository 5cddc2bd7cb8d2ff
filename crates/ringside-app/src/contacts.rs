//! What an agent can do with contacts: list, add, edit, delete, import a file, export, and
//! look a number up. The HTTP API and the desktop's commands are thin wrappers over these.

use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use chrono::{DateTime, Utc};
use ringside_core::contacts::{self, csv, vcard, Contact, ContactInput, ImportReport, LOCAL};
use ringside_core::engine::Engine;
use ringside_core::phone::{self, DefaultRegion};
use ringside_core::store::{ContactEdit, Queries};
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
    /// At most this many (default 200).
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
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportResult {
    pub format: ContactFormat,
    #[serde(flatten)]
    pub report: ImportReport,
    /// For CSV: which column fed which field (`name=Full Name, phone=Mobile`).
    pub columns: Option<String>,
}

/// How many contacts a list holds unless the filter says.
const LIST_LIMIT: usize = 200;

pub async fn list(r: &Ringside, f: ContactFilter) -> Result<Vec<Contact>> {
    let limit = f.limit.unwrap_or(LIST_LIMIT);
    let found = r.read(move |s| s.contacts(f.q.as_deref(), limit)).await?;
    Ok(found.into_iter().map(|c| shown(r, c)).collect())
}

pub async fn get(r: &Ringside, id: i64) -> Result<Contact> {
    r.read(move |s| s.contact(id))
        .await?
        .map(|c| shown(r, c))
        .ok_or_else(|| not_found(id))
}

/// `c` with its numbers as people read them (as calls show numbers).
fn shown(r: &Ringside, mut c: Contact) -> Contact {
    let region = r.settings().config.region();
    for n in &mut c.numbers {
        n.display = Some(phone::display(
            n.e164.as_deref().unwrap_or(&n.number),
            region,
        ));
    }
    c
}

fn not_found(id: i64) -> Error {
    Error::not_found(format!("no contact {id}"))
}

fn invalid(e: anyhow::Error) -> Error {
    Error::invalid(Invalid::Contact, format!("{e:#}"))
}

pub async fn create(r: &Ringside, input: ContactInput) -> Result<Contact> {
    let input = input.cleaned().map_err(invalid)?;
    let region = r.settings().config.region();
    let now = r.now();
    let c = r
        .engine
        .write(move |s| s.create_contact(input, region, now))
        .await?;
    Ok(shown(r, c))
}

pub async fn update(r: &Ringside, id: i64, input: ContactInput) -> Result<Contact> {
    let input = input.cleaned().map_err(invalid)?;
    let region = r.settings().config.region();
    let now = r.now();
    let edit = r
        .engine
        .write(move |s| s.update_contact(id, input, region, now))
        .await?;
    match edit {
        ContactEdit::Updated(c) => Ok(shown(r, c)),
        ContactEdit::NotFound => Err(not_found(id)),
        ContactEdit::ReadOnly { name, source } => Err(Error::ReadOnly(format!(
            "`{name}` comes from {source}: edit it there, Ringside keeps it in sync"
        ))),
    }
}

pub async fn delete(r: &Ringside, id: i64) -> Result<()> {
    let now = r.now();
    r.engine
        .write(move |s| s.delete_contact(id, now))
        .await?
        .map(|_| ())
        .ok_or_else(|| not_found(id))
}

/// Read a CSV or vCard file into local contacts (`mapping`: CSV `field=Header` overrides).
/// The same file imported again updates rather than duplicates.
pub async fn import(
    r: &Ringside,
    bytes: Vec<u8>,
    format: Option<ContactFormat>,
    mapping: Vec<String>,
) -> Result<ImportResult> {
    let region = r.settings().config.region();
    import_into(&r.engine, bytes, format, &mapping, region, r.now()).await
}

/// [`import`] into `engine`'s store, numbers without a country code read in `region`: for
/// the command line when no Ringside serves the data directory.
pub async fn import_into(
    engine: &Engine,
    bytes: Vec<u8>,
    format: Option<ContactFormat>,
    mapping: &[String],
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Result<ImportResult> {
    let format = format.unwrap_or_else(|| ContactFormat::sniff(&bytes));
    let (items, skipped, columns) = parse_file(&bytes, format, mapping)?;
    let mut report = engine
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
) -> Result<(Vec<contacts::SourcedContact>, Vec<String>, Option<String>)> {
    match format {
        ContactFormat::Csv => {
            let mapping = csv::parse_mapping(mapping)
                .map_err(|e| Error::invalid(Invalid::Mapping, format!("{e:#}")))?;
            let parsed = csv::parse(bytes, &mapping).map_err(|e| {
                let what = match e {
                    csv::CsvError::Columns(_) => Invalid::Mapping,
                    csv::CsvError::File(_) => Invalid::File,
                };
                Error::invalid(what, e.to_string())
            })?;
            Ok((parsed.contacts, parsed.skipped, Some(parsed.columns)))
        }
        ContactFormat::Vcard => {
            if !mapping.is_empty() {
                return Err(Error::invalid(
                    Invalid::Mapping,
                    "column mappings are for CSV files; this is a vCard file",
                ));
            }
            let text = String::from_utf8_lossy(bytes);
            let parsed = vcard::parse(&text);
            if parsed.contacts.is_empty() && parsed.skipped.is_empty() {
                return Err(Error::invalid(
                    Invalid::File,
                    "no vCard (BEGIN:VCARD ... END:VCARD) in the file",
                ));
            }
            Ok((parsed.contacts, parsed.skipped, None))
        }
    }
}

/// Every contact as one file.
pub async fn export(r: &Ringside, format: ContactFormat) -> Result<String> {
    let all = r.read(|s| s.contacts(None, usize::MAX)).await?;
    Ok(match format {
        ContactFormat::Csv => csv::export(&all)?,
        ContactFormat::Vcard => vcard::export(&all),
    })
}

/// Who `number` is, as the stored contacts know it right now (the CRM answers for calls).
pub async fn lookup(r: &Ringside, number: String) -> Result<Vec<ContactMatch>> {
    let region = r.settings().config.region();
    let n = ringside_core::phone::normalize(&number, region);
    Ok(r.read(move |s| s.lookup(&n)).await?)
}
