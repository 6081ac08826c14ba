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
//! This file is the whole policy and is the same on every arch; `rt.rs`, the runtime it
//! shares with pong, holds the signal sets, and `arch/<arch>.rs` `_start` and the
//! syscall instruction.
#![no_std]
#![no_main]

mod rt;

/// The image has no writable segment (src/elf.rs): pausle writes nothing but its stack.
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
const DATA_SEGMENTS: usize = 0;
/// ppc64le: r2 holds the image's address, not a TOC (`arch::address!`, src/link.ld).
#[cfg_attr(not(target_arch = "powerpc64"), allow(dead_code))]
const R2_TOC: bool = false;

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

use libc::{EINTR, SIGCHLD, STDERR_FILENO, STDOUT_FILENO};
use rt::{arch, syscall4_raw};

/// The set of every signal: the image carries it in its ELF header
/// (`elf::all_signals!`); the host build, which has no such header, here.
#[cfg(not(target_env = "musl"))]
static ALL_SIGNALS: [u8; rt::SIGSET_BYTES] = rt::ALL_BYTES;
#[cfg(not(target_env = "musl"))]
macro_rules! all_signals {
    () => {
        address!(ALL_SIGNALS)
    };
}
#[cfg(target_env = "musl")]
use rt::elf::all_signals;
/// What pausle waits for (`rt`'s): a static, so that it is reached as the arch does it
/// best (`address!`).
static WAITED_SIGNALS: [u8; rt::SIGSET_BYTES] = rt::WAITED_BYTES;

/// The exit status when blocking the signals or waiting for them fails (docs/contract.md's
/// contract): neither 0 (told to stop) nor 2 (usage).
const FAILED: i32 = 3;
/// What `rt_sigtimedwait` returns when a signal that it does not wait for interrupted
/// it: -errno, as on every arch (`rt::syscall4`).
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
    // Unblocked, SIGTERM would be dropped (PID 1) or kill us (not PID 1): pausing
    // then would make `docker stop` wait out its grace period. Fail instead.
    if rt::block_all!(all_signals!()) != 0 {
        return FAILED;
    }
    // SAFETY: the set pointer refers to a static of the size passed; the other pointer
    // arguments are NULL, which rt_sigtimedwait accepts.
    unsafe {
        loop {
            // Reap before every wait: the first pass collects zombies that predate our
            // execve (their SIGCHLD went to whoever we were before and is gone), the
            // rest answer SIGCHLD.
            rt::reap();
            let sig = rt::syscall4(
                libc::SYS_rt_sigtimedwait,
                address!(WAITED_SIGNALS),
                0,
                0,
                rt::SIGSET_BYTES,
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
