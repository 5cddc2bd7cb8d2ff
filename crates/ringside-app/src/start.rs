//! Start what runs beside the requests: the sweeper, the CRM lookup, the Xelion client, the
//! CardDAV syncs and the hub's outbound webhooks, each following the settings in force.

use crate::ringside::Ringside;

/// Start every background task. Call once, after [`Ringside::open`].
pub fn spawn_tasks(r: &Ringside) {
    crate::sweeper::spawn(r);
    crate::crm::spawn(r);
    crate::xelion::spawn(r, &r.data_dir);
    crate::carddav::spawn(r);
    crate::webhooks::spawn(r);
    crate::team_link::spawn(r);
}
