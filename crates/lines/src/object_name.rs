//! Which objects are ALB access logs, read from their names (reference section 2).
//!
//! The same bucket and prefix also receive the `ELBAccessLogTestFile`, connection logs,
//! health-check logs and NLB logs. Health-check lines even start with `http`, so only the object
//! name tells them apart: this module is the one place that decides.

/// What an access-log object name says: `<account>_elasticloadbalancing_<region>_app.<name>.<id>_
/// <end>_<node ip>_<random>.log.gz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessLogName<'a> {
    /// The 12-digit account that owns the load balancer.
    pub account: &'a str,
    /// The load balancer's region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The load balancer's name.
    pub load_balancer_name: &'a str,
    /// The load balancer's id (the last part of `app/<name>/<id>`).
    pub load_balancer_id: &'a str,
    /// End of the 5-minute interval, `yyyymmddThhmmZ`.
    pub end_time: &'a str,
    /// The load-balancer node that wrote the object.
    pub node_ip: &'a str,
    /// Whether the name ends in `.gz`.
    pub gzip: bool,
}

impl AccessLogName<'_> {
    /// The `elb` field value of this load balancer's entries: `app/<name>/<id>`.
    pub fn load_balancer(&self) -> String {
        format!("app/{}/{}", self.load_balancer_name, self.load_balancer_id)
    }
}

/// Why an object is not read as an ALB access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// The object ELB writes once to check it may write to the bucket.
    #[error("ELBAccessLogTestFile written when logging is enabled")]
    TestFile,
    /// An ALB connection log (`conn_log...`).
    #[error("connection log, not an access log")]
    ConnectionLog,
    /// An ALB health-check log (`health_check_log...`).
    #[error("health-check log, not an access log")]
    HealthCheckLog,
    /// A Network Load Balancer log (`_net.`).
    #[error("Network Load Balancer log")]
    NetworkLoadBalancer,
    /// The name does not follow the access-log layout.
    #[error(
        "name does not follow the ALB access-log layout <account>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_<ip>_<random>.log.gz"
    )]
    NotAnAccessLog,
}

/// Reads an object key or file path; only the last path segment matters.
///
/// # Errors
///
/// The [`SkipReason`] when the object is not an ALB access log.
///
/// ```
/// use alb_lines::{access_log_name, SkipReason};
///
/// let key = "logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/\
///            123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_2x9ab3cd.log.gz";
/// let name = access_log_name(key)?;
/// assert_eq!(name.load_balancer(), "app/shop-web/50dc6c495c0c9188");
/// assert_eq!((name.account, name.region), ("123456789012", "us-east-1"));
/// assert_eq!(access_log_name("logs/AWSLogs/123456789012/ELBAccessLogTestFile"), Err(SkipReason::TestFile));
/// # Ok::<(), SkipReason>(())
/// ```
pub fn access_log_name(path: &str) -> Result<AccessLogName<'_>, SkipReason> {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if base == "ELBAccessLogTestFile" {
        return Err(SkipReason::TestFile);
    }
    if base.starts_with("conn_log") {
        return Err(SkipReason::ConnectionLog);
    }
    if base.starts_with("health_check_log") {
        return Err(SkipReason::HealthCheckLog);
    }
    if base.contains("_net.") {
        return Err(SkipReason::NetworkLoadBalancer);
    }
    let (stem, gzip) = match base.strip_suffix(".log.gz") {
        Some(stem) => (stem, true),
        None => (base.strip_suffix(".log").ok_or(SkipReason::NotAnAccessLog)?, false),
    };
    let mut parts = stem.split('_');
    let mut next =
        || parts.next().filter(|part| !part.is_empty()).ok_or(SkipReason::NotAnAccessLog);
    let account = next()?;
    let service = next()?;
    let region = next()?;
    let load_balancer = next()?;
    let end_time = next()?;
    let node_ip = next()?;
    let _random = next()?;
    if account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || service != "elasticloadbalancing"
    {
        return Err(SkipReason::NotAnAccessLog);
    }
    let mut lb_parts = load_balancer.split('.');
    let (Some("app"), Some(name), Some(id), None) =
        (lb_parts.next(), lb_parts.next(), lb_parts.next(), lb_parts.next())
    else {
        return Err(SkipReason::NotAnAccessLog);
    };
    if name.is_empty() || id.is_empty() {
        return Err(SkipReason::NotAnAccessLog);
    }
    Ok(AccessLogName {
        account,
        region,
        load_balancer_name: name,
        load_balancer_id: id,
        end_time,
        node_ip,
        gzip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20220215T2340Z_172.160.001.192_20sg8hgm.log.gz";

    #[test]
    fn aws_example_name_is_read() {
        let key =
            format!("prefix/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2022/05/01/{BASE}");
        let name = access_log_name(&key).unwrap();
        assert_eq!(name.account, "123456789012");
        assert_eq!(name.region, "us-east-2");
        assert_eq!(name.load_balancer(), "app/my-loadbalancer/1234567890abcdef");
        assert_eq!(name.end_time, "20220215T2340Z");
        assert_eq!(name.node_ip, "172.160.001.192");
        assert!(name.gzip);
        let plain = access_log_name(BASE.trim_end_matches(".gz")).unwrap();
        assert!(!plain.gzip);
    }

    #[test]
    fn other_objects_in_the_log_prefix_are_skipped_with_a_reason() {
        for (name, reason) in [
            ("AWSLogs/123456789012/ELBAccessLogTestFile", SkipReason::TestFile),
            (&*format!("x/conn_log_{BASE}"), SkipReason::ConnectionLog),
            (&*format!("x/health_check_log_{BASE}"), SkipReason::HealthCheckLog),
            (&*BASE.replace("_app.", "_net."), SkipReason::NetworkLoadBalancer),
            ("x/my-classic-elb_20220215T2340Z_1.2.3.4_abc.log", SkipReason::NotAnAccessLog),
            (&*BASE.replace(".log.gz", ".txt"), SkipReason::NotAnAccessLog),
            (&*BASE.replace("123456789012_", "1234_"), SkipReason::NotAnAccessLog),
            ("notes.log", SkipReason::NotAnAccessLog),
            ("", SkipReason::NotAnAccessLog),
        ] {
            assert_eq!(access_log_name(name), Err(reason), "{name}");
        }
    }
}
