//! The C programs' constants, `userspace/include/kvmfork_uapi.h`, are generated
//! from this crate: this test renders the header and fails, naming every
//! constant that differs, when the committed file is not that rendering.
//! `KVMFORK_WRITE_C_HEADER=1 cargo test -p uapi --test c_header` rewrites it.
//!
//! The structures of `userspace/include/kvmfork.h` are C code written by hand;
//! the second test compiles `_Static_assert`s of their sizes and field offsets,
//! with the values of this crate's `#[repr(C)]` structures, against it (gcc,
//! which the C programs need anyway, names the failing assertion).

use std::fmt::Write;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use uapi::Constant;

fn include_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../userspace/include")
}

/// Pointer-valued constants, as C's headers define them.
fn pointer(name: &str) -> Option<&'static str> {
    match name {
        "SIG_DFL" => Some("((void *)0)"),
        "SIG_IGN" => Some("((void *)1)"),
        "MAP_FAILED" => Some("((void *)-1)"),
        _ => None,
    }
}

/// A constant as a C literal: decimal below 4096, hexadecimal above, negative
/// numbers in parentheses, `UL` when the value needs more than 32 bits.
fn literal(c: &Constant) -> String {
    if let Some(p) = pointer(c.name) {
        return p.to_string();
    }
    let v = c.value;
    if v < 0 {
        return format!("({v})");
    }
    let digits = if v < 4096 { format!("{v}") } else { format!("{v:#x}") };
    if v > i128::from(u32::MAX) {
        format!("{digits}UL")
    } else {
        digits
    }
}

fn render() -> String {
    let mut h = String::new();
    h.push_str(
        "/* Generated from the uapi crate (uapi/tests/c_header.rs): do not edit.\n \
         * Linux x86-64 ABI constants for kvmfork.h; regenerate with\n \
         * KVMFORK_WRITE_C_HEADER=1 cargo test -p uapi --test c_header */\n\
         #ifndef KVMFORK_UAPI_H\n#define KVMFORK_UAPI_H\n",
    );
    let mut last = "";
    for (module, constants) in uapi::ALL_CONSTANTS {
        if *module != last {
            write!(h, "\n/* ---- uapi::{module} ---- */\n").unwrap();
            last = module;
        }
        for c in *constants {
            writeln!(h, "#define {} {}", c.name, literal(c)).unwrap();
            if let Some(call) = c.name.strip_prefix("__NR_") {
                writeln!(h, "#define SYS_{call} {}", c.name).unwrap();
            }
        }
    }
    h.push_str("\n#endif /* KVMFORK_UAPI_H */\n");
    h
}

/// `NAME value` of every `#define NAME VALUE` line.
fn defines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_c_header_is_generated_from_the_crate() {
    let path = include_dir().join("kvmfork_uapi.h");
    let want = render();
    if std::env::var_os("KVMFORK_WRITE_C_HEADER").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        return;
    }
    let (want_defs, have_defs) = (defines(&want), defines(&have));
    let mut problems = Vec::new();
    for (name, value) in &want_defs {
        match have_defs.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("{name}: missing (uapi: {value})")),
            Some((_, v)) if v != value => problems.push(format!("{name}: {v}, uapi: {value}")),
            Some(_) => {}
        }
    }
    for (name, value) in &have_defs {
        if !want_defs.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name}: {value}, not in uapi"));
        }
    }
    if problems.is_empty() {
        problems.push("same definitions, other text (comments, order)".to_string());
    }
    panic!(
        "{} differs from the uapi crate; run KVMFORK_WRITE_C_HEADER=1 cargo test -p uapi \
         --test c_header to regenerate it:\n{}",
        path.display(),
        problems.join("\n")
    );
}

/// `_Static_assert`s of a C structure's size and its fields' offsets.
macro_rules! layout {
    ($out:ident, $c:literal, $rust:ty { $($cfield:ident = $offset:expr),* $(,)? }) => {
        writeln!(
            $out,
            "_Static_assert(sizeof({}) == {}, \"sizeof({}) is not uapi's {}\");",
            $c, size_of::<$rust>(), $c, size_of::<$rust>()
        ).unwrap();
        $(
            writeln!(
                $out,
                "_Static_assert(offsetof({}, {}) == {}, \"offsetof({}, {}) is not uapi's {}\");",
                $c, stringify!($cfield), $offset, $c, stringify!($cfield), $offset
            ).unwrap();
        )*
    };
}

