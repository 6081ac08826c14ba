//! Differential test: pong against hyper 1.x's HTTP/1 server, an independent
//! implementation of the same RFC 9112 framing. A seeded generator makes request
//! streams (valid and malformed requests, pipelined, with Content-Length and chunked
//! bodies, bad framing, truncated ends); each stream goes, byte for byte, to pong and to
//! an in-process hyper server, and the two must agree in the number and order of their
//! final responses, the class (2xx, 4xx, 5xx) of each, and whether they then closed.
//!
//! The hyper side answers as pong's contract says for what its own parser leaves to
//! the application (`oracle` below): a 400 for an HTTP/1.1 request without exactly
//! one Host (RFC 9112 3.2), a 501 for a transfer coding before chunked that is not
//! implemented (RFC 9112 6.1), a 400 for a body that does not decode, each with
//! `Connection: close`; everything else is 200. Statuses chosen by pong's query
//! parameters are not modelled: the generator uses none.
//!
//! `PONG_CORPUS=N` sets the number of streams (default 3000); `PONG_SEED` the first
//! seed. Under qemu-user a few hundred are enough (tools/check.sh passes 300).
//!
//! Where RFC 9112 (or RFC 9110) lets two servers differ, the stream carries the
//! divergence and the comparison normalises exactly that and nothing else:
//! - 1xx interim responses are dropped from both sides: RFC 9110 10.1.1 lets a server
//!   omit `100 Continue` once it has received the body (hyper sends it whenever the
//!   body is read; pong need not when the body is already there).
//! - `Lenient` items: a server may accept them (answer 2xx and go on) or reject them
//!   (answer 4xx and close); after one, the streams are not compared further, as what
//!   follows depends on that choice. They are: a bare LF as line terminator (RFC 9112
//!   2.2), empty lines before the request-line (2.2, a SHOULD), runs of whitespace in
//!   the request-line (3), obs-fold (5.2), whitespace before the first header line
//!   (2.2), a request-target with characters outside RFC 3986 (3.2, a SHOULD), HTTP/1.2
//!   (RFC 9110 6.2: may be served as 1.1), a repeated, identical Content-Length (RFC
//!   9110 8.6: reject or merge; pong's contract rejects, hyper merges).
//! - `Rejected` items: both must answer with an error (4xx or 5xx) and close, of
//!   either class: an HTTP version other than 1.x (400, or 505 by RFC 9110 15.6.6).
//! - `Closing` items: either class of answer, then close: Content-Length with
//!   Transfer-Encoding (RFC 9112 6.3 item 3: "MAY reject ... or process ... in
//!   accordance with the Transfer-Encoding alone. Regardless, the server MUST close"),
//!   Transfer-Encoding in HTTP/1.0 (6.1: treat the framing as faulty and close).
//! - a request cut short at the end of a stream: a server may wait for the rest, or
//!   reject it for an error already in what it has (hyper's parser sees some early).
//! - head-size limits: neither RFC sets one, so normal heads stay under 4 KiB and the
//!   oversized ones are over 64 KiB, beyond both servers' buffers (hyper's set to its
//!   minimum, 8 KiB); 414 and 431 are the same class.
//!
//! Whether a server is done is seen by it going quiet: a stream whose outcomes differ is
//! sent again with a ten times longer quiet period before it counts as a mismatch.

mod pong_common;

use std::convert::Infallible;
use std::env;
use std::io::Write;
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HOST, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, Version};
use hyper_util::rt::TokioIo;
use pong_common::*;

