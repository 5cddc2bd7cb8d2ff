//! Contacts from and to CSV files, as address books and CRMs export them.
//!
//! The header row names the columns. Common names are recognised by themselves (Google,
//! Outlook and most CRMs: "Name", "First Name", "Company", "Mobile Phone", "Phone 1 - Value",
//! ...); `field=Header` mappings name any other (`name`, `first_name`, `last_name`,
//! `company`, `phone` (repeatable), `record_url`, `id`). Comma, semicolon and tab separated
//! files are told apart by their header line. A cell may hold several numbers separated by
//! `:::` (Google), `;` or `|`.

use super::SourcedContact;
use super::{Contact, ContactInput, NumberInput};
use anyhow::{bail, Context, Result};

/// A column's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    FirstName,
    LastName,
    Company,
    Phone,
    RecordUrl,
    Id,
}

impl Field {
    const NAMES: [(&'static str, Field); 7] = [
        ("name", Field::Name),
        ("first_name", Field::FirstName),
        ("last_name", Field::LastName),
        ("company", Field::Company),
        ("phone", Field::Phone),
        ("record_url", Field::RecordUrl),
        ("id", Field::Id),
    ];

    pub fn parse(s: &str) -> Result<Field> {
        Field::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, f)| *f)
            .with_context(|| {
                format!(
                    "`{s}` is not a contact field; use one of {}",
                    Field::NAMES.map(|(n, _)| n).join(", ")
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        Field::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// `field=Header` as given on the command line or by the import form.
pub fn parse_mapping(items: &[String]) -> Result<Vec<(Field, String)>> {
    items
        .iter()
        .map(|m| {
            let (f, h) = m
                .split_once('=')
                .with_context(|| format!("`{m}`: write a column mapping as field=Header"))?;
            Ok((Field::parse(f)?, h.trim().to_string()))
        })
        .collect()
}

/// Which column feeds what; phones carry the label their header implies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub name: Option<usize>,
    pub first_name: Option<usize>,
    pub last_name: Option<usize>,
    pub company: Option<usize>,
    pub record_url: Option<usize>,
    pub id: Option<usize>,
    /// (column, label, column holding the label per row)
    pub phones: Vec<(usize, Option<String>, Option<usize>)>,
}

impl Columns {
    /// What the header row says, with `mapping` taking precedence.
    pub fn detect(headers: &[String], mapping: &[(Field, String)]) -> Result<Columns> {
        let find = |h: &str| -> Result<usize> {
            headers
                .iter()
                .position(|x| x.trim().eq_ignore_ascii_case(h.trim()))
                .with_context(|| {
                    format!(
                        "no column `{h}` in the file (its columns: {})",
                        headers.join(", ")
                    )
                })
        };
        let mut c = Columns::default();
        let mut mapped_phones = false;
        for (field, header) in mapping {
            let i = find(header)?;
            match field {
                Field::Name => c.name = Some(i),
                Field::FirstName => c.first_name = Some(i),
                Field::LastName => c.last_name = Some(i),
                Field::Company => c.company = Some(i),
                Field::RecordUrl => c.record_url = Some(i),
                Field::Id => c.id = Some(i),
                Field::Phone => {
                    mapped_phones = true;
                    c.phones.push((i, phone_label(&norm(header)), None));
                }
            }
        }
        for (i, h) in headers.iter().enumerate() {
            let h = norm(h);
            let set = |slot: &mut Option<usize>, names: &[&str]| {
                if slot.is_none() && names.contains(&h.as_str()) {
                    *slot = Some(i);
                }
            };
            set(
                &mut c.name,
                &[
                    "name",
                    "full name",
                    "display name",
                    "contact name",
                    "contact",
                    "fn",
                    "formatted name",
                ],
            );
            set(
                &mut c.first_name,
                &["first name", "given name", "firstname", "first"],
            );
            set(
                &mut c.last_name,
                &["last name", "family name", "surname", "lastname", "last"],
            );
            set(
                &mut c.company,
                &[
                    "company",
                    "company name",
                    "organization",
                    "organisation",
                    "organization name",
                    "organization 1 - name",
                    "org",
                    "account",
                    "account name",
                ],
            );
            set(
                &mut c.record_url,
                &[
                    "record url",
                    "record",
                    "crm url",
                    "url",
                    "link",
                    "profile url",
                ],
            );
            set(
                &mut c.id,
                &["id", "uid", "contact id", "external id", "record id"],
            );
            if !mapped_phones && is_phone_header(&h) {
                let label_col = google_label_column(&h, headers);
                c.phones.push((i, phone_label(&h), label_col));
            }
        }
        if c.name.is_none()
            && c.first_name.is_none()
            && c.last_name.is_none()
            && c.company.is_none()
        {
            bail!(
                "no name column found (columns: {}); map one with name=<column>",
                headers.join(", ")
            );
        }
        if c.phones.is_empty() {
            bail!(
                "no phone column found (columns: {}); map them with phone=<column>",
                headers.join(", ")
            );
        }
        Ok(c)
    }

    /// In words, for the import report: `name=Full Name, phone=Mobile`.
    pub fn describe(&self, headers: &[String]) -> String {
        let mut parts = Vec::new();
        let mut add = |f: Field, i: Option<usize>| {
            if let Some(i) = i {
                parts.push(format!("{}={}", f.as_str(), headers[i]));
            }
        };
        add(Field::Name, self.name);
        add(Field::FirstName, self.first_name);
        add(Field::LastName, self.last_name);
        add(Field::Company, self.company);
        add(Field::RecordUrl, self.record_url);
        add(Field::Id, self.id);
        for (i, _, _) in &self.phones {
            parts.push(format!("phone={}", headers[*i]));
        }
        parts.join(", ")
    }
}

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace(['_', '.'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_phone_header(h: &str) -> bool {
    let phoneish = [
        "phone",
        "mobile",
        "cell",
        "tel",
        "telephone",
        "number",
        "direct",
        "landline",
    ]
    .iter()
    .any(|w| h.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w));
    let not = ["fax", "type", "label", "extension", "ext"]
        .iter()
        .any(|w| {
            h.split(|c: char| !c.is_alphanumeric())
                .any(|t| t == *w || t == format!("{w}s"))
        });
    phoneish && !not
}

fn phone_label(h: &str) -> Option<String> {
    let has = |w: &str| h.split(|c: char| !c.is_alphanumeric()).any(|t| t == w);
    if has("mobile") || has("cell") {
        Some("mobile".into())
    } else if has("business") || has("work") || has("office") || has("direct") {
        Some("work".into())
    } else if has("home") {
        Some("home".into())
    } else {
        None
    }
}

/// Google's export puts the label of "Phone 1 - Value" in "Phone 1 - Type" (or "- Label").
fn google_label_column(h: &str, headers: &[String]) -> Option<usize> {
    let stem = h.strip_suffix(" - value")?;
    headers.iter().position(|x| {
        let x = norm(x);
        x == format!("{stem} - type") || x == format!("{stem} - label")
    })
}

/// The delimiter the header line uses.
fn sniff(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |d: char| {
        let mut quoted = false;
        first
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && c == d
            })
            .count()
    };
    [(b'\t', count('\t')), (b';', count(';')), (b',', count(','))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| d)
        .unwrap_or(b',')
}

/// What a CSV import found.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub contacts: Vec<SourcedContact>,
    pub skipped: Vec<String>,
    /// The mapping used, in words.
    pub columns: String,
}

/// Why a CSV file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header row does not say which column is which (or the mapping names a column that
    /// is not there): the person importing maps them.
    #[error("{0:#}")]
    Columns(anyhow::Error),
    /// The file itself cannot be read.
    #[error("{0:#}")]
    File(anyhow::Error),
}

