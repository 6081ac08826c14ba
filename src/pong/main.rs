//! pong: an HTTP/1.1 responder of a few kilobytes for data-plane latency tests. Every
//! request gets `200 OK` at once (or what its query asks for: `status=`, `size=`,
//! `delay=`); `/healthz` and `/readyz` are the probes. One thread, one epoll set holding
//! the listening socket, a signalfd and one timerfd, fixed per-connection state indexed
//! by file descriptor, no heap. As PID 1 it keeps pausle's signal policy (src/rt.rs):
//! every signal blocked and taken synchronously, children reaped.
#![no_std]
#![no_main]
// There is no libc to supply memcpy, memmove, memset, memcmp or strlen (compiler_builtins
// has them only for targets without one): pong defines the few LLVM still calls (at the
// end of this file, byte loops), and `no_builtins` keeps LLVM from turning pong's own
// loops, those included, into calls to them.
#![no_builtins]

#[path = "../rt.rs"]
mod rt;

mod http;

use http::Request;
use libc::{EAGAIN, EINTR, EPOLLIN, EPOLLOUT};

/// The image has one writable segment, for `STATE` (src/elf.rs).
#[cfg_attr(not(target_env = "musl"), allow(dead_code))]
const DATA_SEGMENTS: usize = 1;
/// ppc64le: the compiler's code reaches statics through a real TOC in r2 (src/arch/
/// powerpc64.rs): `.bss` lies beyond the image's 32 KiB that r2 = image would reach.
#[cfg_attr(not(target_arch = "powerpc64"), allow(dead_code))]
const R2_TOC: bool = true;

/// Connection slots, indexed by file descriptor: 10,240 connections beside the few
/// descriptors pong holds itself. A descriptor at or above the limit (this, or the
/// soft RLIMIT_NOFILE less one) is accepted and closed at once.
const SLOTS: usize = 10_240 + 16;
/// A request head (request line and header lines) must fit in this; over it is a 431
/// (414 when the request line itself does not fit).
const HEAD: usize = 8192;
/// Responses waiting to be written on one connection: pipelined requests are answered
/// into it and written with one writev.
const OUT: usize = 2048;
/// The most one answer adds to `out`: 100 Continue, the longest head, the 400's text.
const ROOM: usize = 256;

/// Where a connection's input stands.
const P_HEAD: u8 = 0; // reading a request head
const P_BODY: u8 = 1; // skipping Content-Length body bytes
const P_SIZE: u8 = 2; // a chunk-size line
const P_DATA: u8 = 3; // skipping chunk data
const P_CRLF: u8 = 4; // the line ending after chunk data
const P_TRAILER: u8 = 5; // trailer lines, up to an empty one
const P_READY: u8 = 6; // the request is complete: answer it
const P_DELAY: u8 = 7; // holding the answer until `deadline`
const P_LINGER: u8 = 8; // answered with close: discard input until the peer closes

/// The events of the loop's pass after the timer: none epoll reports.
const DUE: u32 = 0;
/// epoll tags of pong's own descriptors; a connection's tag is its descriptor.
const T_LISTEN: u64 = SLOTS as u64;
const T_SIGNAL: u64 = SLOTS as u64 + 1;
const T_TIMER: u64 = SLOTS as u64 + 2;

const VERSION: &[u8] = concat!("pong ", env!("CARGO_PKG_VERSION"), "\n").as_bytes();
const USAGE: &[u8] = b"usage: pong [--port N] [--drain S] | -v | --version\n";
/// Set-up and event-loop failures but bind's and listen's, which have their own lines.
const SYSCALL_FAILED: &[u8] = b"pong: a system call failed\n";
/// The longest --drain, a day.
const MAX_DRAIN: u64 = 86_400;
/// The values --port and --drain take, lowest and highest.
const OPT_RANGES: [[u32; 2]; 2] = [[1, 65535], [0, MAX_DRAIN as u32]];

