//! The CRM lookup: for every call with a new other party, ask `[contacts.crm] url` who it is,
//! off the ingest path. The pop and the panel show the number at once; the CRM's answer joins
//! the call's `contacts` when it comes (a call change like any other, so the pop is replaced
//! and `/api/live` sends the call again). Answers are cached for `cache_s`; a slow or failing
//! CRM times out, is logged and shows in `GET /api/status` as source `crm`.

use crate::ringside::Ringside;
use crate::status::SourceState;
use chrono::{DateTime, Utc};
use ringside_core::config::CrmLookup;
use ringside_core::links::{self, other_party, RecordValues, Template};
use ringside_core::phone;
use ringside_core::{Call, ContactMatch};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Semaphore;

/// The name the CRM lookup has in `GET /api/status`.
pub const SOURCE: &str = "crm";

/// Requests in flight at once; more callers wait their turn.
const CONCURRENCY: usize = 8;
/// How many (call, number) pairs are remembered as asked already.
const REMEMBERED: usize = 10_000;

#[derive(Default)]
struct Memory {
    /// number -> (when, matches)
    cache: HashMap<String, (DateTime<Utc>, Vec<ContactMatch>)>,
    asked: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Memory {
    /// Whether (call, number) is new; remembers it.
    fn first_time(&mut self, call: &str, number: &str) -> bool {
        let key = (call.to_string(), number.to_string());
        if !self.asked.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.asked.remove(&old);
            }
        }
        true
    }

    fn cached(
        &mut self,
        number: &str,
        now: DateTime<Utc>,
        ttl_s: u32,
    ) -> Option<Vec<ContactMatch>> {
        let fresh = |at: &DateTime<Utc>| (now - *at).num_seconds() < i64::from(ttl_s);
        match self.cache.get(number) {
            Some((at, m)) if fresh(at) => Some(m.clone()),
            Some(_) => {
                self.cache.remove(number);
                None
            }
            None => None,
        }
    }
}

/// Start the lookup task: it follows every stored call change.
pub fn spawn(st: &Ringside) {
    let st = st.clone();
    let memory = Arc::new(Mutex::new(Memory::default()));
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("Ringside/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("CRM lookups are off: {e}");
            return;
        }
    };
    let mut changes = st.engine.subscribe();
    tokio::spawn(async move {
        loop {
            let call = match changes.recv().await {
                Ok(c) => c,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("CRM lookup skipped {n} call changes (too many at once)");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(crm) = st
                .settings()
                .config
                .contacts
                .crm
                .clone()
                .filter(|c| c.enabled)
            else {
                continue;
            };
            let Some(number) = other_party(&call).map(str::to_string) else {
                continue;
            };
            if phone::is_withheld(&number) || !memory.lock().unwrap().first_time(&call.id, &number)
            {
                continue;
            }
            let (st, memory, slots, client) =
                (st.clone(), memory.clone(), slots.clone(), client.clone());
            tokio::spawn(async move {
                let Ok(_slot) = slots.acquire().await else {
                    return;
                };
                let now = (st.clock)();
                let cached = memory.lock().unwrap().cached(&number, now, crm.cache_s);
                let matches = match cached {
                    Some(m) => m,
                    None => match ask(&client, &crm, &call, &st).await {
                        Ok(m) => {
                            let now = (st.clock)();
                            memory
                                .lock()
                                .unwrap()
                                .cache
                                .insert(number.clone(), (now, m.clone()));
                            st.sources.set(
                                SOURCE,
                                SourceState::Connected,
                                Some(format!(
                                    "last lookup {}: {} match{}",
                                    now.format("%H:%M:%S"),
                                    m.len(),
                                    if m.len() == 1 { "" } else { "es" }
                                )),
                                now,
                            );
                            m
                        }
                        Err(why) => {
                            tracing::warn!("CRM lookup for call {}: {why}", call.id);
                            st.sources.set(
                                SOURCE,
                                SourceState::Reconnecting,
                                Some(format!("lookup failed: {why}")),
                                (st.clock)(),
                            );
                            return;
                        }
                    },
                };
                let id = call.id.clone();
                let now = (st.clock)();
                let stored = st
                    .engine
                    .write(move |s| {
                        let changed = s.set_source_matches(&id, SOURCE, matches, now)?;
                        Ok(((), changed.into_iter().collect()))
                    })
                    .await;
                if let Err(e) = stored {
                    tracing::error!("storing the CRM's answer for {}: {e:#}", call.id);
                }
            });
        }
    });
}

