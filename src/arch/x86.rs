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

/// A raw Linux system call with up to four arguments (unused ones may be anything).
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall4(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret;
    // SAFETY: the i386 syscall ABI: number in eax, arguments in ebx, ecx, edx, esi;
    // the result comes back in eax, nothing else is clobbered. LLVM reserves esi on
    // x86-32, so the fourth argument travels in edi and is swapped in around the trap.
    unsafe {
        asm!(
            "xchg esi, edi",
            "int 0x80",
            "xchg esi, edi",
            inlateout("eax") n as isize => ret,
            in("ebx") a,
            in("ecx") b,
            in("edx") c,
            in("edi") d,
            options(nostack),
        );
    }
    ret
}

/// [`syscall4`] for a call whose result is only tested against 0 or ignored; the same
/// call here.
pub use syscall4 as syscall4_raw;

/// A raw Linux system call with up to five arguments (pong's), returning the result or
/// -errno.
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall5(n: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret;
    let de = [d, n as usize];
    // SAFETY: the i386 syscall ABI as for syscall4, the fifth argument in edi. LLVM
    // keeps esi for itself and has no register left for the fourth argument, so it and
    // the number travel in memory, at eax: esi is saved on the stack around the trap.
    unsafe {
        asm!(
            "push esi",
            "mov esi, [eax]",
            "mov eax, [eax + 4]",
            "int 0x80",
            "pop esi",
            inlateout("eax") de.as_ptr() => ret,
            in("ebx") a,
            in("ecx") b,
            in("edx") c,
            in("edi") e,
        );
    }
    ret
}

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
