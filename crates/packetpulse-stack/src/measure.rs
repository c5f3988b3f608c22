//! What the benchmarks of the whole platform measure: latency quantiles and each process' CPU and memory (read
//! from `/proc`, so a service is measured as it runs, without an agent inside it).

use std::collections::BTreeMap;
use std::time::Instant;

/// Quantiles of a set of latencies, ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantiles {
    /// How many were measured.
    pub count: usize,
    /// Median.
    pub p50: i64,
    /// 90th percentile.
    pub p90: i64,
    /// 99th percentile.
    pub p99: i64,
    /// The slowest.
    pub max: i64,
}

impl Quantiles {
    /// The quantiles of `values` (nearest rank); `None` when there are none.
    pub fn of(mut values: Vec<i64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |quantile: f64| {
            let index = ((values.len() - 1) as f64 * quantile).round() as usize;
            values[index]
        };
        Some(Self {
            count: values.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        })
    }

    /// `p50 / p99 ms`, for tables.
    pub fn p50_p99(quantiles: Option<&Self>) -> String {
        quantiles.map_or_else(|| "–".to_owned(), |q| format!("{} / {} ms", q.p50, q.p99))
    }
}

/// One process' counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    /// User + system CPU time, clock ticks.
    cpu_ticks: u64,
    rss_kib: u64,
}

/// CPU and memory of one process over a measured window.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessUsage {
    /// Share of one core, percent, between the first and the last sample.
    pub cpu_percent: f64,
    /// Resident memory at the first sample of the window, MiB.
    pub rss_first_mib: f64,
    /// The largest resident memory sampled, MiB.
    pub rss_max_mib: f64,
    /// Resident memory at the last sample, MiB.
    pub rss_last_mib: f64,
}

/// Samples named processes (`/proc/PID/stat`) during a run.
#[derive(Debug, Default)]
pub struct ProcessSampler {
    samples: BTreeMap<String, Vec<(u32, Sample)>>,
}

impl ProcessSampler {
    /// Records the counters of `pid` as `name`; a process that is gone is skipped.
    pub fn sample(&mut self, name: &str, pid: u32) {
        if let Some(sample) = read(pid) {
            self.samples
                .entry(name.to_owned())
                .or_default()
                .push((pid, sample));
        }
    }

    /// Forgets everything sampled so far (the end of a warm-up).
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Each process' usage over the samples taken of its newest PID (a restarted service starts afresh).
    pub fn usage(&self) -> BTreeMap<String, ProcessUsage> {
        let ticks_per_second = clock_ticks_per_second() as f64;
        self.samples
            .iter()
            .filter_map(|(name, samples)| {
                let newest_pid = samples.last()?.0;
                let samples: Vec<Sample> = samples
                    .iter()
                    .filter(|(pid, _)| *pid == newest_pid)
                    .map(|(_, sample)| *sample)
                    .collect();
                let (first, last) = (samples.first()?, samples.last()?);
                let wall = last.at.duration_since(first.at).as_secs_f64();
                let cpu = last.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / ticks_per_second;
                let mib = |kib: u64| kib as f64 / 1024.0;
                Some((
                    name.clone(),
                    ProcessUsage {
                        cpu_percent: if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
                        rss_first_mib: mib(first.rss_kib),
                        rss_max_mib: mib(samples.iter().map(|s| s.rss_kib).max().unwrap_or(0)),
                        rss_last_mib: mib(last.rss_kib),
                    },
                ))
            })
            .collect()
    }
}

/// `utime + stime` and the resident set of `pid`, from `/proc`.
fn read(pid: u32) -> Option<Sample> {
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12, rss pages (24) at 21.
    let cpu_ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some(Sample {
        at,
        cpu_ticks,
        rss_kib: rss_pages * page_size_kib(),
    })
}

/// `getconf CLK_TCK` (100 on Linux), asked once.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| getconf("CLK_TCK").unwrap_or(100))
}

/// `getconf PAGESIZE` in KiB (4 on x86-64), asked once.
fn page_size_kib() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| getconf("PAGESIZE").map_or(4, |bytes| bytes / 1024))
}

fn getconf(name: &str) -> Option<u64> {
    let output = std::process::Command::new("getconf").arg(name).output().ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let quantiles = Quantiles::of((1..=100).collect()).expect("values");
        assert_eq!(
            (quantiles.count, quantiles.p50, quantiles.p99, quantiles.max),
            (100, 51, 99, 100)
        );
        assert_eq!(Quantiles::of(Vec::new()), None);
    }

    #[test]
    fn this_process_is_sampled() {
        let mut sampler = ProcessSampler::default();
        sampler.sample("me", std::process::id());
        // Some work between the samples, so the CPU figure has something to count.
        let mut sum = 0_u64;
        for value in 0..5_000_000_u64 {
            sum = sum.wrapping_add(value * value);
        }
        std::hint::black_box(sum);
        sampler.sample("me", std::process::id());
        let usage = &sampler.usage()["me"];
        assert!(usage.rss_max_mib > 1.0, "{usage:?}");
        assert!(usage.cpu_percent >= 0.0, "{usage:?}");
    }
}