/// The buffers last: every other field within a short offset of the slot's start.
#[repr(C)]
struct Conn {
    /// Where its input stands (`P_*`), first: x86_64 reaches offset 0 in fewer bytes.
    phase: u8,
    /// Whether our side is shut down (after a closing answer).
    shut: bool,
    /// The epoll events asked for (EPOLLIN, EPOLLOUT or none while delayed).
    events: u8,
    /// Unparsed input is `buf[start..len]`.
    start: usize,
    len: usize,
    /// The request being read or answered.
    req: Request,
    /// Body bytes still to skip: Content-Length's, or the current chunk's.
    left: u64,
    /// When a delayed answer is due (see `after`).
    deadline: u64,
    /// Waiting to be written: `out[sent..queued]`, then `zeros` body bytes.
    sent: usize,
    queued: usize,
    zeros: usize,
    buf: [u8; HEAD],
    out: [u8; OUT],
}

/// Everything but the connections, the arrays last (see `Conn`).
#[repr(C)]
struct Global {
    ep: usize,
    listen: usize,
    signal: usize,
    timer: usize,
    /// Connections use descriptors below this.
    limit: usize,
    /// The highest descriptor a connection has had: the timer scans up to it.
    top: usize,
    /// The deadline the timer is armed for (0: none).
    next: u64,
    drain: u32,
    draining: bool,
    drain_until: u64,
    /// The response head from the status line's end up to the Content-Length value
    /// ([`HEAD_TEMPLATE`]) with the Date (RFC 9110 6.6.1), and the second it was made
    /// for.
    head: [u8; 56],
    date_of: usize,
    events: [libc::epoll_event; 64],
    scratch: [u8; 128],
}

/// `global` first: at the start of the segment, near the code, where the RISC arches
/// reach its fields with short address sequences (rustc would put it after the
/// connections, 100 MB on).
#[repr(C)]
struct State {
    global: Global,
    conns: [Conn; SLOTS],
    /// `size=` bodies are written from here: zero pages, never written.
    zeros: [u8; http::MAX_SIZE as usize],
}

/// All of pong's writable state, zero at start: it lives in the image's read+write
/// segment (.bss), which takes no bytes of the file.
static mut STATE: State = unsafe { core::mem::zeroed() };

// System calls: `syscall!` (the result, or -errno) and `syscall_raw!` (for a result
// that is ignored: ppc64 then skips its errno fix-up), each with just the arguments
// the call takes (rt::arch).
use rt::arch::{syscall, syscall_raw};

fn write(fd: usize, text: &[u8]) {
    // SAFETY: `text` is live for the length passed. If the write fails there is no one
    // left to tell.
    unsafe { syscall_raw!(libc::SYS_write, fd, text.as_ptr(), text.len()) };
}

/// One read(2) into `buf`: the byte count or -errno.
fn read(fd: usize, buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is live, writable memory of the length passed.
    unsafe { syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) }
}

fn close(fd: usize) {
    // SAFETY: closes a descriptor pong owns; nothing refers to it afterwards.
    unsafe { syscall_raw!(libc::SYS_close, fd) };
}

fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers.
    unsafe { rt::arch::exit(code) }
}

/// A syscall pong depends on failed (with something other than EINTR/EAGAIN, which
/// callers retry): `line` on stderr, exit 1. It never spins on a failing call.
#[inline(never)]
fn check(r: isize, line: &[u8]) -> usize {
    if r < 0 {
        write(2, line);
        exit(1);
    }
    r as usize
}

/// [`check`] for the set-up and event-loop calls, which share one line: one call site
/// each without the line's address and length.
#[inline(never)]
fn must(r: isize) -> usize {
    check(r, SYSCALL_FAILED)
}

/// Sets what epoll reports for `fd`, tagged `tag`; exits if it cannot (see [`must`]).
#[inline(never)]
fn ctl(g: &Global, op: i32, fd: usize, events: u32, tag: u64) {
    let mut ev = libc::epoll_event { events, u64: tag };
    // SAFETY: `ev` is a live epoll_event; the kernel copies it.
    must(unsafe { syscall!(libc::SYS_epoll_ctl, g.ep, op, fd, &raw mut ev) });
}

