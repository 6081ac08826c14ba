//! pausle: a PID 1 that does nothing, reaps what dies and stops the moment it is told to.
//!
//! Why not `pause()`: the kernel drops a signal sent to a PID namespace's init when that
//! init has the default disposition for it, so a bare `pause()` as a container's PID 1
//! never sees `docker stop`'s SIGTERM (or Ctrl-C's SIGINT) and is SIGKILLed after the
//! grace period; it never calls `wait4` either, so re-parented orphans stay zombies.
//!
//! What we do instead: block every signal and take the ones we act on synchronously
//! with `rt_sigtimedwait`. The kernel never drops a *blocked* signal (it might be
//! unblocked later), so SIGTERM reaches us even as a namespace init without any handler,
//! and a blocked signal can neither kill nor stop-and-forget us (SIGKILL and SIGSTOP
//! cannot be blocked and still work, as they should).
//!
//! This file is the whole policy and is the same on every arch; `arch/<arch>.rs` holds
//! only `_start` and the syscall instruction.
#![no_std]
#![no_main]

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm.rs")]
#[cfg_attr(target_arch = "powerpc64", path = "arch/powerpc64.rs")]
#[cfg_attr(target_arch = "s390x", path = "arch/s390x.rs")]
#[cfg_attr(target_arch = "riscv64", path = "arch/riscv64.rs")]
#[cfg_attr(target_arch = "x86", path = "arch/x86.rs")]
#[cfg_attr(target_arch = "loongarch64", path = "arch/loongarch64.rs")]
mod arch;

// The shipped (musl) builds are linked straight to a flat image whose first bytes are
// this ELF header (see src/link.ld); the host dev build is an ordinary ELF from the
// platform linker and needs none.
#[cfg(target_env = "musl")]
mod elf;

use arch::{syscall4, syscall4_discard};
use libc::{SIG_BLOCK, SIGCHLD, SIGINT, SIGTERM, STDERR_FILENO, STDOUT_FILENO, WNOHANG, c_int};

/// The kernel's signal set: one bit per signal 1..=64. `_NSIG` is 64 on every arch we
/// build, and the `rt_*` syscalls insist on exactly this size (libc's `sigset_t` is a
/// larger userspace type they reject with EINVAL).
type KernelSigset = u64;
const SIGSET_BYTES: usize = core::mem::size_of::<KernelSigset>();

const fn bit(sig: c_int) -> KernelSigset {
    1 << (sig - 1)
}

/// Every signal. Blocking SIGKILL and SIGSTOP is silently ignored by the kernel, and a
/// synchronous fault (a real SIGSEGV, say) is still delivered: blocking only protects
/// us from signals that someone *sends*.
const ALL: KernelSigset = !0;
/// What we wait for: a request to stop, or a child to reap.
const WAITED: KernelSigset = bit(SIGINT) | bit(SIGTERM) | bit(SIGCHLD);
// pause() tells the stop signals from SIGCHLD by being below it.
const _: () = assert!(SIGINT < SIGCHLD && SIGTERM < SIGCHLD);
// The sets as the kernel reads them, in native byte order: as bytes they need no 8-byte
// alignment in the image, which would cost padding after the code on some arches.
const ALL_BYTES: [u8; SIGSET_BYTES] = ALL.to_ne_bytes();
const WAITED_BYTES: [u8; SIGSET_BYTES] = WAITED.to_ne_bytes();

const VERSION: &[u8] = concat!("pausle ", env!("CARGO_PKG_VERSION"), "\n").as_bytes();
const USAGE: &[u8] = b"usage: pausle [-v|--version]\n";
/// The long option after its first dash, taken from the usage line so the two cannot
/// disagree (and the image carries the letters once).
const LONG_TAIL: &[u8] = {
    let (_, rest) = USAGE.split_at(19);
    rest.split_at(8).0
};
const _: () = assert!(matches!(LONG_TAIL, b"-version"));

