//! Configuration: a raw serde form that keeps source positions (`raw`), validated into the
//! form the program uses (`model`), with errors that point at `file:line:col` (`error`).

pub mod bgp;
pub mod check;
pub mod dampening;
pub mod dns;
pub mod error;
pub mod load;
pub mod model;
pub mod model_routing;
pub mod model_service;
pub mod raw;
pub mod registration;
pub mod routing;
pub mod service;
pub mod validate;
pub mod values;

pub use error::{ConfigError, ConfigErrors};
pub use load::{ConfigPaths, REGISTERED_DIR, load, load_str, load_with};
pub use model::*;
