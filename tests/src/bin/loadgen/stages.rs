//! The dev broker's own account of a run: its write-stage and checkpoint
//! histograms (`devbroker_storage_write_stage_seconds`,
//! `devbroker_storage_checkpoint_seconds`, see the broker's `storage::latency`),
//! a write's whole time on the writer (`devbroker_storage_write_seconds`, as
//! "write total") and the HTTP write route's time from routing to response
//! (`devbroker_http_request_seconds`, as "http write"), scraped from `/metrics`
//! before and after a run and reduced to the difference, so each row of the
//! tail run says where its time went, and how much of the client's latency
//! the broker accounts for at all.
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

/// A histogram to keep: its name, the label that tells its series apart (none
/// for a histogram of one series), and the row a series becomes, from that
/// label's value (`None`: not kept).
struct Wanted {
    metric: &'static str,
    label: Option<&'static str>,
    row: fn(&str) -> Option<String>,
}

const METRICS: &[Wanted] = &[
    Wanted {
        metric: "devbroker_storage_write_stage_seconds",
        label: Some("stage"),
        row: |stage| Some(format!("write {stage}")),
    },
    Wanted {
        metric: "devbroker_storage_checkpoint_seconds",
        label: Some("phase"),
        row: |phase| Some(format!("checkpoint {phase}")),
    },
    Wanted {
        metric: "devbroker_storage_write_seconds",
        label: None,
        row: |_| Some("write total".to_string()),
    },
    Wanted {
        metric: "devbroker_http_request_seconds",
        label: Some("route"),
        row: |route| route.ends_with("/write").then(|| "http write".to_string()),
    },
];

pub async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    let mut conn = Conn::open(addr).await?;
    let text = conn.get_ok(&Uri::from_static("/metrics")).await?;
    Ok(parse(&String::from_utf8_lossy(&text)))
}

fn parse(text: &str) -> Scrape {
    let mut out = Scrape::default();
    for line in text.lines() {
        for Wanted { metric, label, row } in METRICS {
            let Some(rest) = line.strip_prefix(metric) else {
                continue;
            };
            // `name_kind{labels} value`, or `name_kind value` without labels.
            let parts = match rest.split_once('{') {
                Some((kind, rest)) => rest.split_once("} ").map(|(l, v)| (kind, l, v)),
                None => rest.split_once(' ').map(|(kind, v)| (kind, "", v)),
            };
            let Some((kind, labels, value)) = parts else {
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
            let value_of_label = match label {
                Some(name) => match get(name) {
                    Some(v) => v,
                    None => continue,
                },
                None => String::new(),
            };
            let Some(which) = row(&value_of_label) else {
                continue;
            };
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
        let _ = writeln!(
            s,
            "| {which} | {:.0} | {:.3} | {} | {} | {} |",
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

    #[test]
    fn the_writer_total_and_the_http_write_route_are_rows_other_routes_are_not() {
        let text = "devbroker_storage_write_seconds_bucket{le=\"0.001\"} 3\n\
             devbroker_storage_write_seconds_bucket{le=\"0.064\"} 4\n\
             devbroker_storage_write_seconds_bucket{le=\"+Inf\"} 4\n\
             devbroker_storage_write_seconds_sum 0.064\n\
             devbroker_storage_write_seconds_count 4\n\
             devbroker_http_request_seconds_bucket{route=\"/kvstore/{topic}/partition/{partition}/write\",le=\"0.001\"} 2\n\
             devbroker_http_request_seconds_bucket{route=\"/kvstore/{topic}/partition/{partition}/write\",le=\"+Inf\"} 2\n\
             devbroker_http_request_seconds_sum{route=\"/kvstore/{topic}/partition/{partition}/write\"} 0.001\n\
             devbroker_http_request_seconds_count{route=\"/kvstore/{topic}/partition/{partition}/write\"} 2\n\
             devbroker_http_request_seconds_bucket{route=\"/metrics\",le=\"+Inf\"} 9\n\
             devbroker_http_request_seconds_count{route=\"/metrics\"} 9\n";
        let table = render(&Scrape::default(), &parse(text));
        assert!(
            table.contains("| write total | 4 | 16.000 | 64.00 | 64.00 | 64.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| http write | 2 | 0.500 | 1.00 | 1.00 | 1.00 |"),
            "{table}"
        );
        assert!(!table.contains("metrics"), "{table}");
    }
}
