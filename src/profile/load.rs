//! Reading a profile: YAML text + `--set` overrides -> a validated, resolved [`Profile`].
//!
//! serde stops at the first problem, which makes fixing a profile a slow loop of
//! edit-and-rerun. So the loader deserialises repeatedly: after each structural error
//! (unknown key, wrong type, unknown value, missing key) it records the error, patches the
//! YAML tree so that error cannot recur, and tries again. Only a structurally sound profile
//! is then range-checked (`validate.rs`), so every reported error is real.
use super::error::{FieldError, Origin, ProfileError};
use super::locate;
use super::schema::{CropMode, DataSource, Profile};
use super::sources::{describe, did_you_mean, strip_marks, unknown_message, Override, Sources};
use super::validate::validate;
use serde_norway::{Mapping, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A profile ready to train, with what the user should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// The file it was read from.
    pub path: PathBuf,
    /// Not errors, but likely mistakes (e.g. no pretrained weights).
    pub warnings: Vec<String>,
}

/// Reads, overrides, validates and resolves the profile at `path`.
pub fn load_profile(path: &Path, overrides: &[String]) -> Result<LoadedProfile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_profile(&text, path, overrides)
}

/// As [`load_profile`] with the text already read. `path` names the file in messages,
/// gives the default `name` (its stem) and is the base of relative paths.
pub fn parse_profile(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<LoadedProfile, ProfileError> {
    let overrides = overrides
        .iter()
        .map(|arg| Override::parse(arg))
        .collect::<Result<Vec<_>, _>>()?;
    let sources = Sources::new(text, &overrides);
    let invalid = |errors: Vec<FieldError>| ProfileError::Invalid {
        path: path.to_path_buf(),
        errors: sorted(errors),
    };

    let mut tree = parse_yaml(text, path, &sources)?;
    if tree.is_null() {
        // An empty file: say which sections are missing rather than "expected a mapping".
        tree = Value::Mapping(Mapping::new());
    }
    if !tree.is_mapping() {
        return Err(invalid(vec![FieldError {
            key: String::new(),
            line: Some(1),
            column: Some(1),
            message: format!(
                "a profile is a mapping of sections (model, data, train, ...), got {}",
                describe(&tree)
            ),
            origin: Origin::File,
        }]));
    }
    normalize_keys(&mut tree);
    for o in &overrides {
        o.apply(&mut tree)?;
    }

    let mut profile = deserialize(tree, &sources).map_err(invalid)?;
    let (errors, mut warnings) = validate(&profile, &sources);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    resolve(&mut profile, path, &sources);
    if profile.model.weights.is_none() {
        warnings.push(
            "no pretrained weights: the model starts from random init, so this is not transfer learning"
                .into(),
        );
    }
    Ok(LoadedProfile {
        profile,
        path: path.to_path_buf(),
        warnings,
    })
}

impl Profile {
    /// The resolved profile as YAML, for `check` and for the copy kept with each run.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("a Profile has only string keys and plain values")
    }
}

/// The YAML tree of the file; syntax errors and repeated keys carry their line.
fn parse_yaml(text: &str, path: &Path, sources: &Sources) -> Result<Value, ProfileError> {
    serde_norway::from_str::<Value>(text).map_err(|e| {
        let message = e.to_string();
        if message.contains("duplicate entry") {
            if let Some((again, first)) = locate::first_duplicate(sources.entries()) {
                return ProfileError::Invalid {
                    path: path.to_path_buf(),
                    errors: vec![FieldError {
                        key: again.path.clone(),
                        line: Some(again.key.line),
                        column: Some(again.key.column),
                        message: format!(
                            "given twice (first at line {}); keep one",
                            first.key.line
                        ),
                        origin: Origin::File,
                    }],
                };
            }
        }
        let mut message = strip_marks(&message);
        if message.contains("more than one document") {
            message.push_str("; a profile is a single document (remove the extra `---`)");
        }
        let location = e.location();
        ProfileError::Syntax {
            path: path.to_path_buf(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    })
}

/// YAML allows keys like `1:` or `true:`; as text they get the usual unknown-key message
/// instead of serde's "expected field identifier" about the whole section.
fn normalize_keys(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                normalize_keys(&mut v);
                let k = match k {
                    Value::String(s) => s,
                    Value::Null => "null".into(),
                    other => describe(&other),
                };
                map.insert(Value::String(k), v);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(normalize_keys),
        Value::Tagged(t) => normalize_keys(&mut t.value),
        _ => {}
    }
}

/// Compiler order: the file's errors by line, then each override's.
fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by_key(|e| {
        (
            matches!(e.origin, Origin::Override(_)),
            e.line.unwrap_or(usize::MAX),
            e.column,
        )
    });
    errors
}

