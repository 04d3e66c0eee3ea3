//! `--format html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) that an SRE can attach to an incident: the verdict per load balancer, the idle gaps
//! before races with the estimate marked, the 502s by class over time, the per-target table
//! and the cures. Every piece of text that came from a log is escaped.

use std::fmt::Write as _;

use alb_findings::{Elb502Class, LoadBalancerFindings, Verdict};

use crate::report::{LoadBalancerReport, Report};

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2329;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.25em;margin:0}h3{font-size:1.05em;margin:1.2em 0 .4em}
.summary{color:#555}
section.lb{border:1px solid #d6dbe0;border-radius:6px;padding:1em 1.2em;margin:1.5em 0}
.verdict{display:inline-block;padding:.15em .6em;border-radius:4px;font-weight:600;margin-left:.6em;font-size:.9em}
.race{background:#c62828;color:#fff}.norace{background:#2e7d32;color:#fff}.shutdown{background:#ef6c00;color:#fff}
table{border-collapse:collapse;margin:.4em 0}td,th{border-bottom:1px solid #e3e6e9;padding:.25em .7em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f5f7}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-1px}
svg{display:block;max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#333}
.muted{color:#777}
";

/// Colours of the 502 classes, in [`Elb502Class::ALL`] order.
const CLASS_COLOURS: [&str; 6] = ["#c62828", "#ef6c00", "#6a1b9a", "#1565c0", "#00838f", "#757575"];

pub fn page(report: &Report<'_>) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    out.push_str("<title>alb-keepalive scan report</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n<h1>ALB keep-alive scan</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"summary\">{} object{} scanned, {} entries, {} malformed line{} skipped, {} file{} or object{} skipped. Remedies computed for a load-balancer idle timeout of {} s.</p>",
        report.objects,
        plural(report.objects as u64),
        report.lines,
        report.malformed_lines,
        plural(report.malformed_lines),
        report.skipped_objects,
        plural(report.skipped_objects as u64),
        plural(report.skipped_objects as u64),
        report.alb_idle_timeout_seconds
    );
    if !report.malformed_samples.is_empty() {
        out.push_str("<details><summary>Malformed lines</summary><ul>");
        for sample in report.malformed_samples {
            let source = sample.source.as_deref().map(|s| format!("{s}: ")).unwrap_or_default();
            let _ = write!(
                out,
                "<li>{}line {}: {}</li>",
                escape(&source),
                sample.line,
                escape(&sample.reason)
            );
        }
        out.push_str("</ul></details>\n");
    }
    if report.load_balancers.is_empty() {
        out.push_str("<p>No access-log entries found.</p>\n");
    }
    for lb in &report.load_balancers {
        load_balancer(&mut out, lb, report.alb_idle_timeout_seconds);
    }
    out.push_str("</body></html>\n");
    out
}

fn load_balancer(out: &mut String, report: &LoadBalancerReport<'_>, idle_s: u32) {
    let lb = report.findings;
    let (class, verdict) = match lb.verdict {
        Verdict::KeepaliveRace => ("race", "keep-alive race"),
        Verdict::NoRace => ("norace", "no keep-alive race"),
        Verdict::ShutdownRace => ("shutdown", "shutdown race (not a keep-alive problem)"),
    };
    let _ = writeln!(
        out,
        "<section class=\"lb\"><h2>{}<span class=\"verdict {class}\">{verdict}</span></h2>",
        escape(&lb.load_balancer)
    );
    let _ = writeln!(
        out,
        "<p>{} requests, {} load-balancer 502{}, {} of them keep-alive races.</p>",
        lb.requests,
        lb.elb_502,
        plural(lb.elb_502),
        lb.keepalive_502
    );
    gap_histogram(out, lb);
    timeline(out, lb);
    targets(out, lb);
    if let Some(sample) = lb.samples.first() {
        out.push_str("<h3>A race as logged</h3>");
        let _ = writeln!(out, "<pre>{}</pre>", escape(&sample.line));
    }
    if let Some(remedies) = &report.remedies {
        out.push_str("<h3>Cure (either one)</h3><ol>");
        let _ = write!(
            out,
            "<li><b>Recommended:</b> keep the application's connections open longer than the load balancer's {idle_s} s:<ul>"
        );
        for cure in &remedies.cures {
            let note =
                cure.note.as_deref().map(|n| format!(" ({})", escape(n))).unwrap_or_default();
            let _ = write!(
                out,
                "<li>{}: <code>{}</code>{note}</li>",
                escape(&cure.stack),
                escape(&cure.setting)
            );
        }
        out.push_str("</ul></li>");
        match (remedies.alb_idle_timeout_seconds, &remedies.alb_idle_timeout_blocked) {
            (Some(seconds), _) => {
                let _ = write!(
                    out,
                    "<li><b>Blunt:</b> lower the load balancer's idle timeout below the backend's keep-alive, to {0} s: <pre>aws elbv2 modify-load-balancer-attributes --load-balancer-arn &lt;arn of {1}&gt; \\\n  --attributes Key=idle_timeout.timeout_seconds,Value={0}</pre>This also closes idle client connections sooner and fails any response slower than {0} s with 504.</li>",
                    seconds,
                    escape(&lb.load_balancer)
                );
            }
            (None, Some(blocked)) => {
                let _ = write!(
                    out,
                    "<li>Not lowering the idle timeout: {}.</li>",
                    escape(&blocked.message)
                );
            }
            (None, None) => {}
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
}

/// Histogram of the idle gaps before races, with the estimated backend keep-alive marked.
fn gap_histogram(out: &mut String, lb: &LoadBalancerFindings) {
    let gaps = lb.gaps().values();
    if gaps.is_empty() {
        return;
    }
    let estimate = lb.estimate.map(|e| e.backend_keepalive_ms);
    // Headroom on the right so the largest gaps and the estimate are not on the edge.
    let top = gaps.iter().copied().chain(estimate).max().unwrap_or(1).max(1);
    let top = top.saturating_add(top / 5);
    const BINS: u32 = 40;
    let bin_ms = top.div_ceil(BINS).max(1);
    let mut counts = vec![0u32; BINS as usize + 1];
    for &gap in gaps {
        if let Some(count) = counts.get_mut((gap / bin_ms) as usize) {
            *count += 1;
        }
    }
    let max_count = counts.iter().copied().max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 40.0_f64, 30.0_f64);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - 20.0;
    let bar_w = plot_w / counts.len() as f64;
    let _ = write!(
        out,
        "<h3>Idle gap before each race ({} measured{})</h3>",
        lb.gaps().seen(),
        if lb.gaps().seen() > gaps.len() as u64 {
            format!(", {} sampled", gaps.len())
        } else {
            String::new()
        }
    );
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"histogram of idle gaps\">"
    );
    for (i, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let bar_h = plot_h * f64::from(count) / f64::from(max_count);
        let x = left + i as f64 * bar_w;
        let y = 10.0 + plot_h - bar_h;
        let from = i as u32 * bin_ms;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_h:.1}\" fill=\"#5c7cfa\"><title>{from}-{} ms: {count}</title></rect>",
            (bar_w - 1.0).max(1.0),
            from + bin_ms
        );
    }
    let axis_y = 10.0 + plot_h;
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
        w - 10.0
    );
    for tick in 0..=4u32 {
        let ms = u64::from(top) * u64::from(tick) / 4;
        let x = left + plot_w * f64::from(tick) / 4.0;
        let anchor = if tick == 4 { "end" } else { "middle" };
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{ms} ms</text>",
            axis_y + 16.0
        );
    }
    let _ =
        write!(out, "<text x=\"{}\" y=\"18\" text-anchor=\"end\">{max_count}</text>", left - 4.0);
    if let Some(estimate) = estimate {
        let x = left + plot_w * f64::from(estimate) / (f64::from(bin_ms) * counts.len() as f64);
        let (label_x, anchor) = if x > w / 2.0 { (x - 6.0, "end") } else { (x + 6.0, "start") };
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"6\" x2=\"{x:.1}\" y2=\"{axis_y}\" stroke=\"#c62828\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/><text x=\"{label_x:.1}\" y=\"18\" text-anchor=\"{anchor}\" fill=\"#c62828\">estimated backend keep-alive {estimate} ms</text>"
        );
    }
    out.push_str("</svg>\n");
}

