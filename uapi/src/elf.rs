//! ELF header values a kernel checks when it loads a program
//! (`include/uapi/linux/elf.h`, `elf-em.h`).

crate::constants! {
    /// `e_type`: no type.
    ET_NONE: u16 = 0;
    /// `e_type`: relocatable object.
    ET_REL: u16 = 1;
    /// `e_type`: executable linked at fixed addresses.
    ET_EXEC: u16 = 2;
    /// `e_type`: shared object (and position-independent executable).
    ET_DYN: u16 = 3;
    /// `e_type`: core file.
    ET_CORE: u16 = 4;
    /// `e_machine`: AMD x86-64.
    EM_X86_64: u16 = 62;
    /// `e_machine`: ARM 64-bit.
    EM_AARCH64: u16 = 183;

    /// `p_type`: a loadable segment.
    PT_LOAD: u32 = 1;
    /// `p_type`: dynamic linking information.
    PT_DYNAMIC: u32 = 2;
    /// `p_type`: the interpreter's path.
    PT_INTERP: u32 = 3;
    /// `p_type`: the program header table itself.
    PT_PHDR: u32 = 6;
    /// `p_type`: the thread-local storage template.
    PT_TLS: u32 = 7;
    /// `p_type`: the stack's permissions.
    PT_GNU_STACK: u32 = 0x6474_e551;

    /// `p_flags`: executable.
    PF_X: u32 = 0x1;
    /// `p_flags`: writable.
    PF_W: u32 = 0x2;
    /// `p_flags`: readable.
    PF_R: u32 = 0x4;
}

/// The first four bytes of an ELF file (`ELFMAG`).
pub const ELFMAG: &[u8; 4] = b"\x7fELF";
