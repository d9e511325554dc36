//! Download progress for the examples: bars on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rstcloud::Progress;

/// Shows the progress of any number of downloads, each under its own label.
pub struct Reporter {
    /// Set on a terminal only: a log file gets lines, not redrawn bars.
    bars: Option<MultiProgress>,
    state: Mutex<HashMap<String, Shown>>,
}

enum Shown {
    Bar(ProgressBar),
    /// The last quarter (or MiB, when the size is unknown) reported as a line.
    Line(u64),
}

impl Reporter {
    /// Bars when stderr is a terminal, lines when it is not.
    pub fn new() -> Reporter {
        Reporter {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Reports where the download under `label` has come to.
    pub fn update(&self, label: &str, progress: Progress) {
        let mut state = self.state.lock().unwrap();
        let shown = state
            .entry(label.to_owned())
            .or_insert_with(|| self.start(label, progress));
        match shown {
            Shown::Bar(bar) => {
                bar.set_position(progress.bytes);
                if progress.records > 0 {
                    bar.set_message(format!("{label}: {} records", progress.records));
                }
            }
            Shown::Line(last) => {
                let step = match progress.total_bytes {
                    Some(total) if total > 0 => progress.bytes * 4 / total,
                    _ => progress.bytes >> 20,
                };
                if step > *last {
                    *last = step;
                    match progress.total_bytes {
                        Some(total) => {
                            eprintln!("{label}: {} of {total} bytes", progress.bytes)
                        }
                        None => eprintln!("{label}: {} bytes", progress.bytes),
                    }
                }
            }
        }
    }

    fn start(&self, label: &str, progress: Progress) -> Shown {
        let Some(bars) = &self.bars else {
            match progress.total_bytes {
                Some(total) => eprintln!("{label}: downloading {total} bytes"),
                None => eprintln!("{label}: downloading"),
            }
            return Shown::Line(0);
        };
        let bar = match progress.total_bytes {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg:32} {bytes} {bytes_per_sec}")
                    .expect("a valid template"),
            ),
        };
        bar.set_message(label.to_owned());
        Shown::Bar(bars.add(bar))
    }

    /// Marks every download as done.
    pub fn finish(&self) {
        for shown in self.state.lock().unwrap().values() {
            if let Shown::Bar(bar) = shown {
                bar.finish();
            }
        }
    }
}
