//! The store tables of KMS state.

pub(crate) const KEYS: &str = "kms_keys";
pub(crate) const MATERIAL: &str = "kms_material";
pub(crate) const GRANTS: &str = "kms_grants";
pub(crate) const ALIASES: &str = "kms_aliases";

/// Table holding the marker of an unfinished rotation.
pub const ROTATION_TABLE: &str = "kms_root_rotation";
