//! The behaviour suite: runs a built pausle binary and checks the contract from outside.
//!
//! By default it tests the host build. `PAUSLE_BIN` names any other binary (e.g. a musl
//! build) and `PAUSLE_RUNNER` an optional program to run it with (e.g.
//! `qemu-aarch64-static`). Most cases make pausle PID 1 of a fresh PID namespace with
//! `unshare`, as a container runtime does; when not root (a Nix build sandbox), a user
//! namespace is added so that this needs no privilege.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

mod procs;

use libc::{SIGCHLD, SIGCONT, SIGINT, SIGKILL, SIGSTOP, SIGTERM, c_int, pid_t};
use procs::*;

/// How long anything may take before a case fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);
/// The contract: SIGINT/SIGTERM stop pausle at once. Generous for a process that only
/// has to return from one syscall, tight enough to catch a signal that was dropped.
const STOP_WITHIN: Duration = Duration::from_millis(100);

fn binary() -> PathBuf {
    env::var_os("PAUSLE_BIN").map_or_else(|| env!("CARGO_BIN_EXE_pausle").into(), PathBuf::from)
}

fn runner() -> Option<OsString> {
    env::var_os("PAUSLE_RUNNER").filter(|r| !r.is_empty())
}

/// The program and arguments that run pausle, through the runner if there is one.
fn pausle_argv() -> Vec<OsString> {
    runner()
        .into_iter()
        .chain([binary().into_os_string()])
        .collect()
}

fn pausle(args: &[&str]) -> Command {
    let argv = pausle_argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).args(args);
    cmd
}

fn kill(pid: pid_t, sig: c_int) {
    // SAFETY: kill has no memory preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

fn zombies(parent: pid_t) -> usize {
    children(parent).iter().filter(|(_, s)| *s == 'Z').count()
}

/// Polls `f` until it returns Some, or fails the case after PATIENCE.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(2));
    }
}

/// Whether `pid` sits in rt_sigtimedwait, having blocked every signal.
fn waiting(pid: pid_t) -> bool {
    if runner().is_some() {
        // A user-mode emulator blocks host signals as it likes, but it serves the
        // guest's rt_sigtimedwait with its own host call.
        let Ok(s) = fs::read_to_string(format!("/proc/{pid}/syscall")) else {
            return false;
        };
        return s.split_whitespace().next() == Some(&libc::SYS_rt_sigtimedwait.to_string());
    }
    // Natively, /proc shows it exactly: while rt_sigtimedwait sleeps, the kernel
    // unblocks the signals it waits for (and SIGKILL/SIGSTOP never show as blocked),
    // so "asleep with every signal blocked but INT, TERM, CHLD" is pausle waiting for
    // precisely those. (Not /proc/PID/syscall: a 32-bit binary on a 64-bit kernel
    // reports its own, different syscall numbers.)
    let bit = |s: c_int| 1u64 << (s - 1);
    let all_blockable = !(bit(SIGKILL) | bit(SIGSTOP));
    let waiting_mask = all_blockable & !(bit(SIGINT) | bit(SIGTERM) | bit(SIGCHLD));
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    field("SigBlk:").and_then(|m| u64::from_str_radix(m, 16).ok()) == Some(waiting_mask)
        && field("State:").is_some_and(|s| s.starts_with('S'))
}

/// A pausle process under test: `child` is what we spawned (pausle itself, or the
/// `unshare` that forked it), `pid` is pausle's PID as seen from here.
struct Pausle {
    child: Child,
    pid: pid_t,
}

impl Pausle {
    /// pausle, not PID 1: a plain child of this test.
    fn spawn() -> Self {
        let child = pausle(&[])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn pausle");
        Self::ready(child, None)
    }

    /// pausle as PID 1 of a fresh PID namespace.
    fn init() -> Self {
        Self::init_with(in_new_pid_namespace(&pausle_argv()).stdin(Stdio::null()))
    }

    fn init_with(cmd: &mut Command) -> Self {
        let child = cmd.spawn().expect("spawn unshare");
        let unshare = child.id() as pid_t;
        let pid = eventually("unshare to fork", || children(unshare).first().map(|c| c.0));
        Self::ready(child, Some(pid))
    }

    fn ready(child: Child, pid: Option<pid_t>) -> Self {
        let pid = pid.unwrap_or(child.id() as pid_t);
        let mut p = Self { child, pid };
        p.wait_until_waiting();
        p
    }

