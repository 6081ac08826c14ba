//! Processes and PID namespaces, for the suites that run a program as PID 1 the way a
//! container runtime does (tests/behaviour.rs for pausle, tests/pong.rs for pong).

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::process::{Command, ExitStatus, Stdio};

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
