//! One sync of one address book into the store.
//!
//! - With a saved sync token (saved by an earlier sync of the same URL): RFC 6578
//!   `sync-collection` from it; only the cards it names as changed (and whose ETag differs
//!   from the stored one) are fetched, the ones it names as gone are removed. A truncated
//!   answer (507) is followed by another round from the new token. A refused token
//!   (`valid-sync-token`, or any refusal of the report) means a full sync instead.
//! - Else a full sync: PROPFIND Depth 1 for every card's ETag, compared with the stored
//!   ETags: new and changed cards are fetched, cards no longer listed removed. The book's
//!   sync token, if it has one, is saved for the next time.
//!
//! Cards are fetched with `addressbook-multiget` in batches, or with one GET each (four at a
//! time) once a server fails the multiget. A card without a usable name or phone number is
//! not stored (and removed if an earlier version was); its ETag is remembered so it is not
//! fetched again until it changes. Every write goes through [`Engine::write`], which
//! announces the calls whose contacts changed.

use super::dav::{ChangesError, Dav, DavError, Fetched, Member};
use crate::clock::Clock;
use futures_util::StreamExt;
use ringside_core::contacts::{vcard, ContactInput, ImportReport, SourcedContact};
use ringside_core::engine::Engine;
use ringside_core::phone::DefaultRegion;
use ringside_core::store::{Queries, Reader};
use ringside_core::Call;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use ts_rs::TS;

/// Cards per `addressbook-multiget`.
const MULTIGET_BATCH: usize = 100;
/// Contacts per write to the store.
const WRITE_BATCH: usize = 500;
/// GETs in flight at once when the server cannot multiget.
const PARALLEL_GETS: usize = 4;
/// Rounds of a truncated `sync-collection` before the rest waits for the next sync.
const MAX_ROUNDS: usize = 50;

/// How a sync found out what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// `sync-collection` from the saved token.
    Incremental,
    /// Every card's ETag listed and compared.
    Full,
}

/// What one sync of a book did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SyncReport {
    pub mode: SyncMode,
    /// Cards downloaded.
    #[ts(type = "number")]
    pub fetched: u64,
    #[ts(type = "number")]
    pub added: u64,
    #[ts(type = "number")]
    pub updated: u64,
    /// Downloaded but the same as stored.
    #[ts(type = "number")]
    pub unchanged: u64,
    #[ts(type = "number")]
    pub removed: u64,
    /// Cards left out: unreadable, or without a name or a phone number.
    #[ts(type = "number")]
    pub skipped: u64,
    /// The book's contacts in Ringside after the sync.
    #[ts(type = "number")]
    pub contacts: u64,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Incremental => "incremental",
            SyncMode::Full => "full",
        }
    }
}

impl SyncReport {
    fn new(mode: SyncMode) -> SyncReport {
        SyncReport {
            mode,
            fetched: 0,
            added: 0,
            updated: 0,
            unchanged: 0,
            removed: 0,
            skipped: 0,
            contacts: 0,
        }
    }

    pub fn changed_anything(&self) -> bool {
        self.added + self.updated + self.removed > 0
    }
}

/// One address book and what its syncs remember between them.
pub struct Book {
    /// `carddav:<name>`.
    pub source: String,
    dav: Dav,
    engine: Engine,
    clock: Clock,
    region: DefaultRegion,
    /// False once the server failed a multiget: GET from then on.
    multiget: bool,
    /// Cards that could not be stored, by key, with the ETag they had then.
    unusable: HashMap<String, Option<String>>,
    /// How many contacts the last sync left in the store. Another count at the next sync
    /// means someone else changed them (a synced contact deleted in Ringside): a full sync
    /// puts that right, which `sync-collection` would not.
    left: Option<usize>,
}

impl Book {
    pub fn new(
        source: String,
        dav: Dav,
        engine: Engine,
        clock: Clock,
        region: DefaultRegion,
    ) -> Book {
        Book {
            source,
            dav,
            engine,
            clock,
            region,
            multiget: true,
            unusable: HashMap::new(),
            left: None,
        }
    }

