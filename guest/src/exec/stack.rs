//! The System V initial process stack.
