//! The audit event value (CloudTrail-shaped). It has no field that could hold plaintext.
