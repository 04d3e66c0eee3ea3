//! Object keys: decoding them as each event source encodes them, and telling ALB access logs
//! from the other objects ELB writes next to them (test file, connection and health-check logs,
//! NLB logs).

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// Decodes an S3 event notification key: form encoding, so `+` is a space, then percent-escapes
/// (`%2B` is a literal `+`). `None` when the result is not UTF-8.
pub fn form_decode(key: &str) -> Option<String> {
    let spaced: Cow<'_, str> =
        if key.contains('+') { Cow::Owned(key.replace('+', " ")) } else { Cow::Borrowed(key) };
    percent_decode(&spaced)
}

/// Decodes plain percent-encoding (S3 Batch Operations manifests): `+` stays `+`. `None` when
/// the result is not UTF-8.
pub fn percent_decode(key: &str) -> Option<String> {
    percent_decode_str(key).decode_utf8().ok().map(Cow::into_owned)
}

/// What the key of an ALB access-log object says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogKey {
    /// The 12-digit account the load balancer belongs to.
    pub account: String,
    /// Its region.
    pub region: String,
    /// `app/<name>/<id>`.
    pub load_balancer: String,
}

/// Whether to read an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An ALB access log.
    AccessLog(LogKey),
    /// Anything else, with the reason it is not read.
    Skip(String),
}

/// Sorts a decoded key: an ALB access log is
/// `.../elasticloadbalancing/.../<12 digits>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_<ip>_<random>.log.gz`.
///
/// The name rules are [`alb_lines::access_log_name`]'s (the one place that decides, shared
/// with the CLI); the Lambda also insists on the delivery directory and on gzip.
pub fn classify(key: &str) -> KeyKind {
    match alb_lines::access_log_name(key) {
        Err(reason) => KeyKind::Skip(reason.to_string()),
        Ok(name) if !name.gzip => {
            KeyKind::Skip("not gzip (.log, not .log.gz): not an ALB access-log object".into())
        }
        Ok(_) if !key.contains("/elasticloadbalancing/") => {
            KeyKind::Skip("not under /elasticloadbalancing/: not an ELB log delivery".into())
        }
        Ok(name) => KeyKind::AccessLog(LogKey {
            account: name.account.to_string(),
            region: name.region.to_string(),
            load_balancer: name.load_balancer(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_2x9ab3cd.log.gz";

    #[test]
    fn form_decoding_turns_plus_into_space_before_percent_escapes() {
        assert_eq!(form_decode("my+logs/a.log.gz").as_deref(), Some("my logs/a.log.gz"));
        assert_eq!(form_decode("a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(form_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(form_decode("red+flower%2B%2B.jpg").as_deref(), Some("red flower++.jpg"));
        assert_eq!(form_decode(KEY).as_deref(), Some(KEY));
        assert_eq!(form_decode("bad%FF"), None);
    }

    #[test]
    fn percent_decoding_keeps_plus() {
        assert_eq!(percent_decode("a+b%20c%2B").as_deref(), Some("a+b c+"));
    }

    #[test]
    fn alb_access_log_keys_are_accepted_with_or_without_prefix() {
        let expected = LogKey {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            load_balancer: "app/shop-web/50dc6c495c0c9188".into(),
        };
        assert_eq!(classify(KEY), KeyKind::AccessLog(expected.clone()));
        assert_eq!(classify(&format!("my logs/{KEY}")), KeyKind::AccessLog(expected));
        let aws_example = "logging-prefix/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2022/05/01/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20220215T2340Z_172.160.001.192_20sg8hgm.log.gz";
        assert!(matches!(classify(aws_example), KeyKind::AccessLog(k) if k.region == "us-east-2"));
    }

    #[test]
    fn other_objects_are_skipped_with_a_reason() {
        let dir = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27";
        let cases = [
            ("AWSLogs/123456789012/ELBAccessLogTestFile".to_string(), "ELBAccessLogTestFile"),
            (format!("{dir}/conn_log_123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_x.log.gz"), "connection log"),
            (format!("{dir}/conn_log.123456789012_elasticloadbalancing_us-east-1_app.a.1_20261127T0935Z_10.0.1.5_x.log.gz"), "connection log"),
            (format!("{dir}/health_check_log_123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_x.log.gz"), "health-check log"),
            (format!("{dir}/123456789012_elasticloadbalancing_us-east-1_net.shop-nlb.50dc6c495c0c9188_20261127T0935Z_x.log.gz"), "Network Load Balancer"),
            (format!("{dir}/123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_x.log"), "not gzip"),
            (format!("{dir}/1234_elasticloadbalancing_us-east-1_app.shop-web.1_20261127T0935Z_10.0.1.5_x.log.gz"), "layout"),
            (format!("{dir}/my-elb_20261127T0935Z_10.0.1.5.log"), "layout"),
            ("uploads/123456789012_elasticloadbalancing_us-east-1_app.a.1_20261127T0935Z_10.0.1.5_x.log.gz".to_string(), "not under"),
        ];
        for (key, reason) in cases {
            match classify(&key) {
                KeyKind::Skip(why) => assert!(why.contains(reason), "{key}: {why}"),
                KeyKind::AccessLog(k) => panic!("{key} accepted as {k:?}"),
            }
        }
    }
}
