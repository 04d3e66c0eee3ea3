//! `local-run`: the main job on this machine, narrated (see `alb_keepalive_tests::local_run`).
//! Run it through `scripts/local-run`, which installs moto and cargo-lambda first.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut stdout = std::io::stdout();
    match alb_keepalive_tests::local_run::run(&mut stdout).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("local-run: {error}");
            ExitCode::FAILURE
        }
    }
}
