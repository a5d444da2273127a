//! `hush cache ls|prune`: the persistent operation cache at `<hush home>/cache`.

use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use hush_cache::{Cache, CacheError, EntryInfo, Prune};
use hush_session::Session;

use crate::exit::Failure;
use crate::output::{age, columns, human_size, print};

/// Cache subcommands.
#[derive(Subcommand)]
pub enum CacheCommand {
    /// List cached exec results: key, command (scrubbed), size, age, last use; most recently
    /// used first.
    #[command(visible_alias = "list")]
    Ls,
    /// Remove cached results (never a layer a running hush process uses) and print what was
    /// freed.
    Prune(PruneArgs),
}

/// Arguments of `hush cache prune`: exactly one of the modes.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PruneArgs {
    /// Remove every entry.
    #[arg(long)]
    all: bool,
    /// Remove entries not used for longer than DUR (`90s`, `30m`, `12h`, `7d`, `2w`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    older_than: Option<Duration>,
    /// Remove least recently used entries until the rest take at most N bytes (`500000`,
    /// `200MB`, `1.5GiB`).
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    keep_bytes: Option<u64>,
}

/// Runs a cache subcommand; a corrupt index it replaced is reported through the session's
/// warnings.
pub fn run(cmd: CacheCommand, session: &Session) -> Result<(), Failure> {
    let home = session.home().map_err(|e| Failure::Work(e.to_string()))?;
    let cache = Cache::open(&home.join("cache")).map_err(work)?;
    if let Some(recovery) = cache.recovered() {
        (session.warnings())(&recovery.to_string());
    }
    match cmd {
        CacheCommand::Ls => print(
            session.console(),
            table(&cache.entries().map_err(work)?).as_bytes(),
        ),
        CacheCommand::Prune(args) => {
            let what = match (args.all, args.older_than, args.keep_bytes) {
                (_, Some(age), _) => Prune::OlderThan(age),
                (_, _, Some(bytes)) => Prune::KeepBytes(bytes),
                _ => Prune::All,
            };
            let report = cache.prune(what).map_err(work)?;
            let mut text = format!(
                "removed {} {}, freed {}\n",
                report.removed,
                if report.removed == 1 {
                    "entry"
                } else {
                    "entries"
                },
                human_size(report.freed_bytes)
            );
            if report.in_use > 0 {
                text.push_str(&format!(
                    "kept {} in use by running hush processes\n",
                    report.in_use
                ));
            }
            if report.orphans > 0 {
                text.push_str(&format!(
                    "removed {} unfinished layer(s) of interrupted commits\n",
                    report.orphans
                ));
            }
            print(session.console(), text.as_bytes())
        }
    }
}

fn work(err: CacheError) -> Failure {
    Failure::Work(err.to_string())
}

/// The `ls` table.
fn table(entries: &[EntryInfo]) -> String {
    const WHAT: usize = 48;
    let now = SystemTime::now();
    let mut rows = vec![[
        "KEY".to_string(),
        "COMMAND".into(),
        "SIZE".into(),
        "CREATED".into(),
        "LAST USED".into(),
    ]];
    for e in entries {
        let mut what: String = e.what.chars().take(WHAT).collect();
        if e.what.chars().count() > WHAT {
            what.pop();
            what.push('…');
        }
        rows.push([
            e.key.chars().take(12).collect(),
            what,
            human_size(e.bytes),
            age(e.created, now),
            age(e.last_used, now),
        ]);
    }
    columns(&rows)
}

/// `90s`, `30m`, `12h`, `7d`, `2w` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 90s, 30m, 12h, 7d or 2w");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).map(Duration::from_secs).ok_or_else(bad)
}

/// `500000`, `200MB`, `1.5GiB`, `64k` (decimal and binary units).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size like 500000, 200MB or 1.5GiB");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| bad())?;
    let unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = n * unit as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(parse_bytes("500000"), Ok(500_000));
        assert_eq!(parse_bytes("200MB"), Ok(200_000_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }
}
