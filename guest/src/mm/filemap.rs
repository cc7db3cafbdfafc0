//! The page cache of a RAM-fs file (Linux `struct address_space` of a tmpfs
//! inode): the file's data in page-sized frames, which `mmap` maps.
//!
//! A file of the RAM file system keeps its data in one `Vec<u8>` until it is
//! first mapped (`RamFs::page_cache`); from then on its data lives here, one
//! frame per page, and `read`, `write` and `truncate` go through the same
//! frames that `MAP_SHARED` mappings map: a `write()` is seen through every
//! shared mapping and a store through one is seen by `read()` (Linux
//! `filemap_fault` maps page-cache pages the same way). `MAP_PRIVATE`
//! mappings map the frames read-only and copy them on the first write
//! (`do_cow_fault`, `do_wp_page`).
//!
//! Pages are dense: every page below the size exists. Bytes past the size in
//! the last page are kept zero by `set_size` and `write_at` (Linux zeroes the
//! partial page on truncate), so growing the file always reads zeros there,
//! whatever a mapping stored past the end meanwhile.
//!
//! The frames are the kernel's (reference counted: a page-table entry holds
//! one reference, the cache another); on the host (unit tests) a page is a
//! boxed array.

use alloc::vec::Vec;

use crate::errno::{Errno, ENOMEM};

/// Bytes in a page of the cache.
pub const PAGE_SIZE: u64 = 4096;
const PAGE: usize = PAGE_SIZE as usize;

/// One page of file data.
#[cfg(target_os = "none")]
pub struct Page(u64);

#[cfg(target_os = "none")]
impl Page {
    fn new_zeroed() -> Option<Self> {
        crate::mm::alloc_zeroed_frame().map(Page)
    }
    fn bytes(&self) -> &[u8] {
        crate::arch::boot::phys_slice_mut(self.0, PAGE)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        crate::arch::boot::phys_slice_mut(self.0, PAGE)
    }
    /// The frame's physical address.
    pub fn phys(&self) -> u64 {
        self.0
    }
}

#[cfg(target_os = "none")]
impl Drop for Page {
    fn drop(&mut self) {
        crate::mm::put_frame(self.0);
    }
}

/// One page of file data.
#[cfg(not(target_os = "none"))]
pub struct Page(alloc::boxed::Box<[u8; PAGE]>);

#[cfg(not(target_os = "none"))]
impl Page {
    fn new_zeroed() -> Option<Self> {
        Some(Page(alloc::boxed::Box::new([0; PAGE])))
    }
    fn bytes(&self) -> &[u8] {
        &self.0[..]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0[..]
    }
}

struct Pages {
    pages: Vec<Page>,
    size: u64,
}

impl Pages {
    /// Zero `[from, to)` (file offsets inside the pages that exist).
    fn zero(&mut self, from: u64, to: u64) {
        let mut at = from;
        while at < to {
            let (i, off) = ((at / PAGE_SIZE) as usize, (at % PAGE_SIZE) as usize);
            let n = (PAGE - off).min((to - at) as usize);
            if let Some(p) = self.pages.get_mut(i) {
                p.bytes_mut()[off..off + n].fill(0);
            }
            at += n as u64;
        }
    }

    /// Make the pages cover `len` bytes (new pages zeroed); nothing changes
    /// if one cannot be had.
    fn grow_pages(&mut self, len: u64) -> Result<(), Errno> {
        let want = len.div_ceil(PAGE_SIZE) as usize;
        if want <= self.pages.len() {
            return Ok(());
        }
        self.pages.try_reserve(want - self.pages.len()).map_err(|_| ENOMEM)?;
        let mut new = Vec::new();
        new.try_reserve(want - self.pages.len()).map_err(|_| ENOMEM)?;
        for _ in self.pages.len()..want {
            new.push(Page::new_zeroed().ok_or(ENOMEM)?);
        }
        self.pages.extend(new);
        Ok(())
    }
}

/// See the module documentation.
pub struct PageCache {
    inner: spin::Mutex<Pages>,
}

impl PageCache {
    /// A cache holding `data`; `ENOMEM` if the frames cannot be had.
    pub fn from_bytes(data: &[u8]) -> Result<Self, Errno> {
        let mut p = Pages { pages: Vec::new(), size: 0 };
        p.grow_pages(data.len() as u64)?;
        for (page, chunk) in p.pages.iter_mut().zip(data.chunks(PAGE)) {
            page.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
        }
        p.size = data.len() as u64;
        Ok(Self { inner: spin::Mutex::new(p) })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.lock().size
    }

