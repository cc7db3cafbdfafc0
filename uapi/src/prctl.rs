//! `prctl` options (`include/uapi/linux/prctl.h`) and x86-64's `arch_prctl`
//! codes (`arch/x86/include/uapi/asm/prctl.h`).

crate::constants! {
    /// Set the signal sent when the parent dies.
    PR_SET_PDEATHSIG: u32 = 1;
    /// Get the signal sent when the parent dies.
    PR_GET_PDEATHSIG: u32 = 2;
    /// Get the dumpable flag.
    PR_GET_DUMPABLE: u32 = 3;
    /// Set the dumpable flag.
    PR_SET_DUMPABLE: u32 = 4;
    /// Set the thread's name (`comm`, 16 bytes with the NUL).
    PR_SET_NAME: u32 = 15;
    /// Get the thread's name.
    PR_GET_NAME: u32 = 16;
    /// Make the process a child subreaper (orphans below it go to it).
    PR_SET_CHILD_SUBREAPER: u32 = 36;
    /// Whether the process is a child subreaper.
    PR_GET_CHILD_SUBREAPER: u32 = 37;
    /// Set `no_new_privs`.
    PR_SET_NO_NEW_PRIVS: u32 = 38;
    /// Get `no_new_privs`.
    PR_GET_NO_NEW_PRIVS: u32 = 39;

    /// `arch_prctl`: set the GS base.
    ARCH_SET_GS: u32 = 0x1001;
    /// `arch_prctl`: set the FS base (the TLS pointer).
    ARCH_SET_FS: u32 = 0x1002;
    /// `arch_prctl`: get the FS base.
    ARCH_GET_FS: u32 = 0x1003;
    /// `arch_prctl`: get the GS base.
    ARCH_GET_GS: u32 = 0x1004;
    /// `arch_prctl`: whether `cpuid` is allowed.
    ARCH_GET_CPUID: u32 = 0x1011;
    /// `arch_prctl`: allow or fault `cpuid`.
    ARCH_SET_CPUID: u32 = 0x1012;
}
