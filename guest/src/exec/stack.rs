//! The System V initial process stack (x86-64 psABI §3.4.1), laid out as Linux's
//! `create_elf_tables` does. From `stack_top` down:
//!
//! ```text
//! stack_top - 8    8 zero bytes (end marker)
//!                  argv strings, then envp strings, each NUL-terminated
//!                  (argv[0] lowest; one contiguous block)
//!                  (alignment down to 16)
//!                  "x86_64\0"            AT_PLATFORM
//!                  16 random bytes       AT_RANDOM
//!                  (padding so that rsp is 16-byte aligned)
//!                  auxv: the caller's pairs, AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL
//!                  envp[0..envc], NULL
//!                  argv[0..argc], NULL
//! rsp              argc
//! ```
//!
//! `build_stack` produces the bytes of that range; the caller copies them so that
//! they end at `stack_top` (the image starts at `rsp`) and starts the program with
//! that `rsp` (and `rdx` = 0: no `atexit` function, as Linux's `ELF_PLAT_INIT`).

use alloc::vec;
use alloc::vec::Vec;

use crate::errno::{Errno, E2BIG, EINVAL};
pub use uapi::auxvec::{
    AT_BASE, AT_BASE_PLATFORM, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFD, AT_EXECFN,
    AT_FLAGS, AT_GID, AT_HWCAP, AT_HWCAP2, AT_IGNORE, AT_MINSIGSTKSZ, AT_NOTELF, AT_NULL,
    AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_SECURE, AT_SYSINFO,
    AT_SYSINFO_EHDR, AT_UID,
};
pub use uapi::binfmts::MAX_ARG_STRLEN;

/// The entries `build_stack` adds itself (their values are addresses inside the
/// image); the caller's `auxv` must not contain them.
pub const RESERVED_AUXV: [u64; 4] = [AT_NULL, AT_RANDOM, AT_PLATFORM, AT_EXECFN];

/// `AT_PLATFORM`'s string (`uname -m`).
pub const PLATFORM: &[u8] = b"x86_64\0";

/// The initial stack of a new program: `image` goes at `rsp..stack_top`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialStack {
    pub image: Vec<u8>,
    /// Where `argc` is, 16-byte aligned; also the address of `image[0]`.
    pub rsp: u64,
    /// `argv` (the pointer array), `envp` and the auxiliary vector.
    pub argv_ptr: u64,
    pub envp_ptr: u64,
    pub auxv_ptr: u64,
}

fn round_up16(x: u64) -> Option<u64> {
    Some(x.checked_add(15)? & !15)
}

fn put(image: &mut [u8], off: u64, bytes: &[u8]) {
    let off = off as usize;
    image[off..off + bytes.len()].copy_from_slice(bytes);
}

