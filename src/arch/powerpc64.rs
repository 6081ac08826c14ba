//! ppc64le (linux/ppc64le, ELFv2): the entry point and the `sc` instruction.

use core::arch::{asm, global_asm};

// The kernel starts us with r1 pointing at argc. A callee may store its return address
// at 16(r1) of its caller's frame: give start a minimal ELFv2 frame (32 bytes, NULL back
// chain) so that store cannot land on argv. The kernel already aligned r1 to 16 bytes,
// as the ABI wants.
//
// ELFv2 code reaches statics through the TOC pointer r2, which costs each function that
// uses it a global entry point deriving r2 from r12 (8 bytes), and each access an
// `addis`+`addi` pair. The musl image needs neither: it is mapped at 64 KiB (src/link.ld
// asserts it, and that it is smaller than 32 KiB), so with r2 holding that address every
// static is `addi rX, 2, sym@l` away, one instruction ([`address!`]). _start sets r2 so,
// which no code here changes: nothing in start uses the TOC (link.ld fails the link if
// anything does) and the kernel preserves r2 across `sc`. Without a TOC start has no
// global entry point either, so _start sits in start's own section, which module-level
// assembly always precedes, and falls through into it; link.ld fails the link should
// anything ever come in between.
//
// That is pausle's way. A program whose code the compiler lets use the TOC (the crate
// root's `R2_TOC`: pong, whose statics lie in a read+write segment 64 KiB past the
// image, beyond addi's reach, and whose image may outgrow 32 KiB) gets a real TOC
// instead: start then begins with the global entry point that derives r2 from r12,
// which the ABI has the caller point at it, so _start sets r12 to start's (absolute,
// fixed) address and falls through into that entry point. It also defines
// __pausle_toc, by which link.ld tells the two kinds of image apart.
global_asm!(
    ".section .text.{start},\"ax\",@progbits",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "mr 3, 1",
    "li 0, 0",
    "stdu 0, -32(1)",
    ".if {toc}",
    "lis 12, {start}@ha",
    "addi 12, 12, {start}@l",
    ".globl __pausle_toc",
    ".set __pausle_toc, 1",
    ".else",
    "lis 2, {image}@ha",
    ".endif",
    ".globl __pausle_entry_end",
    "__pausle_entry_end:",
    ".globl __pausle_start",
    ".set __pausle_start, {start}",
    ".previous",
    start = sym crate::start,
    image = sym crate::rt::elf::HEADER,
    toc = const crate::R2_TOC as u8,
);

// `syscall!`'s trap and fix-up (see there), once: each call site loads the number and
// arguments and branches here (4 bytes), where the trap and the two instructions of
// the fix-up inline would take 12. Only pong calls it; pausle's image, which does not,
// leaves it out (--gc-sections).
global_asm!(
    ".section .text.__pausle_sc,\"ax\",@progbits",
    ".globl __pausle_sc",
    ".type __pausle_sc, @function",
    "__pausle_sc:",
    "sc",
    "bnslr+",
    "neg 3, 3",
    "blr",
    ".previous",
);

// A ppc64 host (-gnu) build would be an ordinary ELF at no particular address, where
// r2 must be the TOC: no host the project builds on is ppc64.
#[cfg(not(target_env = "musl"))]
compile_error!("ppc64 builds only the musl image: _start's r2 is the image's address");

/// The address of static `$s`, or `$offset` bytes into it, from r2 (see `_start`): one
/// instruction. The asm has no side effect but is not `pure`, so that LLVM recomputes
/// the address where it is needed rather than keep it in a callee-saved register, which
/// start would have to save. Only for a program without a TOC (`R2_TOC` false: pausle),
/// where r2 is the image's address.
#[allow(unused_macros)]
macro_rules! address {
    ($s:path) => {
        $crate::rt::arch::address!($s, 0)
    };
    ($s:path, $offset:expr) => {{
        const { assert!(!$crate::R2_TOC, "r2 is the TOC here, not the image's address") };
        let p: usize;
        // SAFETY: computes an address and touches nothing: r2 holds the image's load
        // address, which `sym@l` is the offset from (src/link.ld asserts both). (Its
        // callers may already be in an unsafe block.)
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::asm!("addi {p}, 2, ({s}+{o})@l", p = out(reg) p, s = sym $s,
                             o = const $offset, options(nomem, nostack, preserves_flags));
        }
        p
    }};
}
#[allow(unused_imports)]
pub(crate) use address;

