//! Configuration: a raw serde form that keeps source positions, validated into `model`.

pub mod model;

pub use model::*;
