//! The RAM file system.
