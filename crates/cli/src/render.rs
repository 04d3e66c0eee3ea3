//! The text report: what an SRE reads first. Per load balancer: the verdict, the counts, the
//! evidence (gaps, a sample line) and both cures with the exact values to set.

use std::fmt::Write as _;

use alb_findings::{Elb502Class, LoadBalancerFindings, Verdict};

use crate::report::{LoadBalancerReport, Report};

pub fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Scanned {} object{}: {} entries, {} malformed line{} skipped.",
        report.objects,
        plural(report.objects as u64),
        report.lines,
        report.malformed_lines,
        plural(report.malformed_lines)
    );
    if report.skipped_objects > 0 {
        let _ = writeln!(
            out,
            "Skipped {} file{} or object{} that are not ALB access logs or are filtered out (--verbose names them).",
            report.skipped_objects,
            plural(report.skipped_objects as u64),
            plural(report.skipped_objects as u64)
        );
    }
    for sample in report.malformed_samples {
        let source = sample.source.as_deref().map(|s| format!("{s}: ")).unwrap_or_default();
        let _ = writeln!(out, "  malformed: {source}line {}: {}", sample.line, sample.reason);
    }
    if report.load_balancers.is_empty() {
        let _ = writeln!(out, "\nNo access-log entries found.");
    }
    for lb in &report.load_balancers {
        out.push('\n');
        load_balancer(&mut out, lb, report.alb_idle_timeout_seconds);
    }
    out
}

fn load_balancer(out: &mut String, report: &LoadBalancerReport<'_>, idle_s: u32) {
    let lb = report.findings;
    let headline = match lb.verdict {
        Verdict::KeepaliveRace => {
            "KEEP-ALIVE RACE: the targets close idle connections the load balancer still reuses"
        }
        Verdict::NoRace => "no keep-alive race",
        Verdict::ShutdownRace => {
            "SHUTDOWN RACE: targets closed their idle connections while shutting down (not a keep-alive problem)"
        }
    };
    let _ = writeln!(out, "{}  {}", lb.load_balancer, headline);
    let _ = writeln!(
        out,
        "  {} requests, {} load-balancer 502{}{}",
        lb.requests,
        lb.elb_502,
        plural(lb.elb_502),
        classes(lb)
    );
    race_times(out, lb);
    if lb.verdict == Verdict::NoRace {
        explain_other_502s(out, lb);
        return;
    }
    if lb.verdict == Verdict::ShutdownRace {
        explain_other_502s(out, lb);
        shutdown_advice(out, lb);
        return;
    }
    let _ = writeln!(out, "  Evidence:");
    if let Some(estimate) = lb.estimate {
        let _ = writeln!(
            out,
            "    idle gap before each race: {} to {} ms; {} of {} within 10 % of {} ms",
            estimate.min_gap_ms,
            estimate.max_gap_ms,
            estimate.gaps_near_estimate,
            lb.gaps().values().len(),
            estimate.backend_keepalive_ms
        );
        let _ = writeln!(
            out,
            "    estimated backend keep-alive: {} ms (confidence {:.2}){}",
            estimate.backend_keepalive_ms,
            estimate.confidence,
            known_default(estimate.backend_keepalive_ms)
        );
    }
    if lb.keepalive_502_without_gap > 0 {
        let _ = writeln!(
            out,
            "    {} race{} with no earlier response on the same target in the object (no gap)",
            lb.keepalive_502_without_gap,
            plural(lb.keepalive_502_without_gap)
        );
    }
    for group in lb.target_groups.iter().filter(|g| g.keepalive_502 > 0) {
        let targets: Vec<String> = group
            .targets
            .iter()
            .filter(|t| t.keepalive_502 > 0)
            .map(|t| format!("{} {}", t.target, t.keepalive_502))
            .collect();
        let _ = writeln!(
            out,
            "    {}: {} race{} ({})",
            group_name(&group.target_group_arn),
            group.keepalive_502,
            plural(group.keepalive_502),
            targets.join(", ")
        );
    }
    if let Some(sample) = lb.samples.first() {
        let _ = writeln!(out, "    sample: {}", sample.line);
    }
    explain_other_502s(out, lb);
    if let Some(remedies) = report.remedies {
        let values = remedies.ssm_parameters;
        let _ = writeln!(out, "  Cure (either one):");
        let _ = writeln!(
            out,
            "    1. Recommended: keep the application's connections open longer than the load balancer's {idle_s} s:"
        );
        let _ = writeln!(
            out,
            "         server.keepAliveTimeout = {}; server.headersTimeout = {};   // Node.js",
            values.keep_alive_timeout_ms, values.headers_timeout_ms
        );
        let _ = writeln!(
            out,
            "       (gunicorn --keep-alive, uvicorn --timeout-keep-alive, Puma persistent_timeout: above {idle_s} s too)"
        );
        if remedies.alb_idle_timeout_seconds < idle_s {
            let _ = writeln!(
                out,
                "    2. Blunt: lower the load balancer's idle timeout below the backend's keep-alive, to {} s:",
                remedies.alb_idle_timeout_seconds
            );
            let _ = writeln!(
                out,
                "         aws elbv2 modify-load-balancer-attributes --load-balancer-arn <arn of {}> \\\n           --attributes Key=idle_timeout.timeout_seconds,Value={}",
                lb.load_balancer, remedies.alb_idle_timeout_seconds
            );
            let _ = writeln!(
                out,
                "       This also closes idle client connections sooner and fails any response slower than {} s with 504.",
                remedies.alb_idle_timeout_seconds
            );
        } else {
            let _ = writeln!(
                out,
                "    2. Lowering the idle timeout does not help: the backend keep-alive is not below {idle_s} s."
            );
        }
    }
}

