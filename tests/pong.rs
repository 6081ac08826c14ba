//! pong's contract (issue #11) checked from outside, through real sockets, against a
//! built binary: `PONG_BIN` (and `PONG_RUNNER=qemu-<arch>-static` for a foreign arch;
//! see tests/pong_common). Each case starts its own pong on a port of its own.
//!
//! What qemu-user cannot do, and so what is left out or changed under a runner:
//! - /proc/PID/maps and /proc/PID/personality show the emulator's own mappings, not
//!   the guest's: the W^X check reads the file's program headers (everywhere) and
//!   the live mappings natively only.
//! - an external SIGILL, SIGFPE, SIGSEGV or SIGBUS kills qemu itself (it reads them as
//!   faults of its own emulation), so the stray-signal case leaves them out there.
//! - seccomp filters would apply to the emulator's host syscalls, not the guest's:
//!   none is tested here (tests/seccomp covers the profile natively).
//! - timings: every bound is multiplied by `slow()` under a runner.
//!
//! PID namespaces work under qemu (`unshare` is a host program, and qemu serves the
//! guest's wait4 with the host's), so the PID 1 cases run everywhere; so do the
//! descriptor-limit cases (qemu passes RLIMIT_NOFILE through to the host).
//!
//! Not driven from outside at all: the IPv4 fallback (it needs a kernel without IPv6,
//! which a network namespace cannot fake: disable_ipv6 leaves socket(AF_INET6) working)
//! and the exit on a failed event-loop syscall (nothing here can make epoll_wait fail).

mod pong_common;
mod procs;

use std::fs;
use std::io::Write;
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread::{self, sleep};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libc::{SIGINT, SIGKILL, SIGSTOP, SIGTERM, c_int, pid_t};
use pong_common::*;
use procs::*;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: pong\r\n\r\n";

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: pong\r\n\r\n").into_bytes()
}

/// One request on a new connection, and its response.
fn ask(p: &Pong, request: &[u8]) -> Response {
    let mut c = p.conn();
    c.send(request);
    c.response()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n) * slow()
}

// ---- the plain answer -------------------------------------------------------------

/// RFC 9110 5.6.7 IMF-fixdate of a Unix time.
fn imf_fixdate(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86400) as i64;
    let s = secs % 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn imf_fixdate_is_right() {
    // The test's own formatter, against RFC 9110's example and a leap day.
    assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

/// The Date a response carries, checked to be an IMF-fixdate between `before` and
/// `after` (whole seconds; pong may compute it up to a second early).
fn assert_date(r: &Response, before: u64, after: u64) {
    let date = r.header("date").expect("a Date header (RFC 9110 6.6.1)");
    let ok = (before.saturating_sub(1)..=after).any(|t| imf_fixdate(t) == date);
    assert!(
        ok,
        "Date {date:?} is not the IMF-fixdate of a time in {}..={}",
        imf_fixdate(before),
        imf_fixdate(after)
    );
}

#[test]
fn any_method_any_path_is_200_with_content_length_0_and_a_date() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for req in [
        &b"GET / HTTP/1.1\r\nHost: pong\r\n\r\n"[..],
        b"POST /a/b/c HTTP/1.1\r\nHost: pong\r\nContent-Length: 0\r\n\r\n",
        b"PUT /x?y=z HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"DELETE /x HTTP/1.1\r\nHost: pong\r\nUser-Agent: t\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"FROB http://pong/abs?q HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nhost: pong\r\nAccept: */*\r\n\r\n",
    ] {
        let before = now();
        c.send(req);
        let r = c.response();
        let after = now();
        let what = String::from_utf8_lossy(req);
        // (The reason phrase is not checked: RFC 9112 4 lets it be empty, and a client
        // ignores it.)
        assert_eq!(r.status, 200, "{what}");
        assert_eq!(r.header("content-length"), Some("0"), "{what}");
        assert_date(&r, before, after);
        // "and nothing else one does not need"
        let names: Vec<String> = r.headers.iter().map(|h| h.0.to_ascii_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["content-length", "date"],
            "{what}: {:?}",
            r.headers
        );
    }
}

#[test]
fn the_date_follows_the_clock() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let mut dates = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        let before = now();
        c.send(GET);
        let r = c.response();
        assert_date(&r, before, now());
        dates.push(r.header("date").unwrap().to_owned());
        sleep(Duration::from_millis(100));
    }
    dates.dedup();
    assert!(
        dates.len() >= 2,
        "the Date never changed in 2.5 s: {dates:?}"
    );
}

// ---- connections ------------------------------------------------------------------

#[test]
fn keep_alive_serves_many_requests_and_never_closes_an_idle_connection() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for i in 0..50 {
        c.send(&get(&format!("/{i}")));
        assert_eq!(c.response().status, 200);
    }
    // Envoy reuses pooled connections: a server-side idle close would show as 503s.
    c.assert_open(Duration::from_secs(3), "3 s idle");
    c.send(GET);
    assert_eq!(c.response().status, 200);
}

/// status=N&size=M of the i-th request of a batch, so that order is visible.
fn numbered(i: usize) -> (u16, usize) {
    ([200, 201, 202, 203, 299][i % 5], i)
}

#[test]
fn a_hundred_pipelined_requests_in_one_write_are_answered_in_order() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let mut batch = Vec::new();
    for i in 0..100 {
        let (status, size) = numbered(i);
        batch.extend(get(&format!("/p?status={status}&size={size}")));
    }
    c.send(&batch);
    for i in 0..100 {
        let r = c.response();
        let (status, size) = numbered(i);
        assert_eq!((r.status, r.body.len()), (status, size), "response {i}");
    }
    c.assert_open(ms(300), "100 pipelined responses");
}