    /// The book's URL (without credentials).
    pub fn url(&self) -> &reqwest::Url {
        self.dav.url()
    }

    /// Read the password anew before each sync (it may live in the OS keyring).
    pub fn set_password(&mut self, password: Option<String>) {
        self.dav.set_password(password);
    }

    /// Bring the store up to date with the book.
    pub async fn sync(&mut self) -> Result<SyncReport, DavError> {
        let saved = self.saved_token().await?;
        let local = self.local_etags().await?.len();
        // Without contacts in the store (a book removed from the settings and added again)
        // or with others than the last sync left, the token's changes would not be enough.
        let token_holds = local > 0 && self.left.is_none_or(|n| n == local);
        if let Some(token) = saved.filter(|_| token_holds) {
            match self.incremental(&token).await {
                Ok(report) => return Ok(report),
                Err(ChangesError::Refused(why)) => tracing::info!(
                    "{}: the server refused the sync token ({why}); syncing in full",
                    self.source
                ),
                Err(ChangesError::Dav(e)) => return Err(e),
            }
        }
        self.full().await
    }

    async fn incremental(&mut self, token: &str) -> Result<SyncReport, ChangesError> {
        let mut report = SyncReport::new(SyncMode::Incremental);
        let mut token = token.to_string();
        for _ in 0..MAX_ROUNDS {
            let changes = self.dav.changes(&token).await?;
            let local = self.local_etags().await.map_err(ChangesError::Dav)?;
            let fetch = to_fetch(&changes.changed, &local, &self.unusable);
            for key in &changes.removed {
                self.unusable.remove(key);
            }
            let next = changes.sync_token.unwrap_or_default();
            self.apply(fetch, changes.removed, &next, &mut report)
                .await
                .map_err(ChangesError::Dav)?;
            token = next;
            if !changes.truncated {
                break;
            }
        }
        Ok(report)
    }

    async fn full(&mut self) -> Result<SyncReport, DavError> {
        let mut report = SyncReport::new(SyncMode::Full);
        let listing = self.dav.list().await?;
        let local = self.local_etags().await?;
        let listed: HashSet<&str> = listing.members.iter().map(|m| m.key.as_str()).collect();
        self.unusable.retain(|k, _| listed.contains(k.as_str()));
        let gone: Vec<String> = local
            .keys()
            .filter(|k| !listed.contains(k.as_str()))
            .cloned()
            .collect();
        let fetch = to_fetch(&listing.members, &local, &self.unusable);
        // No token (the server has no sync-collection) clears a stale one.
        let token = listing.sync_token.unwrap_or_default();
        self.apply(fetch, gone, &token, &mut report).await?;
        Ok(report)
    }

    /// Fetch `fetch`, then store the usable cards, remove `gone` and the unusable ones, and
    /// save `token` (empty: none, so a stale one goes), in that order, so a crash in between
    /// repeats the work instead of skipping it. Cards are read a batch at a time (their text,
    /// photos and all, is dropped once read) and stored [`WRITE_BATCH`] at a time, so a big
    /// book neither fills the memory nor holds the store's writer long.
    async fn apply(
        &mut self,
        fetch: Vec<Member>,
        mut gone: Vec<String>,
        token: &str,
        report: &mut SyncReport,
    ) -> Result<(), DavError> {
        let mut contacts = Vec::new();
        for batch in fetch.chunks(MULTIGET_BATCH) {
            for f in self.fetch(batch).await? {
                let Some(text) = f.text else {
                    self.unusable.remove(&f.key);
                    gone.push(f.key);
                    continue;
                };
                report.fetched += 1;
                match usable(&text) {
                    Ok(input) => {
                        self.unusable.remove(&f.key);
                        contacts.push(SourcedContact {
                            external_id: f.key,
                            etag: f.etag,
                            input,
                        });
                    }
                    Err(why) => {
                        tracing::debug!("{}: leaving out {}: {why}", self.source, f.key);
                        report.skipped += 1;
                        self.unusable.insert(f.key.clone(), f.etag);
                        gone.push(f.key);
                    }
                }
            }
        }
        while contacts.len() > WRITE_BATCH {
            let rest = contacts.split_off(WRITE_BATCH);
            let batch = std::mem::replace(&mut contacts, rest);
            self.write(batch, Vec::new(), None, report).await?;
        }
        let token = saved_form(self.dav.url().as_str(), token);
        self.write(contacts, gone, Some(token), report).await
    }

