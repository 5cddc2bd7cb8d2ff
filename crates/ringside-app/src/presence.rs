//! Who of the hub's agents is online: how many apps (live connections) each has open. A
//! connection counts while its [`Online`] guard lives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Presence(Arc<Mutex<HashMap<i64, usize>>>);

impl Presence {
    /// Agent `id` opened a connection; it counts until the guard is dropped.
    pub fn connect(&self, id: i64) -> Online {
        *self.lock().entry(id).or_default() += 1;
        Online {
            presence: self.clone(),
            id,
        }
    }

    /// How many connections agent `id` has open.
    pub fn connections(&self, id: i64) -> usize {
        self.lock().get(&id).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One open connection of an agent.
#[derive(Debug)]
pub struct Online {
    presence: Presence,
    id: i64,
}

impl Drop for Online {
    fn drop(&mut self) {
        let mut map = self.presence.lock();
        if let Some(n) = map.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_while_their_guards_live() {
        let p = Presence::default();
        let a = p.connect(1);
        let b = p.connect(1);
        assert_eq!(p.connections(1), 2);
        drop(a);
        assert_eq!(p.connections(1), 1);
        drop(b);
        assert_eq!(p.connections(1), 0);
    }
}
