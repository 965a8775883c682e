//! Who said what: each key's value comes from the file (with a line) or from a `--set`
//! override (without one). Errors are attributed here so that the user is sent to the
//! place that actually has to change.
use super::error::{FieldError, Origin};
use super::locate::{self, KeyEntry, Pos};
use super::ProfileError;
use serde_norway::{Mapping, Value};

/// One parsed `--set key.path=value`.
#[derive(Debug, Clone)]
pub(crate) struct Override {
    /// The argument as given, shown in its errors.
    pub raw: String,
    /// Dotted key path, segments trimmed.
    pub key: String,
    /// The value, read as YAML so `2`, `true`, `resnet18` and `[0.9, 0.99]` all work.
    pub value: Value,
}

impl Override {
    pub fn parse(arg: &str) -> Result<Self, ProfileError> {
        let bad = |message: String| ProfileError::BadOverride {
            arg: arg.to_string(),
            message,
        };
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE, e.g. --set train.optimizer.lr=0.003".into()))?;
        let segments: Vec<&str> = key.split('.').map(str::trim).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(bad(format!(
                "`{}` is not a key path; write its sections joined by dots, e.g. train.optimizer.lr",
                key.trim()
            )));
        }
        let value = serde_norway::from_str::<Value>(value.trim()).map_err(|e| {
            bad(format!(
                "the value is not valid YAML ({}); quote it if it is text",
                strip_marks(&e.to_string())
            ))
        })?;
        Ok(Self {
            raw: arg.to_string(),
            key: segments.join("."),
            value,
        })
    }

    /// Sets the key in `root`, creating the sections on the way when absent.
    pub fn apply(&self, root: &mut Value) -> Result<(), ProfileError> {
        let segments: Vec<&str> = self.key.split('.').collect();
        let mut node = root;
        for (depth, segment) in segments.iter().enumerate() {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(map) = node else {
                return Err(ProfileError::BadOverride {
                    arg: self.raw.clone(),
                    message: format!(
                        "`{}` holds {}, not a section, so it has no key `{segment}`",
                        segments[..depth].join("."),
                        describe(node)
                    ),
                });
            };
            let key = Value::String((*segment).to_string());
            if depth + 1 == segments.len() {
                map.insert(key, self.value.clone());
                return Ok(());
            }
            node = map.entry(key).or_insert(Value::Null);
        }
        Ok(())
    }
}

/// The file's key positions and the overrides, to attribute errors.
pub(crate) struct Sources<'a> {
    entries: Vec<KeyEntry>,
    overrides: &'a [Override],
}

impl<'a> Sources<'a> {
    pub fn new(text: &str, overrides: &'a [Override]) -> Self {
        Self {
            entries: locate::index(text),
            overrides,
        }
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// The last override that set `key`, a section holding it, or a key below it.
    pub fn override_for(&self, key: &str) -> Option<(usize, &Override)> {
        self.overrides
            .iter()
            .enumerate()
            .rev()
            .find(|(_, o)| related(&o.key, key))
    }

    /// Where `key` is in the file, or its nearest ancestor that is.
    fn position(&self, key: &str, prefer_value: bool) -> Option<Pos> {
        let mut key = key;
        loop {
            if let Some(e) = self.entry(key) {
                return Some(if prefer_value {
                    e.value.unwrap_or(e.key)
                } else {
                    e.key
                });
            }
            key = &key[..key.rfind('.')?];
        }
    }

    fn entry(&self, key: &str) -> Option<&KeyEntry> {
        self.entries.iter().find(|e| e.path == key)
    }

    fn error(&self, key: &str, message: String, prefer_value: bool) -> FieldError {
        let (origin, pos) = match self.override_for(key) {
            Some((_, o)) => (Origin::Override(o.raw.clone()), None),
            None => (Origin::File, self.position(key, prefer_value)),
        };
        FieldError {
            key: key.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
            origin,
        }
    }

    /// An error about the key itself (unknown, missing, out of range): points at the key.
    pub fn key_error(&self, key: &str, message: impl Into<String>) -> FieldError {
        self.error(key, message.into(), false)
    }

    /// An error about the value's type: points at the value, where the fix goes.
    pub fn value_error(&self, key: &str, message: impl Into<String>) -> FieldError {
        self.error(key, message.into(), true)
    }

    /// Orders two keys by where the user gave them: file before overrides, then by line
    /// or by override order. Used to blame the second of two exclusive keys.
    pub fn given_order(&self, key: &str) -> (usize, usize) {
        match self.override_for(key) {
            Some((i, _)) => (1, i),
            None => (0, self.position(key, false).map_or(usize::MAX, |p| p.line)),
        }
    }
}

/// Same key, or one is a section holding the other.
fn related(a: &str, b: &str) -> bool {
    let within = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    within(a, b) || within(b, a)
}

/// A short, human description of a YAML value, for "expected X, got Y".
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(items) => match items.len() {
            1 => "a list of 1 item".into(),
            n => format!("a list of {n} items"),
        },
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// Removes serde_norway's ` at line L column C` / ` at position N`: our own prefix says where.
pub(crate) fn strip_marks(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let skip = mark_len(after);
        if skip == 0 {
            out.push_str(" at ");
        }
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// Length of `line L column C` or `position N` at the start of `s`, or 0.
fn mark_len(s: &str) -> usize {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    if let Some(r) = s.strip_prefix("line ") {
        let l = digits(r);
        if l > 0 {
            if let Some(r2) = r[l..].strip_prefix(" column ") {
                let c = digits(r2);
                if c > 0 {
                    return "line ".len() + l + " column ".len() + c;
                }
            }
        }
    } else if let Some(r) = s.strip_prefix("position ") {
        let n = digits(r);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// The closest of `candidates` to a misspelt `got`, when close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(got: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let got_lower = got.to_lowercase();
    // The first of equally close candidates wins: schema order puts the usual one first.
    let scored = candidates
        .iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&got_lower, &c.to_lowercase()),
                *c,
            )
        })
        .reduce(|best, next| if next.0 > best.0 { next } else { best })?;
    if scored.0 >= 0.6 {
        return Some(scored.1);
    }
    // A truncated name (`period` for `period_epochs`) is far by edit distance but obvious.
    if got_lower.len() >= 3 {
        return candidates
            .iter()
            .find(|c| c.to_lowercase().starts_with(&got_lower))
            .copied();
    }
    None
}

