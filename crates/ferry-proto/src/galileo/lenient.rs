//! Tolerant reading of JSON values, the way GalileoSend peers in the wild write them.
//!
//! The original client is JavaScript and the original server Perl: truth is JavaScript
//! truthiness, and numbers may arrive as numeric strings. These helpers only interpret
//! [`serde_json::Value`]s; they know nothing of which keys a message has.

use serde_json::Value;

/// JavaScript truthiness: `false`, `0`, `""`, `null` (and an absent key) are false;
/// everything else, including `"0"`, `[]` and `{}`, is true.
pub(super) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// A non-negative integer given as a JSON number or a numeric string.
///
/// `null`, an absent key and an empty string are `Ok(None)`; integral floats (`3.0`) are
/// accepted; anything else (negative, fractional, non-numeric) is an `Err` naming the key.
pub(super) fn unsigned(value: Option<&Value>, key: &str) -> Result<Option<u64>, String> {
    let bad = || format!("`{key}` must be a non-negative integer");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(integral_u64))
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(integral_u64))
                .map(Some)
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

/// An integer (possibly negative) given as a JSON number or a numeric string; fractional
/// values are rounded down (a browser may send milliseconds divided by 1000).
pub(super) fn signed(value: Option<&Value>, key: &str) -> Result<Option<i64>, String> {
    let bad = || format!("`{key}` must be an integer");
    let from_float = |f: f64| {
        // The range check makes the cast exact enough: it only drops the fraction.
        #[allow(clippy::cast_possible_truncation)]
        (-9.2e18..=9.2e18).contains(&f).then(|| f.floor() as i64)
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(from_float))
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(from_float))
                .map(Some)
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

/// A string; numbers are accepted and written in decimal (a Perl server may send a
/// numeric id). `null`, an absent key and an empty string are `Ok(None)`.
pub(super) fn text(value: Option<&Value>, key: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn integral_u64(f: f64) -> Option<u64> {
    // 1.8e19 is just below 2^64, so the cast cannot saturate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    ((0.0..1.8e19).contains(&f) && f.fract() == 0.0).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(false), json!(0), json!(0.0), json!(""), json!(null)] {
            assert!(!truthy(Some(&falsy)), "{falsy} is falsy in JavaScript");
        }
        assert!(!truthy(None), "an absent key is falsy");
        for value in [
            json!(true),
            json!(1),
            json!("0"),
            json!("x"),
            json!([]),
            json!({}),
        ] {
            assert!(truthy(Some(&value)), "{value} is truthy in JavaScript");
        }
    }

    #[test]
    fn numbers_may_arrive_as_strings() {
        assert_eq!(unsigned(Some(&json!("250000")), "k"), Ok(Some(250_000)));
        assert_eq!(unsigned(Some(&json!(" 7 ")), "k"), Ok(Some(7)));
        assert_eq!(unsigned(Some(&json!(7.0)), "k"), Ok(Some(7)));
        assert_eq!(unsigned(Some(&json!("")), "k"), Ok(None));
        assert_eq!(unsigned(None, "k"), Ok(None));
        assert!(unsigned(Some(&json!(-1)), "k").is_err());
        assert!(unsigned(Some(&json!(1.5)), "k").is_err());
        assert!(unsigned(Some(&json!("ten")), "k").is_err());
        assert!(unsigned(Some(&json!([1])), "k").is_err());
        assert_eq!(signed(Some(&json!("-3")), "k"), Ok(Some(-3)));
        assert_eq!(
            signed(Some(&json!(1.7e9 + 0.5)), "k"),
            Ok(Some(1_700_000_000))
        );
        assert!(signed(Some(&json!(1e30)), "k").is_err());
    }

    #[test]
    fn ids_may_arrive_as_numbers() {
        assert_eq!(text(Some(&json!(42)), "k"), Ok(Some("42".into())));
        assert_eq!(text(Some(&json!("")), "k"), Ok(None));
        assert!(text(Some(&json!({})), "k").is_err());
    }
}