/// Read contacts from a CSV file. Rows without a name or a number are skipped and reported.
pub fn parse(bytes: &[u8], mapping: &[(Field, String)]) -> Result<Parsed, CsvError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut r = ::csv::ReaderBuilder::new()
        .delimiter(sniff(text))
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .context("reading the header row")
        .map_err(CsvError::File)?
        .iter()
        .map(str::to_string)
        .collect();
    let cols = Columns::detect(&headers, mapping).map_err(CsvError::Columns)?;
    let mut out = Parsed {
        columns: cols.describe(&headers),
        ..Parsed::default()
    };
    for (n, rec) in r.records().enumerate() {
        let row = n + 2; // the header is row 1
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.skipped.push(format!("row {row}: {e}"));
                continue;
            }
        };
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(crate::spreadsheet::restore)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let name = cell(cols.name).or_else(|| {
            let parts: Vec<String> = [cell(cols.first_name), cell(cols.last_name)]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let company = cell(cols.company);
        let mut numbers = Vec::new();
        for (i, label, label_col) in &cols.phones {
            let Some(v) = cell(Some(*i)) else { continue };
            let label = cell(*label_col)
                .map(|l| l.trim_start_matches('*').trim().to_lowercase())
                .or_else(|| label.clone());
            for number in v.split(":::").flat_map(|p| p.split([';', '|'])) {
                if !number.trim().is_empty() {
                    numbers.push(NumberInput {
                        label: label.clone(),
                        number: number.trim().to_string(),
                    });
                }
            }
        }
        if name.is_none() && company.is_none() {
            if !numbers.is_empty() {
                out.skipped.push(format!("row {row}: no name or company"));
            }
            continue;
        }
        let input = ContactInput {
            name: name.unwrap_or_default(),
            company,
            numbers,
            record_url: cell(cols.record_url),
        };
        let external_id = match cell(cols.id) {
            Some(id) => format!("id:{id}"),
            None => name_key(&input),
        };
        match input.clone().cleaned() {
            Ok(_) => out.contacts.push(SourcedContact {
                external_id,
                etag: None,
                input,
            }),
            Err(e) => out.skipped.push(format!("row {row}: {e}")),
        }
    }
    Ok(out)
}

