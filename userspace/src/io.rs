//! `print!`/`println!` (fd 1) and `eprint!`/`eprintln!` (fd 2). Each invocation
//! formats into a stack buffer and writes it with one `write` (more only for text
//! longer than the buffer), so a line is never split between writes.

use core::fmt;

use crate::calls::write;

/// Size of the line buffer; longer output is written in several pieces.
pub const LINE_MAX: usize = 512;

/// A buffer that collects formatted text and writes it to `fd`.
pub struct LineWriter {
    fd: i32,
    len: usize,
    buf: [u8; LINE_MAX],
}

impl LineWriter {
    pub const fn new(fd: i32) -> Self {
        LineWriter { fd, len: 0, buf: [0; LINE_MAX] }
    }

    /// The bytes collected and not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes what is buffered (all of it, retrying short writes).
    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.len {
            match write(self.fd, &self.buf[done..self.len]) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        self.len = 0;
    }
}

impl fmt::Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut s = s.as_bytes();
        while !s.is_empty() {
            if self.len == LINE_MAX {
                self.flush();
            }
            let n = s.len().min(LINE_MAX - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
            self.len += n;
            s = &s[n..];
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(fd: i32, args: fmt::Arguments<'_>) {
    let mut w = LineWriter::new(fd);
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush();
}

/// Displays bytes as text: valid UTF-8 as is, each invalid sequence as U+FFFD.
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

/// Prints to fd 1 with one `write`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::_print(1, format_args!($($arg)*)) };
}

/// Prints a line to fd 1 with one `write`.
#[macro_export]
macro_rules! println {
    () => { $crate::io::_print(1, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(1, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to fd 2 with one `write`.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::_print(2, format_args!($($arg)*)) };
}

/// Prints a line to fd 2 with one `write`.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::io::_print(2, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(2, format_args!("{}\n", format_args!($($arg)*))) };
}

/// `n` in decimal, NUL-terminated, written into `buf` (for argv strings).
pub fn decimal_cstr(n: u64, buf: &mut [u8; 21]) -> &core::ffi::CStr {
    let mut digits = [0u8; 20];
    let (mut len, mut v) = (0, n);
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    buf[len] = 0;
    core::ffi::CStr::from_bytes_until_nul(&buf[..=len]).unwrap_or(c"0")
}
