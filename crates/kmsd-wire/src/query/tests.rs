//! Tests of the awsQuery codec.
