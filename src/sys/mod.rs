//! Operating-system helpers that any room may use: files replaced atomically, the child
//! subreaper that catches escaped exec-check processes, and PEM files. They know nothing of
//! services, checks or backends.

pub mod atomic_write;
pub mod pem;
pub mod reaper;
