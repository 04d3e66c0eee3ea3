//! The remediation's decisions over in-memory fakes of the ports (no AWS): what is written in
//! which mode, in which order, and what is left alone. The SDK adapters are exercised against
//! the emulator in `tests/tests/remediator.rs`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use alb_plan::{Parameter, Policy, Strategy};

use super::*;
use crate::finding::{Source, TargetGroupFinding};

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067";

#[derive(Default)]
struct Fake {
    idle: Mutex<u32>,
    tags: Mutex<BTreeMap<String, String>>,
    parameters: Mutex<BTreeMap<String, Vec<ParameterVersion>>>,
    /// Every write, in order.
    writes: Mutex<Vec<String>>,
}

impl Fake {
    fn new() -> Self {
        Fake { idle: Mutex::new(60), ..Fake::default() }
    }
    fn write(&self, what: String) {
        self.writes.lock().unwrap().push(what);
    }
    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }
}

impl LoadBalancers for Fake {
    async fn find(&self, load_balancer: &str) -> Result<Option<String>, Error> {
        Ok((arn::load_balancer_id(LB) == Some(load_balancer)).then(|| LB.to_string()))
    }
    async fn idle_timeout(&self, _: &str) -> Result<u32, Error> {
        Ok(*self.idle.lock().unwrap())
    }
    async fn set_idle_timeout(&self, _: &str, seconds: u32) -> Result<(), Error> {
        *self.idle.lock().unwrap() = seconds;
        self.write(format!("idle={seconds}"));
        Ok(())
    }
    async fn tags(&self, _: &str) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.tags.lock().unwrap().clone())
    }
    async fn add_tags(&self, _: &str, tags: &[(&str, String)]) -> Result<(), Error> {
        for (key, value) in tags {
            self.tags.lock().unwrap().insert((*key).to_string(), value.clone());
            self.write(format!("tag {key}={value}"));
        }
        Ok(())
    }
    async fn target_groups(&self, _: &str) -> Result<Vec<String>, Error> {
        Ok(vec![TG.to_string()])
    }
    async fn instance_targets(&self, _: &str) -> Result<Vec<String>, Error> {
        Ok(vec!["i-0123456789abcdef0".to_string()])
    }
}

impl Parameters for Fake {
    async fn get(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self
            .parameters
            .lock()
            .unwrap()
            .get(name)
            .and_then(|h| h.last())
            .map(|v| v.value.clone()))
    }
    async fn put(&self, name: &str, value: &str, description: &str) -> Result<(), Error> {
        let mut parameters = self.parameters.lock().unwrap();
        let history = parameters.entry(name.to_string()).or_default();
        history.push(ParameterVersion {
            version: history.len() as i64 + 1,
            value: value.to_string(),
            description: Some(description.to_string()),
        });
        drop(parameters);
        self.write(format!("put {name}={value}"));
        Ok(())
    }
    async fn tag(&self, name: &str, _: &[(&str, String)]) -> Result<(), Error> {
        self.write(format!("tag-parameter {name}"));
        Ok(())
    }
    async fn history(&self, name: &str) -> Result<Vec<ParameterVersion>, Error> {
        Ok(self.parameters.lock().unwrap().get(name).cloned().unwrap_or_default())
    }
}

impl Reload for Fake {
    async fn run(&self, instance_ids: &[String], command: &str) -> Result<String, Error> {
        self.write(format!("run {command} on {}", instance_ids.join(",")));
        Ok("cmd-1".to_string())
    }
}

fn settings(mode: Mode, strategy: Strategy) -> Settings {
    Settings {
        mode,
        strategy,
        parameter_prefix: "/alb-keepalive".into(),
        allowlist: Allowlist::Everything,
        cooldown_s: 3600,
        policy: Policy::default(),
        reload_command: None,
        closed_loop: crate::closed_loop::LoopSettings::default(),
    }
}

fn finding() -> Finding {
    Finding {
        load_balancer: "app/shop-web/50dc6c495c0c9188".into(),
        load_balancer_arn: LB.into(),
        verdict: "keepalive-race".into(),
        requests: 139,
        elb_502: 11,
        keepalive_502: 8,
        elb_502_by_class: BTreeMap::new(),
        elb_504: 0,
        elb_460: 0,
        first_race_at: Some("2026-11-27T09:30:05Z".into()),
        last_race_at: Some("2026-11-27T09:34:55Z".into()),
        target_groups: vec![TargetGroupFinding {
            target_group_arn: TG.into(),
            requests: 139,
            keepalive_502: 8,
            targets: vec![],
            more_targets: None,
        }],
        estimated_backend_keepalive_ms: Some(5000),
        confidence: Some(0.8),
        samples: vec![],
        target_processing_seconds: Default::default(),
        long_lived_seconds: Default::default(),
        more_target_groups: None,
        source: Source { bucket: "b".into(), key: "k".into() },
    }
}

