//! Executing a plan: for one finding, read the current settings, plan with [`alb_plan::plan`],
//! pass the guardrails and, unless the gate is closed, write; and the way back (rollback).
//!
//! Every change is reported as an [`ActionReport`] with its value before and after and either
//! `applied: true` or the reason it was skipped, so a dry-run report is the full plan. Changes
//! are "set to X" and compared with the current value first: a finding delivered twice writes
//! nothing the second time (no new parameter version, no API write).

use std::collections::BTreeMap;

use alb_plan::{Change, CurrentSettings, IDLE_TIMEOUT_RANGE_S, Parameter, Policy, Strategy};
use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Source, TargetGroupFinding};
use crate::guardrails::{
    self, Allowlist, Gate, LAST_CHANGE_TAG, Mode, PREVIOUS_IDLE_TIMEOUT_TAG, skip,
};
use crate::ports::{LoadBalancers, ParameterVersion, Parameters, Reload};
use crate::{Error, arn};

/// Start of the description of every parameter version the remediation writes; rollback only
/// undoes versions that carry it.
pub const SET_DESCRIPTION: &str = "alb-keepalive: set after keep-alive race 502s";
/// Description of the versions written by a rollback.
pub const ROLLBACK_DESCRIPTION: &str = "alb-keepalive: rollback";

/// How the remediator behaves (its configuration, already validated).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Dry-run or apply.
    pub mode: Mode,
    /// Which remedy.
    pub strategy: Strategy,
    /// Parameters are `{prefix}/{target-group-name}/keepAliveTimeout` and `.../headersTimeout`.
    pub parameter_prefix: String,
    /// Load balancers that may be changed.
    pub allowlist: Allowlist,
    /// Minimum time between two changes of one load balancer, seconds (0 = none).
    pub cooldown_s: u64,
    /// Margins for the planner.
    pub policy: Policy,
    /// Shell command run on the target instances after parameters changed.
    pub reload_command: Option<String>,
    /// Notifications, verification and the regression guard.
    pub closed_loop: crate::closed_loop::LoopSettings,
}

/// The kind of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ActionKind {
    /// `PutParameter` of a timeout.
    SetParameter,
    /// `ModifyLoadBalancerAttributes` `idle_timeout.timeout_seconds`.
    SetIdleTimeout,
    /// `SendCommand` of the reload command.
    Reload,
    /// Rollback: the version of a parameter before the remediation's write.
    RestoreParameter,
    /// Rollback: the idle timeout recorded before the remediation lowered it.
    RestoreIdleTimeout,
}

/// One action, executed or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    /// What kind of change.
    pub action: ActionKind,
    /// What it changes: a parameter name, a load balancer or target group ARN.
    pub resource: String,
    /// The value now (ms for parameters, seconds for the idle timeout).
    pub before: Option<u64>,
    /// The value the action sets.
    pub after: Option<u64>,
    /// Whether it was executed.
    pub applied: bool,
    /// Why it was not executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// More about it (the reload's command id and instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What was decided and done for one load balancer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerReport {
    /// `app/<name>/<id>`.
    pub load_balancer: String,
    /// Its ARN.
    pub load_balancer_arn: String,
    /// Whether the allowlist lets the remediator change it.
    pub allowed: bool,
    /// Every action, with its outcome.
    pub actions: Vec<ActionReport>,
    /// Things that need a human: ownership by another tool (drift), unreadable tags.
    pub warnings: Vec<String>,
    /// The planner's remarks.
    pub notes: Vec<String>,
    /// The log object behind the finding (none for a rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The application settings that end the race, per server and framework, for the idle
    /// timeout in force (what a human applies where the parameters are not read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cures: Vec<alb_plan::Cure>,
}

impl ActionReport {
    /// An action not executed (yet), with nothing skipped.
    fn new(action: ActionKind, resource: &str, before: Option<u64>, after: Option<u64>) -> Self {
        ActionReport {
            action,
            resource: resource.to_string(),
            before,
            after,
            applied: false,
            skipped: None,
            detail: None,
        }
    }

    /// Whether to execute: not when nothing needs to change (`already set`) or the gate is
    /// closed; the reason is recorded in `skipped`.
    fn should_execute(&mut self, needed: bool, gate: Gate) -> bool {
        match (needed, gate) {
            (false, _) => self.skipped = Some(skip::ALREADY_SET.into()),
            (true, Gate::Closed(reason)) => self.skipped = Some(reason.into()),
            (true, Gate::Open) => return true,
        }
        false
    }
}

