//! kmsd-wire
