//! Host (dev-loop) builds only: link the binary like the shipped musl builds, with our
//! own `_start` and no C runtime or libc, so `cargo build` / `cargo test` on a -gnu host
//! exercise the same program. The shipped targets' flags live in .cargo/config.toml;
//! they cannot serve here because on the host they would also reach build scripts and
//! the test harness, which need the C runtime.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("musl") {
        for arg in ["-nostartfiles", "-nostdlib", "-static"] {
            println!("cargo::rustc-link-arg-bins={arg}");
        }
    }
}