#[test]
fn the_c_structures_have_the_crates_layout() {
    use uapi::*;
    let mut c = String::from("#include \"kvmfork.h\"\n");
    layout!(c, "struct timespec", time::timespec {
        tv_sec = offset_of!(time::timespec, tv_sec),
        tv_nsec = offset_of!(time::timespec, tv_nsec),
    });
    layout!(c, "struct stat", stat::stat {
        st_dev = offset_of!(stat::stat, st_dev),
        st_ino = offset_of!(stat::stat, st_ino),
        st_nlink = offset_of!(stat::stat, st_nlink),
        st_mode = offset_of!(stat::stat, st_mode),
        st_uid = offset_of!(stat::stat, st_uid),
        st_gid = offset_of!(stat::stat, st_gid),
        st_rdev = offset_of!(stat::stat, st_rdev),
        st_size = offset_of!(stat::stat, st_size),
        st_blksize = offset_of!(stat::stat, st_blksize),
        st_blocks = offset_of!(stat::stat, st_blocks),
        st_atime = offset_of!(stat::stat, st_atime),
        st_atime_nsec = offset_of!(stat::stat, st_atime_nsec),
        st_mtime = offset_of!(stat::stat, st_mtime),
        st_mtime_nsec = offset_of!(stat::stat, st_mtime_nsec),
        st_ctime = offset_of!(stat::stat, st_ctime),
        st_ctime_nsec = offset_of!(stat::stat, st_ctime_nsec),
    });
    layout!(c, "struct iovec", uio::iovec {
        iov_base = offset_of!(uio::iovec, iov_base),
        iov_len = offset_of!(uio::iovec, iov_len),
    });
    layout!(c, "struct utsname", utsname::new_utsname {
        sysname = offset_of!(utsname::new_utsname, sysname),
        nodename = offset_of!(utsname::new_utsname, nodename),
        release = offset_of!(utsname::new_utsname, release),
        version = offset_of!(utsname::new_utsname, version),
        machine = offset_of!(utsname::new_utsname, machine),
        domainname = offset_of!(utsname::new_utsname, domainname),
    });
    layout!(c, "struct rlimit", resource::rlimit {
        rlim_cur = offset_of!(resource::rlimit, rlim_cur),
        rlim_max = offset_of!(resource::rlimit, rlim_max),
    });
    layout!(c, "struct winsize", termios::winsize {
        ws_row = offset_of!(termios::winsize, ws_row),
        ws_col = offset_of!(termios::winsize, ws_col),
        ws_xpixel = offset_of!(termios::winsize, ws_xpixel),
        ws_ypixel = offset_of!(termios::winsize, ws_ypixel),
    });
    // kvmfork.h names the kill/SIGCHLD members of the union directly.
    let fields = offset_of!(signal::siginfo_t, _sifields);
    layout!(c, "struct siginfo", signal::siginfo_t {
        si_signo = offset_of!(signal::siginfo_t, si_signo),
        si_errno = offset_of!(signal::siginfo_t, si_errno),
        si_code = offset_of!(signal::siginfo_t, si_code),
        si_pid = fields,
        si_uid = fields + 4,
        si_status = fields + 8,
    });
    // The record header of a `getdents64` buffer (its size includes padding,
    // so only the offsets are checked).
    for (field, offset) in [
        ("d_ino", offset_of!(dirent::linux_dirent64, d_ino)),
        ("d_off", offset_of!(dirent::linux_dirent64, d_off)),
        ("d_reclen", offset_of!(dirent::linux_dirent64, d_reclen)),
        ("d_type", offset_of!(dirent::linux_dirent64, d_type)),
        ("d_name", offset_of!(dirent::linux_dirent64, d_name)),
    ] {
        writeln!(
            c,
            "_Static_assert(offsetof(struct linux_dirent64, {field}) == {offset}, \
             \"offsetof(struct linux_dirent64, {field}) is not uapi's {offset}\");"
        )
        .unwrap();
    }

    let dir = std::env::temp_dir().join(format!("uapi-c-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    std::fs::write(&src, &c).unwrap();
    let out = Command::new("cc")
        .args(["-fsyntax-only", "-ffreestanding", "-nostdlib", "-std=gnu11", "-I"])
        .arg(include_dir())
        .arg(&src)
        .output()
        .expect("running cc (ci/setup.sh installs gcc)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "kvmfork.h's structures differ from uapi's:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
