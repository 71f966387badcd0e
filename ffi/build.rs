//! Gives the shared library its SONAME, which cargo does not set: programs
//! linked with `-ldevicecode` then load `libdevicecode.so.0`, and an
//! incompatible libdevicecode.so.1 can be installed next to it. Also tells
//! the tests which target they build the C example for.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdevicecode.so.0");
    // The tests build the C example with the target's C compiler.
    for (var, name) in [
        ("TARGET", "DEVICECODE_FFI_TARGET"),
        ("HOST", "DEVICECODE_FFI_HOST"),
    ] {
        if let Ok(value) = std::env::var(var) {
            println!("cargo:rustc-env={name}={value}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