/// Ask the CRM about `call`'s other party.
async fn ask(
    client: &reqwest::Client,
    crm: &CrmLookup,
    call: &Call,
    st: &Ringside,
) -> Result<Vec<ContactMatch>, String> {
    let template = Template::parse(&crm.url).map_err(|e| format!("bad URL template: {e}"))?;
    let region = st.settings().config.region();
    // The name is what is being looked up: the template's `{name}` stays empty.
    let url = template.fill(&RecordValues::for_match(call, None, region));
    let mut req = client
        .get(&url)
        .timeout(Duration::from_millis(u64::from(crm.timeout_ms)))
        .header(reqwest::header::ACCEPT, "application/json");
    for (k, v) in &crm.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} ms", crm.timeout_ms)
        } else {
            without_url(&e)
        }
    })?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(Vec::new()); // many CRMs say "nobody" this way
    }
    if !status.is_success() {
        return Err(format!("the CRM answered {status}"));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("the answer is not JSON: {}", without_url(&e)))?;
    Ok(matches(&body, crm))
}

/// A reqwest error without the URL (which may carry a token in its query).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<crm url>");
    }
    s
}

/// The matches in a CRM's answer, by the configured JSON pointers.
pub fn matches(body: &Value, crm: &CrmLookup) -> Vec<ContactMatch> {
    let results = if crm.results.is_empty() {
        Some(body)
    } else {
        body.pointer(&crm.results)
    };
    let items: Vec<&Value> = match results {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    let text = |v: &Value, p: Option<&String>| -> Option<String> {
        let found = p.and_then(|p| if p.is_empty() { Some(v) } else { v.pointer(p) })?;
        let s = match found {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!s.is_empty()).then(|| s.chars().take(200).collect())
    };
    items
        .into_iter()
        .filter_map(|item| {
            let name = text(item, Some(&crm.name))?;
            Some((
                name,
                text(item, crm.company.as_ref()),
                text(item, crm.record_url.as_ref()).filter(|u| {
                    (u.starts_with("https://") || u.starts_with("http://")) && links::openable(u)
                }),
            ))
        })
        .take(20)
        .enumerate()
        .map(|(i, (name, company, record_url))| ContactMatch {
            key: format!("{SOURCE}:{i}"),
            name,
            company,
            record_url,
            source: SOURCE.into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crm(results: &str) -> CrmLookup {
        CrmLookup {
            url: "https://crm.example.com/?p={e164}".into(),
            headers: Default::default(),
            timeout_ms: 1000,
            cache_s: 60,
            results: results.into(),
            name: "/name".into(),
            company: Some("/account/name".into()),
            record_url: Some("/url".into()),
            enabled: true,
        }
    }

    #[test]
    fn matches_follow_the_pointers_and_drop_what_is_unusable() {
        let body = json!({"data": [
            {"name": "Alice", "account": {"name": "Acme"}, "url": "https://crm.example.com/c/1"},
            {"name": "  ", "url": "https://crm.example.com/c/2"},
            {"name": "Mallory", "url": "javascript:alert(1)"},
            {"name": 42}
        ]});
        let m = matches(&body, &crm("/data"));
        let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Alice", "Mallory", "42"]);
        assert_eq!(m[0].company.as_deref(), Some("Acme"));
        assert_eq!(
            m[0].record_url.as_deref(),
            Some("https://crm.example.com/c/1")
        );
        assert_eq!(m[1].record_url, None, "only http(s) record links");
        assert_eq!(m[0].key, "crm:0");
        // One object, or the whole answer.
        assert_eq!(matches(&json!({"name": "Bob"}), &crm("")).len(), 1);
        assert!(matches(&json!({"data": null}), &crm("/data")).is_empty());
    }
}