/// A stream of every kind of request that pong answers the same way however it is cut.
fn mixed_stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(get("/"));
    s.extend(b"POST /cl HTTP/1.1\r\nHost: pong\r\nContent-Length: 11\r\n\r\nhello world");
    s.extend(
        b"POST /chunked HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\nA;a;b=\"q\"\r\n0123456789\r\n0;last\r\nX-Trailer: t\r\n\r\n",
    );
    s.extend(b"HEAD /?size=7 HTTP/1.1\r\nHost: pong\r\n\r\n");
    s.extend(get("/?status=404&size=3"));
    s.extend(get("/?status=204"));
    s.extend(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s.extend(get("/healthz"));
    s.extend(get("/?size=1000"));
    s.extend(b"GET /last HTTP/1.1\r\nHost: pong\r\nConnection: close\r\n\r\n");
    s
}

/// Every byte pong sends until it closes, with each Date's value blanked (it changes
/// with the clock, and only with it).
fn all_bytes_until_close(c: &mut Conn) -> Vec<u8> {
    let mut out = Vec::new();
    let mut head = [
        false, false, false, true, false, false, false, false, false, false,
    ]
    .into_iter();
    loop {
        match c.try_response(head.next().unwrap_or(false), patience()) {
            Ok(r) => out.extend(r.raw),
            Err(NoResponse::Closed) => break,
            Err(NoResponse::Silent) => panic!("pong went silent before closing"),
        }
    }
    let mut i = 0;
    while let Some(at) = find(&out[i..], b"\r\nDate: ") {
        let v = i + at + 8;
        out[v..v + 29].fill(b'#');
        i = v;
    }
    out
}

#[test]
fn the_same_stream_split_anywhere_gets_byte_identical_responses() {
    let p = Pong::start(&[]);
    let stream = mixed_stream();
    let mut whole = p.conn();
    whole.send(&stream);
    let reference = all_bytes_until_close(&mut whole);
    assert_eq!(
        reference.windows(9).filter(|w| w == b"HTTP/1.1 ").count(),
        10,
        "ten responses"
    );
    let cuts_of = |seed: u64| -> Vec<usize> {
        let mut rng = Rng::new(seed);
        let n = 1 + rng.below(40);
        let mut cuts: Vec<usize> = (0..n).map(|_| 1 + rng.below(stream.len() - 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    };
    let byte_by_byte: Vec<usize> = (1..stream.len()).collect();
    let mut plans: Vec<(String, Vec<usize>)> = (1..=30)
        .map(|seed| (format!("seed {seed}"), cuts_of(seed)))
        .collect();
    plans.push(("one byte at a time".into(), byte_by_byte));
    for (what, cuts) in plans {
        let mut c = p.conn();
        let mut from = 0;
        for &to in cuts.iter().chain([&stream.len()]) {
            c.send(&stream[from..to]);
            from = to;
            // Long enough for pong to read each piece on its own, most of the time.
            sleep(Duration::from_micros(if cuts.len() > 100 {
                50
            } else {
                2000
            }));
        }
        let got = all_bytes_until_close(&mut c);
        assert!(
            got == reference,
            "{what} (cuts {cuts:?}): responses differ:\n{}\n---\n{}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&reference)
        );
    }
}

#[test]
fn http_1_0_is_closed_unless_keep_alive_which_the_answer_says() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(!r.connection_has("keep-alive"), "{:?}", r.headers);
    c.assert_closed("an HTTP/1.0 request without keep-alive");

    let mut c = p.conn();
    for _ in 0..3 {
        c.send(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status, 200);
        assert!(r.connection_has("keep-alive"), "{:?}", r.headers);
    }
    c.assert_open(ms(300), "HTTP/1.0 keep-alive");
    c.send(b"GET / HTTP/1.0\r\nHost: pong\r\n\r\n");
    assert_eq!(c.response().status, 200);
    c.assert_closed("HTTP/1.0 without keep-alive after keep-alive ones");
}

#[test]
fn connection_close_is_answered_then_closed_and_nothing_after_it_is() {
    let p = Pong::start(&[]);
    for opt in ["close", "Close", "keep-alive, close", "foo,close"] {
        let mut c = p.conn();
        c.send(&get("/"));
        assert_eq!(c.response().status, 200);
        let mut two =
            format!("GET / HTTP/1.1\r\nHost: pong\r\nConnection: {opt}\r\n\r\n").into_bytes();
        two.extend(get("/?status=299"));
        c.send(&two);
        assert_eq!(c.response().status, 200, "Connection: {opt}");
        c.assert_closed(&format!("Connection: {opt}"));
    }
}

// ---- bodies -----------------------------------------------------------------------

#[test]
fn content_length_bodies_are_read_and_discarded() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    // A body that looks like a request must not be taken for one.
    let inner = get("/?status=500");
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: pong\r\nContent-Length: {}\r\n\r\n",
        inner.len()
    )
    .into_bytes();
    req.extend(&inner);
    req.extend(get("/?status=201"));
    c.send(&req);
    assert_eq!(c.response().status, 200);
    assert_eq!(c.response().status, 201);
    // A body far larger than any request buffer, in pieces.
    let big = 1 << 20;
    c.send(format!("PUT /big HTTP/1.1\r\nHost: pong\r\nContent-Length: {big}\r\n\r\n").as_bytes());
    let piece = vec![b'x'; 65536];
    for _ in 0..big / piece.len() {
        c.send(&piece);
    }
    c.send(&get("/?status=202"));
    assert_eq!(c.response().status, 200);
    assert_eq!(c.response().status, 202);
}