impl LoadBalancerReport {
    /// Whether any action was executed.
    pub fn changed(&self) -> bool {
        self.actions.iter().any(|a| a.applied)
    }
}

/// The remediation over its three ports.
#[derive(Debug)]
pub struct Remediation<'a, L, P, R> {
    settings: &'a Settings,
    balancers: &'a L,
    parameters: &'a P,
    reload: &'a R,
}

/// State read before deciding.
struct Current {
    tags: BTreeMap<String, String>,
    warnings: Vec<String>,
}

impl<'a, L: LoadBalancers, P: Parameters, R: Reload> Remediation<'a, L, P, R> {
    /// Remediation with these settings over these adapters.
    pub fn new(settings: &'a Settings, balancers: &'a L, parameters: &'a P, reload: &'a R) -> Self {
        Remediation { settings, balancers, parameters, reload }
    }

    async fn current(&self, lb_arn: &str) -> Result<Current, Error> {
        let tags = self.balancers.tags(lb_arn).await?;
        let warnings = guardrails::drift_warnings(&tags);
        Ok(Current { tags, warnings })
    }

    /// Plans and (unless a guardrail says no, or `execute` is false) executes the remedy for one
    /// finding. `now` is unix seconds; `last_change` is the journal's last change, for the
    /// cooldown. With `execute` false nothing is written and the actions that would run are
    /// left with neither `applied` nor `skipped` (the plan the journal records as intent).
    ///
    /// # Errors
    ///
    /// An AWS call failed, a parameter holds something that is not a number of milliseconds, or
    /// the planner refused the current idle timeout. Nothing after the failing call was done;
    /// calling again is safe.
    pub async fn remediate(
        &self,
        finding: &Finding,
        now: u64,
        last_change: Option<u64>,
        execute: bool,
    ) -> Result<LoadBalancerReport, Error> {
        let lb_arn = finding.load_balancer_arn.as_str();
        if arn::load_balancer_id(lb_arn).is_none() {
            return Err(Error::Invalid {
                resource: lb_arn.to_string(),
                message: "load_balancer_arn is not an Application Load Balancer ARN".into(),
            });
        }
        let allowed = self.settings.allowlist.allows(lb_arn);
        let current = self.current(lb_arn).await?;
        let idle = self.balancers.idle_timeout(lb_arn).await?;
        let gate = match guardrails::gate(
            self.settings.mode,
            allowed,
            last_change,
            now,
            Some(self.settings.cooldown_s),
        ) {
            Gate::Open if !execute => Gate::Closed(skip::PLAN_ONLY),
            gate => gate,
        };
        let mut report = LoadBalancerReport {
            load_balancer: finding.load_balancer.clone(),
            load_balancer_arn: lb_arn.to_string(),
            allowed,
            actions: Vec::new(),
            warnings: current.warnings,
            notes: Vec::new(),
            source: Some(finding.source.clone()),
            cures: alb_plan::remedies(
                &finding.evidence(),
                &CurrentSettings { alb_idle_timeout_s: idle, ..CurrentSettings::default() },
                &self.settings.policy,
            )
            .map(|remedies| remedies.cures)
            .unwrap_or_default(),
        };
        report.warnings.extend(guardrails::future_last_change_warning(last_change, now));
        match self.settings.strategy {
            Strategy::SsmParameters => {
                // Only groups attached now: after a blue/green swap the log names a group this
                // load balancer no longer routes to, whose parameters belong to someone else.
                let attached = self.balancers.target_groups(lb_arn).await?;
                let mut groups = Vec::new();
                for group in finding.target_groups.iter().filter(|g| g.keepalive_502 > 0) {
                    if attached.contains(&group.target_group_arn) {
                        groups.push(group);
                    } else {
                        report.warnings.push(format!(
                            "{} is not attached to {lb_arn} now (blue/green swap?): its parameters are left alone",
                            group.target_group_arn
                        ));
                    }
                }
                for group in groups {
                    self.raise_parameters(finding, group, idle, gate, now, &mut report).await?;
                }
                if report.actions.is_empty() {
                    report.notes.push("no target group with keep-alive race 502s".into());
                }
            }
            Strategy::AlbIdleTimeout => {
                self.lower_idle_timeout(finding, idle, gate, &current.tags, &mut report).await?;
            }
        }
        if report.changed() {
            self.balancers.add_tags(lb_arn, &[(LAST_CHANGE_TAG, now.to_string())]).await?;
        }
        log(&report, self.settings.mode);
        Ok(report)
    }

