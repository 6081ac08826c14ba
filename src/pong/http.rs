//! pong's HTTP/1.1 request parsing (RFC 9112): a request head in, what to answer out.
//! No state and no syscalls; the event loop in main.rs frames bodies with [`line`] and
//! [`chunk_size`] and answers.

/// What a request head asks for.
#[derive(Clone, Copy)]
pub struct Request {
    /// The response's status.
    pub status: u16,
    /// `CLOSE`, `KEEP_ALIVE`, `HEAD`, `CONTINUE`, `CHUNKED`, `WEIGHTED`.
    pub flags: u8,
    /// The response body's length (`size=`, capped at [`MAX_SIZE`]).
    pub size: u32,
    /// How long to hold the response, in microseconds (`delay=`, capped at [`MAX_DELAY`]).
    pub delay: u32,
    /// The request body's Content-Length (when not `CHUNKED`).
    pub body: u64,
}

/// Close the connection after the response.
pub const CLOSE: u8 = 1;
/// An HTTP/1.0 request asked to keep the connection: the response says it does.
pub const KEEP_ALIVE: u8 = 2;
/// HEAD: the headers GET would get, no body.
pub const HEAD: u8 = 4;
/// `Expect: 100-continue` on an HTTP/1.1 request with a body: `100 Continue` first.
pub const CONTINUE: u8 = 8;
/// The request body is chunked.
pub const CHUNKED: u8 = 16;
/// The 400 is for a weighted `status=` list, and its body says so.
pub const WEIGHTED: u8 = 32;

/// `size=` above this many bytes is answered with this many.
pub const MAX_SIZE: u32 = 1 << 20;
/// `delay=` above this many microseconds (10 s) is held this long.
pub const MAX_DELAY: u32 = 10_000_000;
/// The body of the 400 for a weighted `status=` list.
pub const WEIGHTED_TEXT: &[u8] = b"pong: weighted status lists are not supported\n";

/// An answer of `status` with nothing asked for, and close: for a malformed request.
pub const fn failure(status: u16) -> Request {
    Request {
        status,
        flags: CLOSE,
        size: 0,
        delay: 0,
        body: 0,
    }
}

/// The first line of `data` without its line ending (CR LF, or a bare LF, which RFC 9112
/// 2.2 lets a recipient accept) and the bytes it takes; None until its LF has arrived.
#[inline(never)]
pub fn line(data: &[u8]) -> Option<(usize, &[u8])> {
    let n = data.iter().position(|&b| b == b'\n')?;
    let text = data.get(..n)?;
    Some((n + 1, text.strip_suffix(b"\r").unwrap_or(text)))
}

/// `s` before the first `byte` and after it (all of `s` and nothing without one).
#[inline(never)]
fn split(s: &[u8], byte: u8) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == byte) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i + 1..).unwrap_or_default(),
        ),
        None => (s, &[]),
    }
}

/// A decimal number, saturated far beyond any limit pong applies; None if `s` is empty
/// or holds anything but digits.
#[inline(never)]
pub fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = (v * 10 + d as u64).min(1 << 60);
    }
    Some(v)
}

/// A chunk-size line's size (RFC 9112 7.1: hex digits, then optional chunk extensions,
/// which are ignored); None if malformed or too large to ever arrive.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    // Extensions follow a ';', with optional whitespace (BWS) before it.
    let (digits, _) = split(line, b';');
    let digits = trim(digits);
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            _ => match b | 0x20 {
                c @ b'a'..=b'f' => c - b'a' + 10,
                _ => return None,
            },
        };
        if v >> 56 != 0 {
            return None;
        }
        v = v << 4 | d as u64;
    }
    Some(v)
}

