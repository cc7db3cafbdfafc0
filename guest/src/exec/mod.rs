//! Program loading: ELF checks and the System V initial stack.
pub mod elf;
pub mod stack;
