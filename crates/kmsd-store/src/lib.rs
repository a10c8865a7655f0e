//! kmsd-store
