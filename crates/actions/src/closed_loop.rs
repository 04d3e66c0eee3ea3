//! The closed loop around [`Remediation`]: per load balancer, take the journal's lease, read
//! what the journal knows, decide with the findings, record the intent before any write,
//! execute, record the outcome, and tell people (EventBridge). The periodic review verifies
//! changes that have held; the rollback is recorded and announced the same way.
//!
//! Order of a change, so that a failure at any point leaves a state the next delivery
//! completes: plan (nothing written) -> journal: change `intended` -> writes -> provenance and
//! mirror tags -> journal: change `applied`, history item -> event. A delivery that finds an
//! `intended` change executes the plan again ("set to X" is idempotent) and completes the
//! record, instead of reporting "already set" and forgetting the change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Source, combine_by_load_balancer};
use crate::guardrails::{LAST_CHANGE_TAG, Mode, skip};
use crate::journal::{
    self, ChangeRecord, ChangeStatus, ErrorCounts, Evidence, JournalState, Notification,
    PendingEvent, Verification,
};
use crate::notify::{self, DetailType, EventDetail, EventEvidence};
use crate::ports::{Events, Journal, LoadBalancers, Parameters, Reload};
use crate::remediate::{
    ActionKind, ActionReport, LoadBalancerReport, Remediation, Settings, provenance_tags,
};
use crate::{Error, arn};

/// How long a lease lasts (longer than the remediator's 60 s timeout, so a live holder never
/// loses it; a crashed holder's lease is free after this).
pub const LEASE_SECONDS: u64 = 120;

/// The loop's settings (`RENOTIFY_SECONDS`, `VERIFY_GRACE_SECONDS`, `VERIFY_WINDOW_SECONDS`,
/// `AUTO_ROLLBACK`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopSettings {
    /// `Keep-Alive Race Detected` is not sent again for a load balancer before this (unless the
    /// plan changes).
    pub renotify_s: u64,
    /// Races logged this long after a change are the old connections draining, not a failure.
    pub verify_grace_s: u64,
    /// A change with no race for this long is verified by the review.
    pub verify_window_s: u64,
    /// Undo a lowered idle timeout when 504s or 460s grow after it.
    pub auto_rollback: bool,
    /// How long to wait for another invocation's lease before failing (retryable).
    pub lease_wait: Duration,
}

impl Default for LoopSettings {
    fn default() -> Self {
        LoopSettings {
            renotify_s: 86_400,
            verify_grace_s: 900,
            verify_window_s: 86_400,
            auto_rollback: true,
            lease_wait: Duration::from_secs(20),
        }
    }
}

/// What the review did for one load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    /// The load balancer ARN.
    pub load_balancer_arn: String,
    /// `verified`, `pending`, or what else the last change is.
    pub status: String,
    /// Events sent (including earlier unsent ones).
    pub events_sent: usize,
}

/// The remediation with its journal and events.
#[derive(Debug)]
pub struct ClosedLoop<'a, L, P, R, J, E> {
    settings: &'a Settings,
    balancers: &'a L,
    parameters: &'a P,
    remediation: Remediation<'a, L, P, R>,
    journal: &'a J,
    events: &'a E,
    holder: String,
}

static HOLDERS: AtomicU64 = AtomicU64::new(0);