/// What serde_norway reported, split into its parts.
enum SerdeProblem {
    UnknownField {
        field: String,
        allowed: Vec<String>,
    },
    UnknownVariant {
        got: String,
        allowed: Vec<String>,
    },
    MissingField {
        field: String,
    },
    /// `invalid type`, `invalid value` and `invalid length`.
    Invalid {
        expected: String,
        overflow: bool,
    },
    Other(String),
}

/// serde_norway's message is `path: message at line L column C`; the path is left out at
/// the root. Returns (path, problem), the path as dotted keys with `[i]` for list items.
fn split_error(err: &serde_norway::Error) -> (String, SerdeProblem) {
    let mut text = err.to_string();
    if let Some(l) = err.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if text.ends_with(&suffix) {
            text.truncate(text.len() - suffix.len());
        }
    }
    let (path, message) = match text.split_once(": ") {
        Some((p, m)) if !p.is_empty() && !p.contains([' ', '`']) => (p.to_string(), m),
        _ => (String::new(), text.as_str()),
    };
    (path, classify(message))
}

fn classify(message: &str) -> SerdeProblem {
    let ticked = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let first_and_rest = |rest: &str| -> Option<(String, Vec<String>)> {
        let end = rest
            .find("`, ")
            .or_else(|| rest.strip_suffix('`').map(str::len))?;
        Some((rest[..end].to_string(), ticked(&rest[end + 1..])))
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, allowed)) = first_and_rest(rest) {
            return SerdeProblem::UnknownField { field, allowed };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((got, allowed)) = first_and_rest(rest) {
            return SerdeProblem::UnknownVariant { got, allowed };
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(field) = rest.strip_suffix('`') {
            return SerdeProblem::MissingField {
                field: field.to_string(),
            };
        }
    }
    for (prefix, overflow) in [
        ("invalid type: ", false),
        ("invalid value: ", true),
        ("invalid length ", false),
    ] {
        if message.starts_with(prefix) {
            if let Some(i) = message.rfind(", expected ") {
                return SerdeProblem::Invalid {
                    expected: message[i + ", expected ".len()..].to_string(),
                    overflow,
                };
            }
        }
    }
    SerdeProblem::Other(message.to_string())
}

/// What serde's `expected ...` means to someone writing YAML.
fn expected_text(expected: &str, overflow: bool, key: &str) -> String {
    let whole = |max: u64| {
        if overflow {
            format!("a whole number no larger than {max}")
        } else {
            "a whole number (0 or more)".to_string()
        }
    };
    match expected {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" => whole(u64::MAX),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "string" | "a character" => "text".into(),
        "path string" => "a file path".into(),
        _ if expected.starts_with("struct ") && key.is_empty() => {
            "a mapping of sections (model, data, train, ...)".into()
        }
        _ if expected.starts_with("struct ") => "a mapping of keys, indented below it".into(),
        _ => {
            let digits: String = expected.chars().filter(char::is_ascii_digit).collect();
            if (expected.contains("array of length") || expected.contains("sequence of"))
                && !digits.is_empty()
            {
                format!("a list of {digits} items, e.g. [0.9, 0.999]")
            } else {
                expected.to_string()
            }
        }
    }
}

fn get<'v>(root: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(root, |v, k| v.get(k))
}

fn remove(root: &mut Value, key: &str) {
    let (parent, last) = match key.rsplit_once('.') {
        Some((p, l)) => (p, l),
        None => ("", key),
    };
    let node = if parent.is_empty() {
        Some(root)
    } else {
        parent.split('.').try_fold(root, |v, k| v.get_mut(k))
    };
    if let Some(Value::Mapping(map)) = node {
        map.shift_remove(last);
    }
}