/// What the stream's comparison may allow at an item (see the top of this file).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Plain,
    Lenient(&'static str),
    Rejected(&'static str),
    Closing(&'static str),
    Cut,
}

struct Stream {
    bytes: Vec<u8>,
    kinds: Vec<Kind>,
    text: Vec<String>,
}

const SAFE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";

fn word(rng: &mut Rng, max: usize) -> String {
    let n = 1 + rng.below(max);
    (0..n).map(|_| *rng.pick(SAFE) as char).collect()
}

fn target(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "/".into(),
        1 => format!("/{}", word(rng, 20)),
        2 => format!(
            "/{}/{}?{}={}",
            word(rng, 8),
            word(rng, 8),
            word(rng, 5),
            word(rng, 5)
        ),
        3 => "/healthz".into(),
        4 => format!("/%41%2F{}", word(rng, 4)),
        5 => format!("http://pong/{}", word(rng, 6)),
        6 => format!("/?{}=&{}", word(rng, 4), word(rng, 4)),
        _ => format!("/{}?x", word(rng, 200)),
    }
}

/// A header value: visible ASCII, inner spaces and tabs, sometimes obs-text.
fn value(rng: &mut Rng) -> Vec<u8> {
    let mut v = word(rng, 40).into_bytes();
    if rng.chance(20) {
        v.extend(b" \tand more");
    }
    if rng.chance(10) {
        v.extend([0xc3, 0xa9]);
    }
    if rng.chance(5) {
        v.clear();
    }
    v
}

/// A body in chunked coding: hex in either case, extensions, trailers.
fn chunked(rng: &mut Rng) -> Vec<u8> {
    let mut b = Vec::new();
    for _ in 0..rng.below(4) {
        let n = 1 + rng.below(300);
        let size = if rng.chance(50) {
            format!("{n:x}")
        } else {
            format!("{n:X}")
        };
        let zeros = "0".repeat(rng.below(3));
        b.extend(format!("{zeros}{size}").as_bytes());
        if rng.chance(20) {
            b.extend(format!(";{}={}", word(rng, 5), word(rng, 5)).as_bytes());
        }
        b.extend(b"\r\n");
        b.extend((0..n).map(|_| *rng.pick(b"xyz\r\n01")));
        b.extend(b"\r\n");
    }
    b.extend(b"0");
    if rng.chance(10) {
        b.extend(b";last");
    }
    b.extend(b"\r\n");
    if rng.chance(20) {
        b.extend(format!("X-Trailer-{}: {}\r\n", word(rng, 4), word(rng, 8)).as_bytes());
    }
    b.extend(b"\r\n");
    b
}

/// One well-formed request.
fn valid(rng: &mut Rng) -> Vec<u8> {
    let method = *rng.pick(&[
        "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "FROB", "purge",
    ]);
    let v11 = rng.chance(85);
    let t = if method == "OPTIONS" && rng.chance(30) {
        "*".to_owned()
    } else {
        target(rng)
    };
    let mut r = format!("{method} {t} HTTP/1.{}\r\n", u8::from(v11)).into_bytes();
    let mut headers: Vec<Vec<u8>> = Vec::new();
    if v11 || rng.chance(50) {
        let host = *rng.pick(&["Host", "host", "HOST"]);
        headers.push(format!("{host}: pong:8080").into_bytes());
    }
    for _ in 0..rng.below(8) {
        let name = *rng.pick(&[
            "User-Agent",
            "Accept",
            "X-Request-Id",
            "x-b3-traceid",
            "Cookie",
            "Accept-Encoding",
            "X-Forwarded-For",
            "x-envoy-attempt-count",
        ]);
        let mut h = format!("{name}:{}", if rng.chance(80) { " " } else { "" }).into_bytes();
        h.extend(value(rng));
        if rng.chance(10) {
            h.extend(b" \t");
        }
        headers.push(h);
    }
    if v11 && rng.chance(10) {
        headers.push(b"Connection: close".to_vec());
    } else if !v11 && rng.chance(60) {
        headers.push(b"Connection: keep-alive".to_vec());
    }
    let body_kind = if matches!(method, "POST" | "PUT" | "PATCH") || rng.chance(10) {
        rng.below(3)
    } else {
        0
    };
    let body = match body_kind {
        1 => {
            let n = rng.below(2000);
            headers.push(format!("Content-Length: {n}").into_bytes());
            (0..n).map(|_| *rng.pick(b"ab\r\n{}")).collect()
        }
        2 if v11 => {
            headers.push(
                format!(
                    "Transfer-Encoding: {}",
                    rng.pick(&["chunked", "Chunked", "CHUNKED"])
                )
                .into_bytes(),
            );
            chunked(rng)
        }
        _ => Vec::new(),
    };
    if !body.is_empty() && v11 && rng.chance(15) {
        headers.push(b"Expect: 100-continue".to_vec());
    }
    // Field order does not matter.
    for i in (1..headers.len()).rev() {
        headers.swap(i, rng.below(i + 1));
    }
    for h in headers {
        r.extend(h);
        r.extend(b"\r\n");
    }
    r.extend(b"\r\n");
    r.extend(body);
    r
}

const H: &str = "Host: pong\r\n";

/// One malformed request that both must answer with an error and a close.
fn malformed(rng: &mut Rng) -> (Vec<u8>, Kind) {
    let post = |framing: &str, body: &str| {
        format!("POST / HTTP/1.1\r\n{H}{framing}\r\n\r\n{body}").into_bytes()
    };
    let r = match rng.below(24) {
        0 => format!("GET / HTTP/1.1 x\r\n{H}\r\n").into_bytes(),
        1 => format!("GET /\r\n{H}\r\n").into_bytes(),
        2 => format!("G(T / HTTP/1.1\r\n{H}\r\n").into_bytes(),
        3 => format!(" / HTTP/1.1\r\n{H}\r\n").into_bytes(),
        4 => format!("GET / HTTP/1.x\r\n{H}\r\n").into_bytes(),
        5 => b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
        6 => format!("GET / HTTP/1.1\r\n{H}NoColon\r\n\r\n").into_bytes(),
        7 => format!("GET / HTTP/1.1\r\n{H}X-A : b\r\n\r\n").into_bytes(),
        8 => format!("GET / HTTP/1.1\r\n{H}X: a\x00b\r\n\r\n").into_bytes(),
        9 => format!("GET / HTTP/1.1\r\n{H}: v\r\n\r\n").into_bytes(),
        10 => post(
            &format!(
                "Content-Length: {}",
                rng.pick(&[
                    "abc",
                    "-1",
                    "+5",
                    "5, 5",
                    "0x5",
                    "99999999999999999999999",
                    ""
                ])
            ),
            "hello",
        ),
        11 => post("Content-Length: 5\r\nContent-Length: 6", "hello!"),
        12 => post(
            &format!(
                "Transfer-Encoding: {}",
                rng.pick(&["gzip", "chunked, gzip", "identity"])
            ),
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        13 => post(
            "Transfer-Encoding: gzip, chunked",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        14 => b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n".to_vec(),
        15 => b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
        16 => post(
            "Transfer-Encoding: chunked",
            &format!(
                "{}\r\nhello\r\n0\r\n\r\n",
                rng.pick(&["zz", "-5", "fffffffffffffffffffff", ""])
            ),
        ),
        17 => post("Transfer-Encoding: chunked", "5\r\nhelloXX0\r\n\r\n"),
        18 => {
            let mut r = format!("GET / HTTP/1.1\r\n{H}").into_bytes();
            for _ in 0..70 {
                r.extend(format!("X-Big: {}\r\n", "b".repeat(1000)).as_bytes());
            }
            r.extend(b"\r\n");
            r
        }
        19 => format!("GET /{} HTTP/1.1\r\n{H}\r\n", "t".repeat(70_000)).into_bytes(),
        20 => post(
            "Content-Length: 5\r\nTransfer-Encoding: chunked",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        21 => format!("GET / HTTP/{}\r\n{H}\r\n", rng.pick(&["2.0", "3.0", "0.9"])).into_bytes(),
        22 => {
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec()
        }
        _ => format!("GET / HTTP/1.1\r\n{H}X(Y: 1\r\n\r\n").into_bytes(),
    };
    let kind = match &r {
        r if find(r, b"Content-Length: 5\r\nTransfer-Encoding").is_some() => {
            Kind::Closing("RFC 9112 6.3 item 3: CL with TE, reject or process; close")
        }
        r if r.starts_with(b"POST / HTTP/1.0\r\nTransfer-Encoding") => {
            Kind::Closing("RFC 9112 6.1: TE in HTTP/1.0, faulty framing; close")
        }
        r if [&b"GET / HTTP/2.0"[..], b"GET / HTTP/3.0", b"GET / HTTP/0.9"]
            .iter()
            .any(|v| r.starts_with(v)) =>
        {
            Kind::Rejected("RFC 9110 15.6.6: an unsupported version, 400 or 505")
        }
        _ => Kind::Plain,
    };
    (r, kind)
}

/// One request that RFC 9112 lets a server accept or reject.
fn lenient(rng: &mut Rng) -> (Vec<u8>, &'static str) {
    match rng.below(8) {
        0 => (
            format!("GET / HTTP/1.1\n{}\n\n", H.trim_end()).into_bytes(),
            "RFC 9112 2.2: bare LF",
        ),
        1 => (
            [b"\r\n".repeat(1 + rng.below(2)), valid(rng)].concat(),
            "RFC 9112 2.2: empty lines before the request-line",
        ),
        2 => (
            format!("GET  /  HTTP/1.1\r\n{H}\r\n").into_bytes(),
            "RFC 9112 3: whitespace runs in the request-line",
        ),
        3 => (
            format!("GET / HTTP/1.1\r\n{H}X-Fold: a\r\n  b\r\n\r\n").into_bytes(),
            "RFC 9112 5.2: obs-fold",
        ),
        4 => (
            format!("GET / HTTP/1.1\r\n X: y\r\n{H}\r\n").into_bytes(),
            "RFC 9112 2.2: whitespace before the first header",
        ),
        5 => (
            format!(
                "GET /{} HTTP/1.1\r\n{H}\r\n",
                rng.pick(&["{x}", "a|b", "\"q\"", "<>", "^", "`", "\u{e9}"])
            )
            .into_bytes(),
            "RFC 9112 3.2: request-target outside RFC 3986",
        ),
        6 => (
            format!("GET / HTTP/1.2\r\n{H}\r\n").into_bytes(),
            "RFC 9110 6.2: HTTP/1.2 as 1.1",
        ),
        _ => (
            format!("POST / HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
                .into_bytes(),
            "RFC 9110 8.6: a repeated identical Content-Length",
        ),
    }
}

fn stream(seed: u64) -> Stream {
    let mut rng = Rng::new(seed);
    let mut s = Stream {
        bytes: Vec::new(),
        kinds: Vec::new(),
        text: Vec::new(),
    };
    let n = 1 + rng.below(8);
    for i in 0..n {
        let (bytes, kind) = match rng.below(100) {
            0..65 => (valid(&mut rng), Kind::Plain),
            65..88 => malformed(&mut rng),
            _ => {
                let (b, why) = lenient(&mut rng);
                (b, Kind::Lenient(why))
            }
        };
        // Sometimes the last request is cut short: no answer, and no close.
        let (bytes, kind) = if i == n - 1 && rng.chance(10) {
            let cut = rng.below(bytes.len());
            (bytes[..cut].to_vec(), Kind::Cut)
        } else {
            (bytes, kind)
        };
        s.text
            .push(String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned());
        s.bytes.extend(&bytes);
        s.kinds.push(kind);
    }
    s
}

// ---- the hyper side ---------------------------------------------------------------

async fn oracle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let hosts = req.headers().get_all(HOST).iter().count();
    let codings: Vec<String> = req
        .headers()
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| {
            v.to_str()
                .unwrap_or("?")
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut status = if req.version() == Version::HTTP_11 && hosts != 1 {
        400
    } else if codings.iter().any(|c| c != "chunked") {
        501
    } else {
        200
    };
    if req.into_body().collect().await.is_err() {
        status = 400;
    }
    let mut resp = Response::builder().status(status);
    if status != 200 {
        resp = resp.header(CONNECTION, "close");
    }
    Ok(resp.body(Full::new(Bytes::new())).unwrap())
}

fn start_hyper() -> SocketAddr {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let conn = http1::Builder::new()
                        // Its smallest buffer: the oversized heads are over it and pong's.
                        .max_buf_size(8192)
                        .serve_connection(TokioIo::new(s), service_fn(oracle));
                    conn.await.ok();
                });
            }
        });
    });
    addr
}

