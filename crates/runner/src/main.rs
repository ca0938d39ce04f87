//! The stock `runner` binary: every command with the reference detectors.

/// mimalloc rather than glibc's allocator: a cycle allocates its window and
/// results on several threads (tokio's, the executor's), and glibc's
/// per-thread arenas keep what a cycle freed. At 20x the sample
/// (`cargo xtask bench scaled20`) the peak resident memory was 439 MB with
/// glibc and 352 MB with mimalloc, for the same time. A deploy binary over
/// the `runner` library declares it the same way (see
/// `examples/own-models/own-runner`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    runner::Runner::reference().run()
}
