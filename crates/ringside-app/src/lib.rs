//! Ringside's application layer: every operation an agent or admin can do, over the engine
//! (`ringside-core`), with one error type; the live stream; and the sources Ringside connects
//! to itself. The HTTP server (`ringside-server`) and the desktop shell (`src-tauri`) are thin
//! adapters over it.

pub mod backoff;
pub mod call_view;
pub mod calls;
pub mod carddav;
pub mod clock;
pub mod contacts;
pub mod crm;
pub mod dial;
pub mod error;
pub mod live;
pub mod lock;
pub mod ringside;
pub mod secrets;
pub mod settings;
pub mod setup;
pub mod simulate;
pub mod start;
pub mod status;
pub mod sweeper;
pub mod xelion;

pub use error::{Error, ErrorCode, Result};
pub use ringside::Ringside;