#[test]
fn chunked_bodies_with_extensions_and_trailers_are_read_and_discarded() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let bodies: [&[u8]; 5] = [
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5;name=value\r\nhello\r\n6;a;b=\"x y\"\r\n world\r\n0\r\n\r\n",
        b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n000a\r\n0123456789\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0;done\r\nX-Trailer: 1\r\nOther-Trailer: two\r\n\r\n",
        // Chunk data that looks like a request (35 = 0x23 bytes).
        b"23\r\nGET /?status=500 HTTP/1.1\r\nH: x\r\n\r\n\r\n0\r\n\r\n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let mut req =
            b"POST /c HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend(*body);
        req.extend(get("/?status=201"));
        c.send(&req);
        assert_eq!(c.response().status, 200, "chunked body {i}");
        assert_eq!(c.response().status, 201, "after chunked body {i}");
    }
    // A large chunked body, one chunk per write.
    c.send(b"POST /c HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..64 {
        let mut chunk = b"4000\r\n".to_vec();
        chunk.extend(vec![b'z'; 0x4000]);
        chunk.extend(b"\r\n");
        c.send(&chunk);
    }
    c.send(b"0\r\n\r\n");
    assert_eq!(c.response().status, 200);
    c.assert_open(ms(200), "a 1 MiB chunked body");
}

#[test]
fn expect_100_continue_gets_100_before_the_body() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for (framing, body) in [
        ("Content-Length: 5", &b"hello"[..]),
        ("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"),
    ] {
        c.send(
            format!("POST / HTTP/1.1\r\nHost: pong\r\nExpect: 100-continue\r\n{framing}\r\n\r\n")
                .as_bytes(),
        );
        let interim = c.response();
        assert_eq!(interim.status, 100, "{framing}: {:?}", interim.raw);
        c.assert_open(ms(200), "100 Continue (the body is not sent yet)");
        c.send(body);
        assert_eq!(c.response().status, 200, "{framing}");
    }
}

#[test]
fn head_gets_the_headers_get_would_and_no_body() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for target in ["/", "/?size=100", "/?status=404&size=5", "/healthz"] {
        c.send(&get(target));
        let g = c.response();
        c.send(format!("HEAD {target} HTTP/1.1\r\nHost: pong\r\n\r\n").as_bytes());
        let h = c.head_response();
        assert_eq!(h.status, g.status, "{target}");
        let strip = |r: &Response| {
            let mut v: Vec<_> = r
                .headers
                .iter()
                .filter(|h| !h.0.eq_ignore_ascii_case("date"))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(strip(&h), strip(&g), "HEAD {target}");
        // No body: the next response must start right after the head.
        c.send(&get("/?status=201"));
        assert_eq!(c.response().status, 201, "after HEAD {target}");
    }
}

// ---- query parameters -------------------------------------------------------------

#[test]
fn status_sets_the_status_204_and_304_carry_no_body() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for n in [
        200, 201, 202, 204, 206, 299, 301, 302, 304, 400, 404, 418, 429, 500, 502, 503, 504, 599,
    ] {
        c.send(&get(&format!("/echo?status={n}")));
        let r = c.response();
        assert_eq!(r.status, n);
        match n {
            204 => assert_eq!(
                r.header("content-length"),
                None,
                "204 with a Content-Length"
            ),
            304 => {}
            _ => assert_eq!(r.header("content-length"), Some("0"), "{n}"),
        }
    }
    // Bodiless statuses stay bodiless whatever size says; the next response proves it.
    for n in [204, 304] {
        c.send(&get(&format!("/?status={n}&size=10")));
        let r = c.response();
        assert_eq!(r.status, n);
        c.send(&get("/?status=201"));
        assert_eq!(c.response().status, 201, "after {n} with size=10");
    }
    c.send(&get("/x?foo=bar&size=3&status=201&delay=1ms"));
    let r = c.response();
    assert_eq!(
        (r.status, r.body.len()),
        (201, 3),
        "unknown parameters are ignored"
    );
}

/// Query strings that are a 400, each on a fresh connection; pong serves on after each.
fn assert_all_400(p: &mut Pong, queries: &[&str]) {
    for q in queries {
        let r = ask(p, &get(&format!("/?{q}")));
        assert_eq!(r.status, 400, "?{q}: {:.200}", r.text());
        p.assert_serves(&format!("?{q}"));
    }
}

#[test]
fn bad_status_values_are_400() {
    let mut p = Pong::start(&[]);
    assert_all_400(
        &mut p,
        &[
            "status=100",
            "status=101",
            "status=103",
            "status=199",
            "status=0",
            "status=1",
            "status=99",
            "status=600",
            "status=999",
            "status=1000",
            "status=abc",
            "status=",
            "status",
            "status=20x",
            "status=-200",
            "status=+200",
            "status=200.0",
            "status=2000000000000000000000",
        ],
    );
}

#[test]
fn weighted_status_lists_are_a_400_that_says_so() {
    let mut p = Pong::start(&[]);
    for q in [
        "status=503:10",
        "status=503:10,429:5",
        "status=200:50,503:50",
    ] {
        let r = ask(&p, &get(&format!("/?{q}")));
        assert_eq!(r.status, 400, "?{q}");
        let text = r.text().to_ascii_lowercase();
        assert!(
            text.contains("weight"),
            "?{q}: the 400 does not say why: {text:?}"
        );
        p.assert_serves(q);
    }
}

#[test]
fn size_sets_the_body_length() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for n in [0, 1, 2, 100, 1000, 4096, 10000, 65536] {
        c.send(&get(&format!("/?size={n}")));
        let r = c.response();
        assert_eq!((r.status, r.body.len()), (200, n), "size={n}");
        assert_eq!(r.header("content-length"), Some(n.to_string().as_str()));
    }
}

/// pong's caps (src/pong/http.rs MAX_SIZE and MAX_DELAY): a larger value, however
/// large, is answered with the cap.
const MAX_SIZE: usize = 1 << 20;
const MAX_DELAY: Duration = Duration::from_secs(10);

