//! Which kind of 502 an entry is (reference section 1.7). Only one kind is cured by keep-alive
//! settings, so telling them apart is the whole point: a refused connection, an app that answers
//! 502 itself or a failing Lambda must never be called a keep-alive race.

use alb_records::Record;
use serde::Serialize;

/// The cause of a 502 written by the load balancer, as far as one log line can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Elb502Class {
    /// The strong keep-alive signature: the request was sent to a target (`request` and
    /// `target` processing times measured), the target closed the connection at once
    /// (`response_processing_time` -1, no target status, no error reason).
    KeepaliveRace,
    /// `-1 -1 -1 502 -` with a target: the connection could not be used at all. Usually a refused
    /// or reset connect (`TargetConnectionErrorCount`); sometimes the same race noticed earlier.
    ConnectionFailure,
    /// The target itself answered 502 (`target_status_code` is a number).
    TargetSent,
    /// `error_reason` is set: a Lambda target, AWS WAF, authentication or weighted target group
    /// failure.
    LambdaWafAuth,
    /// Same shape as the race but the target worked on the request for longer than the race
    /// window before closing: a crash, an OOM kill or a deregistration, not an idle close.
    ClosedMidRequest,
    /// Any other 502.
    Other,
    /// Race-shaped 502s in a burst on one target with no common idle age, usually followed by
    /// refused connections or by the target leaving the log: the application closed its idle
    /// connections while shutting down. Never assigned by [`classify_502`] (one line cannot
    /// tell); the pool replay moves races here.
    ShutdownRace,
}

impl Elb502Class {
    /// Every class, in report order.
    pub const ALL: [Elb502Class; 7] = [
        Elb502Class::KeepaliveRace,
        Elb502Class::ShutdownRace,
        Elb502Class::ConnectionFailure,
        Elb502Class::TargetSent,
        Elb502Class::LambdaWafAuth,
        Elb502Class::ClosedMidRequest,
        Elb502Class::Other,
    ];

    /// Stable snake_case name, as in the JSON report.
    pub const fn name(self) -> &'static str {
        match self {
            Elb502Class::KeepaliveRace => "keepalive_race",
            Elb502Class::ShutdownRace => "shutdown_race",
            Elb502Class::ConnectionFailure => "connection_failure",
            Elb502Class::TargetSent => "target_sent",
            Elb502Class::LambdaWafAuth => "lambda_waf_auth",
            Elb502Class::ClosedMidRequest => "closed_mid_request",
            Elb502Class::Other => "other",
        }
    }
}

/// Classifies an entry whose `elb_status_code` is 502; `None` for any other status.
///
/// `race_window_ms` is the longest `target_processing_time` still read as "closed on arrival".
/// Real keep-alive races show 0-5 ms; AWS's own example shows 4.205 s, which this project reads
/// as a close during processing instead (a heuristic, see the reference).
pub fn classify_502(record: &Record<'_>, race_window_ms: u32) -> Option<Elb502Class> {
    if record.elb_status_code() != Some(502) {
        return None;
    }
    if record.error_reason().is_some() {
        return Some(Elb502Class::LambdaWafAuth);
    }
    if record.target_status_code().is_some() {
        return Some(Elb502Class::TargetSent);
    }
    if record.target().is_none() {
        return Some(Elb502Class::Other);
    }
    let class = match (
        record.request_processing_time_ms(),
        record.target_processing_time_ms(),
        record.response_processing_time_ms(),
    ) {
        (Some(_), Some(target_ms), None) if target_ms <= race_window_ms => {
            Elb502Class::KeepaliveRace
        }
        (Some(_), Some(_), None) => Elb502Class::ClosedMidRequest,
        (None, None, None) => Elb502Class::ConnectionFailure,
        _ => Elb502Class::Other,
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alb_records::parse_line;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

    fn entry(target: &str, times: &str, statuses: &str, error_reason: &str) -> String {
        format!(
            "http 2026-11-27T09:30:05.000000Z app/web/50dc6c495c0c9188 203.0.113.9:5123 {target} {times} {statuses} 723 679 \"GET http://web:80/ HTTP/1.1\" \"curl/8.5.0\" - - {TG} \"Root=1-6746e5a5-0123456789abcdef01234567\" \"-\" \"-\" 0 2026-11-27T09:30:04.999000Z \"forward\" \"-\" \"{error_reason}\" \"-\" \"-\" \"-\" \"-\""
        )
    }

    fn class_of(line: &str) -> Option<Elb502Class> {
        classify_502(&parse_line(line.as_bytes()).unwrap(), 1000)
    }

    #[test]
    fn incident_line_is_a_keepalive_race() {
        let line = entry("10.0.1.23:3000", "0.000 0.000 -1", "502 -", "-");
        assert_eq!(class_of(&line), Some(Elb502Class::KeepaliveRace));
        let slightly_slow = entry("10.0.1.23:3000", "0.001 0.004 -1", "502 -", "-");
        assert_eq!(class_of(&slightly_slow), Some(Elb502Class::KeepaliveRace));
    }

    #[test]
    fn refused_connection_is_a_connection_failure() {
        let line = entry("10.0.1.23:3000", "-1 -1 -1", "502 -", "-");
        assert_eq!(class_of(&line), Some(Elb502Class::ConnectionFailure));
    }

    #[test]
    fn app_sent_502_is_target_sent() {
        let line = entry("10.0.1.23:3000", "0.000 0.012 0.000", "502 502", "-");
        assert_eq!(class_of(&line), Some(Elb502Class::TargetSent));
    }

    #[test]
    fn lambda_waf_and_auth_errors_are_their_own_class() {
        for reason in ["LambdaUnhandled", "WAFConnectionTimeout", "AuthInvalidIdToken"] {
            let line = entry("-", "0.000 0.001 0.000", "502 -", reason);
            assert_eq!(class_of(&line), Some(Elb502Class::LambdaWafAuth), "{reason}");
        }
    }

    #[test]
    fn long_processing_before_the_close_is_not_a_race() {
        let line = entry("10.0.0.1:80", "0.001 4.205 -1", "502 -", "-");
        assert_eq!(class_of(&line), Some(Elb502Class::ClosedMidRequest));
        let record = parse_line(line.as_bytes()).unwrap();
        assert_eq!(
            classify_502(&record, 5000),
            Some(Elb502Class::KeepaliveRace),
            "window is configurable"
        );
    }

    #[test]
    fn other_shapes_are_other_and_non_502s_are_not_classified() {
        let no_target = entry("-", "0.000 0.000 -1", "502 -", "-");
        assert_eq!(class_of(&no_target), Some(Elb502Class::Other));
        let odd_times = entry("10.0.1.23:3000", "-1 0.000 -1", "502 -", "-");
        assert_eq!(class_of(&odd_times), Some(Elb502Class::Other));
        for statuses in ["504 -", "460 -", "200 200", "503 -"] {
            let line = entry("10.0.1.23:3000", "-1 -1 -1", statuses, "-");
            assert_eq!(class_of(&line), None, "{statuses}");
        }
    }
}
