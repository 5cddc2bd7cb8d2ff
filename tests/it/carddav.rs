//! CardDAV address books against a real Radicale server (PyPI `radicale`, installed by
//! `scripts/setup.sh` into `target/tools/radicale`; `RADICALE=/path/to/radicale` overrides)
//! started on 127.0.0.1 with htpasswd auth and a temporary storage directory. The cards are
//! written over CardDAV (MKCOL, PUT, DELETE) the way any client would, and the real
//! `ringside-server` syncs them: names reach calls, edits and deletes on the server reach
//! open calls on `/api/live`, the second sync goes by sync token (Radicale's own request log
//! says which reports it answered), an expired token falls back to a full sync, a wrong
//! password is `auth_failed`, and the books follow the settings.

use crate::fake_xelion::eventually;
use crate::support::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";
const BOOK: &str = "/alice/team/";

/// A Radicale server of its own, killed when dropped.
struct Radicale {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

/// The `radicale` program: `$RADICALE`, else the one `scripts/setup.sh` installs, else the
/// one on PATH.
fn radicale_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RADICALE") {
        return PathBuf::from(p);
    }
    let venv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/radicale/bin/radicale");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("radicale"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "Radicale is not installed: run scripts/setup.sh (it installs it into \
             target/tools/radicale) or set RADICALE=/path/to/radicale"
        )
    })
}

