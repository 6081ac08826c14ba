//! The runtime pausle and pong share: the arch's entry point and syscall instruction
//! (`arch/<arch>.rs`), the image's ELF header (`elf.rs`) and a PID 1's signal policy.
//! Each program uses part of it, so an item one of them leaves unused is no dead code.

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
mod elf;

use arch::syscall4;
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
/// us from signals that someone *sends*.
const ALL: KernelSigset = !0;
/// What a PID 1 waits for: a request to stop, or a child to reap.
const WAITED: KernelSigset = bit(SIGINT) | bit(SIGTERM) | bit(SIGCHLD);
// pausle's pause() tells the stop signals from SIGCHLD by being below it.
const _: () = assert!(SIGINT < SIGCHLD && SIGTERM < SIGCHLD);
// The sets as the kernel reads them, in native byte order: as bytes they need no 8-byte
// alignment in the image, which would cost padding after the code on some arches.
pub const ALL_BYTES: [u8; SIGSET_BYTES] = ALL.to_ne_bytes();
pub const WAITED_BYTES: [u8; SIGSET_BYTES] = WAITED.to_ne_bytes();

/// Blocks every signal: from now on the program takes the ones it acts on synchronously
/// (the kernel never drops a blocked signal, even one sent to a namespace's init).
/// A macro, not a function: expanded in place, pausle's image stays byte for byte what
/// it was before the runtime was shared (a function moves the set in ppc64le's image).
macro_rules! block_all {
    () => {
        // SAFETY: the set is a constant of the size passed; the old-set pointer is
        // NULL, which rt_sigprocmask accepts.
        unsafe {
            $crate::rt::arch::syscall4_discard(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK as usize,
                &$crate::rt::ALL_BYTES as *const _ as usize,
                0,
                $crate::rt::SIGSET_BYTES,
            )
        }
    };
}
pub(crate) use block_all;

/// Reaps every dead child. Children that die together raise one SIGCHLD, so it reaps
/// until none is left; WNOHANG makes "none dead yet" return 0 (and no child at all
/// -ECHILD), which ends the loop.
#[inline(always)]
pub fn reap() {
    // SAFETY: wait4 with NULL status and rusage pointers writes nothing.
    while unsafe { syscall4(libc::SYS_wait4, -1isize as usize, 0, WNOHANG as usize, 0) } > 0 {}
}