/// Called by the arch's `_start` with the initial stack pointer, where the kernel put
/// `argc` followed by `argv[0..argc]` and a NULL.
///
/// # Safety
/// `sp` must be the process's initial stack pointer as set up by `execve`.
unsafe extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: execve puts argc at sp[0] and, when argc > 1, a pointer to the
    // NUL-terminated argv[1] at sp[2].
    let code = unsafe {
        match *sp {
            0 | 1 => pause(),
            argc => arguments(argc, *sp.add(2) as *const u8),
        }
    };
    // SAFETY: exit_group takes no pointers.
    unsafe { arch::exit(code) }
}

/// Waits until told to stop, reaping children all along; returns the exit status.
fn pause() -> i32 {
    // SAFETY: the set pointers refer to constants of the size passed; the other pointer
    // arguments are NULL, which these syscalls accept.
    unsafe {
        syscall4_discard(
            libc::SYS_rt_sigprocmask,
            SIG_BLOCK as usize,
            &ALL_BYTES as *const _ as usize,
            0,
            SIGSET_BYTES,
        );
        loop {
            // Reap before every wait: the first pass collects zombies that predate our
            // execve (their SIGCHLD went to whoever we were before and is gone), the
            // rest answer SIGCHLD. Children that die together raise one SIGCHLD, so
            // reap until none is left; WNOHANG makes "none dead yet" return 0.
            while syscall4(libc::SYS_wait4, -1isize as usize, 0, WNOHANG as usize, 0) > 0 {}
            let sig = syscall4(
                libc::SYS_rt_sigtimedwait,
                &WAITED_BYTES as *const _ as usize,
                0,
                0,
                SIGSET_BYTES,
            );
            // We only wait for SIGINT, SIGTERM and SIGCHLD, so a positive result below
            // SIGCHLD is one of the first two. Anything else is SIGCHLD, or a failure
            // (-EINTR after a SIGSTOP/SIGCONT, say): wait again.
            if sig > 0 && sig < SIGCHLD as isize {
                return 0;
            }
        }
    }
}

/// `-v`/`--version` prints the version, anything else (or more) the usage; returns the
/// exit status.
///
/// # Safety
/// `arg` must point to a NUL-terminated string.
unsafe fn arguments(argc: usize, arg: *const u8) -> i32 {
    // SAFETY: `arg` is NUL-terminated.
    let version = argc == 2 && unsafe { is_version(arg) };
    let (fd, text, code) = if version {
        (STDOUT_FILENO, VERSION, 0)
    } else {
        (STDERR_FILENO, USAGE, 2)
    };
    // SAFETY: `text` is a live static of the length passed. If the write fails there is
    // no one left to tell.
    unsafe {
        syscall4_discard(
            libc::SYS_write,
            fd as usize,
            text.as_ptr() as usize,
            text.len(),
            0,
        )
    };
    code
}

/// Whether the C string at `arg` is `-v` or `--version`.
///
/// # Safety
/// `arg` must point to a NUL-terminated string.
unsafe fn is_version(arg: *const u8) -> bool {
    // SAFETY: each read is guarded by the previous one having found a non-NUL
    // character, so none goes past the string's end.
    unsafe {
        *arg == b'-'
            && match *arg.add(1) {
                b'v' => *arg.add(2) == 0,
                _ => is(arg.add(1), LONG_TAIL),
            }
    }
}

/// Whether the C string at `s` equals `word`.
///
/// # Safety
/// `s` must point to a NUL-terminated string.
unsafe fn is(mut s: *const u8, word: &[u8]) -> bool {
    for &want in word {
        // SAFETY: we stop at the first difference and `word` holds no NUL, so this
        // never reads past `s`'s own NUL.
        if unsafe { *s } != want {
            return false;
        }
        s = unsafe { s.add(1) };
    }
    // SAFETY: s[..word.len()] matched non-NUL bytes, so s is still within the string.
    unsafe { *s == 0 }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing above can panic (no indexing, no arithmetic that can overflow); if a
    // change ever made it possible, dying loudly beats pausing in a broken state.
    // SAFETY: exit_group takes no pointers.
    unsafe { arch::exit(101) }
}