    async fn raise_parameters(
        &self,
        finding: &Finding,
        group: &TargetGroupFinding,
        idle: u32,
        gate: Gate,
        now: u64,
        report: &mut LoadBalancerReport,
    ) -> Result<(), Error> {
        let Some(group_name) = arn::target_group_name(&group.target_group_arn) else {
            report.warnings.push(format!(
                "{} is not a target group ARN; no parameters for it",
                group.target_group_arn
            ));
            return Ok(());
        };
        let names = Parameter::ALL
            .map(|p| (p, parameter_name(&self.settings.parameter_prefix, group_name, p)));
        let mut values = [None; Parameter::ALL.len()];
        for (slot, (_, name)) in values.iter_mut().zip(&names) {
            *slot = self.read_ms(name).await?;
        }
        let current = CurrentSettings {
            alb_idle_timeout_s: idle,
            keepalive_timeout_ms: values[0],
            headers_timeout_ms: values[1],
            request_timeout_ms: values[2],
        };
        let evidence =
            alb_plan::Evidence { keepalive_502: group.keepalive_502, ..finding.evidence() };
        let plan =
            alb_plan::plan(Strategy::SsmParameters, &evidence, &current, &self.settings.policy)
                .map_err(|source| Error::Plan {
                    load_balancer: finding.load_balancer_arn.clone(),
                    source,
                })?;
        report.notes.extend(plan.notes.iter().map(|n| format!("{group_name}: {n}")));
        let mut written = false;
        for ((parameter, name), before) in names.iter().zip(values) {
            let change = plan.changes.iter().find_map(|change| match change {
                Change::SetParameter { parameter: p, after, .. } if p == parameter => Some(*after),
                _ => None,
            });
            if *parameter == Parameter::RequestTimeout && change.is_none() {
                continue; // only written when headersTimeout must go above it
            }
            let mut action =
                ActionReport::new(ActionKind::SetParameter, name, before, change.or(before));
            if action.should_execute(change.is_some(), gate)
                && let Some(after) = change
            {
                let description = format!("{SET_DESCRIPTION} on {}", finding.load_balancer);
                self.parameters.put(name, &after.to_string(), &description).await?;
                let tags = provenance_tags(finding, group.keepalive_502, now);
                self.parameters.tag(name, &tags).await?;
                action.applied = true;
                written = true;
            }
            report.actions.push(action);
        }
        if let Some(command) = &self.settings.reload_command {
            let changes = plan.changes.len();
            if written {
                report.actions.push(self.reload(&group.target_group_arn, command).await?);
            } else if changes > 0 {
                let mut action =
                    ActionReport::new(ActionKind::Reload, &group.target_group_arn, None, None);
                action.skipped = Some(match gate {
                    Gate::Closed(reason) => reason.into(),
                    Gate::Open => "nothing written".into(),
                });
                action.detail = Some(command.clone());
                report.actions.push(action);
            }
        }
        Ok(())
    }

    async fn reload(&self, target_group_arn: &str, command: &str) -> Result<ActionReport, Error> {
        let instances = self.balancers.instance_targets(target_group_arn).await?;
        let mut action = ActionReport::new(ActionKind::Reload, target_group_arn, None, None);
        if instances.is_empty() {
            action.skipped = Some("no EC2 instance targets".into());
        } else {
            let id = self.reload.run(&instances, command).await?;
            action.applied = true;
            action.detail = Some(format!("command {id} on {}", instances.join(",")));
        }
        Ok(action)
    }

    async fn lower_idle_timeout(
        &self,
        finding: &Finding,
        idle: u32,
        gate: Gate,
        tags: &BTreeMap<String, String>,
        report: &mut LoadBalancerReport,
    ) -> Result<(), Error> {
        let lb_arn = finding.load_balancer_arn.as_str();
        let current = CurrentSettings { alb_idle_timeout_s: idle, ..CurrentSettings::default() };
        let plan = alb_plan::plan(
            Strategy::AlbIdleTimeout,
            &finding.evidence(),
            &current,
            &self.settings.policy,
        )
        .map_err(|source| Error::Plan { load_balancer: lb_arn.to_string(), source })?;
        report.notes.extend(plan.notes.iter().cloned());
        let after = plan.changes.iter().find_map(|change| match change {
            Change::SetIdleTimeout { after, .. } => Some(*after),
            _ => None,
        });
        let mut action = ActionReport::new(
            ActionKind::SetIdleTimeout,
            lb_arn,
            Some(idle.into()),
            Some(after.unwrap_or(idle).into()),
        );
        // The planner refused (it would cut requests, or the estimate is weak): a skip reason.
        // An idle timeout already below the backend keep-alive is the remedy in force.
        if let Some(blocked) = &plan.blocked {
            action.skipped = Some(if blocked.reason == alb_plan::BlockReason::AlreadyBelow {
                skip::ALREADY_SET.to_string()
            } else {
                blocked.message.clone()
            });
            report.actions.push(action);
            return Ok(());
        }
        if action.should_execute(after.is_some(), gate)
            && let Some(after) = after
        {
            check_idle_timeout(lb_arn, after)?;
            // Recorded first: if the change then fails, the tag still names the value in force.
            // A value recorded by an earlier change is kept, so rollback returns to the
            // setting from before the remediator ever touched the load balancer.
            if !tags.contains_key(PREVIOUS_IDLE_TIMEOUT_TAG) {
                self.balancers
                    .add_tags(lb_arn, &[(PREVIOUS_IDLE_TIMEOUT_TAG, idle.to_string())])
                    .await?;
            }
            self.balancers.set_idle_timeout(lb_arn, after).await?;
            action.applied = true;
        }
        report.actions.push(action);
        Ok(())
    }

