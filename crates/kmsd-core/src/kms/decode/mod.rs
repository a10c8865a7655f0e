//! Decoding of a KMS request body: the input type check against the model's shapes
//! (`check`, with the generated table `shapes` of `shape`s) and the typed reading of members
//! with AWS's validation wording (`input`). Imports only the model.

pub(crate) mod check;
pub(crate) mod input;
pub(crate) mod shape;
pub(crate) mod shapes;