#[test]
fn size_above_the_cap_gets_the_cap() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for n in ["1048576", "1048577", "2000000", "99999999999999999999999"] {
        c.send(&get(&format!("/?size={n}")));
        let r = c.response();
        assert_eq!((r.status, r.body.len()), (200, MAX_SIZE), "size={n}");
    }
}

#[test]
fn delay_above_the_cap_is_held_for_the_cap() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let sent = Instant::now();
    c.send(&get("/?delay=99999999999999999999999s"));
    assert_eq!(c.response().status, 200);
    let took = sent.elapsed();
    assert!(
        took >= MAX_DELAY && took < MAX_DELAY + ms(1000),
        "held {took:?}"
    );
}

#[test]
fn bad_size_values_are_400() {
    let mut p = Pong::start(&[]);
    assert_all_400(
        &mut p,
        &[
            "size=",
            "size",
            "size=abc",
            "size=-1",
            "size=+1",
            "size=1k",
            "size=1.5",
            "size=0x10",
        ],
    );
}

#[test]
fn delay_delays_that_response() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for (d, min) in [
        ("250us", Duration::from_micros(250)),
        ("10ms", Duration::from_millis(10)),
        ("300ms", Duration::from_millis(300)),
        ("1s", Duration::from_secs(1)),
    ] {
        let sent = Instant::now();
        c.send(&get(&format!("/?delay={d}")));
        assert_eq!(c.response().status, 200);
        let took = sent.elapsed();
        assert!(took >= min, "delay={d} answered after {took:?}");
        assert!(took < min + ms(500), "delay={d} answered after {took:?}");
    }
}

#[test]
fn bad_delay_values_are_400() {
    let mut p = Pong::start(&[]);
    assert_all_400(
        &mut p,
        &[
            "delay=",
            "delay",
            "delay=abc",
            "delay=10",
            "delay=ms",
            "delay=-1ms",
            "delay=10xs",
            "delay=1 s",
            "delay=1s1",
            "delay=1h",
            "delay=s10",
        ],
    );
}

#[test]
fn a_delayed_response_does_not_hold_up_another_connection() {
    let p = Pong::start(&[]);
    let mut slow_conn = p.conn();
    let sent = Instant::now();
    slow_conn.send(&get("/?delay=1s&status=201"));
    sleep(Duration::from_millis(50));
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(ask(&p, GET).status, 200);
        let took = t.elapsed();
        assert!(
            took < ms(300),
            "a plain request beside a delayed one took {took:?}"
        );
    }
    assert_eq!(slow_conn.response().status, 201);
    assert!(sent.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_delayed_pipelined_response_keeps_its_place() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let mut two = get("/?delay=300ms&status=201");
    two.extend(get("/?status=202"));
    let sent = Instant::now();
    c.send(&two);
    assert_eq!(c.response().status, 201);
    assert_eq!(c.response().status, 202);
    assert!(sent.elapsed() >= Duration::from_millis(300));
}

// ---- health -----------------------------------------------------------------------

#[test]
fn healthz_and_readyz_answer_200() {
    let p = Pong::start(&[]);
    let mut c = p.conn();
    for path in ["/healthz", "/readyz"] {
        c.send(&get(path));
        assert_eq!(c.response().status, 200, "{path}");
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: pong\r\n\r\n").as_bytes());
        assert_eq!(c.head_response().status, 200, "HEAD {path}");
    }
}

// ---- malformed input: a clear answer, never a crash or a hang ----------------------

/// Sends `req` on a fresh connection, expects `status` and then the close (with no
/// answer to anything that followed it), and a fresh connection served afterwards.
fn assert_rejected(p: &mut Pong, req: &[u8], status: &[u16]) {
    let what = String::from_utf8_lossy(req).into_owned();
    let mut c = p.conn();
    // Whatever follows a rejected request must not be answered (no smuggling).
    let mut bytes = req.to_vec();
    bytes.extend(get("/?status=299"));
    // The server may close before reading all of it; a failed write is no failure.
    c.s.write_all(&bytes).ok();
    let r = c
        .try_response(false, patience())
        .unwrap_or_else(|e| panic!("{what:?}: no response ({e:?})"));
    assert!(
        status.contains(&r.status),
        "{what:?}: {} (want {status:?})",
        r.status
    );
    c.assert_closed(&format!("a {} to {what:?}", r.status));
    p.assert_serves(&what);
}

#[test]
fn http_1_1_without_exactly_one_host_is_400() {
    let mut p = Pong::start(&[]);
    for req in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    ] {
        let r = ask(&p, req);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(req));
        p.assert_serves(&String::from_utf8_lossy(req));
    }
    // HTTP/1.0 needs none.
    assert_eq!(ask(&p, b"GET / HTTP/1.0\r\n\r\n").status, 200);
}

#[test]
fn request_smuggling_framings_are_400_and_close() {
    let mut p = Pong::start(&[]);
    let h = "POST / HTTP/1.1\r\nHost: pong\r\n";
    for framing in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 5",
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: +5",
        "Content-Length: 0x5",
        "Content-Length: 5.0",
        "Content-Length: ",
        "Content-Length: 99999999999999999999999",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
        "Transfer-Encoding: identity",
    ] {
        let req = format!("{h}{framing}\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        assert_rejected(&mut p, req.as_bytes(), &[400]);
    }
    let tail = p.stderr();
    assert_eq!(tail, "", "pong wrote to stderr while serving");
}

