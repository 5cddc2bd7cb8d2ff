//! The team hub through the real binary: agents added with the CLI while it runs, each seeing
//! exactly their calls and their groups' (API and live stream), a claim race with one winner,
//! a missed call resolved when the customer is reached, a replaced token closing its
//! connection, a dropped connection resumed without loss or duplicates, presence and
//! do-not-disturb, failed authentication limited.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SALES_LINE: &str = "+14155550100";
const OTHER_LINE: &str = "+18885550000";

fn hub_config() -> String {
    format!(
        r#"{}
[hub]
claim_minutes = 15

[hub.groups.sales]
lines = ["{SALES_LINE}"]
"#,
        default_config()
    )
}

/// The token `agents add`/`agents token` printed as its last line.
fn token_of(out: &str) -> String {
    let t = out.trim_end().lines().last().unwrap().to_string();
    assert!(t.starts_with("rsa_"), "{out}");
    t
}

/// ana and ben in sales (extensions 201 and 202), cleo a supervisor; their tokens.
async fn team() -> (Server, String, String, String) {
    let s = Server::start_with(&hub_config()).await;
    let add = |args: &[&str]| token_of(&s.cli(args).unwrap());
    let ana = add(&[
        "agents",
        "add",
        "ana",
        "--identity",
        "201",
        "--group",
        "sales",
    ]);
    let ben = add(&[
        "agents",
        "add",
        "ben",
        "--identity",
        "202",
        "--group",
        "sales",
    ]);
    let cleo = add(&["agents", "add", "cleo", "--supervisor"]);
    (s, ana, ben, cleo)
}

async fn ring(s: &Server, id: &str, to: &str, user: &str) {
    let body = json!({"event": "newCall", "from": "+14155550123", "to": to, "direction": "in",
                      "callId": id, "user": [user]});
    assert_eq!(s.post_json("generic", &body).await, 200);
}

async fn hang_up(s: &Server, id: &str, from: &str, to: &str, cause: &str) {
    let body = json!({"event": "hangup", "from": from, "to": to, "direction": "in",
                      "callId": id, "cause": cause});
    assert_eq!(s.post_json("generic", &body).await, 200);
}