// ---- comparing ----------------------------------------------------------------------

/// What one server did with a stream: its final statuses, and whether it closed.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    statuses: Vec<u16>,
    closed: bool,
}

fn exchange(addr: SocketAddr, bytes: &[u8], quiet: Duration, lax: bool) -> Outcome {
    let mut c = Conn::open(addr);
    c.lax = lax;
    let mut w = c.s.try_clone().unwrap();
    let bytes = bytes.to_vec();
    // The server may stop reading (an oversized head): write from a thread of its own.
    let writer = thread::spawn(move || {
        w.write_all(&bytes).ok();
    });
    let (responses, closed) = c.drain_responses(quiet);
    c.s.shutdown(Shutdown::Both).ok();
    writer.join().unwrap();
    Outcome {
        // RFC 9110 10.1.1: interim responses may differ.
        statuses: responses
            .iter()
            .map(|r| r.status)
            .filter(|&s| s >= 200)
            .collect(),
        closed,
    }
}

/// Why `pong` and `hyper` disagree on `s`, if they do beyond what its kinds allow.
fn disagreement(s: &Stream, pong: &Outcome, hyper: &Outcome) -> Option<String> {
    let class = |v: &[u16]| v.iter().map(|s| s / 100).collect::<Vec<_>>();
    let first = s.kinds.iter().position(|k| *k != Kind::Plain);
    // Item k was read by a server that answered all before it and did not close.
    let reached =
        |o: &Outcome, k: usize| o.statuses.len() > k || (o.statuses.len() == k && !o.closed);
    let Some(k) = first.filter(|&k| reached(pong, k) && reached(hyper, k)) else {
        // No divergence reached: everything must agree.
        if class(&pong.statuses) != class(&hyper.statuses) || pong.closed != hyper.closed {
            return Some("responses differ".into());
        }
        return None;
    };
    // Before the first divergent item, exactly the same; at it, what its kind allows.
    if class(&pong.statuses[..k]) != class(&hyper.statuses[..k]) {
        return Some(format!("responses before item {k} differ"));
    }
    for (who, o) in [("pong", pong), ("hyper", hyper)] {
        let at = o.statuses.get(k).copied();
        let rejected_and_closed =
            at.is_some_and(|s| s >= 400) && o.statuses.len() == k + 1 && o.closed;
        let ok = match s.kinds[k] {
            Kind::Plain => unreachable!(),
            Kind::Lenient(_) => at.is_some_and(|s| s / 100 == 2) || rejected_and_closed,
            Kind::Rejected(_) => rejected_and_closed,
            Kind::Closing(_) => at.is_some() && o.statuses.len() == k + 1 && o.closed,
            // A request cut short: waiting for the rest, or an error already seen in it.
            Kind::Cut => (at.is_none() && !o.closed) || rejected_and_closed,
        };
        if !ok {
            return Some(format!(
                "{who} at item {k} ({:?}): {at:?}, then {o:?}",
                s.kinds[k]
            ));
        }
    }
    None
}

