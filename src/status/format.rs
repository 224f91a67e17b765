//! Small text formatters for the human views: durations, sizes, latencies, aligned tables.

use std::time::Duration;

/// `850ms`, `12s`, `3m04s`, `2h03m`, `3d04h`: two units at most, coarse enough to scan.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

pub fn duration_ms(ms: u64) -> String {
    duration(Duration::from_millis(ms))
}

/// `512B`, `1.5KiB`, `345KiB`, `1.2MiB`: binary units, one decimal below ten.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// `0.42ms`, `12.3ms`, `187ms`: about three significant digits.
pub fn latency(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 100.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// `0%`, `15%`, `2.5%`: whole numbers unless the loss is small but not zero.
pub fn percent(p: f64) -> String {
    if p > 0.0 && p < 10.0 && p.fract() != 0.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Left-aligned columns two spaces apart, no trailing spaces; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Replaces control characters so a value coming from the network cannot mangle the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |n| duration(Duration::from_millis(n));
        assert_eq!(ms(850), "850ms");
        assert_eq!(ms(12_400), "12s");
        assert_eq!(ms(184_000), "3m04s");
        assert_eq!(ms(7_380_000), "2h03m");
        assert_eq!(ms(273_600_000), "3d04h");
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(345 * 1024), "345KiB");
        assert_eq!(bytes(1_300_000), "1.2MiB");
        assert_eq!(latency(0.421), "0.42ms");
        assert_eq!(latency(12.34), "12.3ms");
        assert_eq!(latency(187.2), "187ms");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(2.5), "2.5%");
        assert_eq!(percent(15.0), "15%");
    }

    #[test]
    fn table_aligns_and_trims() {
        let rows = vec![
            vec!["A".to_owned(), "BB".to_owned(), "C".to_owned()],
            vec!["long".to_owned(), "".to_owned(), "".to_owned()],
        ];
        assert_eq!(table(&rows), "A     BB  C\nlong\n");
    }
}
