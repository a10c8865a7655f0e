//! The KMS, IAM and STS domain: what kmsd does, with no HTTP, sockets or files.
//!
//! State lives in memory (so a hot key needs no store read) and every change is
//! written through the [`store::Store`] trait before it is acknowledged. All
//! operations are synchronous; the binary bridges them into its async shell.

pub mod access_diff;
pub mod admin_authz;
pub mod audit;
pub mod bootstrap;
pub mod clock;
pub mod error;
pub mod iam;
pub mod kms;
pub mod outcome;
pub mod principal;
pub mod review;
pub mod service;
pub mod store;