impl Radicale {
    async fn start() -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.path().join("users"), format!("{USER}:{PASSWORD}\n")).unwrap();
        let config = format!(
            r#"
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
delay = 0
htpasswd_filename = {users}
htpasswd_encryption = plain

[rights]
type = owner_only

[storage]
filesystem_folder = {storage}

[web]
type = none

[logging]
level = info
"#,
            users = dir.path().join("users").display(),
            storage = dir.path().join("collections").display(),
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(radicale_bin())
            .arg("--config")
            .arg(dir.path().join("config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start radicale");
        let r = Radicale {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            http: reqwest::Client::new(),
        };
        let url = r.url.clone();
        let http = r.http.clone();
        eventually("radicale answers", Duration::from_secs(30), || {
            let (url, http) = (url.clone(), http.clone());
            async move { http.get(&url).send().await.ok().map(|_| ()) }
        })
        .await;
        r
    }

    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
    }

    /// An address book, made with an extended MKCOL (RFC 5689) as CardDAV clients do.
    async fn make_book(&self, path: &str) {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>Team</D:displayname>
  </D:prop></D:set>
</D:mkcol>"#;
        let res = self
            .request("MKCOL", path)
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "MKCOL {path}");
    }

    /// PUT `card` as `file` in the book.
    async fn put(&self, file: &str, card: &str) {
        let path = format!("{BOOK}{file}");
        let res = self
            .request("PUT", &path)
            .header("content-type", "text/vcard; charset=utf-8")
            .body(card.replace('\n', "\r\n"))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "PUT {path}: {}", res.status());
    }

    async fn delete(&self, file: &str) {
        let path = format!("{BOOK}{file}");
        let res = self.request("DELETE", &path).send().await.unwrap();
        assert!(res.status().is_success(), "DELETE {path}: {}", res.status());
    }

    /// Forget every sync token of `book` (Radicale keeps them in its cache): the next
    /// `sync-collection` with an old one is refused with `valid-sync-token`.
    fn forget_sync_tokens(&self, book: &str) {
        let dir = self
            .dir
            .path()
            .join("collections/collection-root")
            .join(book.trim_matches('/'))
            .join(".Radicale.cache/sync-token");
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("removing {}: {e}", dir.display()));
    }

    /// How many answers Radicale logged to `method` requests in the book (and, if given, of
    /// that report kind), with status `status`.
    fn answered(&self, method: &str, kind: Option<&str>, status: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap();
        log.lines()
            .filter(|l| l.contains(&format!("{method} response status for '{BOOK}")))
            .filter(|l| kind.is_none_or(|k| l.contains(k)))
            .filter(|l| l.ends_with(status))
            .count()
    }

    /// Every request Ringside made, from Radicale's log.
    fn requests_from_ringside(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap();
        log.lines().filter(|l| l.contains("'Ringside/")).count()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn card(uid: &str, name: &str, org: Option<&str>, tel: Option<&str>) -> String {
    let mut c = format!("BEGIN:VCARD\nVERSION:3.0\nUID:{uid}\nFN:{name}\nN:;{name};;;\n");
    if let Some(o) = org {
        c.push_str(&format!("ORG:{o}\n"));
    }
    if let Some(t) = tel {
        c.push_str(&format!("TEL;TYPE=WORK,VOICE:{t}\n"));
    }
    c.push_str(&format!("EMAIL:{uid}@example.com\nEND:VCARD\n"));
    c
}

/// Bob writes vCard 4.0, his number as a `tel:` URI.
const BOB: &str = "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\nFN:Bob Baker\nTEL;VALUE=uri;TYPE=cell:tel:+1-415-555-0102\nEND:VCARD\n";

fn book(name: &str, rad: &Radicale, password: &str, interval_s: u32) -> String {
    format!(
        r#"
[[contacts.carddav]]
name = "{name}"
url = "{}{BOOK}"
username = "{USER}"
password = "{password}"
interval_s = {interval_s}
"#,
        rad.url
    )
}

fn config(books: &str) -> String {
    format!(
        r#"
[api]
token = "{API_TOKEN}"

[agent]
region = "US"
identities = ["201"]

[providers.generic]
token = "{}"
{books}"#,
        hook_token("generic")
    )
}

/// The `carddav:<name>` entry of `GET /api/status` (Null when there is none).
async fn status(s: &Server, name: &str) -> Value {
    let (code, v) = s.api("/api/status").await;
    assert_eq!(code, 200, "{v}");
    v["sources"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

async fn until_status(s: &Server, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(name, Duration::from_secs(30), || async {
        let st = status(s, name).await;
        pred(&st).then_some(st)
    })
    .await
}

/// `POST /api/contacts/sync`: each book's answer, by source name.
async fn sync_now(s: &Server) -> Vec<Value> {
    let (code, v) = s.api_send("POST", "/api/contacts/sync", None).await;
    assert_eq!(code, 200, "{v}");
    v["books"].as_array().unwrap().clone()
}

fn book_of<'a>(books: &'a [Value], source: &str) -> &'a Value {
    books
        .iter()
        .find(|b| b["source"] == source)
        .unwrap_or_else(|| panic!("no {source} in {books:?}"))
}

async fn ring(s: &Server, id: &str, from: &str) {
    let ev = json!({"event": "newCall", "from": from, "to": "+14155550100",
                    "direction": "in", "callId": id, "user": "201"});
    assert_eq!(s.post_json("generic", &ev).await, 200);
}

fn names(call: &Value) -> Vec<(String, String)> {
    call["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn live(s: &Server) -> Ws {
    let mut req = (s.url.replace("http://", "ws://") + "/api/live")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {API_TOKEN}").parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next `/api/live` frame for call `id` that `pred` accepts.
async fn frame_for(ws: &mut Ws, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let wait = async {
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("the live stream ended");
            };
            let f: Value = serde_json::from_str(&t).unwrap();
            if f["type"] == "call" && f["call"]["id"] == id && pred(&f["call"]) {
                return f["call"].clone();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no live frame for {id} in time"))
}

fn report(book: &Value) -> (&str, u64, u64, u64, u64) {
    let r = &book["report"];
    (
        r["mode"].as_str().unwrap_or("none"),
        r["fetched"].as_u64().unwrap(),
        r["added"].as_u64().unwrap(),
        r["updated"].as_u64().unwrap(),
        r["removed"].as_u64().unwrap(),
    )
}

/// Radicale with the book holding Ann (vCard 3.0, with a company), Bob (4.0) and Carol, who
/// has no phone number: nothing to find a caller by, so she is left out.
async fn radicale_with_team() -> Radicale {
    let rad = Radicale::start().await;
    rad.make_book(BOOK).await;
    let ann = card("ann", "Ann Archer", Some("Acme"), Some("+1 415 555 0101"));
    rad.put("ann.vcf", &ann).await;
    rad.put("bob.vcf", BOB).await;
    rad.put("carol.vcf", &card("carol", "Carol Chen", None, None))
        .await;
    rad
}

#[tokio::test]
async fn an_address_book_syncs_and_its_edits_and_deletes_reach_open_calls() {
    let rad = radicale_with_team().await;

    // `team` can read the book; `locked` has the wrong password. An hour's interval: the
    // syncs after the first are the ones the test asks for.
    // `home` names the user's collection instead of the address book in it.
    let books = format!(
        "{}{}{}",
        book("team", &rad, PASSWORD, 3600),
        book("locked", &rad, "wrong-password", 3600),
        book("home", &rad, PASSWORD, 3600).replace(BOOK, "/alice/")
    );
    let s = Server::start_with(&config(&books)).await;

    // The first sync happens at start-up, unasked.
    let team = until_status(&s, "carddav:team", |st| st["state"] == "connected").await;
    let msg = team["message"].as_str().unwrap();
    assert!(msg.starts_with("2 contacts, synced "), "{team}");
    let locked = until_status(&s, "carddav:locked", |st| st["state"] == "auth_failed").await;
    assert!(
        locked["message"]
            .as_str()
            .unwrap()
            .contains("401 Unauthorized"),
        "{locked}"
    );
    assert!(!locked.to_string().contains("wrong-password"), "{locked}");
    let home = until_status(&s, "carddav:home", |st| st["state"] == "reconnecting").await;
    assert_eq!(
        home["message"],
        format!(
            "{}/alice/ is a collection but not an address book; it holds these: {}{BOOK}",
            rad.url, rad.url
        )
    );

    // Calls from synced numbers carry the contacts (a failing book blocks nothing).
    let mut ws = live(&s).await;
    ring(&s, "cd-ann", "(415) 555-0101").await;
    ring(&s, "cd-bob", "+14155550102").await;
    let ann = s.call("generic:cd-ann").await;
    assert_eq!(
        ann["contacts"],
        json!([{"key": ann["contacts"][0]["key"], "name": "Ann Archer", "company": "Acme",
                "record_url": null, "source": "carddav:team"}])
    );
    let bob = s.call("generic:cd-bob").await;
    assert_eq!(names(&bob), [("Bob Baker".into(), "carddav:team".into())]);

    // A synced contact is edited where it comes from: an edit here is refused, naming it.
    let (_, found) = s.api("/api/contacts?q=Bob%20Baker").await;
    let bob_id = found[0]["id"].as_i64().unwrap();
    let (code, v) = s
        .api_send(
            "PUT",
            &format!("/api/contacts/{bob_id}"),
            Some(&json!({"name": "Robert Baker", "numbers": [{"number": "+14155550102"}]})),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "read_only", "{v}");
    assert_eq!(
        v["error"]["message"],
        "`Bob Baker` comes from carddav:team: edit it there, Ringside keeps it in sync"
    );

    let propfinds = rad.answered("PROPFIND", None, "207 Multi-Status");
    assert_eq!(propfinds, 1, "one full listing at start-up");
    let syncs = rad.answered("REPORT", Some("sync-collection"), "207 Multi-Status");

    // An edit on the server: the next sync goes by sync token and fetches that card only.
    let ann_v2 = card(
        "ann",
        "Ann Archer-Smith",
        Some("Acme"),
        Some("+1 415 555 0101"),
    );
    rad.put("ann.vcf", &ann_v2).await;
    let answers = sync_now(&s).await;
    let team = book_of(&answers, "carddav:team");
    assert_eq!(team["state"], "connected", "{team}");
    assert_eq!(report(team), ("incremental", 1, 0, 1, 0), "{team}");
    assert_eq!(team["report"]["contacts"], 2);
    assert_eq!(book_of(&answers, "carddav:locked")["state"], "auth_failed");
    // The open call's name changes live.
    let call = frame_for(&mut ws, "generic:cd-ann", |c| {
        c["contacts"][0]["name"] == "Ann Archer-Smith"
    })
    .await;
    assert_eq!(call["state"], "ringing");
    assert_eq!(
        names(&s.call("generic:cd-ann").await),
        [("Ann Archer-Smith".into(), "carddav:team".into())]
    );

    // A delete on the server: the match disappears, live.
    rad.delete("bob.vcf").await;
    let answers = sync_now(&s).await;
    let team = book_of(&answers, "carddav:team");
    assert_eq!(report(team), ("incremental", 0, 0, 0, 1), "{team}");
    assert_eq!(team["report"]["contacts"], 1);
    assert!(team["message"]
        .as_str()
        .unwrap()
        .starts_with("1 contact, synced "));
    frame_for(&mut ws, "generic:cd-bob", |c| c["contacts"] == json!([])).await;
    assert_eq!(s.call("generic:cd-bob").await["contacts"], json!([]));

    // Radicale answered those two syncs with sync-collection, and listed nothing again.
    assert_eq!(
        rad.answered("PROPFIND", None, "207 Multi-Status"),
        propfinds
    );
    assert_eq!(
        rad.answered("REPORT", Some("sync-collection"), "207 Multi-Status"),
        syncs + 2
    );

    // Nothing changed: a sync fetches nothing and changes nothing.
    let answers = sync_now(&s).await;
    assert_eq!(
        report(book_of(&answers, "carddav:team")),
        ("incremental", 0, 0, 0, 0)
    );

    // The server forgets its tokens (as servers expire old ones): it refuses ours with
    // `valid-sync-token`, and a full sync takes over, fetching only what changed.
    rad.forget_sync_tokens(BOOK);
    let carol = card("carol", "Carol Chen", None, Some("+1 415 555 0103"));
    rad.put("carol.vcf", &carol).await;
    let answers = sync_now(&s).await;
    let team = book_of(&answers, "carddav:team");
    assert_eq!(report(team), ("full", 1, 1, 0, 0), "{team}");
    assert_eq!(team["report"]["contacts"], 2);
    assert_eq!(
        rad.answered("REPORT", Some("sync-collection"), "403 Forbidden"),
        1
    );
    assert_eq!(
        rad.answered("PROPFIND", None, "207 Multi-Status"),
        propfinds + 1
    );
    // ... and saved the new token: the next sync is incremental again.
    let answers = sync_now(&s).await;
    assert_eq!(
        report(book_of(&answers, "carddav:team")),
        ("incremental", 0, 0, 0, 0)
    );
    ring(&s, "cd-carol", "+14155550103").await;
    assert_eq!(
        names(&s.call("generic:cd-carol").await),
        [("Carol Chen".into(), "carddav:team".into())]
    );

    // Settings: the password is hidden, and fixing `locked`'s restarts it, which syncs.
    let (code, settings) = s.api("/api/settings").await;
    assert_eq!(code, 200);
    let mut cfg = settings["config"].clone();
    assert_eq!(cfg["contacts"]["carddav"][0]["password"], "********");
    assert!(!settings.to_string().contains(PASSWORD));
    cfg["contacts"]["carddav"][1]["password"] = json!(PASSWORD);
    put_settings(&s, &cfg).await;
    until_status(&s, "carddav:locked", |st| st["state"] == "connected").await;
    // `team` kept its stored password ("********" sent back) and still syncs.
    let answers = sync_now(&s).await;
    assert_eq!(book_of(&answers, "carddav:team")["state"], "connected");
    // Both books know Ann now: the open call shows both matches.
    frame_for(&mut ws, "generic:cd-ann", |c| {
        c["contacts"].as_array().unwrap().len() == 2
    })
    .await;
    let mut both = names(&s.call("generic:cd-ann").await);
    both.sort();
    assert_eq!(
        both,
        [
            ("Ann Archer-Smith".into(), "carddav:locked".into()),
            ("Ann Archer-Smith".into(), "carddav:team".into())
        ]
    );

    // Removing a book from the settings stops it and removes its contacts.
    let (_, settings) = s.api("/api/settings").await;
    let mut cfg = settings["config"].clone();
    cfg["contacts"]["carddav"]
        .as_array_mut()
        .unwrap()
        .retain(|b| b["name"] == "team");
    put_settings(&s, &cfg).await;
    until_status(&s, "carddav:locked", Value::is_null).await;
    assert!(status(&s, "carddav:home").await.is_null());
    frame_for(&mut ws, "generic:cd-ann", |c| {
        c["contacts"].as_array().unwrap().len() == 1
    })
    .await;
    assert_eq!(
        names(&s.call("generic:cd-ann").await),
        [("Ann Archer-Smith".into(), "carddav:team".into())]
    );
    let answers = sync_now(&s).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
}

async fn put_settings(s: &Server, config: &Value) {
    let (code, v) = s.api_send("PUT", "/api/settings", Some(config)).await;
    assert_eq!(code, 200, "{v}");
}

#[tokio::test]
async fn a_book_syncs_by_itself_every_interval() {
    let rad = Radicale::start().await;
    rad.make_book(BOOK).await;
    let dan = card("dan", "Dan Dorsey", None, Some("+44 20 7946 0958"));
    rad.put("dan.vcf", &dan).await;
    // 10 s is the shortest interval the config allows.
    let started = std::time::Instant::now();
    let s = Server::start_with(&config(&book("team", &rad, PASSWORD, 10))).await;
    until_status(&s, "carddav:team", |st| {
        st["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("1 contact,"))
    })
    .await;
    let eve = card("eve", "Eve Evans", None, Some("+1 415 555 0104"));
    rad.put("eve.vcf", &eve).await;
    // No one asks: the next periodic sync brings Eve.
    until_status(&s, "carddav:team", |st| {
        st["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("2 contacts,"))
    })
    .await;
    ring(&s, "cd-eve", "+14155550104").await;
    assert_eq!(
        names(&s.call("generic:cd-eve").await),
        [("Eve Evans".into(), "carddav:team".into())]
    );
    ring(&s, "cd-dan", "+442079460958").await;
    assert_eq!(
        names(&s.call("generic:cd-dan").await),
        [("Dan Dorsey".into(), "carddav:team".into())]
    );
    // Between syncs Ringside leaves the server alone: a sync every 10 s, at most two
    // requests each (a sync-collection report, then a multiget when something changed).
    let syncs = started.elapsed().as_secs() / 10 + 1;
    let made = rad.requests_from_ringside() as u64;
    assert!(made <= 2 * syncs, "{made} requests in {syncs} syncs");
}

/// A proxy in front of Radicale that fails every `addressbook-multiget` (501, as some
/// servers do), serves the book under `/moved/` by redirecting to its real place, and under
/// `/elsewhere/` by redirecting to Radicale under another host name.
async fn start_proxy(upstream: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move { forward(&http, &upstream, req).await }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(rest) = path.strip_prefix("/moved/") {
        let to = format!("{BOOK}{rest}");
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response();
    }
    if let Some(rest) = path.strip_prefix("/elsewhere/") {
        // Radicale itself, under another host name.
        let to = format!("{}{BOOK}{rest}", upstream.replace("127.0.0.1", "localhost"));
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response();
    }
    if parts.method.as_str() == "REPORT"
        && String::from_utf8_lossy(&body).contains("addressbook-multiget")
    {
        return (StatusCode::NOT_IMPLEMENTED, "no multiget here").into_response();
    }
    let mut out = http
        .request(parts.method.clone(), format!("{upstream}{path}"))
        .body(body.to_vec());
    for (k, v) in &parts.headers {
        if k != header::HOST {
            out = out.header(k, v);
        }
    }
    let res = out.send().await.unwrap();
    let mut back = axum::response::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        if k != header::TRANSFER_ENCODING && k != header::CONNECTION {
            back = back.header(k, v);
        }
    }
    back.body(axum::body::Body::from(res.bytes().await.unwrap()))
        .unwrap()
}

#[tokio::test]
async fn cards_come_one_by_one_when_multiget_fails_and_redirects_are_followed_on_one_host() {
    let rad = radicale_with_team().await;
    let proxy = start_proxy(rad.url.clone()).await;
    // The book's URL without its trailing slash, at a place that redirects.
    let books = format!(
        r#"
[[contacts.carddav]]
name = "team"
url = "{proxy}/moved"
username = "{USER}"
password = "{PASSWORD}"
interval_s = 3600

[[contacts.carddav]]
name = "far"
url = "{proxy}/elsewhere/"
username = "{USER}"
password = "{PASSWORD}"
interval_s = 3600
"#
    );
    let s = Server::start_with(&config(&books)).await;
    // The password is not sent to the other host; the status names the URL to use.
    let far = until_status(&s, "carddav:far", |st| st["state"] == "auth_failed").await;
    let there = format!("{}{BOOK}", rad.url.replace("127.0.0.1", "localhost"));
    assert_eq!(
        far["message"],
        format!(
            "the server redirected to {there}, which asks for credentials; Ringside sends \
             them to the configured server only: use that URL"
        )
    );
    let team = until_status(&s, "carddav:team", |st| {
        st.is_object() && st["state"] != "connecting"
    })
    .await;
    assert_eq!(team["state"], "connected", "{team}");
    assert!(team["message"].as_str().unwrap().starts_with("2 contacts"));
    // The PROPFIND and the report followed the redirect (method and body kept); every card
    // came by GET.
    assert_eq!(rad.answered("PROPFIND", None, "207 Multi-Status"), 1);
    assert_eq!(rad.answered("GET", None, "200 OK"), 3);
    ring(&s, "cd-bob", "+14155550102").await;
    assert_eq!(
        names(&s.call("generic:cd-bob").await),
        [("Bob Baker".into(), "carddav:team".into())]
    );

    // An edit: by sync token through the redirect, then one GET (no more multiget tries).
    let ann = card(
        "ann",
        "Ann Archer-Smith",
        Some("Acme"),
        Some("+1 415 555 0101"),
    );
    rad.put("ann.vcf", &ann).await;
    let answers = sync_now(&s).await;
    assert_eq!(
        report(book_of(&answers, "carddav:team")),
        ("incremental", 1, 0, 1, 0)
    );
    assert_eq!(rad.answered("GET", None, "200 OK"), 4);
    ring(&s, "cd-ann", "+14155550101").await;
    assert_eq!(
        names(&s.call("generic:cd-ann").await),
        [("Ann Archer-Smith".into(), "carddav:team".into())]
    );
}

#[tokio::test]
async fn a_big_book_comes_in_batches() {
    let rad = Radicale::start().await;
    // Radicale makes an address book of a whole .vcf PUT on the collection.
    let cards: String = (0..1200)
        .map(|i| {
            format!(
                "BEGIN:VCARD\nVERSION:3.0\nUID:bulk-{i}\nFN:Person {i}\nTEL:+1 212 555 {i:04}\nEND:VCARD\n"
            )
        })
        .collect();
    let res = rad
        .request("PUT", BOOK)
        .header("content-type", "text/vcard")
        .body(cards.replace('\n', "\r\n"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let s = Server::start_with(&config(&book("team", &rad, PASSWORD, 3600))).await;
    let team = until_status(&s, "carddav:team", |st| st["state"] == "connected").await;
    assert!(team["message"]
        .as_str()
        .unwrap()
        .starts_with("1200 contacts, synced "));
    // 100 cards per multiget.
    let reports = rad.answered("REPORT", None, "207 Multi-Status");
    assert_eq!(reports, 12);
    ring(&s, "cd-777", "+12125550777").await;
    assert_eq!(
        names(&s.call("generic:cd-777").await),
        [("Person 777".into(), "carddav:team".into())]
    );
    let answers = sync_now(&s).await;
    assert_eq!(
        report(book_of(&answers, "carddav:team")),
        ("incremental", 0, 0, 0, 0)
    );
}
