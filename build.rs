//! Sets the SONAME of the shared library and regenerates the C declarations.
//!
//! The header is committed; `make headers` (or LIBOTR_RS_CHECK_HEADER=1 in
//! CI) compares a fresh generation with it, so a Rust change that alters the
//! ABI cannot slip through unnoticed.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libotr.so.5");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=LIBOTR_RS_HEADER_OUT");

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let Ok(out) = std::env::var("LIBOTR_RS_HEADER_OUT") else {
        return;
    };
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read the crate")
        .write_to_file(out);
}
