//! The checks between a plan and its execution: the allowlist, the cooldown per load balancer,
//! dry-run, and the ownership tags that mean a change may be reverted. Pure decisions over
//! values the caller has read, so every rule is unit-tested without AWS.

use std::collections::BTreeMap;

use crate::arn;

/// Tag on a load balancer: unix seconds of the last change made by the remediator.
pub const LAST_CHANGE_TAG: &str = "alb-keepalive:last-change";
/// Tag on a load balancer: the idle timeout before the remediator lowered it (for rollback).
pub const PREVIOUS_IDLE_TIMEOUT_TAG: &str = "alb-keepalive:previous-idle-timeout";

/// Tags that mean another tool owns the load balancer and reconciles its attributes.
const OWNER_TAGS: [(&str, &str); 4] = [
    ("aws:cloudformation:stack-name", "CloudFormation stack"),
    ("elbv2.k8s.aws/cluster", "AWS Load Balancer Controller of cluster"),
    ("ingress.k8s.aws/stack", "AWS Load Balancer Controller ingress"),
    ("service.k8s.aws/stack", "AWS Load Balancer Controller service"),
];

/// Dry-run or apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Plan and report; change nothing.
    #[default]
    DryRun,
    /// Execute the plan (for allowed load balancers outside their cooldown).
    Apply,
}

/// The load balancers the remediator may change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Allowlist {
    /// None (the default): everything is only reported.
    #[default]
    Nothing,
    /// `*`: every load balancer.
    Everything,
    /// Names, `app/<name>/<id>` ids or ARNs.
    Only(Vec<String>),
}

impl Allowlist {
    /// Parses `ALLOWED_LOAD_BALANCERS`: empty, `*`, or comma-separated entries. Entries match
    /// exactly and case-sensitively (as the names appear in the ARNs); wildcards inside an
    /// entry are refused rather than silently matching nothing.
    ///
    /// # Errors
    ///
    /// An entry that is not a name, an `app/<name>/<id>` or a load balancer ARN, or `*` mixed
    /// with other entries.
    pub fn parse(text: &str) -> Result<Self, String> {
        let entries: Vec<&str> =
            text.split(',').map(str::trim).filter(|entry| !entry.is_empty()).collect();
        if entries.is_empty() {
            return Ok(Allowlist::Nothing);
        }
        if entries.contains(&"*") {
            return if entries.len() == 1 {
                Ok(Allowlist::Everything)
            } else {
                Err("`*` must be the only entry".to_string())
            };
        }
        for entry in &entries {
            // Only a lone `*` is a pattern: an entry such as `app/shop-web/*` would be accepted
            // and then never match, so it is refused at startup instead.
            if entry.contains(['*', '?', '[', ']']) {
                return Err(format!(
                    "`{entry}` contains a wildcard; entries are exact names, app/<name>/<id> ids or ARNs (case-sensitive), and `*` alone allows every load balancer"
                ));
            }
            let valid = if entry.starts_with("arn:") {
                arn::load_balancer_id(entry).is_some()
            } else if entry.contains('/') {
                arn::is_app_id(entry)
            } else {
                entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            };
            if !valid {
                return Err(format!(
                    "`{entry}` is neither a load balancer name, an app/<name>/<id> nor an ALB ARN"
                ));
            }
        }
        Ok(Allowlist::Only(entries.into_iter().map(str::to_string).collect()))
    }

    /// Whether the load balancer with this ARN may be changed.
    pub fn allows(&self, load_balancer_arn: &str) -> bool {
        match self {
            Allowlist::Nothing => false,
            Allowlist::Everything => true,
            Allowlist::Only(entries) => {
                let id = arn::load_balancer_id(load_balancer_arn);
                let name = arn::load_balancer_name(load_balancer_arn);
                entries.iter().any(|entry| {
                    entry == load_balancer_arn
                        || Some(entry.as_str()) == id
                        || Some(entry.as_str()) == name
                })
            }
        }
    }
}