/// The time on clock `id`: seconds and nanoseconds.
fn clock(id: libc::clockid_t) -> [usize; 2] {
    let mut ts = [0usize; 2];
    // SAFETY: `ts` is a timespec of the native word size, which the (non-time64)
    // clock_gettime of every arch we build writes.
    unsafe { syscall_raw!(libc::SYS_clock_gettime, id, &raw mut ts) };
    ts
}

/// The monotonic clock `us` microseconds and `secs` seconds from now, as seconds << 32
/// | nanoseconds: ordered like the time, and no 64-bit division on 32-bit arches.
#[inline(never)]
fn after(us: u32, secs: u32) -> u64 {
    let ts = clock(libc::CLOCK_MONOTONIC);
    let [s, ns] = ts;
    let mut ns = ns as u32 + us % 1_000_000 * 1000;
    let mut s = s as u64 + (us / 1_000_000 + secs) as u64;
    if ns >= 1_000_000_000 {
        ns -= 1_000_000_000;
        s += 1;
    }
    s << 32 | ns as u64
}

/// Makes sure the timer fires by `deadline`.
#[inline(never)]
fn arm(g: &mut Global, deadline: u64) {
    if g.next != 0 && g.next <= deadline {
        return;
    }
    g.next = deadline;
    let spec = [0, 0, (deadline >> 32) as usize, deadline as u32 as usize];
    // SAFETY: `spec` is an itimerspec (no interval, an absolute expiry) of the native
    // word size; the old-value pointer is NULL.
    unsafe {
        syscall_raw!(
            libc::SYS_timerfd_settime,
            g.timer,
            libc::TFD_TIMER_ABSTIME,
            &raw const spec,
            0
        )
    };
}

impl Conn {
    /// Queues `s` for writing, dropping what does not fit in `out` (never the case by
    /// `ROOM`).
    #[inline(never)]
    fn put(&mut self, s: &[u8]) {
        for &b in s {
            if let Some(p) = self.out.get_mut(self.queued) {
                *p = b;
                self.queued += 1;
            }
        }
    }

    /// Queues `v` in decimal.
    #[inline(never)]
    fn num(&mut self, v: u32) {
        // Most significant digit first: the higher digits, then this one (at most ten
        // calls deep).
        if v >= 10 {
            self.num(v / 10);
        }
        self.put(&[b'0' + (v % 10) as u8]);
    }
}

