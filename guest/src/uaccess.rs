//! Typed access to user memory for system calls, on top of the arch layer's
//! checked, fault-recovering copies. Every bad pointer is EFAULT.

use alloc::vec;
use alloc::vec::Vec;

use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::errno::{Errno, EFAULT, ENAMETOOLONG};

/// `len` bytes of user memory at `addr`: EFAULT for a range outside user
/// space (Linux `access_ok`, checked before anything is allocated), ENOMEM
/// when the kernel cannot hold them: a user-chosen length never makes an
/// infallible allocation.
pub fn read_bytes(addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    if !crate::arch::uaccess::user_range_ok(addr, len) {
        return Err(EFAULT);
    }
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| crate::errno::ENOMEM)?;
    v.resize(len, 0);
    copy_from_user(&mut v, addr)?;
    Ok(v)
}

pub fn read_u32(addr: u64) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    copy_from_user(&mut b, addr)?;
    Ok(u32::from_le_bytes(b))
}

pub fn read_u64(addr: u64) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    copy_from_user(&mut b, addr)?;
    Ok(u64::from_le_bytes(b))
}

/// `n` consecutive u64 words (structs such as timespec, rlimit, iovec).
pub fn read_u64s<const N: usize>(addr: u64) -> Result<[u64; N], Errno> {
    let mut b = vec![0u8; 8 * N];
    copy_from_user(&mut b, addr)?;
    Ok(core::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap())))
}

pub fn write_bytes(addr: u64, data: &[u8]) -> Result<(), Errno> {
    copy_to_user(addr, data)
}

/// As Linux's `copy_to_user` returning a short count: how many bytes of
/// `data` reached user memory at `addr` before the first page that refuses
/// them (a read or write into a buffer that runs into an unmapped page
/// returns the bytes before it, as Linux's `filemap_read` does).
pub fn write_bytes_partial(addr: u64, data: &[u8]) -> usize {
    if write_bytes(addr, data).is_ok() {
        return data.len();
    }
    let mut done = 0;
    for piece in page_pieces(addr, data.len()) {
        if write_bytes(addr + done as u64, &data[done..done + piece]).is_err() {
            break;
        }
        done += piece;
    }
    done
}

/// `read_bytes` that stops at the first page it cannot read (Linux
/// `copy_from_user`'s short count): the bytes before it, maybe none.
pub fn read_bytes_partial(addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    match read_bytes(addr, len) {
        Err(EFAULT) => {}
        other => return other,
    }
    let mut v = Vec::new();
    for piece in page_pieces(addr, len) {
        let Ok(bytes) = read_bytes(addr + v.len() as u64, piece) else { break };
        v.extend_from_slice(&bytes);
    }
    Ok(v)
}

/// The lengths of the pieces `[addr, addr + len)` falls into at page
/// boundaries.
fn page_pieces(addr: u64, len: usize) -> impl Iterator<Item = usize> {
    const PAGE: u64 = 4096;
    let mut at = addr;
    let end = addr.saturating_add(len as u64);
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let next = (at / PAGE + 1).saturating_mul(PAGE).min(end);
        let n = (next - at) as usize;
        at = next;
        Some(n)
    })
}

pub fn write_u32(addr: u64, v: u32) -> Result<(), Errno> {
    copy_to_user(addr, &v.to_le_bytes())
}

pub fn write_u64s(addr: u64, words: &[u64]) -> Result<(), Errno> {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    copy_to_user(addr, &bytes)
}

/// A NUL-terminated string of at most `max` bytes (without the NUL):
/// ENAMETOOLONG beyond it (Linux `strncpy_from_user` + `getname`).
pub fn read_cstr(addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(EFAULT);
    }
    // A string is read a chunk at a time (Linux `strncpy_from_user` reads a
    // word at a time), never past the end of a page before the NUL is found,
    // so that a string ending just before an unmapped page is read without
    // touching it, and never past `max + 1` bytes. Where ring 0 is emulated
    // each byte copied costs: the first 128 bytes go through a buffer on the
    // stack, and a longer string into the result in chunks as long as what
    // was read so far (to the page's end), so that a string of n bytes takes
    // O(log n) rounds within a page, one at least per page.
    const FIRST: usize = 128;
    let limit = max.saturating_add(1);
    let room = |at: u64, read: usize| ((4096 - (at % 4096)) as usize).min(limit - read);
    let mut buf = [0u8; FIRST];
    let first = &mut buf[..room(addr, 0).min(FIRST)];
    copy_from_user(first, addr)?;
    if let Some(nul) = first.iter().position(|&b| b == 0) {
        return Ok(first[..nul].to_vec());
    }
    let mut out = first.to_vec();
    loop {
        let read = out.len();
        if read >= limit {
            return Err(ENAMETOOLONG);
        }
        let at = addr + read as u64;
        let chunk = room(at, read).min(read.max(FIRST));
        out.resize(read + chunk, 0);
        copy_from_user(&mut out[read..], at)?;
        if let Some(nul) = out[read..].iter().position(|&b| b == 0) {
            out.truncate(read + nul);
            return Ok(out);
        }
    }
}

/// The longest string of argv or envp, its NUL included (Linux
/// `MAX_ARG_STRLEN`).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// A NULL-terminated array of string pointers (argv, envp), with Linux's limits.
pub fn read_cstr_array(
    addr: u64,
    max_count: usize,
    max_total: usize,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0usize;
    for i in 0.. {
        let p = read_u64(addr + 8 * i as u64)?;
        if p == 0 {
            break;
        }
        if out.len() >= max_count {
            return Err(crate::errno::E2BIG);
        }
        // Linux `MAX_ARG_STRLEN` (32 pages) counts the NUL: 131,071 bytes
        // of string at most, E2BIG beyond.
        let s = read_cstr(p, MAX_ARG_STRLEN - 1).map_err(|e| {
            if e == ENAMETOOLONG {
                crate::errno::E2BIG
            } else {
                e
            }
        })?;
        total += s.len() + 1 + 8;
        if total > max_total {
            return Err(crate::errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}
