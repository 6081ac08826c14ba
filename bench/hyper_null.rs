//! The benchmark's "I'll write it in Rust" contender: a plain hyper 1.x HTTP/1.1 server
//! on tokio's current-thread runtime that answers every request with `200 OK` and an
//! empty body. Nothing tuned: hyper's defaults (keep-alive on, pipelining flushed as
//! hyper does by default), one task per connection, as its server example does.
//!
//!     cargo build --profile bench-hyper --example hyper-null
//!     target/bench-hyper/examples/hyper-null --port 8080
//!
//! Listens on 127.0.0.1 (the benchmark's loopback) unless `--addr` names another.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const USAGE: &str = "usage: hyper-null [--port N] [--addr IP]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<SocketAddr, String> {
    let (mut ip, mut port) = ("127.0.0.1".to_string(), 8080u16);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(USAGE)?;
        match a.as_str() {
            "--port" => port = v.parse().map_err(|_| format!("bad port {v:?}; {USAGE}"))?,
            "--addr" => ip = v,
            _ => return Err(USAGE.into()),
        }
    }
    format!("{ip}:{port}")
        .parse()
        .or_else(|_| format!("[{ip}]:{port}").parse())
        .map_err(|_| format!("bad address {ip:?}; {USAGE}"))
}

async fn null(_: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    Ok(Response::new(Empty::new()))
}

async fn serve(listener: TcpListener) -> ! {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // EMFILE and the like: the listener stays, a later accept may work; wait a
            // little rather than spin on it.
            Err(e) => {
                eprintln!("hyper-null: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small responses are latency-bound: send each as soon as it is written.
        let _ = stream.set_nodelay(true);
        tokio::task::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(null))
                .await;
        });
    }
}

fn main() -> ExitCode {
    let addr = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hyper-null: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hyper-null: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("hyper-null: bind {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        serve(listener).await
    })
}
