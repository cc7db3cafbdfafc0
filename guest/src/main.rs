//! The kernel binary: everything lives in the library; its entry point is the
//! `_start` symbol of `arch::x86_64::entry`.
#![no_std]
#![no_main]

extern crate guest;
