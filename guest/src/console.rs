//! The console: formatted output is gathered in a buffer and handed to the VMM in
//! one hypercall per `print!` (one exit per write, never one per byte).

use core::fmt;

/// Bytes gathered before they go out in one write.
pub struct WriteBuffer<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> WriteBuffer<N> {
    pub const fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }

    /// Append `bytes`, handing full buffers to `sink`.
    pub fn push(&mut self, mut bytes: &[u8], sink: &mut impl FnMut(&[u8])) {
        while !bytes.is_empty() {
            let n = bytes.len().min(N - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.len == N {
                self.flush(sink);
            }
        }
    }

    pub fn flush(&mut self, sink: &mut impl FnMut(&[u8])) {
        if self.len > 0 {
            sink(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<const N: usize> Default for WriteBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// `fmt::Write` over a buffer and its sink.
pub struct Writer<'a, const N: usize, F: FnMut(&[u8])> {
    pub buf: &'a mut WriteBuffer<N>,
    pub sink: F,
}

impl<const N: usize, F: FnMut(&[u8])> fmt::Write for Writer<'_, N, F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push(s.as_bytes(), &mut self.sink);
        Ok(())
    }
}

#[cfg(target_os = "none")]
mod kernel_console {
    use super::{WriteBuffer, Writer};
    use crate::arch::hypercall::{gpa_of, hypercall};
    use protocol::hypercall::{stream, ConsoleWrite, Hypercall, CONSOLE_MAX};

    static CONSOLE: spin::Mutex<WriteBuffer<2048>> = spin::Mutex::new(WriteBuffer::new());

    /// Write `bytes` (kernel memory) to a console stream, in as few exits as the
    /// hypercall's size limit allows.
    pub fn write_stream(stream: u32, bytes: &[u8]) {
        for chunk in bytes.chunks(CONSOLE_MAX as usize) {
            let args =
                ConsoleWrite { buf: gpa_of(&chunk[0]), len: chunk.len() as u64, stream, _pad: 0 };
            hypercall(Hypercall::Console, &args);
        }
    }

    fn console_write(bytes: &[u8]) {
        write_stream(stream::KERNEL, bytes);
    }

    pub fn print(args: core::fmt::Arguments) {
        let mut buf = CONSOLE.lock();
        let mut w = Writer { buf: &mut buf, sink: console_write };
        let _ = core::fmt::write(&mut w, args);
        w.buf.flush(&mut w.sink);
    }
}

#[cfg(target_os = "none")]
pub use kernel_console::{print, write_stream};

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn one_sink_call_per_flush_and_full_buffer() {
        let mut calls: Vec<Vec<u8>> = Vec::new();
        let mut buf = WriteBuffer::<8>::new();
        {
            let mut w = Writer { buf: &mut buf, sink: |b: &[u8]| calls.push(b.to_vec()) };
            write!(w, "ab{}", 12).unwrap();
            w.buf.flush(&mut w.sink);
            write!(w, "0123456789").unwrap();
            w.buf.flush(&mut w.sink);
            w.buf.flush(&mut w.sink);
        }
        assert_eq!(calls, vec![b"ab12".to_vec(), b"01234567".to_vec(), b"89".to_vec()]);
    }
}
