//! The text report: what an SRE reads first. Per load balancer: the verdict, the counts, the
//! evidence (gaps, a sample line) and both cures with the exact values to set. Everything
//! copied from the input goes through [`escape`] first.

use std::fmt::Write as _;

use alb_findings::{Elb502Class, LoadBalancerFindings, Verdict};

use crate::escape::escape;
use crate::report::{LoadBalancerReport, Report};

pub fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Scanned {} object{}: {} entries, {} malformed line{} skipped{}.",
        report.objects,
        plural(report.objects as u64),
        report.lines,
        report.malformed_lines,
        plural(report.malformed_lines),
        if report.warning_lines > 0 {
            format!(
                ", {} entr{} kept with a warning",
                report.warning_lines,
                if report.warning_lines == 1 { "y" } else { "ies" }
            )
        } else {
            String::new()
        }
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
    for (kind, samples) in
        [("malformed", report.malformed_samples), ("warning", report.warning_samples)]
    {
        for sample in samples {
            let source =
                sample.source.as_deref().map(|s| format!("{}: ", escape(s))).unwrap_or_default();
            let _ =
                writeln!(out, "  {kind}: {source}line {}: {}", sample.line, escape(&sample.reason));
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {}", escape(note));
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
    let _ = writeln!(out, "{}  {}", escape(&lb.load_balancer), headline);
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
            "    estimated backend keep-alive: {} ms (confidence {:.2}, {} pool reuse explains {:.0} % of the races){}",
            estimate.backend_keepalive_ms,
            estimate.confidence,
            match estimate.reuse_order {
                alb_findings::ReuseOrder::MostRecentlyUsed => "LIFO",
                alb_findings::ReuseOrder::LeastRecentlyUsed => "FIFO",
            },
            estimate.model_fit * 100.0,
            alb_plan::known_default(estimate.backend_keepalive_ms)
                .map(|name| format!(" - the default of {name}"))
                .unwrap_or_default()
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
            .map(|t| format!("{} {}", escape(&t.target), t.keepalive_502))
            .collect();
        let _ = writeln!(
            out,
            "    {}: {} race{} ({})",
            escape(group_name(&group.target_group_arn)),
            group.keepalive_502,
            plural(group.keepalive_502),
            targets.join(", ")
        );
    }
    if let Some(sample) = lb.samples.first() {
        let _ = writeln!(out, "    sample: {}", escape(&sample.line));
    }
    explain_other_502s(out, lb);
    if let Some(remedies) = &report.remedies {
        let values = remedies.ssm_parameters;
        let _ = writeln!(out, "  Cure (either one):");
        let _ = writeln!(
            out,
            "    1. Recommended: keep the application's connections open longer than the load balancer's {idle_s} s:"
        );
        for cure in &remedies.cures {
            let note = cure.note.as_deref().map(|n| format!("   ({n})")).unwrap_or_default();
            let _ =
                writeln!(out, "         {:<30} {}{note}", format!("{}:", cure.stack), cure.setting);
        }
        if let Some(request) = values.request_timeout_ms {
            let _ = writeln!(
                out,
                "       Node rejects a headersTimeout above requestTimeout (default 300000): requestTimeout = {request}."
            );
        }
        match (remedies.alb_idle_timeout_seconds, &remedies.alb_idle_timeout_blocked) {
            (Some(seconds), _) => {
                let _ = writeln!(
                    out,
                    "    2. Blunt: lower the load balancer's idle timeout below the backend's keep-alive, to {seconds} s:"
                );
                let _ = writeln!(
                    out,
                    "         aws elbv2 modify-load-balancer-attributes --load-balancer-arn <arn of {}> \\\n           --attributes Key=idle_timeout.timeout_seconds,Value={seconds}",
                    escape(&lb.load_balancer)
                );
                let _ = writeln!(
                    out,
                    "       This also closes idle client connections sooner and fails any response slower than {seconds} s with 504."
                );
            }
            (None, Some(blocked)) => {
                let _ = writeln!(out, "    2. Not lowering the idle timeout: {}.", blocked.message);
            }
            (None, None) => {}
        }
    }
    if let Some(advice) = report.shutdown_advice {
        let _ = writeln!(
            out,
            "  Shutdown races ({}): race-shaped 502s in bursts with no common idle age, then refused connections or the target gone. Keep-alive settings do not cure these:",
            lb.shutdown_502
        );
        for line in advice {
            let _ = writeln!(out, "    - {line}");
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

fn group_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/").map(|(_, rest)| rest).unwrap_or(arn)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
