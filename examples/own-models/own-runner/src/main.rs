//! `own-runner`: every `runner` command (migrate, ingest, models, versions,
//! cycle, replay, serve, snapshot, ...) with the reference detectors and
//! this deploy's `loitering` model.

fn main() -> std::process::ExitCode {
    runner::Runner::reference()
        .model("loitering", "v1", loitering::Loitering)
        .run()
}