impl<'a, L, P, R, J, E> ClosedLoop<'a, L, P, R, J, E>
where
    L: LoadBalancers,
    P: Parameters,
    R: Reload,
    J: Journal,
    E: Events,
{
    /// The loop over these adapters; `invocation` (the Lambda request id) makes the lease
    /// holder's name readable in the table.
    pub fn new(
        settings: &'a Settings,
        balancers: &'a L,
        parameters: &'a P,
        reload: &'a R,
        journal: &'a J,
        events: &'a E,
        invocation: &str,
    ) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let holder = format!(
            "{invocation}:{}:{nanos}:{}",
            std::process::id(),
            HOLDERS.fetch_add(1, Ordering::Relaxed)
        );
        ClosedLoop {
            settings,
            balancers,
            parameters,
            remediation: Remediation::new(settings, balancers, parameters, reload),
            journal,
            events,
            holder,
        }
    }

    async fn lease(&self, lb_arn: &str, now: u64) -> Result<(), Error> {
        let started = std::time::Instant::now();
        loop {
            let clock = now.saturating_add(started.elapsed().as_secs());
            let until = clock.saturating_add(LEASE_SECONDS);
            if self.journal.acquire(lb_arn, &self.holder, clock, until).await? {
                return Ok(());
            }
            if started.elapsed() >= self.settings.closed_loop.lease_wait {
                return Err(Error::Lease {
                    load_balancer: lb_arn.to_string(),
                    message: format!(
                        "another invocation holds the journal lease (waited {} s); nothing was changed",
                        started.elapsed().as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `work` under the lease of `lb_arn`, releasing it afterwards (also on failure).
    async fn with_lease<T>(
        &self,
        lb_arn: &str,
        now: u64,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.lease(lb_arn, now).await?;
        let result = work.await;
        if let Err(error) = self.journal.release(lb_arn, &self.holder).await {
            // The lease expires on its own; the work itself is done.
            tracing::warn!(load_balancer = lb_arn, %error, "journal lease not released");
        }
        result
    }

    /// Decides and acts on the findings about one load balancer (all with the same ARN).
    ///
    /// # Errors
    ///
    /// The lease could not be had, the journal or an AWS call failed, or the planner refused.
    pub async fn remediate(
        &self,
        findings: &[Finding],
        now: u64,
    ) -> Result<LoadBalancerReport, Error> {
        let Some(first) = findings.first() else {
            return Err(Error::Invalid { resource: "findings".into(), message: "empty".into() });
        };
        let lb_arn = first.load_balancer_arn.clone();
        if arn::load_balancer_id(&lb_arn).is_none() {
            return Err(Error::Invalid {
                resource: lb_arn,
                message: "load_balancer_arn is not an Application Load Balancer ARN".into(),
            });
        }
        self.with_lease(&lb_arn, now, self.remediate_locked(&lb_arn, findings, now)).await
    }

    async fn remediate_locked(
        &self,
        lb_arn: &str,
        findings: &[Finding],
        now: u64,
    ) -> Result<LoadBalancerReport, Error> {
        let mut state = self.journal.load(lb_arn).await?;
        self.flush_pending(&mut state).await;
        let combined = combine_by_load_balancer(findings).into_iter().next().ok_or_else(|| {
            Error::Invalid { resource: lb_arn.to_string(), message: "no finding".into() }
        })?;
        let fresh: Vec<&Finding> =
            findings.iter().filter(|f| !state.seen(&object_id(&f.source))).collect();
        let evidence = evidence_of(&fresh);

        let intended = state
            .last_change
            .as_ref()
            .filter(|c| c.status == ChangeStatus::Intended && c.kind == "set")
            .cloned();
        // An unfinished change is completed whatever the cooldown says: its decision was made.
        let last_change =
            if intended.is_some() { None } else { state.last_change.as_ref().map(|c| c.at) };
        let plan = self.remediation.remediate(&combined, now, last_change, false).await?;
        let to_execute: Vec<&ActionReport> = plan
            .actions
            .iter()
            .filter(|a| {
                a.skipped.as_deref() == Some(skip::PLAN_ONLY) && a.action != ActionKind::Reload
            })
            .collect();
        let in_force = !plan.actions.is_empty()
            && plan
                .actions
                .iter()
                .filter(|a| a.action != ActionKind::Reload)
                .all(|a| a.skipped.as_deref() == Some(skip::ALREADY_SET));

        if !evidence.objects.is_empty() {
            state.extend_episode(&evidence, now);
            let digest = notify::plan_digest(&plan.actions);
            if state.detected_due(&digest, now, self.settings.closed_loop.renotify_s) {
                let detail =
                    self.detail(&plan, &plan.actions, &evidence_for(&combined, &evidence), None);
                self.send(&mut state, DetailType::RaceDetected, detail).await;
                state.last_notification = Some(Notification {
                    at: now,
                    detail_type: DetailType::RaceDetected.as_str().into(),
                    plan_digest: digest,
                });
            }
            let grace = self.settings.closed_loop.verify_grace_s;
            if let Some(change) = state.pending_verification()
                && journal::ineffective(change, evidence.last_race_at, grace, in_force)
            {
                let change_id = change.id.clone();
                let actions = change.actions.clone();
                let mut detail = self.detail(
                    &plan,
                    &actions,
                    &evidence_for(&combined, &evidence),
                    Some(change_id),
                );
                detail.hint = Some(notify::INEFFECTIVE_HINT.into());
                self.send(&mut state, DetailType::Ineffective, detail).await;
                if let Some(change) = state.last_change.as_mut() {
                    change.verification = Verification::Ineffective;
                    change.verified_at = Some(now);
                }
            }
        }

        let report = if intended.is_some() || !to_execute.is_empty() {
            let change = match intended {
                Some(change) => change,
                None => {
                    let change = ChangeRecord {
                        id: change_id(now),
                        at: now,
                        status: ChangeStatus::Intended,
                        kind: "set".into(),
                        actions: to_execute.into_iter().cloned().collect(),
                        sources: findings.iter().map(|f| f.source.clone()).collect(),
                        keepalive_502: combined.keepalive_502,
                        estimated_backend_keepalive_ms: combined.estimated_backend_keepalive_ms,
                        verification: Verification::Pending,
                        verified_at: None,
                        before_counts: Some(counts_of(&combined)),
                        after_counts: None,
                    };
                    state.last_change = Some(change.clone());
                    self.journal.save(lb_arn, &self.holder, &state).await?;
                    change
                }
            };
            let executed = self.remediation.remediate(&combined, now, None, true).await?;
            self.complete(lb_arn, &mut state, change, &combined, &executed, now).await?;
            executed
        } else {
            plan
        };
        state.mark_seen(
            fresh
                .iter()
                .map(|f| object_id(&f.source))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        self.journal.save(lb_arn, &self.holder, &state).await?;
        Ok(report)
    }

    /// Marks an intended change applied: the actions of the intent, now in force, with the
    /// provenance tags and the mirror tag written again (idempotent), then history and event.
    async fn complete(
        &self,
        lb_arn: &str,
        state: &mut JournalState,
        mut change: ChangeRecord,
        finding: &Finding,
        executed: &LoadBalancerReport,
        now: u64,
    ) -> Result<(), Error> {
        for action in &mut change.actions {
            let now_in_force = executed.actions.iter().any(|done| {
                done.resource == action.resource
                    && done.action == action.action
                    && (done.applied || done.skipped.as_deref() == Some(skip::ALREADY_SET))
                    && done.after == action.after
            });
            if !now_in_force {
                return Err(Error::Invalid {
                    resource: action.resource.clone(),
                    message: format!(
                        "the recorded change {} planned {:?} but it is not in force; left intended for the next delivery",
                        change.id, action.after
                    ),
                });
            }
            if action.action == ActionKind::SetParameter {
                let keepalive_502 = finding
                    .target_groups
                    .iter()
                    .filter(|g| {
                        arn::target_group_name(&g.target_group_arn)
                            .is_some_and(|name| action.resource.contains(&format!("/{name}/")))
                    })
                    .map(|g| g.keepalive_502)
                    .sum();
                self.parameters
                    .tag(&action.resource, &provenance_tags(finding, keepalive_502, change.at))
                    .await?;
            }
            action.applied = true;
            action.skipped = None;
            state.originals.entry(action.resource.clone()).or_insert(action.before);
        }
        // Reload runs recorded for people; they are part of the executed report.
        change
            .actions
            .extend(executed.actions.iter().filter(|a| a.action == ActionKind::Reload).cloned());
        self.balancers.add_tags(lb_arn, &[(LAST_CHANGE_TAG, change.at.to_string())]).await?;
        change.status = ChangeStatus::Applied;
        self.journal.append_change(lb_arn, &change).await?;
        state.last_change = Some(change.clone());
        // Saved before the event: the change is recorded even if publishing fails.
        self.journal.save(lb_arn, &self.holder, state).await?;
        let evidence = EventEvidence {
            keepalive_502: finding.keepalive_502,
            requests: finding.requests,
            estimated_backend_keepalive_ms: finding.estimated_backend_keepalive_ms,
            first_race_at: state.episode.as_ref().and_then(|e| e.first_race_at),
            last_race_at: state.episode.as_ref().and_then(|e| e.last_race_at),
            sources: change.sources.clone(),
        };
        let detail = self.detail(executed, &change.actions, &evidence, Some(change.id.clone()));
        let _ = now;
        self.send(state, DetailType::Applied, detail).await;
        Ok(())
    }

    /// Undoes the remediator's changes to one load balancer, records and announces it.
    ///
    /// # Errors
    ///
    /// As [`Remediation::rollback`], or the journal failed.
    pub async fn rollback(
        &self,
        load_balancer: &str,
        now: u64,
    ) -> Result<LoadBalancerReport, Error> {
        let lb_arn = self.remediation.resolve(load_balancer).await?;
        self.with_lease(&lb_arn, now, async {
            let mut state = self.journal.load(&lb_arn).await?;
            self.flush_pending(&mut state).await;
            let original_idle =
                state.originals.get(&lb_arn).copied().flatten().and_then(|s| u32::try_from(s).ok());
            let report = self.remediation.rollback(&lb_arn, now, original_idle).await?;
            if report.changed() {
                self.record_rollback(&lb_arn, &mut state, &report, now, "rollback requested")
                    .await?;
            }
            self.journal.save(&lb_arn, &self.holder, &state).await?;
            Ok(report)
        })
        .await
    }

    async fn record_rollback(
        &self,
        lb_arn: &str,
        state: &mut JournalState,
        report: &LoadBalancerReport,
        now: u64,
        why: &str,
    ) -> Result<(), Error> {
        if let Some(change) = state.last_change.as_mut() {
            change.verification = Verification::RolledBack;
            change.verified_at = Some(now);
        }
        let record = ChangeRecord {
            id: change_id(now),
            at: now,
            status: ChangeStatus::Applied,
            kind: "rollback".into(),
            actions: report.actions.clone(),
            sources: Vec::new(),
            keepalive_502: 0,
            estimated_backend_keepalive_ms: None,
            verification: Verification::Verified,
            verified_at: Some(now),
            before_counts: None,
            after_counts: None,
        };
        self.journal.append_change(lb_arn, &record).await?;
        let mut detail = self.detail(
            report,
            &report.actions,
            &EventEvidence::default(),
            Some(record.id.clone()),
        );
        detail.summary = format!("{} ({why})", detail.summary);
        state.last_change = Some(record);
        self.journal.save(lb_arn, &self.holder, state).await?;
        self.send(state, DetailType::RolledBack, detail).await;
        Ok(())
    }

    /// Regression guard for a lowered idle timeout: adds the 504s and 460s of objects logged
    /// after the change and, if they grew past the rate before it, rolls back (`AUTO_ROLLBACK`)
    /// and says so.
    ///
    /// # Errors
    ///
    /// The lease, the journal or the rollback failed.
    pub async fn guard(
        &self,
        lb_arn: &str,
        counts: ErrorCounts,
        objects: &[Source],
        now: u64,
    ) -> Result<Option<LoadBalancerReport>, Error> {
        let state = self.journal.load(lb_arn).await?;
        let lowered = |state: &JournalState| {
            state.last_change.as_ref().is_some_and(|c| {
                c.kind == "set"
                    && c.status == ChangeStatus::Applied
                    && matches!(c.verification, Verification::Pending | Verification::Verified)
                    && c.actions.iter().any(|a| a.action == ActionKind::SetIdleTimeout && a.applied)
            })
        };
        if !lowered(&state) {
            return Ok(None);
        }
        self.with_lease(lb_arn, now, async {
            let mut state = self.journal.load(lb_arn).await?;
            // Own key space: the same object may also have been a finding in this invocation.
            let fresh: Vec<String> = objects
                .iter()
                .map(|o| format!("guard:{}", object_id(o)))
                .filter(|o| !state.seen(o))
                .collect();
            if !lowered(&state) || fresh.is_empty() {
                return Ok(None);
            }
            state.mark_seen(fresh.iter().map(String::as_str));
            let Some(change) = state.last_change.as_mut() else { return Ok(None) };
            let mut after = change.after_counts.unwrap_or_default();
            after.add(counts);
            change.after_counts = Some(after);
            let before = change.before_counts.unwrap_or_default();
            if !(self.settings.closed_loop.auto_rollback && journal::regressed(before, after)) {
                self.journal.save(lb_arn, &self.holder, &state).await?;
                return Ok(None);
            }
            let original_idle = state
                .originals
                .get(lb_arn)
                .copied()
                .flatten()
                .and_then(|s| u32::try_from(s).ok());
            let report = self.remediation.rollback(lb_arn, now, original_idle).await?;
            let why = format!(
                "504s and 460s grew after the idle timeout was lowered: {} + {} in {} requests, before {} + {} in {}",
                after.elb_504, after.client_460, after.requests, before.elb_504, before.client_460, before.requests
            );
            if report.changed() {
                self.record_rollback(lb_arn, &mut state, &report, now, &why).await?;
            } else {
                self.journal.save(lb_arn, &self.holder, &state).await?;
            }
            Ok(Some(report))
        })
        .await
    }

    /// The periodic review: every journalled load balancer's pending events are sent, and a
    /// change older than the window with no race after its grace period is verified (once).
    ///
    /// # Errors
    ///
    /// The journal could not be listed. Per load balancer failures are in the report's status.
    pub async fn review(&self, now: u64) -> Result<Vec<ReviewReport>, Error> {
        let mut reports = Vec::new();
        for lb_arn in self.journal.load_balancers().await? {
            let outcome = self
                .with_lease(&lb_arn, now, async {
                    let mut state = self.journal.load(&lb_arn).await?;
                    let pending = state.pending_events.len();
                    self.flush_pending(&mut state).await;
                    let mut sent = pending.saturating_sub(state.pending_events.len());
                    let last_race_at = state.episode.as_ref().and_then(|e| e.last_race_at);
                    let loop_settings = &self.settings.closed_loop;
                    let status = match state.last_change.clone() {
                        Some(change)
                            if change.kind == "set"
                                && journal::verified(
                                    &change,
                                    last_race_at,
                                    now,
                                    loop_settings.verify_grace_s,
                                    loop_settings.verify_window_s,
                                ) =>
                        {
                            let report = LoadBalancerReport {
                                load_balancer: arn::load_balancer_id(&lb_arn)
                                    .unwrap_or(&lb_arn)
                                    .to_string(),
                                load_balancer_arn: lb_arn.clone(),
                                allowed: self.settings.allowlist.allows(&lb_arn),
                                actions: change.actions.clone(),
                                warnings: Vec::new(),
                                notes: Vec::new(),
                                source: None,
                                cures: Vec::new(),
                            };
                            let evidence = EventEvidence {
                                keepalive_502: change.keepalive_502,
                                estimated_backend_keepalive_ms: change
                                    .estimated_backend_keepalive_ms,
                                last_race_at,
                                first_race_at: state.episode.as_ref().and_then(|e| e.first_race_at),
                                sources: change.sources.clone(),
                                requests: 0,
                            };
                            let detail = self.detail(
                                &report,
                                &change.actions,
                                &evidence,
                                Some(change.id.clone()),
                            );
                            if let Some(c) = state.last_change.as_mut() {
                                c.verification = Verification::Verified;
                                c.verified_at = Some(now);
                            }
                            // The episode is over: the next race opens a new one.
                            state.episode = None;
                            state.last_notification = None;
                            let queued = state.pending_events.len();
                            self.send(&mut state, DetailType::Verified, detail).await;
                            if state.pending_events.len() == queued {
                                sent += 1;
                            }
                            "verified".to_string()
                        }
                        Some(change) => format!("{:?}", change.verification).to_lowercase(),
                        None => "no change".to_string(),
                    };
                    self.journal.save(&lb_arn, &self.holder, &state).await?;
                    Ok(ReviewReport {
                        load_balancer_arn: lb_arn.clone(),
                        status,
                        events_sent: sent,
                    })
                })
                .await;
            reports.push(outcome.unwrap_or_else(|error| ReviewReport {
                load_balancer_arn: lb_arn.clone(),
                status: format!("failed: {error}"),
                events_sent: 0,
            }));
        }
        Ok(reports)
    }

    fn detail(
        &self,
        report: &LoadBalancerReport,
        actions: &[ActionReport],
        evidence: &EventEvidence,
        change_id: Option<String>,
    ) -> EventDetail {
        EventDetail {
            load_balancer: report.load_balancer.clone(),
            load_balancer_arn: report.load_balancer_arn.clone(),
            mode: self.settings.mode,
            dry_run: self.settings.mode == Mode::DryRun || !report.allowed,
            actions: actions.to_vec(),
            evidence: evidence.clone(),
            summary: String::new(),
            hint: None,
            change_id,
            cures: report.cures.clone(),
        }
    }

    /// Publishes, or keeps the event in the state for the next invocation.
    async fn send(&self, state: &mut JournalState, kind: DetailType, mut detail: EventDetail) {
        if detail.summary.is_empty() {
            detail.summary = notify::summary(kind, &detail);
        }
        let text = serde_json::to_string(&detail).unwrap_or_else(|_| "{}".into());
        if let Err(error) = self.events.publish(kind.as_str(), &text).await {
            tracing::warn!(detail_type = kind.as_str(), %error, "event not sent; kept in the journal for the next invocation");
            state.queue_event(PendingEvent { detail_type: kind.as_str().into(), detail: text });
        }
    }

    /// Sends the events earlier invocations could not; keeps those that fail again.
    async fn flush_pending(&self, state: &mut JournalState) {
        let pending = std::mem::take(&mut state.pending_events);
        for event in pending {
            if let Err(error) = self.events.publish(&event.detail_type, &event.detail).await {
                tracing::warn!(detail_type = %event.detail_type, %error, "event still not sent");
                state.pending_events.push(event);
            }
        }
    }
}

/// `bucket/key` of an object.
pub fn object_id(source: &Source) -> String {
    format!("{}/{}", source.bucket, source.key)
}

fn evidence_of(findings: &[&Finding]) -> Evidence {
    let mut evidence = Evidence::default();
    for finding in findings {
        evidence.keepalive_502 = evidence.keepalive_502.saturating_add(finding.keepalive_502);
        evidence.requests = evidence.requests.saturating_add(finding.requests);
        let (first, last) = race_window(finding);
        evidence.first_race_at = match (evidence.first_race_at, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        evidence.last_race_at = evidence.last_race_at.max(last);
        evidence.objects.push(object_id(&finding.source));
    }
    evidence
}

fn evidence_for(finding: &Finding, evidence: &Evidence) -> EventEvidence {
    EventEvidence {
        keepalive_502: evidence.keepalive_502,
        requests: evidence.requests,
        estimated_backend_keepalive_ms: finding.estimated_backend_keepalive_ms,
        first_race_at: evidence.first_race_at,
        last_race_at: evidence.last_race_at,
        sources: vec![finding.source.clone()],
    }
}

/// Log time (unix seconds) of the first and last race of a finding.
pub fn race_window(finding: &Finding) -> (Option<u64>, Option<u64>) {
    (unix_seconds(finding.first_race_at.as_deref()), unix_seconds(finding.last_race_at.as_deref()))
}

fn unix_seconds(rfc3339: Option<&str>) -> Option<u64> {
    let micros = alb_records::Timestamp::parse(rfc3339?.as_bytes())?.micros();
    u64::try_from(micros.div_euclid(1_000_000)).ok()
}

/// The 504s, 460s and requests of a finding (the regression guard's baseline).
fn counts_of(finding: &Finding) -> ErrorCounts {
    ErrorCounts {
        requests: finding.requests,
        elb_504: finding.elb_504,
        client_460: finding.elb_460,
    }
}

fn change_id(now: u64) -> String {
    format!("{now}-{}", HOLDERS.fetch_add(1, Ordering::Relaxed))
}
