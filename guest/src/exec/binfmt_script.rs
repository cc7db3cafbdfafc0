//! `#!` scripts (Linux `fs/binfmt_script.c`): the interpreter and its one
//! optional argument from the first line, and the argument vector the
//! interpreter runs with. Pure, host-tested.

use alloc::vec::Vec;

use crate::errno::{Errno, ENOEXEC};

/// The bytes of a file the loaders look at (Linux `BINPRM_BUF_SIZE`).
pub const BINPRM_BUF_SIZE: usize = 256;

/// How many loaders may run for one execve (Linux `exec_binprm`: depths 0 to
/// 5, so five nested scripts and then the program; one more is ELOOP).
pub const MAX_BINFMT_DEPTH: usize = 5;

/// Whether `image` is a script for this loader.
pub fn is_script(image: &[u8]) -> bool {
    image.starts_with(b"#!")
}

fn spacetab(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The interpreter named by a `#!` line and its optional argument (Linux
/// `load_script`): `image` is the file's start; Linux reads 256 bytes, the
/// rest of its buffer is NUL. The line ends at the first newline; without
/// one, the interpreter's name must end (space, tab or NUL) within the 256
/// bytes, or it may have been cut off (ENOEXEC), and the argument is cut at
/// byte 255. Spaces and tabs around the name and at the end are dropped; the
/// argument is everything after the name's first space or tab (spaces inside
/// kept), up to a NUL. ENOEXEC when there is no name.
pub fn parse(image: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), Errno> {
    if !is_script(image) {
        return Err(ENOEXEC);
    }
    let mut buf = [0u8; BINPRM_BUF_SIZE];
    let n = image.len().min(BINPRM_BUF_SIZE);
    buf[..n].copy_from_slice(&image[..n]);
    let buf_end = BINPRM_BUF_SIZE - 1;
    // `i_end` indexes the byte after the line (a newline, or buf_end).
    let mut i_end = match buf.iter().position(|&c| c == b'\n') {
        Some(nl) => nl,
        None => {
            let first = (2..=buf_end).find(|&i| !spacetab(buf[i])).ok_or(ENOEXEC)?;
            if !(first..=buf_end).any(|i| spacetab(buf[i]) || buf[i] == 0) {
                return Err(ENOEXEC);
            }
            buf_end
        }
    };
    while i_end > 2 && spacetab(buf[i_end - 1]) {
        i_end -= 1;
    }
    // The line is buf[..i_end] (Linux writes a NUL at i_end).
    buf[i_end] = 0;
    let i_name = (2..=i_end).find(|&i| !spacetab(buf[i])).ok_or(ENOEXEC)?;
    if i_name == i_end {
        return Err(ENOEXEC);
    }
    let i_sep = (i_name..=i_end).find(|&i| spacetab(buf[i]) || buf[i] == 0);
    let i_arg = match i_sep {
        Some(sep) if buf[sep] != 0 => (sep..=i_end).find(|&i| !spacetab(buf[i])),
        _ => None,
    };
    // Strings end at their first NUL (Linux `copy_string_kernel`).
    let cstr = |from: usize, to: usize| -> Vec<u8> {
        let s = &buf[from..to];
        let len = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        s[..len].to_vec()
    };
    match (i_arg, i_sep) {
        (Some(arg), Some(sep)) => Ok((cstr(i_name, sep), Some(cstr(arg, i_end)))),
        _ => Ok((cstr(i_name, i_end), None)),
    }
}

/// The interpreter's argument vector (Linux `remove_arg_zero` and the
/// strings `load_script` puts in front): its name, its argument if any, the
/// script's path as execve got it (`bprm->interp`), then the script's
/// arguments after argv[0].
pub fn interpreter_argv(
    name: &[u8],
    arg: Option<&[u8]>,
    script: &[u8],
    argv: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    out.push(name.to_vec());
    if let Some(a) = arg {
        out.push(a.to_vec());
    }
    out.push(script.to_vec());
    out.extend(argv.iter().skip(1).cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn p(s: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), Errno> {
        parse(s)
    }

    fn ok(name: &[u8], arg: Option<&[u8]>) -> Result<(Vec<u8>, Option<Vec<u8>>), Errno> {
        Ok((name.to_vec(), arg.map(|a| a.to_vec())))
    }

    #[test]
    fn name_and_one_argument() {
        assert_eq!(p(b"#!/bin/sh\necho hi\n"), ok(b"/bin/sh", None));
        assert_eq!(p(b"#! \t/bin/sh  \t\n"), ok(b"/bin/sh", None));
        assert_eq!(p(b"#!/bin/sh -e\n"), ok(b"/bin/sh", Some(b"-e")));
        // The argument is the rest of the line, spaces inside kept, the
        // trailing ones dropped.
        assert_eq!(p(b"#!/usr/bin/env  a  b\tc \t\n"), ok(b"/usr/bin/env", Some(b"a  b\tc")));
        assert_eq!(p(b"#!/bin/sh"), ok(b"/bin/sh", None));
        assert_eq!(p(b"#!/bin/sh -x"), ok(b"/bin/sh", Some(b"-x")));
        assert_eq!(p(b"#!rel\r\n"), ok(b"rel\r", None));
    }

    #[test]
    fn nuls_end_the_strings() {
        assert_eq!(p(b"#!/bin/sh\0 -x\n"), ok(b"/bin/sh", None));
        assert_eq!(p(b"#!/bin/sh -x\0y\n"), ok(b"/bin/sh", Some(b"-x")));
        assert_eq!(p(b"#!\0/bin/sh\n"), ok(b"", None));
    }

    #[test]
    fn no_interpreter_is_enoexec() {
        // "#!" alone: the NUL padding is a name, empty (Linux then looks up
        // "", the working directory: EACCES).
        assert_eq!(p(b"#!"), ok(b"", None));
        assert_eq!(p(b"#!\n/bin/sh"), Err(ENOEXEC));
        assert_eq!(p(b"#!   \t \n"), Err(ENOEXEC));
        assert_eq!(p(b"#/bin/sh\n"), Err(ENOEXEC));
        assert_eq!(p(b"\x7fELF"), Err(ENOEXEC));
    }

    #[test]
    fn the_256_byte_buffer() {
        // A name that fills the buffer with no end in sight may be cut: ENOEXEC.
        let mut long = b"#!".to_vec();
        long.extend(core::iter::repeat_n(b'a', 300));
        assert_eq!(p(&long), Err(ENOEXEC));
        // Spaces and tabs only, no newline: ENOEXEC.
        let mut blank = b"#!".to_vec();
        blank.extend(core::iter::repeat_n(b' ', 300));
        assert_eq!(p(&blank), Err(ENOEXEC));
        // The name ends in the buffer: the argument is cut at byte 255.
        let mut cut = b"#!/bin/x ".to_vec();
        cut.extend(core::iter::repeat_n(b'b', 300));
        let (name, arg) = p(&cut).unwrap();
        assert_eq!(name, b"/bin/x");
        assert_eq!(arg.unwrap().len(), 255 - 9);
        // A newline beyond byte 256 is not seen either.
        let mut late = cut.clone();
        late.push(b'\n');
        assert_eq!(p(&late), p(&cut));
        // A short file is NUL-padded: the name ends at the file's end.
        assert_eq!(p(b"#!/bin/x"), ok(b"/bin/x", None));
    }

    #[test]
    fn argv_of_the_interpreter() {
        let argv = vec![b"s".to_vec(), b"1".to_vec(), b"2".to_vec()];
        assert_eq!(
            interpreter_argv(b"/bin/sh", Some(b"-e"), b"./s", &argv),
            vec![
                b"/bin/sh".to_vec(),
                b"-e".to_vec(),
                b"./s".to_vec(),
                b"1".to_vec(),
                b"2".to_vec()
            ]
        );
        assert_eq!(
            interpreter_argv(b"/bin/sh", None, b"/t/s", &[]),
            vec![b"/bin/sh".to_vec(), b"/t/s".to_vec()]
        );
    }
}
