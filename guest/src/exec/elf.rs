//! ELF64 checks for static executables.
