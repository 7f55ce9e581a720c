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
    let mut text = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read the crate")
        .write(&mut text);
    let text = String::from_utf8(text).expect("cbindgen writes UTF-8");
    std::fs::write(out, tags_only(&text)).expect("the header path is writable");
}

/// Struct tags that libotr's headers declare only as tags, each typedef'd
/// under another name (`typedef struct context { .. } ConnContext;`), so
/// that applications may use these words as ordinary identifiers.
const TAG_ONLY: [&str; 9] = [
    "context",
    "context_priv",
    "s_fingerprint",
    "s_OtrlPrivKey",
    "s_OtrlInsTag",
    "s_OtrlPendingPrivKey",
    "s_OtrlUserState",
    "s_OtrlMessageAppOps",
    "s_OtrlTLV",
];

/// cbindgen's "both" style makes every struct tag a typedef name as well;
/// the tags of [`TAG_ONLY`] are turned back into plain tagged structs
/// (ffi-tests/abi/names.sh checks the result against libotr's headers).
fn tags_only(header: &str) -> String {
    let mut out = header.to_string();
    for tag in TAG_ONLY {
        let open = format!("typedef struct {tag} {{");
        let close = format!("\n}} {tag};");
        assert!(
            out.contains(&open) && out.contains(&close),
            "struct {tag} is generated"
        );
        out = out.replace(&open, &format!("struct {tag} {{"));
        out = out.replace(&close, "\n};");
    }
    // libotr spells the add_appdata callback type out in each prototype;
    // the name the Rust side needs for it is no C name.
    for param in ["add_app_data", "add_appdata"] {
        out = out.replace(
            &format!("AddAppData {param}"),
            &format!("void (*{param})(void*, ConnContext*)"),
        );
    }
    let typedef = "typedef void (*AddAppData)(void*, ConnContext*);\n";
    let at = out
        .find(typedef)
        .expect("the header has the AddAppData typedef");
    // Its doc comment goes with it.
    let start = out[..at]
        .rfind("/*")
        .expect("the typedef has a doc comment");
    out.replace_range(start..at + typedef.len() + 1, "");
    assert!(
        !out.contains("AddAppData"),
        "every AddAppData use is spelled out"
    );
    // ConnContext's otr_offer has an anonymous enum type in libotr; the
    // name the generated header needs stays a tag, so no typedef name is
    // taken either.
    for (from, to) in [
        ("typedef enum OtrlOffer {", "enum OtrlOffer {"),
        ("\n} OtrlOffer;", "\n};"),
        ("  OtrlOffer otr_offer;", "  enum OtrlOffer otr_offer;"),
    ] {
        assert!(out.contains(from), "the header has {from:?}");
        out = out.replace(from, to);
    }
    out
}