/// Stacked bars of 502s per class in 5-minute buckets.
fn timeline(out: &mut String, lb: &LoadBalancerFindings) {
    let timeline = lb.timeline();
    let buckets: Vec<_> = timeline.buckets().collect();
    let (Some(&(first, _)), Some(&(last, _))) = (buckets.first(), buckets.last()) else {
        return;
    };
    let step = alb_findings::ClassTimeline::BUCKET_SECONDS;
    let slots = ((last - first) / step + 1).max(1) as f64;
    let max_total = buckets.iter().map(|(_, c)| c.total()).max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 40.0_f64, 30.0_f64);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - 20.0;
    let bar_w = plot_w / slots;
    out.push_str("<h3>Load-balancer 502s by class, per 5 minutes (UTC)</h3>");
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"502s over time\">"
    );
    for &(start, counts) in &buckets {
        let x = left + ((start - first) / step) as f64 * bar_w;
        let mut y = 10.0 + plot_h;
        for (class, colour) in Elb502Class::ALL.iter().zip(CLASS_COLOURS) {
            let n = counts.get(*class);
            if n == 0 {
                continue;
            }
            let bar_h = plot_h * n as f64 / max_total as f64;
            y -= bar_h;
            let _ = write!(
                out,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{bar_h:.2}\" fill=\"{colour}\"><title>{} {}: {n}</title></rect>",
                (bar_w * 0.85).max(2.0),
                utc(start),
                class.name()
            );
        }
    }
    let axis_y = 10.0 + plot_h;
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
        w - 10.0
    );
    let ticks = if buckets.len() == 1 { 0 } else { 2 };
    for tick in 0..=ticks {
        let at = first + (last - first) * tick / ticks.max(1);
        let at = at - at.rem_euclid(step);
        let x = left + ((at - first) / step) as f64 * bar_w;
        let anchor = ["start", "middle", "end"][if ticks == 0 { 0 } else { tick as usize }];
        let x = if anchor == "end" { x + bar_w } else { x };
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            axis_y + 16.0,
            utc(at)
        );
    }
    let _ =
        write!(out, "<text x=\"{}\" y=\"18\" text-anchor=\"end\">{max_total}</text>", left - 4.0);
    out.push_str("</svg><p class=\"legend\">");
    for (class, colour) in Elb502Class::ALL.iter().zip(CLASS_COLOURS) {
        if lb.elb_502_by_class.get(*class) > 0 {
            let _ =
                write!(out, "<span><i style=\"background:{colour}\"></i>{}</span>", class.name());
        }
    }
    if timeline.outside() > 0 {
        let _ = write!(
            out,
            "<span class=\"muted\">{} not drawn (beyond 14 days)</span>",
            timeline.outside()
        );
    }
    out.push_str("</p>\n");
}

