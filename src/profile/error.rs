//! Profile errors, printed the way compilers and ripgrep print theirs
//! (`file:line:col: key: message`, one per line) so editors and terminals can jump to them.
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where a bad value came from: the file, or a `--set` override (which has no line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File,
    /// The raw `key=value` argument, shown in place of `file:line:col`.
    Override(String),
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `train.optimizer.lr`; empty for the document itself.
    pub key: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Says what is wrong and what is allowed.
    pub message: String,
    pub origin: Origin,
}

impl FieldError {
    /// The full line for a profile at `path`: `path:line:col: key: message`.
    pub fn render(&self, path: &Path) -> String {
        let place = match &self.origin {
            Origin::Override(arg) => format!("--set {arg}"),
            Origin::File => format!("{}{}", path.display(), position(self.line, self.column)),
        };
        if self.key.is_empty() {
            format!("{place}: {}", self.message)
        } else {
            format!("{place}: {}: {}", self.key, self.message)
        }
    }
}

/// Without the file name, which the error does not know: `line:col: key: message`.
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.render(Path::new(""));
        let text = text.strip_prefix(':').unwrap_or(&text);
        f.write_str(text.strip_prefix(": ").unwrap_or(text))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{}: cannot read the profile: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}{}: invalid YAML: {message}", path.display(), position(*line, *column))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// Every problem found, not just the first, so one edit fixes them all.
    #[error("{}", render_all(path, errors))]
    Invalid {
        path: PathBuf,
        errors: Vec<FieldError>,
    },
    #[error("--set {arg}: {message}")]
    BadOverride { arg: String, message: String },
}

/// `:line:col`, `:line` or nothing.
fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn render_all(path: &Path, errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.render(path))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, line: Option<usize>, origin: Origin) -> FieldError {
        FieldError {
            key: key.into(),
            line,
            column: line.map(|_| 5),
            message: "must be greater than 0 (got 0)".into(),
            origin,
        }
    }

    #[test]
    fn invalid_prints_one_error_a_line() {
        let e = ProfileError::Invalid {
            path: "profiles/demo.yaml".into(),
            errors: vec![
                field("train.optimizer.lr", Some(12), Origin::File),
                field("rifle.cycles", None, Origin::File),
                field(
                    "rifle.period_epochs",
                    None,
                    Origin::Override("rifle.period_epochs=0".into()),
                ),
            ],
        };
        assert_eq!(
            e.to_string(),
            "profiles/demo.yaml:12:5: train.optimizer.lr: must be greater than 0 (got 0)\n\
             profiles/demo.yaml: rifle.cycles: must be greater than 0 (got 0)\n\
             --set rifle.period_epochs=0: rifle.period_epochs: must be greater than 0 (got 0)"
        );
    }

    #[test]
    fn other_variants_read_like_compiler_errors() {
        let e = ProfileError::Syntax {
            path: "x.yaml".into(),
            line: Some(3),
            column: Some(9),
            message: "did not find expected ',' or ']'".into(),
        };
        assert_eq!(
            e.to_string(),
            "x.yaml:3:9: invalid YAML: did not find expected ',' or ']'"
        );
        let e = ProfileError::BadOverride {
            arg: "train.epochs".into(),
            message: "expected KEY=VALUE".into(),
        };
        assert_eq!(e.to_string(), "--set train.epochs: expected KEY=VALUE");
        let f = field("train.epochs", Some(2), Origin::File);
        assert_eq!(
            f.to_string(),
            "2:5: train.epochs: must be greater than 0 (got 0)"
        );
    }
}
