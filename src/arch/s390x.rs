//! s390x (linux/s390x, big-endian): the entry point and the `svc 0` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with r15 pointing at argc. The s390x ABI has every caller
// provide a 160-byte register save area at its stack pointer for the callee.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "lgr %r2, %r15",
    "aghi %r15, -160",
    "brasl %r14, {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the s390x syscall ABI:
/// number in r1 (svc 0), arguments in r2..r6, result in r2; nothing else is clobbered.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "svc 0",
            in("r1") $n, inlateout("r2") $a as isize => ret,
            $(in("r3") $b as usize, $(in("r4") $c as usize, $(in("r5") $d as usize,
            $(in("r6") $e as usize,)?)?)?)?
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
        asm!("svc 0", in("r1") libc::SYS_exit_group, in("r2") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_S390;
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0;
