//! The address-space side of zpoline (`exec::zpoline` has the rest): the
//! `syscall` sites of an executable ([`SiteTable`], which the file system
//! keeps with the file and exec checks against it) and of a patched address
//! space ([`Zpoline`], which the fault handler consults on every zpoline
//! system call).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// `syscall`.
pub const SYSCALL_INSN: [u8; 2] = [0x0f, 0x05];
/// `call *%rax`.
pub const CALL_RAX: [u8; 2] = [0xff, 0xd0];

/// The `syscall` sites of one executable, checked against its contents.
#[derive(Debug, PartialEq, Eq)]
pub struct SiteTable {
    /// Link-time addresses of the sites, increasing.
    vaddrs: Box<[u64]>,
    /// The file offset of each site.
    offsets: Box<[u64]>,
    /// Page of the first site (its address rounded down to 4 KiB).
    base: u64,
    /// `first[p]`: index of the first site at or above page `p` from `base`
    /// (one more entry than pages): the sites of page `p` are
    /// `first[p]..first[p + 1]`, so a lookup scans one page's few sites
    /// instead of searching them all (it runs on every zpoline system call).
    first: Box<[u32]>,
}

impl SiteTable {
    /// The table of `sites` (link-time addresses, strictly increasing) at
    /// file `offsets`, which the caller checked against the executable
    /// (`exec::zpoline::check_sites`).
    pub fn from_checked(vaddrs: Vec<u64>, offsets: Vec<u64>) -> SiteTable {
        debug_assert!(vaddrs.len() == offsets.len() && vaddrs.windows(2).all(|w| w[0] < w[1]));
        let base = vaddrs.first().map_or(0, |&v| v & !0xfff);
        let pages = vaddrs.last().map_or(0, |&v| ((v - base) >> 12) + 1) as usize;
        let mut first = Vec::with_capacity(pages + 1);
        for p in 0..=pages as u64 {
            first.push(vaddrs.partition_point(|&v| v < base + (p << 12)) as u32);
        }
        SiteTable { vaddrs: vaddrs.into(), offsets: offsets.into(), base, first: first.into() }
    }

    pub fn len(&self) -> usize {
        self.vaddrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vaddrs.is_empty()
    }

    /// Whether a site starts at link-time address `vaddr`.
    pub fn contains(&self, vaddr: u64) -> bool {
        let page = (vaddr.wrapping_sub(self.base) >> 12) as usize;
        match (self.first.get(page), self.first.get(page + 1)) {
            (Some(&a), Some(&b)) => self.vaddrs[a as usize..b as usize].contains(&vaddr),
            _ => false,
        }
    }

    /// The sites' link-time addresses, increasing (exec rewrites them as it
    /// copies the text: `Mm::populate_rewritten`, checking that each still
    /// holds `syscall`).
    pub fn sites(&self) -> &[u64] {
        &self.vaddrs
    }
}

/// A patched address space's sites: the table and where the image was loaded.
#[derive(Clone, Debug)]
pub struct Zpoline {
    pub table: Arc<SiteTable>,
    /// Load bias (static PIE), added to the table's link-time addresses.
    pub bias: u64,
}

impl Zpoline {
    /// Whether user address `addr` is a patched site of this address space.
    pub fn is_site(&self, addr: u64) -> bool {
        addr.checked_sub(self.bias).is_some_and(|v| self.table.contains(v))
    }
}