#[test]
fn a_coding_before_chunked_that_pong_does_not_implement_is_501() {
    let mut p = Pong::start(&[]);
    for te in [
        "gzip, chunked",
        "deflate,chunked",
        "x-unknown, chunked",
        "gzip\r\nTransfer-Encoding: chunked",
    ] {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: {te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        let r = ask(&p, req.as_bytes());
        assert_eq!(r.status, 501, "Transfer-Encoding: {te}");
        p.assert_serves(te);
    }
}

#[test]
fn malformed_request_lines_and_headers_are_400_and_close() {
    let mut p = Pong::start(&[]);
    for req in [
        &b"GET / HTTP/1.1 extra\r\nHost: pong\r\n\r\n"[..],
        b"GET /\r\nHost: pong\r\n\r\n",
        b"GET\r\nHost: pong\r\n\r\n",
        b" / HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"GET / HTTP/1.x\r\nHost: pong\r\n\r\n",
        b"GET / HTTX/1.1\r\nHost: pong\r\n\r\n",
        b"GET / http/1.1\r\nHost: pong\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: pong\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\nNoColon\r\n\r\n",
        // RFC 9112 5.1: whitespace between a field name and the colon MUST be a 400.
        b"GET / HTTP/1.1\r\nHost : pong\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\n: empty-name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\nX\x00Y: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\nX(Y: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: pong\r\nX: a\rb\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        // Chunk framing.
        b"POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: pong\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
    ] {
        assert_rejected(&mut p, req, &[400]);
    }
    // A version it does not speak: 400, or 505 (RFC 9110 15.6.6).
    for req in [
        &b"GET / HTTP/3.0\r\nHost: pong\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        assert_rejected(&mut p, req, &[400, 505]);
    }
    assert_eq!(p.stderr(), "", "pong wrote to stderr while serving");
}

/// Sends `req` and whatever is needed to fill up any buffer from a thread of its own
/// (the server may stop reading), and returns the response and whether it closed.
fn send_flood(p: &Pong, req: Vec<u8>) -> Response {
    let mut c = p.conn();
    let mut w = c.s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        w.write_all(&req).ok();
    });
    let r = c.response();
    c.assert_closed(&format!("a {}", r.status));
    writer.join().unwrap();
    r
}

#[test]
fn an_oversized_head_is_431_and_a_long_target_414_both_closed() {
    let mut p = Pong::start(&[]);
    // A head the size Envoy's may be: 40 headers, about 3 KiB, is served.
    let mut ok = b"GET / HTTP/1.1\r\nHost: pong\r\n".to_vec();
    for i in 0..40 {
        ok.extend(format!("x-envoy-header-{i:02}: {}\r\n", "v".repeat(50)).as_bytes());
    }
    ok.extend(b"\r\n");
    assert_eq!(ask(&p, &ok).status, 200, "a {} byte head", ok.len());

    let mut big = b"GET / HTTP/1.1\r\nHost: pong\r\n".to_vec();
    for _ in 0..64 {
        big.extend(format!("X-Big: {}\r\n", "b".repeat(1000)).as_bytes());
    }
    big.extend(b"\r\n");
    assert_eq!(send_flood(&p, big).status, 431);
    p.assert_serves("a 64 KiB head");

    let long = format!("GET /{} HTTP/1.1\r\nHost: pong\r\n\r\n", "t".repeat(65536));
    assert_eq!(send_flood(&p, long.into_bytes()).status, 414);
    p.assert_serves("a 64 KiB request-target");

    // An endless header line, never terminated.
    let mut endless = b"GET / HTTP/1.1\r\nHost: pong\r\nX: ".to_vec();
    endless.extend(vec![b'e'; 1 << 20]);
    assert_eq!(send_flood(&p, endless).status, 431);
    p.assert_serves("an endless header line");
    assert_eq!(p.stderr(), "");
}

// ---- many connections -------------------------------------------------------------

fn connect_many(p: &Pong, n: usize) -> Vec<Conn> {
    (0..n).map(|_| p.conn()).collect()
}

fn round_trip_all(conns: &mut [Conn], what: &str) {
    for c in conns.iter_mut() {
        c.send(GET);
    }
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(c.response().status, 200, "{what}: connection {i}");
    }
}

/// Runs `cmd` with RLIMIT_NOFILE `soft`/`hard` and no descriptor above its stdio but
/// `top`, if given, which it inherits as the highest one under the limit (as a runtime
/// or a shell may leave one: bash's process substitution leaves fd 63 to its children).
/// Without this, whatever inheritable descriptors ran the test would take pong's slots.
fn with_nofile(cmd: &mut Command, soft: u64, hard: u64, top: Option<c_int>) {
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (fcntl, close, dup2, setrlimit). Close-on-exec descriptors (std's own
    // exec-error pipe, `top` itself) are left to exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in 3..soft as c_int {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    libc::close(fd);
                }
            }
            // dup2 clears close-on-exec on the copy: pong inherits it.
            if let Some(fd) = top
                && libc::dup2(fd, soft as c_int - 1) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let lim = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

#[test]
fn a_thousand_concurrent_keep_alive_connections() {
    raise_nofile();
    let p = Pong::start(&[]);
    let mut conns = connect_many(&p, 1000);
    round_trip_all(&mut conns, "first round");
    round_trip_all(&mut conns, "second round, same connections");
}

#[test]
fn ten_thousand_connections_at_once_from_a_soft_limit_of_1024() {
    let hard = raise_nofile();
    assert!(
        hard >= 12_000,
        "this test needs RLIMIT_NOFILE >= 12000 (it shares the process with other cases) (ulimit -Hn is {hard})"
    );
    // Many nodes start containers with a soft limit of 1024: pong raises its own.
    let p = Pong::start_with(&[], |cmd| {
        with_nofile(cmd, 1024, 10_200, None);
    });
    let limits = fs::read_to_string(format!("/proc/{}/limits", p.pid)).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &soft[3..5],
        ["10200", "10200"],
        "soft limit not raised: {line}"
    );
    let mut conns = connect_many(&p, 10_000);
    round_trip_all(&mut conns, "10,000 connections");
}

