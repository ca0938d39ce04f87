//! The progress bar of the commands that run many cycles (`replay`,
//! `versions backtest`): on stderr when it is a terminal, hidden otherwise
//! (a log file or a pipe gets the per-cycle lines only).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` cycles.
pub fn cycles(len: u64) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{pos}/{len} cycles {wide_bar} {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
