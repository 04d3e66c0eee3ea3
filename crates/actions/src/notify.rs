//! The events the remediator publishes (EventBridge, source [`SOURCE`]): their detail-types and
//! details, as pure values. The publisher is [`crate::aws::EventBridge`] behind
//! [`crate::ports::Events`].

use serde::Serialize;

use crate::finding::Source;
use crate::guardrails::Mode;
use crate::remediate::ActionReport;

/// The `source` of every event.
pub const SOURCE: &str = "alb-keepalive";

/// The detail-types, exactly as rules match them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailType {
    /// The first finding of an episode (again after `RENOTIFY_SECONDS`, or when the plan changes).
    RaceDetected,
    /// A change was written.
    Applied,
    /// Races went on after the change and its grace period.
    Ineffective,
    /// No race for the verification window after the change.
    Verified,
    /// A change was undone.
    RolledBack,
}

impl DetailType {
    /// The detail-type text.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::RaceDetected => "Keep-Alive Race Detected",
            DetailType::Applied => "Remediation Applied",
            DetailType::Ineffective => "Remediation Ineffective",
            DetailType::Verified => "Remediation Verified",
            DetailType::RolledBack => "Remediation Rolled Back",
        }
    }
}

/// What the logs showed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventEvidence {
    /// Keep-alive race 502s.
    pub keepalive_502: u64,
    /// Requests.
    pub requests: u64,
    /// Estimated backend keep-alive, ms.
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// Log time of the first race (unix seconds).
    #[serde(serialize_with = "as_rfc3339")]
    pub first_race_at: Option<u64>,
    /// Log time of the last race (unix seconds).
    #[serde(serialize_with = "as_rfc3339")]
    pub last_race_at: Option<u64>,
    /// The objects.
    pub sources: Vec<Source>,
}

/// Times go out as RFC 3339, the way the logs write them.
fn as_rfc3339<S: serde::Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value.and_then(|s| s.checked_mul(1000)) {
        Some(ms) => serializer.serialize_str(&crate::metrics::rfc3339_ms(ms)),
        None => serializer.serialize_none(),
    }
}

/// The detail of every event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventDetail {
    /// `app/<name>/<id>`.
    pub load_balancer: String,
    /// The ARN.
    pub load_balancer_arn: String,
    /// `dry-run` or `apply`.
    pub mode: Mode,
    /// Whether nothing is executed (dry-run or outside the allowlist).
    pub dry_run: bool,
    /// The actions (the full plan for a detection) with before, after, applied and skipped.
    pub actions: Vec<ActionReport>,
    /// The evidence.
    pub evidence: EventEvidence,
    /// One or two sentences in plain words.
    pub summary: String,
    /// For `Remediation Ineffective`: what to check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The journal's id of the change concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    /// The settings that end the race for each server and framework (Node.js, gunicorn, Go,
    /// Puma, ...), with their values for the idle timeout in force.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cures: Vec<alb_plan::Cure>,
}

/// The hint of `Remediation Ineffective`.
pub const INEFFECTIVE_HINT: &str = "the values are in force but races go on: check that the application reads these parameters and was reloaded, that no other hop (a sidecar or proxy such as Envoy or nginx) closes idle connections sooner, and that the right target group was changed";

/// A one-line description of actions: "set /p/tg/keepAliveTimeout 5000 -> 65000".
pub fn describe_actions(actions: &[ActionReport]) -> String {
    let parts: Vec<String> = actions
        .iter()
        .filter(|a| a.before != a.after || a.applied)
        .map(|a| {
            let value = |v: Option<u64>| v.map_or_else(|| "unset".to_string(), |v| v.to_string());
            format!("{} {} -> {}", a.resource, value(a.before), value(a.after))
        })
        .collect();
    if parts.is_empty() { "nothing to change".into() } else { parts.join("; ") }
}

/// The summary of an event.
pub fn summary(kind: DetailType, detail: &EventDetail) -> String {
    let lb = &detail.load_balancer;
    let races = detail.evidence.keepalive_502;
    let estimate = detail
        .evidence
        .estimated_backend_keepalive_ms
        .map_or_else(|| "unknown".to_string(), |ms| format!("{ms} ms"));
    let actions = describe_actions(&detail.actions);
    match kind {
        DetailType::RaceDetected => format!(
            "{races} keep-alive race 502s on {lb} (backend keep-alive about {estimate}). {}: {actions}.",
            if detail.dry_run { "Plan (not applied)" } else { "Plan" }
        ),
        DetailType::Applied => {
            format!("Applied on {lb} after {races} keep-alive race 502s: {actions}.")
        }
        DetailType::Ineffective => format!(
            "Races go on on {lb} after the change was in force: {races} more. Not written again. Check: {}.",
            detail.hint.as_deref().unwrap_or(INEFFECTIVE_HINT)
        ),
        DetailType::Verified => {
            format!("No keep-alive race on {lb} since the change: {actions}.")
        }
        DetailType::RolledBack => format!("Rolled back on {lb}: {actions}."),
    }
}

/// A digest of the plan, to renotify when it changes: the resources and values it would set.
pub fn plan_digest(actions: &[ActionReport]) -> String {
    let mut parts: Vec<String> = actions
        .iter()
        .map(|a| format!("{}={}", a.resource, a.after.map_or_else(String::new, |v| v.to_string())))
        .collect();
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediate::ActionKind;

    fn action(resource: &str, before: Option<u64>, after: Option<u64>) -> ActionReport {
        ActionReport {
            action: ActionKind::SetParameter,
            resource: resource.into(),
            before,
            after,
            applied: false,
            skipped: Some("dry-run".into()),
            detail: None,
        }
    }

    #[test]
    fn detail_types_are_exactly_the_documented_ones() {
        let all = [
            DetailType::RaceDetected,
            DetailType::Applied,
            DetailType::Ineffective,
            DetailType::Verified,
            DetailType::RolledBack,
        ]
        .map(DetailType::as_str);
        assert_eq!(
            all,
            [
                "Keep-Alive Race Detected",
                "Remediation Applied",
                "Remediation Ineffective",
                "Remediation Verified",
                "Remediation Rolled Back"
            ]
        );
    }

    #[test]
    fn the_summary_says_what_would_change_in_plain_words() {
        let detail = EventDetail {
            load_balancer: "app/shop/1".into(),
            load_balancer_arn: "arn".into(),
            mode: Mode::DryRun,
            dry_run: true,
            actions: vec![action("/a/tg/keepAliveTimeout", None, Some(65000))],
            evidence: EventEvidence {
                keepalive_502: 7,
                estimated_backend_keepalive_ms: Some(5000),
                ..Default::default()
            },
            summary: String::new(),
            hint: None,
            change_id: None,
            cures: Vec::new(),
        };
        let text = summary(DetailType::RaceDetected, &detail);
        assert_eq!(
            text,
            "7 keep-alive race 502s on app/shop/1 (backend keep-alive about 5000 ms). Plan (not applied): /a/tg/keepAliveTimeout unset -> 65000."
        );
    }

    #[test]
    fn the_plan_digest_ignores_order_and_follows_values() {
        let a = [action("x", None, Some(1)), action("y", None, Some(2))];
        let b = [action("y", Some(9), Some(2)), action("x", None, Some(1))];
        assert_eq!(plan_digest(&a), plan_digest(&b));
        assert_ne!(plan_digest(&a), plan_digest(&[action("x", None, Some(3))]));
    }
}
