//! What tests/pong.rs and tests/pong_hyper.rs share: running a pong binary on a port of
//! its own, and a strict HTTP/1.1 response reader over a raw TCP stream.
//!
//! `PONG_BIN` names the binary (default: this crate's own `pong` when it has one) and
//! `PONG_RUNNER` an optional program to run it with (`qemu-aarch64-static`), as
//! `PAUSLE_BIN`/`PAUSLE_RUNNER` do for tests/behaviour.rs.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::env;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use libc::pid_t;

pub fn binary() -> PathBuf {
    env::var_os("PONG_BIN")
        .filter(|b| !b.is_empty())
        .or_else(|| option_env!("CARGO_BIN_EXE_pong").map(OsString::from))
        .map(PathBuf::from)
        .expect("no pong to test: set PONG_BIN to a pong binary (this crate builds none yet)")
}

pub fn runner() -> Option<OsString> {
    env::var_os("PONG_RUNNER").filter(|r| !r.is_empty())
}

/// A user-mode emulator translates every instruction: its timings get this much slack.
pub fn slow() -> u32 {
    if runner().is_some() { 5 } else { 1 }
}

/// How long anything may take before a case fails instead of hanging.
pub fn patience() -> Duration {
    Duration::from_secs(10) * slow()
}

/// The program and arguments that run pong, through the runner if there is one.
pub fn pong_argv() -> Vec<OsString> {
    runner()
        .into_iter()
        .chain([binary().into_os_string()])
        .collect()
}

pub fn pong_cmd(args: &[&str]) -> Command {
    let argv = pong_argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).args(args);
    cmd
}

/// Ports below the kernel's ephemeral range (32768- by default), so that no client
/// socket of a parallel case can hold the one pong is about to bind.
pub fn candidate_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20000
            + (std::process::id()
                .wrapping_mul(7919)
                .wrapping_add(n.wrapping_mul(131))
                % 12000) as u16;
        // Free on both families right now (pong binds [::] with IPV6_V6ONLY off).
        // One at a time: a dual-stack [::] socket conflicts with a 0.0.0.0 one.
        let v4 = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok();
        let v6 = TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).is_ok();
        if v4 && (v6 || !has_ipv6()) {
            return port;
        }
    }
}

/// Whether this kernel and network namespace do IPv6 (pods without it exist).
pub fn has_ipv6() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Raises this test process's soft RLIMIT_NOFILE to its hard limit (cases that hold
/// thousands of sockets) and returns that limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    lim.rlim_max
}

/// A running pong: `child` is what we spawned (pong, its runner, or an `unshare` that
/// forked it), `pid` pong's own PID as seen from here.
pub struct Pong {
    pub child: Child,
    pub pid: pid_t,
    pub port: u16,
    stderr: PathBuf,
}

pub fn stderr_path(port: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pong-{}-{port}.stderr", std::process::id()))
}

