//! The KMS model: the data and the rules, with no store, no lock and no request. Identifiers
//! and Regions (`ids`, `regions`), keys (`key`: specs, usages, origins, the record; `states`:
//! the key-state table; `entry`: a key in memory and its metadata), grants (`grant`,
//! `grant_view`, `grant_token`: the token formats), aliases (`alias`), key policies
//! (`policy`), the operation table (`op`), request quotas (`quota`), a key's last use
//! (`usage` as stored, `last_use` in memory), import parameters (`imports`), the state held
//! in memory (`state`) and time formatting (`ts`). Imports nothing of `kms/` above it.

pub(crate) mod alias;
pub(crate) mod entry;
pub(crate) mod grant;
pub(crate) mod grant_token;
pub(crate) mod grant_view;
pub(crate) mod ids;
pub(crate) mod imports;
pub mod key;
pub(crate) mod last_use;
pub mod op;
pub(crate) mod policy;
pub mod quota;
pub(crate) mod regions;
pub(crate) mod state;
pub mod states;
pub(crate) mod ts;
pub(crate) mod usage;