    /// Undoes the remediator's changes to one load balancer (`app/<name>/<id>` or its ARN): the
    /// idle timeout recorded in the journal (`journal_idle_timeout`, else the tag), and for the parameters of its target groups the version
    /// before the remediator's latest write. Obeys the mode and the allowlist, not the cooldown.
    ///
    /// # Errors
    ///
    /// The load balancer does not exist, an AWS call failed, or a recorded value is unusable.
    pub async fn rollback(
        &self,
        load_balancer: &str,
        now: u64,
        journal_idle_timeout: Option<u32>,
    ) -> Result<LoadBalancerReport, Error> {
        let lb_arn = self.resolve(load_balancer).await?;
        let lb_id = arn::load_balancer_id(&lb_arn).unwrap_or(load_balancer).to_string();
        let allowed = self.settings.allowlist.allows(&lb_arn);
        let current = self.current(&lb_arn).await?;
        let gate = guardrails::gate(self.settings.mode, allowed, None, now, None);
        let mut report = LoadBalancerReport {
            load_balancer: lb_id,
            load_balancer_arn: lb_arn.clone(),
            allowed,
            actions: Vec::new(),
            warnings: current.warnings,
            notes: Vec::new(),
            source: None,
            cures: Vec::new(),
        };
        let recorded = journal_idle_timeout
            .map(|seconds| seconds.to_string())
            .or_else(|| current.tags.get(PREVIOUS_IDLE_TIMEOUT_TAG).cloned());
        match recorded.as_ref() {
            None => report
                .notes
                .push(format!("no {PREVIOUS_IDLE_TIMEOUT_TAG} tag: idle timeout left as it is")),
            Some(value) => {
                let previous: u32 = value.trim().parse().map_err(|_| Error::Invalid {
                    resource: lb_arn.clone(),
                    message: format!(
                        "tag {PREVIOUS_IDLE_TIMEOUT_TAG}={value:?} is not a number of seconds"
                    ),
                })?;
                check_idle_timeout(&lb_arn, previous)?;
                let idle = self.balancers.idle_timeout(&lb_arn).await?;
                let mut action = ActionReport::new(
                    ActionKind::RestoreIdleTimeout,
                    &lb_arn,
                    Some(idle.into()),
                    Some(previous.into()),
                );
                if action.should_execute(idle != previous, gate) {
                    self.balancers.set_idle_timeout(&lb_arn, previous).await?;
                    action.applied = true;
                }
                report.actions.push(action);
            }
        }
        for group_arn in self.balancers.target_groups(&lb_arn).await? {
            let Some(group_name) = arn::target_group_name(&group_arn) else { continue };
            for parameter in Parameter::ALL {
                let name = parameter_name(&self.settings.parameter_prefix, group_name, parameter);
                let history = self.parameters.history(&name).await?;
                if let Some(action) = self.restore_parameter(&name, &history, gate).await? {
                    report.actions.push(action);
                }
            }
        }
        if report.changed() {
            self.balancers.add_tags(&lb_arn, &[(LAST_CHANGE_TAG, now.to_string())]).await?;
        }
        log(&report, self.settings.mode);
        Ok(report)
    }

