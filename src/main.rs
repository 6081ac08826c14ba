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

/// The address of static `$s`, or `$offset` bytes into it, as a usize, reached the way
/// the arch does it best: the compiler's way but for ppc64's image (`arch::address!`).
#[cfg(not(target_arch = "powerpc64"))]
macro_rules! address {
    ($s:path) => {
        address!($s, 0)
    };
    ($s:path, $offset:expr) => {
        &raw const $s as usize + $offset
    };
}
#[cfg(target_arch = "powerpc64")]
use arch::address;

// The shipped (musl) builds are linked straight to a flat image whose first bytes are
// this ELF header (see src/link.ld); the host dev build is an ordinary ELF from the
// platform linker and needs none.
#[cfg(target_env = "musl")]
mod elf;

use arch::{syscall4, syscall4_raw};
use libc::{
    EINTR, SIG_BLOCK, SIGCHLD, SIGINT, SIGTERM, STDERR_FILENO, STDOUT_FILENO, WNOHANG, c_int,
};

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
/// us from signals that someone *sends*. The image carries it in its ELF header
/// (`elf::all_signals!`); the host build, which has no such header, here.
const ALL: KernelSigset = !0;
#[cfg(not(target_env = "musl"))]
static ALL_SIGNALS: [u8; SIGSET_BYTES] = ALL.to_ne_bytes();
#[cfg(not(target_env = "musl"))]
macro_rules! all_signals {
    () => {
        address!(ALL_SIGNALS)
    };
}
#[cfg(target_env = "musl")]
use elf::all_signals;
/// What we wait for: a request to stop, or a child to reap.
const WAITED: KernelSigset = bit(SIGINT) | bit(SIGTERM) | bit(SIGCHLD);
// The set as the kernel reads it, in native byte order: as bytes it needs no 8-byte
// alignment in the image, which would cost padding after the code on some arches.
static WAITED_SIGNALS: [u8; SIGSET_BYTES] = WAITED.to_ne_bytes();

/// The exit status when blocking the signals or waiting for them fails (README's
/// contract): neither 0 (told to stop) nor 2 (usage).
const FAILED: i32 = 3;
/// What `rt_sigtimedwait` returns when a signal that it does not wait for interrupted
/// it: -errno, as on every arch (`arch::syscall4`).
const INTERRUPTED: isize = -(EINTR as isize);

const VERSION_LINE: &[u8] = concat!("pausle ", env!("CARGO_PKG_VERSION"), "\n").as_bytes();
static VERSION: [u8; VERSION_LINE.len()] = *VERSION_LINE.as_array().unwrap();
static USAGE: [u8; 29] = *b"usage: pausle [-v|--version]\n";
/// Where the long option is in the usage line: is_version compares its first 8 bytes
/// from there, so the image carries them once and the two cannot disagree.
const LONG: usize = 18;
const _: () = assert!(matches!(USAGE.split_at(LONG).1.split_at(9).0, b"--version"));

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
    // SAFETY: the set pointers refer to statics of the size passed; the other pointer
    // arguments are NULL, which these syscalls accept.
    unsafe {
        // Unblocked, SIGTERM would be dropped (PID 1) or kill us (not PID 1): pausing
        // then would make `docker stop` wait out its grace period. Fail instead.
        if syscall4_raw(
            libc::SYS_rt_sigprocmask,
            SIG_BLOCK as usize,
            all_signals!(),
            0,
            SIGSET_BYTES,
        ) != 0
        {
            return FAILED;
        }
        loop {
            // Reap before every wait: the first pass collects zombies that predate our
            // execve (their SIGCHLD went to whoever we were before and is gone), the
            // rest answer SIGCHLD. Children that die together raise one SIGCHLD, so
            // reap until none is left; WNOHANG makes "none dead yet" return 0.
            while syscall4(libc::SYS_wait4, -1isize as usize, 0, WNOHANG as usize, 0) > 0 {}
            let sig = syscall4(
                libc::SYS_rt_sigtimedwait,
                address!(WAITED_SIGNALS),
                0,
                0,
                SIGSET_BYTES,
            );
            // SIGCHLD: reap. -EINTR (after a SIGSTOP and SIGCONT, say): wait again.
            // Anything else positive is SIGINT or SIGTERM, the only other signals we
            // wait for. Anything else at all is a failure that would recur on every
            // call (a seccomp filter, say): waiting again would spin at full speed and
            // never see SIGTERM, so stop, loudly.
            if sig != SIGCHLD as isize && sig != INTERRUPTED {
                return if sig > 0 { 0 } else { FAILED };
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
    // SAFETY: `arg` is NUL-terminated; the texts are statics of the lengths passed. If
    // a write fails there is no one left to tell. (Two calls rather than one with
    // chosen arguments: each needs its constants once, with nothing to keep across.)
    unsafe {
        if argc == 2 && is_version(arg) {
            syscall4_raw(
                libc::SYS_write,
                STDOUT_FILENO as usize,
                address!(VERSION),
                VERSION.len(),
                0,
            );
            return 0;
        }
        syscall4_raw(
            libc::SYS_write,
            STDERR_FILENO as usize,
            address!(USAGE),
            USAGE.len(),
            0,
        );
    }
    2
}

/// Whether the C string at `arg` is `-v` or `--version`.
///
/// # Safety
/// `arg` must point to an argument string of this process.
unsafe fn is_version(arg: *const u8) -> bool {
    // SAFETY: execve lays the argument strings out one after the other, then the
    // environment's, then the program's path, and keeps the last pointer-sized word of
    // the stack mapping above them all (Linux: __bprm_mm_init; qemu-user:
    // setup_arg_pages): at least 8 mapped bytes follow any argument's NUL. So the 8
    // bytes at `arg` are readable whatever its length, and so are the 2 after them once
    // those 8 are not NUL.
    unsafe {
        let head = load_u64(arg);
        if head == load_u64(address!(USAGE, LONG) as *const u8) {
            return (arg.add(8) as *const u16).read_unaligned() == u16::from_ne_bytes(*b"n\0");
        }
        head & u64::from_ne_bytes([!0, !0, !0, 0, 0, 0, 0, 0])
            == u64::from_ne_bytes(*b"-v\0\0\0\0\0\0")
    }
}

/// The 8 bytes at `p`, which need no alignment.
///
/// # Safety
/// The 8 bytes must be readable.
#[cfg(not(target_arch = "riscv64"))]
unsafe fn load_u64(p: *const u8) -> u64 {
    // SAFETY: the caller's.
    unsafe { (p as *const u64).read_unaligned() }
}
#[cfg(target_arch = "riscv64")]
use arch::load_u64;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing above can panic (no indexing, no arithmetic that can overflow); if a
    // change ever made it possible, dying loudly beats pausing in a broken state.
    // SAFETY: exit_group takes no pointers.
    unsafe { arch::exit(101) }
}
