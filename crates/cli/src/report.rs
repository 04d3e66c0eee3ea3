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
    /// Entries kept although a field from 26 on could not be read.
    pub warning_lines: u64,
    pub warning_samples: &'a [MalformedLine],
    /// Things to know about the input, one sentence each naming the object (e.g. a `.gz` name
    /// on an object that is not gzip).
    pub notes: Vec<String>,
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
    /// What ends a `shutdown-race` (keep-alive settings do not); present with that verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_advice: Option<&'static [&'static str]>,
}

impl<'a> Report<'a> {
    pub fn new(
        objects: usize,
        notes: Vec<String>,
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
                let shutdown_advice =
                    (findings.shutdown_502 > 0).then_some(alb_plan::SHUTDOWN_ADVICE.as_slice());
                Ok(LoadBalancerReport { findings, remedies, shutdown_advice })
            })
            .collect::<Result<_, alb_plan::PlanError>>()?;
        Ok(Report {
            objects,
            skipped_objects: 0,
            lines: diagnosis.lines,
            malformed_lines: diagnosis.malformed_lines,
            malformed_samples: &diagnosis.malformed_samples,
            warning_lines: diagnosis.warning_lines,
            warning_samples: &diagnosis.warning_samples,
            notes,
            alb_idle_timeout_seconds: idle_timeout_s,
            load_balancers,
        })
    }
}

pub fn evidence(findings: &LoadBalancerFindings) -> Evidence {
    Evidence {
        keepalive_502: findings.keepalive_502,
        estimated_backend_keepalive_ms: findings.estimated_backend_keepalive_ms,
        confidence: findings.estimate.map(|e| e.confidence),
        target_processing_seconds: findings.target_processing_seconds.clone(),
        long_lived_seconds: findings.long_lived_seconds.clone(),
    }
}
