//! How the CLI prints: results through the session console, and tables in Docker's style.

use std::time::SystemTime;

use hush_console::Console;

use crate::exit::Failure;

/// Writes a result to stdout through `console` (scrubbed).
pub fn print(console: &Console, bytes: &[u8]) -> Result<(), Failure> {
    console.out(bytes).map_err(stdout_failed)
}

/// The failure of a write to stdout.
pub fn stdout_failed(err: std::io::Error) -> Failure {
    Failure::Work(format!("cannot write to stdout: {err}"))
}

/// Left-aligned columns three spaces apart; the first row is the header.
pub fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (col, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if col + 1 < N {
                let pad = widths[col] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Bytes in decimal units with three significant digits, as Docker shows them: `4.26MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 999.5 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if unit == 0 || v >= 99.95 => 0,
        v if v >= 9.995 => 1,
        _ => 2,
    };
    format!("{value:.decimals$}{}", UNITS[unit])
}

/// "3 hours ago".
pub fn age(created: SystemTime, now: SystemTime) -> String {
    let Ok(elapsed) = now.duration_since(created) else {
        return "just now".to_string();
    };
    let secs = elapsed.as_secs();
    let (n, unit) = match secs {
        0..60 => return "just now".to_string(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        86_400..1_209_600 => (secs / 86_400, "day"),
        1_209_600..5_184_000 => (secs / 604_800, "week"),
        5_184_000..63_072_000 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn columns_align_and_trim() {
        let rows = [
            ["NAME".to_string(), "SIZE".into(), "X".into()],
            ["busybox:latest".into(), "2MB".into(), "".into()],
        ];
        assert_eq!(
            columns(&rows),
            "NAME             SIZE   X\nbusybox:latest   2MB\n"
        );
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(42_600_000), "42.6MB");
        assert_eq!(human_size(426_000_000), "426MB");
        assert_eq!(human_size(1_000_000_000), "1.00GB");
    }

    #[test]
    fn ages_are_relative() {
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |secs| age(created, created + Duration::from_secs(secs));
        assert_eq!(at(5), "just now");
        assert_eq!(at(60), "1 minute ago");
        assert_eq!(at(7200), "2 hours ago");
        assert_eq!(at(3 * 86_400), "3 days ago");
        assert_eq!(at(400 * 86_400), "13 months ago");
        assert_eq!(at(800 * 86_400), "2 years ago");
        assert_eq!(age(created + Duration::from_secs(9), created), "just now");
    }
}
