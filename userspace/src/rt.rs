//! Program start: `_start` takes the System V initial stack (argc at RSP, argv,
//! NULL, envp, NULL, auxv pairs ending with `AT_NULL`), records the auxiliary
//! vector and the `AT_SYSINFO` entry, calls the program's `main` (declared with
//! [`crate::entry!`]) and passes its result to `exit_group`. Also the panic
//! handler: message to fd 2, exit status 101.

use core::ffi::CStr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::{AT_NULL, AT_SYSINFO};

/// The auxiliary vector (`(type, value)` pairs), null until `_start` ran.
static AUXV: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());

/// A NULL-terminated array of C strings on the initial stack (argv or envp).
#[derive(Clone, Copy)]
struct CStrArray {
    ptr: *const *const u8,
    len: usize,
}

impl CStrArray {
    /// # Safety
    ///
    /// `ptr` must point to `len` valid NUL-terminated strings that live for the
    /// rest of the program.
    unsafe fn new(ptr: *const *const u8, len: usize) -> Self {
        CStrArray { ptr, len }
    }

    fn get(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.len {
            return None;
        }
        // SAFETY: i < len; the constructor's contract makes the entry a valid,
        // 'static C string.
        unsafe { Some(CStr::from_ptr(*self.ptr.add(i) as *const core::ffi::c_char)) }
    }
}

/// The program's arguments (`argv`).
#[derive(Clone, Copy)]
pub struct Args(CStrArray);

impl Args {
    /// `argc`.
    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// `argv[i]` as a C string.
    pub fn get(&self, i: usize) -> Option<&'static CStr> {
        self.0.get(i)
    }

    /// `argv[i]`'s bytes (without the NUL).
    pub fn bytes(&self, i: usize) -> Option<&'static [u8]> {
        self.get(i).map(CStr::to_bytes)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static CStr> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// The program's environment (`envp`), `NAME=value` strings.
#[derive(Clone, Copy)]
pub struct Env(CStrArray);

impl Env {
    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&'static CStr> {
        self.0.get(i)
    }

    /// The value of variable `name`, if set.
    pub fn var(&self, name: &[u8]) -> Option<&'static [u8]> {
        (0..self.len()).filter_map(|i| self.get(i)).find_map(|s| {
            let s = s.to_bytes();
            (s.len() > name.len() && s.starts_with(name) && s[name.len()] == b'=')
                .then(|| &s[name.len() + 1..])
        })
    }
}

/// The value of auxiliary-vector entry `ty` (`AT_*`), if the kernel passed one.
pub fn auxv(ty: u64) -> Option<usize> {
    let mut p = AUXV.load(Ordering::Relaxed) as *const usize;
    if p.is_null() {
        return None;
    }
    loop {
        // SAFETY: AUXV points to the kernel's auxv on the initial stack, pairs
        // ending with AT_NULL, never written by the program.
        let (t, v) = unsafe { (*p, *p.add(1)) };
        if t as u64 == AT_NULL {
            return None;
        }
        if t as u64 == ty {
            return Some(v);
        }
        // SAFETY: not at AT_NULL yet, so the next pair exists.
        p = unsafe { p.add(2) };
    }
}

/// Parses the initial stack at `sp`, records auxv and the system-call entry, and
/// returns `(args, env)`.
///
/// # Safety
///
/// `sp` must be the process's initial stack pointer as the kernel set it up.
pub unsafe fn init(sp: *const usize) -> (Args, Env) {
    // SAFETY: the System V layout: argc, argv[argc], NULL, envp..., NULL, auxv.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        let mut envc = 0;
        while !(*envp.add(envc)).is_null() {
            envc += 1;
        }
        let auxv = envp.add(envc + 1) as *mut usize;
        AUXV.store(auxv, Ordering::Relaxed);
        if let Some(entry) = self::auxv(AT_SYSINFO) {
            crate::syscall::set_entry(entry);
        }
        (Args(CStrArray::new(argv, argc)), Env(CStrArray::new(envp, envc)))
    }
}

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// Defined by [`crate::entry!`] in the program.
    fn __userspace_main(args: Args, env: Env) -> i32;
}

/// Called by `_start` with the initial stack pointer.
#[cfg(target_os = "none")]
unsafe extern "C" fn start_rust(sp: *const usize) -> ! {
    // SAFETY: `_start` passes the initial RSP untouched.
    let (args, env) = unsafe { init(sp) };
    // SAFETY: the program defines `__userspace_main` through `entry!`, with this
    // exact signature.
    let status = unsafe { __userspace_main(args, env) };
    crate::calls::exit_group(status)
}

/// The process entry point: clears RBP (end of frame chain), passes the initial
/// RSP to Rust and realigns the stack for the call.
///
/// # Safety
///
/// Only the kernel may enter it, with the System V initial stack.
#[cfg(target_os = "none")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        start = sym start_rust,
    )
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::eprintln!("{}", info);
    crate::calls::exit_group(101)
}
