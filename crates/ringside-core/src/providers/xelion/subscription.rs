//! Xelion's answer to `multiNotificationRequest`, which is not documented. [`subscription_answer`]
//! reads any frame without a CallEvent that names notification types in objects (an entry per
//! type, like the request's `{"notificationType", "toggle", "oid"}`): an entry with `toggle`,
//! `success`, `allowed` or `subscribed` false, or with an `error`/`errorMessage`/`reason`, or a
//! failing `status`/`code`, is refused; any other entry is granted. An error frame that merely
//! lists names refuses them. This is an assumption: it is how Ringside learns that an account
//! lacks admin rights (its admin-only subscriptions are refused).

use super::{shallowest, Notification, ADMIN_ONLY};
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// What Xelion answered to a subscription request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Notification types the server accepted.
    pub granted: Vec<Notification>,
    /// Notification types the server refused (a non-admin account: all but missed calls).
    pub refused: Vec<Notification>,
    /// The server's words about a refusal, if it gave any.
    pub reason: Option<String>,
}

impl Subscription {
    /// Whether the refusals are those of an account without admin rights.
    pub fn lacks_admin_rights(&self) -> bool {
        self.refused.iter().any(|n| ADMIN_ONLY.contains(&n.wire()))
    }
}

/// Read `frame` as the answer to a `multiNotificationRequest`, if it is one (see the module
/// docs for what is assumed). `None` for call events, echoes and anything naming no
/// notification type.
pub fn subscription_answer(frame: &[u8]) -> Option<Subscription> {
    let value: Value = serde_json::from_slice(frame).ok()?;
    let has_call_event = shallowest(&value, |v| match v {
        Value::Object(o) => o
            .keys()
            .any(|k| k.eq_ignore_ascii_case("callId"))
            .then_some(()),
        _ => None,
    })
    .is_some();
    if has_call_event {
        return None;
    }
    let mut answer = Subscription::default();
    let frame_error = error_text(&value);
    let mut queue = VecDeque::from([&value]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(o) => {
                let named = o
                    .values()
                    .find_map(|v| v.as_str().and_then(|s| Notification::from_wire(s.trim())));
                match named {
                    Some(n) => {
                        let refusal = refusal(o);
                        let refused = refusal.is_some();
                        if let Some(Some(reason)) = refusal {
                            answer.reason.get_or_insert(reason);
                        }
                        record(&mut answer, n, refused);
                    }
                    None => queue.extend(o.values()),
                }
            }
            Value::Array(a) => queue.extend(a.iter()),
            // A bare name in a list: refused if the frame is an error, else granted.
            Value::String(s) => {
                if let Some(n) = Notification::from_wire(s.trim()) {
                    record(&mut answer, n, frame_error.is_some());
                }
            }
            _ => {}
        }
    }
    if answer.granted.is_empty() && answer.refused.is_empty() {
        return None;
    }
    if !answer.refused.is_empty() && answer.reason.is_none() {
        answer.reason = frame_error;
    }
    Some(answer)
}

fn record(answer: &mut Subscription, n: Notification, refused: bool) {
    answer.granted.retain(|g| *g != n);
    answer.refused.retain(|r| *r != n);
    if refused {
        answer.refused.push(n);
    } else {
        answer.granted.push(n);
    }
}

/// `Some(reason)` when a subscription entry says it was refused.
fn refusal(entry: &Map<String, Value>) -> Option<Option<String>> {
    let field = |name: &str| {
        entry
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    for flag in ["toggle", "success", "allowed", "subscribed", "granted"] {
        if let Some(Value::Bool(false)) = field(flag) {
            return Some(error_text(&Value::Object(entry.clone())));
        }
    }
    if let Some(reason) = error_text(&Value::Object(entry.clone())) {
        return Some(Some(reason));
    }
    for key in ["status", "code"] {
        match field(key) {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|c| c >= 400) => return Some(None),
            Some(Value::String(s))
                if [
                    "error",
                    "failed",
                    "failure",
                    "denied",
                    "forbidden",
                    "refused",
                    "unauthorized",
                ]
                .contains(&s.to_ascii_lowercase().as_str()) =>
            {
                return Some(None)
            }
            _ => {}
        }
    }
    None
}

/// The text of an `error`, `errorMessage` or `reason` field at the top of `v`, if not empty.
fn error_text(v: &Value) -> Option<String> {
    let Value::Object(o) = v else { return None };
    ["error", "errorMessage", "reason"].iter().find_map(|name| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| match v {
                Value::Null | Value::Bool(false) => None,
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.trim().to_string()),
                Value::Object(inner) => inner
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| Some(v.to_string())),
                other => Some(other.to_string()),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::frames;
    use super::*;

    #[test]
    fn subscription_answers_tell_granted_from_refused() {
        let admin = frames("wrappers")[5].clone();
        let a = subscription_answer(admin.as_bytes()).unwrap();
        assert_eq!(a.granted.len(), 5);
        assert!(a.refused.is_empty() && !a.lacks_admin_rights());

        let user = r#"{"messageType":"multiNotificationResponse","notifications":[
            {"notificationType":"newCallEvent","toggle":false,"error":"Only administrators may subscribe"},
            {"notificationType":"callConnectedEvent","toggle":false},
            {"notificationType":"missedCallEvent","toggle":true,"oid":null}]}"#;
        let a = subscription_answer(user.as_bytes()).unwrap();
        assert_eq!(a.granted, vec![Notification::MissedCall]);
        assert_eq!(
            a.refused,
            vec![Notification::NewCall, Notification::CallConnected]
        );
        assert_eq!(
            a.reason.as_deref(),
            Some("Only administrators may subscribe")
        );
        assert!(a.lacks_admin_rights());

        let statuses = r#"{"result":[{"type":"callHungUpEvent","status":403},
            {"type":"missedCallEvent","status":"ok"}]}"#;
        let a = subscription_answer(statuses.as_bytes()).unwrap();
        assert_eq!(a.refused, vec![Notification::CallHungUp]);
        assert_eq!(a.granted, vec![Notification::MissedCall]);

        let error = r#"{"messageType":"error","errorMessage":"no rights",
            "notifications":["newCallEvent","channelHungUpEvent"]}"#;
        let a = subscription_answer(error.as_bytes()).unwrap();
        assert_eq!(a.refused.len(), 2);
        assert_eq!(a.reason.as_deref(), Some("no rights"));

        for not_an_answer in [
            r#"{"messageType":"test"}"#,
            "{}",
            "pong",
            r#"{"notificationType":"newCallEvent","object":{"callId":"1"}}"#,
        ] {
            assert_eq!(
                subscription_answer(not_an_answer.as_bytes()),
                None,
                "{not_an_answer}"
            );
        }
    }
}