    /// Signals sent before pausle blocks them would be dropped (PID 1) or kill it (not
    /// PID 1), so every case first waits for it to sit in rt_sigtimedwait.
    fn wait_until_waiting(&mut self) {
        let pid = self.pid;
        eventually("pausle to wait in rt_sigtimedwait", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pausle exited before waiting: {status}");
            }
            waiting(pid).then_some(())
        });
    }

    fn state(&self) -> char {
        stat(self.pid).map_or('-', |s| s.0)
    }

    /// Still running and waiting again, after whatever we just did to it.
    fn assert_pausing(&mut self, after: &str) {
        sleep(Duration::from_millis(20));
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "pausle exited after {after}"
        );
        assert!(
            matches!(self.state(), 'S' | 'R'),
            "pausle in state {} after {after}",
            self.state()
        );
        self.wait_until_waiting();
    }

    fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                self.child.kill().ok();
                panic!("pausle still running {within:?} later");
            }
            sleep(Duration::from_micros(200));
        }
    }

    /// Sends `sig` and asserts exit status 0 within the contract's STOP_WITHIN.
    fn assert_stops_on(&mut self, sig: c_int) {
        let sent = Instant::now();
        kill(self.pid, sig);
        let status = self.wait(PATIENCE);
        let took = sent.elapsed();
        assert!(status.success(), "signal {sig}: {status}");
        assert!(took <= STOP_WITHIN, "signal {sig}: stopped after {took:?}");
    }
}

impl Drop for Pausle {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SIGKILL reaches even a namespace init from its parent namespace.
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(self.pid, SIGKILL) };
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// Every signal a sender can deliver and pausle must shrug off.
fn stray_signals() -> Vec<c_int> {
    (1..=64)
        .filter(|s| {
            ![SIGKILL, SIGSTOP, SIGINT, SIGTERM, SIGCHLD].contains(s)
                && !emulator_faults(runner().is_some()).contains(s)
        })
        .collect()
}

/// Signals pending for the whole process, from /proc/PID/status.
fn shared_pending(pid: pid_t) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("ShdPnd:"))
        .unwrap();
    u64::from_str_radix(line.trim(), 16).unwrap()
}

#[test]
fn sigterm_from_the_parent_namespace_stops_pid_1() {
    Pausle::init().assert_stops_on(SIGTERM);
}

#[test]
fn sigint_from_the_parent_namespace_stops_pid_1() {
    Pausle::init().assert_stops_on(SIGINT);
}

#[test]
fn kill_term_1_from_inside_the_namespace_stops_it() {
    let mut p = Pausle::init();
    let target = p.pid;
    let sent = Instant::now();
    let status = nsenter_sh(target, "kill -TERM 1").status().unwrap();
    // When a namespace's init exits the kernel SIGKILLs everything left in it, so the
    // shell may die with pausle before it exits on its own: either outcome is fine.
    assert!(
        status.success() || status.signal() == Some(SIGKILL),
        "nsenter: {status}"
    );
    let status = p.wait(PATIENCE);
    let took = sent.elapsed();
    assert!(status.success(), "{status}");
    // nsenter forks and execs a shell first; the budget is for pausle, not for them.
    assert!(
        took <= STOP_WITHIN * 3,
        "stopped {took:?} after nsenter started"
    );
}

#[test]
fn every_other_signal_leaves_pid_1_running() {
    let mut p = Pausle::init();
    let strays = stray_signals();
    for &sig in &strays {
        kill(p.pid, sig);
    }
    p.assert_pausing("stray signals");
    if runner().is_none() {
        // Blocked, hence queued rather than dropped or acted on: proof they arrived.
        // Except SIGCONT: the later SIGTSTP, SIGTTIN and SIGTTOU discard a pending one.
        let want = strays
            .iter()
            .filter(|&&s| s != SIGCONT)
            .fold(0u64, |m, &s| m | 1 << (s - 1));
        assert_eq!(
            shared_pending(p.pid) & want,
            want,
            "stray signals not pending"
        );
    }
    p.assert_stops_on(SIGTERM);
}

