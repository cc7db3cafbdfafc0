//! Program loading: ELF checks and the System V initial stack (pure, host
//! tested), `#!` scripts (`binfmt_script`), and `execve` itself (Linux `fs/exec.c`, `load_elf_binary`).
pub mod binfmt_script;
pub mod elf;
pub mod stack;
pub mod zpoline;

#[cfg(target_os = "none")]
mod kernel_exec;
#[cfg(target_os = "none")]
pub use kernel_exec::{execve, load_program, Program};
