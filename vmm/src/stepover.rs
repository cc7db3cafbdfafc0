//! Ring-0 instructions the profiler carries out itself instead of stepping.
//!
//! On this machine's KVM (kvm_pvm, which emulates ring 0) single-stepping
//! `swapgs`, `fxsave64` and `fxrstor64` goes wrong: on a one-vCPU VM the debug
//! exit after them is lost (the next instruction runs unstepped), and on a VM
//! with more vCPUs the vCPU is left in `KVM_MP_STATE_HALTED` with interrupts
//! off right after the instruction, where nothing wakes it: the profiled guest
//! hangs at its first context switch (`fxrstor64`) or return to user mode
//! (`swapgs`). Unprofiled, the same instructions run correctly; what breaks is
//! only their stepping. So a stepped vCPU whose next instruction is one of them
//! does not run it: the tracer decodes it (`decode`), does what it does through
//! KVM's register interfaces (the GS bases, `KVM_SET_FPU`, guest memory in the
//! 512-byte FXSAVE layout of `fxsave_image` / `fxrstor_state`), advances RIP,
//! and counts it like a stepped instruction. The same happens on every host,
//! so profiles agree across them; KVM's `insn_emulation` does not count these
//! (the profile reports how many there were).

use iced_x86::{Code, Decoder, DecoderOptions, Register};
use kvm_bindings::kvm_fpu;

/// What the tracer does instead of stepping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOver {
    /// Exchange the GS base with `IA32_KERNEL_GS_BASE`.
    Swapgs,
    /// Store the x87/SSE state at this linear address.
    Fxsave64(u64),
    /// Load the x87/SSE state from this linear address.
    Fxrstor64(u64),
}

/// `IA32_KERNEL_GS_BASE`, the MSR `swapgs` exchanges with the GS base.
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;

/// Bytes of the FXSAVE area the processor writes (the rest, 416..512, is
/// reserved or left to software).
pub const FXSAVE_WRITTEN: usize = 416;

/// The instruction in `bytes` (fetched at `rip`), if it is one the tracer
/// carries out, with its length. `reg` gives a general register's value (for
/// the memory operand's address); FS and GS bases are not needed: the kernel's
/// FXSAVE areas are addressed without segment overrides, and one with an
/// override is left to the CPU.
pub fn decode(
    bytes: &[u8],
    rip: u64,
    reg: impl Fn(Register) -> Option<u64>,
) -> Option<(StepOver, u64)> {
    let insn = Decoder::with_ip(64, bytes, rip, DecoderOptions::NONE).decode();
    if insn.is_invalid() {
        return None;
    }
    let addr = || {
        if insn.segment_prefix() != Register::None {
            return None;
        }
        insn.virtual_address(0, 0, |r, _, _| match r {
            Register::ES | Register::CS | Register::SS | Register::DS => Some(0),
            r => reg(r),
        })
    };
    let op = match insn.code() {
        Code::Swapgs => StepOver::Swapgs,
        Code::Fxsave64_m512byte => StepOver::Fxsave64(addr()?),
        Code::Fxrstor64_m512byte => StepOver::Fxrstor64(addr()?),
        _ => return None,
    };
    Some((op, insn.len() as u64))
}

