//! riscv64 (linux/riscv64, RV64GC): the entry point and the `ecall` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with sp 16-byte aligned, pointing at argc. We define no
// __global_pointer$, so the linker never relaxes accesses to gp and gp needs no setup.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "mv a0, sp",
    "j {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the RISC-V syscall
/// ABI: number in a7, arguments in a0..a4, result in a0; nothing else is clobbered.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "ecall",
            in("a7") $n, inlateout("a0") $a as isize => ret,
            $(in("a1") $b as usize, $(in("a2") $c as usize, $(in("a3") $d as usize,
            $(in("a4") $e as usize,)?)?)?)?
            options(nostack),
        );
        ret
    }};
}
#[allow(unused_imports)]
pub(crate) use syscall;
/// [`syscall!`] for a call whose result is ignored or only tested against 0; the same
/// call here.
#[allow(unused_imports)]
pub(crate) use syscall as syscall_raw;

/// [`syscall!`] as pausle's calls make it (`rt::syscall4`); the same call here.
#[allow(unused_imports)]
pub(crate) use syscall as syscall_inline;

/// The 8 bytes at `p`, which need no alignment. RISC-V Linux supports misaligned loads
/// in user space (the kernel's uabi: in hardware or emulated), but LLVM, not told they
/// are fast on this CPU, would assemble the value from 8 byte loads.
///
/// # Safety
/// The 8 bytes must be readable.
#[inline(always)]
pub unsafe fn load_u64(p: *const u8) -> u64 {
    let v;
    // SAFETY: reads the 8 bytes the caller vouches for, nothing else.
    unsafe {
        asm!("ld {v}, 0({p})", v = lateout(reg) v, p = in(reg) p,
             options(pure, readonly, nostack, preserves_flags));
    }
    v
}

/// Ends every thread of the process with `code`.
///
/// # Safety
/// None beyond ending the process; `unsafe` to match the other syscalls.
#[inline(always)]
pub unsafe fn exit(code: i32) -> ! {
    // SAFETY: exit_group does not return and takes no pointers.
    unsafe {
        asm!("ecall", in("a7") libc::SYS_exit_group, in("a0") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_RISCV;
/// EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE (not in the libc crate): what the lp64d
/// RV64GC code inside is.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0x1 | 0x4;
