use crate::support::*;
use serde_json::Value;
use std::collections::HashSet;

/// Every fixture, sent over HTTP to a real server, gets the status its expected outcome
/// implies; refused ones store nothing, accepted ones (those Ringside does not read included)
/// are journaled, answer with their notes, and make exactly their calls.
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
            let journal = s.journal_len();
            let (got, answer) = s.send_fixture_answer(provider, &path).await;
            assert_eq!(got, want, "{}", path.display());
            if want == 200 && answer["status"] != "duplicate" {
                // VoiceShot answers with its Call Command, not a receipt.
                if answer["status"] == "stored" {
                    let notes = expected
                        .get("notes")
                        .cloned()
                        .unwrap_or(Value::Array(vec![]));
                    assert_eq!(answer["notes"], notes, "{}", path.display());
                }
                assert_eq!(s.journal_len(), journal + 1, "{}", path.display());
            } else {
                assert_eq!(s.journal_len(), journal, "{}", path.display());
            }
            sent += 1;
        }
    }
    assert!(sent >= 40, "only {sent} fixtures");
    let all = s.calls_all().await;
    // A VoiceShot callid used again after its call ended is a call of its own, `~2`.
    let stored: HashSet<String> = all
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .map(|id| id.split_once('~').map_or(id, |(base, _)| base).to_string())
        .collect();
    assert_eq!(stored, expected_calls);
    let again: Vec<&str> = all
        .iter()
        .filter_map(|c| c["id"].as_str().filter(|id| id.contains('~')))
        .collect();
    assert_eq!(again, ["voiceshot:1-3:R77~2"]);
}