/// The key an import without ids knows a contact by: its name and company.
pub fn name_key(c: &ContactInput) -> String {
    format!(
        "name:{}|{}",
        c.name.trim().to_lowercase(),
        c.company.as_deref().unwrap_or("").trim().to_lowercase()
    )
}

/// Contacts as CSV, one row per contact, numbers in `Phone N - Label` / `Phone N - Value`
/// column pairs (as Google exports them, so the file imports back anywhere, Ringside included).
pub fn export(contacts: &[Contact]) -> Result<String> {
    let most = contacts.iter().map(|c| c.numbers.len()).max().unwrap_or(1);
    let mut e = Export::new(most)?;
    let mut out = e.rows(contacts)?;
    out.insert_str(0, &e.header);
    Ok(out)
}

/// A contacts CSV written a page of contacts at a time (an export streams, whatever the
/// number of contacts): the header, then [`Export::rows`] for each page.
pub struct Export {
    sheet: crate::spreadsheet::Sheet,
    most: usize,
    /// The header line.
    pub header: String,
}

impl Export {
    /// An export whose contacts have at most `most_numbers` numbers each.
    pub fn new(most_numbers: usize) -> Result<Export> {
        let most = most_numbers.max(1);
        let mut header: Vec<String> = ["Name", "Company", "Record URL", "Source"]
            .map(String::from)
            .to_vec();
        for i in 1..=most {
            header.push(format!("Phone {i} - Label"));
            header.push(format!("Phone {i} - Value"));
        }
        let mut sheet = crate::spreadsheet::Sheet::default();
        sheet.row(&header)?;
        let header = sheet.take()?;
        Ok(Export {
            sheet,
            most,
            header,
        })
    }

    /// The rows of `contacts`.
    pub fn rows(&mut self, contacts: &[Contact]) -> Result<String> {
        for c in contacts {
            let mut row = vec![
                c.name.clone(),
                c.company.clone().unwrap_or_default(),
                c.record_url.clone().unwrap_or_default(),
                c.source.clone(),
            ];
            for i in 0..self.most {
                let n = c.numbers.get(i);
                row.push(n.and_then(|n| n.label.clone()).unwrap_or_default());
                row.push(n.map(|n| n.number.clone()).unwrap_or_default());
            }
            self.sheet.row(&row)?;
        }
        self.sheet.take()
    }
}
