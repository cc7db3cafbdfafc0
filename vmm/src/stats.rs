//! KVM's binary statistics (`KVM_GET_STATS_FD`, Documentation/virt/kvm/api.rst):
//! a file per VM and per vCPU with a header, descriptors and the values, read with
//! `pread` at any time. kvm-ioctls has no wrapper for it.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

use vmm_sys_util::ioctl::ioctl;
use vmm_sys_util::ioctl_io_nr;

ioctl_io_nr!(KVM_GET_STATS_FD, kvm_bindings::KVMIO, 0xce);

const HEADER_SIZE: usize = 24;
const DESC_FIXED_SIZE: usize = 16;
const TYPE_MASK: u32 = 0xf;
const TYPE_LINEAR_HIST: u32 = 3;
const TYPE_LOG_HIST: u32 = 4;

/// One statistic's place in the data block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub name: String,
    pub flags: u32,
    pub size: u16,
    pub offset: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub name_size: u32,
    pub num_desc: u32,
    pub desc_offset: u32,
    pub data_offset: u32,
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

pub fn parse_header(b: &[u8]) -> Option<Header> {
    (b.len() >= HEADER_SIZE).then(|| Header {
        name_size: le32(b, 4),
        num_desc: le32(b, 8),
        desc_offset: le32(b, 16),
        data_offset: le32(b, 20),
    })
}

/// Parse `num_desc` descriptors from the bytes at `desc_offset`.
pub fn parse_descriptors(b: &[u8], h: &Header) -> Vec<Descriptor> {
    let stride = DESC_FIXED_SIZE + h.name_size as usize;
    b.chunks_exact(stride)
        .take(h.num_desc as usize)
        .map(|d| {
            let name = &d[DESC_FIXED_SIZE..];
            let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            Descriptor {
                name: String::from_utf8_lossy(&name[..len]).into_owned(),
                flags: le32(d, 0),
                size: u16::from_le_bytes([d[6], d[7]]),
                offset: le32(d, 8),
            }
        })
        .collect()
}

/// Values of the scalar statistics (histograms are summed to one number).
pub fn parse_values(data: &[u8], descs: &[Descriptor]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for d in descs {
        let start = d.offset as usize;
        let words = d.size as usize;
        let Some(bytes) = data.get(start..start + words * 8) else { continue };
        let vals = bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
        let v = match d.flags & TYPE_MASK {
            TYPE_LINEAR_HIST | TYPE_LOG_HIST => vals.sum(),
            _ => vals.take(1).sum(),
        };
        out.insert(d.name.clone(), v);
    }
    out
}

/// An open statistics file of a VM or vCPU.
#[derive(Debug)]
pub struct StatsFile {
    file: File,
    descs: Vec<Descriptor>,
    data_offset: u64,
    data_len: usize,
}

