//! The stock `runner` binary: every command with the reference detectors.

fn main() -> std::process::ExitCode {
    runner::Runner::reference().run()
}
