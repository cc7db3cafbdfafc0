//! The initramfs writer: a cpio "newc" archive (as Linux's `usr/gen_init_cpio`
//! writes it) of host files placed at guest paths, for the guest kernel to unpack
//! into its RAM file system (`guest::fs::ramfs`).
//!
//! [`build`] puts every parent directory once (mode 040755, before its contents),
//! then the files (`S_IFREG` | their permission bits), in path order, component by
//! component; owner 0:0, mtime 0 and sequential inode numbers make the archive
//! depend on its input only. [`parse_file_spec`] reads the CLI's `--file
//! HOST[:GUEST]`, [`load_file`] reads the host file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest name of one path component (Linux's `NAME_MAX`).
pub use uapi::limits::NAME_MAX;
pub use uapi::stat::{S_IFDIR, S_IFREG};
/// The longest guest path: Linux's `PATH_MAX` counts the NUL.
pub const MAX_PATH_LEN: usize = uapi::limits::PATH_MAX - 1;

const TRAILER: &str = "TRAILER!!!";

/// One file of the initramfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The absolute guest path, e.g. `/bin/init`.
    pub path: String,
    /// Permission bits, e.g. `0o755` (at most `0o7777`).
    pub mode: u32,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitramfsError {
    #[error("initramfs path '{0}' is not absolute: guest paths start with '/'")]
    NotAbsolute(String),
    #[error("initramfs path '{path}' is not valid: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("initramfs path '{path}' has a component of {len} bytes; at most {NAME_MAX}")]
    NameTooLong { path: String, len: usize },
    #[error("initramfs path '{path}' is {len} bytes long; at most {MAX_PATH_LEN}")]
    PathTooLong { path: String, len: usize },
    #[error("initramfs path '{0}' is given twice")]
    Duplicate(String),
    #[error("initramfs path '{0}' is a file but also the directory of another file")]
    FileAndDirectory(String),
    #[error("initramfs file '{path}' has mode {mode:#o}: only permission bits (at most 0o7777)")]
    BadMode { path: String, mode: u32 },
    #[error("initramfs file '{path}' is {size} bytes; a cpio newc member holds at most 4 GiB - 1")]
    FileTooLarge { path: String, size: usize },
    #[error("bad --file '{spec}': {reason} (expected HOST[:GUEST], GUEST an absolute guest path)")]
    BadFileSpec { spec: String, reason: &'static str },
    #[error("cannot read {path}: {source}", path = path.display())]
    Read { path: PathBuf, source: std::io::Error },
}

/// Check a guest path: absolute, no empty (`//`, trailing `/`), `.` or `..`
/// components, components of at most 255 bytes, at most 4095 bytes, no NUL.
fn check_path(path: &str) -> Result<Vec<&str>, InitramfsError> {
    let bad = |reason| InitramfsError::BadPath { path: path.to_string(), reason };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(InitramfsError::NotAbsolute(path.to_string()));
    };
    if path.len() > MAX_PATH_LEN {
        return Err(InitramfsError::PathTooLong { path: path.to_string(), len: path.len() });
    }
    if rest.is_empty() {
        return Err(bad("it is the root directory, which always exists"));
    }
    if path.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let components: Vec<&str> = rest.split('/').collect();
    for c in &components {
        match *c {
            "" => return Err(bad("empty component ('//' or a trailing '/')")),
            "." | ".." => return Err(bad("'.' and '..' components are not allowed")),
            _ if c.len() > NAME_MAX => {
                return Err(InitramfsError::NameTooLong { path: path.to_string(), len: c.len() })
            }
            _ => {}
        }
    }
    Ok(components)
}

