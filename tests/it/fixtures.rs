use crate::support::*;
use serde_json::Value;
use std::collections::HashSet;

/// Every fixture, sent over HTTP to a real server, gets the status its expected outcome
/// implies; refused ones store nothing, accepted ones make exactly their calls.
#[tokio::test]
async fn every_fixture_gets_the_right_status_over_http() {
    let s = Server::start().await;
    let mut expected_calls = HashSet::new();
    let mut sent = 0;
    for provider in ["voiceshot", "whippy", "teltel", "exotel", "generic"] {
        let dir = fixtures_dir().join(provider);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "http"))
            .collect();
        paths.sort();
        for path in paths {
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(path.with_extension("expected.json")).unwrap(),
            )
            .unwrap();
            let want = match expected["error"].as_str() {
                Some("malformed") => 400,
                Some("unsupported") => 422,
                Some("method") => 405,
                Some(other) => panic!("unknown error kind {other}"),
                None => {
                    for e in expected["events"].as_array().unwrap() {
                        expected_calls.insert(format!(
                            "{provider}:{}",
                            e["provider_call_id"].as_str().unwrap()
                        ));
                    }
                    200
                }
            };
            let got = s.send_fixture(provider, &path).await;
            assert_eq!(got, want, "{}", path.display());
            sent += 1;
        }
    }
    assert!(sent >= 40, "only {sent} fixtures");
    let stored: HashSet<String> = s
        .calls_all()
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, expected_calls);
}
