//! Installing an app the way a portal does (reference app-install.md §2–§5): the public types
//! ([`AppSetup`], [`InstallState`], [`InstallStatus`], [`InstallPost`]). The install state and
//! its transitions live in `state::installs`, the handle's install methods in
//! `control::install`, the portal's `/oauth/authorize/` page in `authorize`.

mod types;

pub(crate) use types::default_lang;
pub use types::{AppSetup, InstallPost, InstallState, InstallStatus};
