//! The Intel SDM's checks on the guest-state area at VM entry (Vol. 3C §27.3.1,
//! "Checks on the Guest State Area"), applied to the vCPU state the VMM hands
//! KVM (`KVM_SET_SREGS`, `KVM_SET_REGS` and the MP state).
//!
//! On an Intel host kvm_intel copies that state into the VMCS, and the CPU
//! refuses a VM entry whose guest state breaks any of these rules
//! (`KVM_EXIT_FAIL_ENTRY`, "invalid guest state"). The emulators the project's
//! VMX lane runs on check less than silicon does, and this machine's KVM is not
//! VMX at all, so the rules are checked here, on the host, by a pure function:
//! `regs.rs`'s state for the boot CPU and every AP must pass, and the tests
//! below break the state field by field to show each rule bites.
//!
//! The check is stricter than KVM needs in two places, deliberately: it assumes
//! no "unrestricted guest" (a guest entered in long mode needs none), and
//! `MAX_PHYS_ADDR_BITS` is the smallest physical-address width of Intel 64 CPUs.
//! It checks the guest's view of CR0/CR4 against the bits VMX fixes to 1 (PE,
//! NE, PG) and to 0 (bits the architecture reserves); CR4.VMXE, which VMX also
//! fixes to 1, is KVM's to set and hide from the guest, so it is not required.
//! What the VMM never sets (debug registers, SYSENTER, PAT, DEBUGCTL, pending
//! events) is left at KVM's reset values and not checked.

use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};

/// The smallest MAXPHYADDR of Intel 64 processors.
pub const MAX_PHYS_ADDR_BITS: u32 = 36;
/// Linear-address width with 4-level paging.
pub const LINEAR_ADDR_BITS: u32 = 48;

const CR0_PE: u64 = 1;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
/// CR0 bits the architecture defines: PE MP EM TS ET NE WP AM NW CD PG.
const CR0_DEFINED: u64 = 0xe005_003f;
const CR4_PAE: u64 = 1 << 5;
const CR4_PCIDE: u64 = 1 << 17;
const CR4_CET: u64 = 1 << 23;
/// CR4 bits an Intel 64 CPU may support: 0-14 (VME .. SMXE) and 16-24
/// (FSGSBASE .. PKS); bit 15 and bits 25 and up are reserved here.
const CR4_DEFINED: u64 = 0x01ff_7fff;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
/// EFER bits Intel defines: SCE, LME, LMA, NXE.
const EFER_DEFINED: u64 = 0xd01;
const RFLAGS_FIXED1: u64 = 1 << 1;
/// RFLAGS bits reserved as 0: 63:22, 15, 5, 3.
const RFLAGS_RESERVED0: u64 = !0x3f_ffff | (1 << 15) | (1 << 5) | (1 << 3);
const RFLAGS_VM: u64 = 1 << 17;

/// The activity state the vCPU is entered in (VMCS guest activity state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// `KVM_MP_STATE_RUNNABLE`: every vCPU the VMM starts.
    Active,
    /// `KVM_MP_STATE_HALTED`.
    Hlt,
    Shutdown,
    /// `KVM_MP_STATE_INIT_RECEIVED`.
    WaitForSipi,
}

/// One broken rule: the SDM section and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub section: &'static str,
    pub what: String,
}

const CONTROL: &str = "27.3.1.1 control registers and MSRs";
const SEGMENTS: &str = "27.3.1.2 segment registers";
const TABLES: &str = "27.3.1.3 descriptor-table registers";
const RIP_RFLAGS: &str = "27.3.1.4 RIP and RFLAGS";
const NON_REGISTER: &str = "27.3.1.5 non-register state";

struct Checker(Vec<Violation>);

impl Checker {
    fn require(&mut self, ok: bool, section: &'static str, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Violation { section, what: what() });
        }
    }
}

/// Whether bits 63:`bits`-1 of `addr` are all equal (canonical with `bits`
/// linear-address bits).
fn canonical(addr: u64, bits: u32) -> bool {
    let top = (addr as i64) >> (bits - 1);
    top == 0 || top == -1
}

