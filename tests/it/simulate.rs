use crate::support::*;
use std::process::Command;

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

/// `simulate all` in each provider's real wire format yields, per provider, an answered call
/// that ended and (where the provider can report one) a missed call.
#[tokio::test]
async fn simulate_all_produces_the_calls_it_promises() {
    let s = Server::start().await;
    simulate(&s, &["all", "--fast", "--to", &s.url]).await;
    let calls = s.calls_all().await;
    for p in ["voiceshot", "whippy", "teltel", "exotel", "generic"] {
        let mine: Vec<_> = calls.iter().filter(|c| c["provider"] == p).collect();
        assert!(
            mine.iter()
                .any(|c| c["state"] == "ended" && !c["answered_at"].is_null()),
            "{p}: no answered call that ended in {mine:#?}"
        );
        if p != "voiceshot" {
            assert!(
                mine.iter().any(|c| c["state"] == "missed"),
                "{p}: no missed call in {mine:#?}"
            );
        }
    }
    // Running it again makes new calls, not duplicates of the first run.
    let again = Command::new(bin())
        .args([
            "simulate",
            "generic-answered",
            "--fast",
            "--to",
            &s.url,
            "--config",
        ])
        .arg(s.dir.join("config.toml"))
        .output()
        .unwrap();
    assert!(again.status.success());
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
