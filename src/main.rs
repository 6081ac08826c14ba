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

use libc::{SIGCHLD, STDERR_FILENO, STDOUT_FILENO};
use rt::arch::{self, syscall4_discard};

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
    rt::block_all!();
    // SAFETY: the set pointer refers to a constant of the size passed; the other pointer
    // arguments are NULL, which rt_sigtimedwait accepts.
    unsafe {
        loop {
            // Reap before every wait: the first pass collects zombies that predate our
            // execve (their SIGCHLD went to whoever we were before and is gone), the
            // rest answer SIGCHLD.
            rt::reap();
            let sig = arch::syscall4(
                libc::SYS_rt_sigtimedwait,
                &rt::WAITED_BYTES as *const _ as usize,
                0,
                0,
                rt::SIGSET_BYTES,
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
