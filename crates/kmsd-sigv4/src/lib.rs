//! kmsd-sigv4