#[test]
fn sigstop_then_sigcont_do_no_harm() {
    let mut p = Pausle::init();
    kill(p.pid, SIGSTOP);
    eventually("pausle to stop", || (p.state() == 'T').then_some(()));
    kill(p.pid, SIGCONT);
    p.assert_pausing("SIGSTOP and SIGCONT");
    p.assert_stops_on(SIGTERM);
}

#[test]
fn reaps_hundreds_of_orphans() {
    const ORPHANS: usize = 200;
    let mut p = Pausle::init();
    // A shell inside the namespace starts sleepers and exits at once: its orphans are
    // re-parented to the namespace's init, which must reap them when they die.
    let status = make_orphans(p.pid, ORPHANS, 2);
    assert!(status.success(), "nsenter: {status}");
    let adopted = children(p.pid).len();
    assert!(
        adopted >= ORPHANS,
        "only {adopted} of {ORPHANS} orphans re-parented to pausle"
    );
    eventually("every orphan to be reaped", || {
        children(p.pid).is_empty().then_some(())
    });
    p.assert_pausing("reaping");
    p.assert_stops_on(SIGTERM);
}

const HELPER: &str = "PAUSLE_TEST_ZOMBIES";

/// Not a case: run by `zombies_that_predate_exec_are_reaped` as PID 1 of a namespace.
/// Leaves zombie children behind, waits for the go-ahead on stdin, then execs pausle.
#[test]
#[ignore = "helper process for zombies_that_predate_exec_are_reaped"]
fn helper_zombies_then_exec() {
    let Some(n) = env::var(HELPER).ok().and_then(|n| n.parse::<usize>().ok()) else {
        return;
    };
    for _ in 0..n {
        // SAFETY: the child only calls the async-signal-safe _exit.
        match unsafe { libc::fork() } {
            0 => unsafe { libc::_exit(0) },
            pid => assert!(pid > 0, "fork failed"),
        }
    }
    // Wait for the test to have counted the zombies; exec must find them still there.
    std::io::stdin().read_exact(&mut [0]).unwrap();
    let argv = pausle_argv();
    panic!("exec: {}", Command::new(&argv[0]).args(&argv[1..]).exec());
}

#[test]
fn zombies_that_predate_exec_are_reaped() {
    const ZOMBIES: usize = 16;
    let helper = [
        env::current_exe().unwrap().into_os_string(),
        "--ignored".into(),
        "--exact".into(),
        "helper_zombies_then_exec".into(),
        "--nocapture".into(),
    ];
    let mut cmd = in_new_pid_namespace(&helper);
    cmd.env(HELPER, ZOMBIES.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let unshare = child.id() as pid_t;
    let pid = eventually("unshare to fork", || children(unshare).first().map(|c| c.0));
    eventually("the helper's zombies", || {
        (zombies(pid) == ZOMBIES).then_some(())
    });
    // Their SIGCHLDs went to the helper, which ignored them: only the reap pausle does
    // at start can collect them.
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"x").unwrap();
    let mut p = Pausle::ready(child, Some(pid));
    let left = zombies(pid);
    assert_eq!(left, 0, "{left} zombies left once pausle waits");
    p.assert_stops_on(SIGTERM);
}

fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = pausle(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            child.kill().ok();
            panic!("pausle {args:?} did not exit (it must never pause with arguments)");
        }
        sleep(Duration::from_millis(1));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, out, err)
}

#[test]
fn version_flags_print_the_version() {
    for flag in ["-v", "--version"] {
        let (status, out, err) = run(&[flag]);
        assert_eq!(status.code(), Some(0), "{flag}");
        assert_eq!(
            out,
            concat!("pausle ", env!("CARGO_PKG_VERSION"), "\n"),
            "{flag}"
        );
        assert_eq!(err, "", "{flag}");
    }
}

#[test]
fn any_other_arguments_are_a_usage_error() {
    let cases: &[&[&str]] = &[
        &["-x"],
        &["--help"],
        &["-h"],
        &["-V"],
        &["-vv"],
        &["-"],
        &["--"],
        &[""],
        &["v"],
        &["version"],
        &["--versio"],
        &["--version="],
        &["--versionx"],
        &["---version"],
        &["-version"],
        &["-v", "-v"],
        &["--version", "x"],
        &["x", "-v"],
    ];
    for args in cases {
        let (status, out, err) = run(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            err.starts_with("usage: pausle") && err.ends_with('\n') && err.lines().count() == 1,
            "{args:?}: {err:?}"
        );
    }
}