    async fn restore_parameter(
        &self,
        name: &str,
        history: &[ParameterVersion],
        gate: Gate,
    ) -> Result<Option<ActionReport>, Error> {
        let Some((latest, earlier)) = history.split_last() else { return Ok(None) };
        let mut action = ActionReport::new(
            ActionKind::RestoreParameter,
            name,
            parse_ms(name, &latest.value).ok(),
            None,
        );
        let ours = latest.description.as_deref().is_some_and(|d| d.starts_with(SET_DESCRIPTION));
        if !ours {
            let rolled_back = latest.description.as_deref() == Some(ROLLBACK_DESCRIPTION);
            action.after = action.before;
            action.skipped = Some(if rolled_back {
                skip::ALREADY_SET.into()
            } else {
                format!("version {} was not written by the remediator", latest.version)
            });
            return Ok(Some(action));
        }
        let Some(previous) = earlier.last() else {
            action.skipped =
                Some("no earlier version: the remediator created the parameter".into());
            return Ok(Some(action));
        };
        let after = parse_ms(name, &previous.value)?;
        action.after = Some(after);
        action.detail =
            Some(format!("version {} -> value of version {}", latest.version, previous.version));
        match gate {
            Gate::Closed(reason) => action.skipped = Some(reason.into()),
            Gate::Open => {
                self.parameters.put(name, &previous.value, ROLLBACK_DESCRIPTION).await?;
                action.applied = true;
            }
        }
        Ok(Some(action))
    }

    /// The ARN of `app/<name>/<id>` (or the ARN given), checked.
    ///
    /// # Errors
    ///
    /// Not an ALB id or ARN, or no such load balancer.
    pub async fn resolve(&self, load_balancer: &str) -> Result<String, Error> {
        let load_balancer = load_balancer.trim();
        if load_balancer.starts_with("arn:") {
            return match arn::load_balancer_id(load_balancer) {
                Some(_) => Ok(load_balancer.to_string()),
                None => Err(Error::Invalid {
                    resource: load_balancer.to_string(),
                    message: "not an Application Load Balancer ARN".into(),
                }),
            };
        }
        if !arn::is_app_id(load_balancer) {
            return Err(Error::Invalid {
                resource: load_balancer.to_string(),
                message: "expected app/<name>/<id> or a load balancer ARN".into(),
            });
        }
        self.balancers.find(load_balancer).await?.ok_or_else(|| Error::Invalid {
            resource: load_balancer.to_string(),
            message: "no such load balancer".into(),
        })
    }

    async fn read_ms(&self, name: &str) -> Result<Option<u64>, Error> {
        match self.parameters.get(name).await? {
            None => Ok(None),
            Some(value) => parse_ms(name, &value).map(Some),
        }
    }
}

/// The tags that say where a parameter version came from.
pub(crate) fn provenance_tags(
    finding: &Finding,
    keepalive_502: u64,
    now: u64,
) -> [(&'static str, String); 4] {
    [
        ("alb-keepalive:load-balancer", finding.load_balancer.clone()),
        ("alb-keepalive:keepalive-502", keepalive_502.to_string()),
        (
            "alb-keepalive:estimated-backend-ms",
            finding
                .estimated_backend_keepalive_ms
                .map_or_else(|| "unknown".to_string(), |ms| ms.to_string()),
        ),
        ("alb-keepalive:changed-at", now.to_string()),
    ]
}

/// `{prefix}/{target-group-name}/{keepAliveTimeout|headersTimeout}`.
pub fn parameter_name(prefix: &str, target_group: &str, parameter: Parameter) -> String {
    format!("{}/{target_group}/{}", prefix.trim_end_matches('/'), parameter.name())
}

fn parse_ms(name: &str, value: &str) -> Result<u64, Error> {
    value.trim().parse().map_err(|_| Error::Invalid {
        resource: name.to_string(),
        message: format!("holds {value:?}, not a whole number of milliseconds"),
    })
}

fn check_idle_timeout(lb_arn: &str, seconds: u32) -> Result<(), Error> {
    if IDLE_TIMEOUT_RANGE_S.contains(&seconds) {
        Ok(())
    } else {
        Err(Error::Invalid {
            resource: lb_arn.to_string(),
            message: format!("idle timeout {seconds} s is outside the ALB range 1-4000 s"),
        })
    }
}

fn log(report: &LoadBalancerReport, mode: Mode) {
    for action in &report.actions {
        tracing::info!(
            load_balancer = %report.load_balancer,
            action = ?action.action,
            resource = %action.resource,
            dry_run = mode == Mode::DryRun,
            before = ?action.before,
            after = ?action.after,
            applied = action.applied,
            skipped = action.skipped.as_deref().unwrap_or(""),
            "decision"
        );
    }
    for warning in &report.warnings {
        tracing::warn!(load_balancer = %report.load_balancer, warning = %warning, "drift");
    }
}

#[cfg(test)]
mod tests;
