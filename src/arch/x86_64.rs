//! x86_64: the entry point and the `syscall` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with %rsp 16-byte aligned, pointing at argc. `call` pushes a
// return address, leaving the 8-mod-16 alignment the SysV ABI promises a callee.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "mov rdi, rsp",
    "call {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the x86_64 syscall
/// ABI: number in rax, arguments in rdi, rsi, rdx, r10, r8; the result comes back in
/// rax and the instruction clobbers rcx and r11.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "syscall",
            inlateout("rax") $n as isize => ret, in("rdi") $a as usize,
            $(in("rsi") $b as usize, $(in("rdx") $c as usize, $(in("r10") $d as usize,
            $(in("r8") $e as usize,)?)?)?)?
            lateout("rcx") _, lateout("r11") _, options(nostack),
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
        asm!("syscall", in("rax") libc::SYS_exit_group, in("rdi") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_X86_64;
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0;