    /// Read at `offset` into `buf`: the bytes read (0 at or past the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        let p = self.inner.lock();
        if offset >= p.size {
            return 0;
        }
        let total = ((p.size - offset) as usize).min(buf.len());
        let mut done = 0;
        while done < total {
            let at = offset + done as u64;
            let (i, off) = ((at / PAGE_SIZE) as usize, (at % PAGE_SIZE) as usize);
            let n = (PAGE - off).min(total - done);
            buf[done..done + n].copy_from_slice(&p.pages[i].bytes()[off..off + n]);
            done += n;
        }
        total
    }

    /// Write all of `data` at `offset`, growing the file (a gap reads as
    /// zeros). The caller has checked the size limits. `ENOMEM` (and nothing
    /// written) if the pages cannot be had.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let end = offset.checked_add(data.len() as u64).ok_or(ENOMEM)?;
        let mut p = self.inner.lock();
        p.grow_pages(end)?;
        if offset > p.size {
            let from = p.size;
            p.zero(from, offset);
        }
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (i, off) = ((at / PAGE_SIZE) as usize, (at % PAGE_SIZE) as usize);
            let n = (PAGE - off).min(data.len() - done);
            p.pages[i].bytes_mut()[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        p.size = p.size.max(end);
        Ok(())
    }

    /// Set the size (Linux `truncate_setsize`): growing adds zeros; shrinking
    /// frees the pages past the new end and zeroes the rest of the last page.
    /// The pages dropped are returned, so that the caller frees them after
    /// it has removed the mappings' entries for them (or drops them at once).
    pub fn set_size(&self, len: u64) -> Result<Vec<Page>, Errno> {
        let mut p = self.inner.lock();
        if len > p.size {
            p.grow_pages(len)?;
            let from = p.size;
            p.zero(from, len);
            p.size = len;
            return Ok(Vec::new());
        }
        let keep = len.div_ceil(PAGE_SIZE) as usize;
        let dropped = p.pages.split_off(keep);
        p.zero(len, keep as u64 * PAGE_SIZE);
        p.size = len;
        if p.pages.capacity() > 2 * p.pages.len() {
            p.pages.shrink_to_fit();
        }
        Ok(dropped)
    }

    /// The whole contents, copied (exec reads a mapped file this way).
    pub fn to_vec(&self) -> Result<Vec<u8>, Errno> {
        let size = self.size();
        let mut v = Vec::new();
        v.try_reserve_exact(size as usize).map_err(|_| ENOMEM)?;
        v.resize(size as usize, 0);
        let n = self.read_at(0, &mut v);
        v.truncate(n);
        Ok(v)
    }

    /// Pages that hold data (for memory accounting).
    pub fn nr_pages(&self) -> usize {
        self.inner.lock().pages.len()
    }

    /// The frame of page `pgoff` with a new reference for the caller's
    /// page-table entry, or `None` if the page lies wholly past the end of the
    /// file (the fault is then SIGBUS, as Linux's `filemap_fault`).
    #[cfg(target_os = "none")]
    pub fn get_page(&self, pgoff: u64) -> Option<u64> {
        let p = self.inner.lock();
        if pgoff >= p.size.div_ceil(PAGE_SIZE) {
            return None;
        }
        let f = p.pages.get(pgoff as usize)?.phys();
        crate::mm::get_frame(f);
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(c: &PageCache) -> Vec<u8> {
        c.to_vec().unwrap()
    }

    #[test]
    fn read_write_across_pages() {
        let c = PageCache::from_bytes(b"hello").unwrap();
        assert_eq!(c.size(), 5);
        let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        c.write_at(3, &big).unwrap();
        assert_eq!(c.size(), 10_003);
        assert_eq!(c.nr_pages(), 3);
        let mut buf = [0u8; 5000];
        assert_eq!(c.read_at(4000, &mut buf), 5000);
        assert_eq!(&buf[..], &big[3997..8997]);
        assert_eq!(c.read_at(10_000, &mut buf), 3);
        assert_eq!(c.read_at(20_000, &mut buf), 0);
        assert_eq!(&contents(&c)[..3], b"hel");
    }

    #[test]
    fn gaps_and_truncate_read_zeros() {
        let c = PageCache::from_bytes(&[0xaa; 5000]).unwrap();
        // Shrink: the rest of the last page is zeroed, the second page dropped.
        let dropped = c.set_size(100).unwrap();
        assert_eq!(dropped.len(), 1);
        assert_eq!(c.nr_pages(), 1);
        c.set_size(200).unwrap();
        let v = contents(&c);
        assert!(v[..100].iter().all(|&b| b == 0xaa) && v[100..].iter().all(|&b| b == 0));
        // A write past the end leaves zeros between.
        c.write_at(9000, b"x").unwrap();
        let v = contents(&c);
        assert_eq!(v.len(), 9001);
        assert!(v[200..9000].iter().all(|&b| b == 0));
        assert_eq!(c.set_size(0).unwrap().len(), 3);
        assert_eq!((c.size(), c.nr_pages()), (0, 0));
    }
}