/// The request head at the start of `data`, up to and including its empty line: the
/// bytes it takes, and what to answer in `r`; None until the empty line has arrived. Any fault
/// is an answer too (400, 501), with `CLOSE`: after it the framing cannot be trusted.
pub fn parse(data: &[u8], draining: bool, r: &mut Request) -> Option<usize> {
    *r = Request {
        status: 200,
        flags: 0,
        size: 0,
        delay: 0,
        body: 0,
    };
    let bad = &mut 0u8;
    let (mut v10, mut hosts, mut codings, mut chunked, mut length) = (false, 0, 0, false, false);
    let (mut close, mut keep, mut expect) = (false, false, false);
    let (n, first) = line(data)?;
    let mut pos = n;
    request_line(first, r, bad, &mut v10, draining);
    loop {
        let (n, text) = line(data.get(pos..)?)?;
        pos += n;
        if text.is_empty() {
            break;
        }
        // field-line = field-name ":" OWS field-value OWS (RFC 9112 5); no space before
        // the colon, and a line that begins with one (obs-fold) has no valid name.
        let (name, value) = split(text, b':');
        let value = trim(value);
        if name.len() == text.len()
            || !token(name)
            || !value
                .iter()
                .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f))
        {
            *bad |= 1;
        } else {
            let w = word(name, FOLD);
            if w == HOST {
                hosts += 1;
            } else if w == CONTENT_LENGTH {
                // Repeated, or a list ("5, 5"): RFC 9112 6.3 lets us reject it, and a
                // proxy that picked another value than ours would smuggle a request.
                // `number` saturates: a length at its ceiling (2^60 bytes or more, 20
                // digits and up included) is one that no u64 may have held, and a body
                // that never ends: a 400 (RFC 9110 8.6: no overflowed lengths).
                match number(value) {
                    Some(v) if !length && v < 1 << 60 => r.body = v,
                    _ => *bad |= 1,
                }
                length = true;
            } else if w == EXPECT {
                expect = word(value, FOLD) == CONTINUE_100;
            } else if w == TRANSFER_ENCODING || w == CONNECTION {
                // Both lists: of codings, and of connection options.
                let te = w == TRANSFER_ENCODING;
                let mut rest = value;
                while !rest.is_empty() {
                    let (item, more) = split(rest, b',');
                    rest = more;
                    let item = trim(item);
                    let w = word(item, FOLD);
                    if !te {
                        close |= w == CLOSE_WORD;
                        keep |= w == KEEP_ALIVE_WORD;
                    } else if !item.is_empty() {
                        codings += 1;
                        chunked = w == CHUNKED_WORD;
                    }
                }
            }
        }
    }
    // RFC 9112 3.2: exactly one Host in HTTP/1.1, never more than one.
    if hosts > 1 || (hosts == 0 && !v10) {
        *bad |= 1;
    }
    if codings > 0 {
        // RFC 9112 6.1 and 6.3: both framings at once, or a final coding other than
        // chunked, is a 400; a coding before the final chunked that pong does not
        // implement (it implements none) is a 501. An HTTP/1.0 request with
        // Transfer-Encoding has faulty framing: answer it, then close.
        if length || !chunked {
            *bad |= 1;
        }
        if codings > 1 {
            *bad |= 2;
        }
        r.flags |= CHUNKED;
        close |= v10;
    }
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes it unless
    // asked to keep it (RFC 9112 9.3).
    if v10 && !keep {
        close = true;
    }
    if close {
        r.flags |= CLOSE;
    } else if v10 {
        r.flags |= KEEP_ALIVE;
    }
    // RFC 9110 10.1.1: 100-continue means nothing in an HTTP/1.0 request or without a
    // body to wait for.
    if expect && !v10 && (r.body > 0 || r.flags & CHUNKED != 0) {
        r.flags |= CONTINUE;
    }
    // The first kind of fault wins: a malformed request is a 400 before anything else.
    if *bad != 0 {
        let head = r.flags & (HEAD | WEIGHTED);
        *r = failure(if *bad & 1 != 0 { 400 } else { 501 });
        r.flags |= head;
    }
    Some(pos)
}

/// request-line = method SP request-target SP HTTP-version (RFC 9112 3), and what the
/// target's path and query ask for.
fn request_line(text: &[u8], r: &mut Request, bad: &mut u8, v10: &mut bool, draining: bool) {
    let (method, rest) = split(text, b' ');
    let (target, version) = split(rest, b' ');
    match word(version, EXACT) {
        HTTP_11 => {}
        HTTP_10 => *v10 = true,
        _ => *bad |= 1,
    }
    if !token(method) || target.is_empty() || !target.iter().all(|&b| b > b' ' && b != 0x7f) {
        *bad |= 1;
    }
    if word(method, EXACT) == HEAD_WORD {
        r.flags |= HEAD;
    }
    let (path, mut query) = split(target, b'?');
    while !query.is_empty() {
        let (param, more) = split(query, b'&');
        query = more;
        let (key, value) = split(param, b'=');
        let w = word(key, FOLD);
        if w == STATUS {
            // fortio's weighted lists ("503:10,429:5") pick a status at random: pong
            // answers deterministically, so it refuses them rather than guess.
            if split(value, b':').0.len() != value.len() {
                r.flags |= WEIGHTED;
            }
            // 1xx is not a final response (RFC 9110 15.2).
            match number(value) {
                Some(s @ 200..=599) => r.status = s as u16,
                _ => *bad |= 1,
            }
        } else if w == SIZE {
            match number(value) {
                Some(n) => r.size = n.min(MAX_SIZE as u64) as u32,
                None => *bad |= 1,
            }
        } else if w == DELAY {
            match delay(value) {
                Some(us) => r.delay = us,
                None => *bad |= 1,
            }
        }
    }
    // The probes answer for the process, whatever the query says.
    let w = word(path, EXACT);
    if w == HEALTHZ {
        r.status = 200;
    } else if w == READYZ {
        r.status = if draining { 503 } else { 200 };
    }
}

/// `delay=`'s value: a decimal number of `us`, `ms` or `s`, in microseconds, capped.
fn delay(value: &[u8]) -> Option<u32> {
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let (n, unit) = value.split_at_checked(digits)?;
    let scale = match word(unit, FOLD) {
        US => 1,
        MS => 1000,
        S => 1_000_000,
        _ => return None,
    };
    Some((number(n)?.min(MAX_DELAY as u64) * scale).min(MAX_DELAY as u64) as u32)
}