#[test]
fn a_slow_client_holds_only_its_own_slot() {
    let p = Pong::start(&[]);
    // A client that has sent half a head and then nothing.
    let mut stalled = p.conn();
    stalled.send(b"GET / HTTP/1.1\r\nHo");
    let mut slow = p.conn();
    let mut w = slow.s.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        for b in GET {
            w.write_all(&[*b]).unwrap();
            sleep(Duration::from_millis(20));
        }
    });
    let mut fast = p.conn();
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut n = 0;
    while !trickle.is_finished() || n < 20 {
        let t = Instant::now();
        fast.send(GET);
        assert_eq!(fast.response().status, 200);
        worst = worst.max(t.elapsed());
        n += 1;
        if n % 10 == 0 {
            assert_eq!(
                ask(&p, GET).status,
                200,
                "a new connection beside the slow one"
            );
        }
    }
    trickle.join().unwrap();
    assert!(
        worst < ms(200),
        "a fast request took {worst:?} beside a slow client"
    );
    assert!(start.elapsed() >= Duration::from_millis(20 * GET.len() as u64 - 20));
    assert_eq!(
        slow.response().status,
        200,
        "the slow client, once its head is whole"
    );
    stalled.send(b"st: pong\r\n\r\n");
    assert_eq!(
        stalled.response().status,
        200,
        "the stalled client, finally"
    );
}

/// CPU time (user + system) pong has used so far, in clock ticks.
fn cpu_ticks(pid: pid_t) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn at_its_connection_limit_a_new_connection_is_accepted_and_closed_at_once() {
    // Lower the descriptor limit, soft and hard, so that pong's limit is reachable.
    let p = Pong::start_with(&[], |cmd| with_nofile(cmd, NOFILE, NOFILE, None));
    assert_limit_holds(p);
}

#[test]
fn a_descriptor_inherited_at_the_top_does_not_break_the_limit() {
    // The highest descriptor under the limit is taken before pong starts: at its limit
    // accept4 then fails with EMFILE, which must not end it.
    let null = fs::File::open("/dev/null").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&null);
    let p = Pong::start_with(&[], |cmd| with_nofile(cmd, NOFILE, NOFILE, Some(fd)));
    assert_limit_holds(p);
}

/// RLIMIT_NOFILE of the connection-limit cases.
const NOFILE: u64 = 64;

/// Fills pong's connection slots and more: the first are served, every later one is
/// accepted and closed at once, pong does not spin there, and a freed slot serves.
fn assert_limit_holds(mut p: Pong) {
    let mut served = Vec::new();
    let mut refused = 0;
    for i in 0..NOFILE as usize + 16 {
        let mut c = p.conn();
        c.send(GET);
        match c.try_response(false, patience()) {
            Ok(r) => {
                assert_eq!(r.status, 200);
                assert_eq!(refused, 0, "connection {i} served after one was refused");
                served.push(c);
            }
            Err(NoResponse::Closed) => refused += 1,
            Err(NoResponse::Silent) => panic!("connection {i}: neither served nor closed"),
        }
    }
    eprintln!(
        "served {} connections with RLIMIT_NOFILE {NOFILE}",
        served.len()
    );
    assert!(
        refused > 0,
        "no connection refused with RLIMIT_NOFILE {NOFILE}"
    );
    assert!(
        served.len() >= NOFILE as usize / 2,
        "only {} connections served with RLIMIT_NOFILE {NOFILE}",
        served.len()
    );
    // At the limit, with a connection waiting, it must not spin.
    let waiting = TcpStream::connect(p.addr()).unwrap();
    let before = cpu_ticks(p.pid);
    sleep(Duration::from_secs(1));
    let spent = cpu_ticks(p.pid) - before;
    assert!(
        spent <= 20,
        "pong used {spent} ticks of CPU in 1 s at its limit"
    );
    drop(waiting);
    round_trip_all(&mut served, "served connections, at the limit");
    // A freed slot serves again.
    served.pop();
    sleep(ms(100));
    p.assert_serves("freeing a slot at the limit");
    assert_eq!(p.stderr(), "");
}

#[test]
fn an_abandoned_response_does_not_kill_it() {
    let mut p = Pong::start(&[]);
    for _ in 0..20 {
        let c = p.conn();
        let mut batch = Vec::new();
        for _ in 0..50 {
            batch.extend(get("/?size=65536"));
        }
        (&c.s).write_all(&batch).unwrap();
        // An abortive close (RST) while pong is writing: its next write fails with
        // EPIPE or ECONNRESET, which must not be a SIGPIPE death.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt reads `linger` for its size; the fd is open.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&c.s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(c);
    }
    p.assert_serves("20 abandoned responses");
    assert_eq!(p.stderr(), "");
}

#[test]
fn it_answers_on_ipv4_and_ipv6() {
    let p = Pong::start(&[]);
    assert_eq!(ask(&p, GET).status, 200, "127.0.0.1");
    if has_ipv6() {
        let mut c = Conn::open(SocketAddr::from((Ipv6Addr::LOCALHOST, p.port)));
        c.send(GET);
        assert_eq!(c.response().status, 200, "[::1]");
    }
}

// ---- signals ----------------------------------------------------------------------

fn stop_within() -> Duration {
    ms(300)
}

/// The --drain of the drain cases: 2 s, 6 s under an emulator (its requests are slow).
fn drain_secs() -> u64 {
    if runner().is_some() { 6 } else { 2 }
}