    /// Store `contacts`, remove `gone`, and with `Some(token)` save the token (`None` clears
    /// it), in one job on the store's writer.
    async fn write(
        &mut self,
        contacts: Vec<SourcedContact>,
        gone: Vec<String>,
        token: Option<Option<String>>,
        report: &mut SyncReport,
    ) -> Result<(), DavError> {
        let source = self.source.clone();
        let region = self.region;
        let now = (self.clock)();
        let (stored, removed, count) = self
            .engine
            .write(move |store| {
                let mut changed = Vec::new();
                let (stored, calls) = if contacts.is_empty() {
                    (ImportReport::default(), Vec::new())
                } else {
                    store.upsert_contacts(&source, contacts, region, now)?
                };
                changed.extend(calls);
                let (removed, calls) = if gone.is_empty() {
                    (0, Vec::new())
                } else {
                    store.remove_contacts(&source, &gone, now)?
                };
                changed.extend(calls);
                if let Some(t) = token {
                    store.set_sync_token(&source, t.as_deref(), now)?;
                }
                let count = store.source_etags(&source)?.len();
                Ok(((stored, removed, count), last_of_each(changed)))
            })
            .await
            .map_err(|e| DavError::Failed(format!("storing the contacts failed: {e:#}")))?;
        report.added += stored.added;
        report.updated += stored.updated;
        report.unchanged += stored.unchanged;
        report.skipped += stored.skipped.len() as u64;
        report.removed += removed as u64;
        report.contacts = count as u64;
        self.left = Some(count);
        Ok(())
    }

    /// Download one batch of cards: by multiget while the server manages it, else one GET
    /// each (a few at a time). Cards a multiget answer leaves out are asked for by GET.
    async fn fetch(&mut self, batch: &[Member]) -> Result<Vec<Fetched>, DavError> {
        let mut out = Vec::with_capacity(batch.len());
        let mut one_by_one: Vec<Member> = batch.to_vec();
        if self.multiget {
            match self.dav.multiget(batch).await {
                Ok(found) => {
                    let got: HashSet<&str> = found.iter().map(|f| f.key.as_str()).collect();
                    one_by_one.retain(|m| !got.contains(m.key.as_str()));
                    out.extend(found);
                }
                Err(e @ DavError::Auth(_)) => return Err(e),
                Err(DavError::Failed(why)) => {
                    tracing::warn!(
                        "{}: addressbook-multiget failed ({why}); fetching cards one by one",
                        self.source
                    );
                    self.multiget = false;
                }
            }
        }
        let dav = &self.dav;
        let got: Vec<Result<Fetched, DavError>> = futures_util::stream::iter(one_by_one)
            .map(|m| async move { dav.get(&m).await })
            .buffered(PARALLEL_GETS)
            .collect()
            .await;
        for g in got {
            out.push(g?);
        }
        Ok(out)
    }

    async fn local_etags(&self) -> Result<HashMap<String, Option<String>>, DavError> {
        let source = self.source.clone();
        self.read(move |s| s.source_etags(&source)).await
    }

    /// The token saved by the last sync of this book's URL, if any.
    async fn saved_token(&self) -> Result<Option<String>, DavError> {
        let source = self.source.clone();
        let saved = self.read(move |s| s.sync_token(&source)).await?;
        Ok(saved.and_then(|s| token_for(&s, self.dav.url().as_str())))
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, DavError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.read(f))
            .await
            .map_err(|e| DavError::Failed(format!("reading the store: {e}")))?
            .map_err(|e| DavError::Failed(format!("reading the store: {e:#}")))
    }
}

/// A card's contact, if it has what a caller is found and named by.
fn usable(text: &str) -> Result<ContactInput, String> {
    let card = vcard::parse_card(text).map_err(|e| format!("{e:#}"))?;
    card.input.clone().cleaned().map_err(|e| format!("{e:#}"))?;
    Ok(card.input)
}