const NOW: u64 = 1_764_235_200;

#[tokio::test]
async fn dry_run_reads_and_plans_but_writes_nothing() {
    let fake = Fake::new();
    let settings = settings(Mode::DryRun, Strategy::SsmParameters);
    let report = Remediation::new(&settings, &fake, &fake, &fake)
        .remediate(&finding(), NOW, None, true)
        .await
        .unwrap();
    assert_eq!(report.actions.len(), 2);
    assert!(report.actions.iter().all(|a| !a.applied && a.skipped.as_deref() == Some("dry-run")));
    assert_eq!(report.actions[0].after, Some(65000));
    assert_eq!(report.actions[1].after, Some(66000));
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
}

#[tokio::test]
async fn apply_writes_each_parameter_then_tags_then_marks_the_change_and_reloads() {
    let fake = Fake::new();
    let mut settings = settings(Mode::Apply, Strategy::SsmParameters);
    settings.reload_command = Some("systemctl reload shop".into());
    let report = Remediation::new(&settings, &fake, &fake, &fake)
        .remediate(&finding(), NOW, None, true)
        .await
        .unwrap();
    let keep_alive = parameter_name("/alb-keepalive", "shop-web-tg", Parameter::KeepAliveTimeout);
    let headers = parameter_name("/alb-keepalive", "shop-web-tg", Parameter::HeadersTimeout);
    assert_eq!(
        fake.writes(),
        vec![
            format!("put {keep_alive}=65000"),
            format!("tag-parameter {keep_alive}"),
            format!("put {headers}=66000"),
            format!("tag-parameter {headers}"),
            "run systemctl reload shop on i-0123456789abcdef0".to_string(),
            format!("tag {LAST_CHANGE_TAG}={NOW}"),
        ]
    );
    assert_eq!(report.actions.iter().filter(|a| a.applied).count(), 3);
}

#[tokio::test]
async fn the_same_finding_twice_writes_once() {
    let fake = Fake::new();
    let settings = settings(Mode::Apply, Strategy::SsmParameters);
    let remediation = Remediation::new(&settings, &fake, &fake, &fake);
    remediation.remediate(&finding(), NOW, None, true).await.unwrap();
    let writes = fake.writes();
    // Even past the cooldown nothing is written: the values are already in place.
    let again = remediation.remediate(&finding(), NOW + 7200, Some(NOW), true).await.unwrap();
    assert!(again.actions.iter().all(|a| a.skipped.as_deref() == Some("already set")));
    assert_eq!(fake.writes(), writes);
}

#[tokio::test]
async fn lowering_records_the_first_previous_value_before_changing() {
    let fake = Fake::new();
    let settings = settings(Mode::Apply, Strategy::AlbIdleTimeout);
    let remediation = Remediation::new(&settings, &fake, &fake, &fake);
    remediation.remediate(&finding(), NOW, None, true).await.unwrap();
    assert_eq!(
        fake.writes(),
        vec![
            format!("tag {PREVIOUS_IDLE_TIMEOUT_TAG}=60"),
            "idle=4".to_string(),
            format!("tag {LAST_CHANGE_TAG}={NOW}"),
        ]
    );
    // A later, lower estimate lowers again but keeps the value from before any change.
    let mut lower = finding();
    lower.estimated_backend_keepalive_ms = Some(2000);
    remediation.remediate(&lower, NOW + 7200, Some(NOW), true).await.unwrap();
    assert_eq!(*fake.idle.lock().unwrap(), 1);
    assert_eq!(
        fake.tags.lock().unwrap().get(PREVIOUS_IDLE_TIMEOUT_TAG).map(String::as_str),
        Some("60")
    );
}

