//! armv7 (linux/arm/v7, EABI hard-float): the entry point and the `svc #0` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with sp 8-byte aligned (AAPCS asks no more), pointing at argc.
global_asm!(
    ".globl _start",
    ".type _start, %function",
    // In a Thumb build the entry is Thumb code: the linker then sets bit 0 of its
    // address in e_entry, which makes the kernel start the process in Thumb state.
    #[cfg(target_feature = "thumb-mode")]
    ".thumb_func",
    "_start:",
    "mov r0, sp",
    "b {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the ARM EABI syscall
/// ABI: number in r7, arguments in r0..r4, result in r0; nothing else is clobbered. In
/// Thumb mode r7 is the frame pointer, which asm! may not name: it is set and restored
/// around the trap.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        #[cfg(not(target_feature = "thumb-mode"))]
        core::arch::asm!(
            "svc #0",
            in("r7") $n,
            inlateout("r0") $a as isize => ret,
            $(in("r1") $b as usize, $(in("r2") $c as usize, $(in("r3") $d as usize,
            $(in("r4") $e as usize,)?)?)?)?
            options(nostack),
        );
        #[cfg(target_feature = "thumb-mode")]
        core::arch::asm!(
            "mov {t}, r7",
            "mov r7, {n}",
            "svc #0",
            "mov r7, {t}",
            n = in(reg) $n,
            t = out(reg) _,
            inlateout("r0") $a as isize => ret,
            $(in("r1") $b as usize, $(in("r2") $c as usize, $(in("r3") $d as usize,
            $(in("r4") $e as usize,)?)?)?)?
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

/// Ends every thread of the process with `code`.
///
/// # Safety
/// None beyond ending the process; `unsafe` to match the other syscalls.
#[inline(always)]
pub unsafe fn exit(code: i32) -> ! {
    // SAFETY: exit_group does not return and takes no pointers.
    unsafe {
        #[cfg(not(target_feature = "thumb-mode"))]
        asm!("svc #0", in("r7") libc::SYS_exit_group, in("r0") code, options(noreturn, nostack));
        #[cfg(target_feature = "thumb-mode")]
        asm!("mov r7, {n}", "svc #0", n = in(reg) libc::SYS_exit_group, in("r0") code,
             options(noreturn, nostack));
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_ARM;
/// EF_ARM_EABI_VER5 | EF_ARM_ABI_FLOAT_HARD (not in the libc crate): an EABI
/// hard-float image, so the kernel gives it the EABI personality.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0x0500_0000 | 0x400;
