//! CloudWatch Embedded Metric Format (EMF) documents, as pure values.
//!
//! CloudWatch Logs extracts metrics from a log event only when the whole event is the EMF JSON
//! object. With Lambda's `LogFormat: JSON`, a line that is a JSON object is passed through as it
//! is (a plain-text line would be wrapped in `{"message": ...}` and lose its metrics), and a line
//! without a `level` counts as INFO, so it is dropped when `ApplicationLogLevel` is above INFO.
//! Hence [`emf_line`] writes one JSON object per line, with `"level": "INFO"` and an RFC 3339
//! `timestamp`, and the template keeps the application log level at INFO.

use serde_json::{Map, Value, json};

/// The default namespace (`METRICS_NAMESPACE` overrides it).
pub const DEFAULT_NAMESPACE: &str = "ALBKeepAlive";
/// The one dimension: `app/<name>/<id>` (low cardinality; never target addresses).
pub const DIMENSION: &str = "LoadBalancer";

/// A metric's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Milliseconds,
    /// No unit (the estimate is in ms but is not a duration of work).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One metric value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// The name.
    pub name: String,
    /// The unit.
    pub unit: Unit,
    /// The value.
    pub value: f64,
}

impl Metric {
    /// A metric.
    pub fn new(name: impl Into<String>, unit: Unit, value: f64) -> Self {
        Metric { name: name.into(), unit, value }
    }
}

/// The EMF document for one load balancer: `_aws` metadata with the dimension set
/// `[["LoadBalancer"]]`, the dimension value and each metric as top-level members, plus `level`
/// and `timestamp` for Lambda's JSON log format. `properties` are extra members (not metrics).
pub fn emf_document(
    namespace: &str,
    load_balancer: &str,
    metrics: &[Metric],
    timestamp_ms: u64,
    properties: &[(&str, Value)],
) -> Value {
    let definitions: Vec<Value> =
        metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()})).collect();
    let mut document = Map::new();
    document.insert("level".into(), json!("INFO"));
    document.insert("timestamp".into(), json!(rfc3339_ms(timestamp_ms)));
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DIMENSION]],
                "Metrics": definitions,
            }]
        }),
    );
    document.insert(DIMENSION.into(), json!(load_balancer));
    for metric in metrics {
        document.insert(metric.name.clone(), json!(metric.value));
    }
    for (key, value) in properties {
        document.entry((*key).to_string()).or_insert_with(|| value.clone());
    }
    Value::Object(document)
}

/// The document as one line (no newline inside), ready for stdout.
pub fn emf_line(document: &Value) -> String {
    document.to_string()
}

/// Writes EMF lines to stdout in one locked write each, so they are never interleaved with
/// other log output.
pub fn print(document: &Value) {
    use std::io::Write;
    let mut line = emf_line(document);
    line.push('\n');
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // Metrics are best effort: a closed stdout must not fail the invocation.
    let _ = lock.write_all(line.as_bytes()).and_then(|()| lock.flush());
}

/// `2026-11-27T09:35:12.345Z` for unix milliseconds.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_follows_the_emf_specification() {
        let doc = emf_document(
            "ALBKeepAlive",
            "app/shop/1",
            &[Metric::new("KeepAliveRace502", Unit::Count, 7.0)],
            1_764_236_112_345,
            &[("object", json!("s3://b/k"))],
        );
        let line = emf_line(&doc);
        assert!(!line.contains('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["level"], "INFO");
        assert_eq!(parsed["timestamp"], "2025-11-27T09:35:12.345Z");
        let aws = &parsed["_aws"];
        assert_eq!(aws["Timestamp"], 1_764_236_112_345_u64);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ALBKeepAlive");
        assert_eq!(directive["Dimensions"], json!([["LoadBalancer"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "KeepAliveRace502", "Unit": "Count"}]));
        assert_eq!(parsed["LoadBalancer"], "app/shop/1");
        assert_eq!(parsed["KeepAliveRace502"], 7.0);
        assert_eq!(parsed["object"], "s3://b/k");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_001), "2000-02-29T00:00:00.001Z");
    }
}