/// Lay out the initial stack of a program (Linux `create_elf_tables`, with the
/// strings `copy_strings` puts above it).
///
/// - `stack_top` must be 16-byte aligned (`EINVAL`); the image ends there.
/// - `argv` and `envp` strings are given without their NUL; one containing a NUL
///   byte is `EINVAL`, one of `MAX_ARG_STRLEN` bytes or more is `E2BIG`. An empty
///   `argv` becomes `[""]` (argc 1), as Linux has done since 5.18.
/// - `auxv` holds the caller's entries in the order wanted (typically
///   `AT_SYSINFO_EHDR`, `AT_HWCAP`, `AT_PAGESZ`, `AT_CLKTCK`, `ElfImage::auxv`'s
///   `AT_PHDR`, `AT_PHENT`, `AT_PHNUM`, then `AT_BASE`, `AT_FLAGS`, `AT_ENTRY`,
///   `AT_UID`, `AT_EUID`, `AT_GID`, `AT_EGID`, `AT_SECURE`). It must not contain
///   `RESERVED_AUXV`: this function appends `AT_RANDOM` (→ the 16 `random`
///   bytes), `AT_EXECFN` (→ the `argv[0]` string; Linux points it at the file
///   name), `AT_PLATFORM` (→ "x86_64") and `AT_NULL` itself. Otherwise `EINVAL`.
/// - `max_bytes` bounds the whole image (`E2BIG` above it); Linux limits the
///   strings and pointers to a quarter of `RLIMIT_STACK`, which the caller
///   passes. An image that does not fit below `stack_top` is `EINVAL`.
pub fn build_stack(
    stack_top: u64,
    argv: &[&[u8]],
    envp: &[&[u8]],
    auxv: &[(u64, u64)],
    random: [u8; 16],
    max_bytes: usize,
) -> Result<InitialStack, Errno> {
    if !stack_top.is_multiple_of(16) || auxv.iter().any(|(t, _)| RESERVED_AUXV.contains(t)) {
        return Err(EINVAL);
    }
    let empty_argv: [&[u8]; 1] = [b""];
    let argv = if argv.is_empty() { &empty_argv[..] } else { argv };
    let mut strings: u64 = 0;
    for s in argv.iter().chain(envp) {
        if s.contains(&0) {
            return Err(EINVAL);
        }
        if s.len() >= MAX_ARG_STRLEN {
            return Err(E2BIG);
        }
        strings += s.len() as u64 + 1; // < 2^17 each, and far fewer than 2^40 of them
    }
    let (argc, envc) = (argv.len() as u64, envp.len() as u64);
    let nauxv = auxv.len() as u64 + 4;

    // Distances below stack_top; too large for u64 is certainly too large.
    let d_strings = strings.checked_add(8).ok_or(E2BIG)?;
    let d_platform = round_up16(d_strings).ok_or(E2BIG)? + PLATFORM.len() as u64;
    let d_random = d_platform + 16;
    let words = (argc + envc).checked_add(3 + 2 * nauxv).ok_or(E2BIG)?;
    let table = words.checked_mul(8).ok_or(E2BIG)?;
    let total = d_random.checked_add(table).and_then(round_up16).ok_or(E2BIG)?;
    if total > max_bytes as u64 {
        return Err(E2BIG);
    }
    if total > stack_top {
        return Err(EINVAL);
    }
    let rsp = stack_top - total;
    let strings_addr = stack_top - d_strings;
    let platform_addr = stack_top - d_platform;
    let random_addr = stack_top - d_random;

    let mut image = vec![0u8; total as usize];
    let at = |addr: u64| addr - rsp;
    put(&mut image, at(platform_addr), PLATFORM);
    put(&mut image, at(random_addr), &random);

    // The strings, and a pointer to each in the argv and envp arrays.
    let argv_ptr = rsp + 8;
    let envp_ptr = argv_ptr + 8 * (argc + 1);
    let auxv_ptr = envp_ptr + 8 * (envc + 1);
    let mut str_addr = strings_addr;
    let mut slot = argv_ptr;
    for (i, s) in argv.iter().chain(envp).enumerate() {
        if i as u64 == argc {
            slot = envp_ptr; // skip argv's NULL
        }
        put(&mut image, at(slot), &str_addr.to_le_bytes());
        put(&mut image, at(str_addr), s);
        str_addr += s.len() as u64 + 1;
        slot += 8;
    }
    put(&mut image, 0, &argc.to_le_bytes());

    let ours = [
        (AT_RANDOM, random_addr),
        (AT_EXECFN, strings_addr),
        (AT_PLATFORM, platform_addr),
        (AT_NULL, 0),
    ];
    for (i, &(key, value)) in auxv.iter().chain(&ours).enumerate() {
        let off = at(auxv_ptr) + 16 * i as u64;
        put(&mut image, off, &key.to_le_bytes());
        put(&mut image, off + 8, &value.to_le_bytes());
    }
    Ok(InitialStack { image, rsp, argv_ptr, envp_ptr, auxv_ptr })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x7fff_ffff_e000;
    const RANDOM: [u8; 16] = *b"0123456789abcdef";
    const LIMIT: usize = 128 * 1024;

    /// What a program sees at `_start`, read from the image by address.
    #[derive(Debug)]
    struct Seen {
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        auxv: Vec<(u64, u64)>,
    }

    fn word(st: &InitialStack, addr: u64) -> u64 {
        assert!(addr >= st.rsp, "{addr:#x} below rsp");
        let off = (addr - st.rsp) as usize;
        u64::from_le_bytes(st.image[off..off + 8].try_into().unwrap())
    }

    fn cstr(st: &InitialStack, addr: u64) -> Vec<u8> {
        let off = (addr - st.rsp) as usize;
        let len = st.image[off..].iter().position(|&b| b == 0).expect("unterminated string");
        st.image[off..off + len].to_vec()
    }

    /// Walk the stack as a C runtime does, checking the returned pointers agree.
    fn read_back(st: &InitialStack, top: u64) -> Seen {
        assert_eq!(st.rsp % 16, 0);
        assert_eq!(st.rsp + st.image.len() as u64, top);
        assert_eq!(word(st, top - 8), 0, "end marker");
        let argc = word(st, st.rsp);
        assert_eq!(st.argv_ptr, st.rsp + 8);
        let mut p = st.argv_ptr;
        let mut argv = Vec::new();
        while word(st, p) != 0 {
            argv.push(cstr(st, word(st, p)));
            p += 8;
        }
        assert_eq!(argv.len() as u64, argc);
        p += 8;
        assert_eq!(p, st.envp_ptr);
        let mut envp = Vec::new();
        while word(st, p) != 0 {
            envp.push(cstr(st, word(st, p)));
            p += 8;
        }
        p += 8;
        assert_eq!(p, st.auxv_ptr);
        let mut auxv = Vec::new();
        loop {
            let (key, value) = (word(st, p), word(st, p + 8));
            p += 16;
            if key == AT_NULL {
                assert_eq!(value, 0);
                break;
            }
            auxv.push((key, value));
        }
        // Only padding between the end of auxv and the random bytes.
        let random = auxv.iter().find(|a| a.0 == AT_RANDOM).unwrap().1;
        assert!(p <= random && random - p < 16, "padding {}", random - p);
        Seen { argv, envp, auxv }
    }

    fn aux(seen: &Seen, key: u64) -> u64 {
        let all: Vec<_> = seen.auxv.iter().filter(|a| a.0 == key).collect();
        assert_eq!(all.len(), 1, "auxv key {key}");
        all[0].1
    }

    #[test]
    fn round_trip() {
        let argv: [&[u8]; 3] = [b"/bin/prog", b"-v", b"hello world"];
        let envp: [&[u8]; 2] = [b"HOME=/", b"PATH=/bin:/usr/bin"];
        let caller = [(AT_PAGESZ, 4096), (AT_PHDR, 0x40_0040), (AT_ENTRY, 0x40_1000)];
        let st = build_stack(TOP, &argv, &envp, &caller, RANDOM, LIMIT).unwrap();
        let seen = read_back(&st, TOP);
        assert_eq!(seen.argv, argv.map(<[u8]>::to_vec));
        assert_eq!(seen.envp, envp.map(<[u8]>::to_vec));
        assert_eq!(&seen.auxv[..3], &caller);
        let keys: Vec<u64> = seen.auxv[3..].iter().map(|a| a.0).collect();
        assert_eq!(keys, [AT_RANDOM, AT_EXECFN, AT_PLATFORM]);
        let random = aux(&seen, AT_RANDOM);
        let off = (random - st.rsp) as usize;
        assert_eq!(st.image[off..off + 16], RANDOM);
        assert_eq!(cstr(&st, aux(&seen, AT_PLATFORM)), b"x86_64");
        assert_eq!(cstr(&st, aux(&seen, AT_EXECFN)), b"/bin/prog");
        assert_eq!(aux(&seen, AT_EXECFN), word(&st, st.argv_ptr));
    }

    #[test]
    fn layout_is_linux_s() {
        let argv: [&[u8]; 2] = [b"a", b"bc"];
        let envp: [&[u8]; 1] = [b"X=1"];
        let st = build_stack(TOP, &argv, &envp, &[(AT_PAGESZ, 4096)], RANDOM, LIMIT).unwrap();
        let seen = read_back(&st, TOP);
        // Strings: one block "a\0bc\0X=1\0" ending at the end marker.
        let strings = word(&st, st.argv_ptr);
        assert_eq!(strings, TOP - 8 - 9);
        let off = (strings - st.rsp) as usize;
        assert_eq!(&st.image[off..off + 9], b"a\0bc\0X=1\0");
        assert_eq!(word(&st, st.argv_ptr + 8), strings + 2);
        assert_eq!(word(&st, st.envp_ptr), strings + 5);
        // Platform string below the 16-aligned strings, random bytes below it.
        let platform = aux(&seen, AT_PLATFORM);
        assert_eq!(platform, ((strings & !15) - 7));
        assert_eq!(aux(&seen, AT_RANDOM), platform - 16);
        // argc, 3 argv words, 2 envp words, 5 auxv pairs = 16 words, rounded.
        assert_eq!(st.auxv_ptr, st.rsp + 8 * 6);
        assert_eq!(st.rsp, (platform - 16 - 16 * 8) & !15);
    }

    #[test]
    fn empty_argv_and_envp() {
        let st = build_stack(TOP, &[], &[], &[], RANDOM, LIMIT).unwrap();
        let seen = read_back(&st, TOP);
        assert_eq!(seen.argv, [b"".to_vec()]); // Linux 5.18+: argc 1, argv[0] ""
        assert!(seen.envp.is_empty());
        assert_eq!(seen.auxv.len(), 3);
        assert_eq!(cstr(&st, aux(&seen, AT_EXECFN)), b"");
        let st = build_stack(TOP, &[b"x"], &[], &[], RANDOM, LIMIT).unwrap();
        let seen = read_back(&st, TOP);
        assert_eq!((seen.argv.len(), seen.envp.len()), (1, 0));
    }

    #[test]
    fn size_limits() {
        let argv: [&[u8]; 2] = [b"prog", b"arg"];
        let exact = build_stack(TOP, &argv, &[], &[], RANDOM, LIMIT).unwrap().image.len();
        assert!(build_stack(TOP, &argv, &[], &[], RANDOM, exact).is_ok());
        assert_eq!(build_stack(TOP, &argv, &[], &[], RANDOM, exact - 1), Err(E2BIG));
        assert_eq!(build_stack(TOP, &argv, &[], &[], RANDOM, 0), Err(E2BIG));
        // Many strings: E2BIG, and fine with a larger limit.
        let big = vec![b'e'; 1000];
        let envp: Vec<&[u8]> = (0..200).map(|_| &big[..]).collect();
        assert_eq!(build_stack(TOP, &argv, &envp, &[], RANDOM, LIMIT), Err(E2BIG));
        let st = build_stack(TOP, &argv, &envp, &[], RANDOM, 4 * LIMIT).unwrap();
        assert_eq!(read_back(&st, TOP).envp.len(), 200);
        // One string of MAX_ARG_STRLEN bytes is too long whatever the limit.
        let huge = vec![b'h'; MAX_ARG_STRLEN];
        assert_eq!(build_stack(TOP, &[&huge], &[], &[], RANDOM, usize::MAX), Err(E2BIG));
        let st = build_stack(TOP, &[&huge[1..]], &[], &[], RANDOM, usize::MAX).unwrap();
        assert_eq!(read_back(&st, TOP).argv[0].len(), MAX_ARG_STRLEN - 1);
        // Fits the limit but not below stack_top.
        assert_eq!(build_stack(exact as u64 - 16, &argv, &[], &[], RANDOM, LIMIT), Err(EINVAL));
        assert!(build_stack(exact as u64, &argv, &[], &[], RANDOM, LIMIT).is_ok());
    }

    #[test]
    fn bad_arguments() {
        let argv: [&[u8]; 1] = [b"prog"];
        assert_eq!(build_stack(TOP + 8, &argv, &[], &[], RANDOM, LIMIT), Err(EINVAL));
        assert_eq!(build_stack(TOP, &[b"a\0b"], &[], &[], RANDOM, LIMIT), Err(EINVAL));
        assert_eq!(build_stack(TOP, &argv, &[b"A=\0"], &[], RANDOM, LIMIT), Err(EINVAL));
        for key in RESERVED_AUXV {
            let auxv = [(AT_PAGESZ, 4096), (key, 1)];
            assert_eq!(build_stack(TOP, &argv, &[], &auxv, RANDOM, LIMIT), Err(EINVAL));
        }
    }

    #[test]
    fn randomized_round_trips() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..500 {
            let top = TOP - 16 * next(1 << 20);
            let mut strings: Vec<Vec<u8>> = Vec::new();
            let (argc, envc) = (next(20) as usize, next(20) as usize);
            for _ in 0..argc + envc {
                let len = next(40) as usize;
                strings.push((0..len).map(|_| 1 + next(255) as u8).collect());
            }
            let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
            let (argv, envp) = refs.split_at(argc);
            let keys = [
                AT_SYSINFO_EHDR,
                AT_HWCAP,
                AT_PAGESZ,
                AT_CLKTCK,
                AT_PHDR,
                AT_PHENT,
                AT_PHNUM,
                AT_BASE,
            ];
            let auxv: Vec<(u64, u64)> =
                keys[..next(9) as usize].iter().map(|&k| (k, next(u64::MAX))).collect();
            let random: [u8; 16] = core::array::from_fn(|_| next(256) as u8);
            let st = build_stack(top, argv, envp, &auxv, random, LIMIT).unwrap();
            let seen = read_back(&st, top);
            let want_argv =
                if argc == 0 { alloc::vec![Vec::new()] } else { strings[..argc].to_vec() };
            assert_eq!(seen.argv, want_argv);
            assert_eq!(seen.envp, strings[argc..]);
            assert_eq!(seen.auxv[..auxv.len()], auxv[..]);
            let r = (aux(&seen, AT_RANDOM) - st.rsp) as usize;
            assert_eq!(st.image[r..r + 16], random);
        }
    }
}