/// Why an action was not executed.
pub mod skip {
    /// `MODE` is `dry-run`.
    pub const DRY_RUN: &str = "dry-run";
    /// Not in `ALLOWED_LOAD_BALANCERS`.
    pub const NOT_ALLOWED: &str = "not in allowlist";
    /// Changed less than `COOLDOWN_SECONDS` ago.
    pub const COOLDOWN: &str = "cooldown";
    /// The value is already what the plan wants.
    pub const ALREADY_SET: &str = "already set";
    /// Planned only (the journal records the intent before the writes).
    pub const PLAN_ONLY: &str = "planned";
}

/// Whether changes to a load balancer may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Execute.
    Open,
    /// Do not execute, for this reason (one of [`skip`]).
    Closed(&'static str),
}

/// How far in the future a recorded last change may lie and still count (clock skew between
/// writers). A later one cannot be a real change: trusting it would hold the cooldown shut for
/// ever, so it is ignored (and [`future_last_change_warning`] says so).
pub const MAX_CLOCK_SKEW_S: u64 = 300;

/// The guardrails in order: outside the allowlist nothing is touched, then the cooldown since
/// the last change (`cooldown_s` 0 = none; `None` skips the check, as rollbacks do; a last
/// change more than [`MAX_CLOCK_SKEW_S`] in the future is ignored), then dry-run. The first
/// that applies is the reason reported.
pub fn gate(
    mode: Mode,
    allowed: bool,
    last_change: Option<u64>,
    now: u64,
    cooldown_s: Option<u64>,
) -> Gate {
    if !allowed {
        return Gate::Closed(skip::NOT_ALLOWED);
    }
    let last_change = last_change.filter(|&last| last <= now.saturating_add(MAX_CLOCK_SKEW_S));
    if let (Some(last), Some(cooldown)) = (last_change, cooldown_s)
        && cooldown > 0
        && now < last.saturating_add(cooldown)
    {
        return Gate::Closed(skip::COOLDOWN);
    }
    if mode == Mode::DryRun {
        return Gate::Closed(skip::DRY_RUN);
    }
    Gate::Open
}

/// The warning when the recorded last change lies in the future (see [`MAX_CLOCK_SKEW_S`]).
pub fn future_last_change_warning(last_change: Option<u64>, now: u64) -> Option<String> {
    last_change.filter(|&last| last > now.saturating_add(MAX_CLOCK_SKEW_S)).map(|last| {
        format!(
            "the last change is recorded at {last} (unix seconds), {} s in the future; the cooldown ignores it",
            last - now
        )
    })
}

/// The last change recorded on the load balancer, if the tag is there and readable.
pub fn last_change(tags: &BTreeMap<String, String>) -> Result<Option<u64>, String> {
    match tags.get(LAST_CHANGE_TAG) {
        None => Ok(None),
        Some(value) => value.trim().parse().map(Some).map_err(|_| {
            format!("tag {LAST_CHANGE_TAG}={value:?} is not unix seconds; cooldown not applied")
        }),
    }
}

