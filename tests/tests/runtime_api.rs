//! The built Lambda binaries, served through the Lambda Runtime API by `cargo lambda watch` and
//! invoked with `cargo lambda invoke`, do the main job against moto: the race is found, dry-run
//! writes nothing, apply writes 65000/66000, and a second apply changes nothing.

use alb_keepalive_tests::local_run;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn binaries_find_the_race_and_fix_it_through_the_runtime_api() {
    let mut narration = Vec::new();
    let run = local_run::run(&mut narration)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&narration)));
    let text = String::from_utf8_lossy(&narration);

    let findings = run.findings["findings"].as_array().expect("findings array");
    assert_eq!(findings.len(), 1, "{text}");
    assert_eq!(findings[0]["load_balancer"], Value::from(run.world.lb_id.clone()));
    assert_eq!(findings[0]["load_balancer_arn"], Value::from(run.world.lb_arn.clone()));
    assert_eq!(findings[0]["keepalive_502"], Value::from(run.world.keepalive_502));

    assert_eq!(run.after_dry_run, [None, None], "dry-run wrote a parameter:\n{text}");
    let dry_actions = run.dry_run["load_balancers"][0]["actions"].as_array().expect("actions");
    assert_eq!(dry_actions.len(), 2, "{text}");
    for action in dry_actions {
        assert_eq!(action["applied"], false);
        assert_eq!(action["skipped"], "dry-run");
    }

    let values =
        |after: &[Option<(String, i64)>; 2]| after.clone().map(|p| p.map(|(value, _)| value));
    assert_eq!(
        values(&run.after_apply),
        [Some("65000".to_string()), Some("66000".to_string())],
        "{text}"
    );
    assert!(
        run.apply["load_balancers"][0]["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .all(|a| a["applied"] == true)
    );

    assert_eq!(
        run.after_apply_again, run.after_apply,
        "the second apply made new parameter versions"
    );
    assert!(
        run.apply_again["load_balancers"][0]["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .all(|a| a["applied"] == false)
    );
    assert_eq!(run.world.idle_timeout().await, 60);
    assert!(text.contains("APPLIED"), "{text}");
}
