//! `own-runner`: every `runner` command (migrate, ingest, models, versions,
//! cycle, replay, serve, snapshot, ...) with the reference detectors and
//! this deploy's `loitering` model.

/// The allocator the stock runner uses (a cycle's peak memory is measured
/// with it; glibc's per-thread arenas keep more of what a cycle frees).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    runner::Runner::reference()
        .model("loitering", "v1", loitering::Loitering)
        .run()
}
