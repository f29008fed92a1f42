//! The node_exporter textfile: the exposition in the Prometheus text format 0.0.4 (the
//! only one node_exporter's textfile collector reads; OpenMetrics makes it drop the whole
//! file and set `node_textfile_scrape_error 1`), rewritten every
//! `textfile_interval` through a temporary file and a rename, so a reader never sees a
//! half-written file. The temporary file's name (`.NAME.XXXX.tmp`) does not end in `.prom`,
//! so node_exporter never reads it. The file is removed when the daemon stops.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::status::StatusBoard;
use crate::sys::atomic_write;

pub async fn run(path: PathBuf, every: Duration, board: StatusBoard, cancel: CancellationToken) {
    let mut failing = false;
    loop {
        let text = board.read(super::render);
        let target = path.clone();
        let written =
            tokio::task::spawn_blocking(move || atomic_write::write(&target, text.as_bytes(), 0))
                .await;
        match written {
            Ok(Ok(_)) => failing = false,
            Ok(Err(e)) if !failing => {
                // Once per failure streak, not every interval.
                warn!(error = %e, "cannot write the metrics textfile");
                failing = true;
            }
            _ => {}
        }
        tokio::select! {
            () = cancel.cancelled() => {
                // A stopped daemon withdraws everything: a file that still said
                // "announced" would mislead; its absence is what alerts can look for.
                let _ = std::fs::remove_file(&path);
                return;
            }
            () = tokio::time::sleep(every) => {}
        }
    }
}
