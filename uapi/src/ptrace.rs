//! `ptrace` requests, options, events and the x86-64 register block
//! (`include/uapi/linux/ptrace.h`, `arch/x86/include/asm/user_64.h`).

crate::constants! {
    /// The caller asks to be traced by its parent.
    PTRACE_TRACEME: u32 = 0;
    /// Read a word of the tracee's text (same as PEEKDATA on Linux).
    PTRACE_PEEKTEXT: u32 = 1;
    /// Read a word of the tracee's memory.
    PTRACE_PEEKDATA: u32 = 2;
    /// Read a word of the tracee's `struct user`.
    PTRACE_PEEKUSR: u32 = 3;
    /// Write a word of the tracee's text.
    PTRACE_POKETEXT: u32 = 4;
    /// Write a word of the tracee's memory.
    PTRACE_POKEDATA: u32 = 5;
    /// Write a word of the tracee's `struct user`.
    PTRACE_POKEUSR: u32 = 6;
    /// Resume the tracee (with a signal in `data`).
    PTRACE_CONT: u32 = 7;
    /// Kill the tracee.
    PTRACE_KILL: u32 = 8;
    /// Resume for one instruction (not implemented here: EIO).
    PTRACE_SINGLESTEP: u32 = 9;
    /// Read the general registers (`struct user_regs_struct`).
    PTRACE_GETREGS: u32 = 12;
    /// Write the general registers.
    PTRACE_SETREGS: u32 = 13;
    /// Attach to a process (it gets SIGSTOP).
    PTRACE_ATTACH: u32 = 16;
    /// Detach from the tracee (with a signal in `data`).
    PTRACE_DETACH: u32 = 17;
    /// Resume to the next system call (not implemented here: EIO).
    PTRACE_SYSCALL: u32 = 24;
    /// Set the `PTRACE_O_*` options.
    PTRACE_SETOPTIONS: u32 = 0x4200;
    /// Read the last event's message (a new child's pid, the exit status...).
    PTRACE_GETEVENTMSG: u32 = 0x4201;
    /// Read the siginfo of the signal that stopped the tracee.
    PTRACE_GETSIGINFO: u32 = 0x4202;
    /// Replace it.
    PTRACE_SETSIGINFO: u32 = 0x4203;
    /// Attach without stopping the tracee (options in `data`).
    PTRACE_SEIZE: u32 = 0x4206;
    /// Stop a seized tracee (PTRACE_EVENT_STOP).
    PTRACE_INTERRUPT: u32 = 0x4207;
    /// Leave a seized tracee in its group stop, but notified of its end.
    PTRACE_LISTEN: u32 = 0x4208;

    /// Stops for system calls are reported as SIGTRAP | 0x80.
    PTRACE_O_TRACESYSGOOD: u32 = 1;
    /// Stop at fork and trace the child.
    PTRACE_O_TRACEFORK: u32 = 1 << 1;
    /// Stop at vfork and trace the child.
    PTRACE_O_TRACEVFORK: u32 = 1 << 2;
    /// Stop at clone and trace the child.
    PTRACE_O_TRACECLONE: u32 = 1 << 3;
    /// Stop at execve (instead of the legacy SIGTRAP).
    PTRACE_O_TRACEEXEC: u32 = 1 << 4;
    /// Stop when the parent of a vfork is released.
    PTRACE_O_TRACEVFORKDONE: u32 = 1 << 5;
    /// Stop at exit, before the task is gone.
    PTRACE_O_TRACEEXIT: u32 = 1 << 6;
    /// Stop at seccomp's SECCOMP_RET_TRACE.
    PTRACE_O_TRACESECCOMP: u32 = 1 << 7;
    /// The tracee gets SIGKILL when its tracer exits.
    PTRACE_O_EXITKILL: u32 = 1 << 20;
    /// Seccomp filters are not run for the tracee.
    PTRACE_O_SUSPEND_SECCOMP: u32 = 1 << 21;
    /// Every option.
    PTRACE_O_MASK: u32 = 0x0000_00ff | (1 << 20) | (1 << 21);

    /// Stopped at fork (the message is the child's pid).
    PTRACE_EVENT_FORK: u32 = 1;
    /// Stopped at vfork.
    PTRACE_EVENT_VFORK: u32 = 2;
    /// Stopped at clone.
    PTRACE_EVENT_CLONE: u32 = 3;
    /// Stopped at execve (the message is the former thread id).
    PTRACE_EVENT_EXEC: u32 = 4;
    /// Stopped when a vfork child released the tracee.
    PTRACE_EVENT_VFORK_DONE: u32 = 5;
    /// Stopped at exit (the message is the wait status).
    PTRACE_EVENT_EXIT: u32 = 6;
    /// Stopped at seccomp.
    PTRACE_EVENT_SECCOMP: u32 = 7;
    /// A group stop or an interrupt of a seized tracee.
    PTRACE_EVENT_STOP: u32 = 128;
}

/// x86-64 `struct user_regs_struct` (PTRACE_GETREGS, PTRACE_SETREGS; the
/// first 27 words of `struct user`, PTRACE_PEEKUSER).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, missing_docs)]
pub struct user_regs_struct {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl user_regs_struct {
    /// The registers as 27 words, in the structure's order.
    pub fn to_words(&self) -> [u64; 27] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.rbp,
            self.rbx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.rax,
            self.rcx,
            self.rdx,
            self.rsi,
            self.rdi,
            self.orig_rax,
            self.rip,
            self.cs,
            self.eflags,
            self.rsp,
            self.ss,
            self.fs_base,
            self.gs_base,
            self.ds,
            self.es,
            self.fs,
            self.gs,
        ]
    }

    /// The registers from 27 words in the structure's order.
    pub fn from_words(w: &[u64; 27]) -> Self {
        Self {
            r15: w[0],
            r14: w[1],
            r13: w[2],
            r12: w[3],
            rbp: w[4],
            rbx: w[5],
            r11: w[6],
            r10: w[7],
            r9: w[8],
            r8: w[9],
            rax: w[10],
            rcx: w[11],
            rdx: w[12],
            rsi: w[13],
            rdi: w[14],
            orig_rax: w[15],
            rip: w[16],
            cs: w[17],
            eflags: w[18],
            rsp: w[19],
            ss: w[20],
            fs_base: w[21],
            gs_base: w[22],
            ds: w[23],
            es: w[24],
            fs: w[25],
            gs: w[26],
        }
    }
}
