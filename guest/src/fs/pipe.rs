//! Pipes (Linux `fs/pipe.c`): a 64 KiB ring buffer with reader and writer counts.

use alloc::collections::VecDeque;

use crate::errno::{Errno, EAGAIN, EPIPE};
pub use uapi::limits::PIPE_BUF;

/// Linux's default pipe capacity (16 pages).
pub const PIPE_CAPACITY: usize = 65536;

#[derive(Debug, Default)]
pub struct PipeState {
    buf: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
}

/// What a read or write would do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Transferred this many bytes (0 for a read = end of file).
    Done(usize),
    /// Nothing can be transferred yet: block (or EAGAIN when non-blocking).
    WouldBlock,
}

impl PipeState {
    pub fn new() -> Self {
        Self { buf: VecDeque::new(), readers: 1, writers: 1 }
    }

    pub fn read(&mut self, out: &mut [u8]) -> Outcome {
        let o = self.peek(out);
        if let Outcome::Done(n) = o {
            self.consume(n);
        }
        o
    }

    /// Copy what a read would return into `out` without taking it from the
    /// pipe: the caller [`consume`](Self::consume)s it once the copy to user
    /// memory succeeded, so a read that faults loses nothing (Linux
    /// `pipe_read` advances `buf->offset` only after `copy_page_to_iter`).
    pub fn peek(&self, out: &mut [u8]) -> Outcome {
        if out.is_empty() {
            return Outcome::Done(0);
        }
        if self.buf.is_empty() {
            return if self.writers == 0 { Outcome::Done(0) } else { Outcome::WouldBlock };
        }
        let n = out.len().min(self.buf.len());
        for (o, b) in out.iter_mut().zip(self.buf.iter()) {
            *o = *b;
        }
        Outcome::Done(n)
    }

    /// Drop the first `n` bytes (after a successful [`peek`](Self::peek)).
    pub fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
    }

    /// Write what fits; writes of at most PIPE_BUF bytes are all or nothing.
    pub fn write(&mut self, data: &[u8]) -> Result<Outcome, Errno> {
        if self.readers == 0 {
            return Err(EPIPE);
        }
        let room = PIPE_CAPACITY - self.buf.len();
        if data.is_empty() {
            return Ok(Outcome::Done(0));
        }
        if room == 0 || (data.len() <= PIPE_BUF && room < data.len()) {
            return Ok(Outcome::WouldBlock);
        }
        let n = data.len().min(room);
        self.buf.extend(&data[..n]);
        Ok(Outcome::Done(n))
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A pipe (Linux `struct pipe_inode_info`): its buffer and ends, shared by
/// the files of both ends, and the tasks waiting for data, for space or for
/// the other end to close (one queue per pipe: a change to one pipe wakes only
/// its own waiters).
pub struct Pipe {
    state: spin::Mutex<PipeState>,
    #[cfg(target_os = "none")]
    pub wait: crate::sched::WaitQueue,
}

impl Pipe {
    pub fn new() -> Self {
        Self {
            state: spin::Mutex::new(PipeState::new()),
            #[cfg(target_os = "none")]
            wait: crate::sched::WaitQueue::new(),
        }
    }

    pub fn lock(&self) -> spin::MutexGuard<'_, PipeState> {
        self.state.lock()
    }

    /// Something changed (data, space, an end closed): wake this pipe's waiters.
    pub fn wake_all(&self) {
        #[cfg(target_os = "none")]
        self.wait.wake_all();
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Self::new()
    }
}

/// Non-blocking callers turn WouldBlock into EAGAIN.
pub fn nonblocking(o: Outcome) -> Result<usize, Errno> {
    match o {
        Outcome::Done(n) => Ok(n),
        Outcome::WouldBlock => Err(EAGAIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_eof_and_epipe() {
        let mut p = PipeState::new();
        let mut out = [0u8; 8];
        assert_eq!(p.read(&mut out), Outcome::WouldBlock);
        assert_eq!(p.write(b"hello"), Ok(Outcome::Done(5)));
        assert_eq!(p.peek(&mut out[..2]), Outcome::Done(2));
        assert_eq!((&out[..2], p.len()), (&b"he"[..], 5), "peek takes nothing");
        assert_eq!(p.read(&mut out[..3]), Outcome::Done(3));
        assert_eq!(&out[..3], b"hel");
        p.writers = 0;
        assert_eq!(p.read(&mut out), Outcome::Done(2));
        assert_eq!(p.read(&mut out), Outcome::Done(0), "EOF once drained");
        p.readers = 0;
        assert_eq!(p.write(b"x"), Err(EPIPE));
    }

    #[test]
    fn capacity_and_atomic_small_writes() {
        let mut p = PipeState::new();
        let big = alloc::vec![7u8; PIPE_CAPACITY - 10];
        assert_eq!(p.write(&big), Ok(Outcome::Done(PIPE_CAPACITY - 10)));
        assert_eq!(p.write(&[1; 20]), Ok(Outcome::WouldBlock), "20 <= PIPE_BUF: all or nothing");
        assert_eq!(
            p.write(&alloc::vec![1; PIPE_BUF + 1]),
            Ok(Outcome::Done(10)),
            "large writes are partial"
        );
        assert_eq!(nonblocking(p.write(b"z").unwrap()), Err(EAGAIN));
    }
}
