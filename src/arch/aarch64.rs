//! aarch64: the entry point and the `svc #0` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with sp 16-byte aligned, pointing at argc; AAPCS64 needs no
// more than that and `b` leaves the stack untouched.
global_asm!(
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "mov x0, sp",
    "b {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the arm64 syscall ABI:
/// number in x8, arguments in x0..x4, result in x0; nothing else is clobbered.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "svc #0",
            in("x8") $n, inlateout("x0") $a as isize => ret,
            $(in("x1") $b as usize, $(in("x2") $c as usize, $(in("x3") $d as usize,
            $(in("x4") $e as usize,)?)?)?)?
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
        asm!("svc #0", in("x8") libc::SYS_exit_group, in("x0") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_AARCH64;
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0;