/// The tchar set of RFC 9110 5.6.2 (method and field names), one bit per ASCII byte.
const TCHAR: [u8; 16] = {
    let mut set = [0u8; 16];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
        {
            set[b / 8] |= 1 << (b % 8);
        }
        b += 1;
    }
    set
};

/// Whether `s` is a token: one or more tchars.
#[inline(never)]
fn token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter().all(|&b| {
            TCHAR
                .get((b >> 3) as usize)
                .is_some_and(|m| m >> (b & 7) & 1 != 0)
        })
}

/// Whether `s` is `lower`, each byte of `s` ORed with `fold` first. With [`FOLD`]
/// (`lower` of lower-case letters, digits and '-'), in any case: setting bit 5
/// lower-cases a letter and leaves digits and '-' as they are; the only other bytes it
/// maps onto those are control characters, which never get here (callers check tokens
/// and field values first). With [`EXACT`], byte for byte.
fn is(s: &[u8], lower: &[u8], fold: u8) -> bool {
    s.len() == lower.len() && s.iter().zip(lower).all(|(&a, &b)| a | fold == b)
}

/// The words pong looks for (header names, list items, query keys, delay units, the
/// version, HEAD, the probe paths and pong's own arguments), each named by its index.
const WORD_LIST: [&[u8]; 24] = [
    b"host",
    b"content-length",
    b"expect",
    b"transfer-encoding",
    b"connection",
    b"100-continue",
    b"close",
    b"keep-alive",
    b"chunked",
    b"status",
    b"size",
    b"delay",
    b"us",
    b"ms",
    b"s",
    // Matched exactly (see `word`): methods, versions and paths are case-sensitive.
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HEAD",
    b"/healthz",
    b"/readyz",
    // pong's own arguments (main.rs).
    b"--port",
    b"--drain",
    b"-v",
    b"--version",
];
const HOST: u8 = 0;
const CONTENT_LENGTH: u8 = 1;
const EXPECT: u8 = 2;
const TRANSFER_ENCODING: u8 = 3;
const CONNECTION: u8 = 4;
const CONTINUE_100: u8 = 5;
const CLOSE_WORD: u8 = 6;
const KEEP_ALIVE_WORD: u8 = 7;
const CHUNKED_WORD: u8 = 8;
const STATUS: u8 = 9;
const SIZE: u8 = 10;
const DELAY: u8 = 11;
const US: u8 = 12;
const MS: u8 = 13;
const S: u8 = 14;
const HTTP_11: u8 = 15;
const HTTP_10: u8 = 16;
const HEAD_WORD: u8 = 17;
const HEALTHZ: u8 = 18;
const READYZ: u8 = 19;
pub const ARG_PORT: u8 = 20;
const ARG_DRAIN: u8 = 21;
// --drain follows --port: main.rs takes a word less ARG_PORT as an index.
const _: () = assert!(ARG_DRAIN == ARG_PORT + 1);
pub const ARG_V: u8 = 22;
pub const ARG_VERSION: u8 = 23;

/// [`WORD_LIST`] packed: each word after a byte that holds its length. One table and
/// one loop instead of a comparison per word: each call site is `word(s)` and a compare
/// with a small constant.
const WORDS: [u8; WORDS_LEN] = {
    let mut out = [0u8; WORDS_LEN];
    let (mut i, mut at) = (0, 0);
    while i < WORD_LIST.len() {
        let w = WORD_LIST[i];
        out[at] = w.len() as u8;
        let mut j = 0;
        while j < w.len() {
            out[at + 1 + j] = w[j];
            j += 1;
        }
        at += 1 + w.len();
        i += 1;
    }
    out
};
const WORDS_LEN: usize = {
    let (mut i, mut n) = (0, 0);
    while i < WORD_LIST.len() {
        n += 1 + WORD_LIST[i].len();
        i += 1;
    }
    n
};

/// `word`'s `fold` for a match in any case (see [`is`]): it finds only the lower-case
/// words of the table.
const FOLD: u8 = 0x20;
/// `word`'s `fold` for an exact match.
pub const EXACT: u8 = 0;

/// The index in [`WORD_LIST`] of the word `s` is, every byte ORed with `fold` before it
/// is compared (see [`is`]), or `WORD_LIST.len()` if none.
#[inline(never)]
pub fn word(s: &[u8], fold: u8) -> u8 {
    let (mut at, mut i) = (0, 0);
    while let Some(&n) = WORDS.get(at) {
        let end = at + 1 + n as usize;
        if WORDS.get(at + 1..end).is_some_and(|w| is(s, w, fold)) {
            break;
        }
        at = end;
        i += 1;
    }
    i
}

/// `s` without leading or trailing spaces and tabs (OWS).
#[inline(never)]
fn trim(s: &[u8]) -> &[u8] {
    let text = |b: &u8| *b != b' ' && *b != b'\t';
    let start = s.iter().position(text).unwrap_or(s.len());
    let end = s.iter().rposition(text).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}
