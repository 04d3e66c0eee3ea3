//! Every line of the public fixture file (real and documented ALB lines gathered from open-source
//! test suites) parses as its comment says; the one known defective line is rejected.

use alb_records::{Field, ParseError, parse_line};

const FIXTURE: &str = include_str!("data/public-alb-lines.txt");

/// (preceding comment, line) for every entry line of the fixture.
fn entries() -> Vec<(String, &'static str)> {
    let mut comment = String::new();
    let mut out = vec![];
    for line in FIXTURE.lines() {
        if let Some(text) = line.strip_prefix('#') {
            if !text.trim().is_empty() {
                comment = text.to_string();
            }
        } else if !line.trim().is_empty() {
            out.push((comment.clone(), line));
        }
    }
    out
}

#[test]
fn every_public_line_parses_except_the_known_defect() {
    let entries = entries();
    assert!(entries.len() >= 25, "fixture has {} lines", entries.len());
    let mut defects = 0;
    for (comment, line) in &entries {
        let result = parse_line(line.as_bytes());
        if comment.contains("ODD") {
            defects += 1;
            assert_eq!(
                result.unwrap_err(),
                ParseError::MissingSeparator { field: Field::ChosenCertArn },
                "{line}"
            );
        } else {
            let record = result.unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(record.elb().starts_with(b"app/"), "{line}");
            assert_eq!(record.warning(), None, "every public line is read whole: {line}");
        }
    }
    assert_eq!(defects, 1);
}

fn find(needle: &str) -> alb_records::Record<'static> {
    let line = entries().into_iter().map(|(_, l)| l).find(|l| l.contains(needle)).unwrap();
    parse_line(line.as_bytes()).unwrap()
}

#[test]
fn layouts_from_18_to_36_fields_are_read_by_name() {
    let kc = find("2022-04-15T16:52:50.757968Z");
    assert_eq!(kc.field_count(), 18);
    assert_eq!(kc.target_processing_time_ms(), Some(4205));
    assert_eq!(kc.response_processing_time_ms(), None);
    assert_eq!(kc.trace_id(), Some(&b"Root=1-58337262-36d228ad5d99923122bbe354"[..]));

    let old = find("2019-10-11T15:01:12.376735Z");
    assert_eq!(old.field_count(), 25);
    assert_eq!(old.elb_status_code(), Some(460));

    let newest = find("2026-09-17T05:19:57.006409Z");
    assert_eq!(newest.field_count(), 34, "fields 35-36 are ignored");
    assert_eq!(newest.conn_trace_id(), Some(&b"TID_f412ec94f0d7274a995f1719b4f4f35e"[..]));
    assert_eq!(newest.ip_address(), Some(&b"3.34.116.99"[..]));
    assert_eq!(newest.ssl_protocol(), Some(&b"TLSv1.3"[..]));
}

#[test]
fn lambda_and_malformed_and_ipv6_lines_read_correctly() {
    let lambda = find("\"LambdaInvalidResponse\" \"-\"");
    assert_eq!(lambda.target(), None);
    assert_eq!(lambda.error_reason(), Some(&b"LambdaInvalidResponse"[..]));
    assert_eq!(lambda.target_status_code(), None);

    let space_in_uri = find("SpaceInUri");
    assert_eq!(space_in_uri.classification(), Some(&b"Acceptable"[..]));
    assert!(space_in_uri.request().unwrap().windows(2).any(|w| w == b"+ "));

    let trailing_space = find("2025-05-01T11:24:32.748149Z");
    assert_eq!(
        trailing_space.request(),
        Some(&b"- http://internal-service-alb.example.com:80-/ "[..])
    );
    assert_eq!(trailing_space.matched_rule_priority(), None);

    let ipv6 = find("2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718");
    assert_eq!(ipv6.kind(), b"h2");
    assert_eq!(ipv6.chosen_cert_arn(), Some(&b"session-reused"[..]));

    let unquoted_lists = find("\"-\" 10.0.0.1:80 200 \"-\"");
    assert_eq!(unquoted_lists.target_port_list(), Some(&b"10.0.0.1:80"[..]));
    assert_eq!(unquoted_lists.target_status_code_list(), Some(&b"200"[..]));

    let cn = find("arn:aws-cn:");
    assert_eq!(cn.elb_status_code(), Some(504));
    assert_eq!(cn.request_processing_time_ms(), None);
}
