//! Makes the linker script findable by name (`-Tcorenet.ld`) for every binary that links
//! this crate: lld searches `-T` scripts in the library search path.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rerun-if-changed=corenet.ld");
}