#[tokio::test]
async fn an_idle_timeout_the_planner_refuses_is_skipped_with_its_reason() {
    let fake = Fake::new();
    let settings = settings(Mode::Apply, Strategy::AlbIdleTimeout);
    let remediation = Remediation::new(&settings, &fake, &fake, &fake);
    // Slow responses (8-25 s) were seen: 4 s would turn them into 504s.
    let mut slow = finding();
    for ms in [8_000, 12_000, 25_000] {
        slow.target_processing_seconds.record_ms(ms);
    }
    let report = remediation.remediate(&slow, NOW, None, true).await.unwrap();
    let skipped = report.actions[0].skipped.as_deref().unwrap_or_default();
    assert!(skipped.contains("would have cut 3 requests"), "{skipped}");
    assert!(!report.actions[0].applied);
    // A weak estimate is refused too.
    let mut weak = finding();
    weak.confidence = Some(0.06);
    weak.estimated_backend_keepalive_ms = Some(843);
    let report = remediation.remediate(&weak, NOW, None, true).await.unwrap();
    assert!(report.actions[0].skipped.as_deref().unwrap_or_default().contains("confidence"));
    assert!(fake.writes().is_empty(), "nothing written: {:?}", fake.writes());
}

#[tokio::test]
async fn a_headers_timeout_above_node_s_request_timeout_raises_request_timeout_too() {
    let fake = Fake::new();
    *fake.idle.lock().unwrap() = 300;
    let settings = settings(Mode::Apply, Strategy::SsmParameters);
    let report = Remediation::new(&settings, &fake, &fake, &fake)
        .remediate(&finding(), NOW, None, true)
        .await
        .unwrap();
    let written: Vec<(String, Option<u64>)> =
        report.actions.iter().map(|a| (a.resource.clone(), a.after)).collect();
    assert_eq!(
        written,
        [
            ("/alb-keepalive/shop-web-tg/keepAliveTimeout".to_string(), Some(305_000)),
            ("/alb-keepalive/shop-web-tg/headersTimeout".to_string(), Some(306_000)),
            ("/alb-keepalive/shop-web-tg/requestTimeout".to_string(), Some(306_000)),
        ]
    );
}

#[tokio::test]
async fn rollback_ignores_the_cooldown_but_not_the_allowlist() {
    let fake = Fake::new();
    let settings = settings(Mode::Apply, Strategy::AlbIdleTimeout);
    Remediation::new(&settings, &fake, &fake, &fake)
        .remediate(&finding(), NOW, None, true)
        .await
        .unwrap();
    let report = Remediation::new(&settings, &fake, &fake, &fake)
        .rollback("app/shop-web/50dc6c495c0c9188", NOW + 1, None)
        .await
        .unwrap();
    assert!(report.actions[0].applied);
    assert_eq!(*fake.idle.lock().unwrap(), 60);

    let fake = Fake::new();
    *fake.idle.lock().unwrap() = 4;
    fake.tags.lock().unwrap().insert(PREVIOUS_IDLE_TIMEOUT_TAG.into(), "60".into());
    let mut closed = settings.clone();
    closed.allowlist = Allowlist::Nothing;
    let report =
        Remediation::new(&closed, &fake, &fake, &fake).rollback(LB, NOW, None).await.unwrap();
    assert_eq!(report.actions[0].skipped.as_deref(), Some("not in allowlist"));
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn a_parameter_that_is_not_a_number_fails_naming_it() {
    let fake = Fake::new();
    let name = parameter_name("/alb-keepalive", "shop-web-tg", Parameter::KeepAliveTimeout);
    fake.put(&name, "65s", "by hand").await.unwrap();
    let settings = settings(Mode::Apply, Strategy::SsmParameters);
    let error = Remediation::new(&settings, &fake, &fake, &fake)
        .remediate(&finding(), NOW, None, true)
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&name), "{error}");
}

#[test]
fn parameter_names_follow_the_prefix_and_group() {
    assert_eq!(
        parameter_name("/alb-keepalive", "shop-web-tg", Parameter::KeepAliveTimeout),
        "/alb-keepalive/shop-web-tg/keepAliveTimeout"
    );
    assert_eq!(
        parameter_name("/apps/x/", "tg", Parameter::HeadersTimeout),
        "/apps/x/tg/headersTimeout"
    );
}

#[test]
fn idle_timeout_outside_the_alb_range_is_refused_before_any_call() {
    assert!(check_idle_timeout("arn", 0).is_err());
    assert!(check_idle_timeout("arn", 4001).is_err());
    assert!(check_idle_timeout("arn", 1).is_ok());
    assert!(check_idle_timeout("arn", 4000).is_ok());
}

#[test]
fn parameter_values_must_be_whole_milliseconds() {
    assert_eq!(parse_ms("p", " 65000 ").ok(), Some(65000));
    let error = parse_ms("/alb-keepalive/tg/keepAliveTimeout", "65s").unwrap_err();
    assert!(error.to_string().contains("/alb-keepalive/tg/keepAliveTimeout"), "{error}");
}