impl StatsFile {
    /// `KVM_GET_STATS_FD` on a VM or vCPU fd, then read the descriptors once.
    pub fn open(kvm_object: &impl AsRawFd) -> std::io::Result<Self> {
        // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new fd or -1.
        let fd = unsafe { ioctl(kvm_object, KVM_GET_STATS_FD()) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the ioctl returned a fresh fd that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        let mut hb = [0u8; HEADER_SIZE];
        file.read_exact_at(&mut hb, 0)?;
        let h = parse_header(&hb).ok_or(std::io::ErrorKind::InvalidData)?;
        let mut db = vec![0u8; h.num_desc as usize * (DESC_FIXED_SIZE + h.name_size as usize)];
        file.read_exact_at(&mut db, h.desc_offset as u64)?;
        let descs = parse_descriptors(&db, &h);
        let data_len =
            descs.iter().map(|d| d.offset as usize + d.size as usize * 8).max().unwrap_or(0);
        Ok(Self { file, descs, data_offset: h.data_offset as u64, data_len })
    }

    pub fn read(&self) -> std::io::Result<BTreeMap<String, u64>> {
        let mut data = vec![0u8; self.data_len];
        self.file.read_exact_at(&mut data, self.data_offset)?;
        Ok(parse_values(&data, &self.descs))
    }

    /// Where each of `names` is in the data block (`None`: KVM lacks it), for
    /// `read_selected`.
    pub fn select(&self, names: &[&str]) -> Vec<Option<u32>> {
        names
            .iter()
            .map(|n| self.descs.iter().find(|d| d.name == *n && d.size >= 1).map(|d| d.offset))
            .collect()
    }

    /// The first word of the statistics `select` found (0 for absent ones):
    /// one `pread` and no allocation, cheap enough to call at every exit.
    pub fn read_selected(
        &self,
        sel: &[Option<u32>],
        buf: &mut Vec<u8>,
        out: &mut [u64],
    ) -> std::io::Result<()> {
        buf.resize(self.data_len, 0);
        self.file.read_exact_at(buf, self.data_offset)?;
        for (o, s) in out.iter_mut().zip(sel) {
            *o = s
                .and_then(|off| buf.get(off as usize..off as usize + 8))
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
        }
        Ok(())
    }
}

/// The statistics files of a VM and each of its vCPUs.
#[derive(Debug, Default)]
pub struct StatsFiles {
    /// The VM's (absent where KVM refuses one).
    pub vm: Option<StatsFile>,
    pub vcpus: Vec<StatsFile>,
}

impl StatsFiles {
    /// Every value now (a file that cannot be read gives no values).
    pub fn read(&self) -> KvmStats {
        KvmStats {
            vm: self.vm.as_ref().and_then(|s| s.read().ok()).unwrap_or_default(),
            vcpus: self.vcpus.iter().map(|s| s.read().unwrap_or_default()).collect(),
        }
    }
}

/// KVM statistics of a VM and each of its vCPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvmStats {
    pub vm: BTreeMap<String, u64>,
    pub vcpus: Vec<BTreeMap<String, u64>>,
}

impl KvmStats {
    /// The sum of a vCPU statistic over all vCPUs (0 if KVM does not have it).
    pub fn vcpu_total(&self, name: &str) -> u64 {
        self.vcpus.iter().filter_map(|m| m.get(name)).sum()
    }

    /// Per-vCPU difference `self - earlier` (for counting an operation's cost).
    pub fn since(&self, earlier: &KvmStats) -> KvmStats {
        let diff = |a: &BTreeMap<String, u64>, b: Option<&BTreeMap<String, u64>>| {
            a.iter()
                .map(|(k, v)| {
                    (k.clone(), v.saturating_sub(b.and_then(|b| b.get(k)).copied().unwrap_or(0)))
                })
                .collect()
        };
        KvmStats {
            vm: diff(&self.vm, Some(&earlier.vm)),
            vcpus: self
                .vcpus
                .iter()
                .enumerate()
                .map(|(i, m)| diff(m, earlier.vcpus.get(i)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, flags: u32, size: u16, offset: u32, name_size: usize) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&flags.to_le_bytes());
        d.extend_from_slice(&0i16.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&offset.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        let mut n = name.as_bytes().to_vec();
        n.resize(name_size, 0);
        d.extend_from_slice(&n);
        d
    }

    #[test]
    fn parses_a_stats_file_image() {
        let name_size = 48;
        let mut header = Vec::new();
        for v in [0u32, name_size as u32, 3, 24, 24, 24 + 3 * (16 + name_size as u32)] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        let h = parse_header(&header).unwrap();
        assert_eq!(h.num_desc, 3);
        let mut descs = desc("exits", 0, 1, 0, name_size);
        descs.extend(desc("insn_emulation", 0, 1, 8, name_size));
        descs.extend(desc("halt_poll_hist", TYPE_LOG_HIST, 3, 16, name_size));
        let d = parse_descriptors(&descs, &h);
        assert_eq!(d[1].name, "insn_emulation");
        let data: Vec<u8> = [7u64, 1500, 1, 2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let v = parse_values(&data, &d);
        assert_eq!(v["exits"], 7);
        assert_eq!(v["insn_emulation"], 1500);
        assert_eq!(v["halt_poll_hist"], 6);
    }

    #[test]
    fn differences_per_vcpu() {
        let m = |v: u64| BTreeMap::from([("exits".to_string(), v)]);
        let a = KvmStats { vm: m(1), vcpus: vec![m(10), m(20)] };
        let b = KvmStats { vm: m(3), vcpus: vec![m(15), m(21)] };
        let d = b.since(&a);
        assert_eq!(d.vcpu_total("exits"), 6);
        assert_eq!(d.vm["exits"], 2);
    }
}