async fn ids_as(s: &Server, token: &str, path: &str) -> BTreeSet<String> {
    let (status, v) = s.api_as(token, "GET", path, None).await;
    assert_eq!(status, 200, "{path}: {v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider_call_id"].as_str().unwrap().to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn each_agent_sees_exactly_their_calls_and_their_groups() {
    let (s, ana, ben, cleo) = team().await;
    let mut streams = Vec::new();
    for t in [&ana, &ben, &cleo] {
        streams.push(s.live_as(t, None).await);
    }
    ring(&s, "group", SALES_LINE, "202").await; // the sales line, ringing ben
    ring(&s, "anas", OTHER_LINE, "201").await; // another line, ringing ana
    ring(&s, "nobodys", OTHER_LINE, "303").await; // another line, ringing 303
    hang_up(&s, "nobodys", "+14155550123", OTHER_LINE, "noAnswer").await;
    // The last change is one everybody sees: a marker that every earlier frame came.
    ring(&s, "marker", SALES_LINE, "201").await;

    let want = [
        (&ana, set(&["group", "anas", "marker"])),
        (&ben, set(&["group", "marker"])),
        (&cleo, set(&["group", "anas", "nobodys", "marker"])),
    ];
    for ((token, want), live) in want.iter().zip(&mut streams) {
        assert_eq!(&ids_as(&s, token, "/api/calls").await, want);
        // The live stream: the same calls, nothing else, until the marker.
        let mut seen = BTreeSet::new();
        loop {
            let f = live.next_frame().await.expect("open");
            assert_eq!(f["type"], "call", "{f}");
            let id = f["call"]["provider_call_id"].as_str().unwrap().to_string();
            seen.insert(id.clone());
            if id == "marker" {
                break;
            }
        }
        assert_eq!(&seen, want);
    }
    assert_eq!(
        ids_as(&s, API_TOKEN, "/api/calls").await.len(),
        4,
        "the admin sees all"
    );
    // Another's call is not found; the missed list is as filtered.
    let (status, _) = s.api_as(&ben, "GET", "/api/calls/generic:anas", None).await;
    assert_eq!(status, 404);
    let (status, _) = s.api_as(&ana, "GET", "/api/calls/generic:anas", None).await;
    assert_eq!(status, 200);
    assert!(ids_as(&s, &ana, "/api/missed").await.is_empty());
    assert_eq!(ids_as(&s, &cleo, "/api/missed").await, set(&["nobodys"]));
    // "mine" as each sees it: the group's call rings ben, not ana.
    let (_, calls) = s.api_as(&ana, "GET", "/api/calls", None).await;
    let mine: Vec<(&str, bool)> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provider_call_id"].as_str().unwrap(),
                c["mine"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        mine.contains(&("anas", true)) && mine.contains(&("group", false)),
        "{mine:?}"
    );
    // An agent cannot read the settings, add agents or see the team.
    for (method, path) in [
        ("GET", "/api/settings"),
        ("GET", "/api/agents"),
        ("GET", "/api/webhooks"),
    ] {
        let (status, v) = s.api_as(&ana, method, path, None).await;
        assert_eq!(status, 403, "{path}: {v}");
        assert_eq!(v["error"]["code"], "forbidden");
    }
    let (status, _) = s.api_as(&cleo, "GET", "/api/agents", None).await;
    assert_eq!(status, 200, "a supervisor sees the team");
}

#[tokio::test]
async fn two_agents_racing_for_a_claim_get_one_winner_and_the_group_sees_it() {
    let (s, ana, ben, _) = team().await;
    ring(&s, "m", SALES_LINE, "201").await;
    hang_up(&s, "m", "+14155550123", SALES_LINE, "noAnswer").await;
    let mut watch = s.live_as(&ben, None).await;
    for round in 0..5 {
        let path = "/api/calls/generic:m/claim";
        let (a, b) = tokio::join!(
            s.api_as(&ana, "POST", path, None),
            s.api_as(&ben, "POST", path, None)
        );
        let statuses = BTreeSet::from([a.0, b.0]);
        assert_eq!(
            statuses,
            BTreeSet::from([200, 409]),
            "round {round}: {a:?} {b:?}"
        );
        let (winner, loser) = if a.0 == 200 { (a.1, b.1) } else { (b.1, a.1) };
        let holder = winner["claimed_by"].as_str().unwrap().to_string();
        assert!(
            loser["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&holder),
            "the refusal names the holder: {loser}"
        );
        assert_eq!(loser["error"]["code"], "conflict");
        // Pushed live to the group.
        let f = watch.next_for("generic:m").await;
        assert_eq!(f["claimed_by"], holder.as_str());
        // The holder lets go; a round again.
        let token = if holder == "ana" { &ana } else { &ben };
        let (status, v) = s.api_as(token, "DELETE", path, None).await;
        assert_eq!(status, 200, "{v}");
        assert!(watch.next_for("generic:m").await["claimed_by"].is_null());
    }
    // Done by ana: done for all, with who.
    let (status, v) = s
        .api_as(&ana, "POST", "/api/calls/generic:m/done", None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["done_by"], "ana");
    assert!(ids_as(&s, &ben, "/api/missed").await.is_empty());
}

#[tokio::test]
async fn a_missed_call_resolves_itself_when_the_customer_is_called_back_and_answers() {
    let (s, ana, _, _) = team().await;
    let customer = "+14155550177";
    let ring_from = |id: &'static str| {
        json!({"event": "newCall", "from": customer, "to": SALES_LINE, "direction": "in",
               "callId": id, "user": ["202"]})
    };
    assert_eq!(s.post_json("generic", &ring_from("m1")).await, 200);
    hang_up(&s, "m1", customer, SALES_LINE, "noAnswer").await;
    assert_eq!(ids_as(&s, &ana, "/api/missed").await, set(&["m1"]));
    let mut live = s.live_as(&ana, None).await;
    // Ana calls the customer back from her extension, and the customer answers.
    let out = json!({"event": "newCall", "from": "201", "to": customer, "direction": "out",
                     "callId": "back", "user": "201"});
    assert_eq!(s.post_json("generic", &out).await, 200);
    let answer = json!({"event": "answer", "from": "201", "to": customer, "direction": "out",
                        "callId": "back", "user": "201", "answeringNumber": customer});
    assert_eq!(s.post_json("generic", &answer).await, 200);
    let resolved = live.next_for("generic:m1").await;
    assert_eq!(resolved["resolved_by"], "generic:back");
    assert_eq!(resolved["done"], true);
    assert!(ids_as(&s, &ana, "/api/missed").await.is_empty());
    let (_, detail) = s.api_as(&ana, "GET", "/api/calls/generic:m1", None).await;
    assert_eq!(timeline(&detail).last().unwrap(), "done");
}

#[tokio::test]
async fn a_new_token_closes_the_old_ones_connections_at_once() {
    let (s, ana, _, _) = team().await;
    let mut live = s.live_as(&ana, None).await;
    let fresh = token_of(&s.cli(&["agents", "token", "ana"]).unwrap());
    assert_eq!(
        live.next_frame().await,
        None,
        "the old token's stream is closed"
    );
    let (status, _) = s.api_as(&ana, "GET", "/api/calls", None).await;
    assert_eq!(status, 401);
    let (status, _) = s.api_as(&fresh, "GET", "/api/calls", None).await;
    assert_eq!(status, 200);
    // Removed: the same.
    let mut live = s.live_as(&fresh, None).await;
    s.cli(&["agents", "remove", "ana"]).unwrap();
    assert_eq!(live.next_frame().await, None);
    let (status, _) = s.api_as(&fresh, "GET", "/api/me", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_dropped_connection_resumes_after_its_last_frame_without_loss_or_duplicates() {
    let (s, ana, _, _) = team().await;
    let mut live = s.live_as(&ana, None).await;
    ring(&s, "r1", SALES_LINE, "201").await;
    let first = live.next_frame().await.unwrap();
    let last_seq = first["seq"].as_u64().unwrap();
    drop(live); // the laptop sleeps
    ring(&s, "r2", SALES_LINE, "201").await;
    ring(&s, "r3", OTHER_LINE, "303").await; // not ana's
    hang_up(&s, "r1", "+14155550123", SALES_LINE, "noAnswer").await;
    ring(&s, "r4", SALES_LINE, "202").await;
    let mut live = s.live_as(&ana, Some(last_seq)).await;
    let mut got = Vec::new();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let f = live.next_frame().await.unwrap();
        assert_eq!(f["type"], "call", "{f}");
        got.push((
            f["call"]["provider_call_id"].as_str().unwrap().to_string(),
            f["call"]["state"].as_str().unwrap().to_string(),
        ));
        seqs.push(f["seq"].as_u64().unwrap());
    }
    // Each changed call once, as it is now, in the order of its last change.
    assert_eq!(
        got,
        [
            ("r2".to_string(), "ringing".to_string()),
            ("r1".into(), "missed".into()),
            ("r4".into(), "ringing".into())
        ]
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Then live, nothing twice.
    ring(&s, "r5", SALES_LINE, "201").await;
    let f = live.next_frame().await.unwrap();
    assert_eq!(f["call"]["provider_call_id"], "r5");
    assert!(f["seq"].as_u64().unwrap() > *seqs.last().unwrap());
}

#[tokio::test]
async fn presence_and_do_not_disturb_show_to_supervisors() {
    let (s, ana, _, cleo) = team().await;
    let team = |v: Value| -> Vec<(String, u64, bool)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["connections"].as_u64().unwrap(),
                    a["dnd"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let (_, v) = s.api_as(&cleo, "GET", "/api/agents", None).await;
    assert!(team(v).contains(&("ana".into(), 0, false)));
    let live = s.live_as(&ana, None).await;
    let (status, me) = s
        .api_as(&ana, "PUT", "/api/me", Some(&json!({"dnd": true})))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["name"].as_str(), me["dnd"].as_bool()),
        (Some("ana"), Some(true))
    );
    assert_eq!(me["lines"], json!([SALES_LINE]));
    let (_, v) = s.api_as(&cleo, "GET", "/api/agents", None).await;
    assert!(
        team(v).contains(&("ana".into(), 1, true)),
        "online, do not disturb"
    );
    drop(live);
    crate::fake_xelion::eventually(
        "ana offline",
        std::time::Duration::from_secs(10),
        || async {
            let (_, v) = s.api_as(&cleo, "GET", "/api/agents", None).await;
            team(v).contains(&("ana".into(), 0, true)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn failed_authentication_is_limited_per_client() {
    let (s, ana, _, _) = team().await;
    let wrong = format!("{}0", &ana[..ana.len() - 1]);
    let mut statuses = Vec::new();
    for _ in 0..22 {
        statuses.push(s.api_as(&wrong, "GET", "/api/calls", None).await.0);
    }
    assert_eq!(&statuses[..20], &[401; 20]);
    assert_eq!(&statuses[20..], &[429, 429]);
    let (status, v) = s.api_as(&ana, "GET", "/api/calls", None).await;
    assert_eq!(status, 429, "the client waits out the minute: {v}");
    assert_eq!(v["error"]["code"], "too_many_failures");
}

/// An agent's app linked to the hub (`[team]` in its config).
fn app_config(hub: &Server, token: &str) -> String {
    format!(
        r#"
[api]
token = "{API_TOKEN}"

[team]
hub_url = "{}"
token = "{token}"
"#,
        hub.url
    )
}

#[tokio::test]
async fn an_agents_app_keeps_the_hubs_calls_acts_through_it_and_reads_offline() {
    let (mut hub, ana, _, _) = team().await;
    ring(&hub, "before", SALES_LINE, "201").await; // rang before the app started
    let app = Server::start_with(&app_config(&hub, &ana)).await;
    let connected = || async {
        let (_, st) = app.api("/api/status").await;
        st["sources"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "team").cloned())
            .filter(|s| s["state"] == "connected")
    };
    crate::fake_xelion::eventually(
        "the app connected",
        std::time::Duration::from_secs(20),
        connected,
    )
    .await;
    let mut live = app.live().await;
    // What rang before, and what rings now, both arrive.
    let before = crate::fake_xelion::eventually(
        "the call from before",
        std::time::Duration::from_secs(10),
        || async {
            let (status, c) = app.api("/api/calls/generic:before").await;
            (status == 200).then_some(c)
        },
    )
    .await;
    assert_eq!(before["state"], "ringing");
    ring(&hub, "now", SALES_LINE, "201").await;
    let now = live.next_for("generic:now").await;
    assert_eq!(now["mine"], true, "the hub's agent ana is 201");
    ring(&hub, "other", OTHER_LINE, "303").await; // not ana's: never reaches her app
    hang_up(&hub, "now", "+14155550123", SALES_LINE, "noAnswer").await;
    assert_eq!(live.next_for("generic:now").await["state"], "missed");
    assert!(app.api("/api/calls/generic:other").await.0 == 404);
    // Done in the app: done on the hub, by ana.
    let (status, v) = app
        .api_send("POST", "/api/calls/generic:now/done", None)
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, on_hub) = hub.api("/api/calls/generic:now").await;
    assert_eq!(
        (on_hub["done"].as_bool(), on_hub["done_by"].as_str()),
        (Some(true), Some("ana"))
    );
    // The hub goes away: history still reads, the status says so.
    let dir = hub.take_dir();
    hub.kill();
    let st = crate::fake_xelion::eventually(
        "reconnecting",
        std::time::Duration::from_secs(20),
        || async {
            let (_, st) = app.api("/api/status").await;
            st["sources"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == "team").cloned())
                .filter(|s| s["state"] == "reconnecting")
        },
    )
    .await;
    assert!(st["since"].is_string(), "{st}");
    let (status, offline) = app.api("/api/calls").await;
    assert_eq!(status, 200);
    let ids: BTreeSet<String> = offline
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider_call_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, set(&["before", "now"]));
    drop(dir);
}

#[tokio::test]
async fn the_settings_page_connects_an_app_to_its_team_and_its_actions_reach_the_hub() {
    let (hub, ana, _, cleo) = team().await;
    let app = Server::start().await;
    let connect = |token: &str| json!({"hub_url": hub.url, "token": token});
    // A wrong token and the hub's admin token are refused, naming the field.
    for token in ["rsa_1_nope", API_TOKEN] {
        let (status, v) = app
            .api_send("PUT", "/api/team", Some(&connect(token)))
            .await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"], "team.token", "{v}");
    }
    let (_, me) = app.api("/api/me").await;
    assert!(me["team"].is_null(), "{me}");
    let (status, v) = app.api_send("PUT", "/api/team", Some(&connect(&ana))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["config"]["team"]["hub_url"], hub.url.as_str());
    let me = crate::fake_xelion::eventually(
        "the app linked to the hub",
        std::time::Duration::from_secs(20),
        || async {
            let (_, me) = app.api("/api/me").await;
            me["team"].is_string().then_some(me)
        },
    )
    .await;
    assert_eq!(
        (
            me["team"].as_str(),
            me["name"].as_str(),
            me["hub"].as_bool()
        ),
        (Some(hub.url.as_str()), Some("ana"), Some(false)),
        "{me}"
    );
    // Do-not-disturb set in the app holds on the hub, where the supervisor sees it.
    let (status, v) = app
        .api_send("PUT", "/api/me", Some(&json!({"dnd": true})))
        .await;
    assert_eq!((status, v["dnd"].as_bool()), (200, Some(true)), "{v}");
    let (_, team) = hub.api_as(&cleo, "GET", "/api/agents", None).await;
    let on_hub = team.as_array().unwrap().iter().find(|a| a["name"] == "ana");
    assert_eq!(on_hub.unwrap()["dnd"], true, "{team}");
    // A missed call, wrapped up and marked done from the app: on the hub, by ana.
    let mut live = app.live().await;
    ring(&hub, "w", SALES_LINE, "201").await;
    hang_up(&hub, "w", "+14155550123", SALES_LINE, "noAnswer").await;
    crate::fake_xelion::eventually(
        "the missed call in the app",
        std::time::Duration::from_secs(20),
        || async {
            let (status, c) = app.api("/api/calls/generic:w").await;
            (status == 200 && c["state"] == "missed").then_some(())
        },
    )
    .await;
    let (status, v) = app
        .api_send(
            "POST",
            "/api/calls/generic:w/wrapup",
            Some(&json!({"note": "left a voicemail"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = app
        .api_send(
            "POST",
            "/api/calls/done",
            Some(&json!({"ids": ["generic:w"], "done": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, on_hub) = hub.api("/api/calls/generic:w").await;
    assert_eq!(on_hub["wrapup"]["note"], "left a voicemail", "{on_hub}");
    assert_eq!(on_hub["wrapup"]["by"], "ana", "{on_hub}");
    assert_eq!(on_hub["done_by"], "ana", "{on_hub}");
    // The app's own window hears it back from the hub.
    while live.next_for("generic:w").await["done_by"] != "ana" {}
    // Leaving the team: the app is on its own again.
    let (status, v) = app.api_send("DELETE", "/api/team", None).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["config"]["team"].is_null(), "{v}");
    crate::fake_xelion::eventually(
        "the app on its own again",
        std::time::Duration::from_secs(20),
        || async {
            let (_, me) = app.api("/api/me").await;
            (me["team"].is_null() && me["name"].is_null()).then_some(())
        },
    )
    .await;
}
