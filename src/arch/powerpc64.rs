//! ppc64le (linux/ppc64le, ELFv2): the entry point and the `sc` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with r1 pointing at argc and, for ELFv2, r12 at the entry
// point. A callee may store its return address at 16(r1) of its caller's frame: give
// start a minimal ELFv2 frame (32 bytes, NULL back chain) so that store cannot land on
// argv. The kernel already aligned r1 to 16 bytes, as the ABI wants.
// start reaches its constants through the TOC pointer r2 and so begins with a global
// entry point that derives r2 from r12, which the ABI has the caller set to that entry's
// address. Rather than set up r2 here as well and branch past it, _start sits in start's
// own section, which module-level assembly always precedes, points r12 at start and
// falls through into it. link.ld fails the link should anything ever come in between.
global_asm!(
    ".section .text.{start},\"ax\",@progbits",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "mr 3, 1",
    "li 0, 0",
    "stdu 0, -32(1)",
    "addi 12, 12, {start}-_start",
    ".globl __pausle_entry_end",
    "__pausle_entry_end:",
    ".globl __pausle_start",
    ".set __pausle_start, {start}",
    ".previous",
    start = sym crate::start,
);

/// A raw Linux system call with up to four arguments (unused ones may be anything).
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall4(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret;
    // SAFETY: the ppc64 syscall ABI: number in r0, arguments in r3..r6, result in r3;
    // the kernel may clobber r0, r4..r12, ctr, xer and cr0. A failure comes back as a
    // POSITIVE errno with cr0.SO set, which the wait4 loop's `> 0` would take for a
    // reaped child (and pause() an EINTR, 4, for a stop signal): `isel` turns it into 0
    // in one instruction. (Not -errno: no caller needs the errno, only that a failure
    // is neither a pid nor a signal number.)
    unsafe {
        asm!(
            "sc",
            "isel 3, 0, 3, 3",
            inlateout("r0") n => _,
            inlateout("r3") a as isize => ret,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            inlateout("r6") d => _,
            out("r7") _, out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            out("ctr") _, out("xer") _, out("cr0") _,
            options(nostack),
        );
    }
    ret
}

/// [`syscall4`] for a call whose result the caller ignores: no failure to tell apart,
/// so no `isel`.
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall4_discard(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) {
    // SAFETY: as for syscall4.
    unsafe {
        asm!(
            "sc",
            inlateout("r0") n => _,
            inlateout("r3") a => _,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            inlateout("r6") d => _,
            out("r7") _, out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            out("ctr") _, out("xer") _, out("cr0") _,
            options(nostack),
        );
    }
}

/// A raw Linux system call with up to five arguments (pong's), returning the result or
/// -errno.
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall5(n: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret;
    // SAFETY: as for syscall4, the fifth argument in r7; a failure (cr0.SO set, errno
    // positive in r3) is negated to -errno like every other arch's.
    unsafe {
        asm!(
            "sc",
            "bns+ 2f",
            "neg 3, 3",
            "2:",
            inlateout("r0") n => _,
            inlateout("r3") a as isize => ret,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            inlateout("r6") d => _,
            inlateout("r7") e => _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            out("ctr") _, out("xer") _, out("cr0") _,
            options(nostack),
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
    unsafe { asm!("sc", in("r0") libc::SYS_exit_group, in("r3") code, options(noreturn, nostack)) }
}

/// `e_machine` and `e_flags` of the image's ELF header (src/elf.rs, musl builds only).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_MACHINE: u16 = libc::EM_PPC64;
/// ELFv2 (EF_PPC64_ABI = 2, not in the libc crate): without it a loader takes the
/// entry point for an ELFv1 function descriptor.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
pub const ELF_FLAGS: u32 = 2;