/// A warning for each tag saying another tool owns the load balancer.
pub fn drift_warnings(tags: &BTreeMap<String, String>) -> Vec<String> {
    OWNER_TAGS
        .iter()
        .filter_map(|(key, owner)| {
            tags.get(*key).map(|value| {
                format!(
                    "owned by {owner} {value}; the change may be reverted; change it there (tag {key})"
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";

    #[test]
    fn empty_allowlist_allows_nothing_and_star_everything() {
        assert_eq!(Allowlist::parse(""), Ok(Allowlist::Nothing));
        assert_eq!(Allowlist::parse(" , "), Ok(Allowlist::Nothing));
        assert!(!Allowlist::Nothing.allows(ARN));
        assert_eq!(Allowlist::parse("*"), Ok(Allowlist::Everything));
        assert!(Allowlist::Everything.allows(ARN));
    }

    #[test]
    fn allowlist_matches_name_id_or_arn() {
        for entry in ["shop-web", "app/shop-web/50dc6c495c0c9188", ARN, "other, shop-web"] {
            let list = Allowlist::parse(entry).unwrap();
            assert!(list.allows(ARN), "{entry}");
        }
        for entry in ["shop", "app/shop-web/ffffffffffffffff", "shop-web-2"] {
            let list = Allowlist::parse(entry).unwrap();
            assert!(!list.allows(ARN), "{entry}");
        }
    }

    #[test]
    fn allowlist_rejects_garbage_and_mixed_star() {
        assert!(Allowlist::parse("*, shop-web").is_err());
        assert!(Allowlist::parse("app/shop-web").is_err());
        assert!(Allowlist::parse("arn:aws:s3:::bucket").is_err());
        assert!(Allowlist::parse("shop web").is_err());
    }

    #[test]
    fn entries_with_wildcards_are_refused_and_matching_is_case_sensitive() {
        for entry in ["app/shop-web/*", "shop-*", "shop-web?", "app/shop-web/[0-9]*", "a, app/*/1"]
        {
            let error = Allowlist::parse(entry).unwrap_err();
            assert!(error.contains("wildcard"), "{entry}: {error}");
        }
        for entry in ["Shop-Web", "app/SHOP-WEB/50dc6c495c0c9188", "app/shop-web/50DC6C495C0C9188"]
        {
            assert!(!Allowlist::parse(entry).unwrap().allows(ARN), "{entry}");
        }
    }

    #[test]
    fn outside_the_allowlist_wins_over_everything() {
        assert_eq!(gate(Mode::Apply, false, None, 100, Some(10)), Gate::Closed(skip::NOT_ALLOWED));
        assert_eq!(
            gate(Mode::DryRun, false, Some(99), 100, Some(10)),
            Gate::Closed(skip::NOT_ALLOWED)
        );
    }

    #[test]
    fn cooldown_holds_until_it_has_passed() {
        assert_eq!(gate(Mode::Apply, true, Some(95), 100, Some(10)), Gate::Closed(skip::COOLDOWN));
        assert_eq!(gate(Mode::Apply, true, Some(90), 100, Some(10)), Gate::Open);
        assert_eq!(gate(Mode::Apply, true, Some(99), 100, Some(0)), Gate::Open);
        assert_eq!(gate(Mode::Apply, true, Some(99), 100, None), Gate::Open, "rollback");
    }

    #[test]
    fn a_last_change_in_the_future_does_not_hold_the_cooldown_for_ever() {
        let now = 1_000_000;
        let skewed = now + MAX_CLOCK_SKEW_S;
        assert_eq!(
            gate(Mode::Apply, true, Some(skewed), now, Some(10)),
            Gate::Closed(skip::COOLDOWN)
        );
        assert_eq!(future_last_change_warning(Some(skewed), now), None);
        let far = now + 86_400 * 365;
        assert_eq!(gate(Mode::Apply, true, Some(far), now, Some(10)), Gate::Open);
        let warning = future_last_change_warning(Some(far), now).unwrap();
        assert!(warning.contains("31536000 s in the future"), "{warning}");
    }

    #[test]
    fn dry_run_closes_an_otherwise_open_gate() {
        assert_eq!(gate(Mode::DryRun, true, None, 100, Some(10)), Gate::Closed(skip::DRY_RUN));
        assert_eq!(gate(Mode::Apply, true, None, 100, Some(10)), Gate::Open);
    }

    #[test]
    fn last_change_reads_the_tag() {
        let mut tags = BTreeMap::new();
        assert_eq!(last_change(&tags), Ok(None));
        tags.insert(LAST_CHANGE_TAG.to_string(), "1764235200".to_string());
        assert_eq!(last_change(&tags), Ok(Some(1_764_235_200)));
        tags.insert(LAST_CHANGE_TAG.to_string(), "yesterday".to_string());
        assert!(last_change(&tags).is_err());
    }

    #[test]
    fn ownership_tags_give_drift_warnings() {
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), "shop".to_string());
        assert!(drift_warnings(&tags).is_empty());
        tags.insert("aws:cloudformation:stack-name".to_string(), "shop-prod".to_string());
        let warnings = drift_warnings(&tags);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("CloudFormation stack shop-prod"), "{}", warnings[0]);
        assert!(warnings[0].contains("may be reverted"));
        tags.insert("elbv2.k8s.aws/cluster".to_string(), "prod".to_string());
        assert_eq!(drift_warnings(&tags).len(), 2);
    }
}
