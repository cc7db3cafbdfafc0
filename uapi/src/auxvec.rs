//! Auxiliary-vector entry types (`include/uapi/linux/auxvec.h`,
//! `arch/x86/include/uapi/asm/auxvec.h`): the (type, value) pairs of
//! `unsigned long` after `envp` on a new program's stack.

crate::constants! {
    /// The end of the vector.
    AT_NULL: u64 = 0;
    /// Ignore the entry.
    AT_IGNORE: u64 = 1;
    /// The program's file descriptor.
    AT_EXECFD: u64 = 2;
    /// The address of the program headers.
    AT_PHDR: u64 = 3;
    /// The size of a program header.
    AT_PHENT: u64 = 4;
    /// The number of program headers.
    AT_PHNUM: u64 = 5;
    /// The page size.
    AT_PAGESZ: u64 = 6;
    /// The interpreter's load address.
    AT_BASE: u64 = 7;
    /// Flags (unused).
    AT_FLAGS: u64 = 8;
    /// The program's entry point.
    AT_ENTRY: u64 = 9;
    /// The program is not ELF.
    AT_NOTELF: u64 = 10;
    /// The real user id.
    AT_UID: u64 = 11;
    /// The effective user id.
    AT_EUID: u64 = 12;
    /// The real group id.
    AT_GID: u64 = 13;
    /// The effective group id.
    AT_EGID: u64 = 14;
    /// The address of the platform string (`x86_64`).
    AT_PLATFORM: u64 = 15;
    /// CPU capabilities (CPUID 1 EDX on x86).
    AT_HWCAP: u64 = 16;
    /// The frequency of `times()`.
    AT_CLKTCK: u64 = 17;
    /// Secure mode (setuid).
    AT_SECURE: u64 = 23;
    /// The address of the base platform string.
    AT_BASE_PLATFORM: u64 = 24;
    /// The address of 16 random bytes.
    AT_RANDOM: u64 = 25;
    /// More CPU capabilities.
    AT_HWCAP2: u64 = 26;
    /// The address of the file name given to `execve`.
    AT_EXECFN: u64 = 31;
    /// The address of the system-call entry (x86: the vDSO's `__kernel_vsyscall`;
    /// here the kernel's entry for programs, see the README).
    AT_SYSINFO: u64 = 32;
    /// The address of the vDSO.
    AT_SYSINFO_EHDR: u64 = 33;
    /// The smallest signal stack the kernel needs.
    AT_MINSIGSTKSZ: u64 = 51;
}
