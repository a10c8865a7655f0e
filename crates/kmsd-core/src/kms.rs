//! KMS: keys, aliases, key policies, grants, tags, rotation and the cryptographic operations,
//! each authorized through the decision engine.
