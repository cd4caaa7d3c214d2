//! The checked-in IDL, `programs/paytab/idl/paytab.json`, is the program's:
//! built natively as `anchor idl build` does (Anchor's `idl-build` feature,
//! `anchor-lang-idl`'s builder) and compared byte for byte. After changing
//! the program, rewrite it with
//! `PAYTAB_WRITE_IDL=1 cargo test -p paytab --test idl`.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use anchor_lang_idl::build::IdlBuilder;

#[test]
fn the_checked_in_idl_is_the_one_the_program_builds() {
    let program = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The builder runs `cargo test --features idl-build` and sets RUSTFLAGS,
    // which would rebuild every dependency; the encoded flags win over it,
    // so the nested build keeps this build's (empty) flags and its artifacts.
    std::env::set_var("CARGO_ENCODED_RUSTFLAGS", "");
    // With RUSTUP_TOOLCHAIN set the builder would try (and on failure
    // install) a toolchain of that name; instead, the cargo and rustc that
    // run this test are put first on the PATH, so the nested build uses them.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    if let Some(toolchain) = std::env::var_os("CARGO")
        .map(std::path::PathBuf::from)
        .and_then(|cargo| cargo.parent().map(Path::to_path_buf))
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(toolchain).chain(std::env::split_paths(&path));
        std::env::set_var("PATH", std::env::join_paths(paths).unwrap());
    }
    let idl = IdlBuilder::new()
        .program_path(program.to_path_buf())
        .cargo_args(vec!["--lib".into()])
        .build()
        .expect("the IDL builds");
    let built = serde_json::to_string_pretty(&idl).unwrap() + "\n";
    let path = program.join("idl/paytab.json");
    if std::env::var_os("PAYTAB_WRITE_IDL").is_some() {
        std::fs::write(&path, &built).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == built,
        "{} is not the program's IDL: rewrite it with `PAYTAB_WRITE_IDL=1 cargo test -p paytab --test idl`",
        path.display()
    );
}
