//! The remediator's configuration, read from the environment once at cold start. Names match
//! `template.yaml`; an unset or empty variable takes the documented default (for
//! `ALLOWED_LOAD_BALANCERS` that is "change nothing"), an invalid one is a startup error naming
//! the variable.

use alb_actions::guardrails::{Allowlist, Mode};
use alb_actions::{LoopSettings, Settings};
use alb_plan::{PlanError, Policy, Strategy};

/// The remediator's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Everything the remediation needs, validated.
    pub settings: Settings,
    /// `JOURNAL_TABLE` (required): the DynamoDB table of the journal and the lease.
    pub journal_table: String,
    /// `EVENT_BUS_NAME` (default `default`): where the events go.
    pub event_bus: String,
    /// `METRICS_NAMESPACE` (default `ALBKeepAlive`).
    pub metrics_namespace: String,
    /// `RELOAD_DOCUMENT`: the stack's SSM Command document that runs the reload command (the
    /// role may send no other). Unset: `AWS-RunShellScript` with `RELOAD_COMMAND` (local runs).
    pub reload_document: Option<String>,
}

/// A variable with a value the remediator cannot use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is expected instead.
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    ///
    /// A variable that is set but invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    ///
    /// A variable that is set but invalid.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let invalid = |name: &'static str, value: &str, reason: &str| ConfigError {
            name,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let mode = match get("MODE").as_deref() {
            None | Some("dry-run") => Mode::DryRun,
            Some("apply") => Mode::Apply,
            Some(other) => return Err(invalid("MODE", other, "expected dry-run or apply")),
        };
        let strategy = match get("STRATEGY").as_deref() {
            None | Some("ssm-parameters") => Strategy::SsmParameters,
            Some("alb-idle-timeout") => Strategy::AlbIdleTimeout,
            Some(other) => {
                return Err(invalid(
                    "STRATEGY",
                    other,
                    "expected ssm-parameters or alb-idle-timeout",
                ));
            }
        };
        let parameter_prefix = get("PARAMETER_PREFIX").unwrap_or_else(|| "/alb-keepalive".into());
        let prefix_ok = parameter_prefix.starts_with('/')
            && !parameter_prefix.ends_with('/')
            && !parameter_prefix.contains("//")
            && parameter_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-'));
        if !prefix_ok {
            return Err(invalid(
                "PARAMETER_PREFIX",
                &parameter_prefix,
                "expected an SSM path such as /alb-keepalive (leading slash, no trailing slash, letters, digits, _ . -)",
            ));
        }
        let allowed = get("ALLOWED_LOAD_BALANCERS").unwrap_or_default();
        let allowlist = Allowlist::parse(&allowed)
            .map_err(|reason| invalid("ALLOWED_LOAD_BALANCERS", &allowed, &reason))?;
        let number = |name: &'static str, default: u64| match get(name) {
            None => Ok(default),
            Some(value) => value
                .parse::<u64>()
                .map_err(|_| invalid(name, &value, "expected a whole non-negative number")),
        };
        let cooldown_s = number("COOLDOWN_SECONDS", 3600)?;
        let defaults = Policy::default();
        let policy = Policy {
            keepalive_margin_ms: number("KEEPALIVE_MARGIN_MS", defaults.keepalive_margin_ms)?,
            headers_margin_ms: number("HEADERS_MARGIN_MS", defaults.headers_margin_ms)?,
            idle_timeout_margin_ms: number(
                "IDLE_TIMEOUT_MARGIN_MS",
                defaults.idle_timeout_margin_ms,
            )?,
            ..defaults
        };
        let out_of_range = match policy.validate() {
            Err(PlanError::MarginTooSmall { name, value, minimum }) => {
                Some((name, value, format!("must be at least {minimum}")))
            }
            Err(PlanError::ValueTooLarge { name, value, maximum }) => {
                Some((name, value, format!("must be at most {maximum}")))
            }
            _ => None,
        };
        if let Some((name, value, bound)) = out_of_range {
            let variable = match name {
                "keepalive_margin_ms" => "KEEPALIVE_MARGIN_MS",
                "headers_margin_ms" => "HEADERS_MARGIN_MS",
                _ => "IDLE_TIMEOUT_MARGIN_MS",
            };
            return Err(invalid(variable, &value.to_string(), &bound));
        }
        let reload_command = get("RELOAD_COMMAND");
        let journal_table = get("JOURNAL_TABLE").ok_or_else(|| {
            invalid(
                "JOURNAL_TABLE",
                "",
                "required: the DynamoDB table that holds the journal and the lease (the stack's JournalTable)",
            )
        })?;
        let table_ok = (3..=255).contains(&journal_table.len())
            && journal_table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !table_ok {
            return Err(invalid(
                "JOURNAL_TABLE",
                &journal_table,
                "expected a DynamoDB table name (3-255 letters, digits, _ - .)",
            ));
        }
        let defaults = LoopSettings::default();
        let closed_loop = LoopSettings {
            renotify_s: number("RENOTIFY_SECONDS", defaults.renotify_s)?,
            verify_grace_s: number("VERIFY_GRACE_SECONDS", defaults.verify_grace_s)?,
            verify_window_s: number("VERIFY_WINDOW_SECONDS", defaults.verify_window_s)?,
            auto_rollback: match get("AUTO_ROLLBACK").as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    return Err(invalid("AUTO_ROLLBACK", other, "expected true or false"));
                }
            },
            ..defaults
        };
        let event_bus = get("EVENT_BUS_NAME").unwrap_or_else(|| "default".into());
        let metrics_namespace = get("METRICS_NAMESPACE")
            .unwrap_or_else(|| alb_actions::metrics::DEFAULT_NAMESPACE.into());
        let reload_document = get("RELOAD_DOCUMENT");
        let document_ok = |name: &str| {
            (3..=128).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        };
        if let Some(document) = reload_document.as_deref().filter(|name| !document_ok(name)) {
            return Err(invalid(
                "RELOAD_DOCUMENT",
                document,
                "expected an SSM document name (3-128 letters, digits, _ . -)",
            ));
        }
        Ok(Config {
            reload_document,
            settings: Settings {
                mode,
                strategy,
                parameter_prefix,
                allowlist,
                cooldown_s,
                policy,
                reload_command,
                closed_loop,
            },
            journal_table,
            event_bus,
            metrics_namespace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        Config::from_lookup(move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| {
                (name == "JOURNAL_TABLE" && !pairs.iter().any(|(k, _)| k == name))
                    .then(|| "alb-keepalive-journal".to_string())
            })
        })
    }

    #[test]
    fn defaults_are_a_dry_run_that_changes_nothing() {
        let settings = from(&[]).unwrap().settings;
        assert_eq!(settings.mode, Mode::DryRun);
        assert_eq!(settings.strategy, Strategy::SsmParameters);
        assert_eq!(settings.parameter_prefix, "/alb-keepalive");
        assert_eq!(settings.allowlist, Allowlist::Nothing);
        assert_eq!(settings.cooldown_s, 3600);
        assert_eq!(settings.policy, Policy::default());
        assert_eq!(settings.reload_command, None);
        assert_eq!(settings.closed_loop, LoopSettings::default());
        assert_eq!(from(&[("RELOAD_COMMAND", ""), ("MODE", " ")]).unwrap().settings, settings);
        let config = from(&[]).unwrap();
        assert_eq!(config.event_bus, "default");
        assert_eq!(config.metrics_namespace, "ALBKeepAlive");
    }

    #[test]
    fn the_journal_table_is_required() {
        let error = from(&[("JOURNAL_TABLE", "")]).unwrap_err();
        assert_eq!(error.name, "JOURNAL_TABLE");
        assert!(error.reason.starts_with("required"), "{error}");
        assert_eq!(from(&[("JOURNAL_TABLE", "a b")]).unwrap_err().name, "JOURNAL_TABLE");
        let config = from(&[
            ("JOURNAL_TABLE", "shop-journal"),
            ("EVENT_BUS_NAME", "ops"),
            ("METRICS_NAMESPACE", "Shop/ALB"),
            ("RENOTIFY_SECONDS", "60"),
            ("VERIFY_GRACE_SECONDS", "30"),
            ("VERIFY_WINDOW_SECONDS", "3600"),
            ("AUTO_ROLLBACK", "false"),
        ])
        .unwrap();
        assert_eq!(config.journal_table, "shop-journal");
        assert_eq!(config.event_bus, "ops");
        assert_eq!(config.metrics_namespace, "Shop/ALB");
        let l = config.settings.closed_loop;
        assert_eq!(
            (l.renotify_s, l.verify_grace_s, l.verify_window_s, l.auto_rollback),
            (60, 30, 3600, false)
        );
    }

    #[test]
    fn every_variable_is_read() {
        let settings = from(&[
            ("MODE", "apply"),
            ("STRATEGY", "alb-idle-timeout"),
            ("PARAMETER_PREFIX", "/apps/shop"),
            ("ALLOWED_LOAD_BALANCERS", "shop-web, app/api/1"),
            ("COOLDOWN_SECONDS", "0"),
            ("KEEPALIVE_MARGIN_MS", "7000"),
            ("HEADERS_MARGIN_MS", "2000"),
            ("IDLE_TIMEOUT_MARGIN_MS", "250"),
            ("RELOAD_COMMAND", "systemctl reload shop"),
            ("RELOAD_DOCUMENT", "shop-stack-ReloadDocument-AbC123"),
        ])
        .unwrap();
        assert_eq!(settings.reload_document.as_deref(), Some("shop-stack-ReloadDocument-AbC123"));
        let settings = settings.settings;
        assert_eq!(settings.mode, Mode::Apply);
        assert_eq!(settings.strategy, Strategy::AlbIdleTimeout);
        assert_eq!(settings.parameter_prefix, "/apps/shop");
        assert_eq!(
            settings.allowlist,
            Allowlist::Only(vec!["shop-web".into(), "app/api/1".into()])
        );
        assert_eq!(settings.cooldown_s, 0);
        assert_eq!(settings.policy.keepalive_margin_ms, 7000);
        assert_eq!(settings.policy.headers_margin_ms, 2000);
        assert_eq!(settings.policy.idle_timeout_margin_ms, 250);
        assert_eq!(settings.reload_command.as_deref(), Some("systemctl reload shop"));
    }

    #[test]
    fn invalid_values_are_startup_errors_naming_the_variable() {
        for (name, value) in [
            ("MODE", "yes"),
            ("STRATEGY", "both"),
            ("PARAMETER_PREFIX", "alb-keepalive"),
            ("PARAMETER_PREFIX", "/alb-keepalive/"),
            ("PARAMETER_PREFIX", "/a b"),
            ("ALLOWED_LOAD_BALANCERS", "*, shop-web"),
            ("ALLOWED_LOAD_BALANCERS", "app/only-two"),
            ("COOLDOWN_SECONDS", "-1"),
            ("COOLDOWN_SECONDS", "1h"),
            ("KEEPALIVE_MARGIN_MS", "five"),
            ("KEEPALIVE_MARGIN_MS", "500"),
            ("HEADERS_MARGIN_MS", "0"),
            ("IDLE_TIMEOUT_MARGIN_MS", "1.5"),
            ("KEEPALIVE_MARGIN_MS", "18446744073709500000"),
            ("HEADERS_MARGIN_MS", "18446744073709551615"),
            ("IDLE_TIMEOUT_MARGIN_MS", "60001"),
            ("RENOTIFY_SECONDS", "1d"),
            ("VERIFY_GRACE_SECONDS", "-5"),
            ("AUTO_ROLLBACK", "yes"),
            ("ALLOWED_LOAD_BALANCERS", "app/shop-web/*"),
            ("RELOAD_DOCUMENT", "AWS-RunShellScript; rm"),
            ("RELOAD_DOCUMENT", "ab"),
        ] {
            let error = from(&[(name, value)]).unwrap_err();
            assert_eq!(error.name, name, "{value}: {error}");
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