#[test]
fn sigterm_with_drain_fails_readyz_closes_every_connection_and_exits_after_drain() {
    // Long enough for every request below to be made while draining, even emulated.
    let drain = drain_secs();
    let mut p = Pong::start(&["--drain", &drain.to_string()]);
    let mut pooled = p.conn();
    pooled.send(&get("/readyz"));
    assert_eq!(pooled.response().status, 200);
    let sent = Instant::now();
    p.signal(SIGTERM);
    sleep(ms(200));
    for (target, want) in [
        ("/readyz", 503),
        ("/healthz", 200),
        ("/", 200),
        ("/?status=201", 201),
    ] {
        let mut c = p.conn();
        c.send(&get(target));
        let r = c.response();
        assert_eq!(r.status, want, "{target} while draining");
        assert!(
            r.connection_has("close"),
            "{target} while draining: {:?}",
            r.headers
        );
        c.assert_closed(&format!("{target} while draining"));
    }
    // A pooled keep-alive connection gets its close on its next response.
    pooled.send(GET);
    let r = pooled.response();
    assert!(r.connection_has("close"), "{:?}", r.headers);
    pooled.assert_closed("a pooled connection's response while draining");
    let status = p.wait(Duration::from_secs(drain) + ms(1000));
    let took = sent.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= Duration::from_millis(drain * 1000 - 100),
        "exited after {took:?}"
    );
    assert_eq!(p.stderr(), "");
}

#[test]
fn sigterm_without_drain_and_sigint_exit_0_at_once() {
    for (args, sig) in [
        (&[][..], SIGTERM),
        (&["--drain", "0"][..], SIGTERM),
        (&[][..], SIGINT),
        (&["--drain", "30"][..], SIGINT),
    ] {
        let mut p = Pong::start(args);
        let mut idle = p.conn();
        idle.send(GET);
        idle.response();
        let sent = Instant::now();
        p.signal(sig);
        let status = p.wait(patience());
        let took = sent.elapsed();
        assert!(status.success(), "{args:?} signal {sig}: {status}");
        assert!(
            took <= stop_within(),
            "{args:?} signal {sig}: exited after {took:?}"
        );
        assert_eq!(p.stderr(), "", "{args:?} signal {sig}");
    }
}

fn stray_signals() -> Vec<c_int> {
    (1..=64)
        .filter(|s| {
            ![SIGKILL, SIGSTOP, SIGINT, SIGTERM].contains(s)
                && !emulator_faults(runner().is_some()).contains(s)
        })
        .collect()
}

/// pong as PID 1 of a new PID namespace with its own /proc, as a container runtime
/// makes it (the network namespace stays ours, so its port is reachable from here).
fn pong_as_pid_1(args: &[&str]) -> Pong {
    let mut p = Pong::launch(|port| {
        let mut cmd = in_new_pid_namespace(&pong_argv());
        cmd.args(args).args(["--port", &port.to_string()]);
        cmd
    });
    let unshare = p.child.id() as pid_t;
    p.pid = children(unshare).first().expect("unshare's child").0;
    p
}

#[test]
fn no_stray_signal_kills_it_as_pid_1_or_not() {
    for pid1 in [false, true] {
        let mut p = if pid1 {
            pong_as_pid_1(&[])
        } else {
            Pong::start(&[])
        };
        for sig in stray_signals() {
            p.signal(sig);
        }
        sleep(ms(100));
        p.assert_serves(&format!("every stray signal (PID 1: {pid1})"));
        let sent = Instant::now();
        p.signal(SIGTERM);
        let status = p.wait(patience());
        assert!(status.success(), "PID 1 {pid1}: {status}");
        assert!(
            sent.elapsed() <= stop_within(),
            "PID 1 {pid1}: {:?}",
            sent.elapsed()
        );
    }
}

#[test]
fn as_pid_1_it_reaps_orphans_and_serves_on() {
    const ORPHANS: usize = 50;
    let mut p = pong_as_pid_1(&[]);
    let status = make_orphans(p.pid, ORPHANS, 1);
    assert!(status.success(), "nsenter: {status}");
    let adopted = children(p.pid).len();
    assert!(
        adopted >= ORPHANS,
        "only {adopted} of {ORPHANS} orphans re-parented to pong"
    );
    let deadline = Instant::now() + patience();
    while !children(p.pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "orphans left unreaped: {:?}",
            children(p.pid)
        );
        sleep(Duration::from_millis(20));
    }
    p.assert_serves("reaping");
    p.signal(SIGTERM);
    assert!(p.wait(patience()).success());
}

#[test]
fn as_pid_1_sigterm_with_drain_still_drains() {
    let drain = drain_secs();
    let mut p = pong_as_pid_1(&["--drain", &drain.to_string()]);
    let sent = Instant::now();
    p.signal(SIGTERM);
    sleep(ms(200));
    assert_eq!(ask(&p, &get("/readyz")).status, 503);
    assert!(p.wait(Duration::from_secs(drain) + ms(1000)).success());
    assert!(sent.elapsed() >= Duration::from_millis(drain * 1000 - 100));
}

// ---- the command line -------------------------------------------------------------

/// Runs pong with `args` to its exit: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = pong_cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + patience();
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("pong {args:?} did not exit");
        }
        sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(s: &str) -> bool {
    s.ends_with('\n') && s.lines().count() == 1 && s.trim().len() > 5
}

#[test]
fn version_flags_print_the_version() {
    for flag in ["-v", "--version"] {
        let (code, out, err) = run(&[flag]);
        assert_eq!(code, Some(0), "{flag}");
        assert_eq!(
            out,
            concat!("pong ", env!("CARGO_PKG_VERSION"), "\n"),
            "{flag}"
        );
        assert_eq!(err, "", "{flag}");
    }
}

#[test]
fn bad_arguments_are_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["-x"],
        &["--help"],
        &["-h"],
        &["x"],
        &[""],
        &["--port"],
        &["--port", "0"],
        &["--port", "65536"],
        &["--port", "-1"],
        &["--port", "abc"],
        &["--port", ""],
        &["--port", "80x"],
        &["--port", "99999999999999999999"],
        &["--drain"],
        &["--drain", "x"],
        &["--drain", "-1"],
        &["--drain", ""],
        &["--version", "x"],
        &["-v", "-v"],
        &["--versionx"],
        &["--portx", "8080"],
    ];
    for args in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(one_line(&err), "{args:?}: {err:?}");
        assert!(
            err.contains("usage") || err.contains("pong"),
            "{args:?}: {err:?}"
        );
    }
}