/// Sets `key`, turning absent or empty parents into mappings.
fn put(root: &mut Value, key: &str, value: Value) {
    let mut node = root;
    let segments: Vec<&str> = key.split('.').collect();
    for (i, k) in segments.iter().enumerate() {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("just made a mapping")
        };
        let k = Value::String((*k).to_string());
        if i + 1 == segments.len() {
            map.insert(k, value);
            return;
        }
        node = map.entry(k).or_insert(Value::Null);
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Deserialises `tree` into a [`Profile`], collecting every structural error (see the
/// module docs). Keys we removed or filled in ourselves are "patched": errors about them
/// are consequences of an error already reported, so they are fixed silently.
fn deserialize(mut tree: Value, sources: &Sources) -> Result<Profile, Vec<FieldError>> {
    // Stand-ins tried in turn for a required key that is missing, until one has its type.
    let placeholders = [
        Value::Mapping(Mapping::new()),
        Value::from(1),
        Value::from("x"),
        Value::from(false),
        Value::Sequence(vec![Value::from(0.5), Value::from(0.5)]),
    ];
    let mut errors: Vec<FieldError> = Vec::new();
    let mut patched: Vec<String> = Vec::new();
    let mut attempts: HashMap<String, usize> = HashMap::new();
    // Enum keys given a list or mapping: what they were given, until the probe with an
    // empty string reveals the allowed names.
    let mut probing: HashMap<String, String> = HashMap::new();
    // Keys offered as "did you mean": their "missing" error would repeat the typo's.
    let mut suggested: Vec<String> = Vec::new();
    let is_patched = |patched: &[String], key: &str| {
        patched.iter().any(|p| {
            key.strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    };

    // Each pass removes or fixes at least one key, so this bound is never reached by a
    // profile-sized file; it only guards against a loop.
    for _ in 0..256 {
        let yaml = serde_norway::to_string(&tree).expect("a YAML tree serialises");
        let err = match serde_norway::from_str::<Profile>(&yaml) {
            Ok(profile) if errors.is_empty() => return Ok(profile),
            Ok(_) => return Err(errors),
            Err(err) => err,
        };
        let (path, problem) = split_error(&err);
        // `betas[1]` is reported on `betas`, which is what the user can name in `--set`.
        let (key, item) = match path.split_once('[') {
            Some((k, rest)) => (
                k.to_string(),
                rest.trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (path.clone(), None),
        };
        match problem {
            SerdeProblem::UnknownField { field, allowed } => {
                let full = join(&key, &field);
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                if !is_patched(&patched, &full) {
                    errors.push(sources.key_error(&full, unknown_message("key", &field, &allowed)));
                    if let Some(s) = did_you_mean(&field, &allowed) {
                        suggested.push(join(&key, s));
                    }
                }
                remove(&mut tree, &full);
                patched.push(full);
            }
            SerdeProblem::MissingField { field } => {
                let full = join(&key, &field);
                if !is_patched(&patched, &full) && !suggested.contains(&full) {
                    errors.push(sources.key_error(&full, "required, but missing"));
                }
                put(&mut tree, &full, placeholders[0].clone());
                attempts.insert(full.clone(), 0);
                patched.push(full);
            }
            SerdeProblem::UnknownVariant { got, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                if is_patched(&patched, &key) {
                    let Some(first) = allowed.first() else { break };
                    put(&mut tree, &key, Value::from(*first));
                    continue;
                }
                // `arch:` with nothing after it reads as "unknown value `null`" otherwise.
                let given = probing.remove(&key).or_else(|| {
                    get(&tree, &key)
                        .is_none_or(Value::is_null)
                        .then(|| "nothing".to_string())
                });
                let message = match given {
                    Some(given) => format!("expected one of: {}, got {given}", allowed.join(", ")),
                    None => unknown_message("value", &got, &allowed),
                };
                errors.push(sources.value_error(&key, message));
                remove(&mut tree, &key);
                patched.push(key);
            }
            SerdeProblem::Invalid { expected, overflow } => {
                if key.is_empty() {
                    let given = describe(&tree);
                    errors.push(sources.key_error(
                        "",
                        format!(
                            "expected {}, got {given}",
                            expected_text(&expected, overflow, "")
                        ),
                    ));
                    break;
                }
                if is_patched(&patched, &key) {
                    let n = attempts.entry(key.clone()).or_insert(0);
                    *n += 1;
                    let Some(next) = placeholders.get(*n) else {
                        break;
                    };
                    put(&mut tree, &key, next.clone());
                    continue;
                }
                let given = get(&tree, &key).cloned().unwrap_or(Value::Null);
                if given.is_null() && expected.starts_with("struct ") {
                    // `model:` with nothing below: an empty section, whose missing keys
                    // are then named one by one.
                    put(&mut tree, &key, Value::Mapping(Mapping::new()));
                    continue;
                }
                if expected.contains("YAML tag") || expected == "null" {
                    // An enum given a list, a mapping or a tag: ask serde for its names.
                    probing.insert(key.clone(), describe(&given));
                    put(&mut tree, &key, Value::from(""));
                    continue;
                }
                let (given, prefix) = match (item, &given) {
                    (Some(i), Value::Sequence(items)) if i < items.len() => {
                        (describe(&items[i]), format!("item {}: ", i + 1))
                    }
                    _ => (describe(&given), String::new()),
                };
                let expected = expected_text(&expected, overflow, &key);
                errors.push(
                    sources.value_error(&key, format!("{prefix}expected {expected}, got {given}")),
                );
                remove(&mut tree, &key);
                patched.push(key);
            }
            SerdeProblem::Other(message) => {
                if !is_patched(&patched, &key) || errors.is_empty() {
                    errors.push(sources.value_error(&key, message));
                }
                break;
            }
        }
    }
    if errors.is_empty() {
        errors.push(sources.key_error("", "the profile could not be read"));
    }
    Err(errors)
}

/// Fills what the file left to defaults that depend on the file (name, paths) and the
/// synthetic sizes, so the profile printed by `check` and stored with a run says them.
fn resolve(profile: &mut Profile, path: &Path, sources: &Sources) {
    if profile.name.trim().is_empty() {
        profile.name = path
            .file_stem()
            .map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned());
    }
    // Paths in the file are relative to the file, so a profile works from any folder;
    // paths given with --set are relative to where the command runs, like any shell path.
    let base = path.parent().unwrap_or(Path::new(""));
    let rebase = |key: &str, p: &mut Option<PathBuf>| {
        if let Some(p) = p {
            if p.is_relative() && sources.override_for(key).is_none() {
                *p = base.join(&*p);
            }
        }
    };
    rebase("model.weights", &mut profile.model.weights);
    rebase("data.root", &mut profile.data.root);
    // Constant defaults are written out; `data.seed` and `data.resize` stay unset because
    // they follow other keys (train.seed, image_size) and must keep doing so if the printed
    // profile is edited and reused.
    let data = &mut profile.data;
    if data.source == DataSource::Synthetic {
        data.classes.get_or_insert(crate::data::DEFAULT_CLASSES);
        data.train_per_class
            .get_or_insert(crate::data::DEFAULT_TRAIN_PER_CLASS);
        data.val_per_class
            .get_or_insert(crate::data::DEFAULT_VAL_PER_CLASS);
    } else if data.augment && *data.crop.get_or_insert(CropMode::Resized) == CropMode::Resized {
        data.min_crop_area
            .get_or_insert(crate::data::DEFAULT_MIN_CROP_AREA);
        data.max_crop_aspect
            .get_or_insert(crate::data::DEFAULT_MAX_CROP_ASPECT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Arch, OptimizerKind};

    /// A small valid profile; line numbers below are into this text.
    const BASE: &str = "\
name: t
model:
  arch: small_cnn
data:
  source: synthetic
train:
  epochs: 12
  batch_size: 32
  optimizer:
    kind: sgd
    momentum: 0.9
    lr: 0.05
rifle:
  period_epochs: 4
";

    fn parse(text: &str, overrides: &[&str]) -> Result<LoadedProfile, ProfileError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        parse_profile(text, Path::new("profiles/demo.yaml"), &overrides)
    }

    fn error(text: &str, overrides: &[&str]) -> String {
        match parse(text, overrides) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    fn field_errors(text: &str, overrides: &[&str]) -> Vec<FieldError> {
        match parse(text, overrides) {
            Err(ProfileError::Invalid { errors, .. }) => errors,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn range_error_names_file_line_column_and_key() {
        assert_eq!(
            error(&BASE.replace("lr: 0.05", "lr: -0.1"), &[]),
            "profiles/demo.yaml:12:5: train.optimizer.lr: must be greater than 0 (got -0.1)"
        );
    }

    #[test]
    fn unknown_key_suggests_the_close_one_without_a_second_missing_error() {
        assert_eq!(
            error(&BASE.replace("epochs: 12", "epoch: 12"), &[]),
            "profiles/demo.yaml:7:3: train.epoch: unknown key `epoch`; did you mean `epochs`? \
             (allowed: epochs, batch_size, optimizer, schedule, head_lr_mult, label_smoothing, \
             seed, device, precision, channels_last, threads)"
        );
        let err = error(&BASE.replace("name: t", "colour: red"), &[]);
        assert!(
            err.starts_with("profiles/demo.yaml:1:1: colour: unknown key `colour` (allowed: name,"),
            "{err}"
        );
    }

    #[test]
    fn unknown_value_suggests_the_close_one() {
        assert_eq!(
            error(&BASE.replace("small_cnn", "resnet19"), &[]),
            "profiles/demo.yaml:3:9: model.arch: unknown value `resnet19`; did you mean `resnet18`? \
             (allowed: small_cnn, resnet18, resnet34, resnet50, \
             efficientnet_lite0)"
        );
        assert_eq!(
            error(&BASE.replace("small_cnn", ""), &[]),
            "profiles/demo.yaml:3:3: model.arch: expected one of: small_cnn, resnet18, resnet34, \
             resnet50, efficientnet_lite0, got nothing"
        );
        assert_eq!(
            error(&BASE.replace("small_cnn", "[resnet18]"), &[]),
            "profiles/demo.yaml:3:9: model.arch: expected one of: small_cnn, resnet18, resnet34, \
             resnet50, efficientnet_lite0, got a list of 1 item"
        );
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        assert_eq!(
            error(&BASE.replace("epochs: 12", "epochs: ten"), &[]),
            "profiles/demo.yaml:7:11: train.epochs: expected a whole number (0 or more), got \"ten\""
        );
        assert_eq!(
            error(&BASE.replace("epochs: 12", "epochs: 2.5"), &[]),
            "profiles/demo.yaml:7:11: train.epochs: expected a whole number (0 or more), got 2.5"
        );
        assert_eq!(
            error(&BASE.replace("lr: 0.05", "lr: fast"), &[]),
            "profiles/demo.yaml:12:9: train.optimizer.lr: expected a number, got \"fast\""
        );
        assert_eq!(
            error(&format!("{BASE}  enabled: yes\n"), &[]),
            "profiles/demo.yaml:15:12: rifle.enabled: expected true or false, got \"yes\""
        );
        assert_eq!(
            error(&BASE.replace("model:\n  arch: small_cnn", "model: resnet18"), &[]),
            "profiles/demo.yaml:2:8: model: expected a mapping of keys, indented below it, got \"resnet18\""
        );
    }

    #[test]
    fn missing_keys_point_at_their_section() {
        assert_eq!(
            error(&BASE.replace("  batch_size: 32\n", ""), &[]),
            "profiles/demo.yaml:6:1: train.batch_size: required, but missing"
        );
        // An empty section is a section without keys, not a type error.
        assert_eq!(
            error(&BASE.replace("  arch: small_cnn\n", ""), &[]),
            "profiles/demo.yaml:2:1: model.arch: required, but missing"
        );
        assert_eq!(
            error("", &[]),
            "profiles/demo.yaml: model: required, but missing\n\
             profiles/demo.yaml: data: required, but missing\n\
             profiles/demo.yaml: train: required, but missing"
        );
    }

    #[test]
    fn every_structural_error_is_collected() {
        let text = "\
model:
  arhc: resnet18
data:
  source: synthetic
train:
  epochs: -1
  batch_size: ten
  optimizer:
    betas: [0.9, x]
rifle:
  enabled: yes
";
        assert_eq!(
            error(text, &[]),
            "profiles/demo.yaml:2:3: model.arhc: unknown key `arhc`; did you mean `arch`? (allowed: arch, weights)\n\
             profiles/demo.yaml:6:11: train.epochs: expected a whole number (0 or more), got -1\n\
             profiles/demo.yaml:7:15: train.batch_size: expected a whole number (0 or more), got \"ten\"\n\
             profiles/demo.yaml:9:12: train.optimizer.betas: item 2: expected a number, got \"x\"\n\
             profiles/demo.yaml:11:12: rifle.enabled: expected true or false, got \"yes\""
        );
    }

    #[test]
    fn every_range_error_is_collected_in_line_order() {
        let text = format!(
            "{}regularization:\n  dropout: 1\nmetrics:\n  log_every_steps: 0\n",
            BASE.replace("batch_size: 32", "batch_size: 0")
                .replace("momentum: 0.9", "momentum: 1.5")
                .replace("period_epochs: 4", "period_epochs: 0")
        );
        let errors = field_errors(&text, &["train.label_smoothing=-1"]);
        let got: Vec<(String, Option<usize>)> =
            errors.iter().map(|e| (e.key.clone(), e.line)).collect();
        assert_eq!(
            got,
            vec![
                ("train.batch_size".to_string(), Some(8)),
                ("train.optimizer.momentum".to_string(), Some(11)),
                ("rifle.period_epochs".to_string(), Some(14)),
                ("regularization.dropout".to_string(), Some(16)),
                ("metrics.log_every_steps".to_string(), Some(18)),
                ("train.label_smoothing".to_string(), None),
            ]
        );
        assert_eq!(
            errors[5].origin,
            Origin::Override("train.label_smoothing=-1".into())
        );
        assert_eq!(
            errors[3].message,
            "must be at least 0 and less than 1 (got 1)"
        );
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        match parse("model:\n  arch: [small_cnn\ndata: {}\n", &[]) {
            Err(ProfileError::Syntax {
                line,
                column,
                message,
                ..
            }) => {
                assert_eq!(line, Some(3));
                assert_eq!(column, Some(5));
                assert!(
                    message.contains("did not find expected ',' or ']'"),
                    "{message}"
                );
                assert!(!message.contains("at line"), "{message}");
            }
            other => panic!("expected Syntax, got {other:?}"),
        }
        assert_eq!(
            error("- model\n", &[]),
            "profiles/demo.yaml:1:1: a profile is a mapping of sections (model, data, train, ...), got a list of 1 item"
        );
        assert_eq!(
            error(&format!("{BASE}  cycles: 3\n  period_epochs: 2\n"), &[]),
            "profiles/demo.yaml:16:3: rifle.period_epochs: given twice (first at line 14); keep one"
        );
    }

    #[test]
    fn overrides_set_existing_new_and_nested_keys_with_yaml_types() {
        let l = parse(
            BASE,
            &[
                "train.epochs=20",
                "train.optimizer.lr=2.5e-3",
                "train.optimizer.kind=adamw",
                "train.optimizer.betas=[0.8, 0.99]",
                "train.optimizer.nesterov=false",
                "regularization.dropout=0.2",
                "model.arch=resnet18",
                "train.device=cuda:1",
                "description=from the command line",
            ],
        )
        .unwrap();
        let p = &l.profile;
        assert_eq!(p.train.epochs, 20);
        assert_eq!(p.train.optimizer.lr, 2.5e-3);
        assert_eq!(p.train.optimizer.kind, OptimizerKind::Adamw);
        assert_eq!(p.train.optimizer.betas, [0.8, 0.99]);
        assert_eq!(p.regularization.dropout, 0.2);
        assert_eq!(p.model.arch, Arch::Resnet18);
        assert_eq!(p.train.device, "cuda:1");
        assert_eq!(p.description, "from the command line");
        // A section absent from the file, and an empty one, are created.
        let text = format!("{BASE}metrics:\n");
        let l = parse(
            &text,
            &["metrics.log_every_steps=3", "train.schedule.kind=step"],
        )
        .unwrap();
        assert_eq!(l.profile.metrics.log_every_steps, 3);
        assert_eq!(l.profile.metrics.layer_update_every_steps, 20);
        assert_eq!(
            l.profile.train.schedule.kind,
            crate::profile::ScheduleKind::Step
        );
        // The last of two overrides of a key wins.
        let l = parse(BASE, &["train.epochs=5", "train.epochs=6"]).unwrap();
        assert_eq!(l.profile.train.epochs, 6);
    }

    #[test]
    fn override_errors_are_attributed_to_the_override() {
        assert_eq!(
            error(BASE, &["rifle.period_epochs=0"]),
            "--set rifle.period_epochs=0: rifle.period_epochs: must be greater than 0 (got 0)"
        );
        assert_eq!(
            error(BASE, &["train.optimizer.lr_=0.1"]),
            "--set train.optimizer.lr_=0.1: train.optimizer.lr_: unknown key `lr_`; did you mean `lr`? \
             (allowed: kind, lr, weight_decay, momentum, nesterov, betas, eps)"
        );
        assert_eq!(
            error(BASE, &["trian.epochs=3"]),
            "--set trian.epochs=3: trian: unknown key `trian`; did you mean `train`? \
             (allowed: name, description, model, data, train, rifle, regularization, metrics)"
        );
        assert_eq!(
            error(BASE, &["train.epochs=many"]),
            "--set train.epochs=many: train.epochs: expected a whole number (0 or more), got \"many\""
        );
        assert_eq!(
            error(BASE, &["model.arch=resnet"]),
            "--set model.arch=resnet: model.arch: unknown value `resnet`; did you mean `resnet18`? \
             (allowed: small_cnn, resnet18, resnet34, resnet50, \
             efficientnet_lite0)"
        );
        assert_eq!(
            error(BASE, &["train.epochs"]),
            "--set train.epochs: expected KEY=VALUE, e.g. --set train.optimizer.lr=0.003"
        );
        // A file error stays the file's even when an override touches its neighbour.
        assert_eq!(
            error(
                &BASE.replace("lr: 0.05", "lr: -1"),
                &["train.optimizer.momentum=0.5"]
            ),
            "profiles/demo.yaml:12:5: train.optimizer.lr: must be greater than 0 (got -1)"
        );
    }

    #[test]
    fn defaults_are_filled() {
        let text = "model:\n  arch: small_cnn\ndata:\n  source: synthetic\ntrain:\n  epochs: 3\n  batch_size: 8\n  seed: 7\n";
        let l = parse_profile(text, Path::new("dir/my-run.yaml"), &[]).unwrap();
        let p = &l.profile;
        assert_eq!(p.name, "my-run");
        assert_eq!(p.data.image_size, 32);
        assert_eq!(p.data.classes, Some(4));
        assert_eq!(p.data.train_per_class, Some(64));
        assert_eq!(p.data.val_per_class, Some(16));
        assert_eq!(p.data.seed, None, "follows train.seed");
        assert!(p.data.augment);
        assert_eq!(p.train.optimizer.lr, 0.01);
        assert_eq!(p.train.optimizer.betas, [0.9, 0.999]);
        assert_eq!(p.train.device, "auto");
        assert!(p.rifle.enabled);
        assert_eq!(p.rifle.cycles, None);
        assert_eq!(p.rifle_period_epochs(), Some(1.0));
        assert_eq!(p.metrics.log_every_steps, 10);
        assert_eq!(
            l.warnings,
            vec!["no pretrained weights: the model starts from random init, so this is not transfer learning"]
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_profile_folder() {
        let text = "\
model:
  arch: resnet18
  weights: weights/r18.safetensors
data:
  source: image_folder
  root: ../data/flowers
  image_size: 224
train:
  epochs: 3
  batch_size: 8
";
        let p = parse(text, &[]).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let p = p.profile;
        assert_eq!(
            p.model.weights,
            Some(PathBuf::from("profiles/weights/r18.safetensors"))
        );
        assert_eq!(p.data.root, Some(PathBuf::from("profiles/../data/flowers")));
        assert_eq!(p.data.resize, None, "follows image_size");
        // Absolute paths are kept; --set paths are relative to the working folder.
        let p = parse(text, &["data.root=/srv/flowers", "model.weights=w.ot"])
            .unwrap()
            .profile;
        assert_eq!(p.data.root, Some(PathBuf::from("/srv/flowers")));
        assert_eq!(p.model.weights, Some(PathBuf::from("w.ot")));
    }

    #[test]
    fn the_training_crop_is_written_out_and_checked() {
        let folder = BASE.replace("source: synthetic", "source: image_folder\n  root: /d");
        let p = parse(&folder, &[]).unwrap().profile;
        assert_eq!(p.data.crop, Some(CropMode::Resized));
        assert_eq!(
            (p.data.min_crop_area, p.data.max_crop_aspect),
            (
                Some(crate::data::DEFAULT_MIN_CROP_AREA),
                Some(crate::data::DEFAULT_MAX_CROP_ASPECT)
            )
        );
        let again = parse(&p.to_yaml(), &[]).unwrap().profile;
        assert_eq!(again.data, p.data);
        let p = parse(&folder, &["data.crop=fixed"]).unwrap().profile;
        assert_eq!(
            (p.data.crop, p.data.min_crop_area, p.data.max_crop_aspect),
            (Some(CropMode::Fixed), None, None)
        );
        // The resolved profile reads back as itself.
        let again = parse(&p.to_yaml(), &[]).unwrap().profile;
        assert_eq!(again.data, p.data);
        assert_eq!(
            error(&folder, &["data.crop=fixed", "data.min_crop_area=0.5"]),
            "--set data.min_crop_area=0.5: data.min_crop_area: only used with data.crop: resized (a fixed crop is always image_size pixels)"
        );
        for bad in ["0", "1.5", "-0.2"] {
            let e = error(&folder, &[&format!("data.min_crop_area={bad}")]);
            assert!(
                e.ends_with(&format!(
                    "data.min_crop_area: must be greater than 0 and at most 1 (got {bad})"
                )),
                "{e}"
            );
        }
        assert_eq!(
            error(&folder, &["data.crop=fixed", "data.max_crop_aspect=2"]),
            "--set data.max_crop_aspect=2: data.max_crop_aspect: only used with data.crop: resized (a fixed crop is always square)"
        );
        for bad in ["0.5", "11", ".nan"] {
            let e = error(&folder, &[&format!("data.max_crop_aspect={bad}")]);
            assert!(
                e.contains("data.max_crop_aspect: must be from 1 (square crops only) to 10"),
                "{e}"
            );
        }
        let p = parse(&folder, &["data.max_crop_aspect=1"]).unwrap().profile;
        assert_eq!(p.data.max_crop_aspect, Some(1.0));
        let e = error(&folder, &["data.crop=random"]);
        assert!(
            e.contains("data.crop") && e.contains("resized") && e.contains("fixed"),
            "{e}"
        );
        assert!(error(BASE, &["data.crop=fixed"])
            .contains("data.crop: only used with source: image_folder"));
        // Without augmentation the crop keys do nothing: said if given, not written out.
        let about_data = |p: &LoadedProfile| {
            let w = p.warnings.iter().filter(|w| w.starts_with("data."));
            w.cloned().collect::<Vec<_>>()
        };
        let plain = parse(&folder, &["data.augment=false"]).unwrap();
        assert_eq!(about_data(&plain), Vec::<String>::new());
        assert_eq!(
            (plain.profile.data.crop, plain.profile.data.min_crop_area),
            (None, None)
        );
        let again = parse(&plain.profile.to_yaml(), &[]).unwrap();
        assert_eq!(about_data(&again), Vec::<String>::new());
        let given = parse(&folder, &["data.augment=false", "data.crop=fixed"]).unwrap();
        assert_eq!(
            about_data(&given),
            [
                "data.crop has no effect with data.augment: false (training images are \
              centre-cropped, as for validation)"
            ]
        );
    }

    #[test]
    fn data_keys_must_match_the_source() {
        let synthetic =
            format!("{BASE}data:\n  source: synthetic\n  classes: 1\n  root: x\n  resize: 40\n")
                .replace("data:\n  source: synthetic\ntrain", "train");
        assert_eq!(
            error(&synthetic, &[]),
            "profiles/demo.yaml:15:3: data.classes: must be between 2 and 1000 (got 1)\n\
             profiles/demo.yaml:16:3: data.root: only used with source: image_folder\n\
             profiles/demo.yaml:17:3: data.resize: only used with source: image_folder"
        );
        let folder = BASE.replace(
            "source: synthetic",
            "source: image_folder\n  seed: 3\n  image_size: 64\n  resize: 32",
        );
        assert_eq!(
            error(&folder, &[]),
            "profiles/demo.yaml:4:1: data.root: required with source: image_folder (the folder holding train/ and val/)\n\
             profiles/demo.yaml:6:3: data.seed: only used with source: synthetic (image_folder takes its classes and images from data.root)\n\
             profiles/demo.yaml:8:3: data.resize: must be at least data.image_size, 64 (got 32): images are cropped from it"
        );
    }

    #[test]
    fn memory_budget_must_be_positive() {
        let text = BASE.replace(
            "source: synthetic",
            "source: synthetic\n  memory_budget_mb: 0",
        );
        let e = error(&text, &[]);
        assert!(
            e.contains("data.memory_budget_mb: must be greater than 0 (got 0)"),
            "{e}"
        );
        let p = parse(BASE, &["data.memory_budget_mb=0.5"]).unwrap().profile;
        assert_eq!(p.data.memory_budget_mb, 0.5);
        assert_eq!(
            parse(BASE, &[]).unwrap().profile.data.memory_budget_mb,
            4096.0
        );
    }

    #[test]
    fn optimizer_device_and_weights_rules() {
        let text = BASE
            .replace(
                "kind: sgd",
                "kind: adamw\n    nesterov: true\n    eps: 0\n    betas: [0.9, 1]",
            )
            .replace("arch: small_cnn", "arch: small_cnn\n  weights: r18.pth");
        let errors = field_errors(&text, &["train.device=cuda"]);
        let messages: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect();
        assert_eq!(
            messages,
            vec![
                "model.weights: must be a .safetensors or .ot file (got `r18.pth`)",
                "train.optimizer.nesterov: only used with kind: sgd (AdamW has no Nesterov variant here)",
                "train.optimizer.eps: must be greater than 0 (got 0)",
                "train.optimizer.betas: item 2: must be at least 0 and less than 1 (got 1)",
                "train.device: unknown device `cuda`; did you mean `cuda:0`? (allowed: auto, cpu, cuda:N with N the GPU index, e.g. cuda:0)",
            ]
        );
        let errors = field_errors(
            BASE,
            &[
                "train.optimizer.nesterov=true",
                "train.optimizer.momentum=0",
            ],
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message,
            "needs momentum greater than 0 (momentum is 0)"
        );
        for device in ["auto", "cpu", "cuda:0", "cuda:12"] {
            parse(BASE, &[&format!("train.device={device}")]).unwrap();
        }
    }

    #[test]
    fn rifle_rules() {
        // The key given second is blamed, naming the first.
        let both = format!("{BASE}  cycles: 3\n");
        let errors = field_errors(&both, &[]);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].key.as_str(), errors[0].line),
            ("rifle.cycles", Some(15))
        );
        assert!(errors[0]
            .message
            .starts_with("cannot be used together with rifle.period_epochs"));
        let errors = field_errors(
            &BASE.replace("period_epochs: 4", "cycles: 3"),
            &["rifle.period_epochs=2"],
        );
        assert_eq!(errors[0].key, "rifle.period_epochs");
        assert_eq!(
            errors[0].origin,
            Origin::Override("rifle.period_epochs=2".into())
        );

        assert_eq!(
            error(BASE, &["rifle.period_epochs=12"]),
            "--set rifle.period_epochs=12: rifle.period_epochs: must be less than the run's 12 epochs \
             (train.epochs) (got 12): the final period is never re-initialised, so the head would never be"
        );
        let one = parse(&BASE.replace("period_epochs: 4", "cycles: 1"), &[]).unwrap();
        assert!(
            one.warnings
                .iter()
                .any(|w| w.starts_with("rifle.cycles is 1")),
            "{:?}",
            one.warnings
        );
        assert_eq!(one.profile.rifle_period_epochs(), Some(12.0));
        let errors = field_errors(
            BASE,
            &[
                "rifle.cycles=0",
                "rifle.period_epochs=",
                "rifle.quiet_final_epochs=12",
                "rifle.init_std=0",
            ],
        );
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["rifle.cycles", "rifle.quiet_final_epochs", "rifle.init_std"]
        );
    }

    #[test]
    fn resolved_profile_round_trips_through_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exp.yaml");
        let text = BASE
            .replace("name: t\n", "")
            .replace("arch: small_cnn", "arch: small_cnn\n  weights: w.ot");
        std::fs::write(&path, &text).unwrap();
        let first = load_profile(&path, &["regularization.l2sp_alpha=0.01".into()]).unwrap();
        assert_eq!(first.profile.name, "exp");
        assert_eq!(first.profile.model.weights, Some(dir.path().join("w.ot")));
        let yaml = first.profile.to_yaml();
        let second = parse_profile(&yaml, &path, &[]).unwrap();
        assert_eq!(second.profile, first.profile, "{yaml}");
        // What runs store and re-read without the loader is the same profile too.
        assert_eq!(
            serde_norway::from_str::<Profile>(&yaml).unwrap(),
            first.profile
        );
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.yaml");
        let err = load_profile(&path, &[]).unwrap_err();
        assert!(matches!(err, ProfileError::Read { .. }));
        assert!(err
            .to_string()
            .starts_with(&format!("{}: cannot read the profile: ", path.display())));
    }

    #[test]
    fn shipped_profiles_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let shipped = std::fs::read_dir(root.join("profiles"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .chain([root.join("benches/throughput.yaml")]);
        for path in shipped {
            if path.extension().is_some_and(|e| e == "yaml") && path.exists() {
                if let Err(e) = load_profile(&path, &[]) {
                    panic!("{e}");
                }
            }
        }
    }
}
