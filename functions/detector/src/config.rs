//! The detector's configuration, read from the environment once at cold start. Names match
//! `template.yaml`; an unset or empty variable takes the documented default, an invalid one is
//! a startup error naming the variable.

/// `MAX_UNCOMPRESSED_BYTES` default: 8 GiB.
pub const DEFAULT_MAX_UNCOMPRESSED_BYTES: u64 = 8 << 30;

/// How the detector reads and judges objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `MAX_UNCOMPRESSED_BYTES`: stop reading an object after this many decompressed bytes.
    pub max_uncompressed_bytes: u64,
    /// `RACE_THRESHOLD`: keep-alive race 502s in one object that make a finding (at least 1).
    pub race_threshold: u64,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the EMF metrics (`ALBKeepAlive`).
    pub metrics_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_uncompressed_bytes: DEFAULT_MAX_UNCOMPRESSED_BYTES,
            race_threshold: 1,
            metrics_namespace: alb_actions::metrics::DEFAULT_NAMESPACE.to_string(),
        }
    }
}

/// A variable with a value the detector cannot use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is expected instead.
    pub reason: &'static str,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    ///
    /// A variable that is set but invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    ///
    /// A variable that is set but invalid.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Config::default();
        Ok(Config {
            max_uncompressed_bytes: positive(
                &lookup,
                "MAX_UNCOMPRESSED_BYTES",
                defaults.max_uncompressed_bytes,
            )?,
            race_threshold: positive(&lookup, "RACE_THRESHOLD", defaults.race_threshold)?,
            metrics_namespace: match lookup("METRICS_NAMESPACE").map(|v| v.trim().to_string()) {
                Some(namespace) if !namespace.is_empty() => {
                    // CloudWatch: 1-255 characters, no leading colon; ASCII keeps it simple.
                    let valid = namespace.len() <= 255
                        && !namespace.starts_with(':')
                        && namespace.chars().all(|c| {
                            c.is_ascii_alphanumeric()
                                || matches!(c, '.' | '-' | '_' | '/' | '#' | ':' | ' ')
                        });
                    if !valid {
                        return Err(ConfigError {
                            name: "METRICS_NAMESPACE",
                            value: namespace,
                            reason: "expected a CloudWatch namespace (letters, digits, . - _ / # : and spaces, at most 255)",
                        });
                    }
                    namespace
                }
                _ => defaults.metrics_namespace,
            },
        })
    }

    /// The reading and detection options for one object: gzip required, the size cap, the
    /// race threshold.
    pub fn options(&self) -> alb_findings::Options {
        let mut options = alb_findings::Options::default();
        options.read.compression = alb_findings::Compression::RequireGzip;
        options.read.max_uncompressed_bytes = Some(self.max_uncompressed_bytes);
        options.detect.race_threshold = self.race_threshold;
        options
    }
}

fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(default),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError { name, value, reason: "expected a whole number of at least 1" }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn unset_or_empty_variables_take_the_defaults() {
        assert_eq!(Config::from_lookup(lookup(&[])), Ok(Config::default()));
        let config = Config::from_lookup(lookup(&[("RACE_THRESHOLD", " ")])).unwrap();
        assert_eq!(config.race_threshold, 1);
        assert_eq!(config.max_uncompressed_bytes, 8 * 1024 * 1024 * 1024);
    }

    #[test]
    fn set_variables_are_used() {
        let config = Config::from_lookup(lookup(&[
            ("MAX_UNCOMPRESSED_BYTES", "1048576"),
            ("RACE_THRESHOLD", "3"),
        ]))
        .unwrap();
        assert_eq!(
            config,
            Config {
                max_uncompressed_bytes: 1_048_576,
                race_threshold: 3,
                metrics_namespace: "ALBKeepAlive".into()
            }
        );
        let named = Config::from_lookup(lookup(&[("METRICS_NAMESPACE", "Shop/ALB")])).unwrap();
        assert_eq!(named.metrics_namespace, "Shop/ALB");
        let options = config.options();
        assert_eq!(options.read.max_uncompressed_bytes, Some(1_048_576));
        assert_eq!(options.read.compression, alb_findings::Compression::RequireGzip);
        assert_eq!(options.detect.race_threshold, 3);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (name, value) in [
            ("MAX_UNCOMPRESSED_BYTES", "8GiB"),
            ("RACE_THRESHOLD", "0"),
            ("RACE_THRESHOLD", "-1"),
            ("METRICS_NAMESPACE", ":bad"),
            ("METRICS_NAMESPACE", "é"),
        ] {
            let error = Config::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert_eq!(error.name, name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
