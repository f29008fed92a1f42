//! Durations as a Prometheus-style histogram with fixed buckets.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bucket bounds (seconds) of the check and apply duration histograms: 1 ms to 10 s.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A Prometheus-style histogram of durations with the fixed [`DURATION_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    pub buckets: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        if self.buckets.len() != DURATION_BUCKETS.len() + 1 {
            self.buckets = vec![0; DURATION_BUCKETS.len() + 1];
        }
        let i = DURATION_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += secs;
        self.count += 1;
    }

    /// `(upper bound, observations in that bucket)`, ending with `+Inf`.
    pub fn bucket_pairs(&self) -> Vec<(f64, u64)> {
        DURATION_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .enumerate()
            .map(|(i, le)| (le, self.buckets.get(i).copied().unwrap_or(0)))
            .collect()
    }
}
