//! The dev broker's own account of a run: its write-stage and checkpoint
//! histograms (`devbroker_storage_write_stage_seconds`,
//! `devbroker_storage_checkpoint_seconds`, see the broker's `storage::latency`),
//! scraped from `/metrics` before and after a run and reduced to the
//! difference, so each row of the tail run says where its time went.
//!
//! A Prometheus histogram only has buckets, so a quantile here is the upper
//! bound of the bucket it falls in ("at most"), and the mean is exact.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::Result;
use hyper::http::Uri;

use crate::conn::Conn;

/// Cumulative bucket counts by (metric, label value), `le` ascending, plus sum and count.
#[derive(Clone, Default)]
pub struct Scrape {
    series: BTreeMap<(String, String), Series>,
}

#[derive(Clone, Default)]
struct Series {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

const METRICS: &[(&str, &str)] = &[
    ("devbroker_storage_write_stage_seconds", "stage"),
    ("devbroker_storage_checkpoint_seconds", "phase"),
];

pub async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    let mut conn = Conn::open(addr).await?;
    let text = conn.get_ok(&Uri::from_static("/metrics")).await?;
    Ok(parse(&String::from_utf8_lossy(&text)))
}

fn parse(text: &str) -> Scrape {
    let mut out = Scrape::default();
    for line in text.lines() {
        for (metric, label) in METRICS {
            let Some(rest) = line.strip_prefix(metric) else {
                continue;
            };
            let (kind, rest) = match rest.split_once('{') {
                Some((kind, rest)) => (kind, rest),
                None => continue,
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let get = |name: &str| {
                labels.split(',').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == name).then(|| v.trim_matches('"').to_string())
                })
            };
            let Some(which) = get(label) else { continue };
            let s = out.series.entry((metric.to_string(), which)).or_default();
            match kind {
                "_bucket" => {
                    let le =
                        get("le").map_or(f64::INFINITY, |l| l.parse().unwrap_or(f64::INFINITY));
                    s.buckets.push((le, value));
                }
                "_sum" => s.sum = value,
                "_count" => s.count = value,
                _ => {}
            }
        }
    }
    out
}

impl Series {
    fn minus(&self, before: Option<&Series>) -> Series {
        let Some(b) = before else {
            return self.clone();
        };
        Series {
            buckets: self
                .buckets
                .iter()
                .zip(&b.buckets)
                .map(|((le, n), (_, m))| (*le, n - m))
                .collect(),
            sum: self.sum - b.sum,
            count: self.count - b.count,
        }
    }

    /// Upper bound (ms) of the bucket holding quantile `q`.
    fn at_most_ms(&self, q: f64) -> f64 {
        let want = (q * self.count).ceil().max(1.0);
        self.buckets
            .iter()
            .find(|(_, n)| *n >= want)
            .map_or(f64::INFINITY, |(le, _)| le * 1000.0)
    }

    /// Upper bound (ms) of the highest non-empty bucket.
    fn max_ms(&self) -> f64 {
        self.buckets
            .iter()
            .find(|(_, n)| *n >= self.count)
            .map_or(f64::INFINITY, |(le, _)| le * 1000.0)
    }
}

/// A markdown table of what happened between two scrapes.
pub fn render(before: &Scrape, after: &Scrape) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| what | count | mean (ms) | p99 <= (ms) | p99.9 <= (ms) | max <= (ms) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for ((metric, which), series) in &after.series {
        let d = series.minus(before.series.get(&(metric.clone(), which.clone())));
        if d.count <= 0.0 {
            continue;
        }
        let kind = if metric.contains("checkpoint") {
            "checkpoint"
        } else {
            "write"
        };
        let _ = writeln!(
            s,
            "| {kind} {which} | {:.0} | {:.3} | {} | {} | {} |",
            d.count,
            d.sum / d.count * 1000.0,
            fmt_ms(d.at_most_ms(0.99)),
            fmt_ms(d.at_most_ms(0.999)),
            fmt_ms(d.max_ms()),
        );
    }
    s
}

fn fmt_ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "> 1300".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_difference_gives_counts_means_and_bucket_bounds() {
        let before = parse(
            "devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"0.001\"} 1\n\
             devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"0.002\"} 1\n\
             devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"+Inf\"} 1\n\
             devbroker_storage_write_stage_seconds_sum{stage=\"redo_sync\"} 0.0005\n\
             devbroker_storage_write_stage_seconds_count{stage=\"redo_sync\"} 1\n",
        );
        let after = parse(
            "devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"0.001\"} 99\n\
             devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"0.002\"} 101\n\
             devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\",le=\"+Inf\"} 101\n\
             devbroker_storage_write_stage_seconds_sum{stage=\"redo_sync\"} 0.0605\n\
             devbroker_storage_write_stage_seconds_count{stage=\"redo_sync\"} 101\n",
        );
        let table = render(&before, &after);
        // 100 new observations: 98 at most 1 ms, 2 at most 2 ms; mean 0.6 ms.
        assert!(
            table.contains("| write redo_sync | 100 | 0.600 | 2.00 | 2.00 | 2.00 |"),
            "{table}"
        );
    }
}