/// Refreshes the Date value when the second has changed: one clock_gettime per
/// wake-up, the formatting at most once a second.
fn date(g: &mut Global) {
    let [now, _] = clock(libc::CLOCK_REALTIME);
    if now == g.date_of {
        return;
    }
    g.date_of = now;
    // 86,400 = 128 * 675: a 32-bit division after the shift, where a 64-bit one would
    // take a 64-bit constant (good until the year 19,000).
    let mut days = (now >> 7) as u32 / 675;
    let secs = (now as u32).wrapping_sub(days.wrapping_mul(86_400));
    let weekday = days % 7;
    // Years and months by counting off their lengths: once a second, a few dozen
    // steps, no division. Every fourth year is a leap year until 2100.
    let mut year = 1970;
    while days >= 365 + (year % 4 == 0) as u32 {
        days -= 365 + (year % 4 == 0) as u32;
        year += 1;
    }
    // December is what is left after the first eleven months: `month` stays below 12.
    let mut month = 0;
    while let Some(&len) = MONTH_DAYS.get(month).filter(|_| month < 11) {
        let len = len as u32 + (month == 1 && year % 4 == 0) as u32;
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    // The rest of the head is HEAD_TEMPLATE's, from the start (`run`).
    let d = &mut g.head;
    d[9..12].copy_from_slice(&WEEKDAYS[weekday as usize]);
    d[17..20].copy_from_slice(&MONTHS[month]);
    two(d, 14, days + 1);
    two(d, 21, year / 100);
    two(d, 23, year % 100);
    two(d, 26, secs / 3600);
    two(d, 29, secs / 60 % 60);
    two(d, 32, secs % 60);
}

/// A response head after its status code: the status line's end, the Date (its fields
/// patched in by `date`) and the Content-Length's name, one piece instead of three. A
/// 204, which has no Content-Length (RFC 9110 8.6), takes it up to [`HEAD_DATE_END`].
const HEAD_TEMPLATE: [u8; 56] = *b" \r\nDate: Thu, 00 Jan 0000 00:00:00 GMT\r\nContent-Length: ";
/// The end of the Date value in [`HEAD_TEMPLATE`].
const HEAD_DATE_END: usize = 38;

/// Writes `v` (below 100) as two digits at `d[at..]`.
#[inline(never)]
fn two(d: &mut [u8], at: usize, v: u32) {
    if let Some([a, b]) = d.get_mut(at..at + 2) {
        *a = b'0' + (v / 10) as u8;
        *b = b'0' + (v % 10) as u8;
    }
}

/// Month lengths in a common year.
const MONTH_DAYS: [u8; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// Day names from 1970-01-01, a Thursday.
const WEEKDAYS: [[u8; 3]; 7] = [
    *b"Thu", *b"Fri", *b"Sat", *b"Sun", *b"Mon", *b"Tue", *b"Wed",
];
const MONTHS: [[u8; 3]; 12] = [
    *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct",
    *b"Nov", *b"Dec",
];
/// Queues the answer to `c.req`.
fn answer(c: &mut Conn, g: &mut Global) {
    let r = c.req;
    let close = r.flags & http::CLOSE != 0 || g.draining;
    let weighted = r.flags & http::WEIGHTED != 0;
    let length = if weighted {
        http::WEIGHTED_TEXT.len() as u32
    } else {
        r.size
    };
    c.put(b"HTTP/1.1 ");
    c.num(r.status as u32);
    // 204 has no Content-Length (RFC 9110 8.6); HEAD and 304 state the length GET
    // would have and send no body. Each ending begins with the line end after the
    // Content-Length value or, for 204, the Date's.
    if r.status != 204 {
        c.put(&g.head);
        c.num(length);
    } else {
        c.put(g.head.get(..HEAD_DATE_END).unwrap_or_default());
    }
    c.put(if close {
        b"\r\nConnection: close\r\n\r\n"
    } else if r.flags & http::KEEP_ALIVE != 0 {
        b"\r\nConnection: keep-alive\r\n\r\n"
    } else {
        &b"\r\n\r\n"[..]
    });
    if r.flags & http::HEAD == 0 && r.status != 204 && r.status != 304 {
        if weighted {
            c.put(http::WEIGHTED_TEXT);
        } else {
            c.zeros = r.size as usize;
        }
    }
    c.phase = if close { P_LINGER } else { P_HEAD };
}

/// Answers `status` and closes: the input cannot be read on.
fn fail(c: &mut Conn, status: u16) {
    c.req = http::failure(status);
    c.phase = P_READY;
}

/// Advances `c` over its buffered input by one step; false when it cannot go on
/// without more input or time. Not inlined into `serve` (its one caller): apart, the
/// two need fewer saved registers (x86_64 -128 bytes, i686 -252, s390x -72). But for
/// ppc64, which saves and restores each register with an instruction of its own and
/// its condition fields too: one function saves them once (-208 bytes).
#[cfg_attr(target_arch = "powerpc64", inline(always))]
#[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
fn step(c: &mut Conn, g: &mut Global) -> bool {
    let Some(data) = c.buf.get(c.start..c.len) else {
        return false;
    };
    // Nothing incomplete may fill the whole buffer: it would never complete.
    let full = data.len() == HEAD;
    match c.phase {
        P_HEAD => {
            // RFC 9112 2.2: empty lines before a request line are ignored.
            if let Some((n, b"")) = http::line(data) {
                c.start += n;
                return true;
            }
            match http::parse(data, g.draining, &mut c.req) {
                Some(n) => {
                    let r = c.req;
                    c.start += n;
                    if r.flags & http::CONTINUE != 0 {
                        c.put(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    c.left = r.body;
                    c.phase = if r.flags & http::CHUNKED != 0 {
                        P_SIZE
                    } else if r.body > 0 {
                        P_BODY
                    } else {
                        P_READY
                    };
                }
                None if full => fail(c, if http::line(data).is_none() { 414 } else { 431 }),
                None => return false,
            }
        }
        P_BODY | P_DATA => {
            if data.is_empty() {
                return false;
            }
            let n = c.left.min(data.len() as u64);
            c.start += n as usize;
            c.left -= n;
            if c.left == 0 {
                c.phase = if c.phase == P_BODY { P_READY } else { P_CRLF };
            }
        }
        P_SIZE | P_CRLF | P_TRAILER => {
            let Some((n, line)) = http::line(data) else {
                if full {
                    fail(c, 400);
                    return true;
                }
                return false;
            };
            c.start += n;
            match (c.phase, http::chunk_size(line)) {
                (P_SIZE, Some(0)) => c.phase = P_TRAILER,
                (P_SIZE, Some(size)) => {
                    c.left = size;
                    c.phase = P_DATA;
                }
                (P_CRLF, _) if line.is_empty() => c.phase = P_SIZE,
                (P_TRAILER, _) if line.is_empty() => c.phase = P_READY,
                (P_TRAILER, _) => {}
                _ => fail(c, 400),
            }
        }
        P_READY if c.req.delay != 0 => {
            c.deadline = after(c.req.delay, 0);
            c.phase = P_DELAY;
            arm(g, c.deadline);
            return false;
        }
        P_READY => answer(c, g),
        P_DELAY => return false,
        _ => {
            c.start = c.len;
            return false;
        }
    }
    true
}

/// Ends connection `fd` and frees its slot.
fn drop_conn(c: &mut Conn, fd: usize) {
    close(fd);
    c.start = 0;
    c.len = 0;
    c.phase = P_HEAD;
    c.shut = false;
    c.sent = 0;
    c.queued = 0;
    c.zeros = 0;
}

/// Reads once if `readable`, answers every complete request and writes what it can.
fn serve(s: &mut State, fd: usize, readable: bool) {
    let (g, zeros) = (&mut s.global, &s.zeros);
    let Some(c) = s.conns.get_mut(fd) else {
        return;
    };
    if readable {
        let (start, len) = (c.start, c.len);
        for i in start..len {
            if let Some(&b) = c.buf.get(i)
                && let Some(to) = c.buf.get_mut(i - start)
            {
                *to = b;
            }
        }
        c.len = if c.phase == P_LINGER { 0 } else { len - start };
        c.start = 0;
        if let Some(room) = c.buf.get_mut(c.len..).filter(|r| !r.is_empty()) {
            let n = read(fd, room);
            if n == 0 || (n < 0 && n != -EAGAIN as isize && n != -EINTR as isize) {
                return drop_conn(c, fd);
            }
            c.len += n.max(0) as usize;
        }
    }
    let mut waiting;
    loop {
        let mut blocked = false;
        while c.zeros == 0 && c.queued + ROOM <= OUT {
            if !step(c, g) {
                blocked = true;
                break;
            }
        }
        let head = c.out.get(c.sent..c.queued).unwrap_or_default();
        waiting = head.len() + c.zeros;
        if waiting > 0 {
            let iov = [
                libc::iovec {
                    iov_base: head.as_ptr() as *mut _,
                    iov_len: head.len(),
                },
                libc::iovec {
                    iov_base: zeros.as_ptr() as *mut _,
                    iov_len: c.zeros,
                },
            ];
            // SAFETY: both iovecs describe live memory of the lengths given.
            let n = unsafe { syscall!(libc::SYS_writev, fd, iov.as_ptr(), 2) };
            if n < 0 && n != -EAGAIN as isize && n != -EINTR as isize {
                return drop_conn(c, fd);
            }
            let n = n.max(0) as usize;
            waiting -= n;
            if n >= head.len() {
                c.zeros -= n - head.len();
                c.sent = 0;
                c.queued = 0;
            } else {
                c.sent += n;
            }
            if waiting > 0 {
                break;
            }
        }
        if c.phase == P_LINGER && !c.shut {
            // Half-close, then read until the peer closes: closing with its unread
            // requests still queued would reset the connection and could destroy the
            // answer before the peer reads it.
            // SAFETY: shutdown takes no pointers.
            unsafe { syscall_raw!(libc::SYS_shutdown, fd, libc::SHUT_WR) };
            c.shut = true;
        }
        if blocked {
            break;
        }
    }
    let want = if waiting > 0 {
        EPOLLOUT
    } else if c.phase == P_DELAY {
        0
    } else {
        EPOLLIN
    } as u8;
    if want != c.events {
        c.events = want;
        ctl(g, libc::EPOLL_CTL_MOD, fd, want as u32, fd as u64);
    }
}

fn accept(s: &mut State) {
    let g = &mut s.global;
    // SAFETY: NULL address pointers: the peer's address is not wanted.
    let fd = unsafe {
        syscall!(
            libc::SYS_accept4,
            g.listen,
            0,
            0,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
        )
    };
    if fd == -EAGAIN as isize || fd == -EINTR as isize || fd == -libc::ECONNABORTED as isize {
        return;
    }
    let fd = must(fd);
    // At the limit: accepted and closed at once, so the backlog never fills with
    // connections that wait for nothing.
    let Some(c) = s.conns.get_mut(fd).filter(|_| fd < g.limit) else {
        return close(fd);
    };
    ctl(g, libc::EPOLL_CTL_ADD, fd, EPOLLIN as u32, fd as u64);
    c.events = EPOLLIN as u8;
    g.top = g.top.max(fd);
}

fn signal(s: &mut State) {
    let g = &mut s.global;
    // `scratch` is exactly one signalfd_siginfo long.
    let n = read(g.signal, &mut g.scratch);
    if n < 4 {
        return;
    }
    let [a, b, c, d, ..] = g.scratch;
    match u32::from_ne_bytes([a, b, c, d]) as i32 {
        libc::SIGINT => exit(0),
        libc::SIGTERM if g.drain == 0 => exit(0),
        // Draining: /readyz answers 503 and every answer closes its connection, so the
        // endpoint leaves the load balancers before the process goes.
        libc::SIGTERM if !g.draining => {
            g.draining = true;
            g.drain_until = after(0, g.drain);
            arm(g, g.drain_until);
        }
        _ => rt::reap(),
    }
}

fn timer(s: &mut State) {
    let g = &mut s.global;
    // The timer's 8-byte expiry count: reading it ends its readiness.
    read(g.timer, g.scratch.get_mut(..8).unwrap_or_default());
    let now = after(0, 0);
    g.next = 0;
    if g.draining {
        if g.drain_until <= now {
            exit(0);
        }
        arm(g, g.drain_until);
    }
    // Each answer that is due becomes ready, and the event loop answers it (see `DUE`).
    for fd in 0..=s.global.top {
        let Some(c) = s.conns.get_mut(fd).filter(|c| c.phase == P_DELAY) else {
            continue;
        };
        if c.deadline <= now {
            c.req.delay = 0;
            c.phase = P_READY;
        } else {
            let deadline = c.deadline;
            arm(&mut s.global, deadline);
        }
    }
}

/// The C string at `p` as a slice.
///
/// # Safety
/// `p` must point to a NUL-terminated string that outlives the slice.
#[inline(never)]
unsafe fn arg<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    // SAFETY: reads stop at the NUL, within the string.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: the n bytes before the NUL are the string.
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// Called by the arch's `_start` with the initial stack pointer, where the kernel put
/// `argc` followed by `argv[0..argc]` and a NULL.
///
/// # Safety
/// `sp` must be the process's initial stack pointer as set up by `execve`.
unsafe extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: execve puts argc at sp[0], then argc pointers to NUL-terminated strings.
    let args = unsafe { core::slice::from_raw_parts(sp.add(1) as *const *const u8, *sp) };
    // --port N (1-65535) and --drain SECONDS (0-MAX_DRAIN), in any order.
    let mut opts = [8080, 0];
    let mut rest = args.get(1..).unwrap_or_default();
    while let [a, more @ ..] = rest {
        // SAFETY: every argv entry is a NUL-terminated string that lives forever.
        let a = http::word(unsafe { arg(*a) }, http::EXACT);
        if args.len() == 2 && (a == http::ARG_V || a == http::ARG_VERSION) {
            write(1, VERSION);
            exit(0);
        }
        // 0 for --port, 1 for --drain (the words that follow it), anything else for
        // the rest.
        let which = a.wrapping_sub(http::ARG_PORT) as usize;
        // SAFETY: as above.
        let value = more.first().and_then(|&v| http::number(unsafe { arg(v) }));
        match (value, OPT_RANGES.get(which), opts.get_mut(which)) {
            (Some(v), Some(&[low, high]), Some(opt)) if v >= low as u64 && v <= high as u64 => {
                *opt = v
            }
            _ => {
                write(2, USAGE);
                exit(2);
            }
        }
        rest = more.get(1..).unwrap_or_default();
    }
    let state = &raw mut STATE;
    // SAFETY: the only reference to STATE there ever is; one thread.
    run(unsafe { &mut *state }, opts[0] as u16, opts[1] as u32)
}

/// The listening socket's options: level, name and value, which setsockopt reads from
/// here.
static SOCKOPTS: [[libc::c_int; 3]; 3] = [
    [libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0],
    [libc::SOL_SOCKET, libc::SO_REUSEADDR, 1],
    // Accepted sockets inherit it: an answer goes out without waiting for the ACK of
    // the previous one.
    [libc::IPPROTO_TCP, libc::TCP_NODELAY, 1],
];

#[inline(always)]
fn run(s: &mut State, port: u16, drain: u32) -> ! {
    // Unblocked, SIGTERM would kill pong (not PID 1) or be dropped (PID 1) instead of
    // draining it: fail loudly. rt_sigprocmask's raw result is 0 or a failure.
    if rt::block_all!(&rt::ALL_BYTES as *const _ as usize) != 0 {
        must(-1);
    }
    let g = &mut s.global;
    g.drain = drain;
    g.head = HEAD_TEMPLATE;
    // Descriptors inherited from whoever started us serve pong nothing, and one at the
    // top of the limit would take the spare that lets a connection at the limit be
    // accepted and closed (accept4 would fail with EMFILE instead). Keep stdio only.
    // (close_range is Linux 5.9; on an older kernel it fails and they stay.)
    // SAFETY: closes descriptors only; none of ours is open yet.
    unsafe { syscall_raw!(libc::SYS_close_range, 3, u32::MAX, 0) };
    // Many nodes start containers with a soft limit of 1024 descriptors: raise it to the
    // hard limit, and keep connections below it less one (see SLOTS).
    let mut lim = [u64::MAX; 2];
    // SAFETY: `lim` is an rlimit64; a NULL new limit only reads.
    unsafe { syscall_raw!(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, 0, &raw mut lim) };
    lim[0] = lim[1];
    // SAFETY: as above; a NULL old limit only writes.
    unsafe {
        syscall_raw!(
            libc::SYS_prlimit64,
            0,
            libc::RLIMIT_NOFILE,
            &raw const lim,
            0
        )
    };
    g.limit = lim[0].saturating_sub(1).min(SLOTS as u64) as usize;

    // One IPv6 socket for both families (IPV6_V6ONLY off), or IPv4 where the kernel has
    // no IPv6. sockaddr_in6 and sockaddr_in agree on family and port, and the rest is
    // the any-address, zeros.
    let mut addr = [0u8; 28];
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let mut family = libc::AF_INET6;
    // SAFETY: socket takes no pointers.
    let mut fd = unsafe { syscall!(libc::SYS_socket, family, kind, 0) };
    if fd < 0 {
        family = libc::AF_INET;
        // SAFETY: as above.
        fd = unsafe { syscall!(libc::SYS_socket, family, kind, 0) };
    }
    let fd = must(fd);
    let [f0, f1] = (family as u16).to_ne_bytes();
    let [p0, p1] = port.to_be_bytes();
    addr[..4].copy_from_slice(&[f0, f1, p0, p1]);
    for [level, option, value] in &SOCKOPTS {
        // SAFETY: `value` is a live int of the length passed (the kernel only reads
        // it). IPV6_V6ONLY fails on an IPv4 socket, harmlessly.
        unsafe {
            syscall_raw!(
                libc::SYS_setsockopt,
                fd,
                *level,
                *option,
                value as *const _,
                4
            )
        };
    }
    let len = if family == libc::AF_INET6 { 28 } else { 16 };
    // SAFETY: `addr` is a live sockaddr of the length passed.
    check(
        unsafe { syscall!(libc::SYS_bind, fd, addr.as_ptr(), len) },
        b"pong: bind failed\n",
    );
    // SAFETY: listen takes no pointers.
    check(
        unsafe { syscall!(libc::SYS_listen, fd, 4096) },
        b"pong: listen failed\n",
    );
    g.listen = fd;
    // Each descriptor joins the epoll set as soon as it exists. SAFETY: none of these
    // takes a pointer but signalfd4's, a constant set of the size passed.
    unsafe {
        g.ep = must(syscall!(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC));
        ctl(g, libc::EPOLL_CTL_ADD, fd, EPOLLIN as u32, T_LISTEN);
        g.signal = must(syscall!(
            libc::SYS_signalfd4,
            -1isize,
            &rt::WAITED_BYTES as *const _,
            rt::SIGSET_BYTES,
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC
        ));
        ctl(g, libc::EPOLL_CTL_ADD, g.signal, EPOLLIN as u32, T_SIGNAL);
        g.timer = must(syscall!(
            libc::SYS_timerfd_create,
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC
        ));
        ctl(g, libc::EPOLL_CTL_ADD, g.timer, EPOLLIN as u32, T_TIMER);
    }
    // Zombies can predate us, and their SIGCHLD is gone.
    rt::reap();
    loop {
        let g = &mut s.global;
        // SAFETY: `events` is live for 64 entries; the fifth argument, the signal mask,
        // is NULL, which leaves ours (and makes the kernel ignore the sixth, its size).
        let n = unsafe {
            syscall!(
                libc::SYS_epoll_pwait,
                g.ep,
                g.events.as_mut_ptr(),
                64,
                -1isize,
                0
            )
        };
        if n == -EINTR as isize {
            continue;
        }
        let n = must(n);
        date(g);
        for i in 0..n {
            let Some(&ev) = s.global.events.get(i) else {
                break;
            };
            // The connections to serve: the one the event is for or, after the timer,
            // every one whose delayed answer it made ready (no event asked for: the
            // slot of a connection that has been accepted always has one otherwise).
            let (events, first, last) = match ev.u64 {
                T_LISTEN => {
                    accept(s);
                    continue;
                }
                T_SIGNAL => {
                    signal(s);
                    continue;
                }
                T_TIMER => {
                    timer(s);
                    (DUE, 0, s.global.top)
                }
                fd => (ev.events, fd as usize, fd as usize),
            };
            for fd in first..=last {
                let Some(c) = s.conns.get_mut(fd) else {
                    break;
                };
                if events == DUE {
                    if c.phase != P_READY || c.events != 0 {
                        continue;
                    }
                } else if events & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                    drop_conn(c, fd);
                    continue;
                }
                serve(s, fd, events & EPOLLIN as u32 != 0);
            }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}

// The memory functions LLVM may call for copies, fills and comparisons it emits itself
// (struct copies, array initialisers, slice equality): no libc here to supply them.
// Byte loops: pong's are short, and `no_builtins` keeps these from calling themselves.

/// # Safety
/// As C's memset.
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(to: *mut u8, byte: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller's `to[..n]` is writable.
        unsafe { *to.add(i) = byte as u8 };
    }
    to
}

/// # Safety
/// As C's memcpy (and memmove: the copy runs forward or backward as the overlap needs).
#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(to: *mut u8, from: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        let i = if (to as usize) < (from as usize) {
            i
        } else {
            n - 1 - i
        };
        // SAFETY: the caller's `from[..n]` is readable and `to[..n]` writable.
        unsafe { *to.add(i) = *from.add(i) };
    }
    to
}

/// # Safety
/// As C's memcpy.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(to: *mut u8, from: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract is memmove's.
    unsafe { memmove(to, from, n) }
}

/// # Safety
/// As C's memcmp.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller's `a[..n]` and `b[..n]` are readable.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

/// # Safety
/// As C's bcmp.
#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's contract is memcmp's.
    unsafe { memcmp(a, b, n) }
}
