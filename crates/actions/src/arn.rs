//! Names of load balancers and target groups: from the `app/<name>/<id>` of a log line to the
//! ARN the APIs want, and back. Pure string work, no AWS calls.

/// The ARN partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>` for
/// the `app/<name>/<id>` of a log line.
pub fn load_balancer_arn(region: &str, account: &str, load_balancer: &str) -> String {
    format!(
        "arn:{}:elasticloadbalancing:{region}:{account}:loadbalancer/{load_balancer}",
        partition_for_region(region)
    )
}

/// The `app/<name>/<id>` part of a load balancer ARN, or `None` if `arn` is not one.
pub fn load_balancer_id(arn: &str) -> Option<&str> {
    let (head, resource) = arn.split_once(":loadbalancer/")?;
    if !head.starts_with("arn:") || !head.contains(":elasticloadbalancing:") {
        return None;
    }
    is_app_id(resource).then_some(resource)
}

/// Whether `s` has the shape `app/<name>/<id>`.
pub fn is_app_id(s: &str) -> bool {
    let mut parts = s.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("app"), Some(name), Some(id), None) if !name.is_empty() && !id.is_empty()
    )
}

/// The `<name>` of `app/<name>/<id>` or of a load balancer ARN.
pub fn load_balancer_name(id_or_arn: &str) -> Option<&str> {
    let id = load_balancer_id(id_or_arn).unwrap_or(id_or_arn);
    is_app_id(id).then(|| id.split('/').nth(1)).flatten()
}

/// The `<name>` in `arn:...:targetgroup/<name>/<id>`.
pub fn target_group_name(arn: &str) -> Option<&str> {
    let (_, resource) = arn.split_once(":targetgroup/")?;
    let (name, id) = resource.split_once('/')?;
    (!name.is_empty() && !id.is_empty() && !id.contains('/')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition_for_region("us-east-1"), "aws");
        assert_eq!(partition_for_region("eu-west-3"), "aws");
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn load_balancer_arn_is_built_from_region_account_and_log_id() {
        assert_eq!(
            load_balancer_arn("us-east-1", "123456789012", "app/shop-web/50dc6c495c0c9188"),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188"
        );
        assert_eq!(
            load_balancer_arn("cn-north-1", "123456789012", "app/a/1"),
            "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/a/1"
        );
        assert_eq!(
            load_balancer_arn("us-gov-east-1", "123456789012", "app/a/1"),
            "arn:aws-us-gov:elasticloadbalancing:us-gov-east-1:123456789012:loadbalancer/app/a/1"
        );
    }

    #[test]
    fn load_balancer_id_and_name_come_back_out_of_an_arn() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";
        assert_eq!(load_balancer_id(arn), Some("app/shop-web/50dc6c495c0c9188"));
        assert_eq!(load_balancer_name(arn), Some("shop-web"));
        assert_eq!(load_balancer_name("app/shop-web/50dc6c495c0c9188"), Some("shop-web"));
        assert_eq!(
            load_balancer_id("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/n/1"),
            None
        );
        assert_eq!(load_balancer_id("app/shop-web/1"), None);
        assert_eq!(load_balancer_name("shop-web"), None);
    }

    #[test]
    fn target_group_name_is_the_middle_of_the_resource() {
        assert_eq!(
            target_group_name(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067"
            ),
            Some("shop-web-tg")
        );
        assert_eq!(
            target_group_name("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x"),
            None
        );
        assert_eq!(target_group_name("shop-web-tg"), None);
    }
}
