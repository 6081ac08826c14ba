//! The runtime pausle and pong share: the arch's entry point and syscall instruction
//! (`arch/<arch>.rs`), the image's ELF header (`elf.rs`) and a PID 1's signal policy.
//! Each program uses part of it, so an item one of them leaves unused is no dead code.

// Each arch file gives `syscall!(n, a, ..)`: a raw Linux system call of one to five
// arguments, the result or -errno, in an `unsafe` block whose caller upholds syscall
// n's contract for them. No register is loaded for an argument left out, so leave out
// only trailing ones the kernel ignores for that call: a pointer it may read or write
// (an old value's, say) is passed, as 0 when it should be NULL. `syscall_raw!` is the
// same for a result that is ignored or only tested against 0 (ppc64 then skips its
// errno fix-up), and `syscall_inline!` the form of [`syscall4`] and [`syscall4_raw`],
// pausle's.
#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm.rs")]
#[cfg_attr(target_arch = "powerpc64", path = "arch/powerpc64.rs")]
#[cfg_attr(target_arch = "s390x", path = "arch/s390x.rs")]
#[cfg_attr(target_arch = "riscv64", path = "arch/riscv64.rs")]
#[cfg_attr(target_arch = "x86", path = "arch/x86.rs")]
#[cfg_attr(target_arch = "loongarch64", path = "arch/loongarch64.rs")]
#[allow(dead_code)]
pub mod arch;

// The shipped (musl) builds are linked straight to a flat image whose first bytes are
// this ELF header (see src/link.ld); the host dev build is an ordinary ELF from the
// platform linker and needs none.
#[cfg(target_env = "musl")]
#[path = "elf.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
pub mod elf;

use libc::{SIGCHLD, SIGINT, SIGTERM, WNOHANG, c_int};

/// The kernel's signal set: one bit per signal 1..=64. `_NSIG` is 64 on every arch we
/// build, and the `rt_*` syscalls insist on exactly this size (libc's `sigset_t` is a
/// larger userspace type they reject with EINVAL).
type KernelSigset = u64;
pub const SIGSET_BYTES: usize = core::mem::size_of::<KernelSigset>();

const fn bit(sig: c_int) -> KernelSigset {
    1 << (sig - 1)
}

/// Every signal. Blocking SIGKILL and SIGSTOP is silently ignored by the kernel, and a
/// synchronous fault (a real SIGSEGV, say) is still delivered: blocking only protects
/// us from signals that someone *sends*. pausle's image carries it in its ELF header
/// (`elf::all_signals!`); pong, and pausle's host build, as [`ALL_BYTES`].
pub const ALL: KernelSigset = !0;
/// What a PID 1 waits for: a request to stop, or a child to reap.
const WAITED: KernelSigset = bit(SIGINT) | bit(SIGTERM) | bit(SIGCHLD);
// The sets as the kernel reads them, in native byte order: as bytes they need no 8-byte
// alignment in the image, which would cost padding after the code on some arches.
#[allow(dead_code)]
pub const ALL_BYTES: [u8; SIGSET_BYTES] = ALL.to_ne_bytes();
pub const WAITED_BYTES: [u8; SIGSET_BYTES] = WAITED.to_ne_bytes();

/// Blocks every signal in the set at address `$set` (every signal: [`ALL`]) and gives
/// rt_sigprocmask's raw result, 0 or a failure (`syscall4_raw`): from then on the
/// program takes the signals it acts on synchronously (the kernel never drops a blocked
/// signal, even one sent to a namespace's init). A macro, not a function: expanded in
/// place, so pausle's image stays byte for byte what it was before the runtime was
/// shared, and each program reaches the set its own way (pausle: in its ELF header).
macro_rules! block_all {
    ($set:expr) => {
        // SAFETY: the caller passes the address of a set of SIGSET_BYTES bytes; the
        // old-set pointer is NULL, which rt_sigprocmask accepts.
        unsafe {
            $crate::rt::syscall4_raw(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK as usize,
                $set,
                0,
                $crate::rt::SIGSET_BYTES,
            )
        }
    };
}
pub(crate) use block_all;

/// A system call of four arguments as a function: the result, or -errno.
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall4(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    // SAFETY: passed on from the caller.
    unsafe { arch::syscall_inline!(n, a, b, c, d) }
}

/// [`syscall4`] for a call whose result is only tested against 0 or ignored (ppc64: r3
/// as the kernel left it, 0 or a positive errno).
///
/// # Safety
/// The caller upholds the contract of syscall `n` for these arguments.
#[inline(always)]
pub unsafe fn syscall4_raw(n: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    // SAFETY: passed on from the caller.
    unsafe { arch::syscall_raw!(n, a, b, c, d) }
}

/// Reaps every dead child. Children that die together raise one SIGCHLD, so it reaps
/// until none is left; WNOHANG makes "none dead yet" return 0 (and no child at all
/// -ECHILD), which ends the loop.
#[inline(always)]
pub fn reap() {
    // SAFETY: wait4 with NULL status and rusage pointers writes nothing.
    while unsafe { syscall4(libc::SYS_wait4, -1isize as usize, 0, WNOHANG as usize, 0) } > 0 {}
}
