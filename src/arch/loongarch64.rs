//! loongarch64 (linux/loong64): the entry point and the `syscall 0` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with $sp 16-byte aligned, pointing at argc.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "move $a0, $sp",
    "b {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the LoongArch syscall
/// ABI: number in $a7, arguments in $a0..$a4, result in $a0; the kernel may clobber the
/// temporaries $t0..$t8.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr $(, $d:expr $(, $e:expr)?)?)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "syscall 0",
            in("$a7") $n, inlateout("$a0") $a as isize => ret,
            $(in("$a1") $b as usize, $(in("$a2") $c as usize, $(in("$a3") $d as usize,
            $(in("$a4") $e as usize,)?)?)?)?
            out("$t0") _, out("$t1") _, out("$t2") _, out("$t3") _, out("$t4") _,
            out("$t5") _, out("$t6") _, out("$t7") _, out("$t8") _, options(nostack),
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
        asm!("syscall 0", in("$a7") libc::SYS_exit_group, in("$a0") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
/// EM_LOONGARCH (258) is not in the libc crate.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = 258;
/// EF_LOONGARCH_ABI_DOUBLE_FLOAT | EF_LOONGARCH_OBJABI_V1 (not in the libc crate):
/// what the lp64d code inside is.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0x3 | 0x40;
