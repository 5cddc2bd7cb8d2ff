use crate::fake_xelion::eventually;
use crate::support::*;
use ringside_core::providers::scenario;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

#[test]
fn list_names_an_answered_and_a_missed_scenario_per_provider() {
    let out = Command::new(bin())
        .args(["simulate", "--list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    for p in ["whippy", "teltel", "exotel", "generic"] {
        assert!(list.contains(&format!("{p}-answered")), "{list}");
        assert!(list.contains(&format!("{p}-missed")), "{list}");
    }
    assert!(list.contains("voiceshot-answered"), "{list}");
}

/// `simulate all`, in each provider's real wire format, makes one call per scenario, and each
/// settles as its scenario says (Ringside ends the ones the provider says no more about after
/// `[calls] quiet_s`): none is left open, a missed call can be called back, an answered one
/// says when it was answered.
#[tokio::test]
async fn simulate_all_produces_the_calls_it_promises() {
    let config = default_config() + "\n[calls]\nquiet_s = 1\n";
    let s = Server::start_with(&config).await;
    simulate(&s, &["all", "--fast", "--to", &s.url]).await;
    let states = |calls: &[Value], p: &str| {
        let mut v: Vec<String> = calls
            .iter()
            .filter(|c| c["provider"] == p)
            .map(|c| c["state"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let providers = ["voiceshot", "whippy", "teltel", "exotel", "generic"];
    let want: Vec<Vec<String>> = providers
        .iter()
        .map(|p| {
            let mut v: Vec<String> = scenario::all()
                .into_iter()
                .filter(|sc| sc.provider.as_str() == *p)
                .map(|sc| sc.settled.as_str().to_string())
                .collect();
            v.sort();
            v
        })
        .collect();
    let calls = eventually("every call settled", Duration::from_secs(30), || async {
        let calls = s.calls_all().await;
        let got: Vec<Vec<String>> = providers.iter().map(|p| states(&calls, p)).collect();
        (got == want).then_some(calls)
    })
    .await;
    for c in &calls {
        let id = c["id"].as_str().unwrap();
        match c["state"].as_str().unwrap() {
            "missed" => {
                let (status, v) = s
                    .api_send("POST", &format!("/api/calls/{id}/callback"), None)
                    .await;
                assert_eq!(status, 200, "{id}: call back {v}");
            }
            "ended" => assert!(!c["answered_at"].is_null(), "{c:#}"),
            other => panic!("{id} left {other}: {c:#}"),
        }
    }
    // Running it again makes new calls, not duplicates of the first run.
    simulate(&s, &["generic-answered", "--fast", "--to", &s.url]).await;
    let generic = s
        .calls_all()
        .await
        .into_iter()
        .filter(|c| c["provider"] == "generic")
        .count();
    assert!(generic >= 3, "{generic}");
}

#[test]
fn simulate_names_a_missing_scenario_or_provider() {
    let out = Command::new(bin())
        .args(["simulate", "nonsense", "--to", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list"));
}

/// Without `--to`, `simulate` sends to the Ringside serving the data directory.
#[tokio::test]
async fn simulate_finds_the_running_ringside_without_to() {
    let s = Server::start().await;
    let data = s.dir.join("data");
    simulate(
        &s,
        &[
            "generic-missed",
            "--fast",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    )
    .await;
    let calls = s.calls_all().await;
    assert!(
        calls
            .iter()
            .any(|c| c["provider"] == "generic" && c["state"] == "missed"),
        "{calls:#?}"
    );
}

/// `simulate ARGS --config` the server's config, which must succeed.
async fn simulate(s: &Server, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let config = s.dir.join("config.toml");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin())
            .arg("simulate")
            .args(&args)
            .arg("--config")
            .arg(config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
