//! Link settings that torch-sys cannot pass on to our binaries itself.
//!
//! * An rpath to libtorch's lib folder, so `rifle-tui` runs without LD_LIBRARY_PATH.
//! * libtorch_cuda forced in with `--no-as-needed` when the libtorch we build against has it:
//!   nothing references its symbols directly, so the linker would drop it and
//!   `tch::Cuda::is_available()` would be false even on a GPU box.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report libtorch's lib folder; no rpath set");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        println!("cargo:rustc-cfg=libtorch_has_cuda");
    }
    println!("cargo:rustc-check-cfg=cfg(libtorch_has_cuda)");
}