#[test]
fn a_port_in_use_is_exit_1_with_one_line() {
    let port = candidate_port();
    let _held = TcpListener::bind(("0.0.0.0", port)).unwrap();
    let (code, out, err) = run(&["--port", &port.to_string()]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "");
    assert!(one_line(&err), "{err:?}");
}

/// Runs pong under a seccomp filter that makes `call` fail with `errno` and asserts it
/// exits at once with status 1 and its one line, having used next to no CPU: a call
/// its loop depends on failing must neither leave it unable to stop nor spin.
fn assert_fails_loudly(call: libc::c_long, errno: i32) {
    if let Some(r) = runner() {
        // Under a user-mode emulator the filter would apply to the emulator's own host
        // syscalls, not to pong's.
        eprintln!("seccomp denial not testable under {r:?}: the filter would apply to it");
        return;
    }
    let port = candidate_port();
    let mut cmd = pong_cmd(&["--port", &port.to_string()]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    procs::deny_with_seccomp(&mut cmd, call, errno as u32);
    let mut child = cmd.spawn().expect("spawn pong under the filter");
    let what = format!("syscall {call} denied with errno {errno}");
    let within = Duration::from_secs(1);
    let (status, cpu) = procs::exit_and_cpu(&mut child, within).unwrap_or_else(|cpu| {
        panic!("{what}: pong still running {within:?} later, {cpu:?} of CPU so far")
    });
    assert_eq!(status.code(), Some(1), "{what}: {status}");
    assert!(cpu < ms(20), "{what}: {cpu:?} of CPU");
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(err, "pong: a system call failed\n", "{what}");
}

#[test]
fn a_failing_event_loop_call_is_exit_1_with_one_line_at_once() {
    for errno in [libc::EPERM, libc::EBADF] {
        // The loop's wait, and the mask without which SIGTERM could not drain it.
        assert_fails_loudly(libc::SYS_epoll_pwait, errno);
        assert_fails_loudly(libc::SYS_rt_sigprocmask, errno);
    }
}

// ---- the image --------------------------------------------------------------------

/// (p_type, p_flags) of every program header of the ELF file at `path`.
fn program_headers(path: &std::path::Path) -> Vec<(u32, u32)> {
    let f = fs::read(path).unwrap();
    assert_eq!(&f[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    let wide = match f[4] {
        1 => false,
        2 => true,
        c => panic!("ELF class {c}"),
    };
    let big = f[5] == 2;
    let uint = |at: usize, n: usize| -> u64 {
        let b = &f[at..at + n];
        let mut v = 0u64;
        for i in 0..n {
            v |= u64::from(if big { b[n - 1 - i] } else { b[i] }) << (8 * i);
        }
        v
    };
    let (phoff, phentsize, phnum) = if wide {
        (uint(32, 8), uint(54, 2), uint(56, 2))
    } else {
        (uint(28, 4), uint(42, 2), uint(44, 2))
    };
    (0..phnum as usize)
        .map(|i| {
            let ph = phoff as usize + i * phentsize as usize;
            let flags = if wide {
                uint(ph + 4, 4)
            } else {
                uint(ph + 24, 4)
            };
            (uint(ph, 4) as u32, flags as u32)
        })
        .collect()
}

#[test]
fn code_is_never_writable_and_data_never_executable() {
    let (r, w, x) = (libc::PF_R, libc::PF_W, libc::PF_X);
    let phdrs = program_headers(&binary());
    let loads: Vec<u32> = phdrs
        .iter()
        .filter(|p| p.0 == libc::PT_LOAD)
        .map(|p| p.1)
        .collect();
    assert!(
        loads.iter().any(|&f| f & (r | x | w) == r | x),
        "no R+X code segment: {phdrs:?}"
    );
    assert!(
        loads.iter().any(|&f| f & (r | x | w) == r | w),
        "no R+W data segment: {phdrs:?}"
    );
    assert!(
        !loads.iter().any(|&f| f & w != 0 && f & x != 0),
        "a W+X segment: {phdrs:?}"
    );
    let stack: Vec<u32> = phdrs
        .iter()
        .filter(|p| p.0 == libc::PT_GNU_STACK)
        .map(|p| p.1)
        .collect();
    assert!(
        stack.iter().all(|&f| f & x == 0),
        "executable PT_GNU_STACK: {phdrs:?}"
    );
    if runner().is_some() {
        // Under qemu-user the mappings in /proc are the emulator's.
        return;
    }
    let mut p = Pong::start(&[]);
    let maps = fs::read_to_string(format!("/proc/{}/maps", p.pid)).unwrap();
    for line in maps.lines() {
        let perms = line.split_whitespace().nth(1).unwrap();
        assert!(
            !(perms.contains('w') && perms.contains('x')),
            "a W+X mapping: {line}"
        );
        if line.ends_with("[stack]") {
            assert!(!perms.contains('x'), "executable stack: {line}");
        }
    }
    let personality = fs::read_to_string(format!("/proc/{}/personality", p.pid)).unwrap();
    const READ_IMPLIES_EXEC: u32 = 0x040_0000;
    assert_eq!(
        u32::from_str_radix(personality.trim(), 16).unwrap() & READ_IMPLIES_EXEC,
        0
    );
    p.assert_serves("reading its mappings");
}

#[test]
fn half_closed_client_still_gets_its_answers() {
    // A client that sends its requests and shuts down its writing side (RFC 9112 9.6).
    let p = Pong::start(&[]);
    let mut c = p.conn();
    let mut two = get("/?status=201");
    two.extend(get("/?status=202"));
    c.send(&two);
    c.s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response().status, 201);
    assert_eq!(c.response().status, 202);
    c.assert_closed("both answers to a half-closed client");
}
