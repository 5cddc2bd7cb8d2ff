//! Who is calling: contacts kept in the store (entered by hand, imported from CSV or vCard
//! files, or synced from CardDAV address books) and how a caller's number finds them.
//!
//! Matching, in order: the exact E.164 number; else the last `tail_digits` digits (default 9)
//! for numbers stored in formats that do not parse. Zero, one or many contacts may match; all
//! are returned, sorted by the configured source order, then by name. Numbers are keyed twice
//! in `contact_numbers`: by E.164 and by their digits reversed, so "ends with these N digits"
//! is an index range scan for any N.
//!
//! Here: the types, the number keys, the input checks, CSV and vCard files. The store keeps
//! the contacts and does the matching (`store/contacts.rs`).

pub mod csv;
pub mod vcard;

use crate::model::ContactMatch;
use crate::phone::{self, DefaultRegion};
use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The source of contacts entered in Ringside itself or imported from files.
pub const LOCAL: &str = "local";

/// A contact as Ringside keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Contact {
    #[ts(type = "number")]
    pub id: i64,
    /// `local` (entered or imported here: editable) or `carddav:<address book>` (synced:
    /// edited on the server).
    pub source: String,
    pub name: String,
    pub company: Option<String>,
    pub numbers: Vec<ContactNumber>,
    pub record_url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One of a contact's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactNumber {
    /// `work`, `mobile`, ... when the source says.
    pub label: Option<String>,
    /// As entered or imported.
    pub number: String,
    /// The number in E.164 when it parses (with the region at the time it was stored).
    pub e164: Option<String>,
    /// The number for people to read, as calls show numbers (filled when the contact is
    /// served, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub display: Option<String>,
}

/// What a person or an import gives for a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub company: Option<String>,
    pub numbers: Vec<NumberInput>,
    #[serde(default)]
    pub record_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct NumberInput {
    #[serde(default)]
    pub label: Option<String>,
    pub number: String,
}

/// A contact from an external source, keyed by that source's id for it (a vCard UID, a
/// CardDAV resource href, an import key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedContact {
    pub external_id: String,
    pub etag: Option<String>,
    pub input: ContactInput,
}

/// How calls find contacts: the tail length for odd formats and the order of sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupSettings {
    pub tail_digits: usize,
    /// Source names best first; `carddav` stands for every `carddav:<book>`. Sources not
    /// named come last.
    pub order: Vec<String>,
}

impl Default for LookupSettings {
    fn default() -> Self {
        LookupSettings {
            tail_digits: 9,
            order: vec![LOCAL.into(), "carddav".into(), "crm".into()],
        }
    }
}

impl LookupSettings {
    /// Where `source` sorts: its position in `order` (`carddav:x` counts as `carddav`).
    pub fn rank(&self, source: &str) -> usize {
        let family = source.split(':').next().unwrap_or(source);
        self.order
            .iter()
            .position(|o| o == source || o == family)
            .unwrap_or(self.order.len())
    }

    /// Sort `matches` best first: by source rank, then name.
    pub fn sort(&self, matches: &mut [ContactMatch]) {
        matches.sort_by(|a, b| {
            (self.rank(&a.source), a.name.to_lowercase(), &a.key).cmp(&(
                self.rank(&b.source),
                b.name.to_lowercase(),
                &b.key,
            ))
        });
    }
}

/// What an import or a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportReport {
    #[ts(type = "number")]
    pub added: u64,
    #[ts(type = "number")]
    pub updated: u64,
    #[ts(type = "number")]
    pub unchanged: u64,
    /// Records left out, each with why (`row 7: no phone number`).
    pub skipped: Vec<String>,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "added {}, updated {}, unchanged {}",
            self.added, self.updated, self.unchanged
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(", skipped {}", self.skipped.len()));
        }
        s
    }
}

/// The keys a number is found by: its E.164 form (if it parses) and its digits reversed.
/// `None` for withheld numbers and for anything without digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberKeys {
    pub e164: Option<String>,
    pub rdigits: String,
}

pub fn number_keys(raw: &str, region: DefaultRegion) -> Option<NumberKeys> {
    if phone::is_withheld(raw) {
        return None;
    }
    let e164 = phone::e164(raw, region);
    let digits: String = match &e164 {
        Some(e) => e.chars().filter(char::is_ascii_digit).collect(),
        None => phone::digits_before_extension(raw),
    };
    if digits.is_empty() {
        return None;
    }
    Some(NumberKeys {
        e164,
        rdigits: digits.chars().rev().collect(),
    })
}

impl ContactInput {
    /// Trim everything, drop empty numbers and check what is left. Errors say what is wrong
    /// in words a person can act on.
    pub fn cleaned(mut self) -> Result<ContactInput> {
        self.name = self.name.trim().to_string();
        self.company = self
            .company
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        self.record_url = self
            .record_url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if self.name.is_empty() {
            match &self.company {
                Some(c) => self.name = c.clone(),
                None => bail!("a contact needs a name or a company"),
            }
        }
        if self.name.chars().count() > 200 {
            bail!("the name is longer than 200 characters");
        }
        if self
            .company
            .as_ref()
            .is_some_and(|c| c.chars().count() > 200)
        {
            bail!("the company is longer than 200 characters");
        }
        let mut numbers: Vec<NumberInput> = Vec::new();
        for n in self.numbers {
            let number = n.number.trim().to_string();
            if number.is_empty() {
                continue;
            }
            if number.chars().count() > 64
                || !number.chars().any(|c| c.is_ascii_digit())
                || number.chars().any(|c| c.is_control())
            {
                bail!("`{number}` is not a phone number");
            }
            if numbers.iter().any(|m| m.number == number) {
                continue;
            }
            numbers.push(NumberInput {
                label: n
                    .label
                    .map(|l| l.trim().to_lowercase())
                    .filter(|l| !l.is_empty()),
                number,
            });
        }
        if numbers.is_empty() {
            bail!("a contact needs at least one phone number");
        }
        if numbers.len() > 50 {
            bail!("more than 50 numbers for one contact");
        }
        if let Some(u) = &self.record_url {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                bail!("the record URL must be an http(s) URL");
            }
        }
        self.numbers = numbers;
        Ok(self)
    }
}