/// Hours listed in full; a longer scan shows the first and the last half of them, so whether the
/// races stopped stays visible.
const MAX_HOURS_SHOWN: usize = 24;

/// When the races were logged: first and last (log time) and the races per UTC hour.
fn race_times(out: &mut String, lb: &LoadBalancerFindings) {
    let times = &lb.race_times;
    let (Some(first), Some(last)) = (times.first(), times.last()) else { return };
    let _ = writeln!(out, "  Races logged from {first} to {last}; per hour (UTC):");
    let hours: Vec<_> = times.by_hour().collect();
    let hour_line = |out: &mut String, (hour, races): &(_, u64)| {
        let _ = writeln!(out, "    {hour}  {races} race{}", plural(*races));
    };
    if hours.len() <= MAX_HOURS_SHOWN {
        hours.iter().for_each(|h| hour_line(out, h));
    } else {
        let half = MAX_HOURS_SHOWN / 2;
        hours[..half].iter().for_each(|h| hour_line(out, h));
        let _ = writeln!(
            out,
            "    ... {} more hours with races (all in --format json: races_by_hour) ...",
            hours.len() - MAX_HOURS_SHOWN
        );
        hours[hours.len() - half..].iter().for_each(|h| hour_line(out, h));
    }
}

fn classes(lb: &LoadBalancerFindings) -> String {
    let parts: Vec<String> = Elb502Class::ALL
        .iter()
        .filter(|&&class| lb.elb_502_by_class.get(class) > 0)
        .map(|&class| {
            let n = lb.elb_502_by_class.get(class);
            let (one, many) = class_words(class);
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!(": {}", parts.join(", ")) }
}

/// Singular and plural wording of a class.
fn class_words(class: Elb502Class) -> (&'static str, &'static str) {
    match class {
        Elb502Class::KeepaliveRace => ("keep-alive race", "keep-alive races"),
        Elb502Class::ConnectionFailure => ("connection failure", "connection failures"),
        Elb502Class::TargetSent => ("sent by the application", "sent by the application"),
        Elb502Class::LambdaWafAuth => ("Lambda/WAF/auth error", "Lambda/WAF/auth errors"),
        Elb502Class::ClosedMidRequest => ("closed mid-request", "closed mid-request"),
        Elb502Class::ShutdownRace => ("shutdown race", "shutdown races"),
        _ => ("other", "other"),
    }
}

fn explain_other_502s(out: &mut String, lb: &LoadBalancerFindings) {
    let counts = lb.elb_502_by_class;
    let notes = [
        (
            Elb502Class::ConnectionFailure,
            "connection failures (-1 -1 -1 502): refused or reset connects; check target health, security groups and ports (TargetConnectionErrorCount)",
        ),
        (
            Elb502Class::TargetSent,
            "502s sent by the application itself: look at its logs, not at keep-alive",
        ),
        (Elb502Class::LambdaWafAuth, "Lambda/WAF/auth 502s: see error_reason in the lines"),
        (
            Elb502Class::ClosedMidRequest,
            "connections closed while a request was being processed: crashes, OOM kills or deregistration",
        ),
    ];
    for (class, text) in notes {
        let n = counts.get(class);
        if n > 0 {
            let _ = writeln!(out, "  Not keep-alive ({n}): {text}.");
        }
    }
}

/// What ends race-shaped 502s at a deploy; keep-alive settings do not.
fn shutdown_advice(out: &mut String, lb: &LoadBalancerFindings) {
    let _ = writeln!(
        out,
        "  Shutdown ({}): race-shaped 502s in bursts with no common idle age, then refused connections or the target gone.",
        lb.shutdown_502
    );
    let _ = writeln!(out, "  Cure (keep-alive settings do not help):");
    let _ = writeln!(
        out,
        "    - deregister the target before stopping it, with a deregistration delay (deregistration_delay.timeout_seconds) longer than the slowest request;"
    );
    let _ = writeln!(
        out,
        "    - on SIGTERM stop accepting new requests first, let in-flight ones finish, and only then close idle connections;"
    );
    let _ = writeln!(
        out,
        "    - Node.js: server.close() first (stops accepting), then server.closeIdleConnections(); not the other way round."
    );
}

fn known_default(ms: u32) -> &'static str {
    let near = |value: u32| ms.abs_diff(value) <= value / 10;
    if near(5000) {
        " - Node.js, uvicorn and Apache default to 5000 ms"
    } else if near(2000) {
        " - gunicorn defaults to 2000 ms"
    } else if near(20_000) {
        " - Puma 6 defaults to 20000 ms"
    } else {
        ""
    }
}

fn group_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/").map(|(_, rest)| rest).unwrap_or(arn)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
