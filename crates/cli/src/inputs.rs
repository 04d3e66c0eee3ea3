//! Which objects a scan reads: files as given, directories walked for access-log objects only,
//! `-` for standard input, `s3://bucket/prefix/` listed (see [`crate::s3`]).
//!
//! A directory walk reads regular files only (a FIFO with a log-like name would block forever)
//! and enters every directory once, even through symbolic links (`self -> .` would count each
//! object again, `up -> ..` would never end). Whatever it passes over is counted as skipped,
//! with the reason.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::filter::NameFilter;

/// One object to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
    S3(crate::s3::ObjectRef),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(path) => path.display().to_string(),
            Input::S3(object) => object.url(),
        }
    }
}

/// An object or file passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// What to scan and what was passed over.
#[derive(Debug, Default)]
pub struct Inputs {
    pub objects: Vec<Input>,
    pub skipped: Vec<Skipped>,
}

/// Expands the command-line paths. Files named explicitly are always read; inside directories
/// only ALB access-log objects are (the test file, connection and health-check logs are not),
/// in a stable order. S3 URLs are left to [`crate::s3`] (returned in `remote`).
pub fn expand(
    paths: &[PathBuf],
    filter: &NameFilter,
) -> Result<(Inputs, Vec<crate::s3::Location>)> {
    let mut inputs = Inputs::default();
    let mut remote = Vec::new();
    let mut visited = Visited::default();
    let mut walk = |path: &Path, inputs: &mut Inputs| walk(path, inputs, &mut visited, filter);
    for path in paths {
        if let Some(location) = crate::s3::Location::parse(path)? {
            remote.push(location);
        } else if path.as_os_str() == "-" {
            inputs.objects.push(Input::Stdin);
        } else if path.is_dir() {
            walk(path, &mut inputs)?;
        } else if path.exists() {
            inputs.objects.push(Input::File(path.clone()));
        } else {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    Ok((inputs, remote))
}

/// Directories and files already reached, by device and inode, so links cannot loop or repeat.
#[derive(Default)]
struct Visited(HashSet<(u64, u64)>);

impl Visited {
    /// True the first time `metadata`'s file is seen.
    fn first_time(&mut self, metadata: &std::fs::Metadata) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            self.0.insert((metadata.dev(), metadata.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            true
        }
    }
}

fn walk(dir: &Path, inputs: &mut Inputs, visited: &mut Visited, filter: &NameFilter) -> Result<()> {
    let metadata =
        std::fs::metadata(dir).with_context(|| format!("{}: cannot read", dir.display()))?;
    if !visited.first_time(&metadata) {
        inputs.skipped.push(Skipped {
            name: dir.display().to_string(),
            reason: "directory already scanned (a link back into the tree)".to_string(),
        });
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("{}: cannot list directory", dir.display()))?;
    entries.sort();
    for path in entries {
        let skip = |inputs: &mut Inputs, reason: String| {
            inputs.skipped.push(Skipped { name: path.display().to_string(), reason });
        };
        // Follows links: a link to a log file is read, a link to a directory is entered once.
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) => {
                skip(inputs, format!("cannot read: {error}"));
                continue;
            }
        };
        if metadata.is_dir() {
            walk(&path, inputs, visited, filter)?;
            continue;
        }
        let name = match path.to_str().map(alb_lines::access_log_name) {
            None => Err("name is not UTF-8".to_string()),
            Some(Err(reason)) => Err(reason.to_string()),
            Some(Ok(name)) => filter.check(&name).and_then(|()| {
                if !metadata.is_file() {
                    Err("not a regular file (FIFO, socket or device)".to_string())
                } else if !visited.first_time(&metadata) {
                    Err("same file already scanned under another name".to_string())
                } else {
                    Ok(())
                }
            }),
        };
        match name {
            Ok(()) => inputs.objects.push(Input::File(path)),
            Err(reason) => skip(inputs, reason),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "123456789012_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_abc";

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("alb-keepalive-inputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn file_names(inputs: &Inputs) -> Vec<String> {
        inputs
            .objects
            .iter()
            .map(|i| match i {
                Input::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn directories_yield_only_access_logs_in_order() {
        let dir = temp("order");
        let day = dir.join("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27");
        std::fs::create_dir_all(&day).unwrap();
        for name in [
            format!("{BASE}.log.gz"),
            format!("{BASE}x.log"),
            format!("conn_log_{BASE}.log.gz"),
            format!("health_check_log_{BASE}.log.gz"),
            "README.txt".to_string(),
        ] {
            std::fs::write(day.join(name), b"").unwrap();
        }
        std::fs::write(dir.join("AWSLogs/123456789012/ELBAccessLogTestFile"), b"").unwrap();
        let (found, remote) = expand(std::slice::from_ref(&dir), &NameFilter::default()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(remote.is_empty());
        assert_eq!(file_names(&found), [format!("{BASE}.log.gz"), format!("{BASE}x.log")]);
        let reasons: Vec<&str> = found.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(found.skipped.len(), 4, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("connection log")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("ELBAccessLogTestFile")), "{reasons:?}");
        assert!(found.skipped.iter().any(|s| s.name.ends_with("README.txt")));
    }

    #[test]
    fn dash_is_stdin_and_missing_paths_are_errors() {
        let (inputs, _) = expand(&[PathBuf::from("-")], &NameFilter::default()).unwrap();
        assert_eq!(inputs.objects, [Input::Stdin]);
        let err = expand(&[PathBuf::from("/definitely/not/here.log")], &NameFilter::default())
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here.log"));
    }

    #[cfg(unix)]
    #[test]
    fn links_into_loops_are_entered_once_and_fifos_are_not_read() {
        let dir = temp("links");
        let sub = dir.join("a");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{BASE}.log.gz")), b"").unwrap();
        std::os::unix::fs::symlink(".", sub.join("self")).unwrap();
        std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
        std::os::unix::fs::symlink(
            sub.join(format!("{BASE}.log.gz")),
            sub.join(format!("{BASE}-again.log.gz").replace("_abc-again", "_abd")),
        )
        .unwrap();
        let fifo = sub.join(format!("{BASE}.log").replace("_abc", "_fifo"));
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let (found, _) = expand(std::slice::from_ref(&dir), &NameFilter::default()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(file_names(&found), [format!("{BASE}.log.gz")]);
        let reasons: Vec<String> =
            found.skipped.iter().map(|s| format!("{}: {}", s.name, s.reason)).collect();
        assert_eq!(found.skipped.len(), 4, "{reasons:#?}");
        assert!(
            reasons.iter().any(|r| r.contains("_fifo.log: not a regular file")),
            "{reasons:#?}"
        );
        assert!(reasons.iter().any(|r| r.contains("/self: directory already")), "{reasons:#?}");
        assert!(reasons.iter().any(|r| r.contains("/up: directory already")), "{reasons:#?}");
        assert!(reasons.iter().any(|r| r.contains("_abd.log.gz: same file")), "{reasons:#?}");
    }
}
