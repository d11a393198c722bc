//! Progress on stderr: bars for long operations (downloads, batches, evaluations), drawn only
//! when stderr is a terminal so logs and `--json` output stay clean; the [`events`] the model
//! side reports while it works; and [`live`], the display `run` and `fix` show from them.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for byte transfers (hidden until a length is set).
/// Hidden until something is downloaded (a length is set): opening a cached runtime or model
/// shows nothing, not an empty `0 B/0 B` bar.
pub fn bytes_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg}\n  [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar
}

/// A bar counting items (instances, problems).
pub fn items_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] [{bar:30}] {pos}/{len} eta {eta} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}

/// A spinner for one long step of unknown length.
pub fn spinner(msg: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"),
    );
    bar.set_message(msg.into());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

pub mod events;
pub mod live;

pub use events::{Event, ProgressSink, Recorder, SharedSink};
pub use live::LiveProgress;