/// The members to download: those whose ETag is not the stored one (or that give none),
/// except cards known to be unusable at that ETag.
fn to_fetch(
    members: &[Member],
    local: &HashMap<String, Option<String>>,
    unusable: &HashMap<String, Option<String>>,
) -> Vec<Member> {
    members
        .iter()
        .filter(|m| {
            let same = |known: Option<&Option<String>>| {
                m.etag.is_some() && known.is_some_and(|e| *e == m.etag)
            };
            !same(local.get(&m.key)) && !same(unusable.get(&m.key))
        })
        .cloned()
        .collect()
}

/// A sync token is saved with the URL of the book it belongs to: a token is meaningless (or
/// worse, means something else) to another book, so a changed URL starts with a full sync.
fn saved_form(url: &str, token: &str) -> Option<String> {
    (!token.is_empty()).then(|| format!("{url} {token}"))
}

/// The token in `saved`, if it was saved for `url`.
fn token_for(saved: &str, url: &str) -> Option<String> {
    let (for_url, token) = saved.split_once(' ')?;
    (for_url == url && !token.is_empty()).then(|| token.to_string())
}

/// Each changed call once, in its last version.
pub(super) fn last_of_each(calls: Vec<Call>) -> Vec<Call> {
    let mut by_id: BTreeMap<String, Call> = BTreeMap::new();
    for c in calls {
        by_id.insert(c.id.clone(), c);
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;

    fn member(key: &str, etag: Option<&str>) -> Member {
        Member {
            key: key.into(),
            url: Url::parse("https://dav.example.com")
                .unwrap()
                .join(key)
                .unwrap(),
            etag: etag.map(str::to_string),
        }
    }

    #[test]
    fn only_new_and_changed_cards_are_fetched() {
        let local: HashMap<String, Option<String>> = [
            ("/b/same.vcf".to_string(), Some("\"1\"".to_string())),
            ("/b/changed.vcf".to_string(), Some("\"1\"".to_string())),
        ]
        .into();
        let unusable: HashMap<String, Option<String>> = [
            ("/b/nophone.vcf".to_string(), Some("\"5\"".to_string())),
            (
                "/b/nophone-edited.vcf".to_string(),
                Some("\"5\"".to_string()),
            ),
        ]
        .into();
        let members = [
            member("/b/same.vcf", Some("\"1\"")),
            member("/b/changed.vcf", Some("\"2\"")),
            member("/b/new.vcf", Some("\"1\"")),
            member("/b/no-etag.vcf", None),
            member("/b/nophone.vcf", Some("\"5\"")),
            member("/b/nophone-edited.vcf", Some("\"6\"")),
        ];
        let keys: Vec<String> = to_fetch(&members, &local, &unusable)
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            keys,
            [
                "/b/changed.vcf",
                "/b/new.vcf",
                "/b/no-etag.vcf",
                "/b/nophone-edited.vcf"
            ]
        );
    }

    #[test]
    fn a_token_counts_only_for_the_url_it_was_saved_for() {
        let url = "https://dav.example.com/books/me/work/";
        let saved = saved_form(url, "http://sabre.io/ns/sync/42").unwrap();
        assert_eq!(
            token_for(&saved, url).as_deref(),
            Some("http://sabre.io/ns/sync/42")
        );
        assert_eq!(
            token_for(&saved, "https://dav.example.com/books/me/home/"),
            None
        );
        assert_eq!(saved_form(url, ""), None);
        assert_eq!(token_for("garbage", url), None);
    }

    #[test]
    fn a_card_needs_a_name_and_a_number() {
        let ok = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL:+14155550101\r\nEND:VCARD\r\n";
        assert_eq!(usable(ok).unwrap().name, "Ann");
        let no_phone =
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEMAIL:a@example.com\r\nEND:VCARD\r\n";
        assert!(usable(no_phone).unwrap_err().contains("phone number"));
        assert!(usable("not a card").is_err());
    }
}