impl Pong {
    /// pong with `args` and `--port N` on a free port, once it answers a request.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, |_| {})
    }

    /// As `start`, with `setup` applied to the command (e.g. a pre_exec).
    pub fn start_with(args: &[&str], setup: impl Fn(&mut Command)) -> Self {
        Self::launch(|port| {
            let mut cmd = pong_cmd(args);
            cmd.args(["--port", &port.to_string()]);
            setup(&mut cmd);
            cmd
        })
    }

    /// Starts whatever `make(port)` returns (pong itself, or something that execs it),
    /// retrying on another port if a racing process took this one (exit 1).
    pub fn launch(make: impl Fn(u16) -> Command) -> Self {
        for _ in 0..5 {
            let port = candidate_port();
            let path = stderr_path(port);
            let mut cmd = make(port);
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&path).unwrap())
                .spawn()
                .expect("spawn pong");
            let pid = child.id() as pid_t;
            let mut p = Pong {
                child,
                pid,
                port,
                stderr: path,
            };
            match p.wait_serving() {
                Ok(()) => return p,
                Err(status) if status.code() == Some(1) => continue,
                Err(status) => panic!("pong exited before serving: {status}: {}", p.stderr()),
            }
        }
        panic!("pong could not bind any of 5 free ports");
    }

    /// Until a request on a new connection gets its 200 (or pong exits).
    fn wait_serving(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + patience();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            if let Ok(mut c) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                c.set_read_timeout(Some(patience())).unwrap();
                if c.write_all(b"GET / HTTP/1.1\r\nHost: pong\r\n\r\n").is_ok() {
                    let mut buf = [0; 12];
                    if c.read_exact(&mut buf).is_ok() && &buf == b"HTTP/1.1 200" {
                        return Ok(());
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "pong not serving on {}",
                self.port
            );
            sleep(Duration::from_millis(10));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.port).into()
    }

    pub fn conn(&self) -> Conn {
        match TcpStream::connect_timeout(&self.addr(), patience()) {
            Ok(s) => Conn::from(s),
            Err(e) => panic!(
                "connect to pong: {e} (pong {}; its stderr: {:?})",
                self.peek_status(),
                self.stderr()
            ),
        }
    }

    /// Whether the process we spawned still runs, or how it ended, without reaping it.
    pub fn peek_status(&self) -> String {
        // SAFETY: an all-zero siginfo_t is valid; waitid writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
        // SAFETY: `info` is live; WNOWAIT leaves the child to be reaped by `Child`.
        let rc = unsafe { libc::waitid(libc::P_PID, self.child.id(), &mut info, flags) };
        // SAFETY: si_pid and si_status are set when waitid reported a child.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        match (rc, pid, info.si_code) {
            (0, 0, _) => "running".into(),
            (0, _, libc::CLD_EXITED) => format!("exited with {status}"),
            (0, _, _) => format!("killed by signal {status}"),
            _ => format!("unknown: {}", std::io::Error::last_os_error()),
        }
    }

    /// What pong wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory preconditions.
        let rc = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Its exit status, failing the case if it runs on after `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!("pong still running {within:?} later");
            }
            sleep(Duration::from_micros(500));
        }
    }

    /// A fresh connection still gets its 200: after every malformed case.
    pub fn assert_serves(&mut self, after: &str) {
        assert!(
            self.running(),
            "pong exited after {after}: {}",
            self.stderr()
        );
        let mut c = self.conn();
        c.send(b"GET / HTTP/1.1\r\nHost: pong\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status, 200, "a fresh connection after {after}");
    }
}

impl Drop for Pong {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SIGKILL reaches even a namespace init from its parent namespace.
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.child.kill().ok();
            self.child.wait().ok();
        }
        fs::remove_file(&self.stderr).ok();
    }
}

/// One response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Every byte of it, head and body.
    pub raw: Vec<u8>,
}

impl Response {
    /// The value of the one header `name`, failing the case if it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut all = self.headers_named(name);
        assert!(all.len() <= 1, "{name} repeated: {:?}", self.headers);
        all.pop()
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether it carries the connection option `opt` (`close`, `keep-alive`).
    pub fn connection_has(&self, opt: &str) -> bool {
        self.headers_named("connection")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|o| o.trim().eq_ignore_ascii_case(opt))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How reading a response can end without one.
#[derive(Debug, PartialEq, Eq)]
pub enum NoResponse {
    /// EOF or a reset with no byte of a response pending.
    Closed,
    /// Nothing more arrived in time.
    Silent,
}

/// A client connection, reading responses strictly (RFC 9112 4 and 6).
pub struct Conn {
    pub s: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    /// Set for a server other than pong (the differential test's hyper), whose every
    /// body is empty: HTTP/1.0 status lines, and no Content-Length meaning none.
    pub lax: bool,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let s = TcpStream::connect_timeout(&addr, patience()).expect("connect to pong");
        Self::from(s)
    }

    pub fn from(s: TcpStream) -> Self {
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(patience())).unwrap();
        s.set_write_timeout(Some(patience())).unwrap();
        Self {
            s,
            buf: Vec::new(),
            eof: false,
            lax: false,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send to pong");
    }

    /// One read into the buffer; false at EOF or reset.
    fn fill(&mut self, within: Duration) -> Result<(), NoResponse> {
        if self.eof {
            return Err(NoResponse::Closed);
        }
        self.s.set_read_timeout(Some(within)).unwrap();
        let mut chunk = [0; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Err(NoResponse::Closed)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(NoResponse::Silent)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            // A reset after the bytes before it were read: the peer closed.
            Err(_) => {
                self.eof = true;
                Err(NoResponse::Closed)
            }
        }
    }

    /// The next response to a GET-like request, failing the case if there is none.
    pub fn response(&mut self) -> Response {
        self.try_response(false, patience())
            .unwrap_or_else(|e| panic!("no response: {e:?}"))
    }

    /// The next response to a HEAD request (no body whatever its Content-Length).
    pub fn head_response(&mut self) -> Response {
        self.try_response(true, patience())
            .unwrap_or_else(|e| panic!("no response: {e:?}"))
    }

    /// The next response, or why there is none; `idle` is how long to wait for each
    /// further byte. A malformed or truncated response fails the case.
    pub fn try_response(&mut self, head: bool, idle: Duration) -> Result<Response, NoResponse> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if let Err(e) = self.fill(idle) {
                assert!(
                    self.buf.is_empty(),
                    "{e:?} inside a response head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return Err(e);
            }
        };
        let head_text = std::str::from_utf8(&self.buf[..end - 4])
            .unwrap_or_else(|_| panic!("response head not ASCII: {:?}", &self.buf[..end]))
            .to_owned();
        let mut lines = head_text.split("\r\n");
        let status_line = lines.next().unwrap();
        let rest = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 ").filter(|_| self.lax))
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let (code, reason) = rest.split_at(3.min(rest.len()));
        assert!(
            code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
            "status line {status_line:?}"
        );
        let reason = reason
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let status: u16 = code.parse().unwrap();
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("header line {line:?}"));
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()),
                "header name {name:?}"
            );
            headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
        }
        let mut r = Response {
            status,
            reason: reason.to_owned(),
            headers,
            body: Vec::new(),
            raw: Vec::new(),
        };
        // RFC 9112 6.3: 1xx, 204 and 304 (and any answer to HEAD) end at the head.
        let bodiless = head || status < 200 || status == 204 || status == 304;
        let len = if bodiless || (self.lax && r.header("content-length").is_none()) {
            0
        } else {
            let cl = r
                .header("content-length")
                .unwrap_or_else(|| panic!("a {status} with no Content-Length: {head_text:?}"));
            assert!(
                r.header("transfer-encoding").is_none(),
                "Transfer-Encoding in a response: {head_text:?}"
            );
            cl.parse::<usize>()
                .unwrap_or_else(|_| panic!("Content-Length {cl:?}"))
        };
        while self.buf.len() < end + len {
            if let Err(e) = self.fill(idle) {
                panic!(
                    "{e:?} after {} of {len} body bytes of a {status}",
                    self.buf.len() - end
                );
            }
        }
        r.raw = self.buf.drain(..end + len).collect();
        r.body = r.raw[end..].to_vec();
        Ok(r)
    }

    /// Asserts that the server closes the connection with nothing more sent.
    pub fn assert_closed(&mut self, after: &str) {
        match self.fill(patience()) {
            Err(NoResponse::Closed) if self.buf.is_empty() => {}
            Err(NoResponse::Silent) => {
                panic!("connection still open {:?} after {after}", patience())
            }
            _ => panic!(
                "more bytes after {after}: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Asserts that nothing arrives and the connection stays open for `quiet`.
    pub fn assert_open(&mut self, quiet: Duration, after: &str) {
        match self.fill(quiet) {
            Err(NoResponse::Silent) => {}
            Err(NoResponse::Closed) => panic!("closed after {after}"),
            Ok(()) => panic!(
                "unexpected bytes after {after}: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Every response until the server goes quiet for `idle` or closes; whether it closed.
    pub fn drain_responses(&mut self, idle: Duration) -> (Vec<Response>, bool) {
        let mut out = Vec::new();
        loop {
            match self.try_response(false, idle) {
                Ok(r) => out.push(r),
                Err(e) => return (out, e == NoResponse::Closed),
            }
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A small seeded generator (xorshift64*): the same seed, the same case.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}