/// Append one newc member (header, name, data, each padded to 4 bytes).
fn push_member(out: &mut Vec<u8>, name: &str, ino: u32, mode: u32, nlink: u32, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A cpio newc archive holding `entries` and their parent directories.
///
/// Errors: a path that is not absolute or not valid (see [`InitramfsError`]), a
/// path given twice, a path that is a file and also the parent of another entry,
/// a mode with more than permission bits, a file of 4 GiB or more.
pub fn build(entries: &[Entry]) -> Result<Vec<u8>, InitramfsError> {
    let mut files: BTreeMap<Vec<&str>, &Entry> = BTreeMap::new();
    let mut dirs: BTreeSet<Vec<&str>> = BTreeSet::new();
    for e in entries {
        let components = check_path(&e.path)?;
        if e.mode & !0o7777 != 0 {
            return Err(InitramfsError::BadMode { path: e.path.clone(), mode: e.mode });
        }
        if u32::try_from(e.data.len()).is_err() {
            return Err(InitramfsError::FileTooLarge { path: e.path.clone(), size: e.data.len() });
        }
        for i in 1..components.len() {
            dirs.insert(components[..i].to_vec());
        }
        if files.insert(components, e).is_some() {
            return Err(InitramfsError::Duplicate(e.path.clone()));
        }
    }
    if let Some(dir) = dirs.iter().find(|d| files.contains_key(*d)) {
        return Err(InitramfsError::FileAndDirectory(format!("/{}", dir.join("/"))));
    }
    // Component-wise order puts each directory right before its contents.
    let mut members: BTreeMap<&Vec<&str>, Option<&Entry>> =
        dirs.iter().map(|d| (d, None)).collect();
    members.extend(files.iter().map(|(path, e)| (path, Some(*e))));

    let mut out = Vec::new();
    for (ino, (path, entry)) in (1..).zip(members) {
        let name = path.join("/");
        match entry {
            None => push_member(&mut out, &name, ino, S_IFDIR | 0o755, 2, b""),
            Some(e) => push_member(&mut out, &name, ino, S_IFREG | e.mode, 1, &e.data),
        }
    }
    push_member(&mut out, TRAILER, 0, 0, 1, b"");
    Ok(out)
}

/// Read `--file HOST[:GUEST]`: the host path and the guest path, which defaults
/// to `/` + the host file's name. The spec is split at its last `:`, so a host
/// path containing `:` needs an explicit `:GUEST`.
pub fn parse_file_spec(spec: &str) -> Result<(PathBuf, String), InitramfsError> {
    let bad = |reason| InitramfsError::BadFileSpec { spec: spec.to_string(), reason };
    let (host, guest) = match spec.rsplit_once(':') {
        Some((host, guest)) => {
            if guest.is_empty() {
                return Err(bad("the guest path after ':' is empty"));
            }
            if !guest.starts_with('/') {
                return Err(bad("the guest path after ':' must be absolute"));
            }
            (host, guest.to_string())
        }
        None => {
            let name = Path::new(spec)
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or(bad("the host path has no file name to use as the guest name"))?;
            (spec, format!("/{name}"))
        }
    };
    if host.is_empty() {
        return Err(bad("the host path is empty"));
    }
    check_path(&guest)?;
    Ok((PathBuf::from(host), guest))
}

/// Read host file `host` as the entry for `guest`, with its permission bits.
pub fn load_file(host: &Path, guest: &str) -> Result<Entry, InitramfsError> {
    use std::os::unix::fs::PermissionsExt;
    let read = |source| InitramfsError::Read { path: host.to_path_buf(), source };
    let data = std::fs::read(host).map_err(read)?;
    let mode = std::fs::metadata(host).map_err(read)?.permissions().mode() & 0o7777;
    check_path(guest)?;
    Ok(Entry { path: guest.to_string(), mode, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use guest::fs::cpio;
    use guest::fs::ramfs::{RamFs, ROOT_INO};

    fn entry(path: &str, mode: u32, data: &[u8]) -> Entry {
        Entry { path: path.into(), mode, data: data.to_vec() }
    }

    #[test]
    fn archive_layout() {
        let a =
            build(&[entry("/bin/init", 0o755, b"ELF"), entry("/etc/motd", 0o644, b"hi")]).unwrap();
        let members: Vec<_> = cpio::entries(&a).collect::<Result<_, _>>().unwrap();
        let summary: Vec<(&str, u32, u32, &[u8])> =
            members.iter().map(|e| (e.name, e.mode, e.nlink, e.data)).collect();
        assert_eq!(
            summary,
            [
                ("bin", 0o040755, 2, &b""[..]),
                ("bin/init", 0o100755, 1, b"ELF"),
                ("etc", 0o040755, 2, b""),
                ("etc/motd", 0o100644, 1, b"hi"),
            ]
        );
        let inos: BTreeSet<u32> = members.iter().map(|e| e.ino).collect();
        assert_eq!(inos.len(), members.len());
        assert!(a.len().is_multiple_of(4));
        // Exactly as gen_init_cpio: the first header, byte for byte.
        let header = ["070701", "00000001", "000041ED", "00000000", "00000000", "00000002"]
            .concat()
            + &"00000000".repeat(6)
            + "00000004"
            + "00000000";
        assert_eq!(&a[..110], header.as_bytes());
        assert_eq!(&a[110..116], b"bin\0\0\0");
        // Deterministic, and the empty archive is just the trailer.
        assert_eq!(
            a,
            build(&[entry("/etc/motd", 0o644, b"hi"), entry("/bin/init", 0o755, b"ELF")]).unwrap()
        );
        assert_eq!(cpio::parse(&build(&[]).unwrap()).unwrap().len(), 0);
    }

    #[test]
    fn parents_once_and_before_contents() {
        let a = build(&[
            entry("/a/b/c/f", 0o644, b"1"),
            entry("/a-b", 0o644, b"2"),
            entry("/a/b/g", 0o600, b"3"),
            entry("/a/x", 0o644, b""),
            entry("/z", 0o644, b""),
        ])
        .unwrap();
        let names: Vec<&str> = cpio::entries(&a).map(|e| e.unwrap().name).collect();
        assert_eq!(names, ["a", "a/b", "a/b/c", "a/b/c/f", "a/b/g", "a/x", "a-b", "z"]);
    }

    #[test]
    fn errors() {
        let one = |path: &str| build(&[entry(path, 0o644, b"")]).unwrap_err().to_string();
        assert!(one("bin/x").contains("not absolute"), "{}", one("bin/x"));
        assert!(one("/").contains("root"));
        assert!(one("/a//b").contains("empty component"));
        assert!(one("/a/").contains("empty component"));
        assert!(one("/a/../b").contains("'..'"));
        assert!(one("/a/./b").contains("'.'"));
        assert!(one("/a\0b").contains("NUL"));
        let long = format!("/{}", "n".repeat(256));
        assert!(matches!(
            build(&[entry(&long, 0o644, b"")]),
            Err(InitramfsError::NameTooLong { len: 256, .. })
        ));
        assert!(build(&[entry(&format!("/{}", "n".repeat(255)), 0o644, b"")]).is_ok());
        let deep = "/dir".repeat(1024);
        assert!(matches!(
            build(&[entry(&deep, 0o644, b"")]),
            Err(InitramfsError::PathTooLong { len: 4096, .. })
        ));
        let dup = build(&[entry("/a", 0o644, b"1"), entry("/a", 0o644, b"2")]).unwrap_err();
        assert_eq!(dup.to_string(), "initramfs path '/a' is given twice");
        let both = build(&[entry("/a/b", 0o644, b""), entry("/a/b/c", 0o644, b"")]).unwrap_err();
        assert!(matches!(&both, InitramfsError::FileAndDirectory(p) if p == "/a/b"), "{both}");
        let mode = build(&[entry("/a", 0o100644, b"")]).unwrap_err();
        assert!(mode.to_string().contains("0o100644"), "{mode}");
    }

    #[test]
    fn file_specs() {
        let p = |s: &str| parse_file_spec(s);
        assert_eq!(p("target/hello").unwrap(), (PathBuf::from("target/hello"), "/hello".into()));
        assert_eq!(p("hello:/bin/init").unwrap(), (PathBuf::from("hello"), "/bin/init".into()));
        assert_eq!(p("a:b:/x").unwrap(), (PathBuf::from("a:b"), "/x".into()));
        for (spec, what) in [
            ("hello:bin/init", "must be absolute"),
            ("hello:", "is empty"),
            (":/x", "host path is empty"),
            ("", "no file name"),
            ("dir/..", "no file name"),
            ("/", "no file name"),
        ] {
            let e = p(spec).unwrap_err().to_string();
            assert!(e.contains(what) && e.contains("HOST[:GUEST]"), "{spec}: {e}");
        }
        assert!(matches!(p("x:/a//b"), Err(InitramfsError::BadPath { .. })));
    }

    #[test]
    fn load_host_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("initramfs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let host = dir.join("prog");
        std::fs::write(&host, b"#!\n").unwrap();
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = load_file(&host, "/bin/prog").unwrap();
        assert_eq!(e, entry("/bin/prog", 0o750, b"#!\n"));
        let missing = load_file(&dir.join("missing"), "/x").unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What the VMM writes, the guest's parser reads and its RAM file system holds.
    #[test]
    fn round_trip_into_the_guest_ramfs() {
        let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let entries = [
            entry("/bin/init", 0o755, b"\x7fELF\x02\x01\x01"),
            entry("/bin/sh", 0o4755, &big),
            entry("/etc/deep/er/file", 0o600, b"x"),
            entry("/empty", 0o644, b""),
            entry("/odd", 0o644, b"12345"),
        ];
        let archive = build(&entries).unwrap();
        let mut fs = RamFs::new(1 << 20);
        assert_eq!(fs.unpack_cpio(&archive).unwrap(), entries.len() + 4); // + bin etc deep er
        for e in &entries {
            let ino = fs.lookup(ROOT_INO, &e.path).unwrap();
            assert_eq!(fs.file_data(ino).unwrap(), &e.data[..], "{}", e.path);
            let st = fs.stat(ino).unwrap();
            assert_eq!(st.mode, 0o100000 | e.mode, "{}", e.path);
            assert_eq!((st.nlink, st.uid, st.gid), (1, 0, 0));
        }
        let er = fs.lookup(ROOT_INO, "/etc/deep/er").unwrap();
        assert_eq!(fs.stat(er).unwrap().mode, 0o040755);
        assert_eq!(fs.used_bytes(), (7 + 10_000 + 1 + 5) as u64);
    }
}