/// `unknown key `x`; did you mean `y`? (allowed: a, b, c)`.
pub(crate) fn unknown_message(what: &str, got: &str, allowed: &[&str]) -> String {
    let mut message = format!("unknown {what} `{got}`");
    if let Some(s) = did_you_mean(got, allowed) {
        message.push_str(&format!("; did you mean `{s}`?"));
    }
    if allowed.is_empty() {
        message.push_str(" (this section takes no keys)");
    } else {
        message.push_str(&format!(" (allowed: {})", allowed.join(", ")));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(arg: &str) -> Override {
        Override::parse(arg).unwrap()
    }

    #[test]
    fn override_values_are_yaml() {
        assert_eq!(set("a=2").value, Value::from(2));
        assert_eq!(set("a=2.5").value, Value::from(2.5));
        assert_eq!(set("a=true").value, Value::from(true));
        assert_eq!(set("a=resnet18").value, Value::from("resnet18"));
        assert_eq!(set("a=cuda:1").value, Value::from("cuda:1"));
        assert_eq!(set("a=").value, Value::Null);
        assert_eq!(
            set("a=[0.9, 0.99]").value,
            Value::Sequence(vec![Value::from(0.9), Value::from(0.99)])
        );
        assert_eq!(set(" train . epochs = 3").key, "train.epochs");
    }

    #[test]
    fn malformed_overrides_say_why() {
        let err = Override::parse("train.epochs").unwrap_err().to_string();
        assert!(
            err.starts_with("--set train.epochs: expected KEY=VALUE"),
            "{err}"
        );
        let err = Override::parse("train..epochs=3").unwrap_err().to_string();
        assert!(err.contains("is not a key path"), "{err}");
        let err = Override::parse("train.optimizer.betas=[0.9,")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid YAML"), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }

    #[test]
    fn apply_creates_sections_and_refuses_to_descend_into_scalars() {
        let mut root: Value = serde_norway::from_str("train:\n  epochs: 3\nrifle:\n").unwrap();
        set("regularization.dropout=0.2").apply(&mut root).unwrap();
        set("rifle.cycles=4").apply(&mut root).unwrap();
        set("train.epochs=5").apply(&mut root).unwrap();
        assert_eq!(root["regularization"]["dropout"], Value::from(0.2));
        assert_eq!(root["rifle"]["cycles"], Value::from(4));
        assert_eq!(root["train"]["epochs"], Value::from(5));
        let err = set("train.epochs.x=1").apply(&mut root).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set train.epochs.x=1: `train.epochs` holds 5, not a section, so it has no key `x`"
        );
    }

    #[test]
    fn suggestions_only_when_close() {
        let keys = ["epochs", "batch_size", "period_epochs", "cycles"];
        assert_eq!(did_you_mean("epoch", &keys), Some("epochs"));
        assert_eq!(did_you_mean("batchsize", &keys), Some("batch_size"));
        assert_eq!(did_you_mean("period", &keys), Some("period_epochs"));
        assert_eq!(did_you_mean("Cycles", &keys), Some("cycles"));
        assert_eq!(did_you_mean("lr", &keys), None);
        assert_eq!(did_you_mean("zzzzzz", &keys), None);
    }

    #[test]
    fn marks_are_stripped() {
        assert_eq!(
            strip_marks("did not find x at line 3 column 1, while parsing at line 2 column 9"),
            "did not find x, while parsing"
        );
        assert_eq!(strip_marks("look at this"), "look at this");
    }

    #[test]
    fn overrides_claim_related_keys_only() {
        let overrides = [set("rifle.period_epochs=0"), set("trian.epochs=3")];
        let src = Sources::new("rifle:\n  cycles: 3\n", &overrides);
        assert!(src.override_for("rifle.period_epochs").is_some());
        assert!(src.override_for("trian").is_some());
        assert!(src.override_for("rifle.cycles").is_none());
        assert!(src.override_for("rifle.period").is_none());
        let e = src.key_error("rifle.cycles", "bad");
        assert_eq!(
            (e.line, e.column, e.origin),
            (Some(2), Some(3), Origin::File)
        );
        // Absent keys point at the section they belong in.
        let e = src.key_error("rifle.init_std", "bad");
        assert_eq!((e.line, e.column), (Some(1), Some(1)));
    }
}
