//! Which objects a scan reads: files as given, directories walked for access-log objects only,
//! `-` for standard input.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One object to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// Expands the command-line paths. Files named explicitly are always read; inside directories
/// only ALB access-log objects are (the test file, connection and health-check logs are not),
/// in a stable order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            walk(path, &mut inputs)?;
        } else if path.exists() {
            inputs.push(Input::File(path.clone()));
        } else {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("{}: cannot list directory", dir.display()))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, inputs)?;
        } else if path.to_str().is_some_and(|name| alb_lines::access_log_name(name).is_ok()) {
            inputs.push(Input::File(path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_yield_only_access_logs_in_order() {
        let dir = std::env::temp_dir().join(format!("alb-keepalive-inputs-{}", std::process::id()));
        let day = dir.join("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27");
        std::fs::create_dir_all(&day).unwrap();
        let base = "123456789012_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_abc";
        for name in [
            format!("{base}.log.gz"),
            format!("{base}x.log"),
            format!("conn_log_{base}.log.gz"),
            format!("health_check_log_{base}.log.gz"),
            "README.txt".to_string(),
        ] {
            std::fs::write(day.join(name), b"").unwrap();
        }
        std::fs::write(dir.join("AWSLogs/123456789012/ELBAccessLogTestFile"), b"").unwrap();
        let found = expand(std::slice::from_ref(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|i| match i {
                Input::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
                Input::Stdin => unreachable!(),
            })
            .collect();
        assert_eq!(names, [format!("{base}.log.gz"), format!("{base}x.log")]);
    }

    #[test]
    fn dash_is_stdin_and_missing_paths_are_errors() {
        assert_eq!(expand(&[PathBuf::from("-")]).unwrap(), [Input::Stdin]);
        let err = expand(&[PathBuf::from("/definitely/not/here.log")]).unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here.log"));
    }
}
