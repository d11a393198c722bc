//! The live display of a batch: an overall bar (instances done of those selected, patched and
//! failed counts, tokens/s) and one line per worker (its instance, current stage and elapsed
//! time), drawn on stderr when it is a terminal. Otherwise (logs, CI) nothing is drawn and the
//! per-instance lines go to stderr as plain lines; every line also goes to the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::activity::{self, Slot};

pub struct WorkerDisplay {
    show: bool,
    multi: MultiProgress,
    total: ProgressBar,
    workers: Vec<Worker>,
}

struct Worker {
    bar: ProgressBar,
    /// The instance in flight ("" when idle).
    instance: Arc<Mutex<String>>,
}

/// Removes a worker thread's stage slot when dropped.
pub struct SlotGuard;

impl Drop for SlotGuard {
    fn drop(&mut self) {
        activity::install(None);
    }
}

impl WorkerDisplay {
    /// A display for `workers` workers over `len` instances of which `done` are finished;
    /// `show: false` draws and prints nothing (lines still go to the log).
    pub fn new(show: bool, len: u64, done: u64, workers: usize) -> WorkerDisplay {
        let multi = if show {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        let total = multi.add(crate::progress::items_bar(len));
        total.set_position(done);
        total.reset_eta();
        if show && !multi.is_hidden() {
            // Redraw every second so its elapsed time moves while instances run.
            total.enable_steady_tick(Duration::from_secs(1));
        }
        let style = ProgressStyle::with_template("  {prefix}: {wide_msg} {elapsed:>4}")
            .expect("static template");
        let workers = (0..workers)
            .map(|w| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(format!("worker {}", w + 1));
                bar.set_message("idle");
                if show && !multi.is_hidden() {
                    bar.enable_steady_tick(Duration::from_secs(1));
                }
                Worker {
                    bar,
                    instance: Arc::default(),
                }
            })
            .collect();
        WorkerDisplay {
            show,
            multi,
            total,
            workers,
        }
    }

    /// Install worker `w`'s stage slot on the calling thread: stages named with
    /// [`activity::set`] there show on its line.
    pub fn install_slot(&self, w: usize) -> SlotGuard {
        let worker = &self.workers[w];
        let (bar, instance) = (worker.bar.clone(), worker.instance.clone());
        activity::install(Some(Slot::new(move |stage| {
            let id = instance.lock().map(|i| i.clone()).unwrap_or_default();
            bar.set_message(format!("{id} · {stage}"));
        })));
        SlotGuard
    }

    /// Worker `w` starts `id`.
    pub fn start(&self, w: usize, id: &str) {
        let worker = &self.workers[w];
        let id = crate::terminal_text::terminal_safe(id);
        if let Ok(mut i) = worker.instance.lock() {
            *i = id.to_string();
        }
        worker.bar.reset_elapsed();
        worker.bar.set_message(format!("{id} · starting"));
    }

    /// Worker `w` has no instance.
    pub fn idle(&self, w: usize) {
        let worker = &self.workers[w];
        if let Ok(mut i) = worker.instance.lock() {
            i.clear();
        }
        worker.bar.set_message("idle");
    }

    /// One more instance finished; `counts` goes beside the overall bar.
    pub fn finished(&self, counts: String) {
        self.total.inc(1);
        self.total.set_message(counts);
    }

    /// A line above the bars (or on stderr when nothing is drawn), and in the log.
    pub fn line(&self, text: String) {
        tracing::info!("{text}");
        if !self.show {
            return;
        }
        if self.multi.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.multi.println(text);
        }
    }

    /// Remove the bars.
    pub fn clear(&self) {
        for w in &self.workers {
            w.bar.finish_and_clear();
        }
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}