#[test]
fn not_pid_1_it_survives_hup_usr1_quit_and_stops_on_term() {
    let mut p = Pausle::spawn();
    for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGQUIT] {
        kill(p.pid, sig);
        p.assert_pausing(&format!("signal {sig}"));
    }
    p.assert_stops_on(SIGTERM);
}

#[test]
fn not_pid_1_sigint_stops_it() {
    let mut p = Pausle::spawn();
    p.assert_stops_on(SIGINT);
    assert_eq!(p.child.wait().unwrap().signal(), None);
}

#[test]
fn resident_memory_while_pausing_is_tiny() {
    if let Some(r) = runner() {
        // Under an emulator this would measure the emulator, not pausle.
        eprintln!("VmRSS not measured under {r:?}");
        return;
    }
    const MAX_KB: u64 = 16;
    let mut p = Pausle::init();
    let status = fs::read_to_string(format!("/proc/{}/status", p.pid)).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    eprintln!("VmRSS {kb} kB");
    assert!(kb <= MAX_KB, "VmRSS {kb} kB > {MAX_KB} kB");
    p.assert_stops_on(SIGTERM);
}

#[test]
fn stack_is_not_executable() {
    if let Some(r) = runner() {
        // Under an emulator the mappings are the emulator's, not pausle's.
        eprintln!("stack not inspected under {r:?}");
        return;
    }
    let mut p = Pausle::spawn();
    let maps = fs::read_to_string(format!("/proc/{}/maps", p.pid)).unwrap();
    let stack = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .expect("a [stack] mapping");
    let perms = stack.split_whitespace().nth(1).unwrap();
    assert!(!perms.contains('x'), "executable stack: {stack}");
    // A 32-bit ELF without PT_GNU_STACK would get READ_IMPLIES_EXEC instead.
    let personality = fs::read_to_string(format!("/proc/{}/personality", p.pid)).unwrap();
    let personality = u32::from_str_radix(personality.trim(), 16).unwrap();
    const READ_IMPLIES_EXEC: u32 = 0x040_0000;
    assert_eq!(
        personality & READ_IMPLIES_EXEC,
        0,
        "READ_IMPLIES_EXEC is set"
    );
    p.assert_stops_on(SIGTERM);
}

/// Runs pausle (not PID 1) under a seccomp filter that makes `call` fail with `errno`,
/// and asserts it exits at once with its own failure status, 3, having used next to no
/// CPU: it must neither pause unable to stop nor spin.
fn assert_fails_loudly(call: libc::c_long, errno: u32) {
    if let Some(r) = runner() {
        // Under a user-mode emulator a seccomp filter applies to the emulator's own
        // host syscalls, not to the guest's: a denied host rt_sigtimedwait would test
        // qemu's handling of it, not pausle's. What can be tested there, EINTR after
        // SIGSTOP/SIGCONT waiting on, is `sigstop_then_sigcont_do_no_harm`.
        eprintln!("seccomp denial not testable under {r:?}: the filter would apply to it");
        return;
    }
    let mut cmd = pausle(&[]);
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    deny_with_seccomp(&mut cmd, call, errno);
    let mut child = cmd.spawn().expect("spawn pausle under the filter");
    let what = format!("syscall {call} denied with errno {errno}");
    let (status, cpu) = exit_and_cpu(&mut child, STOP_WITHIN).unwrap_or_else(|cpu| {
        panic!("{what}: pausle still running {STOP_WITHIN:?} later, {cpu:?} of CPU so far")
    });
    assert_eq!(status.code(), Some(3), "{what}: {status}");
    assert!(cpu < Duration::from_millis(20), "{what}: {cpu:?} of CPU");
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(err, "", "{what}: no stderr line on this failure (README)");
}

#[test]
fn denied_sigprocmask_exits_at_once() {
    for errno in [libc::EPERM, libc::ENOSYS] {
        assert_fails_loudly(libc::SYS_rt_sigprocmask, errno as u32);
    }
}

#[test]
fn denied_sigtimedwait_exits_at_once() {
    // 0 too: a filter may fake a success that returns no signal at all.
    for errno in [libc::EPERM, libc::ENOSYS, 0] {
        assert_fails_loudly(libc::SYS_rt_sigtimedwait, errno as u32);
    }
}
