//! The settings in force: the config file and what follows from it, replaced whole when the
//! settings page saves so that every request sees one consistent version; and the background
//! tasks' way of following them.

use anyhow::{Context, Result};
use ringside_core::config::{Config, Paths};
use ringside_core::me::Me;
use ringside_core::providers::HookSettings;
use ringside_core::screenpop::{Phrases, PopSettings};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The config in force and what is derived from it.
#[derive(Debug)]
pub struct Settings {
    pub config: Config,
    pub hooks: Vec<HookSettings>,
    /// Who "I" am, by `[agent]`.
    pub me: Me,
    /// When and how calls pop (in English: the desktop puts its agent's phrases in).
    pub pops: PopSettings,
    /// The file the config came from and is saved to.
    pub path: PathBuf,
}

impl Settings {
    pub fn new(config: Config, path: PathBuf) -> Settings {
        let agent = &config.agent;
        let me = Me::new(&agent.identities, config.region(), agent.supervisor);
        Settings {
            hooks: config.hooks(),
            pops: PopSettings {
                me: me.clone(),
                modes: config.screenpop.clone(),
                region: config.region(),
                crm_template: config.crm.url.is_some(),
                crm_open: config.crm.open_on,
                phrases: Phrases::default(),
            },
            me,
            config,
            path,
        }
    }
}

/// The settings in force, shared: read by every request, replaced by the settings page.
#[derive(Debug, Clone)]
pub struct SharedSettings(Arc<RwLock<Arc<Settings>>>);

impl SharedSettings {
    pub fn new(settings: Settings) -> SharedSettings {
        SharedSettings(Arc::new(RwLock::new(Arc::new(settings))))
    }

    /// The settings in force now.
    pub fn get(&self) -> Arc<Settings> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Put new settings in force (already checked and saved).
    pub fn replace(&self, new: Settings) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
    }
}

/// How often a background task looks at the settings again.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// What a background task (the Xelion client, the CardDAV syncs) wants from the settings,
/// followed: the settings page replaces them whole at any time.
pub struct FollowSettings<W> {
    settings: SharedSettings,
    tick: tokio::time::Interval,
    last: Option<W>,
}

impl<W: PartialEq + Clone> FollowSettings<W> {
    pub fn new(settings: &SharedSettings) -> FollowSettings<W> {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        FollowSettings {
            settings: settings.clone(),
            tick,
            last: None,
        }
    }

    /// What `want` makes of the settings in force: at once the first time, then as soon as
    /// it differs from the last answer.
    pub async fn changed(&mut self, want: impl Fn(&Config) -> W) -> W {
        loop {
            self.tick.tick().await;
            let now = want(&self.settings.get().config);
            if self.last.as_ref() != Some(&now) {
                self.last = Some(now.clone());
                return now;
            }
        }
    }
}

/// The config to run with: `path` (which must exist), else the default file, which is
/// created with a demo configuration when there is none yet (`created` says so).
pub fn load_config(path: Option<&Path>) -> Result<Loaded> {
    match path {
        Some(p) => Ok(Loaded {
            config: Config::load(p)?,
            path: p.to_path_buf(),
            created: false,
        }),
        None => {
            let p = Paths::config_file();
            let created = !p.exists();
            if created {
                Config::demo()
                    .save(&p)
                    .with_context(|| format!("writing a first configuration to {}", p.display()))?;
            }
            Ok(Loaded {
                config: Config::load(&p)?,
                path: p,
                created,
            })
        }
    }
}

/// A config read from its file.
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// The file did not exist: a demo configuration was written.
    pub created: bool,
}