/// A raw Linux system call of one to five arguments, `syscall!(n, a, ..)`: the result,
/// or -errno. Inside an `unsafe` block whose caller upholds the contract of syscall `n`
/// for these arguments. One `sc` per call site, with no register loaded for an argument
/// the call does not take. The ppc64 syscall ABI: number in r0, arguments in r3..r7,
/// result in r3; the kernel may clobber r0, r4..r12, ctr, xer and cr0 (so each argument
/// register a call does not pass is clobbered too). A failure comes back as a POSITIVE
/// errno with cr0.SO set, where a pid or a signal number could be the same value: it is
/// negated then, so that a failure is -errno as on every other arch.
#[allow(unused_macros)]
macro_rules! syscall {
    (@sc [$($t:tt),*] {$($x:tt)*} $n:expr, $a:expr, [$($r:tt = $v:expr),*] [$($c:tt),*]) => {{
        let ret: isize;
        core::arch::asm!(
            $($t,)*
            $($x)*
            inlateout("r0") $n => _,
            inlateout("r3") $a as isize => ret,
            $(inlateout($r) $v as usize => _,)*
            $(out($c) _,)*
            out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            out("ctr") _, out("xer") _, out("cr0") _,
            options(nostack),
        );
        ret
    }};
    (@$t:tt $x:tt $n:expr, $a:expr) => {
        $crate::rt::arch::syscall!(@sc $t $x $n, $a, [] ["r4", "r5", "r6", "r7", "r8"])
    };
    (@$t:tt $x:tt $n:expr, $a:expr, $b:expr) => {
        $crate::rt::arch::syscall!(@sc $t $x $n, $a, ["r4" = $b] ["r5", "r6", "r7", "r8"])
    };
    (@$t:tt $x:tt $n:expr, $a:expr, $b:expr, $c:expr) => {
        $crate::rt::arch::syscall!(@sc $t $x $n, $a, ["r4" = $b, "r5" = $c] ["r6", "r7", "r8"])
    };
    (@$t:tt $x:tt $n:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        $crate::rt::arch::syscall!(@sc $t $x $n, $a, ["r4" = $b, "r5" = $c, "r6" = $d] ["r7", "r8"])
    };
    (@$t:tt $x:tt $n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        $crate::rt::arch::syscall!(@sc $t $x $n, $a, ["r4" = $b, "r5" = $c, "r6" = $d, "r7" = $e] ["r8"])
    };
    // The fix-up is not repeated at each call site: they call it (see `__pausle_sc`).
    ($($args:expr),+) => {
        $crate::rt::arch::syscall!(@["bl __pausle_sc"] {out("lr") _,} $($args),+)
    };
}
#[allow(unused_imports)]
pub(crate) use syscall;

/// [`syscall!`] without the fix-up, for a call whose result is ignored or only tested
/// against 0: r3 as the kernel left it, 0 or a positive errno for rt_sigprocmask, so
/// `!= 0` still tells a failure.
#[allow(unused_macros)]
macro_rules! syscall_raw {
    ($($args:expr),+) => {
        $crate::rt::arch::syscall!(@["sc"] {} $($args),+)
    };
}
#[allow(unused_imports)]
pub(crate) use syscall_raw;

/// [`syscall!`] with the trap and the fix-up in place, as pausle's calls make it
/// (`rt::syscall4`): its image, with two such calls, is no larger for them and needs no
/// saved link register.
#[allow(unused_macros)]
macro_rules! syscall_inline {
    ($($args:expr),+) => {
        $crate::rt::arch::syscall!(@["sc", "bns+ 1f", "neg 3, 3", "1:"] {} $($args),+)
    };
}
#[allow(unused_imports)]
pub(crate) use syscall_inline;

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
