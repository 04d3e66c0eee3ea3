//! The scan report: the diagnosis of every object plus, per racing load balancer, the target
//! values of both remedies. The JSON contract documented in the README is this struct.

use alb_findings::{Diagnosis, LoadBalancerFindings, MalformedLine, Verdict};
use alb_plan::{CurrentSettings, Evidence, Policy, Remedies};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Objects read.
    pub objects: usize,
    /// Files or objects passed over in directories and S3 listings (not access logs, not
    /// regular files, links back into the tree, or outside the name filters).
    pub skipped_objects: usize,
    pub lines: u64,
    pub malformed_lines: u64,
    pub malformed_samples: &'a [MalformedLine],
    /// The idle timeout the remedies were computed for.
    pub alb_idle_timeout_seconds: u32,
    pub load_balancers: Vec<LoadBalancerReport<'a>>,
}

#[derive(Debug, Serialize)]
pub struct LoadBalancerReport<'a> {
    #[serde(flatten)]
    pub findings: &'a LoadBalancerFindings,
    /// Present whenever the verdict is `keepalive-race`.
    pub remedies: Option<Remedies>,
}

impl<'a> Report<'a> {
    pub fn new(
        objects: usize,
        diagnosis: &'a Diagnosis,
        idle_timeout_s: u32,
        policy: &Policy,
    ) -> Result<Self, alb_plan::PlanError> {
        let current =
            CurrentSettings { alb_idle_timeout_s: idle_timeout_s, ..CurrentSettings::default() };
        let load_balancers = diagnosis
            .load_balancers
            .iter()
            .map(|findings| {
                let remedies = match findings.verdict {
                    Verdict::KeepaliveRace => {
                        Some(alb_plan::remedies(&evidence(findings), &current, policy)?)
                    }
                    Verdict::NoRace | Verdict::ShutdownRace => None,
                };
                Ok(LoadBalancerReport { findings, remedies })
            })
            .collect::<Result<_, alb_plan::PlanError>>()?;
        Ok(Report {
            objects,
            skipped_objects: 0,
            lines: diagnosis.lines,
            malformed_lines: diagnosis.malformed_lines,
            malformed_samples: &diagnosis.malformed_samples,
            alb_idle_timeout_seconds: idle_timeout_s,
            load_balancers,
        })
    }
}

pub fn evidence(findings: &LoadBalancerFindings) -> Evidence {
    Evidence {
        keepalive_502: findings.keepalive_502,
        estimated_backend_keepalive_ms: findings.estimated_backend_keepalive_ms,
    }
}
