//! How numbers, times and JSON look on a terminal. `--json` prints the service's own types
//! (the ones the desktop app gets), with the CLI's field names: snake_case, where the
//! window's are camelCase.

use serde::Serialize;
use serde_json::Value;

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

/// `value` as the CLI's JSON: serialised by its own serde derive, every object key in
/// snake_case (`bytesSent` -> `bytes_sent`). Values, strings included, stay as they are.
pub(crate) fn json(value: &impl Serialize) -> anyhow::Result<Value> {
    Ok(snake_keys(serde_json::to_value(value)?))
}

/// [`json`], pretty-printed: what read commands print.
pub(crate) fn pretty(value: &impl Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&json(value)?)?)
}

/// The JSON name of a unit enum value (`watching`, `uploading`), as the JSON shows it.
pub(crate) fn name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| (snake_case(&key), snake_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_snake_case_and_values_untouched() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            local_path: &'static str,
            next_retry_at_ms: Option<i64>,
            items: Vec<Item>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Item {
            eta_secs: u64,
            state: &'static str,
        }
        let row = Row {
            local_path: "/a/camelCase.txt",
            next_retry_at_ms: None,
            items: vec![Item {
                eta_secs: 3,
                state: "up_to_date",
            }],
        };
        assert_eq!(
            json(&row).unwrap(),
            serde_json::json!({
                "local_path": "/a/camelCase.txt",
                "next_retry_at_ms": null,
                "items": [{"eta_secs": 3, "state": "up_to_date"}],
            })
        );
    }

    #[test]
    fn bytes_and_times_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(20 * 1024 * 1024), "20 MiB");
        assert_eq!(when(1_795_414_625_000), "Mon, 23 Nov 2026 06:17:05 GMT");
    }
}
