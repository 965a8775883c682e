//! The process's allocator: jemalloc, set to keep the memory a training step frees.
//!
//! Every step frees and allocates again the same activation buffers, tens of MB each at
//! 224 px. glibc hands most of them back to the kernel on free (it `mmap`s blocks past
//! its 32 MiB ceiling, and trims the engine thread's arena), so each step pays for them
//! again in page faults: on two CPU cores a third of the training time went to the
//! kernel. jemalloc with purging off reuses them. EfficientNet-Lite0 at 224 px went from
//! 18.9 to 27.7 img/s and its peak memory from 3.7 to 3.2 GB (`rifle-tui bench` on the
//! demo profile with `data.image_size=224`; `benches/epoch.sh` sets it beside PyTorch).
//! The footprint is the step's peak, which training reaches every step anyway.
//!
//! libtorch allocates with `malloc` too, so the C symbols are replaced for the whole
//! process (`unprefixed_malloc_on_supported_platforms`), not only Rust's allocator.
use std::ffi::c_char;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A C string jemalloc reads from a static.
#[repr(transparent)]
struct ConfString(*const c_char);

// SAFETY: it points to a string literal, which lives as long as the program and is never
// written.
unsafe impl Sync for ConfString {}

/// jemalloc's built-in options, read once at start-up. `MALLOC_CONF` in the environment
/// still overrides them (jemalloc reads it after this).
#[export_name = "malloc_conf"]
static MALLOC_CONF: ConfString = ConfString(c"dirty_decay_ms:-1,muzzy_decay_ms:-1".as_ptr());
