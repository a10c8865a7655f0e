//! The JSON type of a model shape: what the generated table (`shapes`) is made of.

/// The JSON type of a model shape.
#[derive(Debug)]
pub(crate) enum Shape {
    Str,
    Blob,
    Int,
    Bool,
    Timestamp,
    List(&'static Shape),
    Map(&'static Shape),
    Struct(&'static [(&'static str, &'static Shape)]),
}
