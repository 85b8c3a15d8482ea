//! How numbers and times look on a terminal.

/// A byte count for people: `1.5 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024 * 10 && unit + 1 < UNITS.len() {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

/// Unix milliseconds as an HTTP-date (`Mon, 23 Nov 2026 06:17:05 GMT`).
pub(crate) fn when(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    httpdate::fmt_http_date(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_times_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(20 * 1024 * 1024), "20 MiB");
        assert_eq!(when(1_795_414_625_000), "Mon, 23 Nov 2026 06:17:05 GMT");
    }
}
