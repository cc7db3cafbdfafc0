//! Architecture layer: the only place with `unsafe` and assembly.
pub mod x86_64;
pub use self::x86_64::*;