fn targets(out: &mut String, lb: &LoadBalancerFindings) {
    if lb.target_groups.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Targets</h3><table><tr><th>target group</th><th>target</th><th>requests</th><th>keep-alive races</th><th>502s</th></tr>",
    );
    for group in &lb.target_groups {
        let name = group
            .target_group_arn
            .split_once(":targetgroup/")
            .map(|(_, rest)| rest)
            .unwrap_or(&group.target_group_arn);
        for target in &group.targets {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                escape(&target.target),
                target.requests,
                target.keepalive_502,
                target.elb_502_by_class.total()
            );
        }
    }
    out.push_str("</table>\n");
}

/// Escapes text for HTML element content and attribute values; control characters (terminal
/// escapes, NUL) become U+FFFD so nothing from a log can change the page.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `yyyy-mm-dd hh:mm` of seconds since the epoch (UTC), from the log timestamps' own RFC 3339
/// formatting.
fn utc(seconds: i64) -> String {
    let rfc3339 = alb_records::Timestamp(seconds.saturating_mul(1_000_000)).to_string();
    rfc3339.get(..16).unwrap_or(&rfc3339).replacen('T', " ", 1)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_cannot_change_the_page() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\" \u{1b}[31m\0"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; \u{FFFD}[31m\u{FFFD}"
        );
    }

    #[test]
    fn bucket_times_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(1_795_772_100), "2026-11-27 09:35");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
    }
}
