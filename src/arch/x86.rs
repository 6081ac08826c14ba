//! i686 (linux/386): the entry point and the `int $0x80` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with %esp 16-byte aligned, pointing at argc. cdecl passes the
// argument on the stack, and the i386 SysV ABI wants %esp 16-byte aligned at the call:
// 12 bytes of padding plus the pushed argument keep it so.
global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "mov eax, esp",
    "sub esp, 12",
    "push eax",
    "call {start}",
    start = sym crate::start,
);

/// A raw Linux system call of one to five arguments (see rt.rs): the i386 syscall ABI:
/// number in eax, arguments in ebx, ecx, edx, esi, edi; the result comes back in eax,
/// nothing else is clobbered. LLVM reserves esi on x86-32: a fourth argument travels in
/// edi and is swapped in around the trap; with a fifth, which needs edi, the fourth and
/// the number travel in memory, at eax, and esi is saved on the stack around the trap.
#[allow(unused_macros)]
macro_rules! syscall {
    ($n:expr, $a:expr $(, $b:expr $(, $c:expr)?)?) => {{
        let ret: isize;
        core::arch::asm!(
            "int 0x80",
            inlateout("eax") $n as isize => ret,
            in("ebx") $a as usize,
            $(in("ecx") $b as usize, $(in("edx") $c as usize,)?)?
            options(nostack),
        );
        ret
    }};
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {{
        let ret: isize;
        core::arch::asm!(
            "xchg esi, edi",
            "int 0x80",
            "xchg esi, edi",
            inlateout("eax") $n as isize => ret,
            in("ebx") $a as usize,
            in("ecx") $b as usize,
            in("edx") $c as usize,
            in("edi") $d as usize,
            options(nostack),
        );
        ret
    }};
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {{
        let ret: isize;
        let de: [usize; 2] = [$d as usize, $n as usize];
        core::arch::asm!(
            "push esi",
            "mov esi, [eax]",
            "mov eax, [eax + 4]",
            "int 0x80",
            "pop esi",
            inlateout("eax") de.as_ptr() => ret,
            in("ebx") $a as usize,
            in("ecx") $b as usize,
            in("edx") $c as usize,
            in("edi") $e as usize,
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
        asm!("int 0x80", in("eax") libc::SYS_exit_group, in("ebx") code, options(noreturn, nostack))
    }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_386;
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 0;
