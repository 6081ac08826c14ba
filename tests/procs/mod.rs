//! Processes and PID namespaces, for the suites that run a program as PID 1 the way a
//! container runtime does (tests/behaviour.rs for pausle, tests/pong.rs for pong).

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use libc::{c_int, pid_t};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `unshare` making `argv` PID 1 of a new PID namespace with its own /proc. When not
/// root (a Nix build sandbox), a user namespace is added so that this needs no privilege.
pub fn in_new_pid_namespace(argv: &[OsString]) -> Command {
    let mut cmd = Command::new("unshare");
    if !is_root() {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--pid", "--fork", "--mount-proc", "--"])
        .args(argv);
    cmd
}

/// A shell command run inside the PID (and mount) namespace of `pid`.
pub fn nsenter_sh(pid: pid_t, script: &str) -> Command {
    let mut nsenter = Command::new("nsenter");
    if !is_root() {
        nsenter.args(["--user", "--preserve-credentials"]);
    }
    nsenter
        .args([
            "--target",
            &pid.to_string(),
            "--pid",
            "--mount",
            "sh",
            "-c",
            script,
        ])
        .stdin(Stdio::null());
    nsenter
}

/// Makes `n` orphans in the namespace of `init`: a shell there starts `sleep secs`
/// `n` times in the background and exits at once, so they are re-parented to `init`.
pub fn make_orphans(init: pid_t, n: usize, secs: u32) -> ExitStatus {
    let script = format!("i=0; while [ $i -lt {n} ]; do sleep {secs} & i=$((i+1)); done");
    nsenter_sh(init, &script).status().unwrap()
}

/// State and ppid, from /proc/PID/stat.
pub fn stat(pid: pid_t) -> Option<(char, pid_t)> {
    let fields = stat_fields(pid)?;
    Some((
        fields.first()?.chars().next()?,
        fields.get(1)?.parse().ok()?,
    ))
}

/// The fields of /proc/PID/stat after the command name, which may hold spaces:
/// proc_pid_stat(5)'s fields from 3 (state) on, so field N is at index N - 3.
pub fn stat_fields(pid: pid_t) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let tail = &stat[stat.rfind(')')? + 1..];
    Some(tail.split_whitespace().map(String::from).collect())
}

/// (pid, state) of every process whose parent is `parent`.
pub fn children(parent: pid_t) -> Vec<(pid_t, char)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(|pid| match stat(pid) {
            Some((state, ppid)) if ppid == parent => Some((pid, state)),
            _ => None,
        })
        .collect()
}

/// Signals a user-mode emulator cannot take from outside: qemu-user reads an external
/// SIGILL, SIGFPE, SIGSEGV or SIGBUS as a fault of its own emulation and dies of it,
/// whatever the guest has blocked. On hardware they stay pending like any other.
pub fn emulator_faults(emulated: bool) -> &'static [c_int] {
    if emulated {
        &[libc::SIGILL, libc::SIGFPE, libc::SIGSEGV, libc::SIGBUS]
    } else {
        &[]
    }
}

/// Linux's seccomp `arch` values (include/uapi/linux/audit.h; not in the libc crate): the
/// ELF machine with the 64-bit and little-endian flags.
const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;
const AUDIT_ARCH_LE: u32 = 0x4000_0000;

/// The (seccomp arch, syscall number) pairs that the native binaries use for `call`: the
/// host's own, plus i386's on x86_64, which runs i686 binaries itself. i386's numbers
/// are from the kernel's arch/x86/entry/syscalls/syscall_32.tbl; the libc crate names
/// only the host's.
pub fn native_calls(call: libc::c_long) -> Vec<(u32, u32)> {
    let mut calls = vec![];
    #[cfg(target_arch = "x86_64")]
    {
        calls.push((
            libc::EM_X86_64 as u32 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE,
            call as u32,
        ));
        let i386 = match call {
            libc::SYS_rt_sigprocmask => 175,
            libc::SYS_rt_sigtimedwait => 177,
            libc::SYS_epoll_pwait => 319,
            _ => unreachable!("no i386 number for syscall {call}"),
        };
        calls.push((libc::EM_386 as u32 | AUDIT_ARCH_LE, i386));
    }
    #[cfg(target_arch = "aarch64")]
    calls.push((
        libc::EM_AARCH64 as u32 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE,
        call as u32,
    ));
    assert!(!calls.is_empty(), "no seccomp arch known for this host");
    calls
}

/// A classic BPF seccomp program: `call` (as each of `calls` names it) fails with
/// `errno`, everything else is allowed.
pub fn deny_filter(calls: &[(u32, u32)], errno: u32) -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    // struct seccomp_data: int nr; __u32 arch; ...
    let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let mut prog = vec![];
    for &(arch, nr) in calls {
        // arch matches and nr matches: deny; otherwise on to the next pair.
        prog.push(load(4));
        prog.push(jeq(arch, 0, 3));
        prog.push(load(0));
        prog.push(jeq(nr, 0, 1));
        prog.push(stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA),
        ));
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    prog
}

/// Makes `call` fail with `errno` in the program `cmd` starts (a seccomp filter installed
/// between fork and exec, with no_new_privs so that it needs no privilege).
pub fn deny_with_seccomp(cmd: &mut Command, call: libc::c_long, errno: u32) {
    let filter = deny_filter(&native_calls(call), errno);
    // SAFETY: the closure runs in the forked child before execve and makes only the
    // async-signal-safe prctl and seccomp calls, on memory the parent owns and keeps.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut _,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Waits up to `within` for `child` to exit: its status and the CPU time it used (read
/// from /proc while it is a zombie, before it is reaped), or, killed then, the CPU time
/// it had used.
pub fn exit_and_cpu(
    child: &mut Child,
    within: Duration,
) -> Result<(ExitStatus, Duration), Duration> {
    let pid = child.id() as pid_t;
    let deadline = Instant::now() + within;
    loop {
        let fields = stat_fields(pid).expect("the child is in /proc until it is reaped");
        // Fields 3 (state), 14 (utime) and 15 (stime) of proc_pid_stat(5), in clock ticks.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no memory preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let cpu = Duration::from_millis(ticks * 1000 / per_second);
        if fields[0] == "Z" {
            return Ok((child.wait().unwrap(), cpu));
        }
        if Instant::now() >= deadline {
            child.kill().ok();
            child.wait().ok();
            return Err(cpu);
        }
        sleep(Duration::from_micros(200));
    }
}