/// The VMX access-rights field KVM writes for a segment (as its
/// `vmx_segment_access_rights` does): type, S, DPL, P, AVL, L, D/B, G, and bit 16
/// for an unusable segment (unusable, or not present).
pub fn access_rights(s: &kvm_segment) -> u32 {
    if s.unusable != 0 || s.present == 0 {
        return 1 << 16;
    }
    (s.type_ as u32 & 15)
        | (s.s as u32 & 1) << 4
        | (s.dpl as u32 & 3) << 5
        | (s.present as u32 & 1) << 7
        | (s.avl as u32 & 1) << 12
        | (s.l as u32 & 1) << 13
        | (s.db as u32 & 1) << 14
        | (s.g as u32 & 1) << 15
}

/// A decoded access-rights field.
#[derive(Clone, Copy)]
struct Ar(u32);

impl Ar {
    fn typ(self) -> u32 {
        self.0 & 15
    }
    fn s(self) -> bool {
        self.0 & (1 << 4) != 0
    }
    fn dpl(self) -> u32 {
        (self.0 >> 5) & 3
    }
    fn p(self) -> bool {
        self.0 & (1 << 7) != 0
    }
    fn l(self) -> bool {
        self.0 & (1 << 13) != 0
    }
    fn db(self) -> bool {
        self.0 & (1 << 14) != 0
    }
    fn g(self) -> bool {
        self.0 & (1 << 15) != 0
    }
    fn unusable(self) -> bool {
        self.0 & (1 << 16) != 0
    }
    /// Bits 11:8 and 31:17.
    fn reserved(self) -> u32 {
        self.0 & (0xf00 | 0xfffe_0000)
    }
}

/// The checks of §27.3.1.2 shared by every segment register: reserved bits and
/// the granularity bit against the limit.
fn common_segment_checks(c: &mut Checker, name: &str, s: &kvm_segment, ar: Ar) {
    c.require(ar.reserved() == 0, SEGMENTS, || {
        format!("{name}: reserved access-rights bits set ({:#x})", ar.reserved())
    });
    let limit = s.limit;
    c.require(limit & 0xfff == 0xfff || !ar.g(), SEGMENTS, || {
        format!("{name}: G is 1 but limit bits 11:0 are not all 1 (limit {limit:#x})")
    });
    c.require(limit & 0xfff0_0000 == 0 || ar.g(), SEGMENTS, || {
        format!("{name}: G is 0 but limit bits 31:20 are not all 0 (limit {limit:#x})")
    });
}

/// Fields that KVM would silently truncate (a type above 15, a flag above 1):
/// the VMM meant something the hardware cannot hold.
fn representable(c: &mut Checker, name: &str, s: &kvm_segment) {
    let flags = [("s", s.s), ("present", s.present), ("l", s.l), ("db", s.db), ("g", s.g)];
    for (f, v) in flags.iter().chain(&[("avl", s.avl), ("unusable", s.unusable)]) {
        c.require(*v <= 1, SEGMENTS, || format!("{name}.{f} is {v}, not 0 or 1"));
    }
    c.require(s.type_ <= 15, SEGMENTS, || format!("{name}.type is {}, above 15", s.type_));
    c.require(s.dpl <= 3, SEGMENTS, || format!("{name}.dpl is {}, above 3", s.dpl));
}