/// What `fxsave64` writes, from KVM's view of the state: FCW, FSW, the
/// abridged tag word, FOP, 64-bit FIP and FDP, MXCSR, MXCSR_MASK
/// (`mxcsr_mask`, which `kvm_fpu` lacks: `MXCSR_MASK`), ST0–7
/// in 16-byte slots and XMM0–15.
pub fn fxsave_image(f: &kvm_fpu, mxcsr_mask: u32) -> [u8; FXSAVE_WRITTEN] {
    let mut a = [0u8; FXSAVE_WRITTEN];
    a[0..2].copy_from_slice(&f.fcw.to_le_bytes());
    a[2..4].copy_from_slice(&f.fsw.to_le_bytes());
    a[4] = f.ftwx;
    a[6..8].copy_from_slice(&f.last_opcode.to_le_bytes());
    a[8..16].copy_from_slice(&f.last_ip.to_le_bytes());
    a[16..24].copy_from_slice(&f.last_dp.to_le_bytes());
    a[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
    a[28..32].copy_from_slice(&mxcsr_mask.to_le_bytes());
    for (i, st) in f.fpr.iter().enumerate() {
        a[32 + 16 * i..48 + 16 * i].copy_from_slice(st);
    }
    for (i, x) in f.xmm.iter().enumerate() {
        a[160 + 16 * i..176 + 16 * i].copy_from_slice(x);
    }
    a
}

/// The state `fxrstor64` loads from `area`, or None where the CPU would
/// raise #GP instead (MXCSR bits outside `mxcsr_mask` set): the tracer then
/// leaves the instruction to the CPU, which raises it.
pub fn fxrstor_state(area: &[u8; FXSAVE_WRITTEN], mxcsr_mask: u32) -> Option<kvm_fpu> {
    let u16_at = |o: usize| u16::from_le_bytes([area[o], area[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(area[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(area[o..o + 8].try_into().unwrap());
    let mxcsr = u32_at(24);
    if mxcsr & !mxcsr_mask != 0 {
        return None;
    }
    let mut f = kvm_fpu {
        fcw: u16_at(0),
        fsw: u16_at(2),
        ftwx: area[4],
        last_opcode: u16_at(6),
        last_ip: u64_at(8),
        last_dp: u64_at(16),
        mxcsr,
        ..Default::default()
    };
    for (i, st) in f.fpr.iter_mut().enumerate() {
        st.copy_from_slice(&area[32 + 16 * i..48 + 16 * i]);
    }
    for (i, x) in f.xmm.iter_mut().enumerate() {
        x.copy_from_slice(&area[160 + 16 * i..176 + 16 * i]);
    }
    Some(f)
}

/// The MXCSR_MASK `fxsave64` stores and `fxrstor64` checks against: what
/// every x86-64 CPU with DAZ (all current ones) reports. `kvm_fpu` does not
/// carry the vCPU's own.
pub const MXCSR_MASK: u32 = 0xffff;

#[cfg(test)]
mod tests {
    use super::*;

    const RIP: u64 = 0xffff_ffff_8021_ca5b;

    fn regs(r: Register) -> Option<u64> {
        match r {
            Register::RAX => Some(0xffff_8880_0058_8bb0),
            Register::R13 => Some(0xffff_8880_0058_8800),
            _ => None,
        }
    }

    #[test]
    fn the_three_instructions_are_decoded_with_their_operand_and_length() {
        // fxrstor64 [rax]; fxsave64 [r13+0x3b0]; swapgs.
        assert_eq!(
            decode(&[0x48, 0x0f, 0xae, 0x08, 0x90], RIP, regs),
            Some((StepOver::Fxrstor64(0xffff_8880_0058_8bb0), 4))
        );
        assert_eq!(
            decode(&[0x49, 0x0f, 0xae, 0x85, 0xb0, 0x03, 0, 0], RIP, regs),
            Some((StepOver::Fxsave64(0xffff_8880_0058_8bb0), 8))
        );
        assert_eq!(decode(&[0x0f, 0x01, 0xf8, 0xcc], RIP, regs), Some((StepOver::Swapgs, 3)));
    }

    #[test]
    fn everything_else_is_stepped() {
        // The 32-bit forms, an ordinary load, a segment override, an unknown register, garbage.
        assert_eq!(decode(&[0x0f, 0xae, 0x08], RIP, regs), None, "fxrstor (32-bit)");
        assert_eq!(decode(&[0x0f, 0xae, 0x00], RIP, regs), None, "fxsave (32-bit)");
        assert_eq!(decode(&[0x48, 0x8b, 0x00], RIP, regs), None, "mov rax, [rax]");
        assert_eq!(decode(&[0x65, 0x48, 0x0f, 0xae, 0x08], RIP, regs), None, "gs: override");
        assert_eq!(decode(&[0x48, 0x0f, 0xae, 0x0b], RIP, regs), None, "[rbx]: no value");
        assert_eq!(decode(&[0x0f, 0x01], RIP, regs), None, "truncated");
    }

    #[test]
    fn an_fxsave_image_loads_back_to_the_same_state() {
        let mut f = kvm_fpu {
            fcw: 0x037f,
            fsw: 0x3800,
            ftwx: 0x81,
            last_opcode: 0x1de,
            last_ip: 0x40_1234,
            last_dp: 0x7fff_0000_1000,
            mxcsr: 0x1fa0,
            ..Default::default()
        };
        for (i, st) in f.fpr.iter_mut().enumerate() {
            st[..10].fill(i as u8 + 1);
        }
        for (i, x) in f.xmm.iter_mut().enumerate() {
            x.fill(0x40 + i as u8);
        }
        let a = fxsave_image(&f, MXCSR_MASK);
        // Fields where the SDM puts them.
        assert_eq!(&a[0..2], &[0x7f, 0x03]);
        assert_eq!(a[4], 0x81);
        assert_eq!(&a[24..32], &[0xa0, 0x1f, 0, 0, 0xff, 0xff, 0, 0]);
        assert_eq!(a[32], 1);
        assert_eq!(a[32 + 7 * 16 + 9], 8);
        assert_eq!(a[160], 0x40);
        assert_eq!(a[415], 0x4f);
        let back = fxrstor_state(&a, MXCSR_MASK).expect("a valid MXCSR");
        assert_eq!(fxsave_image(&back, MXCSR_MASK), a);
        assert_eq!((back.fcw, back.fsw, back.ftwx, back.mxcsr), (f.fcw, f.fsw, f.ftwx, f.mxcsr));
        assert_eq!((back.last_ip, back.last_dp, back.last_opcode), (f.last_ip, f.last_dp, 0x1de));
        assert_eq!((back.fpr, back.xmm), (f.fpr, f.xmm));
    }

    #[test]
    fn an_mxcsr_the_cpu_would_refuse_is_left_to_the_cpu() {
        let mut a = [0u8; FXSAVE_WRITTEN];
        a[24..28].copy_from_slice(&0x1_1f80u32.to_le_bytes());
        assert!(fxrstor_state(&a, MXCSR_MASK).is_none());
        a[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        assert_eq!(fxrstor_state(&a, MXCSR_MASK).unwrap().mxcsr, 0x1f80);
    }
}