fn corpus_size() -> usize {
    env::var("PONG_CORPUS")
        .ok()
        .map_or(3000, |n| n.parse().expect("PONG_CORPUS: a number"))
}

#[test]
fn pong_and_hyper_agree_on_a_generated_corpus() {
    let n = corpus_size();
    let first: u64 = env::var("PONG_SEED")
        .ok()
        .map_or(1, |s| s.parse().expect("PONG_SEED: a number"));
    raise_nofile();
    let pong = Pong::start(&[]);
    let (pong_addr, hyper_addr) = (pong.addr(), start_hyper());
    let quiet = Duration::from_millis(150) * slow();
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let stats = Arc::new(Mutex::new([0usize; 4]));
    let workers: Vec<_> = (0..24)
        .map(|_| {
            let (next, failures, stats) = (next.clone(), failures.clone(), stats.clone());
            thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let seed = first + i as u64;
                    let s = stream(seed);
                    let run = |quiet| {
                        let h = exchange(hyper_addr, &s.bytes, quiet, true);
                        let p = exchange(pong_addr, &s.bytes, quiet, false);
                        (p, h)
                    };
                    let (mut p, mut h) = run(quiet);
                    if disagreement(&s, &p, &h).is_some() {
                        (p, h) = run(quiet * 10);
                    }
                    {
                        let mut st = stats.lock().unwrap();
                        st[0] += p.statuses.len();
                        st[1] += usize::from(p.closed);
                        st[2] += usize::from(s.kinds.iter().any(|k| *k != Kind::Plain));
                        st[3] += p.statuses.iter().filter(|&&x| x >= 400).count();
                    }
                    if let Some(why) = disagreement(&s, &p, &h) {
                        failures.lock().unwrap().push(format!(
                            "seed {seed}: {why}\n  pong  {p:?}\n  hyper {h:?}\n  items {:#?}",
                            s.text.iter().zip(&s.kinds).collect::<Vec<_>>()
                        ));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join()
            .expect("a worker panicked (see above for the stream)");
    }
    let st = stats.lock().unwrap();
    eprintln!(
        "{n} streams from seed {first}: pong sent {} final responses ({} errors), closed {} connections; {} streams had a permitted divergence",
        st[0], st[3], st[1], st[2]
    );
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {n} streams disagree (PONG_SEED=<seed> PONG_CORPUS=1 repeats one):\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator must exercise both sides of the contract.
    assert!(
        st[0] > n && st[3] > n / 10,
        "a degenerate corpus: {:?}",
        *st
    );
}

#[test]
fn the_oracle_is_hyper_and_it_frames_as_rfc_9112_says() {
    // The comparison is only worth what hyper's side is: a few streams whose answer is
    // known, against hyper alone.
    let hyper = start_hyper();
    let q = Duration::from_millis(200);
    let cases: [(&[u8], &[u16], bool); 5] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &[200, 200], false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &[200, 200], false),
        (b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &[400], true),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", &[501], true),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &[400], true),
    ];
    for (bytes, statuses, closed) in cases {
        let o = exchange(hyper, bytes, q, true);
        assert_eq!(
            o,
            Outcome {
                statuses: statuses.to_vec(),
                closed
            },
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}
