//! Summary statistics of measured durations.

use std::time::Duration;

use serde_json::{Value, json};

/// min/median/p90/p99/max of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Some(Summary {
            count: ms.len(),
            min: ms[0],
            median: percentile(&ms, 50.0),
            p90: percentile(&ms, 90.0),
            p99: percentile(&ms, 99.0),
            max: ms[ms.len() - 1],
        })
    }

    pub fn to_json(self) -> Value {
        json!({"count": self.count, "min_ms": self.min, "median_ms": self.median,
               "p90_ms": self.p90, "p99_ms": self.p99, "max_ms": self.max})
    }

    pub fn from_json(v: &Value) -> Option<Summary> {
        Some(Summary {
            count: v.get("count")?.as_u64()? as usize,
            min: v.get("min_ms")?.as_f64()?,
            median: v.get("median_ms")?.as_f64()?,
            p90: v.get("p90_ms")?.as_f64()?,
            p99: v.get("p99_ms")?.as_f64()?,
            max: v.get("max_ms")?.as_f64()?,
        })
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
