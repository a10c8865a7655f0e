//! kmsd-crypto