/// Check `sregs`, `regs` and `activity` against the guest-state checks of a VM
/// entry without "unrestricted guest". Empty when the state may be entered.
pub fn check(sregs: &kvm_sregs, regs: &kvm_regs, activity: Activity) -> Vec<Violation> {
    let mut c = Checker(Vec::new());
    let s = sregs;
    // "IA-32e mode guest" is what KVM sets from EFER.LMA.
    let ia32e = s.efer & EFER_LMA != 0;

    // §27.3.1.1: CR0 and CR4 against the fixed bits, EFER, CR3.
    for (bit, name) in [(CR0_PE, "PE"), (CR0_NE, "NE"), (CR0_PG, "PG")] {
        c.require(s.cr0 & bit != 0, CONTROL, || format!("CR0.{name} is 0 (fixed to 1 in VMX)"));
    }
    c.require(s.cr0 & !CR0_DEFINED == 0, CONTROL, || {
        format!("CR0 has reserved bits set: {:#x}", s.cr0 & !CR0_DEFINED)
    });
    c.require(s.cr0 & CR0_PG == 0 || s.cr0 & CR0_PE != 0, CONTROL, || {
        "CR0.PG without CR0.PE".into()
    });
    c.require(s.cr0 & (CR0_NW | CR0_CD) != CR0_NW, CONTROL, || "CR0.NW without CR0.CD".into());
    c.require(s.cr4 & !CR4_DEFINED == 0, CONTROL, || {
        format!("CR4 has reserved bits set: {:#x}", s.cr4 & !CR4_DEFINED)
    });
    c.require(s.cr4 & CR4_CET == 0 || s.cr0 & CR0_WP != 0, CONTROL, || {
        "CR4.CET without CR0.WP".into()
    });
    if ia32e {
        c.require(s.cr0 & CR0_PG != 0, CONTROL, || "IA-32e mode (EFER.LMA) without CR0.PG".into());
        c.require(s.cr4 & CR4_PAE != 0, CONTROL, || {
            "IA-32e mode (EFER.LMA) without CR4.PAE".into()
        });
    } else {
        c.require(s.cr4 & CR4_PCIDE == 0, CONTROL, || "CR4.PCIDE outside IA-32e mode".into());
    }
    c.require(s.cr3 >> MAX_PHYS_ADDR_BITS == 0, CONTROL, || {
        format!("CR3 {:#x} has bits beyond {MAX_PHYS_ADDR_BITS} physical-address bits", s.cr3)
    });
    c.require(s.efer & !EFER_DEFINED == 0, CONTROL, || {
        format!("EFER has reserved bits set: {:#x}", s.efer & !EFER_DEFINED)
    });
    if s.cr0 & CR0_PG != 0 {
        c.require((s.efer & EFER_LMA != 0) == (s.efer & EFER_LME != 0), CONTROL, || {
            format!("with CR0.PG, EFER.LMA must equal EFER.LME (EFER {:#x})", s.efer)
        });
    }

    // §27.3.1.2: segment registers (RFLAGS.VM is 0: not virtual-8086 mode).
    let segs = [("CS", &s.cs), ("SS", &s.ss), ("DS", &s.ds), ("ES", &s.es), ("FS", &s.fs)]
        .into_iter()
        .chain([("GS", &s.gs), ("TR", &s.tr), ("LDTR", &s.ldt)]);
    for (name, seg) in segs {
        representable(&mut c, name, seg);
    }
    let (cs, ss) = (Ar(access_rights(&s.cs)), Ar(access_rights(&s.ss)));
    let rpl = |seg: &kvm_segment| (seg.selector & 3) as u32;
    // Selectors.
    c.require(s.tr.selector & 4 == 0, SEGMENTS, || {
        "TR selector has TI set (an LDT selector)".into()
    });
    let ldtr = Ar(access_rights(&s.ldt));
    if !ldtr.unusable() {
        c.require(s.ldt.selector & 4 == 0, SEGMENTS, || "LDTR selector has TI set".into());
    }
    c.require(rpl(&s.ss) == rpl(&s.cs), SEGMENTS, || {
        format!("SS.RPL {} differs from CS.RPL {}", rpl(&s.ss), rpl(&s.cs))
    });
    // Bases.
    for (name, seg) in [("TR", &s.tr), ("FS", &s.fs), ("GS", &s.gs)] {
        c.require(canonical(seg.base, LINEAR_ADDR_BITS), SEGMENTS, || {
            format!("{name} base {:#x} is not canonical", seg.base)
        });
    }
    if !ldtr.unusable() {
        c.require(canonical(s.ldt.base, LINEAR_ADDR_BITS), SEGMENTS, || {
            format!("LDTR base {:#x} is not canonical", s.ldt.base)
        });
    }
    c.require(s.cs.base >> 32 == 0, SEGMENTS, || format!("CS base {:#x} above 4 GiB", s.cs.base));
    for (name, seg) in [("SS", &s.ss), ("DS", &s.ds), ("ES", &s.es)] {
        if !Ar(access_rights(seg)).unusable() {
            c.require(seg.base >> 32 == 0, SEGMENTS, || {
                format!("{name} base {:#x} above 4 GiB", seg.base)
            });
        }
    }
    // CS.
    c.require(matches!(cs.typ(), 9 | 11 | 13 | 15), SEGMENTS, || {
        format!("CS type {} is not an accessed code segment (9, 11, 13, 15)", cs.typ())
    });
    c.require(cs.s(), SEGMENTS, || "CS.S is 0 (a system segment)".into());
    c.require(cs.p(), SEGMENTS, || "CS is not present".into());
    match cs.typ() {
        9 | 11 => c.require(cs.dpl() == ss.dpl(), SEGMENTS, || {
            format!("non-conforming CS.DPL {} differs from SS.DPL {}", cs.dpl(), ss.dpl())
        }),
        13 | 15 => c.require(cs.dpl() <= ss.dpl(), SEGMENTS, || {
            format!("conforming CS.DPL {} above SS.DPL {}", cs.dpl(), ss.dpl())
        }),
        _ => {}
    }
    c.require(!(ia32e && cs.l() && cs.db()), SEGMENTS, || {
        "CS.L and CS.D both set in IA-32e mode".into()
    });
    common_segment_checks(&mut c, "CS", &s.cs, cs);
    // SS.
    if !ss.unusable() {
        c.require(matches!(ss.typ(), 3 | 7), SEGMENTS, || {
            format!("SS type {} is not a read/write accessed data segment (3, 7)", ss.typ())
        });
        c.require(ss.s(), SEGMENTS, || "SS.S is 0".into());
        c.require(ss.p(), SEGMENTS, || "SS is usable but not present".into());
        common_segment_checks(&mut c, "SS", &s.ss, ss);
    }
    c.require(ss.dpl() == rpl(&s.ss), SEGMENTS, || {
        format!("SS.DPL {} differs from SS.RPL {}", ss.dpl(), rpl(&s.ss))
    });
    if cs.typ() == 3 || s.cr0 & CR0_PE == 0 {
        c.require(ss.dpl() == 0, SEGMENTS, || "SS.DPL is not 0 outside protected mode".into());
    }
    // DS, ES, FS, GS.
    for (name, seg) in [("DS", &s.ds), ("ES", &s.es), ("FS", &s.fs), ("GS", &s.gs)] {
        let ar = Ar(access_rights(seg));
        if ar.unusable() {
            continue;
        }
        c.require(ar.typ() & 1 != 0, SEGMENTS, || {
            format!("{name} type {} is not accessed", ar.typ())
        });
        c.require(ar.typ() & 8 == 0 || ar.typ() & 2 != 0, SEGMENTS, || {
            format!("{name} is an unreadable code segment (type {})", ar.typ())
        });
        c.require(ar.s(), SEGMENTS, || format!("{name}.S is 0"));
        c.require(ar.p(), SEGMENTS, || format!("{name} is usable but not present"));
        if ar.typ() <= 11 {
            c.require(ar.dpl() >= rpl(seg), SEGMENTS, || {
                format!("{name}.DPL {} below its RPL {}", ar.dpl(), rpl(seg))
            });
        }
        common_segment_checks(&mut c, name, seg, ar);
    }
    // TR.
    let tr = Ar(access_rights(&s.tr));
    if ia32e {
        c.require(tr.typ() == 11, SEGMENTS, || {
            format!("TR type {} in IA-32e mode (must be 11, a busy 64-bit TSS)", tr.typ())
        });
    } else {
        c.require(matches!(tr.typ(), 3 | 11), SEGMENTS, || {
            format!("TR type {} (must be a busy TSS, 3 or 11)", tr.typ())
        });
    }
    c.require(!tr.s(), SEGMENTS, || "TR.S is 1 (TR must be a system segment)".into());
    c.require(tr.p(), SEGMENTS, || "TR is not present".into());
    c.require(!tr.unusable(), SEGMENTS, || "TR is unusable".into());
    common_segment_checks(&mut c, "TR", &s.tr, tr);
    // LDTR.
    if !ldtr.unusable() {
        c.require(ldtr.typ() == 2, SEGMENTS, || {
            format!("LDTR type {} (must be 2, an LDT)", ldtr.typ())
        });
        c.require(!ldtr.s(), SEGMENTS, || "LDTR.S is 1".into());
        c.require(ldtr.p(), SEGMENTS, || "LDTR is usable but not present".into());
        common_segment_checks(&mut c, "LDTR", &s.ldt, ldtr);
    }

    // §27.3.1.3: GDTR and IDTR (their limits are 16 bits in kvm_dtable).
    for (name, base) in [("GDTR", s.gdt.base), ("IDTR", s.idt.base)] {
        c.require(canonical(base, LINEAR_ADDR_BITS), TABLES, || {
            format!("{name} base {base:#x} is not canonical")
        });
    }

    // §27.3.1.4: RIP and RFLAGS.
    if ia32e && cs.l() {
        let top = regs.rip as i64 >> LINEAR_ADDR_BITS;
        c.require(top == 0 || top == -1, RIP_RFLAGS, || {
            format!("RIP {:#x}: bits 63:{LINEAR_ADDR_BITS} are not all equal", regs.rip)
        });
    } else {
        c.require(regs.rip >> 32 == 0, RIP_RFLAGS, || {
            format!("RIP {:#x} above 4 GiB outside 64-bit mode", regs.rip)
        });
    }
    c.require(regs.rflags & RFLAGS_RESERVED0 == 0, RIP_RFLAGS, || {
        format!("RFLAGS {:#x} has reserved bits set", regs.rflags)
    });
    c.require(regs.rflags & RFLAGS_FIXED1 != 0, RIP_RFLAGS, || {
        format!("RFLAGS {:#x}: bit 1 must be 1", regs.rflags)
    });
    if ia32e || s.cr0 & CR0_PE == 0 {
        c.require(regs.rflags & RFLAGS_VM == 0, RIP_RFLAGS, || {
            "RFLAGS.VM in IA-32e mode or real mode".into()
        });
    }

    // §27.3.1.5: the activity state.
    if activity == Activity::Hlt {
        c.require(ss.dpl() == 0, NON_REGISTER, || "HLT activity state with SS.DPL not 0".into());
    }
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regs::{boot_regs, long_mode_sregs};

    /// The kernel's entry point, as the VMM loads it.
    fn entry() -> u64 {
        crate::loader::inspect("the embedded kernel", crate::DEFAULT_KERNEL).unwrap().entry
    }

    /// A vCPU's special registers as KVM hands them out after reset (what
    /// `Vcpu::new` reads before `long_mode_sregs`), roughly: real mode at
    /// f000:fff0. And one full of junk: `long_mode_sregs` must set every field
    /// the checks read.
    fn reset_sregs() -> kvm_sregs {
        let seg = |selector: u16, base: u64, type_: u8, s: u8| kvm_segment {
            base,
            limit: 0xffff,
            selector,
            type_,
            present: 1,
            s,
            ..Default::default()
        };
        let mut r = kvm_sregs {
            cs: seg(0xf000, 0xffff_0000, 0xb, 1),
            ds: seg(0, 0, 3, 1),
            tr: seg(0, 0, 0xb, 0),
            ldt: seg(0, 0, 2, 0),
            cr0: 0x6000_0010,
            ..Default::default()
        };
        (r.es, r.fs, r.gs, r.ss) = (r.ds, r.ds, r.ds, r.ds);
        r.gdt.limit = 0xffff;
        r.idt.limit = 0xffff;
        r
    }

    fn junk_sregs() -> kvm_sregs {
        let junk = kvm_segment {
            base: 0xdead_beef_dead_beef,
            limit: 0x1234_5678,
            selector: 0xffff,
            type_: 0xff,
            present: 7,
            dpl: 9,
            db: 3,
            s: 5,
            l: 2,
            g: 4,
            avl: 6,
            unusable: 8,
            padding: 0xff,
        };
        let mut r = kvm_sregs {
            cs: junk,
            ds: junk,
            es: junk,
            fs: junk,
            gs: junk,
            ss: junk,
            tr: junk,
            ldt: junk,
            cr0: !0,
            cr2: !0,
            cr3: !0,
            cr4: !0,
            cr8: !0,
            efer: !0,
            ..Default::default()
        };
        r.gdt.base = 0x8000_0000_0000_0000;
        r.idt.base = 0x8000_0000_0000_0000;
        r
    }

    fn violations(s: &kvm_sregs, r: &kvm_regs) -> Vec<String> {
        check(s, r, Activity::Active)
            .into_iter()
            .map(|v| format!("{}: {}", v.section, v.what))
            .collect()
    }

    #[test]
    fn the_boot_cpu_and_every_ap_pass_the_vm_entry_checks() {
        let entry = entry();
        for before in [kvm_sregs::default(), reset_sregs(), junk_sregs()] {
            let sregs = long_mode_sregs(before);
            for cpu in 0..protocol::MAX_CPUS as u32 {
                let regs = boot_regs(entry, cpu);
                assert_eq!(violations(&sregs, &regs), Vec::<String>::new(), "cpu {cpu}");
            }
        }
    }

    #[test]
    fn a_halted_vcpu_needs_ss_dpl_0() {
        let (s, r) = (long_mode_sregs(kvm_sregs::default()), boot_regs(entry(), 1));
        assert!(check(&s, &r, Activity::Hlt).is_empty());
        assert!(check(&s, &r, Activity::WaitForSipi).is_empty());
        let mut user_ss = s;
        (user_ss.ss.dpl, user_ss.ss.selector, user_ss.cs.dpl, user_ss.cs.selector) =
            (3, 0x2b, 3, 0x33);
        assert!(check(&user_ss, &r, Activity::Active).is_empty(), "ring 3 may be entered");
        let v = check(&user_ss, &r, Activity::Hlt);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].section, NON_REGISTER);
    }

    /// Each way of breaking the boot state is caught, by the rule that says so.
    #[test]
    fn each_broken_field_is_caught() {
        let good = long_mode_sregs(kvm_sregs::default());
        let regs = boot_regs(entry(), 0);
        type Break = fn(&mut kvm_sregs, &mut kvm_regs);
        let cases: &[(&str, Break, &str)] = &[
            ("TR an available TSS", |s, _| s.tr.type_ = 9, "TR type 9 in IA-32e mode"),
            ("TR a code or data segment", |s, _| s.tr.s = 1, "TR.S is 1"),
            ("TR not present", |s, _| s.tr.present = 0, "TR is not present"),
            ("TR selector in the LDT", |s, _| s.tr.selector = 4, "TR selector has TI set"),
            (
                "TR limit 1 MiB in bytes",
                |s, _| s.tr.limit = 0x10_0067,
                "G is 0 but limit bits 31:20",
            ),
            ("CS.L with CS.D", |s, _| s.cs.db = 1, "CS.L and CS.D both set"),
            ("CS a data segment", |s, _| s.cs.type_ = 3, "CS type 3"),
            ("CS not accessed", |s, _| s.cs.type_ = 0xa, "CS type 10"),
            ("CS a system segment", |s, _| s.cs.s = 0, "CS.S is 0"),
            ("CS not present", |s, _| s.cs.present = 0, "CS is not present"),
            ("CS DPL 3 with SS DPL 0", |s, _| s.cs.dpl = 3, "non-conforming CS.DPL 3"),
            ("CS base above 4 GiB", |s, _| s.cs.base = 1 << 32, "CS base"),
            (
                "CS G with a byte limit",
                |s, _| s.cs.limit = 0xfff0_0000,
                "G is 1 but limit bits 11:0",
            ),
            ("SS read-only", |s, _| s.ss.type_ = 1, "SS type 1"),
            ("SS RPL 3", |s, _| s.ss.selector = 0x1b, "SS.RPL 3 differs from CS.RPL 0"),
            ("SS DPL 3", |s, _| s.ss.dpl = 3, "SS.DPL 3 differs from SS.RPL 0"),
            ("DS not accessed", |s, _| s.ds.type_ = 2, "DS type 2 is not accessed"),
            ("ES execute-only code", |s, _| s.es.type_ = 9, "ES is an unreadable code segment"),
            ("FS a system segment", |s, _| s.fs.s = 0, "FS.S is 0"),
            ("GS.avl out of range", |s, _| s.gs.avl = 2, "GS.avl is 2"),
            ("FS base not canonical", |s, _| s.fs.base = 1 << 47, "FS base"),
            ("DS DPL below its RPL", |s, _| s.ds.selector = 0x1b, "DS.DPL 0 below its RPL 3"),
            ("LDTR a TSS", |s, _| s.ldt.type_ = 0xb, "LDTR type 11"),
            ("LDTR selector in the LDT", |s, _| s.ldt.selector = 4, "LDTR selector has TI set"),
            ("GDTR base not canonical", |s, _| s.gdt.base = 0x0000_8000_0000_0000, "GDTR base"),
            ("IDTR base not canonical", |s, _| s.idt.base = 0xffff_0000_0000_0000, "IDTR base"),
            ("CR0.PG off in long mode", |s, _| s.cr0 &= !CR0_PG, "CR0.PG is 0"),
            ("CR0.NE off", |s, _| s.cr0 &= !CR0_NE, "CR0.NE is 0"),
            ("CR0 upper bits", |s, _| s.cr0 |= 1 << 32, "CR0 has reserved bits"),
            ("CR0.NW without CD", |s, _| s.cr0 |= CR0_NW, "CR0.NW without CR0.CD"),
            ("CR4.PAE off in long mode", |s, _| s.cr4 &= !CR4_PAE, "without CR4.PAE"),
            ("CR4 reserved bit 15", |s, _| s.cr4 |= 1 << 15, "CR4 has reserved bits"),
            (
                "CR4.CET without WP",
                |s, _| (s.cr4, s.cr0) = (s.cr4 | CR4_CET, s.cr0 & !CR0_WP),
                "CR4.CET",
            ),
            ("CR3 beyond MAXPHYADDR", |s, _| s.cr3 = 1 << 40, "CR3 0x10000000000"),
            ("EFER.LMA without LME", |s, _| s.efer &= !EFER_LME, "EFER.LMA must equal EFER.LME"),
            ("EFER.LME without LMA", |s, _| s.efer &= !EFER_LMA, "EFER.LMA must equal EFER.LME"),
            ("EFER.SVME (an AMD bit)", |s, _| s.efer |= 1 << 12, "EFER has reserved bits"),
            ("RIP not canonical", |_, r| r.rip = 0x8000_0000_0000_0000, "RIP 0x8000000000000000"),
            ("RFLAGS bit 1 clear", |_, r| r.rflags = 0, "bit 1 must be 1"),
            ("RFLAGS reserved bit 15", |_, r| r.rflags |= 1 << 15, "reserved bits"),
            ("RFLAGS.VM in long mode", |_, r| r.rflags |= RFLAGS_VM, "RFLAGS.VM"),
        ];
        for (what, break_it, expect) in cases {
            let (mut s, mut r) = (good, regs);
            break_it(&mut s, &mut r);
            let v = violations(&s, &r);
            assert!(
                v.iter().any(|x| x.contains(expect)),
                "{what}: expected a violation containing {expect:?}, got {v:?}"
            );
        }
    }

    #[test]
    fn access_rights_are_kvms_encoding() {
        let s = long_mode_sregs(kvm_sregs::default());
        // 64-bit code: type 0xb, S, P, L, G = 0xa09b; data: 0xc093; busy TSS: 0x8b.
        assert_eq!(access_rights(&s.cs), 0xa09b);
        assert_eq!(access_rights(&s.ss), 0xc093);
        assert_eq!(access_rights(&s.tr), 0x8b);
        assert_eq!(access_rights(&s.ldt), 0x82);
        let absent = kvm_segment { present: 0, ..s.ds };
        assert_eq!(access_rights(&absent), 1 << 16, "not present is unusable");
        assert!(canonical(0xffff_8000_0000_0000, 48) && canonical(0x7fff_ffff_ffff, 48));
        assert!(!canonical(0x8000_0000_0000, 48) && !canonical(0x0100_0000_0000_0000, 57));
    }
}
